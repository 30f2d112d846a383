//! Names for UPSes adopted without configuration. A name must survive
//! unplug and replug and tell two identical units apart: the USB serial
//! number when the unit has one, else the port it is plugged into. Names
//! keep to NUT's safe characters (letters, digits, `-`, `_`, `.`).

use crate::device::usb::{usable_serial, UsbInfo};

/// The stable name: `<vendor>-<serial>` or `<vendor>-port<port path>`,
/// with `<vendor>` the subdriver key (`apc`, `mge`, `generic`, ...).
pub fn stable_name(vendor_key: &str, u: &UsbInfo) -> String {
    let tail = match usable_serial(u) {
        Some(s) => clean(s),
        None => format!("port{}", clean(&u.port)),
    };
    format!("{}-{}", clean(vendor_key), tail)
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_first_else_port() {
        let mut u = UsbInfo {
            serial: Some(" 4B1234P56789 ".into()),
            port: "1-1.2".into(),
            ..UsbInfo::default()
        };
        assert_eq!(stable_name("apc", &u), "apc-4b1234p56789");
        // No serial, or a serial of zeros: two identical units differ by port.
        u.serial = Some("000000".into());
        assert_eq!(stable_name("cps", &u), "cps-port1-1.2");
        u.serial = None;
        u.port = "3-4".into();
        assert_eq!(stable_name("cps", &u), "cps-port3-4");
        u.serial = Some("A/B C".into());
        assert_eq!(stable_name("mge", &u), "mge-a_b_c");
    }
}
