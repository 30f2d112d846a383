//! Reading and writing one field of a report buffer.
//!
//! Buffers follow NUT's layout: byte 0 is the report id (0 for devices
//! without report ids) and a field's bits start at `bit_offset + 8`.
//! Reading goes raw bits → logical (HID sign rule and NUT's clamp) →
//! physical (linear range) → scaled by the unit exponent. Writing runs the
//! same chain backwards. Nothing here allocates.
//!
//! Read first: `docs/design/hid-decoding.md` §0 (buffer layout) and §2.

use super::Field;
use bitvec::prelude::*;

/// Unit codes whose exponent NUT corrects: volts and VA/W are declared by
/// many devices in SI base units (10^7 off from the unit they mean).
const UNIT_EXP_CORRECTION: &[(u32, i8)] = &[
    (0x00F0_D121, 7), // volt
    (0x0000_D121, 7), // VA and watt
];

/// Raw bits of a field: `bit_size` (1 to 32) bits little-endian from bit
/// `bit_offset + 8`. `None` if the buffer is too short or the field wider
/// than 32 bits.
pub fn raw(buf: &[u8], bit_offset: u32, bit_size: u32) -> Option<u32> {
    if bit_size == 0 || bit_size > 32 {
        return None;
    }
    let start = bit_offset as usize + 8;
    let end = start + bit_size as usize;
    let bits = buf.view_bits::<Lsb0>().get(start..end)?;
    Some(bits.load_le::<u32>())
}

/// Number of significant bits of `x`.
fn bitlen(x: i64) -> u32 {
    64 - (x as u64).leading_zeros()
}

/// Raw bits to the logical value, as NUT's GetValue does: keep only the
/// bits the logical range needs (plus a sign bit when the minimum is
/// negative), sign-extend, clamp to the range.
pub fn logical(raw: u32, min: i64, max: i64) -> i64 {
    let mag = |v: i64| if v >= 0 { v } else { -(v + 1) };
    let sign = 1i64 << bitlen(mag(max).max(mag(min))).min(62);
    let mut mask = sign - 1;
    if min < 0 {
        mask |= sign;
    }
    let mut v = raw as i64 & mask;
    if min < 0 && v & sign != 0 {
        v |= !mask;
    }
    // NUT clamps max first then min; with min > max that yields min.
    if v > max {
        v = max;
    }
    if v < min {
        v = min;
    }
    v
}

/// Logical value of `field` in `buf`.
pub fn get(buf: &[u8], f: &Field) -> Option<i64> {
    Some(logical(
        raw(buf, f.bit_offset, f.bit_size)?,
        f.logical_min,
        f.logical_max,
    ))
}

fn has_physical(f: &Field) -> bool {
    f.have_physical
        && !(f.physical_min == 0 && f.physical_max == 0)
        && f.physical_max > f.physical_min
        && f.logical_max > f.logical_min
}

/// Logical to physical through the declared ranges, clamped.
pub fn to_physical(f: &Field, logical: i64) -> f64 {
    if !has_physical(f) {
        return logical as f64;
    }
    let factor = (f.physical_max - f.physical_min) as f64 / (f.logical_max - f.logical_min) as f64;
    let v = (logical - f.logical_min) as f64 * factor + f.physical_min as f64;
    // Not f64::clamp: its check of the bounds (which has_physical has
    // made) carries a message formatting f64s, core's float printing.
    let (lo, hi) = (f.physical_min as f64, f.physical_max as f64);
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

/// The exponent applied to a field's physical value.
pub fn exponent(f: &Field) -> i32 {
    let fix = UNIT_EXP_CORRECTION
        .iter()
        .find(|&&(code, _)| code == f.unit)
        .map_or(0, |&(_, k)| k);
    f.unit_exp as i32 - fix as i32
}

/// 10^exp by repeated multiplication, as NUT computes it, so that values
/// round the same way when printed.
pub fn pow10(exp: i32) -> f64 {
    let mut v = 1.0;
    if exp >= 0 {
        for _ in 0..exp {
            v *= 10.0;
        }
    } else {
        for _ in 0..-exp {
            v *= 0.1;
        }
    }
    v
}

/// The value NUT's mapping layer sees: logical → physical → × 10^exp.
pub fn value(f: &Field, logical: i64) -> f64 {
    to_physical(f, logical) * pow10(exponent(f))
}

/// Read a field all the way to its scaled value.
pub fn get_value(buf: &[u8], f: &Field) -> Option<f64> {
    Some(value(f, get(buf, f)?))
}

/// Scaled value back to the logical value to write: undo the exponent,
/// then the physical range (truncating and clamping as NUT does; without a
/// physical range the value is truncated and not clamped).
pub fn to_logical(f: &Field, value: f64) -> i64 {
    let v = value / pow10(exponent(f));
    if !has_physical(f) {
        return v as i64;
    }
    let factor = (f.logical_max - f.logical_min) as f64 / (f.physical_max - f.physical_min) as f64;
    let l = ((v - f.physical_min as f64) * factor) as i64 + f.logical_min;
    l.clamp(f.logical_min, f.logical_max)
}

/// Write the low `bit_size` bits of `logical` into the field's place in
/// `buf`, leaving other bits alone. `false` if the buffer is too short.
pub fn put(buf: &mut [u8], f: &Field, logical: i64) -> bool {
    if f.bit_size == 0 || f.bit_size > 32 {
        return false;
    }
    let start = f.bit_offset as usize + 8;
    let end = start + f.bit_size as usize;
    match buf.view_bits_mut::<Lsb0>().get_mut(start..end) {
        Some(bits) => {
            bits.store_le::<u32>(logical as u32);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid::{Path, ReportType};

    fn field(bit_offset: u32, bit_size: u32, min: i64, max: i64) -> Field {
        Field {
            report_id: 0,
            kind: ReportType::Feature,
            bit_offset,
            bit_size,
            flags: 2,
            logical_min: min,
            logical_max: max,
            physical_min: 0,
            physical_max: 0,
            have_physical: false,
            unit: 0,
            unit_exp: 0,
            logmax_assumed: false,
            path: Path::new(),
            item_offset: 0,
        }
    }

    /// NUT's GetValue vectors (tests/getvaluetest.c): bytes, offset, size,
    /// logical min, max, expected logical value.
    type Vector = (&'static [u8], u32, u32, i64, i64, i64);
    const VECTORS: &[Vector] = &[
        (&[0x00, 0xff, 0xff, 0xff, 0xff], 0, 32, -1, 2147483647, -1),
        (&[0x00, 0xff], 0, 8, -1, 127, -1),
        (&[0x00, 0xff], 0, 8, 0, 127, 127),
        (&[0x00, 0xff], 0, 8, 0, 255, 255),
        (&[0x33, 0x00, 0x0a, 0x08, 0x80], 0, 32, 0, 65535, 2560),
        (&[0x00, 0x00, 0x08, 0x00, 0x00], 0, 32, 0, 65535, 2048),
        (&[0x06, 0x00, 0x00, 0x08], 0, 8, 0, 255, 0),
        (&[0x06, 0x00, 0x00, 0x08], 8, 8, 0, 255, 0),
        (&[0x06, 0x00, 0x00, 0x08], 16, 8, 0, 255, 8),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 0, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 1, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 2, 1, 0, 1, 1),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 3, 1, 0, 1, 1),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 4, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 5, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 6, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 7, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 8, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 9, 1, 0, 1, 0),
        (&[0x16, 0x0c, 0x00, 0x00, 0x00], 10, 1, 0, 1, 0),
        (&[0x0c, 0x64, 0x11, 0x0d], 8, 16, 0, 65535, 3345),
    ];

    #[test]
    fn nut_getvalue_vectors() {
        for &(buf, off, size, min, max, want) in VECTORS {
            let got = get(buf, &field(off, size, min, max));
            assert_eq!(
                got,
                Some(want),
                "{buf:02x?} offset {off} size {size} [{min},{max}]"
            );
        }
    }

    #[test]
    fn consequences_spelled_out_in_the_spec() {
        // LogMin = LogMax = 0 always reads 0.
        assert_eq!(get(&[0, 0xff], &field(0, 8, 0, 0)), Some(0));
        // 0..100 keeps 7 bits: raw 200 -> 72.
        assert_eq!(get(&[0, 200], &field(0, 8, 0, 100)), Some(72));
        // Too short a buffer reads nothing rather than garbage.
        assert_eq!(get(&[0, 1], &field(4, 8, 0, 255)), None);
        assert_eq!(raw(&[0; 8], 0, 33), None);
    }

    /// Reference extraction, one bit at a time.
    fn naive(buf: &[u8], off: u32, size: u32) -> u32 {
        (0..size).fold(0, |acc, i| {
            let bit = off as usize + 8 + i as usize;
            acc | (((buf[bit / 8] >> (bit % 8)) as u32 & 1) << i)
        })
    }

    #[test]
    fn bitvec_agrees_with_a_naive_oracle_on_random_fields() {
        // xorshift: deterministic, no dependency.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut buf = [0u8; 24];
        for _ in 0..20_000 {
            buf.iter_mut().for_each(|b| *b = next() as u8);
            let size = 1 + (next() % 32) as u32;
            let off = (next() % (23 * 8 - size as u64 + 1)) as u32;
            assert_eq!(
                raw(&buf, off, size),
                Some(naive(&buf, off, size)),
                "off {off} size {size}"
            );
            // Round trip through put() touches only the field's bits.
            let mut w = buf;
            let v = next() as u32 & (u32::MAX >> (32 - size));
            assert!(put(&mut w, &field(off, size, 0, 0), v as i64));
            assert_eq!(raw(&w, off, size), Some(v));
            for bit in 0..24 * 8 {
                let inside = bit >= off as usize + 8 && bit < (off + size) as usize + 8;
                if !inside {
                    assert_eq!(
                        (w[bit / 8] >> (bit % 8)) & 1,
                        (buf[bit / 8] >> (bit % 8)) & 1
                    );
                }
            }
        }
    }

    #[test]
    fn spec_worked_examples() {
        // 0C 64 00: RemainingCapacity 0..100 -> 100.
        let f = field(0, 8, 0, 100);
        assert_eq!(get_value(&[0x0C, 0x64, 0x00], &f), Some(100.0));
        // 31 E6 00: volts, UnitExp 7 -> exponent 0 -> 230.
        let mut v = field(0, 16, 0, 65535);
        v.unit = 0x00F0_D121;
        v.unit_exp = 7;
        assert_eq!(get_value(&[0x31, 0xE6, 0x00], &v), Some(230.0));
        // The same with UnitExp 5 carrying 23000 -> 230.0 when printed.
        v.unit_exp = 5;
        let x = get_value(&[0x31, 0xD8, 0x59], &v).unwrap();
        assert_eq!(format!("{x:.1}"), "230.0");
    }

    #[test]
    fn physical_range_and_write_back() {
        let mut f = field(0, 8, 0, 255);
        f.have_physical = true;
        f.physical_min = 0;
        f.physical_max = 510;
        assert_eq!(to_physical(&f, 100), 200.0);
        assert_eq!(to_logical(&f, 200.0), 100);
        // Clamped to the logical range on the way back.
        assert_eq!(to_logical(&f, 9999.0), 255);
        // Without a physical range: truncation, no clamp.
        let g = field(0, 8, 0, 100);
        assert_eq!(to_logical(&g, -1.7), -1);
        let mut buf = [7u8, 0, 0];
        assert!(put(&mut buf, &field(0, 16, -1, 32767), -1));
        assert_eq!(buf, [7, 0xFF, 0xFF]);
    }
}
