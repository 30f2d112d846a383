//! One Megatec/Q1 unit as nutdrv_qx drives it: probe its protocol, read
//! its table's items (full walks every `pollfreq`, quick status walks in
//! between), publish NUT variables, status words and alarms, run instant
//! commands and SET VAR, and the shutdown sequence of killpower.
//!
//! Pure: the unit is reached through a [`Link`] (one command, one answer)
//! and the time is passed in. After [`Qx::new`] a poll allocates nothing:
//! answers go to fixed buffers, values to [`Text`]s, the store is sized
//! at set-up.

use super::table::{flag, Claim, Item, Pre, PreAnswer, Protocol};
use super::tables::PROTOCOLS;
use crate::store::{Store, StoreError};
use crate::text::{atol, Text};
use crate::ups::engine::format_value;
use crate::ups::table::st;
use core::fmt::{self, Write};

/// Longest answer kept (nutdrv_qx keeps 511 bytes; Megatec answers are
/// 47 bytes at most, Voltronic ones about 110).
pub const ANSWER_CAP: usize = 256;

/// nutdrv_qx's tries for a shutdown command, and polls that may fail
/// before the data is called stale (the fifth failure makes it stale).
const MAXTRIES: u32 = 3;
const STALE_AFTER: u32 = MAXTRIES + 2;

/// Why a command could not be sent or answered, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The device is gone: reconnect.
    Gone,
    /// A transfer failed (stall, protocol error); try again later.
    Io,
    /// The bridge cannot carry this command (a string-descriptor bridge
    /// without an index for it).
    Unsupported,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::Gone => "device gone",
            LinkError::Io => "transfer failed",
            LinkError::Unsupported => "the USB bridge cannot send this command",
        })
    }
}

/// One command to the unit and its answer.
pub trait Link {
    /// Send `cmd` (its `\r` included) and put the answer in `answer`;
    /// `Ok(0)` means no answer in time, which for a Megatec unit is how a
    /// command is acknowledged.
    fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError>;
}

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
        match self {
            QxError::Link(c, e) => write!(f, "{}: {e}", cmd_name(c)),
            QxError::Rejected(c) => write!(f, "{}: refused by the unit", cmd_name(c)),
            QxError::Short { cmd, got, want } => write!(
                f,
                "{}: answer of {got} bytes, at least {want} expected",
                cmd_name(cmd)
            ),
            QxError::Leading { cmd, got, want } => write!(
                f,
                "{}: answer starts with 0x{got:02x}, '{}' expected",
                cmd_name(cmd),
                *want as char
            ),
            QxError::NotNumeric { var, value } => write!(f, "{var}: '{value}' is not a number"),
            QxError::Empty(var) => write!(f, "{var}: empty value"),
            QxError::StatusChar { pos, value } => {
                write!(f, "status bit {pos}: '{value}' is neither 0 nor 1")
            }
            QxError::VoltageRatio { input, output } => write!(
                f,
                "bypass/boost/buck bit set but output voltage {output} is not within \
                 0.5 to 1.5 times input voltage {input}"
            ),
            QxError::Protocol { var, value } => {
                write!(f, "{var}: protocol '{value}' not supported")
            }
            QxError::Store(var, e) => write!(f, "{var}: {e}"),
            QxError::Config(opt, why) => write!(f, "{opt}: {why}"),
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

/// nutdrv_qx options that change what is read or sent.
#[derive(Debug, Clone)]
pub struct QxOptions {
    /// `protocol =`: skip probing.
    pub protocol: Option<String>,
    pub novendor: bool,
    pub norating: bool,
    /// Ignore the "shutdown active" status bit.
    pub ignoresab: bool,
    /// `ondelay`/`offdelay` in seconds, as configured.
    pub ondelay: Option<String>,
    pub offdelay: Option<String>,
    /// killpower leaves the load off (`shutdown.stayoff`).
    pub stayoff: bool,
    /// Full walk period (NUT's `pollfreq`, 30 s).
    pub pollfreq_ms: u64,
    /// Runtime estimation (`runtimecal = RH,LH,RL,LL`: runtime in seconds
    /// at two loads in percent), `chargetime` (seconds from empty to
    /// full, 43200) and `idleload` (percent, 10), as configured.
    pub runtimecal: Option<String>,
    pub chargetime: Option<String>,
    pub idleload: Option<String>,
}

impl Default for QxOptions {
    fn default() -> Self {
        QxOptions {
            protocol: None,
            novendor: false,
            norating: false,
            ignoresab: false,
            ondelay: None,
            offdelay: None,
            stayoff: false,
            pollfreq_ms: 30_000,
            runtimecal: None,
            chargetime: None,
            idleload: None,
        }
    }
}

/// Status bits, in nutdrv_qx's order.
mod sb {
    pub const OL: u16 = 1;
    pub const LB: u16 = 1 << 1;
    pub const RB: u16 = 1 << 2;
    pub const CHRG: u16 = 1 << 3;
    pub const DISCHRG: u16 = 1 << 4;
    pub const BYPASS: u16 = 1 << 5;
    pub const CAL: u16 = 1 << 6;
    pub const OFF: u16 = 1 << 7;
    pub const OVER: u16 = 1 << 8;
    pub const TRIM: u16 = 1 << 9;
    pub const BOOST: u16 = 1 << 10;
    pub const FSD: u16 = 1 << 11;
    pub const NAMES: [(&str, u16); 12] = [
        ("OL", OL),
        ("LB", LB),
        ("RB", RB),
        ("CHRG", CHRG),
        ("DISCHRG", DISCHRG),
        ("BYPASS", BYPASS),
        ("CAL", CAL),
        ("OFF", OFF),
        ("OVER", OVER),
        ("TRIM", TRIM),
        ("BOOST", BOOST),
        ("FSD", FSD),
    ];
    /// Order of the words in `ups.status` (after OL or OB).
    pub const PUBLISHED: [(&str, u16); 11] = [
        ("DISCHRG", DISCHRG),
        ("CHRG", CHRG),
        ("LB", LB),
        ("OVER", OVER),
        ("RB", RB),
        ("TRIM", TRIM),
        ("BOOST", BOOST),
        ("BYPASS", BYPASS),
        ("OFF", OFF),
        ("CAL", CAL),
        ("FSD", FSD),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Init,
    Quick,
    Full,
}

/// What a processed value became.
enum Set {
    /// A status word or alarm was noted (not a variable).
    Status,
    Value,
}

/// Battery charge guessed from the battery voltage (nutdrv_qx's
/// "guesstimation"; runtime is not calculated without `runtimecal`).
#[derive(Debug, Clone, Copy)]
struct Batt {
    packs: f64,
    high: f64,
    low: f64,
    nom: f64,
    /// Charge found in this full walk (-1: none yet).
    chrg: f64,
    /// With `runtimecal`: runtime read this walk (-1: none), nominal at
    /// full load, estimated remaining at full load, load exponent; the
    /// recharge time (s); idle load (fraction) and the effective load.
    runt: f64,
    runt_nom: f64,
    runt_est: f64,
    runt_exp: f64,
    chrg_time: f64,
    load_low: f64,
    load_eff: f64,
    /// Time (ms) of the last estimate; `None` without `runtimecal`.
    runt_at: Option<u64>,
}

struct Answer {
    buf: [u8; ANSWER_CAP],
    /// Length the bridge reported.
    len: usize,
}

impl Answer {
    const fn new() -> Answer {
        Answer {
            buf: [0; ANSWER_CAP],
            len: 0,
        }
    }
    /// The answer as nutdrv_qx sees it: a C string.
    fn cstr(&self) -> &[u8] {
        let b = &self.buf[..self.len.min(ANSWER_CAP)];
        &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
    }
    fn clear(&mut self) {
        self.len = 0;
        self.buf[0] = 0;
    }
}

/// One Megatec/Q1 unit.
pub struct Qx {
    pub proto: &'static Protocol,
    pub opts: QxOptions,
    pub store: Store,
    /// Commands advertised to clients.
    pub cmds: Vec<&'static str>,
    skip: Vec<bool>,
    status: u16,
    alarm: Text,
    alarm_active: bool,
    /// A command or SET ran since the last full walk.
    changed: bool,
    last_full: u64,
    failures: u32,
    batt: Batt,
    cur: Answer,
    /// Command and answer of the previous item in this walk, reused by
    /// the next item with the same command.
    prev: Answer,
    prev_cmd: &'static str,
    /// Last problem with an item that did not fail the poll.
    pub last_error: Option<QxError>,
    /// BestUPS Patriot Pro units report the bypass/boost/buck bit inverted.
    inverted_bbb: bool,
}

/// strtod on text nutdrv_qx has already checked to be digits, spaces and
/// dots: leading spaces, digits, one dot, digits.
fn strtod(s: &str) -> f64 {
    let s = s.trim_start_matches([' ', '\t']);
    let mut end = 0;
    let mut dot = false;
    for (i, c) in s.char_indices() {
        match c {
            '0'..='9' => end = i + 1,
            '.' if !dot => {
                dot = true;
                end = i + 1;
            }
            _ => break,
        }
    }
    let t = &s[..end];
    if t.is_empty() || t == "." {
        return 0.0;
    }
    t.trim_end_matches('.').parse().unwrap_or(0.0)
}

/// Bytes as text, `?` for what is not printable ASCII.
fn ascii_text(b: &[u8]) -> Result<Text, ()> {
    let mut t = Text::new();
    for &c in b {
        let c = if (0x20..0x7f).contains(&c) { c } else { b'?' };
        let s = [c];
        t.push_str(core::str::from_utf8(&s).unwrap_or("?"))
            .map_err(|_| ())?;
    }
    Ok(t)
}

fn lossy(b: &[u8]) -> Snip {
    Snip::new(b)
}

/// Fill a command template: `%s` with `s` or `%02d` with `n`.
fn template(tpl: &str, s: Option<&str>, n: Option<i64>, out: &mut Text) -> Result<(), CmdError> {
    out.clear();
    let long = CmdError::BadValue("command too long");
    if let (Some(at), Some(s)) = (tpl.find("%s"), s) {
        write!(out, "{}{}{}", &tpl[..at], s, &tpl[at + 2..]).map_err(|_| long)
    } else if let (Some(at), Some(n)) = (tpl.find("%02d"), n) {
        write!(out, "{}{:02}{}", &tpl[..at], n, &tpl[at + 4..]).map_err(|_| long)
    } else {
        out.push_str(tpl).map_err(|_| long)
    }
}

/// Voltronic-QS-Hex's `QS` answer, refined in place: `#`, then each
/// space-separated token's bytes as two lower-case hex digits (tokens 10
/// and 11, the status bytes, as 8 binary digits); `(` followed by 0 to 4
/// stands for CR, XON, XOFF, LF and space. False when the answer does not
/// have 10 or 11 tokens of the expected length.
fn qs_hex(a: &mut Answer) -> bool {
    let raw = &a.buf[..a.len];
    if raw.first() != Some(&b'#') {
        return false;
    }
    let mut out = [0u8; ANSWER_CAP];
    let mut n = 1;
    out[0] = b'#';
    let mut token = 1;
    let mut put = |n: &mut usize, s: &[u8]| -> bool {
        if *n + s.len() >= ANSWER_CAP - 1 {
            return false;
        }
        out[*n..*n + s.len()].copy_from_slice(s);
        *n += s.len();
        true
    };
    let byte = |token: u32, b: u8| -> ([u8; 8], usize) {
        let mut t = [0u8; 8];
        if token == 10 || token == 11 {
            for (k, d) in t.iter_mut().enumerate() {
                *d = if b & (0x80 >> k) != 0 { b'1' } else { b'0' };
            }
            (t, 8)
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            t[0] = HEX[(b >> 4) as usize];
            t[1] = HEX[(b & 15) as usize];
            (t, 2)
        }
    };
    let mut i = 1;
    while i < raw.len() {
        let b = raw[i];
        if b == b' ' {
            if !put(&mut n, b" ") {
                return false;
            }
            token += 1;
            i += 1;
            continue;
        }
        if b == 0x28 {
            let unesc = match raw.get(i + 1).copied().unwrap_or(0) {
                0x00 => Some(0x0d),
                0x01 => Some(0x11),
                0x02 => Some(0x13),
                0x03 => Some(0x0a),
                0x04 => Some(0x20),
                _ => None,
            };
            // An escaped byte is written in hex even among the status
            // tokens (NUT does so).
            let (t, k) = byte(
                if unesc.is_some() { 1 } else { token },
                unesc.unwrap_or(0x28),
            );
            if !put(&mut n, &t[..k]) {
                return false;
            }
            i += if unesc.is_some() { 2 } else { 1 };
            continue;
        }
        if b == b'\r' {
            break;
        }
        let (t, k) = byte(token, b);
        if !put(&mut n, &t[..k]) {
            return false;
        }
        i += 1;
    }
    if !((token == 10 && n == 46) || (token == 11 && n == 55)) {
        return false;
    }
    out[n] = b'\r';
    a.buf = out;
    a.len = n + 1;
    true
}

/// BestUPS voltage settings by the `M` index: low, boost, nominal, buck,
/// high; rows 0-9 for 120 V ("U") models, 10-19 for 230 V ("E") ones
/// (Best Power's figures, as nutdrv_qx's bestups rule has them).
const BESTUPS_VOLTAGES: [[u16; 5]; 20] = [
    [96, 109, 120, 130, 146],
    [96, 109, 120, 138, 156],
    [90, 104, 120, 130, 146],
    [90, 104, 120, 138, 156],
    [90, 104, 110, 120, 130],
    [90, 104, 110, 130, 146],
    [90, 96, 110, 120, 130],
    [90, 96, 110, 130, 146],
    [96, 109, 128, 146, 156],
    [90, 104, 128, 146, 156],
    [200, 222, 240, 250, 284],
    [200, 222, 240, 264, 290],
    [188, 210, 240, 250, 284],
    [188, 210, 240, 264, 290],
    [188, 210, 230, 244, 270],
    [188, 210, 230, 250, 284],
    [180, 200, 230, 244, 270],
    [180, 200, 230, 250, 284],
    [165, 188, 208, 222, 244],
    [165, 188, 208, 244, 270],
];

/// BestUPS's `ID` answer with its fields at fixed positions: the power
/// right-aligned in 4 characters, the last field (with the `\r`) in 6.
fn bestups_id(a: &mut Answer) -> bool {
    if !(25..=27).contains(&a.len) {
        return false;
    }
    let raw = &a.buf[..a.len];
    let raw = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
    let mut out = [0u8; ANSWER_CAP];
    let mut n = 0;
    let mut i = 0;
    for tok in raw.split(|&c| c == b',').filter(|t| !t.is_empty()) {
        i += 1;
        let width: usize = match i {
            2 => 4,
            6 => 6,
            _ => 0,
        };
        if i > 1 {
            out[n] = b',';
            n += 1;
        }
        let pad = width.saturating_sub(tok.len());
        if n + pad + tok.len() >= ANSWER_CAP {
            return false;
        }
        out[n..n + pad].fill(b' ');
        n += pad;
        out[n..n + tok.len()].copy_from_slice(tok);
        n += tok.len();
    }
    if i != 6 || n != 28 {
        return false;
    }
    a.buf = out;
    a.len = n;
    true
}

/// C `strtol(s, &end, 16)`: leading blanks, an optional `0x`, hex digits.
fn strtol16(s: &str) -> (i64, &str) {
    let t = s.trim_start_matches([' ', '\t']);
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let end = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
    let v = i64::from_str_radix(&t[..end], 16).unwrap_or(0);
    if end == 0 {
        return (0, s);
    }
    (v, &t[end..])
}

/// The Voltronic-QS-Hex fields (NUT's `voltronic_qs_hex_*` rules).
fn qs_hex_value(it: &Item, raw: &[u8], value: &mut Text) -> Result<(), QxError> {
    let text = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
    let v = text.as_str();
    let bad = || QxError::NotNumeric {
        var: it.var,
        value: Snip::new(raw),
    };
    let hex_sp = |v: &str| v.bytes().all(|c| c.is_ascii_hexdigit() || c == b' ');
    let fmt = |x: f64, value: &mut Text| {
        if x.is_nan() {
            value.push_str("nan").map_err(|_| bad())
        } else if format_value(it.dfl, x, value) {
            Ok(())
        } else {
            Err(bad())
        }
    };
    match it.pre {
        Pre::QsHexVoltage => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            fmt((a.saturating_mul(b) / 51) as f64 / 256.0, value)
        }
        Pre::QsHexLoad => {
            if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let (a, _) = strtol16(v);
            value.set_fmt(format_args!("{a}")).map_err(|_| bad())
        }
        Pre::QsHexFrequency => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            let f = b as f64 / a as f64;
            fmt(if f > 99.9 { 99.9 } else { f }, value)
        }
        Pre::QsHexBatteryVoltage => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            fmt(a.saturating_mul(b) as f64 / 510.0, value)
        }
        Pre::QsHexRatings => {
            if !v.bytes().all(|c| c == b'0' || c == b'1') {
                return Err(QxError::StatusChar {
                    pos: it.from,
                    value: Snip::new(raw),
                });
            }
            let n = atol(v).unwrap_or(0);
            let r = match (it.from, n) {
                (47, 0) => 50.0,
                (47, _) => 60.0,
                (48, 0) => 12.0,
                (48, 1) => 24.0,
                (48, 10) => 36.0,
                (48, _) => 48.0,
                (52, 0) => 110.0,
                (52, 1) => 120.0,
                (52, 10) => 220.0,
                (52, 11) => 230.0,
                (52, 100) => 240.0,
                _ => return Err(bad()),
            };
            fmt(r, value)
        }
        _ => Err(bad()),
    }
}

impl Qx {
    /// A unit spoken to with `proto`; nothing is read yet.
    pub fn new(proto: &'static Protocol, opts: QxOptions) -> Qx {
        Qx {
            proto,
            opts,
            store: Store::new(),
            cmds: Vec::with_capacity(proto.items.len()),
            skip: proto.items.iter().map(|it| it.has(flag::SKIP)).collect(),
            status: 0,
            alarm: Text::new(),
            alarm_active: false,
            changed: false,
            last_full: 0,
            failures: 0,
            batt: Batt {
                packs: 1.0,
                high: -1.0,
                low: -1.0,
                nom: -1.0,
                chrg: -1.0,
                runt: -1.0,
                runt_nom: -1.0,
                runt_est: 0.0,
                runt_exp: 0.0,
                chrg_time: 43200.0,
                load_low: 0.1,
                load_eff: 1.0,
                runt_at: None,
            },
            cur: Answer::new(),
            prev: Answer::new(),
            prev_cmd: "",
            last_error: None,
            inverted_bbb: false,
        }
    }

    /// The protocol named by `protocol =` (case ignored, as NUT).
    pub fn protocol(name: &str) -> Option<&'static Protocol> {
        PROTOCOLS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Find the unit's protocol as nutdrv_qx does: each protocol in its
    /// order claims the unit or not (one try each; NUT tries three
    /// times). With `protocol =` only that one is tried.
    pub fn probe(io: &mut dyn Link, opts: &QxOptions) -> Result<Qx, ProbeError> {
        if let Some(p) = &opts.protocol {
            if Qx::protocol(p).is_none() {
                return Err(ProbeError::UnknownProtocol(p.clone()));
            }
        }
        let mut last = None;
        for p in PROTOCOLS.iter() {
            if opts
                .protocol
                .as_ref()
                .is_some_and(|n| !n.eq_ignore_ascii_case(p.name))
            {
                continue;
            }
            let mut qx = Qx::new(p, opts.clone());
            // NUT's driver core publishes this before any driver code.
            let _ = qx.store.set("device.type", "ups");
            match qx.claim(io) {
                Ok(()) => {
                    qx.initups();
                    return Ok(qx);
                }
                Err(QxError::Link(_, LinkError::Gone)) => return Err(ProbeError::Gone),
                Err(e) => last = Some(e),
            }
        }
        Err(ProbeError::NoProtocol(last))
    }

    /// What nutdrv_qx publishes about itself and the USB device: its
    /// name, the protocol's version, the USB ids.
    pub fn set_identity(&mut self, usb: Option<(u16, u16)>) {
        let _ = self.store.set("driver.name", "nutdrv_qx");
        let _ = self.store.set("driver.version.data", self.proto.version);
        if let Some((vid, pid)) = usb {
            let mut t = Text::new();
            let _ = t.set_fmt(format_args!("{vid:04x}"));
            let _ = self.store.set("ups.vendorid", t.as_str());
            let _ = t.set_fmt(format_args!("{pid:04x}"));
            let _ = self.store.set("ups.productid", t.as_str());
        }
    }

    fn find(&self, var: &str, with: u16) -> Option<usize> {
        self.proto.items.iter().enumerate().position(|(i, it)| {
            it.var.eq_ignore_ascii_case(var) && it.flags & with == with && !self.skip[i]
        })
    }

    fn claim(&mut self, io: &mut dyn Link) -> Result<(), QxError> {
        let mut get = |qx: &mut Qx, var: &str| -> Result<(), QxError> {
            let i = qx.find(var, 0).ok_or(QxError::Empty("item not in table"))?;
            qx.prev_cmd = "";
            qx.query(i, None, io)?;
            match qx.infoval(i)? {
                Set::Value => Ok(()),
                Set::Status => Err(QxError::Empty(qx.proto.items[i].var)),
            }
        };
        match self.proto.claim {
            Claim::Light => get(self, "input.voltage"),
            Claim::Full => {
                get(self, "input.voltage")?;
                if self.opts.novendor {
                    return Ok(());
                }
                get(self, "ups.firmware").map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
            Claim::VoltronicQs => {
                get(self, "ups.firmware.aux")?;
                get(self, "input.voltage").map_err(|e| {
                    self.store.delete("ups.firmware.aux");
                    e
                })
            }
            Claim::Bestups => {
                get(self, "input.voltage")?;
                get(self, "device.model").map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
            Claim::Mecer => {
                get(self, "input.voltage")?;
                let i = self
                    .find("ups.firmware.aux", 0)
                    .ok_or(QxError::Empty("ups.firmware.aux"))?;
                self.prev_cmd = "";
                let r = match self.query(i, None, io) {
                    // Refused with "(NAK": an (ACK/(NAK unit without QPI.
                    Err(QxError::Rejected(_)) => {
                        self.skip[i] = true;
                        Ok(())
                    }
                    Err(e) => Err(e),
                    Ok(()) => self.infoval(i).and_then(|s| match s {
                        Set::Value => Ok(()),
                        Set::Status => Err(QxError::Empty("ups.firmware.aux")),
                    }),
                };
                r.map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
        }
    }

    /// nutdrv_qx's blazer `initups`: options that skip items.
    fn initups(&mut self) {
        // q1 and voltronic-qs use the light variant: only `ignoresab`.
        let light = matches!(
            self.proto.name,
            "q1" | "voltronic-qs" | "voltronic-qs-hex" | "bestups"
        );
        for (i, it) in self.proto.items.iter().enumerate() {
            let c = it.command;
            if !light && self.opts.norating && c.eq_ignore_ascii_case("F\r") {
                self.skip[i] = true;
            }
            if !light
                && self.opts.novendor
                && (c.eq_ignore_ascii_case("I\r") || c.eq_ignore_ascii_case("FW?\r"))
            {
                self.skip[i] = true;
            }
            if self.opts.ignoresab && it.var == "ups.status" && it.from == 44 && it.to == 44 {
                self.skip[i] = true;
            }
        }
    }

    /// Send `cmd` (or the item's command) and check the answer; the value
    /// is then `self.value(i)`. Reuses the previous item's answer in a walk.
    fn query(&mut self, i: usize, cmd: Option<&str>, io: &mut dyn Link) -> Result<(), QxError> {
        let it = &self.proto.items[i];
        let reuse = cmd.is_none()
            && !self.prev_cmd.is_empty()
            && !self.prev.cstr().is_empty()
            && self.prev_cmd.eq_ignore_ascii_case(it.command);
        if reuse {
            let n = self.prev.cstr().len();
            self.cur.buf[..n].copy_from_slice(&self.prev.buf[..n]);
            self.cur.len = n;
        } else {
            let bytes = cmd.unwrap_or(it.command).as_bytes();
            self.cur.buf.fill(0);
            let r = io.command(bytes, &mut self.cur.buf[..ANSWER_CAP - 1]);
            match r {
                Ok(n) => {
                    self.cur.len = n.min(ANSWER_CAP - 1);
                    let ok = match it.answer {
                        PreAnswer::QsHex => qs_hex(&mut self.cur),
                        PreAnswer::BestupsId => bestups_id(&mut self.cur),
                        PreAnswer::None => true,
                    };
                    if self.cur.len > 0 && !ok {
                        let got = Snip::new(&self.cur.buf[..self.cur.len]);
                        self.cur.clear();
                        return Err(QxError::Protocol {
                            var: if it.answer == PreAnswer::QsHex {
                                "QS answer"
                            } else {
                                "ID answer"
                            },
                            value: got,
                        });
                    }
                }
                Err(e) => {
                    self.cur.clear();
                    if cmd.is_none() {
                        self.remember(it.command);
                    }
                    return Err(QxError::Link(it.command, e));
                }
            }
        }
        if cmd.is_none() {
            self.remember(it.command);
        }
        self.check(i)
    }

    fn remember(&mut self, cmd: &'static str) {
        let n = self.cur.cstr().len();
        self.prev.buf[..n].copy_from_slice(&self.cur.buf[..n]);
        self.prev.len = n;
        self.prev_cmd = cmd;
    }

    /// nutdrv_qx's answer checks: refusal, length, leading byte.
    fn check(&self, i: usize) -> Result<(), QxError> {
        let it = &self.proto.items[i];
        let a = self.cur.cstr();
        let rej = self.proto.rejected.as_bytes();
        if !rej.is_empty() && a.eq_ignore_ascii_case(rej) {
            return Err(QxError::Rejected(it.command));
        }
        if it.answer_len > 0 && self.cur.len < it.answer_len as usize {
            return Err(QxError::Short {
                cmd: it.command,
                got: self.cur.len,
                want: it.answer_len,
            });
        }
        if it.leading != 0 && self.cur.buf[0] != it.leading {
            return Err(QxError::Leading {
                cmd: it.command,
                got: self.cur.buf[0],
                want: it.leading,
            });
        }
        Ok(())
    }

    /// The item's field of the current answer.
    fn value(&self, i: usize) -> &[u8] {
        let it = &self.proto.items[i];
        let a = self.cur.cstr();
        let from = it.from as usize;
        if from >= a.len() {
            return &[];
        }
        let end = if it.to != 0 {
            (it.to as usize + 1).min(a.len())
        } else {
            a.iter().position(|&c| c == b'\r').unwrap_or(a.len())
        };
        if end < from {
            // A negative precision in NUT's printf: the rest of the string.
            return &a[from..];
        }
        &a[from..end]
    }

    /// nutdrv_qx's `ups_infoval_set`: turn the field into a NUT value,
    /// a status word or an alarm.
    fn infoval(&mut self, i: usize) -> Result<Set, QxError> {
        let it = &self.proto.items[i];
        let raw = self.value(i);
        let mut value = Text::new();
        match it.pre {
            Pre::StatusBits => {
                let c = match raw {
                    [c @ (b'0' | b'1'), ..] => *c == b'1',
                    _ => {
                        return Err(QxError::StatusChar {
                            pos: it.from,
                            value: lossy(raw),
                        })
                    }
                };
                let word = self.status_bit(it.from, c)?;
                if it.var.starts_with("ups.status") {
                    if !word.is_empty() {
                        self.update_status(word);
                    }
                    return Ok(Set::Status);
                }
                if it.var.starts_with("ups.alarm") {
                    if !word.is_empty() {
                        self.alarm_set(word);
                    }
                    return Ok(Set::Status);
                }
                let _ = value.push_str(word);
            }
            Pre::VoltronicQsProtocol | Pre::P98Protocol => {
                let (want, shown) = if it.pre == Pre::P98Protocol {
                    ("PI98", "Voltronic Power P98")
                } else {
                    ("V", "")
                };
                if !raw.eq_ignore_ascii_case(want.as_bytes()) {
                    return Err(QxError::Protocol {
                        var: it.var,
                        value: lossy(raw),
                    });
                }
                let v = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                let s = if shown.is_empty() { v.as_str() } else { shown };
                template(it.dfl, Some(s), None, &mut value)
                    .map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
            }
            Pre::QsHexProtocol => {
                let v = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                let t = v.as_str();
                if !t.eq_ignore_ascii_case("P") && !t.eq_ignore_ascii_case("T") {
                    return Err(QxError::Protocol {
                        var: it.var,
                        value: lossy(raw),
                    });
                }
                template(it.dfl, Some(t), None, &mut value)
                    .map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
                if t.eq_ignore_ascii_case("T") {
                    // 'T' units also give ratings and a quick test.
                    for (j, other) in self.proto.items.iter().enumerate() {
                        if matches!(
                            other.var,
                            "test.battery.start.quick"
                                | "output.frequency.nominal"
                                | "battery.voltage.nominal"
                                | "output.voltage.nominal"
                        ) {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsBbb => {
                let mut c = match raw {
                    [c @ (b'0' | b'1'), ..] => *c == b'1',
                    _ => {
                        return Err(QxError::StatusChar {
                            pos: it.from,
                            value: lossy(raw),
                        })
                    }
                };
                // Not reliable off line, during a test or a shutdown.
                if self.status & sb::OL == 0 || self.status & (sb::CAL | sb::FSD) != 0 {
                    c = false;
                } else if self.inverted_bbb {
                    c = !c;
                }
                let word = self.status_bit(it.from, c)?;
                if !word.is_empty() {
                    self.update_status(word);
                }
                return Ok(Set::Status);
            }
            Pre::BestupsMfr | Pre::BestupsModel => {
                let code = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                let c = code.as_str();
                let best = ["AX1", "FOR", "FTC", "PR2", "PRO"].contains(&c);
                if it.pre == Pre::BestupsMfr {
                    let m = if best {
                        "Best Power"
                    } else if ["325", "520", "620"].contains(&c) {
                        "Sola Australia"
                    } else {
                        "Unknown"
                    };
                    let _ = value.push_str(m);
                } else {
                    let _ = match c {
                        "AX1" => value.push_str("Axxium Rackmount"),
                        "FOR" => value.push_str("Fortress"),
                        "FTC" => value.push_str("Fortress Telecom"),
                        "PR2" => value.push_str("Patriot Pro II"),
                        "PRO" => value.push_str("Patriot Pro"),
                        "320" | "325" | "520" | "525" | "620" => {
                            value.set_fmt(format_args!("Sola {c}"))
                        }
                        // NUT prints a literal "Unknown (%s)" here (its
                        // format is "%s"): the code is what it meant.
                        _ => value.set_fmt(format_args!("Unknown ({c})")),
                    };
                    self.inverted_bbb = c == "PR2" || c == "PRO";
                    for (j, other) in self.proto.items.iter().enumerate() {
                        let runtime = other.var == "battery.runtime" && c != "PRO" && c != "320";
                        let packs = other.var == "battery.packs"
                            && !other.has(flag::SETVAR)
                            && (c == "AX1" || c == "620");
                        if runtime || packs {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsRuntime => {
                let text = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                if !raw.iter().all(|c| b"0123456789 .".contains(c)) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                format_value(it.dfl, strtod(text.as_str()) * 60.0, &mut value);
            }
            Pre::BestupsPacks | Pre::BestupsPins => {
                let digits: &[u8] = if it.pre == Pre::BestupsPacks {
                    b"0123456789 "
                } else {
                    b"0123456789"
                };
                if !raw.iter().all(|c| digits.contains(c)) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let text = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                let n = atol(text.as_str()).unwrap_or(0);
                let _ = value.set_fmt(format_args!("{n}"));
                if it.pre == Pre::BestupsPacks {
                    // The unit can set it too.
                    for (j, other) in self.proto.items.iter().enumerate() {
                        if other.var == "battery.packs" && other.has(flag::SETVAR) {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsVoltage => {
                if !raw.iter().all(u8::is_ascii_digit) || raw.is_empty() {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let text = ascii_text(raw).map_err(|_| QxError::Empty(it.var))?;
                let mut i = atol(text.as_str()).unwrap_or(-1);
                if !(0..=9).contains(&i) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let nominal = self
                    .store
                    .get("input.voltage.nominal")
                    .or_else(|| self.store.get("output.voltage.nominal"))
                    .ok_or(QxError::Empty("input.voltage.nominal"))?;
                if atol(nominal).unwrap_or(0) > 160 {
                    i += 10;
                }
                let row = BESTUPS_VOLTAGES[i as usize];
                let v = match it.var {
                    "input.transfer.low" | "input.transfer.boost.low" => row[0],
                    "input.transfer.boost.high" => row[1],
                    "input.voltage.nominal" | "output.voltage.nominal" => row[2],
                    "input.transfer.trim.low" => row[3],
                    _ => row[4],
                };
                let _ = value.set_fmt(format_args!("{v}"));
            }
            Pre::BestupsSetvar => return Err(QxError::Empty(it.var)),
            Pre::QsHexVoltage
            | Pre::QsHexLoad
            | Pre::QsHexFrequency
            | Pre::QsHexBatteryVoltage
            | Pre::QsHexRatings => {
                qs_hex_value(it, raw, &mut value)?;
            }
            Pre::None | Pre::BlazerCommand | Pre::BlazerSetvar | Pre::MecerTestBattery => {
                let mut t = raw;
                if it.has(flag::TRIM) {
                    while let [b' ' | b'#', rest @ ..] = t {
                        t = rest;
                    }
                    while let [rest @ .., b' ' | b'#'] = t {
                        t = rest;
                    }
                }
                let text =
                    ascii_text(t).map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
                if it.dfl.eq_ignore_ascii_case("%s") {
                    value = text;
                } else {
                    if !t.iter().all(|c| b"0123456789 .".contains(c)) {
                        return Err(QxError::NotNumeric {
                            var: it.var,
                            value: Snip::new(text.as_str().as_bytes()),
                        });
                    }
                    if !format_value(it.dfl, strtod(text.as_str()), &mut value) {
                        return Err(QxError::NotNumeric {
                            var: it.var,
                            value: Snip::new(text.as_str().as_bytes()),
                        });
                    }
                }
            }
        }
        if it.has(flag::NONUT) {
            return Ok(Set::Value);
        }
        if value.is_empty() {
            return Err(QxError::Empty(it.var));
        }
        self.store
            .set(it.var, value.as_str())
            .map_err(|e| QxError::Store(it.var, e))?;
        if it.var == "battery.charge" {
            self.batt.chrg = atol(value.as_str()).unwrap_or(0) as f64;
        }
        Ok(Set::Value)
    }

    /// nutdrv_qx's blazer status bits (positions 38 to 45 of Q1).
    fn status_bit(&self, pos: u8, one: bool) -> Result<&'static str, QxError> {
        Ok(match (pos, one) {
            (38, true) => "!OL",
            (38, false) => "OL",
            (39, true) => "LB",
            (39, false) => "!LB",
            (40, false) => "",
            (40, true) => {
                let get = |v: &str| self.store.get(v).map_or(0.0, strtod);
                let (vi, vo) = (get("input.voltage"), get("output.voltage"));
                if vo < 0.5 * vi || vo >= 1.5 * vi {
                    let t = |v: &str| Snip::new(self.store.get(v).unwrap_or("").as_bytes());
                    return Err(QxError::VoltageRatio {
                        input: t("input.voltage"),
                        output: t("output.voltage"),
                    });
                }
                if vo < 0.95 * vi {
                    "TRIM"
                } else if vo < 1.05 * vi {
                    "BYPASS"
                } else {
                    "BOOST"
                }
            }
            (41, true) => "UPS selftest failed!",
            (41, false) => "",
            (42, true) => "offline / line interactive",
            (42, false) => "online",
            (43, true) => "CAL",
            (43, false) => "!CAL",
            (44, true) => "FSD",
            (44, false) => "!FSD",
            (45, true) => "enabled",
            (45, false) => "disabled",
            _ => {
                return Err(QxError::StatusChar {
                    pos,
                    value: Snip::default(),
                })
            }
        })
    }

    fn update_status(&mut self, word: &str) {
        let (clear, w) = match word.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, word),
        };
        if let Some(&(_, bit)) = sb::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)) {
            if clear {
                self.status &= !bit;
            } else {
                self.status |= bit;
            }
        }
    }

    fn alarm_set(&mut self, text: &str) {
        // Overflow keeps what fits, as NUT's fixed buffer does.
        if !self.alarm.is_empty() {
            let _ = self.alarm.push_str(" ");
        }
        let _ = self.alarm.push_str(text);
    }

    /// Publish a server-side item's flags.
    fn set_var(&mut self, i: usize) {
        let it = &self.proto.items[i];
        if !it.has(flag::NONUT) {
            self.store
                .set_meta(it.var, if it.rw { st::RW } else { 0 }, 0, None);
        }
    }

    fn walk(&mut self, io: &mut dyn Link, mode: Walk, now: u64) -> Result<(), QxError> {
        if mode == Walk::Full {
            self.batt.chrg = -1.0;
            self.batt.runt = -1.0;
        }
        self.prev_cmd = "";
        self.prev.clear();
        for i in 0..self.proto.items.len() {
            if self.skip[i] {
                continue;
            }
            let it = &self.proto.items[i];
            match mode {
                Walk::Init => {
                    if it.has(flag::ABSENT) {
                        if !self.store.has(it.var) {
                            self.store
                                .set(it.var, it.dfl)
                                .map_err(|e| QxError::Store(it.var, e))?;
                            self.set_var(i);
                        }
                        continue;
                    }
                    let dup = it.var.starts_with("ups.alarm") || it.var.starts_with("ups.status");
                    if !dup && self.store.has(it.var) {
                        continue;
                    }
                }
                Walk::Quick => {
                    if !it.has(flag::QUICK_POLL) {
                        continue;
                    }
                }
                Walk::Full => {
                    if it.has(flag::ABSENT | flag::CMD | flag::SETVAR | flag::STATIC) {
                        continue;
                    }
                    if it.has(flag::SEMI_STATIC) && !self.changed {
                        continue;
                    }
                }
            }
            if it.has(flag::CMD) {
                if !self.cmds.contains(&it.var) {
                    self.cmds.push(it.var);
                }
                continue;
            }
            if it.has(flag::SETVAR) {
                continue;
            }
            let quick = it.has(flag::QUICK_POLL);
            if let Err(e) = self.query(i, None, io) {
                if quick || matches!(e, QxError::Link(_, LinkError::Gone)) {
                    return Err(e);
                }
                if mode == Walk::Init {
                    self.skip[i] = true;
                }
                self.last_error = Some(e);
                continue;
            }
            match self.infoval(i) {
                Err(e) if quick => return Err(e),
                Err(e) => self.last_error = Some(e),
                Ok(Set::Value) if mode == Walk::Init => self.set_var(i),
                Ok(_) => {}
            }
        }
        if mode == Walk::Full && (self.batt.runt == -1.0 || self.batt.chrg == -1.0) {
            if self.batt.runt_at.is_some() {
                self.estimate(now);
            } else {
                self.battery();
            }
        }
        Ok(())
    }

    /// nutdrv_qx's runtime estimate after a full walk: the remaining
    /// full-load runtime grows while on line (by the charge time) and
    /// shrinks on battery (by the effective load), is capped by what the
    /// battery voltage says, and gives `battery.charge` and
    /// `battery.runtime` where the unit gives none.
    fn estimate(&mut self, now: u64) {
        let Some(then) = self.batt.runt_at else {
            return;
        };
        let b = &mut self.batt;
        let secs = now.saturating_sub(then) as f64 / 1000.0;
        if self.status & sb::OL != 0 {
            b.runt_est = (b.runt_est + b.runt_nom * secs / b.chrg_time).min(b.runt_nom);
        } else {
            b.runt_est = (b.runt_est - b.load_eff * secs).max(0.0);
        }
        if let Some(v) = self.store.get("battery.voltage").map(strtod) {
            let act = b.packs * v;
            if act > 0.0 && b.low > 0.0 && b.high > b.low {
                let vbc = ((act - b.low) / (b.high - b.low)).clamp(0.0, 1.0);
                if vbc < b.runt_est / b.runt_nom {
                    b.runt_est = vbc * b.runt_nom;
                }
            }
        }
        let (est, nom, chrg, runt) = (b.runt_est, b.runt_nom, b.chrg, b.runt);
        let mut t = Text::new();
        if chrg == -1.0 {
            format_value("%.0f", 100.0 * est / nom, &mut t);
            let _ = self.store.set("battery.charge", t.as_str());
        }
        if runt == -1.0 && self.load() {
            t.clear();
            format_value("%.0f", est / self.batt.load_eff, &mut t);
            let _ = self.store.set("battery.runtime", t.as_str());
        }
        self.batt.runt_at = Some(now);
    }

    /// The effective load for the estimate, from `ups.load`.
    fn load(&mut self) -> bool {
        let Some(l) = self.store.get("ups.load").map(strtod) else {
            return false;
        };
        let b = &mut self.batt;
        b.load_eff = (l / 100.0).powf(b.runt_exp).max(b.load_low);
        true
    }

    /// The runtime estimate's set-up (end of nutdrv_qx's battery set-up).
    fn init_runtime(&mut self, now: u64) -> Result<(), QxError> {
        let Some(rc) = self.opts.runtimecal.clone() else {
            return Ok(());
        };
        let v: Vec<f64> = rc
            .split(',')
            .map(|x| crate::text::parse_f64(x.trim()).ok_or(()))
            .collect::<Result<_, _>>()
            .map_err(|_| QxError::Config("runtimecal", "four numbers expected: RH,LH,RL,LL"))?;
        let [rh, lh, rl, ll] = v[..] else {
            return Err(QxError::Config(
                "runtimecal",
                "four numbers expected: RH,LH,RL,LL",
            ));
        };
        if rl < rh || rh <= 0.0 {
            return Err(QxError::Config("runtimecal", "runtime out of range"));
        }
        if lh > 100.0 || ll > lh || ll <= 0.0 {
            return Err(QxError::Config("runtimecal", "load out of range"));
        }
        let b = &mut self.batt;
        b.runt_exp = (rl / rh).ln() / (lh / ll).ln();
        b.runt_nom = rh * (lh / 100.0).powf(b.runt_exp);
        if !self.store.has("battery.charge") && b.nom != -1.0 {
            b.low = b.nom;
            b.high = 1.15 * b.nom;
            b.chrg = -1.0;
            if !self.battery() {
                return Err(QxError::Config(
                    "runtimecal",
                    "initial battery charge undetermined",
                ));
            }
        }
        let charge = self
            .store
            .get("battery.charge")
            .map(strtod)
            .ok_or(QxError::Config(
                "runtimecal",
                "initial battery charge undetermined",
            ))?;
        self.batt.runt_est = self.batt.runt_nom * charge / 100.0;
        if let Some(c) = &self.opts.chargetime {
            let c = atol(c).unwrap_or(0);
            if c <= 0 {
                return Err(QxError::Config("chargetime", "out of range [1..s]"));
            }
            self.batt.chrg_time = c as f64;
        }
        if let Some(l) = &self.opts.idleload {
            let l = strtod(l) / 100.0;
            if l <= 0.0 || l > 1.0 {
                return Err(QxError::Config("idleload", "out of range [0..100]"));
            }
            self.batt.load_low = l;
        }
        self.batt.runt_at = Some(now);
        Ok(())
    }

    /// Battery charge from the battery voltage, once per full walk.
    fn battery(&mut self) -> bool {
        let Some(v) = self.store.get("battery.voltage") else {
            return false;
        };
        let act = self.batt.packs * strtod(v);
        let b = self.batt;
        if b.chrg == -1.0 && b.low > 0.0 && b.high > b.low {
            let c = (100.0 * (act - b.low) / (b.high - b.low)).clamp(0.0, 100.0);
            self.batt.chrg = c;
            let mut t = Text::new();
            format_value("%.0f", c, &mut t);
            let _ = self.store.set("battery.charge", t.as_str());
        }
        true
    }

    /// nutdrv_qx's battery set-up: guessed low and high voltages and the
    /// number of battery packs, from the nominal voltage.
    /// False when the unit gives both charge and runtime (nothing to do).
    fn init_battery(&mut self) -> bool {
        if self.store.has("battery.charge") && self.store.has("battery.runtime") {
            return false;
        }
        let num = |qx: &Qx, v: &str| qx.store.get(v).map(strtod);
        if let Some(h) = num(self, "battery.voltage.high") {
            self.batt.high = h;
        }
        if let Some(l) = num(self, "battery.voltage.low") {
            self.batt.low = l;
        }
        if let Some(n) = num(self, "battery.voltage.nominal") {
            self.batt.nom = n;
        }
        let nom = self.batt.nom;
        if nom != -1.0 && (self.batt.low == -1.0 || self.batt.high == -1.0) {
            self.batt.low = 104.0 * nom / 120.0;
            self.batt.high = 130.0 * nom / 120.0;
            for (var, v) in [
                ("battery.voltage.low", self.batt.low),
                ("battery.voltage.high", self.batt.high),
            ] {
                let mut t = Text::new();
                format_value("%.2f", v, &mut t);
                let _ = self.store.set(var, t.as_str());
            }
        }
        let packs = self
            .store
            .get("battery.packs")
            .filter(|v| v.bytes().all(|c| b"0123456789 .".contains(&c)))
            .map(strtod);
        if let Some(p) = packs {
            self.batt.packs = p;
        } else if self.battery() && nom != -1.0 {
            let act = self.store.get("battery.voltage").map_or(0.0, strtod);
            const PACKS: [f64; 17] = [
                120.0, 100.0, 80.0, 60.0, 48.0, 36.0, 30.0, 24.0, 18.0, 12.0, 8.0, 6.0, 4.0, 3.0,
                2.0, 1.0, 0.5,
            ];
            for p in PACKS {
                if p * act > 1.2 * nom {
                    continue;
                }
                if p * act >= 0.8 * nom {
                    self.batt.packs = p;
                }
                break;
            }
        }
        self.battery();
        true
    }

    /// First read of everything (nutdrv_qx's `initinfo`) and the first
    /// poll after it.
    pub fn init(&mut self, io: &mut dyn Link, now: u64) -> Result<(), QxError> {
        self.walk(io, Walk::Init, now)?;
        if self.init_battery() {
            self.init_runtime(now)?;
        }
        for (var, opt) in [
            ("ups.delay.start", self.opts.ondelay.clone()),
            ("ups.delay.shutdown", self.opts.offdelay.clone()),
        ] {
            if let (true, Some(v)) = (self.store.has(var), opt) {
                if self.setvar(var, &v, io).is_err() {
                    return Err(QxError::NotNumeric {
                        var: if var == "ups.delay.start" {
                            "ondelay"
                        } else {
                            "offdelay"
                        },
                        value: Snip::new(v.as_bytes()),
                    });
                }
            }
        }
        self.last_full = now;
        self.update(io, now)
    }

    /// One poll (nutdrv_qx's `updateinfo`): a full walk every `pollfreq`
    /// or after a command, else the quick status walk. On failure the
    /// previous values stay; [`Qx::stale`] says when to stop trusting them.
    pub fn update(&mut self, io: &mut dyn Link, now: u64) -> Result<(), QxError> {
        let full = now > self.last_full + self.opts.pollfreq_ms || self.changed;
        if full {
            self.status = 0;
            self.alarm.clear();
            self.alarm_active = false;
            if let Err(e) = self.walk(io, Walk::Full, now) {
                self.failures += 1;
                return Err(e);
            }
            self.last_full = now;
            self.changed = false;
            if self.status & sb::RB != 0 {
                self.alarm_set("Replace battery!");
            }
            if self.status & sb::FSD != 0 {
                self.alarm_set("Shutdown imminent!");
            }
            if self.alarm.is_empty() {
                self.store.delete("ups.alarm");
                self.alarm_active = false;
            } else {
                let a = self.alarm;
                let _ = self.store.set("ups.alarm", a.as_str());
                self.alarm_active = true;
            }
        } else if let Err(e) = self.walk(io, Walk::Quick, now) {
            self.failures += 1;
            return Err(e);
        }
        let mut t = Text::new();
        if self.alarm_active {
            let _ = t.push_str("ALARM ");
        }
        let _ = t.push_str(if self.status & sb::OL != 0 {
            "OL"
        } else {
            "OB"
        });
        for (w, bit) in sb::PUBLISHED {
            if self.status & bit != 0 {
                let _ = t.push_str(" ");
                let _ = t.push_str(w);
            }
        }
        self.store
            .set("ups.status", t.as_str())
            .map_err(|e| QxError::Store("ups.status", e))?;
        self.failures = 0;
        Ok(())
    }

    /// When the next poll is due after one at `now` (NUT's driver polls
    /// every 2 s; the walk itself decides full or quick).
    pub fn next_full(&self) -> u64 {
        self.last_full + self.opts.pollfreq_ms
    }

    /// Five polls in a row failed: the data is stale (nutdrv_qx).
    pub fn stale(&self) -> bool {
        self.failures >= STALE_AFTER
    }

    /// Ranges of writable variables, for `LIST RANGE`.
    pub fn ranges(&self) -> impl Iterator<Item = (&'static str, i64, i64)> + '_ {
        self.proto
            .items
            .iter()
            .enumerate()
            // As nutdrv_qx publishes them: a read item's, or a
            // server-side one's (a SET rule's own range only checks).
            .filter(|(i, it)| {
                it.has(flag::RANGE)
                    && (!it.has(flag::SETVAR) || it.has(flag::ABSENT))
                    && !self.skip[*i]
                    && self.store.has(it.var)
            })
            .flat_map(|(_, it)| it.ranges.iter().map(|&(a, b)| (it.var, a, b)))
    }

    /// Send the command's bytes; on success `self.cur` holds the answer.
    fn send(&mut self, i: usize, cmd: &str, io: &mut dyn Link) -> Result<(), CmdError> {
        let it = &self.proto.items[i];
        self.query(i, Some(cmd), io).map_err(CmdError::Failed)?;
        let v = self.value(i);
        let accepted = self.proto.accepted.as_bytes();
        if !v.is_empty() && (accepted.is_empty() || !v.eq_ignore_ascii_case(accepted)) {
            return Err(CmdError::Refused(lossy(v)));
        }
        let _ = it;
        self.changed = true;
        Ok(())
    }

    /// Run an instant command (`extra`: INSTCMD's value, e.g. a battery
    /// test's seconds).
    pub fn instcmd(
        &mut self,
        name: &str,
        extra: Option<&str>,
        io: &mut dyn Link,
    ) -> Result<(), CmdError> {
        let i = self.find(name, flag::CMD).ok_or(CmdError::Unknown)?;
        let it = self.proto.items[i];
        let value = extra.unwrap_or(it.dfl);
        let mut cmd = Text::new();
        match it.pre {
            Pre::BlazerCommand => self.blazer_command(&it, value, &mut cmd)?,
            Pre::MecerTestBattery => self.mecer_test(&it, value, &mut cmd)?,
            _ => cmd
                .push_str(it.command)
                .map_err(|_| CmdError::BadValue("command too long"))?,
        }
        self.send(i, cmd.as_str(), io)
    }

    /// nutdrv_qx's delay encoding of Megatec shutdown and test commands:
    /// `Sn` with n in minutes (`.2`..`.9` for tenths below one), `Rmmmm`
    /// minutes until the load comes back, `Tnn` minutes of test.
    fn blazer_command(&self, it: &Item, value: &str, out: &mut Text) -> Result<(), CmdError> {
        let delay = |v: &str| self.store.get(v).and_then(atol).unwrap_or(0);
        let neg = CmdError::BadValue("ups.delay.shutdown is negative");
        let mut buf = Text::new();
        let short = |t: &mut Text, off: i64| {
            if off < 60 {
                write!(t, ".{}", off / 6)
            } else {
                write!(t, "{:02}", off / 60)
            }
        };
        match it.var {
            "shutdown.return" => {
                let off = delay("ups.delay.shutdown");
                let on = delay("ups.delay.start") / 60;
                if off < 0 {
                    return Err(neg);
                }
                let r = if on <= 0 {
                    short(&mut buf, off)
                } else if off < 60 {
                    write!(buf, ".{}R{:04}", off / 6, on)
                } else {
                    write!(buf, "{:02}R{:04}", off / 60, on)
                };
                r.map_err(|_| CmdError::BadValue("delay too long"))?;
                template(it.command, Some(buf.as_str()), None, out)
            }
            "shutdown.stayoff" => {
                let off = delay("ups.delay.shutdown");
                if off < 0 {
                    return Err(neg);
                }
                short(&mut buf, off).map_err(|_| CmdError::BadValue("delay too long"))?;
                template(it.command, Some(buf.as_str()), None, out)
            }
            "test.battery.start" => {
                let d = if value.is_empty() {
                    600
                } else {
                    atol(value).unwrap_or(0)
                };
                if !(60..=5940).contains(&d) {
                    return Err(CmdError::BadValue(
                        "battery test time out of range [60..5940] seconds",
                    ));
                }
                template(it.command, None, Some(d / 60), out)
            }
            _ => Err(CmdError::Unknown),
        }
    }

    fn mecer_test(&self, it: &Item, value: &str, out: &mut Text) -> Result<(), CmdError> {
        let p98 = self
            .store
            .get("ups.firmware.aux")
            .is_some_and(|p| p.eq_ignore_ascii_case("Voltronic Power P98"));
        let min = if p98 { 12 } else { 60 };
        if !value.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CmdError::BadValue("battery test time is not a number"));
        }
        let t = if value.is_empty() {
            600
        } else {
            atol(value).unwrap_or(0)
        };
        if t < min || t > 5940 {
            return Err(CmdError::BadValue("battery test time out of range"));
        }
        let mut buf = Text::new();
        let _ = if t < 60 {
            write!(buf, ".{}", t / 6)
        } else {
            write!(buf, "{:02}", t / 60)
        };
        template(it.command, Some(buf.as_str()), None, out)
    }

    /// SET VAR: check the value against the item's range, bring it to a
    /// settable step and store it (the delays are server-side values).
    pub fn setvar(&mut self, name: &str, val: &str, io: &mut dyn Link) -> Result<(), CmdError> {
        let i = self.find(name, flag::SETVAR).ok_or(CmdError::Unknown)?;
        let it = self.proto.items[i];
        if val.is_empty() {
            return Err(CmdError::BadValue("no value given"));
        }
        if self
            .store
            .get(it.var)
            .is_some_and(|v| v.eq_ignore_ascii_case(val))
        {
            return Ok(());
        }
        if it.has(flag::RANGE) {
            if !val.bytes().all(|c| b"0123456789 .".contains(&c)) {
                return Err(CmdError::BadValue("not a number"));
            }
            let v = atol(val).unwrap_or(0);
            if !it.ranges.iter().any(|&(lo, hi)| lo <= v && v <= hi) {
                return Err(CmdError::BadValue("value out of range"));
            }
        }
        let mut value = Text::try_new(val).ok_or(CmdError::BadValue("value too long"))?;
        if it.pre == Pre::BlazerSetvar {
            let mut n = atol(val).unwrap_or(0);
            if n < 0 {
                return Err(CmdError::BadValue("delay is negative"));
            }
            if it.var == "ups.delay.start" {
                n -= n % 60;
            } else if n < 60 {
                n -= n % 6;
            } else {
                n -= n % 60;
            }
            let _ = value.set_fmt(format_args!("{n}"));
        }
        if it.has(flag::ABSENT) {
            return self
                .store
                .set(it.var, value.as_str())
                .map(|_| ())
                .map_err(|e| CmdError::Failed(QxError::Store(it.var, e)));
        }
        let mut c = Text::new();
        if it.pre == Pre::BestupsSetvar {
            // `BP%.0f\r`: the value as a whole number.
            let at = it.command.find("%.0f").ok_or(CmdError::Unknown)?;
            let v = strtod(value.as_str());
            c.set_fmt(format_args!(
                "{}{:.0}{}",
                &it.command[..at],
                v,
                &it.command[at + 4..]
            ))
            .map_err(|_| CmdError::BadValue("value too long"))?;
        } else {
            let cmd = if it.pre == Pre::None {
                it.command
            } else {
                value.as_str()
            };
            c.push_str(cmd)
                .map_err(|_| CmdError::BadValue("value too long"))?;
        }
        self.send(i, c.as_str(), io)
    }

    /// nutdrv_qx's `shutdown`: delays from the options, a pending
    /// shutdown cancelled, then `shutdown.return` (or `shutdown.stayoff`)
    /// tried up to three times.
    pub fn shutdown(&mut self, io: &mut dyn Link) -> Result<(), CmdError> {
        for (var, opt) in [
            ("ups.delay.start", self.opts.ondelay.clone()),
            ("ups.delay.shutdown", self.opts.offdelay.clone()),
        ] {
            let i = self.find(var, 0).ok_or(CmdError::Unknown)?;
            let dfl = self.proto.items[i].dfl;
            self.store
                .set(var, dfl)
                .map_err(|e| CmdError::Failed(QxError::Store(var, e)))?;
            self.set_var(i);
            if let Some(v) = opt {
                self.setvar(var, &v, io)?;
            }
        }
        if self.find("shutdown.stop", flag::CMD).is_some() {
            for _ in 0..MAXTRIES {
                if self.instcmd("shutdown.stop", None, io).is_ok() {
                    break;
                }
            }
        }
        let cmd = if self.opts.stayoff {
            "shutdown.stayoff"
        } else {
            "shutdown.return"
        };
        let mut last = CmdError::Unknown;
        for _ in 0..MAXTRIES {
            match self.instcmd(cmd, None, io) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::tables::SAMPLES;

    /// A unit answering from NUT's `testing` table of one protocol; other
    /// commands get no answer (as a Megatec unit) or an echo (as some
    /// bridges do).
    struct Unit {
        proto: &'static str,
        echo: bool,
        sent: Vec<String>,
        /// Replaces the table's answer to a command.
        over: Vec<(&'static str, Vec<u8>)>,
        gone: bool,
    }

    impl Unit {
        fn new(proto: &'static str) -> Unit {
            Unit {
                proto,
                echo: false,
                sent: vec![],
                over: vec![],
                gone: false,
            }
        }
    }

    impl Link for Unit {
        fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError> {
            if self.gone {
                return Err(LinkError::Gone);
            }
            let c = String::from_utf8_lossy(cmd).to_string();
            self.sent.push(c.clone());
            let a: Vec<u8> = if let Some((_, a)) = self.over.iter().find(|(k, _)| *k == c) {
                a.clone()
            } else if let Some((_, _, a)) =
                SAMPLES.iter().find(|(p, k, _)| *p == self.proto && *k == c)
            {
                a.to_vec()
            } else if self.echo {
                cmd.to_vec()
            } else {
                vec![]
            };
            let n = a.len().min(answer.len());
            answer[..n].copy_from_slice(&a[..n]);
            Ok(n)
        }
    }

    fn started(proto: &'static str) -> (Qx, Unit) {
        let mut u = Unit::new(proto);
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).expect("probe");
        qx.init(&mut u, 1000).expect("init");
        (qx, u)
    }

    #[test]
    fn probe_picks_the_protocol_nut_picks_for_each_sample_unit() {
        for (unit, want) in [
            ("megatec", "megatec"),
            ("megatec/old", "megatec/old"),
            ("mustek", "mustek"),
            ("voltronic-qs", "voltronic-qs"),
            ("mecer", "mecer"),
            ("q1", "q1"),
            ("zinto", "zinto"),
            // Hunnox units answer as zinto ones, which come first in
            // nutdrv_qx's order: NUT picks zinto too unless told.
            ("hunnox", "zinto"),
        ] {
            let mut u = Unit::new(unit);
            let qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
            assert_eq!(qx.proto.name, want, "unit {unit}, sent {:?}", u.sent);
        }
        let mut u = Unit::new("hunnox");
        let opts = QxOptions {
            protocol: Some("Hunnox".into()),
            ..Default::default()
        };
        assert_eq!(Qx::probe(&mut u, &opts).unwrap().proto.name, "hunnox");
        assert_eq!(u.sent, ["Q1\r", "FW?\r"]);
        // A bridge echoing unknown commands is not taken for an answer.
        let mut u = Unit::new("megatec");
        u.echo = true;
        assert_eq!(
            Qx::probe(&mut u, &QxOptions::default()).unwrap().proto.name,
            "megatec"
        );
        let mut u = Unit::new("none");
        assert!(matches!(
            Qx::probe(&mut u, &QxOptions::default()),
            Err(ProbeError::NoProtocol(Some(_)))
        ));
        let opts = QxOptions {
            protocol: Some("blazer".into()),
            ..Default::default()
        };
        assert_eq!(
            Qx::probe(&mut u, &opts).err(),
            Some(ProbeError::UnknownProtocol("blazer".into()))
        );
    }

    #[test]
    fn megatec_sample_publishes_what_nutdrv_qx_publishes() {
        let (qx, u) = started("megatec");
        let mut got: Vec<(String, String)> = qx
            .store
            .iter()
            .map(|v| (v.name.to_string(), v.value.to_string()))
            .collect();
        got.sort();
        let want = [
            ("battery.charge", "37"),
            ("battery.voltage", "22.70"),
            ("battery.voltage.high", "26.00"),
            ("battery.voltage.low", "20.80"),
            ("battery.voltage.nominal", "24.0"),
            ("device.mfr", "NOT_A_LIVE_UPS"),
            ("device.model", "TESTING"),
            ("device.type", "ups"),
            ("input.current.nominal", "0.0"),
            ("input.frequency", "49.0"),
            ("input.frequency.nominal", "50"),
            ("input.voltage", "215.0"),
            ("input.voltage.fault", "195.0"),
            ("input.voltage.nominal", "230"),
            ("output.voltage", "230.0"),
            ("ups.beeper.status", "disabled"),
            ("ups.delay.shutdown", "30"),
            ("ups.delay.start", "180"),
            ("ups.firmware", "TESTING"),
            ("ups.load", "14"),
            ("ups.status", "OL"),
            ("ups.temperature", "30.0"),
            ("ups.type", "online"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(qx.store.is_rw("ups.delay.start") && !qx.store.is_rw("ups.load"));
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 0, 599940),
                ("ups.delay.shutdown", 12, 600)
            ]
        );
        assert_eq!(qx.cmds.len(), 10);
        // Probing sends what other protocols ask first (M twice, QS, D,
        // Q1 and ID, Q1 and QPI),
        // the claim Q1 and I; the first walk reads Q1, F and I once each
        // (items of one command share its answer); then the first poll.
        assert_eq!(
            u.sent,
            [
                "M\r", "M\r", "QS\r", "D\r", "Q1\r", "ID\r", "Q1\r", "QPI\r", "Q1\r", "I\r",
                "Q1\r", "F\r", "I\r", "Q1\r"
            ]
        );
    }

    #[test]
    fn other_samples_publish_their_protocol_fields() {
        let (qx, _) = started("voltronic-qs");
        assert_eq!(qx.store.get("ups.firmware.aux"), Some("PM-V"));
        assert_eq!(qx.store.get("output.frequency"), Some("49.0"));
        assert_eq!(qx.store.get("output.voltage.nominal"), Some("220"));
        assert_eq!(qx.store.get("battery.voltage.nominal"), Some("12.0"));
        // 22.7 V on a 12 V nominal battery: two packs in series? No: NUT's
        // pack guess only divides, so 22.7 V > 1.2 * 12 keeps looking
        // down to 0.5 packs.
        assert_eq!(qx.store.get("battery.voltage.low"), Some("10.40"));
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 60, 599940),
                ("ups.delay.shutdown", 12, 540)
            ]
        );
        let (qx, _) = started("mecer");
        assert_eq!(
            qx.store.get("ups.firmware.aux"),
            Some("Voltronic Power P98")
        );
        let (qx, _) = started("q1");
        assert_eq!(qx.store.get("input.voltage"), Some("215.0"));
        assert!(!qx.store.has("device.mfr"));
    }

    #[test]
    fn voltronic_qs_hex_refines_its_binary_answer() {
        let (mut qx, mut u) = started("voltronic-qs-hex");
        assert_eq!(qx.proto.name, "voltronic-qs-hex");
        let mut got: Vec<(String, String)> = qx
            .store
            .iter()
            .map(|v| (v.name.to_string(), v.value.to_string()))
            .collect();
        got.sort();
        let want = [
            ("battery.voltage", "13.53"),
            ("device.type", "ups"),
            ("input.voltage", "112.2"),
            ("output.frequency", "59.8"),
            ("output.voltage", "112.2"),
            ("ups.beeper.status", "enabled"),
            ("ups.delay.shutdown", "30"),
            ("ups.delay.start", "180"),
            ("ups.firmware.aux", "PM-P"),
            ("ups.load", "3"),
            ("ups.status", "OL"),
            ("ups.type", "offline / line interactive"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(qx.cmds.len(), 6, "no quick test on a 'P' unit");
        // "N\r" is the refusal.
        assert!(matches!(
            qx.instcmd("shutdown.stayoff", None, &mut u),
            Err(CmdError::Failed(QxError::Rejected(_)))
        ));
        // A 'T' unit: an eleventh token with the rating bits (50 Hz, 12 V,
        // 230 V), and the quick test.
        let mut u = Unit::new("voltronic-qs-hex");
        u.over.push(("M\r", b"T\r".to_vec()));
        let mut qs = SAMPLES
            .iter()
            .find(|(p, c, _)| *p == "voltronic-qs-hex" && *c == "QS\r")
            .unwrap()
            .2
            .to_vec();
        qs.pop();
        qs.extend_from_slice(b" \x0b\r");
        u.over.push(("QS\r", qs));
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
        qx.init(&mut u, 0).unwrap();
        for (k, v) in [
            ("ups.firmware.aux", "PM-T"),
            ("output.frequency.nominal", "50.0"),
            ("battery.voltage.nominal", "12.0"),
            ("output.voltage.nominal", "230.0"),
            ("battery.voltage.low", "10.40"),
            ("battery.charge", "100"),
        ] {
            assert_eq!(qx.store.get(k), Some(v), "{k}");
        }
        assert!(qx.cmds.contains(&"test.battery.start.quick"));
        // Escapes: "(" then 0 to 4 stand for CR, XON, XOFF, LF, space.
        let mut a = Answer::new();
        let raw =
            b"#\x28\x00\x01 \x35 \x6C\x01 \x35 \x03 \x51\x9A \x28\x04\x12\xD0 \xE6 \x1E \x09\r";
        a.buf[..raw.len()].copy_from_slice(raw);
        a.len = raw.len();
        assert!(qs_hex(&mut a));
        assert_eq!(
            &a.buf[..a.len],
            b"#0d01 35 6c01 35 03 519a 2012d0 e6 1e 00001001\r"
        );
        // An escaped status byte comes out as hex, too short: refused (NUT).
        let raw = b"#\x6C\x01 \x35 \x6C\x01 \x35 \x03 \x51\x9A \x12\xD0 \xE6 \x1E \x28\x03\r";
        a.buf[..raw.len()].copy_from_slice(raw);
        a.len = raw.len();
        assert!(!qs_hex(&mut a));
        // Too few tokens: refused, named.
        u.over = vec![("QS\r", b"#\x6C\x01 \x35\r".to_vec())];
        assert!(matches!(
            qx.update(&mut u, 1),
            Err(QxError::Protocol { .. })
        ));
    }

    #[test]
    fn status_bits_alarms_and_the_full_poll() {
        let (mut qx, mut u) = started("megatec");
        // On battery, low, self-test failed, test running, shutdown active.
        u.over.push((
            "Q1\r",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 11011110\r".to_vec(),
        ));
        qx.update(&mut u, 3000).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OB LB CAL FSD"));
        assert!(!qx.store.has("ups.alarm"), "alarms wait for the full poll");
        assert_eq!(qx.store.get("ups.type"), Some("online"), "static");
        qx.update(&mut u, 32_000).unwrap();
        assert_eq!(
            qx.store.get("ups.alarm"),
            Some("UPS selftest failed! Shutdown imminent!")
        );
        assert_eq!(qx.store.get("ups.status"), Some("ALARM OB LB CAL FSD"));
        assert_eq!(qx.store.get("ups.beeper.status"), Some("disabled"));
        // Bypass/boost/buck by the output/input ratio.
        // (A quick poll reads the status only, so the ratio uses the
        // voltages of the last full poll, and the word stays until the next.)
        for (n, (out, word)) in ["230.0", "215.0", "200.0"]
            .iter()
            .zip(["BOOST", "BYPASS", "TRIM"])
            .enumerate()
        {
            let a = format!("(215.0 195.0 {out} 014 49.0 22.7 30.0 00100001\r");
            u.over = vec![("Q1\r", a.into_bytes())];
            qx.update(&mut u, 70_000 + 40_000 * n as u64).unwrap();
            assert_eq!(
                qx.store.get("ups.status"),
                Some(format!("OL {word}").as_str())
            );
            assert_eq!(qx.store.get("ups.beeper.status"), Some("enabled"));
            assert!(!qx.store.has("ups.alarm"));
        }
        // Output at twice the input: NUT fails the poll.
        u.over = vec![(
            "Q1\r",
            b"(115.0 195.0 230.0 014 49.0 22.7 30.0 00100000\r".to_vec(),
        )];
        assert!(matches!(
            qx.update(&mut u, 200_000),
            Err(QxError::VoltageRatio { .. })
        ));
    }

    #[test]
    fn malformed_answers_are_named_errors_and_stale_after_five() {
        let (mut qx, mut u) = started("megatec");
        let cases: [(&[u8], &str); 5] = [
            (
                b"(215.0 195.0\r",
                "Q1: answer of 13 bytes, at least 47 expected",
            ),
            (
                b"#215.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r",
                "Q1: answer starts with 0x23, '(' expected",
            ),
            (
                b"(215.0 195.0 230.0 014 49.0 22.7 30.0 0x000000\r",
                "status bit 39: 'x' is neither 0 nor 1",
            ),
            (b"", "Q1: answer of 0 bytes, at least 47 expected"),
            (
                b"(215.0 195.0 230.0 014 49.0 22.7 30.0 000\x00\x00\x00\x00\x00\r",
                "Q1: answer of 41 bytes, at least 47 expected",
            ),
        ];
        for (n, (a, msg)) in cases.iter().enumerate() {
            u.over = vec![("Q1\r", a.to_vec())];
            let e = qx.update(&mut u, 2000 + n as u64).unwrap_err();
            assert_eq!(e.to_string(), *msg);
            assert_eq!(qx.stale(), n == 4);
        }
        // A bad number in a non-status field is skipped, the poll goes on.
        u.over = vec![(
            "Q1\r",
            b"(2x5.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r".to_vec(),
        )];
        qx.update(&mut u, 3000).unwrap();
        assert!(!qx.stale());
        qx.update(&mut u, 40_000).unwrap();
        assert_eq!(
            qx.last_error.map(|e| e.to_string()),
            Some("input.voltage: '2x5.0' is not a number".into())
        );
        assert_eq!(
            qx.store.get("input.voltage"),
            Some("215.0"),
            "old value kept"
        );
        u.gone = true;
        assert_eq!(
            qx.update(&mut u, 41_000),
            Err(QxError::Link("Q1\r", LinkError::Gone))
        );
    }

    #[test]
    fn random_answers_never_panic() {
        let mut seed = 0x1234_5678_u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for p in PROTOCOLS.iter() {
            let mut u = Unit::new("none");
            let mut qx = Qx::new(p, QxOptions::default());
            for round in 0..300u64 {
                let len = (rnd() % 60) as usize;
                let mut a: Vec<u8> = (0..len)
                    .map(|_| b"(#01. 9\rx\0"[(rnd() % 10) as usize])
                    .collect();
                if round % 3 == 0 && !a.is_empty() {
                    a[0] = b'(';
                }
                u.over = p.items.iter().map(|it| (it.command, a.clone())).collect();
                let _ = qx.init(&mut u, round * 40_000);
                let _ = qx.update(&mut u, round * 40_000 + 1);
                let _ = qx.instcmd("shutdown.return", None, &mut u);
            }
        }
    }

    #[test]
    fn commands_use_nuts_delay_encoding() {
        let (mut qx, mut u) = started("megatec");
        u.sent.clear();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        qx.instcmd("shutdown.stayoff", None, &mut u).unwrap();
        qx.instcmd("test.battery.start", Some("120"), &mut u)
            .unwrap();
        qx.instcmd("test.battery.start", None, &mut u).unwrap();
        qx.instcmd("beeper.toggle", None, &mut u).unwrap();
        qx.setvar("ups.delay.shutdown", "125", &mut u).unwrap();
        assert_eq!(qx.store.get("ups.delay.shutdown"), Some("120"));
        qx.setvar("ups.delay.start", "0", &mut u).unwrap();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        qx.setvar("ups.delay.shutdown", "40", &mut u).unwrap();
        qx.setvar("ups.delay.start", "61", &mut u).unwrap();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        assert_eq!(
            u.sent,
            [
                "S.5R0003\r",
                "S.5R0000\r",
                "T02\r",
                "T10\r",
                "Q\r",
                "S02\r",
                "S.6R0001\r"
            ]
        );
        assert_eq!(qx.store.get("ups.delay.start"), Some("60"));
        assert_eq!(
            qx.setvar("ups.delay.shutdown", "601", &mut u),
            Err(CmdError::BadValue("value out of range"))
        );
        assert_eq!(
            qx.setvar("ups.delay.shutdown", "-5", &mut u),
            Err(CmdError::BadValue("not a number"))
        );
        assert!(qx
            .instcmd("test.battery.start", Some("30"), &mut u)
            .is_err());
        assert_eq!(
            qx.instcmd("outlet.1.off", None, &mut u),
            Err(CmdError::Unknown)
        );
        // A bridge echoing the command back: refused.
        u.echo = true;
        assert_eq!(
            qx.instcmd("load.off", None, &mut u),
            Err(CmdError::Refused(Snip::new(b"S00R0000")))
        );
        // A command changes data: the next poll is a full one.
        u.echo = false;
        u.sent.clear();
        qx.instcmd("beeper.toggle", None, &mut u).unwrap();
        qx.update(&mut u, 2000).unwrap();
        assert!(!qx.changed);
    }

    #[test]
    fn mecer_commands_need_ack() {
        let (mut qx, mut u) = started("mecer");
        assert_eq!(qx.instcmd("beeper.toggle", None, &mut u), Ok(()));
        assert!(matches!(
            qx.instcmd("load.on", None, &mut u),
            Err(CmdError::Failed(QxError::Rejected(_)))
        ));
        // P98 units take tests from 12 s, in tenths of minutes.
        u.sent.clear();
        let _ = qx.instcmd("test.battery.start", Some("18"), &mut u);
        assert_eq!(u.sent, ["T.3\r"]);
    }

    #[test]
    fn killpower_sequence() {
        let (mut qx, mut u) = started("megatec");
        qx.opts.offdelay = Some("90".into());
        u.sent.clear();
        qx.shutdown(&mut u).unwrap();
        assert_eq!(u.sent, ["C\r", "S01R0003\r"]);
        qx.opts.stayoff = true;
        u.sent.clear();
        qx.shutdown(&mut u).unwrap();
        assert_eq!(u.sent, ["C\r", "S01R0000\r"]);
        // The shutdown echoed back every time: three tries, then the refusal.
        u.echo = true;
        u.sent.clear();
        assert!(matches!(qx.shutdown(&mut u), Err(CmdError::Refused(_))));
        assert_eq!(u.sent, ["C\r", "S01R0000\r", "S01R0000\r", "S01R0000\r"]);
    }

    #[test]
    fn bestups_sample_publishes_what_nutdrv_qx_publishes() {
        let (mut qx, mut u) = started("bestups");
        assert_eq!(qx.proto.name, "bestups");
        for (k, v) in [
            ("device.mfr", "Best Power"),
            ("device.model", "Fortress"),
            ("ups.power.nominal", "750"),
            ("input.voltage.nominal", "120"),
            ("battery.voltage.low", "20.0"),
            ("battery.voltage.high", "27.6"),
            ("battery.runtime", "900"),
            ("battery.charge", "36"),
            ("input.transfer.low", "96"),
            ("input.transfer.boost.high", "109"),
            ("input.transfer.trim.low", "130"),
            ("input.transfer.high", "146"),
            ("ups.status", "OL BOOST"),
            ("ups.type", "online"),
        ] {
            assert_eq!(qx.store.get(k), Some(v), "{k}");
        }
        assert!(!qx.store.has("battery.packs"), "Fortress units have no BP?");
        assert!(!qx.store.has("pins_shutdown_mode"), "not a NUT variable");
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 60, 599940),
                ("ups.delay.shutdown", 12, 5940)
            ]
        );
        // Off line the bypass/boost/buck bit is ignored.
        u.over.push((
            "Q1\r",
            b"(000.0 195.0 230.0 014 49.0 22.7 30.0 10100000\r".to_vec(),
        ));
        qx.update(&mut u, 40_000).unwrap(); // a full poll: a quick one keeps the last full one's words, as NUT
        assert_eq!(qx.store.get("ups.status"), Some("OB"));
        // An Axxium (AX1) has battery packs, settable 0 to 5.
        let mut u = Unit::new("bestups");
        u.over
            .push(("ID\r", b"AX1,1500,120,120,20.0,27.6\r".to_vec()));
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
        qx.init(&mut u, 0).unwrap();
        assert_eq!(qx.store.get("ups.power.nominal"), Some("1500"));
        assert_eq!(qx.store.get("battery.packs"), Some("2"));
        assert!(qx.store.is_rw("battery.packs"));
        u.sent.clear();
        qx.setvar("battery.packs", "1", &mut u).unwrap();
        assert_eq!(u.sent, ["BP1\r"]);
        assert!(qx.setvar("battery.packs", "7", &mut u).is_err());
        // A malformed ID answer is named.
        let mut a = Answer::new();
        a.buf[..26].copy_from_slice(b"FOR,750,120,120,20.0\r.....");
        a.len = 26;
        assert!(!bestups_id(&mut a));
    }

    #[test]
    fn runtimecal_estimates_runtime_as_nutdrv_qx() {
        let mut u = Unit::new("megatec");
        let opts = QxOptions {
            runtimecal: Some("240,100,720,50".into()),
            ..Default::default()
        };
        let mut qx = Qx::probe(&mut u, &opts).unwrap();
        qx.init(&mut u, 1000).unwrap();
        assert!(
            !qx.store.has("battery.runtime"),
            "first estimate at the first full poll"
        );
        qx.update(&mut u, 32_000).unwrap();
        assert_eq!(qx.store.get("battery.charge"), Some("37"));
        assert_eq!(qx.store.get("battery.runtime"), Some("877"));
        // On battery for 60 s at the idle load (10 %): 6 s of full-load
        // runtime gone, 60 s of runtime at this load.
        u.over.push((
            "Q1\r",
            b"(000.0 195.0 230.0 014 49.0 22.7 30.0 10000000\r".to_vec(),
        ));
        qx.update(&mut u, 92_000).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OB"));
        assert_eq!(qx.store.get("battery.runtime"), Some("817"));
        for (rc, msg) in [
            ("240,100", "runtimecal: four numbers expected: RH,LH,RL,LL"),
            ("720,100,240,50", "runtimecal: runtime out of range"),
            ("240,100,720,150", "runtimecal: load out of range"),
        ] {
            let mut u = Unit::new("megatec");
            let opts = QxOptions {
                runtimecal: Some(rc.into()),
                ..Default::default()
            };
            let mut qx = Qx::probe(&mut u, &opts).unwrap();
            assert_eq!(qx.init(&mut u, 0).unwrap_err().to_string(), msg);
        }
    }

    #[test]
    fn options_skip_items() {
        let mut u = Unit::new("megatec");
        let opts = QxOptions {
            norating: true,
            novendor: true,
            ignoresab: true,
            ..Default::default()
        };
        let mut qx = Qx::probe(&mut u, &opts).unwrap();
        qx.init(&mut u, 0).unwrap();
        assert_eq!(
            &u.sent[8..],
            ["Q1\r", "Q1\r", "Q1\r"],
            "claim, walk, poll: no I, no F"
        );
        assert!(!qx.store.has("device.mfr") && !qx.store.has("input.voltage.nominal"));
        u.over = vec![(
            "Q1\r",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 00000010\r".to_vec(),
        )];
        qx.update(&mut u, 1).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OL"));
    }
}
