//! Reading what the kernel knows about a hidraw node's USB device from
//! sysfs into a [`UsbInfo`]. Shell code (it reads files); the struct and
//! the decisions about it are in [`super::usb`].

use super::usb::UsbInfo;
use std::path::Path;

fn attr(dir: &Path, name: &str) -> Option<String> {
    let s = std::fs::read_to_string(dir.join(name)).ok()?;
    let s = s.trim_end_matches('\n').to_string();
    (!s.is_empty()).then_some(s)
}

impl UsbInfo {
    /// Identity of `/dev/hidrawN` (or just `hidrawN`) from
    /// `/sys/class/hidraw/hidrawN/device/..` (the USB interface) and its
    /// parent (the USB device). `None` if the node is not on USB.
    pub fn for_hidraw(node: &str) -> Option<UsbInfo> {
        Self::for_hidraw_in(Path::new("/sys/class/hidraw"), node)
    }

    /// As [`UsbInfo::for_hidraw`], with another sysfs root (tests).
    pub fn for_hidraw_in(class: &Path, node: &str) -> Option<UsbInfo> {
        let name = Path::new(node).file_name()?.to_str()?;
        let hid = std::fs::canonicalize(class.join(name).join("device")).ok()?;
        let intf = hid.parent()?;
        let dev = intf.parent()?;
        let hex = |n| attr(dev, n).and_then(|s| u16::from_str_radix(&s, 16).ok());
        let num = |n| attr(dev, n).and_then(|s| s.parse::<u16>().ok());
        let interface = attr(intf, "bInterfaceNumber")
            .and_then(|s| u8::from_str_radix(&s, 16).ok())
            .unwrap_or(0);
        let hiddev = std::fs::read_dir(intf.join("usbmisc"))
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok()))
            .map(|e| Path::new("/dev/usb").join(e.file_name()));
        Some(UsbInfo {
            vid: hex("idVendor")?,
            pid: hex("idProduct")?,
            manufacturer: attr(dev, "manufacturer"),
            product: attr(dev, "product"),
            serial: attr(dev, "serial"),
            busnum: num("busnum").unwrap_or(0),
            devnum: num("devnum").unwrap_or(0),
            port: dev.file_name()?.to_str()?.to_string(),
            interface,
            hiddev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn identity_from_a_sysfs_tree() {
        // The shape the kernel builds: hidrawN/device -> the HID device,
        // whose parent is the interface and grandparent the USB device.
        let root = std::env::temp_dir().join(format!("hidupsd-sysfs-{}", std::process::id()));
        let dev = root.join("devices/usb1/1-1.2");
        let intf = dev.join("1-1.2:1.0");
        let hid = intf.join("0003:051D:0002.0001");
        std::fs::create_dir_all(&hid).unwrap();
        std::fs::create_dir_all(intf.join("usbmisc/hiddev0")).unwrap();
        for (k, v) in [
            ("idVendor", "051d"),
            ("idProduct", "0002"),
            ("manufacturer", "American Power Conversion"),
            ("product", "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2"),
            ("serial", "4B1234P56789  "),
            ("busnum", "1"),
            ("devnum", "7"),
        ] {
            std::fs::write(dev.join(k), format!("{v}\n")).unwrap();
        }
        std::fs::write(intf.join("bInterfaceNumber"), "00\n").unwrap();
        let class = root.join("class/hidraw/hidraw3");
        std::fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&hid, class.join("device")).unwrap();
        let info = UsbInfo::for_hidraw_in(&root.join("class/hidraw"), "/dev/hidraw3").unwrap();
        assert_eq!(
            (info.vid, info.pid, info.busnum, info.devnum),
            (0x051d, 2, 1, 7)
        );
        assert_eq!(info.port, "1-1.2");
        assert_eq!(info.serial.as_deref(), Some("4B1234P56789  "));
        assert_eq!(info.hiddev, Some(PathBuf::from("/dev/usb/hiddev0")));
        assert_eq!(info.usbfs(), PathBuf::from("/dev/bus/usb/001/007"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
