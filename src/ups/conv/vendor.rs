//! Helpers of single subdrivers' conversion functions (USB strings,
//! CyberPower frequency scaling, Ever's report counters, MGE's ABM and
//! range checks, OpenUPS and Tripp Lite scales, Powercom timers).

use super::*;

/// `stringid_conversion` / Tripp Lite chemistry: USB string by index,
/// 19 characters at most (20-byte buffer), trailing newlines trimmed.
pub(super) fn usb_string_fun(value: f64, env: &mut dyn ConvEnv, out: &mut Text) -> bool {
    let idx = c_int(value);
    // Outside the uint8 index range NUT returns NULL: nothing published.
    let Ok(idx) = u8::try_from(idx) else {
        return false;
    };
    // Index 0 publishes an empty string, as in NUT. When the string
    // cannot be fetched at all (no hiddev or usbfs node, or a recording
    // without strings) nothing is published rather than NUT's "".
    if idx == 0 {
        out.clear();
        return true;
    }
    if !env.usb_string(idx, out) {
        out.clear();
        return false;
    }
    // One 8-bit character per UTF-16 unit in NUT, so count characters.
    if let Some((cut, _)) = out.as_str().char_indices().nth(19) {
        out.truncate(cut);
    }
    let kept = out.as_str().trim_end_matches('\n').len();
    out.truncate(kept);
    true
}

pub(super) const CPS_SCALED: (u16, u16) = (0x0764, 0x0501);

/// CPS 0764:0501 may report frequency ×10: decide the scale once from the
/// published nominal/low/high (or a guess) and keep it.
pub(super) fn cps_freq(value: f64, env: &mut dyn ConvEnv, input: bool, out: &mut Text) -> bool {
    let checked = if input {
        env.state().cps_input_freq_checked
    } else {
        env.state().cps_output_freq_checked
    };
    if env.vid_pid() == CPS_SCALED && !checked {
        let names = if input {
            [
                "input.frequency.nominal",
                "input.frequency.low",
                "input.frequency.high",
            ]
        } else {
            [
                "output.frequency.nominal",
                "output.frequency.low",
                "output.frequency.high",
            ]
        };
        let [mut nom, mut low, mut high] = names.map(|n| env.var(n).map_or(0.0, strtod));
        if d_equal(nom, 0.0) {
            nom = if 45.0 < low && low <= 50.0
                || (50.0..=55.0).contains(&high)
                || 45.0 < value && value <= 55.0
                || 450.0 < value && value <= 550.0
            {
                50.0
            } else if 55.0 < low && low <= 60.0
                || (60.0..=65.0).contains(&high)
                || 55.0 < value && value <= 65.0
                || 550.0 < value && value <= 650.0
            {
                60.0
            } else {
                0.0
            };
        }
        if d_equal(low, 0.0) {
            low = if d_equal(nom, 0.0) { 45.0 } else { nom * 0.95 };
        }
        if d_equal(high, 0.0) {
            high = if d_equal(nom, 0.0) { 65.0 } else { nom * 1.05 };
        }
        let scale = if low <= value && value <= high {
            Some(1.0)
        } else if low <= value / 10.0 && value / 10.0 <= high {
            Some(0.1)
        } else {
            None // undecided: print unscaled, retry next time
        };
        if let Some(s) = scale {
            let st = env.state();
            if input {
                st.cps_input_freq_scale = s;
                st.cps_input_freq_checked = true;
            } else {
                st.cps_output_freq_scale = s;
                st.cps_output_freq_checked = true;
            }
        }
    }
    let st = env.state();
    let scale = if input {
        st.cps_input_freq_scale
    } else {
        st.cps_output_freq_scale
    };
    put_cf(out, 7, scale * value, 1)
}

pub(super) const HARD_REV: [&str; 27] = [
    "0", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R",
    "S", "T", "U", "V", "W", "X", "Y", "Z",
];

/// Ever's rotating call counters: return the current slot (1..=4), advance.
pub(super) fn ever_next(counter: &mut u8) -> u8 {
    let c = (*counter).clamp(1, 4);
    *counter = if c == 4 { 1 } else { c + 1 };
    c
}

pub(super) fn ever_byte1(env: &mut dyn ConvEnv, id: u8) -> Option<u8> {
    env.cached_report(id)?.get(1).copied()
}

pub(super) fn ever_word(env: &mut dyn ConvEnv, id: u8) -> Option<u16> {
    let b = env.cached_report(id)?;
    Some(u16::from_le_bytes([*b.get(1)?, *b.get(2)?]))
}

/// ABM path selection: the first path seen while ABM is enabled sticks;
/// ABM off resets it so another path may win once re-enabled.
pub(super) fn abm_path(st: &mut ConvState, path: i8) {
    if st.mge_abm != ABM_ENABLED {
        st.mge_abm_path = -1;
    } else if st.mge_abm_path == -1 {
        st.mge_abm_path = path;
    }
}

/// Pegasus-only values. NUT masks the model byte, so 3S (0x110) reads as
/// Pegasus and its non-Europe rule is dead code; kept as NUT behaves,
/// since honouring it would stop publishing on European 3S units.
pub(super) fn pegasus_gate(st: &ConvState) -> bool {
    match st.mge_family & 0xFF00 {
        MGE_PEGASUS => true,
        MGE_3S => st.mge_country != COUNTRY_EUROPE,
        _ => false,
    }
}

/// Published variable as NUT's `str_to_double` reads it.
pub(super) fn var_f(env: &dyn ConvEnv, name: &str) -> Option<f64> {
    env.var(name).map(str_to_double)
}

/// Reads the bypass/nominal values both range checks need; `None` if one
/// of the four required ones is missing.
pub(super) fn range_inputs(env: &dyn ConvEnv) -> Option<[f64; 4]> {
    Some([
        var_f(env, "input.bypass.voltage")?,
        var_f(env, "input.bypass.frequency")?,
        var_f(env, "output.voltage.nominal")?,
        var_f(env, "output.frequency.nominal")?,
    ])
}

/// Whether the bypass voltage and frequency are within range, as both
/// checks below decide it: the voltage between the `low`/`high`
/// variables when both are set, else `nominal × (vlo, vhi)`; the
/// frequency within `range` percent of nominal (`pct` when unset).
/// `None` when one of the four [`range_inputs`] is missing.
fn bypass_in_range(
    env: &dyn ConvEnv,
    [low, high, range]: [&str; 3],
    pct: f64,
    (vlo, vhi): (f64, f64),
) -> Option<bool> {
    let [bv, bf, nv, nf] = range_inputs(env)?;
    let low = var_f(env, low).unwrap_or(0.0);
    let high = var_f(env, high).unwrap_or(0.0);
    let range = var_f(env, range).unwrap_or(0.0);
    let pct = if range > 0.0 { range } else { pct };
    let (fl, fh) = (nf - nf / 100.0 * pct, nf + nf / 100.0 * pct);
    let (vl, vh) = if low > 0.0 && high > 0.0 {
        (low, high)
    } else {
        (nv * vlo, nv * vhi)
    };
    Some(bv >= vl && bv <= vh && bf >= fl && bf <= fh)
}

/// NUT's `eaton_input_eco_mode_check_range`.
pub(super) fn eco_check_range(value: f64, env: &mut dyn ConvEnv) -> Option<&'static str> {
    if c_int(value) != 1 {
        return None;
    }
    let vars = [
        "input.transfer.eco.low",
        "input.transfer.eco.high",
        "input.transfer.frequency.eco.range",
    ];
    match bypass_in_range(env, vars, 5.0, (0.95, 1.05)) {
        None => {
            env.set_var("input.eco.switchable", Some("normal"));
            None
        }
        Some(true) => {
            env.add_buzzword("vendor:mge-hid:ECO");
            Some("ECO")
        }
        Some(false) => {
            env.set_var("input.eco.switchable", Some("normal"));
            env.add_buzzword("vendor:mge-hid:normal");
            None
        }
    }
}

/// NUT's `eaton_input_bypass_check_range`.
pub(super) fn bypass_check_range(value: f64, env: &mut dyn ConvEnv) -> Option<&'static str> {
    if d_equal(value, 0.0) {
        return Some("disabled");
    }
    if !d_equal(value, 1.0) {
        return None;
    }
    let vars = [
        "input.transfer.bypass.low",
        "input.transfer.bypass.high",
        "input.transfer.frequency.bypass.range",
    ];
    if bypass_in_range(env, vars, 10.0, (0.8, 1.15)) == Some(true) {
        Some("on")
    } else {
        env.set_var("input.bypass.switch.off", Some("off"));
        None
    }
}

/// openUPS ADC scales (vin, vout, charge current, discharge current),
/// set by NUT's match handler for 04d8:d004/d005 only.
pub(super) fn openups_scales(id: (u16, u16)) -> (f64, f64, f64, f64) {
    match id {
        (0x04d8, 0xd004) => (
            0.03545 * 100.0,
            0.02571 * 100.0,
            0.8274 / 10.0,
            16.113 / 10.0,
        ),
        (0x04d8, 0xd005) => (0.1, 0.1, 0.1, 0.1),
        _ => (1.0, 1.0, 1.0, 1.0),
    }
}

/// openUPS thermistor ADC thresholds (value × 100) for -40..125 °C in 5 °C steps.
pub(super) const OPENUPS_THERM: [u32; 34] = [
    0x31, 0x40, 0x53, 0x68, 0x82, 0xA0, 0xC3, 0xE9, 0x113, 0x13F, 0x16E, 0x19F, 0x1CF, 0x200,
    0x22F, 0x25C, 0x286, 0x2AE, 0x2D3, 0x2F4, 0x312, 0x32D, 0x345, 0x35A, 0x36D, 0x37E, 0x38C,
    0x399, 0x3A5, 0x3AF, 0x3B7, 0x3BF, 0x3C6, 0x3CC,
];

pub(super) fn openups_temperature(value: f64, out: &mut Text) -> bool {
    let t = (value * 100.0) as u32;
    let last = OPENUPS_THERM.len() - 1;
    if t <= OPENUPS_THERM[0] {
        return put(out, 19, format_args!("{}", -40));
    }
    if t >= OPENUPS_THERM[last] {
        return put(out, 19, format_args!("{}", 125));
    }
    let pos = OPENUPS_THERM.iter().rposition(|&x| t >= x).unwrap_or(0);
    let t1 = pos as i32 * 5 - 40;
    if t == OPENUPS_THERM[pos] {
        return put(out, 19, format_args!("{}", t1));
    }
    let (d1, d2) = (OPENUPS_THERM[pos], OPENUPS_THERM[pos + 1]);
    let temp = (t - d1) as f64 * 5.0 / (d2 - d1) as f64 + t1 as f64;
    put_cf(out, 19, temp, 2)
}

/// PowerCOM delay seconds: the argument, else the `cfg` option, else the
/// published `var`; `None` when none is given (each function has its own default).
pub(super) fn powercom_seconds(text: &str, env: &dyn ConvEnv, cfg: &str, var: &str) -> Option<i32> {
    if !text.is_empty() {
        return Some(atoi(text));
    }
    if let Some(c) = env.option(cfg).filter(|c| !c.is_empty()) {
        return Some(atoi(c));
    }
    env.var(var).filter(|s| !s.is_empty()).map(atoi)
}

/// PowerCOM minute/second word with the AC-restart flag (`flag` in the
/// default byte order, `fallback_flag` with `powercom_sdcmd_byte_order_fallback`).
pub(super) fn powercom_min_sec(secs: i32, env: &dyn ConvEnv, flag: u16, fallback_flag: u16) -> i64 {
    let v = (secs as u16).max(1); // 0 would mean the maximum delay
    let w = if env.option("powercom_sdcmd_byte_order_fallback").is_some() {
        (((v % 60) << 8) + v / 60) | fallback_flag
    } else {
        (((v / 60) << 8) + v % 60) | flag
    };
    w as i64
}

/// PowerCOM discrete delay index (powercom-discrete-delays.tsv).
pub(super) fn powercom_discrete_index(secs: i32) -> i64 {
    const LIMITS: [i32; 17] = [
        12, 18, 24, 30, 36, 42, 48, 54, 60, 120, 180, 240, 300, 360, 420, 480, 540,
    ];
    LIMITS
        .iter()
        .position(|&l| secs <= l)
        .map_or(18, |i| i as i64 + 1)
}

/// PowerCOM battery voltage: ASCII in Feature report 0xA4, fetched anew
/// on every call; the last valid reading (initially "0.0") otherwise.
/// NUT pauses 100 ms between its up to 5 start-up tries; we retry at once.
pub(super) fn powercom_hack_voltage(env: &mut dyn ConvEnv, out: &mut Text) -> bool {
    let tries = if env.state().powercom_last_voltage.as_str() == "0.0" {
        5
    } else {
        1
    };
    for _ in 0..tries {
        let mut msg = [0u8; 7];
        let mut n = 0;
        match env.feature_report(0xA4) {
            Some(data) if !data.is_empty() => {
                // Bytes after the report id, as a C string.
                for &c in data.iter().take(8).skip(1).take_while(|c| **c != 0) {
                    msg[n] = c;
                    n += 1;
                }
            }
            _ => continue,
        }
        let is_num = |c: &u8| c.is_ascii_digit() || *c == b'.';
        let start = msg[..n].iter().position(is_num).unwrap_or(n);
        let len = msg[start..n].iter().take_while(|c| is_num(c)).count();
        let run = &msg[start..start + len];
        if !run.is_empty() && run.contains(&b'.') {
            // Only ASCII digits and dots: valid UTF-8.
            let s = core::str::from_utf8(run).unwrap_or("");
            put_str(out, s);
            env.state().powercom_last_voltage = *out;
            return true;
        }
    }
    *out = env.state().powercom_last_voltage;
    true
}

/// Tripp Lite scales (battery, io voltage, io frequency, io current) set
/// by NUT's match handlers per product id.
pub(super) fn tripplite_scales(id: (u16, u16)) -> (f64, f64, f64, f64) {
    match id {
        (0x09ae, 0x3016 | 0x3024) => (100000.0, 100000.0, 0.01, 0.01),
        (
            0x09ae,
            0x1003 | 0x1007 | 0x1008 | 0x1009 | 0x1010 | 0x2005 | 0x2007 | 0x2008 | 0x2009 | 0x2010
            | 0x2011 | 0x2012 | 0x2013 | 0x2014,
        ) => (0.1, 1.0, 1.0, 1.0),
        _ => (1.0, 1.0, 1.0, 1.0),
    }
}
