//! A USB device's identity and location ([`UsbInfo`]), as the kernel
//! reports it for a hidraw node, and the pure questions asked of it: the
//! engine's view of it and whether two sightings are the same unit.
//!
//! Data only: `sys::usb` fills it from sysfs; the matcher, the naming and
//! the worker read it.

use super::naming;
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
        && match (naming::usable_serial(a), naming::usable_serial(b)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => a.port == b.port,
            _ => false,
        }
}
