//! The calendar the MGE and APC functions need (proleptic Gregorian,
//! UTC): days to dates and back, and the `strptime` forms NUT uses.

use super::*;

/// Unix seconds to (days since epoch, seconds of day); `None` where
/// `localtime` would fail.
pub(super) fn unix_split(value: f64) -> Option<(i64, i64)> {
    if !value.is_finite() || value.abs() > 6.7e16 {
        return None;
    }
    let sec = value as i64; // time_t sec = value
    Some((sec.div_euclid(86400), sec.rem_euclid(86400)))
}

pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// MGE's setvar of ups.date/ups.time: `"<date> <time>"` in NUT's 20-byte
/// scratch buffer, glibc `strptime("%Y/%m/%d %H:%M:%S")`, then `mktime`
/// (UTC here, matching our UTC rendering). 0 when it does not parse.
pub(super) fn mge_strptime_pair(date: &str, time: &str) -> i64 {
    let mut buf = [0u8; 19];
    let mut n = 0;
    for &c in date.as_bytes().iter().chain(b" ").chain(time.as_bytes()) {
        if n == buf.len() {
            break;
        }
        buf[n] = c;
        n += 1;
    }
    mge_strptime(&buf[..n]).unwrap_or(0)
}

pub(super) fn mge_strptime(b: &[u8]) -> Option<i64> {
    let p = &mut 0;
    let y = strptime_num(b, p, 0, 9999, 4)?;
    strptime_lit(b, p, b'/')?;
    let mo = strptime_num(b, p, 1, 12, 2)?;
    strptime_lit(b, p, b'/')?;
    let d = strptime_num(b, p, 1, 31, 2)?;
    // The blank in the format matches any run of blanks (even none).
    while b.get(*p).is_some_and(|c| is_c_space(*c)) {
        *p += 1;
    }
    let h = strptime_num(b, p, 0, 23, 2)?;
    strptime_lit(b, p, b':')?;
    let mi = strptime_num(b, p, 0, 59, 2)?;
    strptime_lit(b, p, b':')?;
    let s = strptime_num(b, p, 0, 61, 2)?;
    // mktime normalises day overflow (31 Feb) and leap seconds linearly.
    Some((days_from_civil(y, mo, 1) + d - 1) * 86400 + h * 3600 + mi * 60 + s)
}

pub(super) fn strptime_lit(b: &[u8], p: &mut usize, c: u8) -> Option<()> {
    let ok = b.get(*p) == Some(&c);
    *p += 1;
    ok.then_some(())
}

/// glibc strptime's `get_number`: blanks, then digits while the value
/// can still grow within `to`, at most `n` digits.
pub(super) fn strptime_num(b: &[u8], p: &mut usize, from: i64, to: i64, n: usize) -> Option<i64> {
    while b.get(*p).is_some_and(|c| is_c_space(*c)) {
        *p += 1;
    }
    if !b.get(*p).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut val = 0;
    let mut left = n;
    loop {
        val = val * 10 + (b[*p] - b'0') as i64;
        *p += 1;
        left -= 1;
        if left == 0 || val * 10 > to || !b.get(*p).is_some_and(|c| c.is_ascii_digit()) {
            break;
        }
    }
    (from..=to).contains(&val).then_some(val)
}
