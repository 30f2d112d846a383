//! hidupsd's own table for Power Devices no NUT subdriver claims (NUT
//! serves nothing for them). It maps only the paths the HID Power Device
//! class defines (pages 0x84 and 0x85), so any conforming UPS publishes its
//! charge, runtime, voltages and status. Hand-written, not from NUT; its
//! strings live in the tables' shared string data, which
//! `tools/import-nut-tables.py` fills with every literal of `ENTRIES`.

use super::table::{hu, st, Entry, LookupId, Str, Subdriver};
use super::tables::{lookups as l, usages};

const RW: u8 = st::RW | st::STRING;
const Q: u8 = hu::QUICK_POLL;

const fn entry(name: &str, path: &str, fmt: Option<&str>, st: u8, hu: u8, len: u8) -> Entry {
    Entry {
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
const fn var(name: &str, path: &str, fmt: &str) -> Entry {
    entry(name, path, Some(fmt), 0, 0, 0)
}
const fn quick(name: &str, path: &str, fmt: &str) -> Entry {
    entry(name, path, Some(fmt), 0, Q, 0)
}
const fn rw(name: &str, path: &str) -> Entry {
    entry(name, path, Some("%.0f"), RW, hu::SEMI_STATIC, 10)
}
const fn conv(name: &str, path: &str, lk: LookupId) -> Entry {
    Entry {
        lookup: lk,
        ..entry(name, path, Some("%s"), 0, 0, 0)
    }
}
const fn bit(path: &str, lk: LookupId) -> Entry {
    Entry {
        lookup: lk,
        ..entry("BOOL", path, None, 0, Q, 0)
    }
}
const fn absent(name: &str, path: &str, dfl: &str) -> Entry {
    entry(name, path, Some(dfl), RW, hu::ABSENT, 10)
}
const fn cmd(name: &str, path: &str, value: Option<&str>) -> Entry {
    entry(name, path, value, 0, hu::CMD, 0)
}

#[rustfmt::skip]
static ENTRIES: &[Entry] = &[
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
    conv("battery.temperature", "UPS.Battery.Temperature", l::KELVIN_CELSIUS_CONVERSION),
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
