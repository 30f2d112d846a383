//! `ups.status` and `ups.alarm` from status bits, as usbhid-ups derives
//! them: mapping entries feed tokens (`online`, `!dischrg`, ...) into a
//! persistent bit set; after each walk the bits are turned into NUT's
//! status words in a fixed order, and (on full updates) alarm texts.
//!
//! Read first: `docs/design/hid-decoding.md` §5.

use crate::text::Text;

/// Internal status bits; the index is the bit number.
pub const NAMES: [&str; 30] = [
    "online",
    "offline",
    "dischrg",
    "chrg",
    "lowbatt",
    "overload",
    "replacebatt",
    "shutdownimm",
    "trim",
    "boost",
    "bypassauto",
    "bypassman",
    "ecomode",
    "essmode",
    "off",
    "cal",
    "overheat",
    "commfault",
    "depleted",
    "timelimitexp",
    "fullycharged",
    "notfullycharged",
    "awaitingpower",
    "fanfail",
    "nobattery",
    "battvoltlo",
    "battvolthi",
    "chargerfail",
    "vrange",
    "frange",
];

pub const ONLINE: u32 = 1 << 0;
pub const OFFLINE: u32 = 1 << 1;
pub const DISCHRG: u32 = 1 << 2;
pub const CHRG: u32 = 1 << 3;
pub const LOWBATT: u32 = 1 << 4;
pub const OVERLOAD: u32 = 1 << 5;
pub const REPLACEBATT: u32 = 1 << 6;
pub const SHUTDOWNIMM: u32 = 1 << 7;
pub const TRIM: u32 = 1 << 8;
pub const BOOST: u32 = 1 << 9;
pub const BYPASSAUTO: u32 = 1 << 10;
pub const BYPASSMAN: u32 = 1 << 11;
pub const ECOMODE: u32 = 1 << 12;
pub const ESSMODE: u32 = 1 << 13;
pub const OFF: u32 = 1 << 14;
pub const CALIB: u32 = 1 << 15;
pub const OVERHEAT: u32 = 1 << 16;
pub const COMMFAULT: u32 = 1 << 17;
pub const DEPLETED: u32 = 1 << 18;
pub const TIMELIMITEXP: u32 = 1 << 19;
pub const FULLYCHARGED: u32 = 1 << 20;
pub const NOTFULLYCHARGED: u32 = 1 << 21;
pub const AWAITINGPOWER: u32 = 1 << 22;
pub const FANFAIL: u32 = 1 << 23;
pub const NOBATTERY: u32 = 1 << 24;
pub const BATTVOLTLO: u32 = 1 << 25;
pub const BATTVOLTHI: u32 = 1 << 26;
pub const CHARGERFAIL: u32 = 1 << 27;
pub const VRANGE: u32 = 1 << 28;
pub const FRANGE: u32 = 1 << 29;

/// Alarm texts derived from bits, in NUT's order.
const ALARMS: [(u32, &str); 12] = [
    (REPLACEBATT, "Replace battery!"),
    (SHUTDOWNIMM, "Shutdown imminent!"),
    (FANFAIL, "Fan failure!"),
    (NOBATTERY, "No battery installed!"),
    (BATTVOLTLO, "Battery voltage too low!"),
    (BATTVOLTHI, "Battery voltage too high!"),
    (CHARGERFAIL, "Battery charger fail!"),
    (OVERHEAT, "Temperature too high!"),
    (COMMFAULT, "Internal UPS fault!"),
    (AWAITINGPOWER, "Awaiting power!"),
    (BYPASSAUTO, "Automatic bypass mode!"),
    (BYPASSMAN, "Manual bypass mode!"),
];

/// Apply one token (`word` sets, `!word` clears). Unknown words (`normal`,
/// `yes`, ...) are ignored, as NUT does. Returns whether it was known.
pub fn apply_token(bits: &mut u32, token: &str) -> bool {
    let (clear, word) = match token.strip_prefix('!') {
        Some(w) => (true, w),
        None => (false, token),
    };
    let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(word)) else {
        return false;
    };
    let bit = 1u32 << i;
    if !clear {
        // The two pairs are exclusive.
        match bit {
            ONLINE => *bits &= !OFFLINE,
            OFFLINE => *bits &= !ONLINE,
            FULLYCHARGED => *bits &= !NOTFULLYCHARGED,
            NOTFULLYCHARGED => *bits &= !FULLYCHARGED,
            _ => {}
        }
        *bits |= bit;
    } else {
        *bits &= !bit;
    }
    true
}

/// How to report a UPS that says both online and discharging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnlineDischarge {
    /// `onlinedischarge_calibration`: report CAL.
    pub calibration: bool,
    /// `onlinedischarge_onbattery` (and the deprecated `onlinedischarge`): report OB.
    pub onbattery: bool,
}

/// Status words, in the order added, without duplicates.
#[derive(Debug, Default, Clone, Copy)]
pub struct Words {
    words: [&'static str; 16],
    len: usize,
}

impl Words {
    pub fn add(&mut self, w: &'static str) {
        if !self.has(w) && self.len < self.words.len() {
            self.words[self.len] = w;
            self.len += 1;
        }
    }
    pub fn has(&self, w: &str) -> bool {
        self.words[..self.len].contains(&w)
    }
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.words[..self.len].iter().copied()
    }
}

/// The words NUT's `ups_status_set` derives from the bits (steps 2-15;
/// the LB/RB delay options are the monitor's business and not applied).
/// `charge` is the integer battery.charge, if published.
pub fn words(bits: u32, od: OnlineDischarge, charge: Option<i64>) -> Words {
    let mut w = Words::default();
    let has = |b: u32| bits & b != 0;
    if has(CALIB) {
        w.add("CAL");
    }
    if has(OFFLINE) {
        w.add("OB");
    }
    if !has(ONLINE) {
        if has(OFFLINE) || has(DISCHRG) {
            w.add("OB");
        }
    } else if has(DISCHRG) {
        if od.calibration {
            w.add("CAL");
        }
        if od.onbattery {
            w.add("OB");
        }
        if !od.calibration && !od.onbattery {
            w.add("OL");
        }
    } else {
        w.add("OL");
    }
    if has(DISCHRG) && !has(DEPLETED) {
        w.add("DISCHRG");
    }
    if has(CHRG) {
        let partial = has(NOTFULLYCHARGED)
            || (!has(FULLYCHARGED) && charge.is_some_and(|c| (1..=99).contains(&c)));
        if partial {
            w.add("CHRG");
        }
    }
    if has(LOWBATT) || has(TIMELIMITEXP) || has(SHUTDOWNIMM) {
        w.add("LB");
    }
    if has(OVERLOAD) {
        w.add("OVER");
    }
    if has(REPLACEBATT) || has(NOBATTERY) {
        w.add("RB");
    }
    if has(TRIM) {
        w.add("TRIM");
    }
    if has(BOOST) {
        w.add("BOOST");
    }
    if has(BYPASSAUTO) || has(BYPASSMAN) {
        w.add("BYPASS");
    }
    if has(OFF) {
        w.add("OFF");
    }
    w
}

/// `input.transfer.reason` from the bits, if any.
pub fn transfer_reason(bits: u32) -> Option<&'static str> {
    if bits & VRANGE != 0 {
        Some("input voltage out of range")
    } else if bits & FRANGE != 0 {
        Some("input frequency out of range")
    } else {
        None
    }
}

/// `experimental.ups.mode.buzzwords` from the bits, if any.
pub fn buzzwords(bits: u32) -> Option<&'static str> {
    match (bits & ECOMODE != 0, bits & ESSMODE != 0) {
        (true, true) => Some("vendor:default:ECO vendor:default:ESS"),
        (true, false) => Some("vendor:default:ECO"),
        (false, true) => Some("vendor:default:ESS"),
        _ => None,
    }
}

/// Append the bit-derived alarm texts after any from mapping entries.
pub fn alarms(bits: u32, out: &mut Text) {
    for (bit, text) in ALARMS {
        if bits & bit != 0 {
            if !out.is_empty() {
                let _ = out.push_str(" ");
            }
            let _ = out.push_str(text);
        }
    }
}

/// The final `ups.status` text: `ALARM` first while an alarm is active.
pub fn render(words: &Words, alarm: bool, out: &mut Text) {
    out.clear();
    if alarm {
        let _ = out.push_str("ALARM");
    }
    for w in words.iter() {
        if !out.is_empty() {
            let _ = out.push_str(" ");
        }
        let _ = out.push_str(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(tokens: &[&str], od: OnlineDischarge, charge: Option<i64>) -> String {
        let mut bits = 0;
        for t in tokens {
            apply_token(&mut bits, t);
        }
        let mut out = Text::new();
        let mut alarm = Text::new();
        alarms(bits, &mut alarm);
        render(&words(bits, od, charge), !alarm.is_empty(), &mut out);
        out.as_str().to_string()
    }

    #[test]
    fn rules() {
        let d = OnlineDischarge::default();
        assert_eq!(status(&["online", "!dischrg", "chrg"], d, Some(100)), "OL");
        assert_eq!(status(&["online", "chrg"], d, Some(50)), "OL CHRG");
        assert_eq!(
            status(&["online", "chrg", "fullycharged"], d, Some(50)),
            "OL"
        );
        assert_eq!(
            status(&["online", "chrg", "notfullycharged"], d, Some(100)),
            "OL CHRG"
        );
        assert_eq!(
            status(&["offline", "dischrg", "lowbatt"], d, None),
            "OB DISCHRG LB"
        );
        assert_eq!(status(&["dischrg"], d, None), "OB DISCHRG");
        assert_eq!(status(&["dischrg", "depleted"], d, None), "OB");
        assert_eq!(status(&["online", "dischrg"], d, None), "OL DISCHRG");
        let both = OnlineDischarge {
            calibration: true,
            onbattery: true,
        };
        assert_eq!(status(&["online", "dischrg"], both, None), "CAL OB DISCHRG");
        assert_eq!(status(&["online", "replacebatt"], d, None), "ALARM OL RB");
        assert_eq!(status(&["online", "offline"], d, None), "OB");
        assert_eq!(
            status(&["online", "boost", "off", "bypassman"], d, None),
            "ALARM OL BOOST BYPASS OFF"
        );
        // Unknown words are ignored; `!word` clears.
        assert_eq!(
            status(&["online", "normal", "overload", "!overload"], d, None),
            "OL"
        );
    }

    #[test]
    fn alarm_order_is_fixed() {
        let mut t = Text::try_new("Wiring fault!").unwrap();
        alarms(OVERHEAT | REPLACEBATT, &mut t);
        assert_eq!(
            t.as_str(),
            "Wiring fault! Replace battery! Temperature too high!"
        );
    }
}
