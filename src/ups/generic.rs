//! hidupsd's own table for Power Devices no NUT subdriver claims (NUT
//! serves nothing for them). It maps only the paths the HID Power Device
//! class defines (pages 0x84 and 0x85), so any conforming UPS publishes its
//! charge, runtime, voltages and status. Hand-written, not from NUT; its
//! strings live in the tables' shared string data, which
//! `tools/import-nut-tables.py` fills with every literal of `ENTRIES`.
//!
//! Unlike a vendor table, which knows its units, this table sees what any
//! device declares, so the engine passes each value through [`adjust`]
//! first: capacities become percentages by CapacityMode and unit,
//! temperatures become degrees Celsius, and a field's all-ones "not
//! available" value is left out (`docs/differences.md`, "Unknown vendors").

use super::table::{hu, st, LookupId, MapEntry, Str, Subdriver};
use super::tables::{lookups as l, usages};
use crate::hid::{report, Field};

const RW: u8 = st::RW | st::STRING;
const Q: u8 = hu::QUICK_POLL;

const fn entry(name: &str, path: &str, fmt: Option<&str>, st: u8, hu: u8, len: u8) -> MapEntry {
    MapEntry {
        name: Str::of(name),
        path: Str::of(path),
        fmt: match fmt {
            Some(f) => Str::of(f),
            None => Str::NONE,
        },
        st,
        hu,
        len,
        lookup: LookupId::NONE,
    }
}
const fn var(name: &str, path: &str, fmt: &str) -> MapEntry {
    entry(name, path, Some(fmt), 0, 0, 0)
}
const fn quick(name: &str, path: &str, fmt: &str) -> MapEntry {
    entry(name, path, Some(fmt), 0, Q, 0)
}
const fn rw(name: &str, path: &str) -> MapEntry {
    entry(name, path, Some("%.0f"), RW, hu::SEMI_STATIC, 10)
}
const fn conv(name: &str, path: &str, lk: LookupId) -> MapEntry {
    MapEntry {
        lookup: lk,
        ..entry(name, path, Some("%s"), 0, 0, 0)
    }
}
const fn bit(path: &str, lk: LookupId) -> MapEntry {
    MapEntry {
        lookup: lk,
        ..entry("BOOL", path, None, 0, Q, 0)
    }
}
const fn absent(name: &str, path: &str, dfl: &str) -> MapEntry {
    entry(name, path, Some(dfl), RW, hu::ABSENT, 10)
}
const fn cmd(name: &str, path: &str, value: Option<&str>) -> MapEntry {
    entry(name, path, value, 0, hu::CMD, 0)
}

#[rustfmt::skip]
static ENTRIES: &[MapEntry] = &[
    quick("battery.charge", "UPS.PowerSummary.RemainingCapacity", "%.0f"),
    quick("battery.charge", "UPS.Battery.RemainingCapacity", "%.0f"),
    rw("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit"),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", "%.0f"),
    quick("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", "%.0f"),
    quick("battery.runtime", "UPS.Battery.RunTimeToEmpty", "%.0f"),
    rw("battery.runtime.low", "UPS.PowerSummary.RemainingTimeLimit"),
    var("battery.voltage", "UPS.PowerSummary.Voltage", "%.1f"),
    var("battery.voltage", "UPS.Battery.Voltage", "%.1f"),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", "%.1f"),
    var("battery.voltage.nominal", "UPS.Battery.ConfigVoltage", "%.1f"),
    var("battery.temperature", "UPS.Battery.Temperature", "%.1f"),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", l::STRINGID_CONVERSION),
    conv("battery.mfr.date", "UPS.PowerSummary.ManufacturerDate", l::DATE_CONVERSION),
    conv("battery.mfr.date", "UPS.Battery.ManufacturerDate", l::DATE_CONVERSION),
    var("input.voltage", "UPS.Input.Voltage", "%.1f"),
    var("input.frequency", "UPS.Input.Frequency", "%.1f"),
    var("input.voltage.nominal", "UPS.Input.ConfigVoltage", "%.0f"),
    var("input.transfer.low", "UPS.Input.LowVoltageTransfer", "%.0f"),
    var("input.transfer.high", "UPS.Input.HighVoltageTransfer", "%.0f"),
    var("output.voltage", "UPS.Output.Voltage", "%.1f"),
    var("output.frequency", "UPS.Output.Frequency", "%.1f"),
    var("output.current", "UPS.Output.Current", "%.2f"),
    var("output.voltage.nominal", "UPS.Output.ConfigVoltage", "%.0f"),
    var("ups.load", "UPS.Output.PercentLoad", "%.0f"),
    var("ups.load", "UPS.PowerSummary.PercentLoad", "%.0f"),
    var("ups.power.nominal", "UPS.Output.ConfigApparentPower", "%.0f"),
    var("ups.realpower.nominal", "UPS.Output.ConfigActivePower", "%.0f"),
    var("ups.temperature", "UPS.PowerSummary.Temperature", "%.1f"),
    conv("ups.test.result", "UPS.Battery.Test", l::TEST_READ_INFO),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", l::BEEPER_INFO),
    absent("ups.delay.start", "UPS.PowerSummary.DelayBeforeStartup", "30"),
    absent("ups.delay.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", "20"),
    quick("ups.timer.start", "UPS.PowerSummary.DelayBeforeStartup", "%.0f"),
    quick("ups.timer.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", "%.0f"),
    quick("ups.timer.reboot", "UPS.PowerSummary.DelayBeforeReboot", "%.0f"),
    bit("UPS.PowerSummary.PresentStatus.ACPresent", l::ONLINE_INFO),
    bit("UPS.PowerSummary.PresentStatus.Discharging", l::DISCHARGING_INFO),
    bit("UPS.PowerSummary.PresentStatus.Charging", l::CHARGING_INFO),
    bit("UPS.PowerSummary.PresentStatus.FullyCharged", l::FULLYCHARGED_INFO),
    bit("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", l::LOWBATT_INFO),
    bit("UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired", l::TIMELIMITEXPIRED_INFO),
    bit("UPS.PowerSummary.PresentStatus.ShutdownImminent", l::SHUTDOWNIMM_INFO),
    bit("UPS.PowerSummary.PresentStatus.NeedReplacement", l::REPLACEBATT_INFO),
    bit("UPS.PowerSummary.PresentStatus.BatteryPresent", l::NOBATTERY_INFO),
    bit("UPS.PowerSummary.PresentStatus.Overload", l::OVERLOAD_INFO),
    bit("UPS.PowerSummary.PresentStatus.Boost", l::BOOST_INFO),
    bit("UPS.PowerSummary.PresentStatus.Buck", l::TRIM_INFO),
    bit("UPS.PowerSummary.PresentStatus.OverTemperature", l::OVERHEAT_INFO),
    bit("UPS.PowerSummary.PresentStatus.InternalFailure", l::COMMFAULT_INFO),
    bit("UPS.PowerSummary.PresentStatus.CommunicationLost", l::COMMFAULT_INFO),
    bit("UPS.PowerSummary.PresentStatus.VoltageOutOfRange", l::VRANGE_INFO),
    bit("UPS.PowerSummary.PresentStatus.FrequencyOutOfRange", l::FRANGE_INFO),
    bit("UPS.PowerSummary.PresentStatus.AwaitingPower", l::AWAITINGPOWER_INFO),
    bit("UPS.PowerSummary.ACPresent", l::ONLINE_INFO),
    bit("UPS.PowerSummary.Discharging", l::DISCHARGING_INFO),
    bit("UPS.PowerSummary.Charging", l::CHARGING_INFO),
    bit("UPS.PowerSummary.BelowRemainingCapacityLimit", l::LOWBATT_INFO),
    bit("UPS.PowerSummary.ShutdownImminent", l::SHUTDOWNIMM_INFO),
    bit("UPS.PowerSummary.NeedReplacement", l::REPLACEBATT_INFO),
    cmd("test.battery.start.quick", "UPS.Battery.Test", Some("1")),
    cmd("test.battery.start.deep", "UPS.Battery.Test", Some("2")),
    cmd("test.battery.stop", "UPS.Battery.Test", Some("3")),
    cmd("load.off.delay", "UPS.PowerSummary.DelayBeforeShutdown", None),
    cmd("load.on.delay", "UPS.PowerSummary.DelayBeforeStartup", None),
    cmd("shutdown.stop", "UPS.PowerSummary.DelayBeforeShutdown", Some("-1")),
    cmd("shutdown.reboot", "UPS.PowerSummary.DelayBeforeReboot", Some("10")),
    cmd("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", Some("2")),
    cmd("beeper.disable", "UPS.PowerSummary.AudibleAlarmControl", Some("1")),
    cmd("beeper.mute", "UPS.PowerSummary.AudibleAlarmControl", Some("3")),
];

/// The generic subdriver: standard usages only.
pub static SUBDRIVER: Subdriver = Subdriver {
    key: "generic",
    name: "hidupsd generic HID 0.1",
    usages: &[usages::GENERIC],
    map: ENTRIES,
};

/// Whether `sub` is this table (the engine adjusts its values).
pub fn is(sub: &Subdriver) -> bool {
    core::ptr::eq(sub, &SUBDRIVER)
}

/// Usage codes (`page << 16 | id`) the adjustments key on.
pub mod usage {
    pub const REMAINING_CAPACITY_LIMIT: u32 = 0x0085_0029;
    pub const CAPACITY_MODE: u32 = 0x0085_002c;
    pub const REMAINING_CAPACITY: u32 = 0x0085_0066;
    pub const FULL_CHARGE_CAPACITY: u32 = 0x0085_0067;
    pub const DESIGN_CAPACITY: u32 = 0x0085_0083;
    pub const WARNING_CAPACITY_LIMIT: u32 = 0x0085_008c;
    pub const TEMPERATURE: u32 = 0x0084_0036;
}

/// What a field's value needs before the table formats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Published as decoded.
    Plain,
    /// A battery capacity (remaining, or a limit): published in percent.
    Capacity,
    /// A temperature: published in degrees Celsius.
    Temperature,
}

/// The adjustment for a field whose own usage is `usage`.
pub fn adjustment(usage: u32) -> Adjustment {
    match usage {
        usage::REMAINING_CAPACITY
        | usage::REMAINING_CAPACITY_LIMIT
        | usage::WARNING_CAPACITY_LIMIT => Adjustment::Capacity,
        usage::TEMPERATURE => Adjustment::Temperature,
        _ => Adjustment::Plain,
    }
}

/// How a device counts its battery capacity (HID Power Device class,
/// CapacityMode: 0 mAh, 1 mWh, 2 percent, 3 boolean support only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basis {
    /// Capacities are percentages already.
    Percent,
    /// Capacities are absolute (charge or energy); this is a full battery
    /// in the same unit.
    Of(f64),
    /// Capacities carry no usable number: boolean-only support, or an
    /// absolute unit with no full or design capacity to divide by.
    None,
}

/// The basis from the CapacityMode value (if the device has the field),
/// the capacity field's unit code, and its FullChargeCapacity and
/// DesignCapacity (scaled like the capacity itself). Without a
/// CapacityMode a declared physical unit (such as ampere-seconds) means
/// absolute, no unit means percent.
pub fn basis(mode: Option<i64>, unit: u32, full: Option<f64>, design: Option<f64>) -> Basis {
    let absolute = match mode {
        Some(0 | 1) => true,
        Some(2) => false,
        Some(3) => return Basis::None,
        _ => unit != 0,
    };
    if !absolute {
        return Basis::Percent;
    }
    match [full, design].into_iter().flatten().find(|&c| c > 0.0) {
        Some(c) => Basis::Of(c),
        None => Basis::None,
    }
}

/// A capacity in percent of a full battery (at most 100: a unit that
/// reports a little more than its last full charge is full).
pub fn percent(value: f64, basis: Basis) -> Option<f64> {
    match basis {
        Basis::Percent => Some(value),
        Basis::Of(full) => Some((value * 100.0 / full).clamp(0.0, 100.0)),
        Basis::None => None,
    }
}

/// A percentage to write back in the device's own capacity unit.
pub fn from_percent(pct: f64, basis: Basis) -> Option<f64> {
    match basis {
        Basis::Percent => Some(pct),
        Basis::Of(full) => Some(pct * full / 100.0),
        Basis::None => None,
    }
}

/// A temperature in degrees Celsius from a field with unit code `unit`.
/// Kelvin when the unit says so (SI systems), Fahrenheit for the English
/// systems; with no unit, NUT's rule: a value from 273 to 373 is taken
/// as kelvins, any other as Celsius already.
pub fn celsius(value: f64, unit: u32) -> f64 {
    let system = unit & 0xf;
    let temp = (unit >> 16) & 0xf;
    match (system, temp) {
        (1 | 2, 1) => value - 273.15,
        (3 | 4, 1) => (value - 32.0) * 5.0 / 9.0,
        _ if (273.0..=373.0).contains(&value) => value - 273.15,
        _ => value,
    }
}

/// The device's "not available" value: the field's raw bits are all ones
/// and lie outside its logical range (NUT's clamp would turn them into
/// the range's maximum, a reading the device never meant: GXT5's
/// RemainingTimeLimit 0xFFFFFF became 16777214). Fields of 1 bit are
/// flags, never sentinels.
pub fn not_available(buf: &[u8], f: &Field) -> bool {
    if f.bit_size < 2 || f.bit_size > 32 {
        return false;
    }
    let ones = if f.bit_size == 32 {
        u32::MAX
    } else {
        (1u32 << f.bit_size) - 1
    };
    match report::raw(buf, f.bit_offset, f.bit_size) {
        Some(raw) if raw == ones => {
            let signed_minus_one = f.logical_min < 0;
            !signed_minus_one && (ones as i64) > f.logical_max
        }
        _ => false,
    }
}

/// The value to publish, `None` to leave the variable out. `basis` is
/// consulted for capacities only.
pub fn adjust(kind: Adjustment, value: f64, unit: u32, basis: Basis) -> Option<f64> {
    match kind {
        Adjustment::Plain => Some(value),
        Adjustment::Capacity => percent(value, basis),
        Adjustment::Temperature => Some(celsius(value, unit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid::{Field, Path, ReportType};

    const AMPERE_SECONDS: u32 = 0x0010_1001;
    const KELVIN: u32 = 0x0001_0001;
    const FAHRENHEIT: u32 = 0x0001_0003;

    #[test]
    fn capacity_mode_decides_the_basis() {
        // 5131:2007: CapacityMode 0, full = remaining = 400 ampere-seconds.
        let b = basis(Some(0), AMPERE_SECONDS, Some(400.0), Some(400.0));
        assert_eq!(b, Basis::Of(400.0));
        assert_eq!(percent(400.0, b), Some(100.0));
        assert_eq!(percent(40.0, b), Some(10.0));
        assert_eq!(percent(500.0, b), Some(100.0));
        // mWh counts as absolute too; design capacity when full is 0.
        assert_eq!(basis(Some(1), 0, Some(0.0), Some(50.0)), Basis::Of(50.0));
        assert_eq!(
            basis(Some(2), AMPERE_SECONDS, Some(400.0), None),
            Basis::Percent
        );
        assert_eq!(basis(Some(3), 0, Some(400.0), None), Basis::None);
        // No CapacityMode field: the unit decides.
        assert_eq!(basis(None, 0, None, None), Basis::Percent);
        assert_eq!(
            basis(None, AMPERE_SECONDS, Some(7200.0), None),
            Basis::Of(7200.0)
        );
        // Absolute with nothing to divide by: no number at all.
        assert_eq!(basis(Some(0), AMPERE_SECONDS, None, Some(0.0)), Basis::None);
        assert_eq!(percent(10.0, Basis::None), None);
        assert_eq!(percent(87.0, Basis::Percent), Some(87.0));
        assert_eq!(from_percent(10.0, Basis::Of(400.0)), Some(40.0));
        assert_eq!(from_percent(10.0, Basis::Percent), Some(10.0));
        assert_eq!(from_percent(10.0, Basis::None), None);
    }

    #[test]
    fn temperatures_become_celsius() {
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(near(celsius(300.0, KELVIN), 26.85));
        assert!(near(celsius(250.0, KELVIN), -23.15));
        assert!(near(celsius(212.0, FAHRENHEIT), 100.0));
        // No unit: NUT's plausibility rule.
        assert!(near(celsius(300.0, 0), 26.85));
        assert!(near(celsius(35.0, 0), 35.0));
        assert_eq!(adjustment(usage::TEMPERATURE), Adjustment::Temperature);
        assert_eq!(adjustment(usage::REMAINING_CAPACITY), Adjustment::Capacity);
        assert_eq!(adjustment(usage::FULL_CHARGE_CAPACITY), Adjustment::Plain);
        assert_eq!(
            adjust(Adjustment::Plain, 7.0, KELVIN, Basis::None),
            Some(7.0)
        );
    }

    fn field(bits: u32, min: i64, max: i64) -> Field {
        Field {
            report_id: 1,
            kind: ReportType::Feature,
            bit_offset: 0,
            bit_size: bits,
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

    #[test]
    fn all_ones_outside_the_range_is_not_available() {
        // GXT5: 24-bit 0..16777214 and 16-bit 0..65534 holding all ones.
        assert!(not_available(
            &[5, 0xff, 0xff, 0xff],
            &field(24, 0, 16_777_214)
        ));
        assert!(not_available(&[7, 0xff, 0xff], &field(16, 0, 65_534)));
        assert!(!not_available(&[7, 0xfe, 0xff], &field(16, 0, 65_534)));
        // All ones inside the range is a reading (255 of 0..255).
        assert!(!not_available(&[7, 0xff], &field(8, 0, 255)));
        // Signed: all ones is -1.
        assert!(!not_available(&[7, 0xff, 0xff], &field(16, -100, 100)));
        // A set flag bit is no sentinel; a short buffer is no sentinel.
        assert!(!not_available(&[7, 0x01], &field(1, 0, 0)));
        assert!(!not_available(&[7], &field(16, 0, 100)));
    }
}
