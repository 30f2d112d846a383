//! `Text`: a fixed-capacity string on the stack, for formatting values
//! without touching the heap. Overflow is an error, never a silent cut.

use core::cmp::Ordering;
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

/// Most decimals [`Fixed`] writes: NUT's formats use up to 9.
pub const FIXED_MAX_PREC: usize = 17;

/// `f64` with a number of decimals, written exactly as `{:.N}` writes it:
/// the exact binary value rounded half to even, `-` before any negative
/// value (`-0` too), `NaN`, `inf` and `-inf`. The text goes to the
/// writer in the pieces core uses (sign, whole part, point, decimals),
/// so a [`Text`] too short for it keeps what `{:.N}` leaves in it. More
/// than [`FIXED_MAX_PREC`] decimals is an error.
///
/// Why not `{:.N}`: core's exact float formatting (Grisu with a Dragon
/// fallback and their tables) is about 4 KB of a router build for the
/// few `%.Nf` values of NUT's tables; this is a few hundred bytes. The
/// shortest form, `{}`, is still core's.
#[derive(Clone, Copy)]
pub struct Fixed(pub f64, pub usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0, self.1)
    }
}

/// An unsigned integer of 40 × 32 bits, for [`write_fixed`] and
/// [`write_shortest`]: the largest product they make, the smallest
/// `f64`'s neighbourhood times 10^341, needs under 1,200 bits.
#[derive(Clone)]
struct Big([u32; 40]);

impl Big {
    fn from(x: u64) -> Big {
        let mut b = Big([0; 40]);
        b.0[0] = x as u32;
        b.0[1] = (x >> 32) as u32;
        b
    }

    fn pow10(&mut self, n: i32) {
        for _ in 0..n {
            self.mul_small(10);
        }
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0.iter().rev().cmp(o.0.iter().rev())
    }

    /// `self - o`, for `o` not above `self`.
    fn sub(&mut self, o: &Big) {
        let mut borrow = false;
        for (a, &b) in self.0.iter_mut().zip(o.0.iter()) {
            let (x, b1) = a.overflowing_sub(b);
            let (x, b2) = x.overflowing_sub(u32::from(borrow));
            *a = x;
            borrow = b1 || b2;
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for d in self.0.iter_mut() {
            let x = u64::from(*d) * u64::from(m) + carry;
            *d = x as u32;
            carry = x >> 32;
        }
    }

    /// Divide by `m` in place; the remainder.
    fn div_small(&mut self, m: u32) -> u32 {
        let mut rem = 0u64;
        for d in self.0.iter_mut().rev() {
            let x = (rem << 32) | u64::from(*d);
            *d = (x / u64::from(m)) as u32;
            rem = x % u64::from(m);
        }
        rem as u32
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|d| d >> (i % 32) & 1 == 1)
    }

    /// Shift left (`n` > 0) or right (`n` < 0) by `n` bits.
    fn shift(&mut self, n: i32) {
        let len = self.0.len() as i32;
        let old = self.0;
        for (i, d) in self.0.iter_mut().enumerate() {
            // Bit j of the result is bit j - n of the old value.
            let lo = (i as i32) * 32 - n;
            let (w, b) = (lo.div_euclid(32), lo.rem_euclid(32) as u32);
            let get = |k: i32| {
                if (0..len).contains(&k) {
                    old[k as usize]
                } else {
                    0
                }
            };
            let hi = if b == 0 { 0 } else { get(w + 1) << (32 - b) };
            *d = (get(w) >> b) | hi;
        }
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&d| d == 0)
    }
}

/// What [`Fixed`] writes, to any writer.
pub fn write_fixed(w: &mut dyn fmt::Write, v: f64, prec: usize) -> fmt::Result {
    if v.is_nan() {
        return w.write_str("NaN");
    }
    if v.is_sign_negative() {
        w.write_str("-")?;
    }
    if v.is_infinite() {
        return w.write_str("inf");
    }
    if prec > FIXED_MAX_PREC {
        return Err(fmt::Error);
    }
    // v = m × 2^e exactly; the result is round(m × 2^e × 10^prec).
    let bits = v.abs().to_bits();
    let (m, e) = match (bits >> 52) as i32 {
        0 => (bits, -1074),
        x => ((bits & ((1 << 52) - 1)) | (1 << 52), x - 1075),
    };
    let mut n = Big::from(m);
    n.pow10(prec as i32);
    let mut up = false;
    if e < 0 {
        // Half to even: above half, or exactly half of an odd quotient.
        let k = (-e) as usize;
        let half = n.bit(k - 1);
        let below = (0..k - 1).any(|i| n.bit(i));
        up = half && (below || n.bit(k));
    }
    n.shift(e);
    if up {
        for d in n.0.iter_mut() {
            *d = d.wrapping_add(1);
            if *d != 0 {
                break;
            }
        }
    }
    // Decimal digits, nine at a time, then no leading zeros beyond the
    // one before the point.
    let mut buf = [b'0'; 342];
    let mut at = buf.len();
    loop {
        let mut r = n.div_small(1_000_000_000);
        for _ in 0..9 {
            at -= 1;
            buf[at] = b'0' + (r % 10) as u8;
            r /= 10;
        }
        if n.is_zero() {
            break;
        }
    }
    let first = buf.len() - prec - 1;
    at = at.min(first);
    while at < first && buf[at] == b'0' {
        at += 1;
    }
    let s = core::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?;
    let (int, frac) = s.split_at(s.len() - prec);
    if int == "0" && prec > 0 {
        // core writes "0.", the zeros, then the digits.
        w.write_str("0.")?;
        let rest = frac.trim_start_matches('0');
        let zeros = &frac[..frac.len() - rest.len()];
        if !zeros.is_empty() {
            w.write_str(zeros)?;
        }
        if !rest.is_empty() {
            w.write_str(rest)?;
        }
        return Ok(());
    }
    // core makes at most `max` digits (its bound on the nonzero ones,
    // from the binary exponent) and writes the rest as runs of zeros.
    let de = e - if bits >> 52 != 0 && m == 1 << 52 {
        2
    } else {
        1
    };
    let max = 21 + ((if de < 0 { -12 } else { 5 } * de) as usize >> 4);
    let made = max.min(s.len());
    if made > int.len() {
        w.write_str(int)?;
        w.write_str(".")?;
        w.write_str(&frac[..made - int.len()])?;
        zeros(w, &frac[made - int.len()..])
    } else {
        w.write_str(&int[..made])?;
        zeros(w, &int[made..])?;
        if prec > 0 {
            w.write_str(".")?;
            zeros(w, frac)?;
        }
        Ok(())
    }
}

/// `f64` as `{}` writes it: the fewest digits that read back as the same
/// value (the nearest such, halfway rounding up), never an exponent;
/// `-` before any negative value (`-0` too), `NaN`, `inf`, `-inf`.
///
/// Why not `{}`: with [`Fixed`] this drops all of core's float
/// formatting (Grisu, Dragon, their tables: about 13 KB of a router
/// build). This one is slow (exact arithmetic on 1,280-bit integers,
/// some microseconds a value), which the few values shown by
/// `decode --explore` and the simulator's log can afford.
#[derive(Clone, Copy)]
pub struct Shortest(pub f64);

impl fmt::Display for Shortest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_shortest(f, self.0)
    }
}

/// `a × 10^q` against `b × 2^f`, exactly.
fn cmp_dec_bin(a: u64, q: i32, b: u64, f: i32) -> Ordering {
    let (mut l, mut r) = (Big::from(a), Big::from(b));
    if q >= 0 {
        l.pow10(q);
    } else {
        r.pow10(-q);
    }
    if f >= 0 {
        r.shift(f);
    } else {
        l.shift(-f);
    }
    l.cmp(&r)
}

/// What [`Shortest`] writes, to any writer.
pub fn write_shortest(w: &mut dyn fmt::Write, v: f64) -> fmt::Result {
    if v.is_nan() {
        return w.write_str("NaN");
    }
    if v.is_sign_negative() {
        w.write_str("-")?;
    }
    if v.is_infinite() {
        return w.write_str("inf");
    }
    let bits = v.abs().to_bits();
    if bits == 0 {
        return w.write_str("0");
    }
    let (m, e) = match (bits >> 52) as i32 {
        0 => (bits, -1074),
        x => ((bits & ((1 << 52) - 1)) | (1 << 52), x - 1075),
    };
    // The values that read back as v: (4m - dl, 4m + 2) × 2^(e-2), ends
    // included when m is even (reading rounds halfway to even). Below a
    // power of two the gap is half as wide.
    let dl = if bits >> 52 > 1 && m == 1 << 52 { 1 } else { 2 };
    let inside = |c: u64, q: i32| {
        let lo = cmp_dec_bin(c, q, 4 * m - dl, e - 2);
        let hi = cmp_dec_bin(c, q, 4 * m + 2, e - 2);
        let even = m % 2 == 0;
        (lo == Ordering::Greater || (even && lo == Ordering::Equal))
            && (hi == Ordering::Less || (even && hi == Ordering::Equal))
    };
    // k: 10^k <= v < 10^(k+1), from the binary exponent, then checked.
    let top = e + 63 - m.leading_zeros() as i32;
    let mut k = (top * 78_913) >> 18;
    if cmp_dec_bin(1, k + 1, m, e) != Ordering::Greater {
        k += 1;
    }
    // The first length with a candidate inside: v / 10^q truncated (t)
    // or one above it.
    let (mut c, mut q) = (0u64, 0i32);
    for n in 1..=17 {
        q = k - n + 1;
        let mut num = Big::from(m);
        let mut den = Big::from(1);
        if e >= 0 {
            num.shift(e);
        } else {
            den.shift(-e);
        }
        if q >= 0 {
            den.pow10(q);
        } else {
            num.pow10(-q);
        }
        let mut t = 0u64;
        for i in (0..58).rev() {
            let mut d = den.clone();
            d.shift(i);
            if num.cmp(&d) != Ordering::Less {
                num.sub(&d);
                t |= 1 << i;
            }
        }
        let (down, up) = (inside(t, q), inside(t + 1, q));
        if down || up {
            num.shift(1);
            c = if down && (!up || num.cmp(&den) == Ordering::Less) {
                t
            } else {
                t + 1
            };
            break;
        }
    }
    while c % 10 == 0 {
        c /= 10;
        q += 1;
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while c > 0 {
        at -= 1;
        buf[at] = b'0' + (c % 10) as u8;
        c /= 10;
    }
    let s = core::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?;
    let point = s.len() as i32 + q; // digits before the point
    if point <= 0 {
        w.write_str("0.")?;
        zeros(w, &ZEROS[..(-point) as usize])?;
        w.write_str(s)
    } else if (point as usize) < s.len() {
        let (a, b) = s.split_at(point as usize);
        w.write_str(a)?;
        w.write_str(".")?;
        w.write_str(b)
    } else {
        w.write_str(s)?;
        zeros(w, &ZEROS[..point as usize - s.len()])
    }
}

/// Enough zeros for any `f64` written whole or as a fraction.
const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    00000000000000000000";

/// Zeros as core writes them: 64 at a time.
fn zeros(w: &mut dyn fmt::Write, z: &str) -> fmt::Result {
    for c in z.as_bytes().chunks(64) {
        w.write_str(core::str::from_utf8(c).map_err(|_| fmt::Error)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    /// Every piece a writer is handed, in order.
    #[derive(Default, PartialEq, Debug)]
    struct Pieces(Vec<String>);
    impl Write for Pieces {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.push(s.to_string());
            Ok(())
        }
    }

    fn same_as_core(v: f64, prec: usize) {
        let want = format!("{v:.prec$}");
        assert_eq!(
            Fixed(v, prec).to_string(),
            want,
            "{v:e} ({:#x}) .{prec}",
            v.to_bits()
        );
        let (mut a, mut b) = (Pieces::default(), Pieces::default());
        write!(a, "{v:.prec$}").unwrap();
        write_fixed(&mut b, v, prec).unwrap();
        a.0.retain(|p| !p.is_empty());
        b.0.retain(|p| !p.is_empty());
        assert_eq!(a, b, "{v:e} .{prec}");
        // Into a Text: the same text, or the same error and leftover.
        let (mut a, mut b) = (Text::new(), Text::new());
        let ra = write!(a, "{v:.prec$}");
        let rb = write_fixed(&mut b, v, prec);
        assert_eq!((ra, a.as_str()), (rb, b.as_str()), "{v:e} .{prec}");
    }

    #[test]
    fn shortest_writes_what_core_writes() {
        let mut vals = vec![
            0.0,
            -0.0,
            1.0,
            0.1,
            0.2,
            0.3,
            1.5,
            230.0,
            13.600000000000001,
            1e-7,
            1e21,
            1e22,
            1e23,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            2.225073858507201e-308,
            1.7976931348623157e308,
            9007199254740993.0,
            4503599627370496.5,
            123456.789,
            // 2^-25: halfway between two 17-digit candidates (core rounds up).
            2.980_232_238_769_531_3e-8,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for i in (-1074..1024).step_by(5) {
            vals.push(2f64.powi(i));
        }
        for i in (-323..309).step_by(3) {
            vals.push(format!("1e{i}").parse().unwrap());
        }
        // Large whole numbers, where two shortest candidates can tie.
        for i in 0..500u64 {
            vals.push(((1u64 << 60) | (i * 256 * 7919)) as f64);
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..1500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(f64::from_bits(x));
            vals.push(f64::from((x >> 40) as u32) / 1000.0);
        }
        for v in vals {
            assert_eq!(
                Shortest(v).to_string(),
                format!("{v}"),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    }

    #[test]
    fn fixed_writes_what_core_writes() {
        let mut vals = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -2.5,
            0.125,
            0.375,
            13.45,
            230.0,
            0.96,
            0.096,
            0.0096,
            9.995,
            99.5,
            0.04,
            -0.04,
            1e-300,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            1e15,
            123_456_789.987_654_33,
            4503599627370495.5,
            9007199254740993.0,
            1e22,
            1e23,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Ties at every decimal position, and a spread of bit patterns
        // over the whole exponent range (a fixed xorshift sequence).
        for i in 0..200 {
            vals.push(f64::from(i) / 8.0 + 0.5);
            vals.push(-(f64::from(i) / 16.0));
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(f64::from_bits(x));
            vals.push(f64::from_bits(x >> 12 | 0x4000_0000_0000_0000) * 1e6);
        }
        for v in vals {
            for prec in 0..=FIXED_MAX_PREC {
                same_as_core(v, prec);
            }
        }
    }

    #[test]
    fn fixed_refuses_more_decimals_than_it_can_hold() {
        let mut t = Text::new();
        assert!(write_fixed(&mut t, 1.0, FIXED_MAX_PREC + 1).is_err());
        // A value too long for a Text: the sign stays, as with core.
        let mut t = Text::new();
        assert!(write_fixed(&mut t, -1e300, 2).is_err());
        assert_eq!(t.as_str(), "-");
    }

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
