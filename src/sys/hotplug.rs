//! Finding hidraw nodes and following them come and go, without udevd:
//! a scan of `/sys/class/hidraw`, and the kernel's own uevents on a
//! netlink socket (what udevd itself listens to; on OpenWrt and Alpine
//! with mdev there is no udevd to ask). The message parser is pure.

use nix::sys::socket::{
    bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// A hidraw node appeared or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Add(String),
    Remove(String),
}

/// Parse one kernel uevent datagram (`add@/devices/...\0ACTION=add\0...`)
/// into a hidraw event; `None` for anything else.
pub fn parse_uevent(msg: &[u8]) -> Option<Event> {
    let (mut action, mut subsystem, mut devname) = (None, None, None);
    for field in msg.split(|&b| b == 0) {
        let f = std::str::from_utf8(field).ok()?;
        if let Some(v) = f.strip_prefix("ACTION=") {
            action = Some(v);
        } else if let Some(v) = f.strip_prefix("SUBSYSTEM=") {
            subsystem = Some(v);
        } else if let Some(v) = f.strip_prefix("DEVNAME=") {
            devname = Some(v);
        }
    }
    if subsystem? != "hidraw" {
        return None;
    }
    let name = devname?.rsplit('/').next()?.to_string();
    if !name.starts_with("hidraw") {
        return None;
    }
    match action? {
        "add" => Some(Event::Add(name)),
        "remove" => Some(Event::Remove(name)),
        _ => None,
    }
}

/// The hidraw nodes present now, sorted (`hidraw0`, `hidraw1`, ...).
pub fn scan(class: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(class)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.starts_with("hidraw"))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|n| n[6..].parse::<u32>().unwrap_or(u32::MAX));
    v
}

/// A non-blocking netlink socket subscribed to kernel uevents.
pub struct Uevents {
    fd: OwnedFd,
}

impl Uevents {
    pub fn open() -> nix::Result<Uevents> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        // Group 1: the kernel's own broadcasts (udevd rebroadcasts on 2).
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 1))?;
        Ok(Uevents { fd })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Drain every waiting message, calling `f` for each hidraw event.
    pub fn drain(&self, mut f: impl FnMut(Event)) {
        let mut buf = [0u8; 8192];
        while let Ok(n) = nix::unistd::read(self.fd.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            if let Some(e) = parse_uevent(&buf[..n]) {
                f(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidraw_uevents_and_nothing_else() {
        let add = b"add@/devices/pci0000:00/usb1/1-1/1-1:1.0/0003:051D:0002.0001/hidraw/hidraw0\0\
ACTION=add\0DEVPATH=/devices/pci0000:00/usb1/1-1/1-1:1.0/0003:051D:0002.0001/hidraw/hidraw0\0\
SUBSYSTEM=hidraw\0MAJOR=240\0MINOR=0\0DEVNAME=hidraw0\0SEQNUM=1234\0";
        assert_eq!(parse_uevent(add), Some(Event::Add("hidraw0".into())));
        let rm = b"remove@/x\0ACTION=remove\0SUBSYSTEM=hidraw\0DEVNAME=hidraw12\0";
        assert_eq!(parse_uevent(rm), Some(Event::Remove("hidraw12".into())));
        let usb = b"add@/x\0ACTION=add\0SUBSYSTEM=usb\0DEVNAME=bus/usb/001/007\0";
        assert_eq!(parse_uevent(usb), None);
        let bind = b"bind@/x\0ACTION=bind\0SUBSYSTEM=hidraw\0DEVNAME=hidraw0\0";
        assert_eq!(parse_uevent(bind), None);
        assert_eq!(parse_uevent(b"\xff\xfe"), None);
    }

    #[test]
    fn scan_sorts_numerically() {
        let d = std::env::temp_dir().join(format!("hidupsd-scan-{}", std::process::id()));
        for n in ["hidraw10", "hidraw2", "hidraw0", "other"] {
            std::fs::create_dir_all(d.join(n)).unwrap();
        }
        assert_eq!(scan(&d), ["hidraw0", "hidraw2", "hidraw10"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
