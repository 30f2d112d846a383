//! C's semantics, as NUT's conversion functions rely on them: `snprintf`
//! into a buffer of fixed size (output cut, never an error), and the C
//! library's number parsers and conversions (`atoi`, `strtod`, casts).

use super::*;

/// Appends up to `room` bytes and silently drops the rest, like
/// `snprintf` into a buffer of `room + 1` bytes.
pub(super) struct Capped<'a> {
    pub(super) out: &'a mut Text,
    pub(super) room: usize,
}

impl Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut n = s.len().min(self.room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.out.push_str(&s[..n])?;
        self.room -= n;
        Ok(())
    }
}

/// Write `args` into `out` (replacing it), cut at `cap` bytes. Always true.
pub(super) fn put(out: &mut Text, cap: usize, args: fmt::Arguments<'_>) -> bool {
    out.clear();
    let room = cap.min(TEXT_CAP);
    let _ = fmt::write(&mut Capped { out, room }, args);
    true
}

/// [`put`] of one `%.Nf` number ([`Cf`]), the output of most functions:
/// one copy of the formatting call instead of one per function.
#[inline(never)]
pub(super) fn put_cf(out: &mut Text, cap: usize, v: f64, prec: usize) -> bool {
    put(out, cap, format_args!("{}", Cf(v, prec)))
}

pub(super) fn put_str(out: &mut Text, s: &str) -> bool {
    put(out, TEXT_CAP, format_args!("{}", s))
}

/// A status token: `word` when set, `!word` when not.
pub(super) fn tok(out: &mut Text, set: bool, word: &str) -> bool {
    put(
        out,
        TEXT_CAP,
        format_args!("{}{}", if set { "" } else { "!" }, word),
    )
}

/// Space-separated words appended with NUT's `snprintfcat`.
pub(super) struct Words<'a> {
    pub(super) w: Capped<'a>,
    pub(super) first: bool,
}

impl<'a> Words<'a> {
    pub(super) fn new(out: &'a mut Text, cap: usize) -> Self {
        out.clear();
        Words {
            w: Capped { out, room: cap },
            first: true,
        }
    }
    pub(super) fn add(&mut self, word: &str) {
        let _ = write!(self.w, "{}{}", if self.first { "" } else { " " }, word);
        self.first = false;
    }
}

/// `%.Nf` as C prints it, including glibc's spelling of non-finite values.
pub(super) struct Cf(pub(super) f64, pub(super) usize);

impl fmt::Display for Cf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str(if v.is_sign_negative() { "-nan" } else { "nan" })
        } else if v.is_infinite() {
            f.write_str(if v < 0.0 { "-inf" } else { "inf" })
        } else {
            crate::text::write_fixed(f, v, self.1)
        }
    }
}

// ---------------------------------------------------------------------
// C conversions and parsers.

/// `(long)value` (Rust saturates where C is undefined). Not inlined: on
/// 32-bit CPUs the saturating conversion is some 20 instructions, and
/// the functions make it at some 30 places.
#[inline(never)]
pub(super) fn c_long(v: f64) -> i64 {
    v as i64
}

/// `(int)value`. Not inlined, like [`c_long`].
#[inline(never)]
pub(super) fn c_int(v: f64) -> i32 {
    v as i32
}

/// `(long)value & mask` tested.
pub(super) fn bit(v: f64, mask: i64) -> bool {
    c_long(v) & mask != 0
}

/// NUT's `d_equal`.
pub(super) fn d_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= f64::EPSILON
}

/// C `atoi`: `atol` truncated to int as glibc does (clamped to long,
/// then the cast wraps).
pub(super) fn atoi(s: &str) -> i32 {
    crate::text::atol(s).unwrap_or(0) as i32
}

pub(super) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// C `strtod`/`atof` on decimal text: the longest numeric prefix, else 0.
pub(super) fn strtod(s: &str) -> f64 {
    let b = s.as_bytes();
    let start = b.iter().take_while(|c| is_c_space(**c)).count();
    let mut i = start;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let rest = &s[i..];
    for (word, v) in [
        ("infinity", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("nan", f64::NAN),
    ] {
        if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
            return if b[start] == b'-' { -v } else { v };
        }
    }
    let digits = |i: &mut usize| {
        let n = b[*i..].iter().take_while(|c| c.is_ascii_digit()).count();
        *i += n;
        n
    };
    let mut nd = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        nd += digits(&mut i);
    }
    if nd == 0 {
        return 0.0;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) > 0 {
            i = j;
        }
    }
    crate::text::parse_f64(&s[start..i]).unwrap_or(0.0)
}

/// NUT's `str_to_double(s, &d, 10)`: whole trimmed string or 0.
pub(super) fn str_to_double(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    if t.is_empty() || !t.bytes().all(|c| b"-+.0123456789Ee".contains(&c)) {
        return 0.0;
    }
    match crate::text::parse_f64(t) {
        Some(v) if v.is_finite() => v,
        _ => 0.0, // ERANGE or leftovers
    }
}

/// `sscanf(s, "%04ld/%02ld/%02ld", ...)` with all three fields; `None`
/// where NUT would go on with uninitialised variables.
pub(super) fn scan_ymd(s: &str) -> Option<[i64; 3]> {
    let b = s.as_bytes();
    let mut p = 0;
    let y = scan_long(b, &mut p, 4)?;
    (b.get(p) == Some(&b'/')).then_some(())?;
    p += 1;
    let m = scan_long(b, &mut p, 2)?;
    (b.get(p) == Some(&b'/')).then_some(())?;
    p += 1;
    let d = scan_long(b, &mut p, 2)?;
    Some([y, m, d])
}

/// One `%<width>ld` conversion: blanks skipped, sign counts in the width.
pub(super) fn scan_long(b: &[u8], p: &mut usize, width: usize) -> Option<i64> {
    while b.get(*p).is_some_and(|c| is_c_space(*c)) {
        *p += 1;
    }
    let mut used = 0;
    let mut neg = false;
    if let Some(&c @ (b'+' | b'-')) = b.get(*p) {
        neg = c == b'-';
        *p += 1;
        used += 1;
    }
    let mut n: i64 = 0;
    let mut nd = 0;
    while used < width {
        match b.get(*p) {
            Some(c) if c.is_ascii_digit() => {
                n = n * 10 + (c - b'0') as i64;
                *p += 1;
                used += 1;
                nd += 1;
            }
            _ => break,
        }
    }
    (nd > 0).then_some(if neg { -n } else { n })
}
