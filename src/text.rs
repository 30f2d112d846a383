//! `Text`: a fixed-capacity string on the stack, for formatting values
//! without touching the heap. Overflow is an error, never a silent cut.

use core::fmt;

/// Capacity of a [`Text`], in bytes. NUT's own value buffers are smaller.
pub const TEXT_CAP: usize = 128;

/// A UTF-8 string of at most [`TEXT_CAP`] bytes, stored inline.
#[derive(Clone, Copy)]
pub struct Text {
    len: u8,
    buf: [u8; TEXT_CAP],
}

impl Text {
    pub const fn new() -> Self {
        Text {
            len: 0,
            buf: [0; TEXT_CAP],
        }
    }

    /// Build from a string; `None` if it does not fit.
    pub fn try_new(s: &str) -> Option<Self> {
        let mut t = Text::new();
        t.push_str(s).ok()?;
        Some(t)
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the bytes are UTF-8.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }

    /// The bytes, without the UTF-8 check of [`Text::as_str`] (for
    /// comparing and copying).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Append; on overflow nothing is appended and `Err` is returned.
    pub fn push_str(&mut self, s: &str) -> Result<(), fmt::Error> {
        let at = self.len as usize;
        let end = at + s.len();
        if end > TEXT_CAP {
            return Err(fmt::Error);
        }
        self.buf[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }

    /// Keep at most `n` bytes, backing off to a character boundary.
    pub fn truncate(&mut self, n: usize) {
        let mut n = n.min(self.len as usize);
        while n > 0 && !self.as_str().is_char_boundary(n) {
            n -= 1;
        }
        self.len = n as u8;
    }

    /// Replace the contents with formatted text.
    pub fn set_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<(), fmt::Error> {
        self.clear();
        let r = fmt::write(self, args);
        if r.is_err() {
            self.clear();
        }
        r
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, o: &Self) -> bool {
        self.as_str() == o.as_str()
    }
}
impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

/// C `atol` on text: leading white space, an optional sign, then digits;
/// anything after them is ignored. `None` when there are no digits (C
/// gives 0). Saturates instead of overflowing.
pub fn atol(s: &str) -> Option<i64> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    let mut any = false;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
        any = true;
    }
    any.then_some(if neg { -n } else { n })
}

/// A decimal number, `[+-]digits[.digits][(e|E)[+-]digits]` (a side of
/// the point may be empty, not both), the whole text; `None` otherwise
/// (`inf` and `nan` included: callers that take them check first).
///
/// Why not `str::parse::<f64>`: its exact algorithm and 10 KB table of
/// powers of five are about 18 KB of a router build, for the few numbers
/// NUT's conversions read from text. This one is exact (the same value as
/// `str::parse`) for up to 15 significant digits with a decimal exponent
/// within ±22, which covers every value a UPS or a configuration file
/// gives; beyond that it may be a unit off in the last place.
pub fn parse_f64(s: &str) -> Option<f64> {
    // 10^0 ..= 10^22: every one exact in an f64.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => true,
        Some(b'+') => false,
        _ => {
            i = usize::MAX;
            false
        }
    };
    i = i.wrapping_add(1);
    let (mut mant, mut exp, mut exact, mut any, mut frac) = (0u64, 0i32, true, false, false);
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            any = true;
            if mant < (u64::MAX - 9) / 10 {
                mant = mant * 10 + u64::from(c - b'0');
                exp -= i32::from(frac);
            } else {
                // Digits beyond 19 only move the point (or round).
                exact &= c == b'0';
                exp += i32::from(!frac);
            }
        } else if c == b'.' && !frac {
            frac = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if let Some(&c) = b.get(i) {
        if c != b'e' && c != b'E' {
            return None;
        }
        i += 1;
        let eneg = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        let mut e: i32 = 0;
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            e = e.saturating_mul(10).saturating_add(i32::from(d - b'0'));
            i += 1;
        }
        if i == start || i != b.len() {
            return None;
        }
        exp = exp.saturating_add(if eneg { -e } else { e });
    }
    let mut v = mant as f64;
    if mant != 0 && !(exact && mant <= 1 << 53 && (-22..=22).contains(&exp)) {
        // Outside the exact range: scale in steps first.
        while exp > 22 && v.is_finite() {
            v *= POW10[22];
            exp -= 22;
        }
        while exp < -22 && v != 0.0 {
            v /= POW10[22];
            exp += 22;
        }
    }
    if mant != 0 && (-22..=22).contains(&exp) {
        // One rounding: exact when the mantissa is (Clinger's fast path).
        let p = POW10[exp.unsigned_abs() as usize];
        v = if exp >= 0 { v * p } else { v / p };
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn parse_f64_as_the_standard_parser() {
        for s in [
            "0",
            "-0",
            "+0",
            "1",
            "-1",
            "0.5",
            ".5",
            "5.",
            "-.5",
            "230",
            "230.0",
            "49.9",
            "0.80",
            "13.65",
            "1e2",
            "1E2",
            "1e-2",
            "2.5e+3",
            "007",
            "0.000123",
            "123456789012345",
            "1.7976931348623157e308",
            "5e-324",
            "1e400",
            "-1e400",
            "1e-400",
            "0e99999",
            "99999999999999999999999",
            "0.30000000000000004",
            "4.35",
            "27.1",
            "100000",
        ] {
            let want: f64 = s.parse().unwrap();
            let got = parse_f64(s).unwrap_or_else(|| panic!("{s}: refused"));
            let close = got == want || (got - want).abs() <= want.abs() * 4.0 * f64::EPSILON;
            assert!(
                close && got.is_sign_negative() == want.is_sign_negative(),
                "{s}: {got} != {want}"
            );
        }
        for s in [
            "", "-", "+", ".", "e5", "1e", "1e+", "1-2", "1..2", "1.2.3", " 1", "1 ", "0x10",
            "inf", "nan", "1e5x", "--1",
        ] {
            assert_eq!(parse_f64(s), None, "{s:?}");
            assert!(
                s.parse::<f64>().is_err() || s == "inf" || s == "nan",
                "{s:?}"
            );
        }
        // Exact (bit for bit) for up to 15 digits and exponents within ±22.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = x % 1_000_000_000_000_000;
            let point = (x >> 50) % 16;
            let exp = ((x >> 40) % 45) as i32 - 22;
            let text = digits.to_string();
            let (a, b) = text.split_at(text.len().saturating_sub(point as usize));
            for s in [
                format!("{a}.{b}"),
                format!("{a}.{b}e{exp}"),
                format!("-{a}{b}E{exp}"),
            ] {
                let want: f64 = s.parse().unwrap();
                if digits.to_string().len() <= 15 && (-22..=22).contains(&(exp - point as i32)) {
                    assert_eq!(parse_f64(&s).map(f64::to_bits), Some(want.to_bits()), "{s}");
                }
            }
        }
    }

    #[test]
    fn overflow_is_an_error_and_leaves_contents() {
        let mut t = Text::try_new("ab").unwrap();
        let long = "x".repeat(TEXT_CAP);
        assert!(t.push_str(&long).is_err());
        assert_eq!(t.as_str(), "ab");
        write!(t, "{:.1}", 2.25f64).unwrap();
        assert_eq!(t.as_str(), "ab2.2");
    }

    #[test]
    fn atol_as_c() {
        assert_eq!(atol(" 42abc"), Some(42));
        assert_eq!(atol("\x0b-7"), Some(-7));
        assert_eq!(atol("+3"), Some(3));
        assert_eq!(atol("x1"), None);
        assert_eq!(atol(""), None);
        assert_eq!(atol("99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let mut t = Text::try_new("aé").unwrap();
        t.truncate(2);
        assert_eq!(t.as_str(), "a");
    }
}
