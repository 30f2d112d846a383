//! Reply lines of the NUT protocol, written into a caller's buffer.
//!
//! Read first: `docs/design/nut-protocol.md` §4 and §5 (reply shapes)
//! and §6 (error codes).
//!
//! [`Reply`] appends whole lines, each ending in LF, to a fixed byte
//! buffer; a multi-line `LIST` reply goes into one buffer so the server
//! can send it with one write. A line that does not fit the buffer, or is
//! longer than stock clients can read ([`MAX_REPLY_LINE`]), is a typed
//! [`Overflow`] and leaves the buffer as it was before that line: nothing
//! is ever cut. Which reply to send is the session's business, not this
//! module's.

use super::lexer::escaped_len;
use super::tracking::{TrackingId, TrackingStatus};
use core::fmt;

/// Longest reply line, LF included. libupsclient reads 511 bytes at a
/// time, so a 511-character line would arrive split
/// (`docs/design/nut-protocol.md` §2.5).
pub const MAX_REPLY_LINE: usize = 511;

/// `NETVER`/`PROTVER`: the protocol version upsd 2.8 speaks.
pub const NETVER: &str = "1.3";

/// Server version reported by `VER` and `server.version`. Not a NUT
/// version number: clients only display it (Synology does the same).
pub const SERVER_VERSION: &str = concat!("hidupsd-", env!("CARGO_PKG_VERSION"));

/// The `VER` line and `server.info` value.
pub const SERVER_INFO: &str = concat!(
    "Network UPS Tools upsd hidupsd-",
    env!("CARGO_PKG_VERSION"),
    " - https://www.networkupstools.org/"
);

/// The `HELP` line of upsd 2.8.3 and later (PRIMARY, MASTER and FSD are
/// deliberately not listed).
pub const HELP: &str =
    "Commands: HELP VER PROTVER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS";

/// Every `ERR` token upsd defines, plus the two that only appear as
/// TRACKING results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrCode {
    AccessDenied,
    UnknownUps,
    VarNotSupported,
    CmdNotSupported,
    InvalidArgument,
    InstcmdFailed,
    SetFailed,
    Readonly,
    TooLong,
    FeatureNotSupported,
    FeatureNotConfigured,
    AlreadySslMode,
    DriverNotConnected,
    DataStale,
    AlreadyLoggedIn,
    InvalidPassword,
    AlreadySetPassword,
    InvalidUsername,
    AlreadySetUsername,
    UsernameRequired,
    PasswordRequired,
    UnknownCommand,
    InvalidValue,
    /// Legacy, never sent by current upsd.
    VarUnknown,
    /// Legacy, never sent by current upsd.
    UnknownType,
    /// Legacy, never sent by current upsd.
    UnknownInstcmd,
    /// Legacy, never sent by current upsd.
    MissingArgument,
    /// Only as a TRACKING result.
    Unknown,
    /// Only as a TRACKING result.
    Failed,
}

impl ErrCode {
    pub const ALL: [ErrCode; 29] = [
        ErrCode::AccessDenied,
        ErrCode::UnknownUps,
        ErrCode::VarNotSupported,
        ErrCode::CmdNotSupported,
        ErrCode::InvalidArgument,
        ErrCode::InstcmdFailed,
        ErrCode::SetFailed,
        ErrCode::Readonly,
        ErrCode::TooLong,
        ErrCode::FeatureNotSupported,
        ErrCode::FeatureNotConfigured,
        ErrCode::AlreadySslMode,
        ErrCode::DriverNotConnected,
        ErrCode::DataStale,
        ErrCode::AlreadyLoggedIn,
        ErrCode::InvalidPassword,
        ErrCode::AlreadySetPassword,
        ErrCode::InvalidUsername,
        ErrCode::AlreadySetUsername,
        ErrCode::UsernameRequired,
        ErrCode::PasswordRequired,
        ErrCode::UnknownCommand,
        ErrCode::InvalidValue,
        ErrCode::VarUnknown,
        ErrCode::UnknownType,
        ErrCode::UnknownInstcmd,
        ErrCode::MissingArgument,
        ErrCode::Unknown,
        ErrCode::Failed,
    ];

    /// The token after `ERR `.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrCode::AccessDenied => "ACCESS-DENIED",
            ErrCode::UnknownUps => "UNKNOWN-UPS",
            ErrCode::VarNotSupported => "VAR-NOT-SUPPORTED",
            ErrCode::CmdNotSupported => "CMD-NOT-SUPPORTED",
            ErrCode::InvalidArgument => "INVALID-ARGUMENT",
            ErrCode::InstcmdFailed => "INSTCMD-FAILED",
            ErrCode::SetFailed => "SET-FAILED",
            ErrCode::Readonly => "READONLY",
            ErrCode::TooLong => "TOO-LONG",
            ErrCode::FeatureNotSupported => "FEATURE-NOT-SUPPORTED",
            ErrCode::FeatureNotConfigured => "FEATURE-NOT-CONFIGURED",
            ErrCode::AlreadySslMode => "ALREADY-SSL-MODE",
            ErrCode::DriverNotConnected => "DRIVER-NOT-CONNECTED",
            ErrCode::DataStale => "DATA-STALE",
            ErrCode::AlreadyLoggedIn => "ALREADY-LOGGED-IN",
            ErrCode::InvalidPassword => "INVALID-PASSWORD",
            ErrCode::AlreadySetPassword => "ALREADY-SET-PASSWORD",
            ErrCode::InvalidUsername => "INVALID-USERNAME",
            ErrCode::AlreadySetUsername => "ALREADY-SET-USERNAME",
            ErrCode::UsernameRequired => "USERNAME-REQUIRED",
            ErrCode::PasswordRequired => "PASSWORD-REQUIRED",
            ErrCode::UnknownCommand => "UNKNOWN-COMMAND",
            ErrCode::InvalidValue => "INVALID-VALUE",
            ErrCode::VarUnknown => "VAR-UNKNOWN",
            ErrCode::UnknownType => "UNKNOWN-TYPE",
            ErrCode::UnknownInstcmd => "UNKNOWN-INSTCMD",
            ErrCode::MissingArgument => "MISSING-ARGUMENT",
            ErrCode::Unknown => "UNKNOWN",
            ErrCode::Failed => "FAILED",
        }
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reply did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// The buffer is full. The server needs a bigger buffer for this reply.
    Full,
    /// One line would exceed [`MAX_REPLY_LINE`] (a client echoed a huge
    /// name back at itself); stock clients could not read it.
    LineTooLong,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Overflow::Full => "reply buffer full",
            Overflow::LineTooLong => "reply line longer than 511 bytes",
        })
    }
}

/// The header of a `LIST` reply: `BEGIN LIST <TYPE>[ <ups>[ <var>]]`.
/// Names are echoed exactly as the client typed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List<'a> {
    Ups,
    Var(&'a [u8]),
    Rw(&'a [u8]),
    Cmd(&'a [u8]),
    Client(&'a [u8]),
    Enum(&'a [u8], &'a [u8]),
    Range(&'a [u8], &'a [u8]),
}

impl List<'_> {
    /// The list type, always upper case (libupsclient finds the end of a
    /// list with a case-sensitive test).
    pub const fn kind(&self) -> &'static str {
        match self {
            List::Ups => "UPS",
            List::Var(_) => "VAR",
            List::Rw(_) => "RW",
            List::Cmd(_) => "CMD",
            List::Client(_) => "CLIENT",
            List::Enum(..) => "ENUM",
            List::Range(..) => "RANGE",
        }
    }
}

/// The words of a `TYPE` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VarType {
    pub rw: bool,
    pub enumerated: bool,
    pub range: bool,
    /// `STRING:<n>`; `None` means `NUMBER` (upsd's default for anything
    /// not flagged as a string).
    pub string: Option<u32>,
}

/// Reply lines appended to a caller's buffer.
pub struct Reply<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Where the line being written started.
    line: usize,
}

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Reply {
            buf,
            len: 0,
            line: 0,
        }
    }

    /// The complete lines written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Forget everything after `len` bytes (to replace a reply).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Write one line: `body` appends its words, then the LF is added. On
    /// error the buffer is left as before the line.
    fn line(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<(), Overflow>,
    ) -> Result<(), Overflow> {
        self.line = self.len;
        let r = body(self).and_then(|()| self.put(b"\n"));
        if r.is_err() {
            self.len = self.line;
        }
        r
    }

    fn put(&mut self, s: &[u8]) -> Result<(), Overflow> {
        let end = self.len + s.len();
        if end - self.line > MAX_REPLY_LINE {
            return Err(Overflow::LineTooLong);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow::Full)?;
        dst.copy_from_slice(s);
        self.len = end;
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<(), Overflow> {
        self.put(s.as_bytes())
    }

    /// A space, then `s`.
    fn word(&mut self, s: &[u8]) -> Result<(), Overflow> {
        self.put(b" ")?;
        self.put(s)
    }

    /// A space, then `s` escaped and in double quotes.
    fn quoted(&mut self, s: &str) -> Result<(), Overflow> {
        self.quoted_with(None, s.as_bytes())
    }

    /// A space, then `prefix` and `s` escaped together in double quotes.
    /// One pass: bytes are escaped as they are copied; when the buffer
    /// ends first, the whole length decides which overflow it is.
    fn quoted_with(&mut self, prefix: Option<&str>, s: &[u8]) -> Result<(), Overflow> {
        let start = self.len;
        self.put(b" \"")?;
        let done = match prefix {
            Some(p) => self.escaped(p.as_bytes()).and_then(|()| self.escaped(s)),
            None => self.escaped(s),
        };
        if done.is_err() {
            let need = 3 + prefix.map_or(0, |p| escaped_len(p.as_bytes())) + escaped_len(s);
            self.len = start;
            return Err(if start + need - self.line > MAX_REPLY_LINE {
                Overflow::LineTooLong
            } else {
                Overflow::Full
            });
        }
        self.put(b"\"")
    }

    /// Copy `s` with NUT's escapes (see [`super::lexer::escape_into`] for
    /// the rules); `Err` when the buffer ends first.
    fn escaped(&mut self, s: &[u8]) -> Result<(), ()> {
        let mut at = self.len;
        for &b in s {
            match b {
                b'#' | b'\\' | b'"' => {
                    let d = self.buf.get_mut(at..at + 2).ok_or(())?;
                    d[0] = b'\\';
                    d[1] = b;
                    at += 2;
                }
                0x20..=0x7f => {
                    *self.buf.get_mut(at).ok_or(())? = b;
                    at += 1;
                }
                _ => {}
            }
        }
        self.len = at;
        Ok(())
    }

    fn num(&mut self, n: i64) -> Result<(), Overflow> {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut v = n.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if n < 0 {
            self.put(b"-")?;
        }
        self.put(&digits[at..])
    }

    /// `ERR <code>`.
    pub fn err(&mut self, code: ErrCode) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("ERR ")?;
            r.str(code.as_str())
        })
    }

    /// `OK`.
    pub fn ok(&mut self) -> Result<(), Overflow> {
        self.text("OK")
    }

    /// `OK`, or `OK TRACKING <id>` when the request is tracked.
    pub fn ok_tracked(&mut self, id: Option<TrackingId>) -> Result<(), Overflow> {
        match id {
            None => self.ok(),
            Some(id) => self.line(|r| {
                r.str("OK TRACKING ")?;
                r.put(&id.text())
            }),
        }
    }

    /// One fixed line: `OK Goodbye`, `OK FSD-SET`, `1.3`, [`HELP`], ...
    pub fn text(&mut self, s: &str) -> Result<(), Overflow> {
        self.line(|r| r.str(s))
    }

    /// `ON` or `OFF`: this connection's tracking flag.
    pub fn tracking_flag(&mut self, on: bool) -> Result<(), Overflow> {
        self.text(if on { "ON" } else { "OFF" })
    }

    /// The bare result line of `GET TRACKING <id>`.
    pub fn tracking_status(&mut self, s: TrackingStatus) -> Result<(), Overflow> {
        self.text(s.as_str())
    }

    pub fn begin(&mut self, list: &List<'_>) -> Result<(), Overflow> {
        self.list_line("BEGIN LIST ", list)
    }

    pub fn end(&mut self, list: &List<'_>) -> Result<(), Overflow> {
        self.list_line("END LIST ", list)
    }

    fn list_line(&mut self, head: &str, list: &List<'_>) -> Result<(), Overflow> {
        self.line(|r| {
            r.str(head)?;
            r.str(list.kind())?;
            match *list {
                List::Ups => Ok(()),
                List::Var(u) | List::Rw(u) | List::Cmd(u) | List::Client(u) => r.word(u),
                List::Enum(u, v) | List::Range(u, v) => {
                    r.word(u)?;
                    r.word(v)
                }
            }
        })
    }

    /// `VAR <ups> <var> "<value>"`, with `FSD ` before the value when the
    /// FSD latch shows in `ups.status`. Name and value are bytes, as the
    /// store keeps them (ASCII is all a reply carries).
    pub fn var(&mut self, ups: &[u8], var: &[u8], value: &[u8], fsd: bool) -> Result<(), Overflow> {
        // The usual line, written in one go: with room for every byte
        // escaped, no limit can be reached on the way.
        let prefix: &[u8] = if fsd { b"FSD " } else { b"" };
        let worst = 4 + ups.len() + 1 + var.len() + 2 + 2 * (prefix.len() + value.len()) + 2;
        if worst <= MAX_REPLY_LINE {
            if let Some(dst) = self.buf.get_mut(self.len..self.len + worst) {
                dst[..4].copy_from_slice(b"VAR ");
                let mut at = 4 + ups.len();
                dst[4..at].copy_from_slice(ups);
                dst[at] = b' ';
                dst[at + 1..at + 1 + var.len()].copy_from_slice(var);
                at += 1 + var.len();
                dst[at] = b' ';
                dst[at + 1] = b'"';
                at += 2;
                at += escape(prefix, &mut dst[at..]);
                at += escape(value, &mut dst[at..]);
                dst[at] = b'"';
                dst[at + 1] = b'\n';
                self.len += at + 2;
                return Ok(());
            }
        }
        self.line(|r| {
            r.str("VAR")?;
            r.word(ups)?;
            r.word(var)?;
            r.quoted_with(fsd.then_some("FSD "), value)
        })
    }

    /// `RW <ups> <var> "<value>"`.
    pub fn rw(&mut self, ups: &[u8], var: &[u8], value: &[u8]) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("RW")?;
            r.word(ups)?;
            r.word(var)?;
            r.quoted_with(None, value)
        })
    }

    /// `TYPE <ups> <var> [RW] [ENUM] [RANGE] STRING:<n>|NUMBER`.
    pub fn var_type(&mut self, ups: &[u8], var: &[u8], t: VarType) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("TYPE")?;
            r.word(ups)?;
            r.word(var)?;
            for (on, w) in [(t.rw, "RW"), (t.enumerated, "ENUM"), (t.range, "RANGE")] {
                if on {
                    r.word(w.as_bytes())?;
                }
            }
            match t.string {
                Some(n) => {
                    r.str(" STRING:")?;
                    r.num(n.into())
                }
                None => r.str(" NUMBER"),
            }
        })
    }

    /// `DESC <ups> <var> "<text>"`. upsd sends the text unescaped (a known
    /// bug); it is escaped here, which changes nothing for plain text.
    pub fn desc(&mut self, ups: &[u8], var: &[u8], text: &str) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("DESC")?;
            r.word(ups)?;
            r.word(var)?;
            r.quoted(text)
        })
    }

    /// `CMDDESC <ups> <cmd> "<text>"`.
    pub fn cmd_desc(&mut self, ups: &[u8], cmd: &[u8], text: &str) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("CMDDESC")?;
            r.word(ups)?;
            r.word(cmd)?;
            r.quoted(text)
        })
    }

    /// `CMD <ups> <cmd>` (unquoted).
    pub fn cmd(&mut self, ups: &[u8], cmd: &str) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("CMD")?;
            r.word(ups)?;
            r.word(cmd.as_bytes())
        })
    }

    /// `ENUM <ups> <var> "<value>"`.
    pub fn enum_value(&mut self, ups: &[u8], var: &[u8], value: &str) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("ENUM")?;
            r.word(ups)?;
            r.word(var)?;
            r.quoted(value)
        })
    }

    /// `RANGE <ups> <var> "<min>" "<max>"`.
    pub fn range(&mut self, ups: &[u8], var: &[u8], min: i32, max: i32) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("RANGE")?;
            r.word(ups)?;
            r.word(var)?;
            r.put(b" \"")?;
            r.num(min.into())?;
            r.put(b"\" \"")?;
            r.num(max.into())?;
            r.put(b"\"")
        })
    }

    /// `UPS <name> "<desc>"`; without a description upsd says
    /// `Description unavailable` here (but `Unavailable` in `UPSDESC`).
    pub fn ups(&mut self, name: &str, desc: Option<&str>) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("UPS")?;
            r.word(name.as_bytes())?;
            r.quoted(desc.unwrap_or("Description unavailable"))
        })
    }

    /// `CLIENT <ups> <address>`.
    pub fn client(&mut self, ups: &str, addr: impl fmt::Display) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("CLIENT")?;
            r.word(ups.as_bytes())?;
            r.put(b" ")?;
            let mut w = Adapter { r, err: None };
            if fmt::write(&mut w, format_args!("{addr}")).is_err() {
                return Err(w.err.unwrap_or(Overflow::Full));
            }
            Ok(())
        })
    }

    /// `NUMLOGINS <ups> <n>`.
    pub fn numlogins(&mut self, ups: &[u8], n: u32) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("NUMLOGINS")?;
            r.word(ups)?;
            r.put(b" ")?;
            r.num(n.into())
        })
    }

    /// `UPSDESC <ups> "<desc>"`, `"Unavailable"` without one.
    pub fn ups_desc(&mut self, ups: &[u8], desc: Option<&str>) -> Result<(), Overflow> {
        self.line(|r| {
            r.str("UPSDESC")?;
            r.word(ups)?;
            r.quoted(desc.unwrap_or("Unavailable"))
        })
    }
}

/// Copy `s` escaped into `dst`, which has room for every byte escaped;
/// returns the bytes written.
fn escape(s: &[u8], dst: &mut [u8]) -> usize {
    let mut at = 0;
    for (&b, _) in s.iter().zip(0..dst.len() / 2) {
        match b {
            b'#' | b'\\' | b'"' => {
                dst[at] = b'\\';
                dst[at + 1] = b;
                at += 2;
            }
            0x20..=0x7f => {
                dst[at] = b;
                at += 1;
            }
            _ => {}
        }
    }
    at
}

/// Lets `core::fmt` write into a line, remembering which overflow hit.
struct Adapter<'r, 'a> {
    r: &'r mut Reply<'a>,
    err: Option<Overflow>,
}

impl fmt::Write for Adapter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.r.str(s).map_err(|e| {
            self.err = Some(e);
            fmt::Error
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// `reply!(name, |r| writes..., b"exact bytes")`.
    macro_rules! reply {
        ($name:ident, |$r:ident| $body:expr, $want:expr) => {
            #[test]
            fn $name() {
                let mut buf = [0u8; 2048];
                let mut $r = Reply::new(&mut buf);
                $body.unwrap();
                assert_eq!(
                    String::from_utf8_lossy($r.as_bytes()),
                    String::from_utf8_lossy($want)
                );
            }
        };
    }

    reply!(
        err_line,
        |r| r.err(ErrCode::UnknownUps),
        b"ERR UNKNOWN-UPS\n"
    );
    reply!(ok_line, |r| r.ok(), b"OK\n");
    reply!(ok_untracked, |r| r.ok_tracked(None), b"OK\n");
    reply!(
        ok_tracked,
        |r| r.ok_tracked(Some(TrackingId::from_random([0x12; 16]))),
        b"OK TRACKING 12121212-1212-4212-9212-121212121212\n"
    );
    reply!(goodbye, |r| r.text("OK Goodbye"), b"OK Goodbye\n");
    reply!(netver, |r| r.text(NETVER), b"1.3\n");
    reply!(
        help,
        |r| r.text(HELP),
        b"Commands: HELP VER PROTVER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS\n"
    );
    reply!(tracking_on, |r| r.tracking_flag(true), b"ON\n");
    reply!(tracking_off, |r| r.tracking_flag(false), b"OFF\n");
    reply!(
        tracking_result,
        |r| r.tracking_status(TrackingStatus::InvalidArgument),
        b"ERR INVALID-ARGUMENT\n"
    );
    reply!(
        list_ups,
        |r| r
            .begin(&List::Ups)
            .and_then(|()| r.ups("su700", Some("Development box")))
            .and_then(|()| r.ups("other", None))
            .and_then(|()| r.end(&List::Ups)),
        b"BEGIN LIST UPS\nUPS su700 \"Development box\"\nUPS other \"Description unavailable\"\nEND LIST UPS\n"
    );
    reply!(
        list_headers,
        |r| [
            List::Var(b"MyUps"),
            List::Rw(b"u"),
            List::Cmd(b"u"),
            List::Client(b"u"),
            List::Enum(b"u", b"v"),
            List::Range(b"u", b"v")
        ]
        .iter()
        .try_for_each(|l| r.begin(l).and_then(|()| r.end(l))),
        b"BEGIN LIST VAR MyUps\nEND LIST VAR MyUps\nBEGIN LIST RW u\nEND LIST RW u\n\
BEGIN LIST CMD u\nEND LIST CMD u\nBEGIN LIST CLIENT u\nEND LIST CLIENT u\n\
BEGIN LIST ENUM u v\nEND LIST ENUM u v\nBEGIN LIST RANGE u v\nEND LIST RANGE u v\n"
    );
    reply!(
        var_escaped,
        |r| r.var(b"ups", b"ups.mfr", b"a \"b\" #c \\d", false),
        b"VAR ups ups.mfr \"a \\\"b\\\" \\#c \\\\d\"\n"
    );
    reply!(
        var_fsd,
        |r| r.var(b"ups", b"UPS.STATUS", b"OB LB", true),
        b"VAR ups UPS.STATUS \"FSD OB LB\"\n"
    );
    reply!(
        var_empty,
        |r| r.var(b"u", b"ups.alarm", b"", false),
        b"VAR u ups.alarm \"\"\n"
    );
    reply!(
        rw_line,
        |r| r.rw(b"u", b"ups.id", b"x"),
        b"RW u ups.id \"x\"\n"
    );
    reply!(
        type_number,
        |r| r.var_type(b"ups", b"battery.charge", VarType::default()),
        b"TYPE ups battery.charge NUMBER\n"
    );
    reply!(
        type_string,
        |r| r.var_type(
            b"ups",
            b"ups.id",
            VarType {
                rw: true,
                string: Some(8),
                ..VarType::default()
            }
        ),
        b"TYPE ups ups.id RW STRING:8\n"
    );
    reply!(
        type_all_words_in_order,
        |r| r.var_type(
            b"u",
            b"v",
            VarType {
                rw: true,
                enumerated: true,
                range: true,
                string: None
            }
        ),
        b"TYPE u v RW ENUM RANGE NUMBER\n"
    );
    reply!(
        desc_line,
        |r| r.desc(b"u", b"battery.charge", "Battery charge (percent)"),
        b"DESC u battery.charge \"Battery charge (percent)\"\n"
    );
    reply!(
        cmddesc_line,
        |r| r.cmd_desc(b"u", b"load.off", "Switch the load off"),
        b"CMDDESC u load.off \"Switch the load off\"\n"
    );
    reply!(cmd_line, |r| r.cmd(b"u", "load.off"), b"CMD u load.off\n");
    reply!(
        enum_line,
        |r| r.enum_value(b"u", b"v", "a#"),
        b"ENUM u v \"a\\#\"\n"
    );
    reply!(
        range_line,
        |r| r.range(b"u", b"v", -5, 2147483647),
        b"RANGE u v \"-5\" \"2147483647\"\n"
    );
    reply!(
        client_lines,
        |r| r
            .client("su700", IpAddr::V6(Ipv6Addr::LOCALHOST))
            .and_then(|()| r.client("su700", IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)))),
        b"CLIENT su700 ::1\nCLIENT su700 192.168.1.2\n"
    );
    reply!(
        numlogins,
        |r| r.numlogins(b"su700", 2),
        b"NUMLOGINS su700 2\n"
    );
    reply!(
        upsdesc,
        |r| r
            .ups_desc(b"u", Some("Rack \"A\""))
            .and_then(|()| r.ups_desc(b"u", None)),
        b"UPSDESC u \"Rack \\\"A\\\"\"\nUPSDESC u \"Unavailable\"\n"
    );

    #[test]
    fn every_error_code_has_its_wire_text() {
        let mut all = String::new();
        for c in ErrCode::ALL {
            let mut buf = [0u8; 64];
            let mut r = Reply::new(&mut buf);
            r.err(c).unwrap();
            all.push_str(core::str::from_utf8(r.as_bytes()).unwrap());
        }
        assert_eq!(
            all,
            "ERR ACCESS-DENIED\nERR UNKNOWN-UPS\nERR VAR-NOT-SUPPORTED\nERR CMD-NOT-SUPPORTED\n\
ERR INVALID-ARGUMENT\nERR INSTCMD-FAILED\nERR SET-FAILED\nERR READONLY\nERR TOO-LONG\n\
ERR FEATURE-NOT-SUPPORTED\nERR FEATURE-NOT-CONFIGURED\nERR ALREADY-SSL-MODE\n\
ERR DRIVER-NOT-CONNECTED\nERR DATA-STALE\nERR ALREADY-LOGGED-IN\nERR INVALID-PASSWORD\n\
ERR ALREADY-SET-PASSWORD\nERR INVALID-USERNAME\nERR ALREADY-SET-USERNAME\n\
ERR USERNAME-REQUIRED\nERR PASSWORD-REQUIRED\nERR UNKNOWN-COMMAND\nERR INVALID-VALUE\n\
ERR VAR-UNKNOWN\nERR UNKNOWN-TYPE\nERR UNKNOWN-INSTCMD\nERR MISSING-ARGUMENT\n\
ERR UNKNOWN\nERR FAILED\n"
        );
    }

    #[test]
    fn version_strings() {
        assert!(SERVER_INFO.starts_with("Network UPS Tools upsd hidupsd-"));
        assert!(SERVER_INFO.ends_with(" - https://www.networkupstools.org/"));
        assert_eq!(
            SERVER_INFO,
            format!("Network UPS Tools upsd {SERVER_VERSION} - https://www.networkupstools.org/")
        );
    }

    #[test]
    fn a_line_that_does_not_fit_leaves_the_buffer_unchanged() {
        let mut buf = [0u8; 24];
        let mut r = Reply::new(&mut buf);
        r.ok().unwrap();
        assert_eq!(
            r.var(b"ups", b"ups.status", b"OL CHRG", false),
            Err(Overflow::Full)
        );
        assert_eq!(r.as_bytes(), b"OK\n");
        assert_eq!(r.err(ErrCode::Readonly), Ok(()));
        assert_eq!(r.as_bytes(), b"OK\nERR READONLY\n");
        assert_eq!(r.numlogins(b"u", 1), Err(Overflow::Full));
        assert_eq!(r.as_bytes(), b"OK\nERR READONLY\n");
    }

    #[test]
    fn line_limit_is_511_bytes_with_lf() {
        let mut buf = [0u8; 2048];
        let mut r = Reply::new(&mut buf);
        // "DESC u " + name + " \"x\"\n" = 12 + name.
        let fits = "v".repeat(MAX_REPLY_LINE - 12);
        r.desc(b"u", fits.as_bytes(), "x").unwrap();
        assert_eq!(r.len(), MAX_REPLY_LINE);
        let long = "v".repeat(MAX_REPLY_LINE - 11);
        assert_eq!(
            r.desc(b"u", long.as_bytes(), "x"),
            Err(Overflow::LineTooLong)
        );
        assert_eq!(r.len(), MAX_REPLY_LINE);
        // Escapes count: 250 quotes become 500 bytes, a 511-byte line.
        let quotes = "\"".repeat(250);
        r.var(b"u", b"v", quotes.as_bytes(), false).unwrap();
        assert_eq!(r.len(), 2 * MAX_REPLY_LINE);
        let quotes = "\"".repeat(251);
        assert_eq!(
            r.var(b"u", b"v", quotes.as_bytes(), false),
            Err(Overflow::LineTooLong)
        );
        assert_eq!(r.len(), 2 * MAX_REPLY_LINE);
    }
}
