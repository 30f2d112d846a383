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

fn find(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, d)| d)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

const OUTLET: &str = "outlet.";

/// For `outlet.<n>.<rest>`, the entry of the generic `outlet.<rest>`.
fn outlet_generic(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    if !starts_with_ci(name, OUTLET) {
        return None;
    }
    let rest = &name[OUTLET.len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.as_bytes().get(digits) != Some(&b'.') {
        return None;
    }
    let tail = &rest[digits + 1..];
    table
        .iter()
        .find(|(n, _)| starts_with_ci(n, OUTLET) && n[OUTLET.len()..].eq_ignore_ascii_case(tail))
        .map(|&(_, d)| d)
}

/// Families whose members all share one text.
const PREFIXES: &[(&str, &str)] = &[
    ("driver.parameter.", "Driver setting from ups.conf"),
    ("driver.flag.", "Driver flag set in ups.conf"),
];

#[rustfmt::skip]
const VARS: &[(&str, &str)] = &[
    // ups.*
    ("ups.status", "Status words: OL on mains, OB on battery, LB battery low, and others"),
    ("ups.alarm", "Alarms the UPS currently reports"),
    ("ups.time", "Time of day on the UPS clock"),
    ("ups.date", "Date on the UPS clock"),
    ("ups.model", "UPS model name"),
    ("ups.mfr", "Maker of the UPS"),
    ("ups.mfr.date", "Date the UPS was made"),
    ("ups.serial", "Serial number of the UPS"),
    ("ups.vendorid", "USB vendor ID of the UPS"),
    ("ups.productid", "USB product ID of the UPS"),
    ("ups.firmware", "Firmware version of the UPS"),
    ("ups.firmware.aux", "Firmware version of an auxiliary part of the UPS"),
    ("ups.temperature", "Temperature inside the UPS (degrees C)"),
    ("ups.load", "Load on the output (percent of capacity)"),
    ("ups.load.high", "Load above which the UPS reports an overload (percent)"),
    ("ups.load.nominal", "Rated load (percent)"),
    ("ups.id", "Name the UPS was given"),
    ("ups.delay.start", "Wait before the load is switched back on (seconds)"),
    ("ups.delay.reboot", "Wait before the UPS reboots (seconds)"),
    ("ups.delay.shutdown", "Wait between a delayed shutdown command and the load going off (seconds)"),
    ("ups.timer.start", "Time left until the load is switched on (seconds)"),
    ("ups.timer.reboot", "Time left until the UPS reboots (seconds)"),
    ("ups.timer.shutdown", "Time left until the load is switched off (seconds)"),
    ("ups.test.interval", "Time between automatic self-tests (seconds)"),
    ("ups.test.result", "Outcome of the last self-test"),
    ("ups.test.date", "Date of the last self-test"),
    ("ups.display.language", "Language of the front panel"),
    ("ups.contacts", "State of the external contacts"),
    ("ups.efficiency", "Output power as a share of input power (percent)"),
    ("ups.power", "Apparent output power (VA)"),
    ("ups.power.nominal", "Rated apparent power (VA)"),
    ("ups.realpower", "Real output power (W)"),
    ("ups.realpower.nominal", "Rated real power (W)"),
    ("ups.beeper.status", "Audible alarm: enabled, disabled or muted"),
    ("ups.type", "Kind of UPS: offline, line-interactive or online"),
    ("ups.mode", "Operating mode of the UPS"),
    ("ups.mode.buzzwords", "Marketing names of the current operating mode"),
    ("experimental.ups.mode.buzzwords", "Marketing names of the current operating mode"),
    ("ups.watchdog.status", "State of the UPS watchdog"),
    ("ups.start.auto", "Start the UPS by itself when mains power returns"),
    ("ups.start.battery", "Allow starting the UPS on battery"),
    ("ups.start.reboot", "Restart the load if mains returns during a shutdown delay"),
    ("ups.shutdown", "Allow the UPS to switch itself off"),
    // device.*
    ("device.model", "Device model name"),
    ("device.mfr", "Maker of the device"),
    ("device.serial", "Serial number of the device"),
    ("device.type", "Kind of device (ups, pdu, ...)"),
    ("device.description", "Description of the device"),
    ("device.contact", "Person responsible for the device"),
    ("device.location", "Where the device is"),
    ("device.part", "Part number of the device"),
    ("device.macaddr", "MAC address of the device"),
    ("device.uptime", "Time since the device started (seconds)"),
    ("device.count", "Number of devices"),
    ("device.usb.version", "USB version of the device"),
    ("device.country", "Country the device is set up for"),
    // battery.*
    ("battery.charge", "Battery charge (percent)"),
    ("battery.charge.low", "Charge below which the UPS reports low battery (percent)"),
    ("battery.charge.restart", "Charge needed to switch the load back on after a shutdown (percent)"),
    ("battery.charge.warning", "Charge below which the UPS warns (percent)"),
    ("battery.charger.status", "What the charger does: charging, discharging, floating or resting"),
    ("battery.voltage", "Battery voltage (V)"),
    ("battery.voltage.nominal", "Rated battery voltage (V)"),
    ("battery.voltage.low", "Battery voltage at which the UPS reports low battery (V)"),
    ("battery.voltage.high", "Battery voltage of a full battery (V)"),
    ("battery.capacity", "Battery capacity (Ah)"),
    ("battery.capacity.nominal", "Rated battery capacity (Ah)"),
    ("battery.current", "Battery current (A)"),
    ("battery.current.total", "Total battery current (A)"),
    ("battery.temperature", "Battery temperature (degrees C)"),
    ("battery.runtime", "Runtime left on battery (seconds)"),
    ("battery.runtime.low", "Runtime below which the UPS reports low battery (seconds)"),
    ("battery.runtime.restart", "Runtime needed to switch the load back on after a shutdown (seconds)"),
    ("battery.runtime.elapsed", "Time spent on battery so far (seconds)"),
    ("battery.alarm.threshold", "When the battery alarm sounds"),
    ("battery.date", "Date the battery was fitted"),
    ("battery.mfr.date", "Date the battery was made"),
    ("battery.packs", "Number of battery packs"),
    ("battery.packs.bad", "Number of failed battery packs"),
    ("battery.packs.external", "Number of external battery packs"),
    ("battery.type", "Battery chemistry"),
    ("battery.protection", "Protection against deep discharge"),
    ("battery.energysave", "Save energy while on battery"),
    ("battery.energysave.load", "Load below which energy saving starts (percent)"),
    ("battery.energysave.delay", "Wait before energy saving starts (minutes)"),
    ("battery.energysave.realpower", "Power below which energy saving starts (W)"),
    ("battery.status", "Health of the battery"),
    // input.*
    ("input.voltage", "Input voltage (V)"),
    ("input.voltage.nominal", "Rated input voltage (V)"),
    ("input.voltage.maximum", "Highest input voltage seen (V)"),
    ("input.voltage.minimum", "Lowest input voltage seen (V)"),
    ("input.voltage.extended", "Accept a wider input voltage range"),
    ("input.voltage.status", "State of the input voltage"),
    ("input.current", "Input current (A)"),
    ("input.current.nominal", "Rated input current (A)"),
    ("input.frequency", "Input frequency (Hz)"),
    ("input.frequency.nominal", "Rated input frequency (Hz)"),
    ("input.frequency.extended", "Accept a wider input frequency range"),
    ("input.frequency.low", "Lowest input frequency accepted (Hz)"),
    ("input.frequency.high", "Highest input frequency accepted (Hz)"),
    ("input.sensitivity", "How strongly the UPS reacts to input disturbances"),
    ("input.transfer.low", "Input voltage below which the UPS goes to battery (V)"),
    ("input.transfer.high", "Input voltage above which the UPS goes to battery (V)"),
    ("input.transfer.low.min", "Smallest setting of input.transfer.low (V)"),
    ("input.transfer.low.max", "Largest setting of input.transfer.low (V)"),
    ("input.transfer.high.min", "Smallest setting of input.transfer.high (V)"),
    ("input.transfer.high.max", "Largest setting of input.transfer.high (V)"),
    ("input.transfer.boost.low", "Input voltage below which boosting starts (V)"),
    ("input.transfer.boost.high", "Input voltage above which boosting stops (V)"),
    ("input.transfer.trim.low", "Input voltage below which trimming stops (V)"),
    ("input.transfer.trim.high", "Input voltage above which trimming starts (V)"),
    ("input.transfer.reason", "Why the UPS last went to battery"),
    ("input.transfer.delay", "Wait before going to battery (seconds)"),
    ("input.source", "Input source in use"),
    ("input.realpower", "Real input power (W)"),
    ("input.power", "Apparent input power (VA)"),
    ("input.bypass.voltage", "Bypass input voltage (V)"),
    ("input.bypass.voltage.nominal", "Rated bypass input voltage (V)"),
    ("input.bypass.current", "Bypass input current (A)"),
    ("input.bypass.current.nominal", "Rated bypass input current (A)"),
    ("input.bypass.frequency", "Bypass input frequency (Hz)"),
    ("input.bypass.frequency.nominal", "Rated bypass input frequency (Hz)"),
    ("input.bypass.switchable", "Whether the bypass can be switched"),
    // output.*
    ("output.voltage", "Output voltage (V)"),
    ("output.voltage.nominal", "Rated output voltage (V)"),
    ("output.current", "Output current (A)"),
    ("output.current.nominal", "Rated output current (A)"),
    ("output.frequency", "Output frequency (Hz)"),
    ("output.frequency.nominal", "Rated output frequency (Hz)"),
    ("output.powerfactor", "Output power factor"),
    ("output.realpower", "Real output power (W)"),
    ("output.power", "Apparent output power (VA)"),
    // ambient.*
    ("ambient.temperature", "Temperature around the UPS (degrees C)"),
    ("ambient.humidity", "Relative humidity around the UPS (percent)"),
    // outlet.* (numbered outlets fall back to these)
    ("outlet.id", "Outlet identifier"),
    ("outlet.desc", "Outlet description"),
    ("outlet.designator", "Outlet label"),
    ("outlet.switch", "Outlet on/off control"),
    ("outlet.status", "Whether the outlet is on or off"),
    ("outlet.switchable", "Whether the outlet can be switched"),
    ("outlet.protect.status", "Whether the outlet is battery protected"),
    ("outlet.autoswitch.charge.low", "Battery charge at which the outlet is switched off (percent)"),
    ("outlet.delay.shutdown", "Wait before the outlet is switched off (seconds)"),
    ("outlet.delay.start", "Wait before the outlet is switched on (seconds)"),
    ("outlet.ecocontrol", "Outlet that switches the other outlets off when idle"),
    ("outlet.current", "Outlet current (A)"),
    ("outlet.power", "Apparent power on the outlet (VA)"),
    ("outlet.realpower", "Real power on the outlet (W)"),
    ("outlet.powerfactor", "Outlet power factor"),
    ("outlet.voltage", "Outlet voltage (V)"),
    // driver.*
    ("driver.name", "Name of the driver"),
    ("driver.version", "Version of the driver package"),
    ("driver.version.internal", "Internal version of the driver"),
    ("driver.version.data", "Version of the driver's mapping table"),
    ("driver.version.usb", "USB library the driver uses"),
    ("driver.state", "What the driver is doing"),
    ("driver.debug", "Debug level of the driver"),
    // server.*
    ("server.info", "Server name and version"),
    ("server.version", "Server version"),
];

#[rustfmt::skip]
const CMDS: &[(&str, &str)] = &[
    ("load.off", "Switch the load off now"),
    ("load.on", "Switch the load on now"),
    ("load.off.delay", "Switch the load off after a delay (seconds)"),
    ("load.on.delay", "Switch the load on after a delay (seconds)"),
    ("shutdown.return", "Switch the load off, and on again when mains power returns"),
    ("shutdown.stayoff", "Switch the load off and keep it off"),
    ("shutdown.stop", "Cancel a pending shutdown"),
    ("shutdown.reboot", "Switch the load off and on again"),
    ("shutdown.reboot.graceful", "Switch the load off and on again after a delay"),
    ("shutdown.default", "Shut down the way the driver does by default"),
    ("test.panel.start", "Start a front panel test"),
    ("test.panel.stop", "Stop a front panel test"),
    ("test.failure.start", "Simulate a mains failure"),
    ("test.failure.stop", "End a simulated mains failure"),
    ("test.battery.start", "Start a battery test"),
    ("test.battery.start.quick", "Start a short battery test"),
    ("test.battery.start.deep", "Start a full battery test"),
    ("test.battery.stop", "Stop a battery test"),
    ("test.system.start", "Start a system test"),
    ("calibrate.start", "Start runtime calibration"),
    ("calibrate.stop", "Stop runtime calibration"),
    ("bypass.start", "Put the load on bypass"),
    ("bypass.stop", "Take the load off bypass"),
    ("reset.input.minmax", "Clear the lowest and highest input voltages seen"),
    ("reset.watchdog", "Restart the UPS watchdog timer"),
    ("beeper.enable", "Turn the audible alarm on"),
    ("beeper.disable", "Turn the audible alarm off"),
    ("beeper.mute", "Silence the audible alarm for now"),
    ("beeper.toggle", "Turn the audible alarm on or off"),
    ("beeper.on", "Turn the audible alarm on (old name)"),
    ("beeper.off", "Turn the audible alarm off (old name)"),
    ("outlet.load.off", "Switch the outlet off"),
    ("outlet.load.on", "Switch the outlet on"),
    ("outlet.load.cycle", "Switch the outlet off and on again"),
    ("outlet.shutdown.return", "Switch the outlet off, and on again when mains power returns"),
    ("experimental.ecomode.start", "Enter ECO mode"),
    ("experimental.ecomode.stop", "Leave ECO mode"),
    ("experimental.essmode.start", "Enter ESS mode"),
    ("experimental.essmode.stop", "Leave ESS mode"),
    ("experimental.bypass.ecomode.start", "Enter ECO mode on bypass"),
    ("experimental.bypass.ecomode.stop", "Leave ECO mode on bypass"),
    ("driver.killpower", "Tell the UPS to cut the power (for the end of a shutdown)"),
    ("driver.reload", "Reload the driver settings"),
    ("driver.reload-or-exit", "Reload the driver settings, or restart the driver"),
    ("driver.reload-or-error", "Reload the driver settings, or fail"),
    ("driver.exit", "Stop the driver"),
];

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
            for (i, (n, d)) in table.iter().enumerate() {
                assert!(!d.is_empty() && d.len() < 100, "{n}");
                assert!(!d.contains(['"', '\\', '#']), "{n}");
                assert!(
                    table[..i].iter().all(|(m, _)| !m.eq_ignore_ascii_case(n)),
                    "duplicate {n}"
                );
            }
        }
    }
}
