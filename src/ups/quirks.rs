//! Descriptor fix-ups for devices whose report descriptors are known to be
//! wrong (NUT's `fix_report_desc` hooks). Each fix finds fields by report
//! id and own usage, checks the symptom, and corrects the ranges; a device
//! without the symptom is left alone. `disable_fix_report_desc` skips them.

use crate::hid::{Descriptor, Field};

const HIGH_VOLTAGE_TRANSFER: u32 = 0x0084_0054;
const VOLTAGE: u32 = 0x0084_0030;
const CONFIG_VOLTAGE: u32 = 0x0084_0040;
const CONFIG_ACTIVE_POWER: u32 = 0x0084_0044;
const RUN_TIME_TO_EMPTY: u32 = 0x0085_0068;

/// Apply the fix-ups of subdriver `key` for this VID:PID.
pub fn fix_descriptor(key: &str, vid: u16, pid: u16, d: &mut Descriptor) {
    match (key, vid, pid) {
        ("apc", 0x051d, 0x0002) => apc(d),
        ("cps", 0x0764, 0x0501 | 0x0601) => cps(d),
        ("idowell", 0x06da, 0xffff) | ("idowell", 0x075d, 0x0300) => idowell(d),
        _ => {}
    }
}

fn get(d: &Descriptor, id: u8, usage: u32) -> Option<(usize, Field)> {
    d.find_id_usage(id, usage).map(|i| (i, d.fields()[i]))
}

/// Back-UPS XS 1400U and kin: input voltage and nominal voltage declared
/// with a maximum below the high transfer voltage (230 V regions).
fn apc(d: &mut Descriptor) {
    let Some((_, hvt)) = get(d, 0x33, HIGH_VOLTAGE_TRANSFER) else {
        return;
    };
    if let Some((i, v)) = get(d, 0x31, VOLTAGE) {
        if hvt.logical_max > v.logical_max {
            let f = &mut d.fields_mut()[i];
            f.logical_min = 0;
            f.logical_max = 2 * hvt.logical_max;
        }
    }
    if let Some((i, cv)) = get(d, 0x30, CONFIG_VOLTAGE) {
        if hvt.logical_max > cv.logical_max {
            d.fields_mut()[i].logical_max = 255;
        }
    }
}

/// CyberPower: output (and input) voltage inherit the transfer voltage's
/// range, or a range read as unsigned that is too narrow; the nominal real
/// power is capped too low.
fn cps(d: &mut Descriptor) {
    let same_range =
        |a: &Field, b: &Field| a.logical_min == b.logical_min && a.logical_max == b.logical_max;
    let hvt = get(d, 0x10, HIGH_VOLTAGE_TRANSFER);
    let out = get(d, 0x12, VOLTAGE);
    let inp = get(d, 0x0F, VOLTAGE);
    if let (Some((_, h)), Some((oi, o))) = (hvt, out) {
        if same_range(&o, &h) {
            set_range(d, oi, 0, 511);
            if let Some((ii, i)) = inp {
                if same_range(&i, &h) {
                    set_range(d, ii, 0, 511);
                }
            }
        }
    }
    // Ranges taken as unsigned: widen to at least 9 bits, make the two
    // voltages agree, then keep within the field's size.
    let assumed: [Option<usize>; 2] = [0x12, 0x0F].map(|id| {
        get(d, id, VOLTAGE)
            .filter(|(_, f)| f.logmax_assumed)
            .map(|(i, _)| i)
    });
    if assumed.iter().any(Option::is_some) {
        for &i in assumed.iter().flatten() {
            let f = &mut d.fields_mut()[i];
            f.logical_max = f.logical_max.max(511);
        }
        let top = assumed
            .iter()
            .flatten()
            .map(|&i| d.fields()[i].logical_max)
            .max()
            .unwrap_or(511);
        for &i in assumed.iter().flatten() {
            let f = &mut d.fields_mut()[i];
            f.logical_max = top;
            if f.bit_size > 1 && f.bit_size < 64 {
                f.logical_max = f.logical_max.min((1i64 << f.bit_size) - 1);
            }
        }
    }
    if let Some((i, p)) = get(d, 0x18, CONFIG_ACTIVE_POWER) {
        if p.logical_max < 2048 {
            d.fields_mut()[i].logical_max = 2048;
        }
    }
}

fn set_range(d: &mut Descriptor, i: usize, min: i64, max: i64) {
    let f = &mut d.fields_mut()[i];
    f.logical_min = min;
    f.logical_max = max;
}

/// iDowell: a negative 32-bit maximum leaks into later fields.
fn idowell(d: &mut Descriptor) {
    for (usage, max) in [(RUN_TIME_TO_EMPTY, 0x75FF_FFFF), (VOLTAGE, 65535)] {
        if let Some((i, f)) = get(d, 0x02, usage) {
            if f.logical_max < f.logical_min {
                let f = &mut d.fields_mut()[i];
                f.logical_max = max;
                f.logmax_assumed = true;
            }
        }
    }
}
