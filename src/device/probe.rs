//! The hidraw side of finding a UPS: what the kernel knows about a
//! node's USB device (sysfs, into a [`UsbInfo`]), opening the node,
//! reading its report descriptor and identity ([`probe`], [`identify`]),
//! finding a known unit again on its port ([`reopen`]), and the
//! `ups.conf` matcher with the C library's regexes ([`matcher`]).
//! Blocking: run on a probe thread or a worker, never on the loop. The
//! struct and the pure questions about it are in [`super::usb`].

use super::io::Found;
use super::matcher::{Matcher, Pattern};
use super::qxio::DevWire;
use super::usb::{identity, reclaimable, UsbInfo};
use crate::config::ups_conf::Match;
use crate::hid::Descriptor;
use crate::qx::bridge::BridgeLink;
use crate::qx::usbid;
use crate::qx::{Qx, QxOptions};
use crate::sys::hidraw::{Hidraw, BUS_USB};
use crate::sys::hotplug;
use crate::sys::regex::Regex;
use crate::sys::usb::Strings;
use std::io;
use std::path::Path;
use std::time::Duration;

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

/// What a hidraw node is.
pub enum Probed {
    Ups(Found<Hidraw>),
    /// Not a UPS (or not ours to open): skipped without a word.
    NotUps,
    /// Looks like a UPS but could not be read: worth a log line.
    Failed(String),
}

/// Open `/dev/<node>`, ask the kernel who it is and for its report
/// descriptor, and keep it if it is a USB HID Power Device. Blocking:
/// run it on a probe or worker thread.
pub fn probe(node: &str) -> Probed {
    let path = Path::new("/dev").join(node);
    let dev = match open_patiently(&path) {
        Ok(d) => d,
        Err(e) => {
            // Keyboards and the like are not our business; a listed UPS
            // we cannot open is (permissions: see rules/).
            let listed = UsbInfo::for_hidraw(node)
                .is_some_and(|u| crate::ups::select::claim(&identity(&u)).is_some());
            return if listed {
                Probed::Failed(format!("{}: {e}", path.display()))
            } else {
                Probed::NotUps
            };
        }
    };
    // Read once the node is open: an open node keeps its number, so this
    // is the device opened, not one that took the name since (a unit
    // unplugged and plugged in again while it was probed).
    let sysfs = UsbInfo::for_hidraw(node);
    match identify(dev, node, sysfs) {
        Ok(Some(found)) => Probed::Ups(found),
        Ok(None) => Probed::NotUps,
        Err(e) => Probed::Failed(e),
    }
}

/// Keep an open hidraw node if it is a USB HID Power Device, or a
/// Megatec/Q1 unit behind one of nutdrv_qx's USB bridges that answers
/// one of its protocols (this waits for answers: seconds): its report
/// descriptor, its identity (sysfs `sysfs` when given, else what hidraw
/// itself says, as for uhid devices) and its string source. `Ok(None)`
/// for any other device. Blocking ioctls: not for the event loop.
pub fn identify(
    mut dev: Hidraw,
    node: &str,
    sysfs: Option<UsbInfo>,
) -> Result<Option<Found<Hidraw>>, String> {
    let raw = match dev.info() {
        Ok(i) if i.bustype == BUS_USB => i,
        _ => return Ok(None),
    };
    let descriptor = dev
        .descriptor()
        .map_err(|e| format!("/dev/{node}: HIDIOCGRDESC: {e}"))?;
    let power = Descriptor::parse(&descriptor).is_ok_and(|d| d.is_power_device());
    // A vendor-defined pipe under a Megatec bridge's ids may be a UPS:
    // decided below, once its identity is known.
    let bridge_ids = |vid: u16, pid: u16| usbid::known_vendor(vid) && pid != 0xffff;
    if !power && !bridge_ids(raw.vendor as u16, raw.product as u16) {
        return Ok(None);
    }
    let info = match sysfs {
        Some(u) => {
            dev.strings = Strings::open(u.hiddev.as_deref(), &u.usbfs());
            u
        }
        // No USB parent in sysfs (uhid, as in the VM tests): what hidraw
        // itself says.
        None => {
            let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
            let info = UsbInfo {
                vid: raw.vendor as u16,
                pid: raw.product as u16,
                product: nonempty(dev.name()),
                serial: nonempty(dev.uniq()),
                port: nonempty(dev.phys()).unwrap_or_else(|| node.to_string()),
                ..UsbInfo::default()
            };
            // A device gone meanwhile answers nothing (ENODEV), and left
            // without serial and phys it would be served as a new UPS
            // named after the node (`generic-porthidraw3`). Still there
            // now means the answers above were its own.
            if dev.info().is_err() {
                return Ok(None);
            }
            info
        }
    };
    if !power {
        // A Megatec/Q1 unit only if one of its protocols answers through
        // its bridge (the worker probes again with the section's options).
        let m = info.manufacturer.as_deref();
        let Some(b) = usbid::bridge(info.vid, info.pid, m, info.product.as_deref()) else {
            return Ok(None);
        };
        let mut link = BridgeLink::new(b, DevWire(&mut dev as &mut dyn super::io::DeviceIo));
        if Qx::probe(&mut link, &QxOptions::default()).is_err() {
            return Ok(None);
        }
    }
    Ok(Some(Found {
        dev,
        node: node.to_string(),
        info,
        descriptor,
    }))
}

/// Open a node that may have just appeared: the kernel's uevent comes
/// before udev has applied its permissions, so a refusal is retried for
/// a while (with a privileged helper, `Hidraw::open` has asked it
/// already: a UPS is open at once, and only other devices wait here).
fn open_patiently(path: &Path) -> io::Result<Hidraw> {
    let mut tries = 0;
    loop {
        match Hidraw::open(path) {
            Err(e)
                if tries < 10
                    && matches!(
                        e.kind(),
                        io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound
                    ) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

/// Find the device `want` again among the hidraw nodes present now, on
/// its own port only ([`reclaimable`]). Only nodes whose sysfs identity
/// matches (or that have none) are opened.
pub fn reopen(want: &UsbInfo) -> Option<Found<Hidraw>> {
    let mut nodes: Vec<String> = Vec::new();
    for node in hotplug::scan(Path::new(hotplug::CLASS)) {
        match UsbInfo::for_hidraw(&node) {
            Some(u) if !reclaimable(&u, want) => continue,
            _ => nodes.push(node),
        }
    }
    crate::sort::sort_by(&mut nodes, |a, b| a < b);
    for node in nodes {
        if let Probed::Ups(f) = probe(&node) {
            if reclaimable(&f.info, want) {
                return Some(f);
            }
        }
    }
    None
}

impl Pattern for Regex {
    fn is_match(&self, text: &str) -> bool {
        Regex::is_match(self, text)
    }
}

/// A section's [`Matcher`], its patterns compiled by the C library
/// (`regcomp`), as NUT's drivers compile them.
pub fn matcher(m: &Match, port: &str) -> Result<Matcher, String> {
    Matcher::new(m, port, Regex::new)
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
