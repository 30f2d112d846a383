//! Answers and values as text: the fixed answer buffer and its C-string
//! view, the two protocols whose answers are rewritten before reading
//! (Voltronic-QS-Hex's binary `QS`, BestUPS's `ID`), the Voltronic-QS-Hex
//! field conversions, C-like number parsing and command templates.
//! Pure functions of bytes and text: which item is read, and what a value
//! does to the unit's state, is [`super::item`]'s business.

use super::error::{CmdError, QxError, Snip};
use super::table::{Item, Pre};
use crate::text::{atol, parse_f64, Text, TEXT_CAP};
use crate::ups::engine::format_value;
use core::fmt::Write;

/// Longest answer kept (nutdrv_qx keeps 511 bytes; Megatec answers are
/// 47 bytes at most, Voltronic ones about 110).
pub const ANSWER_CAP: usize = 256;

pub(super) struct Answer {
    pub(super) buf: [u8; ANSWER_CAP],
    /// Length the bridge reported.
    pub(super) len: usize,
}

impl Answer {
    pub(super) const fn new() -> Answer {
        Answer {
            buf: [0; ANSWER_CAP],
            len: 0,
        }
    }
    /// The answer as nutdrv_qx sees it: a C string.
    pub(super) fn cstr(&self) -> &[u8] {
        let b = &self.buf[..self.len.min(ANSWER_CAP)];
        &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
    }
    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.buf[0] = 0;
    }
}

/// strtod on text nutdrv_qx has already checked to be digits, spaces and
/// dots: leading spaces, digits, one dot, digits.
pub(super) fn strtod(s: &str) -> f64 {
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
    parse_f64(t).unwrap_or(0.0)
}

/// Bytes as text, `?` for what is not printable ASCII.
pub(super) fn ascii_text(b: &[u8]) -> Result<Text, ()> {
    let mut buf = [0u8; TEXT_CAP];
    let text = buf.get_mut(..b.len()).ok_or(())?;
    for (d, &c) in text.iter_mut().zip(b) {
        *d = if (0x20..0x7f).contains(&c) { c } else { b'?' };
    }
    Text::try_new(core::str::from_utf8(text).map_err(|_| ())?).ok_or(())
}

pub(super) fn lossy(b: &[u8]) -> Snip {
    Snip::new(b)
}

/// Fill a command template: `%s` with `s` or `%02d` with `n`.
pub(super) fn template(
    tpl: &str,
    s: Option<&str>,
    n: Option<i64>,
    out: &mut Text,
) -> Result<(), CmdError> {
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
pub(super) fn qs_hex(a: &mut Answer) -> bool {
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
pub(super) const BESTUPS_VOLTAGES: [[u16; 5]; 20] = [
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
pub(super) fn bestups_id(a: &mut Answer) -> bool {
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
    // (0 when it overflows, as it always has)
    let v = t[..end]
        .bytes()
        .try_fold(0i64, |v, c| {
            v.checked_mul(16)?
                .checked_add(i64::from((c as char).to_digit(16)?))
        })
        .unwrap_or(0);
    if end == 0 {
        return (0, s);
    }
    (v, &t[end..])
}

/// The Voltronic-QS-Hex fields (NUT's `voltronic_qs_hex_*` rules).
/// `text` is `raw` as printable text.
pub(super) fn qs_hex_value(
    it: &Item,
    raw: &[u8],
    text: &Text,
    value: &mut Text,
) -> Result<(), QxError> {
    let v = text.as_str();
    let bad = || QxError::NotNumeric {
        var: it.var,
        value: Snip::new(raw),
    };
    let hex_sp = |v: &str| v.bytes().all(|c| c.is_ascii_hexdigit() || c == b' ');
    // The number each rule makes, formatted once below.
    let x = match it.pre {
        Pre::QsHexVoltage => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            (a.saturating_mul(b) / 51) as f64 / 256.0
        }
        Pre::QsHexLoad => {
            if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let (a, _) = strtol16(v);
            return value.set_fmt(format_args!("{a}")).map_err(|_| bad());
        }
        Pre::QsHexFrequency => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            let f = b as f64 / a as f64;
            if f > 99.9 {
                99.9
            } else {
                f
            }
        }
        Pre::QsHexBatteryVoltage => {
            if !hex_sp(v) {
                return Err(bad());
            }
            let (a, rest) = strtol16(v);
            let (b, _) = strtol16(rest);
            a.saturating_mul(b) as f64 / 510.0
        }
        Pre::QsHexRatings => {
            if !v.bytes().all(|c| c == b'0' || c == b'1') {
                return Err(QxError::StatusChar {
                    pos: it.from,
                    value: Snip::new(raw),
                });
            }
            let n = atol(v).unwrap_or(0);
            match (it.from, n) {
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
            }
        }
        _ => return Err(bad()),
    };
    if x.is_nan() {
        value.push_str("nan").map_err(|_| bad())
    } else if format_value(it.dfl, x, value) {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qs_hex_answers_are_unescaped_and_checked() {
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
    }

    #[test]
    fn bestups_id_answers_are_checked() {
        // A malformed ID answer is named.
        let mut a = Answer::new();
        a.buf[..26].copy_from_slice(b"FOR,750,120,120,20.0\r.....");
        a.len = 26;
        assert!(!bestups_id(&mut a));
    }
}
