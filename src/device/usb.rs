//! A USB device's identity and location ([`UsbInfo`]), as the kernel
//! reports it for a hidraw node, and the pure questions asked of it: the
//! engine's view of it and whether two sightings are the same unit.
//!
//! Data only: `sys::usb` fills it from sysfs; the matcher, the naming and
//! the worker read it.

use crate::ups::options::Identity;
use std::path::PathBuf;

/// USB identity and location of a hidraw node's device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbInfo {
    pub vid: u16,
    pub pid: u16,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub busnum: u16,
    pub devnum: u16,
    /// Kernel port path (`1-1.2`): stable while the UPS stays in that port.
    pub port: String,
    /// HID interface number.
    pub interface: u8,
    /// The interface's hiddev node, if usbhid made one.
    pub hiddev: Option<PathBuf>,
}

impl UsbInfo {
    /// usbfs node of the device.
    pub fn usbfs(&self) -> PathBuf {
        PathBuf::from(format!(
            "/dev/bus/usb/{:03}/{:03}",
            self.busnum, self.devnum
        ))
    }
}

/// The engine's view of a USB identity.
pub fn identity(u: &UsbInfo) -> Identity {
    Identity {
        vid: u.vid,
        pid: u.pid,
        vendor: u.manufacturer.clone(),
        product: u.product.clone(),
        serial: u.serial.clone(),
    }
}

/// Is `a` the same physical device as `b`? VID, PID and interface, then
/// the serial number when there is a usable one (it follows the unit from
/// port to port), else the port (two units without serials differ by it).
pub fn same_device(a: &UsbInfo, b: &UsbInfo) -> bool {
    a.vid == b.vid
        && a.pid == b.pid
        && a.interface == b.interface
        && match (usable_serial(a), usable_serial(b)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => a.port == b.port,
            _ => false,
        }
}

/// May a worker that lost `want` take `found` back on its own? Only on
/// the port it was last seen on. Twins may share a serial number, and a
/// worker alone cannot tell its unit from the other; a unit that moved
/// to another port is found by the hotplug path, whose assignment
/// ([`super::assign`]) sees every served UPS and tells twins apart.
pub fn reclaimable(found: &UsbInfo, want: &UsbInfo) -> bool {
    same_device(found, want) && found.port == want.port
}

/// The serial number if it can tell units apart: trimmed, not empty and
/// not all zeros (what some firmware reports for "none").
pub fn usable_serial(u: &UsbInfo) -> Option<&str> {
    u.serial
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_reclaims_only_on_its_port() {
        let mine = UsbInfo {
            vid: 0x0764,
            pid: 0x0501,
            serial: Some("SAMESERIAL".into()),
            port: "usb-1/input0".into(),
            ..UsbInfo::default()
        };
        // Back where it was: its own.
        assert!(reclaimable(&mine.clone(), &mine));
        // Its twin (one serial for both) on the next port: the same
        // device by serial, but not the worker's to take.
        let twin = UsbInfo {
            port: "usb-2/input0".into(),
            ..mine.clone()
        };
        assert!(same_device(&twin, &mine));
        assert!(!reclaimable(&twin, &mine));
        // Another unit on its port: not it.
        let other = UsbInfo {
            serial: Some("OTHER".into()),
            ..mine.clone()
        };
        assert!(!reclaimable(&other, &mine));
    }

    #[test]
    fn same_device_by_serial_else_port() {
        let a = UsbInfo {
            vid: 0x051d,
            pid: 2,
            serial: Some("4B1234P56789  ".into()),
            port: "1-1.2".into(),
            ..UsbInfo::default()
        };
        // Moved to another port: the same unit.
        let moved = UsbInfo {
            port: "3-1".into(),
            serial: Some("4B1234P56789".into()),
            ..a.clone()
        };
        assert!(same_device(&a, &moved));
        let other = UsbInfo {
            serial: Some("4B9999".into()),
            ..a.clone()
        };
        assert!(!same_device(&a, &other));
        // No serial (or zeros): the port tells them apart.
        let z = |port: &str| UsbInfo {
            serial: Some("000000".into()),
            port: port.into(),
            ..a.clone()
        };
        assert!(same_device(&z("1-2"), &z("1-2")));
        assert!(!same_device(&z("1-2"), &z("1-3")));
        assert!(!same_device(&a, &z("1-1.2")));
    }
}
