//! What can go wrong with a Megatec/Q1 unit, each naming its culprit:
//! a malformed answer or value ([`QxError`]), a failed instant command or
//! SET ([`CmdError`]), no protocol found ([`ProbeError`]), with the
//! offending bytes kept short and printable ([`Snip`]). Types and their
//! messages only; the engine decides when they happen.

use super::link::LinkError;
use crate::store::StoreError;
use core::fmt;

/// A short copy of offending bytes for an error message (printable
/// ASCII, `?` for the rest, cut at 23 bytes with a `~`).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Snip {
    len: u8,
    cut: bool,
    buf: [u8; 23],
}

impl Snip {
    pub fn new(b: &[u8]) -> Snip {
        let mut s = Snip::default();
        for (d, &c) in s.buf.iter_mut().zip(b) {
            *d = if (0x20..0x7f).contains(&c) { c } else { b'?' };
        }
        s.len = b.len().min(23) as u8;
        s.cut = b.len() > 23;
        s
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Debug for Snip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Snip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.cut {
            f.write_str("~")?;
        }
        Ok(())
    }
}

/// What is wrong with an answer or a value (all name the culprit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QxError {
    Link(&'static str, LinkError),
    /// The whole answer was the protocol's refusal (`(NAK`).
    Rejected(&'static str),
    /// Answer to `cmd` shorter than the protocol requires.
    Short {
        cmd: &'static str,
        got: usize,
        want: u8,
    },
    /// Answer to `cmd` starts with the wrong byte.
    Leading {
        cmd: &'static str,
        got: u8,
        want: u8,
    },
    /// A numeric field holds something else.
    NotNumeric {
        var: &'static str,
        value: Snip,
    },
    /// A field is empty.
    Empty(&'static str),
    /// A status character is neither `0` nor `1`.
    StatusChar {
        pos: u8,
        value: Snip,
    },
    /// Bypass/boost/buck bit set with an output/input voltage ratio
    /// outside 0.5 to 1.5.
    VoltageRatio {
        input: Snip,
        output: Snip,
    },
    /// The unit names a protocol this table does not speak.
    Protocol {
        var: &'static str,
        value: Snip,
    },
    /// The value does not fit the store.
    Store(&'static str, StoreError),
    /// A configured option is not usable (which, why).
    Config(&'static str, &'static str),
}

fn cmd_name(c: &str) -> &str {
    c.trim_end_matches('\r')
}

impl fmt::Display for QxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Most messages start with the command or variable they name:
        // that prefix is written once, here.
        let culprit = match self {
            QxError::Link(c, _)
            | QxError::Rejected(c)
            | QxError::Short { cmd: c, .. }
            | QxError::Leading { cmd: c, .. } => Some(cmd_name(c)),
            QxError::NotNumeric { var, .. }
            | QxError::Empty(var)
            | QxError::Protocol { var, .. }
            | QxError::Store(var, _)
            | QxError::Config(var, _) => Some(*var),
            QxError::StatusChar { .. } | QxError::VoltageRatio { .. } => None,
        };
        if let Some(c) = culprit {
            f.write_str(c)?;
            f.write_str(": ")?;
        }
        match self {
            QxError::Link(_, e) => fmt::Display::fmt(e, f),
            QxError::Rejected(_) => f.write_str("refused by the unit"),
            QxError::Short { got, want, .. } => {
                write!(f, "answer of {got} bytes, at least {want} expected")
            }
            QxError::Leading { got, want, .. } => write!(
                f,
                "answer starts with 0x{got:02x}, '{}' expected",
                *want as char
            ),
            QxError::NotNumeric { value, .. } => write!(f, "'{value}' is not a number"),
            QxError::Empty(_) => f.write_str("empty value"),
            QxError::StatusChar { pos, value } => {
                write!(f, "status bit {pos}: '{value}' is neither 0 nor 1")
            }
            QxError::VoltageRatio { input, output } => write!(
                f,
                "bypass/boost/buck bit set but output voltage {output} is not within \
                 0.5 to 1.5 times input voltage {input}"
            ),
            QxError::Protocol { value, .. } => write!(f, "protocol '{value}' not supported"),
            QxError::Store(_, e) => fmt::Display::fmt(e, f),
            QxError::Config(_, why) => f.write_str(why),
        }
    }
}

/// Why an instant command or a SET failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdError {
    /// No such command or writable variable for this protocol.
    Unknown,
    /// The value given is not acceptable (why).
    BadValue(&'static str),
    /// Sending failed or the answer was malformed.
    Failed(QxError),
    /// The unit answered something other than the protocol's acceptance
    /// (bridges echo a command they do not know).
    Refused(Snip),
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::Unknown => f.write_str("unknown command or variable"),
            CmdError::BadValue(why) => f.write_str(why),
            CmdError::Failed(e) => write!(f, "{e}"),
            CmdError::Refused(a) => write!(f, "the unit answered '{a}'"),
        }
    }
}

/// Why no protocol was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// `protocol =` names none hidupsd knows.
    UnknownProtocol(String),
    /// The device is gone.
    Gone,
    /// No protocol's queries were answered as it expects; the last
    /// problem seen.
    NoProtocol(Option<QxError>),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::UnknownProtocol(p) => write!(f, "unknown protocol '{p}'"),
            ProbeError::Gone => f.write_str("device gone"),
            ProbeError::NoProtocol(None) => f.write_str("no Megatec/Q1 protocol answered"),
            ProbeError::NoProtocol(Some(e)) => {
                write!(f, "no Megatec/Q1 protocol answered (last: {e})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message, word for word: the log lines and replies show them.
    #[test]
    fn messages() {
        let s = Snip::new(b"12\x01.5 and more than twenty-three");
        let cases: [(QxError, &str); 12] = [
            (QxError::Link("Q1\r", LinkError::Io), "Q1: transfer failed"),
            (QxError::Rejected("QPI\r"), "QPI: refused by the unit"),
            (
                QxError::Short {
                    cmd: "Q1\r",
                    got: 3,
                    want: 46,
                },
                "Q1: answer of 3 bytes, at least 46 expected",
            ),
            (
                QxError::Leading {
                    cmd: "F\r",
                    got: 0x23,
                    want: b'(',
                },
                "F: answer starts with 0x23, '(' expected",
            ),
            (
                QxError::NotNumeric {
                    var: "input.voltage",
                    value: s,
                },
                "input.voltage: '12?.5 and more than twe~' is not a number",
            ),
            (QxError::Empty("ups.firmware"), "ups.firmware: empty value"),
            (
                QxError::StatusChar {
                    pos: 38,
                    value: Snip::new(b"x"),
                },
                "status bit 38: 'x' is neither 0 nor 1",
            ),
            (
                QxError::VoltageRatio {
                    input: Snip::new(b"230.0"),
                    output: Snip::new(b"12"),
                },
                "bypass/boost/buck bit set but output voltage 12 is not within \
                 0.5 to 1.5 times input voltage 230.0",
            ),
            (
                QxError::Protocol {
                    var: "QS answer",
                    value: Snip::new(b"#1"),
                },
                "QS answer: protocol '#1' not supported",
            ),
            (
                QxError::Store("battery.charge", StoreError::Full),
                "battery.charge: variable store full (192 variables)",
            ),
            (
                QxError::Config("runtimecal", "four numbers"),
                "runtimecal: four numbers",
            ),
            (QxError::Empty(""), ": empty value"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
