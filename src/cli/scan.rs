//! `hidupsd scan`: the UPS hidraw nodes present, and a ready-to-paste
//! `ups.conf` section for each, as `nut-scanner -U` prints them.

use crate::device::usb::UsbInfo;
use std::fmt::Write;
use std::path::Path;

/// `hidupsd scan`: every UPS among `/dev/hidraw*`, as a section.
pub fn run() -> Result<(), String> {
    let mut found = 0;
    for node in crate::sys::hotplug::scan(Path::new("/sys/class/hidraw")) {
        let path = format!("/dev/{node}");
        let Ok(crate::device::io::Found {
            dev,
            info,
            descriptor,
            ..
        }) = super::decode::open_ups(Path::new(&path))
        else {
            continue;
        };
        drop(dev);
        let key = crate::device::qxunit::subdriver_key(&descriptor, &info);
        let megatec = key == "megatec";
        let name = crate::device::naming::stable_name(key, &info);
        let mut section = conf_section(&name, &node, &info);
        if megatec {
            section = section.replacen("\"usbhid-ups\"", "\"nutdrv_qx\"", 1);
        }
        println!("{section}");
        found += 1;
    }
    if found == 0 {
        // Non-zero, as nut-scanner's callers expect of a scan that finds
        // nothing to configure.
        return Err("scan: no UPS found among /dev/hidraw* (or no permission to open them)".into());
    }
    Ok(())
}

/// One `ups.conf` section matching this device exactly.
pub fn conf_section(name: &str, node: &str, u: &UsbInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[{name}]\n\tdriver = \"usbhid-ups\"\n\tport = \"auto\"");
    let _ = writeln!(
        s,
        "\tvendorid = \"{:04X}\"\n\tproductid = \"{:04X}\"",
        u.vid, u.pid
    );
    let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    for (k, v) in [
        ("product", &u.product),
        ("serial", &u.serial),
        ("vendor", &u.manufacturer),
    ] {
        if let Some(v) = v {
            let _ = writeln!(s, "\t{k} = \"{}\"", esc(v.trim()));
        }
    }
    let _ = writeln!(s, "\tbus = \"{:03}\"", u.busnum);
    let _ = writeln!(s, "\t# {node}, USB port {}", u.port);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_like_nut_scanner() {
        let u = UsbInfo {
            vid: 0x051d,
            pid: 0x0002,
            manufacturer: Some("American Power Conversion".into()),
            product: Some("Back-UPS \"ES\"".into()),
            serial: Some("4B1234P56789  ".into()),
            busnum: 1,
            devnum: 7,
            port: "1-1.2".into(),
            ..UsbInfo::default()
        };
        assert_eq!(
            conf_section("apc-4b1234p56789", "hidraw0", &u),
            "[apc-4b1234p56789]\n\tdriver = \"usbhid-ups\"\n\tport = \"auto\"\n\tvendorid = \"051D\"\n\
             \tproductid = \"0002\"\n\tproduct = \"Back-UPS \\\"ES\\\"\"\n\tserial = \"4B1234P56789\"\n\
             \tvendor = \"American Power Conversion\"\n\tbus = \"001\"\n\t# hidraw0, USB port 1-1.2\n"
        );
    }
}
