//! Descriptions for `GET DESC` and `GET CMDDESC`.
//!
//! upsd reads these from NUT's `cmdvartab`; hidupsd carries its own short
//! texts for the names a USB HID UPS publishes. Lookup is case-insensitive
//! like upsd's; an `upstream.` prefix is ignored (upsd strips it for
//! proxied names), and a numbered outlet (`outlet.2.status`) shares the
//! text of the generic name (`outlet.status`). A name with no text gets
//! [`UNAVAILABLE`] from the session.

/// What `DESC`/`CMDDESC` say when there is no text for a name.
pub const UNAVAILABLE: &str = "Description unavailable";

/// Text for variable `name`, if there is one.
pub fn var_desc(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix("upstream.").unwrap_or(name);
    find(VARS, name)
        .or_else(|| outlet_generic(VARS, name))
        .or_else(|| {
            PREFIXES
                .iter()
                .find(|(p, _)| starts_with_ci(name, p) && name.len() > p.len())
                .map(|&(_, d)| d)
        })
}

/// Text for instant command `name`, if there is one.
pub fn cmd_desc(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix("upstream.").unwrap_or(name);
    find(CMDS, name).or_else(|| outlet_generic(CMDS, name))
}

/// The `(name, text)` entries of a table of `name<TAB>text` lines.
fn entries(table: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    table.lines().filter_map(|l| l.split_once('\t'))
}

fn find(table: &'static str, name: &str) -> Option<&'static str> {
    entries(table)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, d)| d)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

const OUTLET: &str = "outlet.";

/// For `outlet.<n>.<rest>`, the entry of the generic `outlet.<rest>`.
fn outlet_generic(table: &'static str, name: &str) -> Option<&'static str> {
    if !starts_with_ci(name, OUTLET) {
        return None;
    }
    let rest = &name[OUTLET.len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.as_bytes().get(digits) != Some(&b'.') {
        return None;
    }
    let tail = &rest[digits + 1..];
    entries(table)
        .find(|(n, _)| starts_with_ci(n, OUTLET) && n[OUTLET.len()..].eq_ignore_ascii_case(tail))
        .map(|(_, d)| d)
}

/// Families whose members all share one text.
const PREFIXES: &[(&str, &str)] = &[
    ("driver.parameter.", "Driver setting from ups.conf"),
    ("driver.flag.", "Driver flag set in ups.conf"),
];

/// `name<TAB>text` lines: one string, rather than a table of pairs
/// whose every entry is two pointers and two relocations on flash.
#[rustfmt::skip]
const VARS: &str = "\
ups.status\tStatus words: OL on mains, OB on battery, LB battery low, and others\n\
ups.alarm\tAlarms the UPS currently reports\n\
ups.time\tTime of day on the UPS clock\n\
ups.date\tDate on the UPS clock\n\
ups.model\tUPS model name\n\
ups.mfr\tMaker of the UPS\n\
ups.mfr.date\tDate the UPS was made\n\
ups.serial\tSerial number of the UPS\n\
ups.vendorid\tUSB vendor ID of the UPS\n\
ups.productid\tUSB product ID of the UPS\n\
ups.firmware\tFirmware version of the UPS\n\
ups.firmware.aux\tFirmware version of an auxiliary part of the UPS\n\
ups.temperature\tTemperature inside the UPS (degrees C)\n\
ups.load\tLoad on the output (percent of capacity)\n\
ups.load.high\tLoad above which the UPS reports an overload (percent)\n\
ups.load.nominal\tRated load (percent)\n\
ups.id\tName the UPS was given\n\
ups.delay.start\tWait before the load is switched back on (seconds)\n\
ups.delay.reboot\tWait before the UPS reboots (seconds)\n\
ups.delay.shutdown\tWait between a delayed shutdown command and the load going off (seconds)\n\
ups.timer.start\tTime left until the load is switched on (seconds)\n\
ups.timer.reboot\tTime left until the UPS reboots (seconds)\n\
ups.timer.shutdown\tTime left until the load is switched off (seconds)\n\
ups.test.interval\tTime between automatic self-tests (seconds)\n\
ups.test.result\tOutcome of the last self-test\n\
ups.test.date\tDate of the last self-test\n\
ups.display.language\tLanguage of the front panel\n\
ups.contacts\tState of the external contacts\n\
ups.efficiency\tOutput power as a share of input power (percent)\n\
ups.power\tApparent output power (VA)\n\
ups.power.nominal\tRated apparent power (VA)\n\
ups.realpower\tReal output power (W)\n\
ups.realpower.nominal\tRated real power (W)\n\
ups.beeper.status\tAudible alarm: enabled, disabled or muted\n\
ups.type\tKind of UPS: offline, line-interactive or online\n\
ups.mode\tOperating mode of the UPS\n\
ups.mode.buzzwords\tMarketing names of the current operating mode\n\
experimental.ups.mode.buzzwords\tMarketing names of the current operating mode\n\
ups.watchdog.status\tState of the UPS watchdog\n\
ups.start.auto\tStart the UPS by itself when mains power returns\n\
ups.start.battery\tAllow starting the UPS on battery\n\
ups.start.reboot\tRestart the load if mains returns during a shutdown delay\n\
ups.shutdown\tAllow the UPS to switch itself off\n\
device.model\tDevice model name\n\
device.mfr\tMaker of the device\n\
device.serial\tSerial number of the device\n\
device.type\tKind of device (ups, pdu, ...)\n\
device.description\tDescription of the device\n\
device.contact\tPerson responsible for the device\n\
device.location\tWhere the device is\n\
device.part\tPart number of the device\n\
device.macaddr\tMAC address of the device\n\
device.uptime\tTime since the device started (seconds)\n\
device.count\tNumber of devices\n\
device.usb.version\tUSB version of the device\n\
device.country\tCountry the device is set up for\n\
battery.charge\tBattery charge (percent)\n\
battery.charge.low\tCharge below which the UPS reports low battery (percent)\n\
battery.charge.restart\tCharge needed to switch the load back on after a shutdown (percent)\n\
battery.charge.warning\tCharge below which the UPS warns (percent)\n\
battery.charger.status\tWhat the charger does: charging, discharging, floating or resting\n\
battery.voltage\tBattery voltage (V)\n\
battery.voltage.nominal\tRated battery voltage (V)\n\
battery.voltage.low\tBattery voltage at which the UPS reports low battery (V)\n\
battery.voltage.high\tBattery voltage of a full battery (V)\n\
battery.capacity\tBattery capacity (Ah)\n\
battery.capacity.nominal\tRated battery capacity (Ah)\n\
battery.current\tBattery current (A)\n\
battery.current.total\tTotal battery current (A)\n\
battery.temperature\tBattery temperature (degrees C)\n\
battery.runtime\tRuntime left on battery (seconds)\n\
battery.runtime.low\tRuntime below which the UPS reports low battery (seconds)\n\
battery.runtime.restart\tRuntime needed to switch the load back on after a shutdown (seconds)\n\
battery.runtime.elapsed\tTime spent on battery so far (seconds)\n\
battery.alarm.threshold\tWhen the battery alarm sounds\n\
battery.date\tDate the battery was fitted\n\
battery.mfr.date\tDate the battery was made\n\
battery.packs\tNumber of battery packs\n\
battery.packs.bad\tNumber of failed battery packs\n\
battery.packs.external\tNumber of external battery packs\n\
battery.type\tBattery chemistry\n\
battery.protection\tProtection against deep discharge\n\
battery.energysave\tSave energy while on battery\n\
battery.energysave.load\tLoad below which energy saving starts (percent)\n\
battery.energysave.delay\tWait before energy saving starts (minutes)\n\
battery.energysave.realpower\tPower below which energy saving starts (W)\n\
battery.status\tHealth of the battery\n\
input.voltage\tInput voltage (V)\n\
input.voltage.nominal\tRated input voltage (V)\n\
input.voltage.maximum\tHighest input voltage seen (V)\n\
input.voltage.minimum\tLowest input voltage seen (V)\n\
input.voltage.extended\tAccept a wider input voltage range\n\
input.voltage.status\tState of the input voltage\n\
input.current\tInput current (A)\n\
input.current.nominal\tRated input current (A)\n\
input.frequency\tInput frequency (Hz)\n\
input.frequency.nominal\tRated input frequency (Hz)\n\
input.frequency.extended\tAccept a wider input frequency range\n\
input.frequency.low\tLowest input frequency accepted (Hz)\n\
input.frequency.high\tHighest input frequency accepted (Hz)\n\
input.sensitivity\tHow strongly the UPS reacts to input disturbances\n\
input.transfer.low\tInput voltage below which the UPS goes to battery (V)\n\
input.transfer.high\tInput voltage above which the UPS goes to battery (V)\n\
input.transfer.low.min\tSmallest setting of input.transfer.low (V)\n\
input.transfer.low.max\tLargest setting of input.transfer.low (V)\n\
input.transfer.high.min\tSmallest setting of input.transfer.high (V)\n\
input.transfer.high.max\tLargest setting of input.transfer.high (V)\n\
input.transfer.boost.low\tInput voltage below which boosting starts (V)\n\
input.transfer.boost.high\tInput voltage above which boosting stops (V)\n\
input.transfer.trim.low\tInput voltage below which trimming stops (V)\n\
input.transfer.trim.high\tInput voltage above which trimming starts (V)\n\
input.transfer.reason\tWhy the UPS last went to battery\n\
input.transfer.delay\tWait before going to battery (seconds)\n\
input.source\tInput source in use\n\
input.realpower\tReal input power (W)\n\
input.power\tApparent input power (VA)\n\
input.bypass.voltage\tBypass input voltage (V)\n\
input.bypass.voltage.nominal\tRated bypass input voltage (V)\n\
input.bypass.current\tBypass input current (A)\n\
input.bypass.current.nominal\tRated bypass input current (A)\n\
input.bypass.frequency\tBypass input frequency (Hz)\n\
input.bypass.frequency.nominal\tRated bypass input frequency (Hz)\n\
input.bypass.switchable\tWhether the bypass can be switched\n\
output.voltage\tOutput voltage (V)\n\
output.voltage.nominal\tRated output voltage (V)\n\
output.current\tOutput current (A)\n\
output.current.nominal\tRated output current (A)\n\
output.frequency\tOutput frequency (Hz)\n\
output.frequency.nominal\tRated output frequency (Hz)\n\
output.powerfactor\tOutput power factor\n\
output.realpower\tReal output power (W)\n\
output.power\tApparent output power (VA)\n\
ambient.temperature\tTemperature around the UPS (degrees C)\n\
ambient.humidity\tRelative humidity around the UPS (percent)\n\
outlet.id\tOutlet identifier\n\
outlet.desc\tOutlet description\n\
outlet.designator\tOutlet label\n\
outlet.switch\tOutlet on/off control\n\
outlet.status\tWhether the outlet is on or off\n\
outlet.switchable\tWhether the outlet can be switched\n\
outlet.protect.status\tWhether the outlet is battery protected\n\
outlet.autoswitch.charge.low\tBattery charge at which the outlet is switched off (percent)\n\
outlet.delay.shutdown\tWait before the outlet is switched off (seconds)\n\
outlet.delay.start\tWait before the outlet is switched on (seconds)\n\
outlet.ecocontrol\tOutlet that switches the other outlets off when idle\n\
outlet.current\tOutlet current (A)\n\
outlet.power\tApparent power on the outlet (VA)\n\
outlet.realpower\tReal power on the outlet (W)\n\
outlet.powerfactor\tOutlet power factor\n\
outlet.voltage\tOutlet voltage (V)\n\
driver.name\tName of the driver\n\
driver.version\tVersion of the driver package\n\
driver.version.internal\tInternal version of the driver\n\
driver.version.data\tVersion of the driver's mapping table\n\
driver.version.usb\tUSB library the driver uses\n\
driver.state\tWhat the driver is doing\n\
driver.debug\tDebug level of the driver\n\
server.info\tServer name and version\n\
server.version\tServer version\n";

/// `name<TAB>text` lines: one string, rather than a table of pairs
/// whose every entry is two pointers and two relocations on flash.
#[rustfmt::skip]
const CMDS: &str = "\
load.off\tSwitch the load off now\n\
load.on\tSwitch the load on now\n\
load.off.delay\tSwitch the load off after a delay (seconds)\n\
load.on.delay\tSwitch the load on after a delay (seconds)\n\
shutdown.return\tSwitch the load off, and on again when mains power returns\n\
shutdown.stayoff\tSwitch the load off and keep it off\n\
shutdown.stop\tCancel a pending shutdown\n\
shutdown.reboot\tSwitch the load off and on again\n\
shutdown.reboot.graceful\tSwitch the load off and on again after a delay\n\
shutdown.default\tShut down the way the driver does by default\n\
test.panel.start\tStart a front panel test\n\
test.panel.stop\tStop a front panel test\n\
test.failure.start\tSimulate a mains failure\n\
test.failure.stop\tEnd a simulated mains failure\n\
test.battery.start\tStart a battery test\n\
test.battery.start.quick\tStart a short battery test\n\
test.battery.start.deep\tStart a full battery test\n\
test.battery.stop\tStop a battery test\n\
test.system.start\tStart a system test\n\
calibrate.start\tStart runtime calibration\n\
calibrate.stop\tStop runtime calibration\n\
bypass.start\tPut the load on bypass\n\
bypass.stop\tTake the load off bypass\n\
reset.input.minmax\tClear the lowest and highest input voltages seen\n\
reset.watchdog\tRestart the UPS watchdog timer\n\
beeper.enable\tTurn the audible alarm on\n\
beeper.disable\tTurn the audible alarm off\n\
beeper.mute\tSilence the audible alarm for now\n\
beeper.toggle\tTurn the audible alarm on or off\n\
beeper.on\tTurn the audible alarm on (old name)\n\
beeper.off\tTurn the audible alarm off (old name)\n\
outlet.load.off\tSwitch the outlet off\n\
outlet.load.on\tSwitch the outlet on\n\
outlet.load.cycle\tSwitch the outlet off and on again\n\
outlet.shutdown.return\tSwitch the outlet off, and on again when mains power returns\n\
experimental.ecomode.start\tEnter ECO mode\n\
experimental.ecomode.stop\tLeave ECO mode\n\
experimental.essmode.start\tEnter ESS mode\n\
experimental.essmode.stop\tLeave ESS mode\n\
experimental.bypass.ecomode.start\tEnter ECO mode on bypass\n\
experimental.bypass.ecomode.stop\tLeave ECO mode on bypass\n\
driver.killpower\tTell the UPS to cut the power (for the end of a shutdown)\n\
driver.reload\tReload the driver settings\n\
driver.reload-or-exit\tReload the driver settings, or restart the driver\n\
driver.reload-or-error\tReload the driver settings, or fail\n\
driver.exit\tStop the driver\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_variables_have_text() {
        for v in [
            "ups.status",
            "ups.load",
            "ups.mfr",
            "ups.model",
            "ups.serial",
            "ups.beeper.status",
            "ups.delay.shutdown",
            "ups.timer.shutdown",
            "ups.test.result",
            "device.mfr",
            "device.type",
            "battery.charge",
            "battery.charge.low",
            "battery.runtime",
            "battery.runtime.low",
            "battery.voltage",
            "battery.type",
            "input.voltage",
            "input.transfer.high",
            "output.voltage",
            "output.frequency.nominal",
            "driver.name",
            "driver.version.data",
        ] {
            assert!(var_desc(v).is_some_and(|d| !d.is_empty()), "{v}");
        }
    }

    #[test]
    fn lookup_rules() {
        assert_eq!(var_desc("BATTERY.CHARGE"), Some("Battery charge (percent)"));
        assert_eq!(
            var_desc("upstream.battery.charge"),
            Some("Battery charge (percent)")
        );
        assert_eq!(var_desc("outlet.2.status"), var_desc("outlet.status"));
        assert!(var_desc("outlet.2.status").is_some());
        assert_eq!(var_desc("outlet.x.status"), None);
        assert_eq!(var_desc("outlet.2.nothing"), None);
        assert_eq!(
            var_desc("driver.parameter.port"),
            Some("Driver setting from ups.conf")
        );
        assert_eq!(var_desc("driver.parameter."), None);
        assert_eq!(var_desc("no.such.var"), None);
        assert_eq!(cmd_desc("LOAD.OFF"), Some("Switch the load off now"));
        assert_eq!(cmd_desc("outlet.1.load.off"), Some("Switch the outlet off"));
        assert_eq!(cmd_desc("no.such.cmd"), None);
    }

    #[test]
    fn tables_have_unique_names_and_plain_text() {
        for table in [VARS, CMDS] {
            // Every line is an entry (a line without a tab would be lost).
            assert_eq!(entries(table).count(), table.lines().count());
            let all: Vec<(&str, &str)> = entries(table).collect();
            for (i, (n, d)) in all.iter().enumerate() {
                assert!(!n.is_empty(), "an entry without a name");
                assert!(!d.is_empty() && d.len() < 100, "{n}");
                assert!(!d.contains(['"', '\\', '#', '\t']), "{n}");
                assert!(
                    all[..i].iter().all(|(m, _)| !m.eq_ignore_ascii_case(n)),
                    "duplicate {n}"
                );
            }
        }
    }
}
