//! Finding hidraw nodes and following them come and go: a scan of
//! `/sys/class/hidraw`, then uevents on a netlink socket. No libudev is
//! needed. Where udevd runs (`/run/udev/control` exists) the socket joins
//! udev's broadcast group, which announces a device after its rules have
//! run, so the node already has the group and mode the rules give it;
//! elsewhere (OpenWrt, Alpine with mdev, initramfs) it joins the kernel's
//! own group. Both message formats go through the same pure parser.

use nix::sys::socket::{
    bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Where the kernel lists hidraw nodes.
pub const CLASS: &str = "/sys/class/hidraw";

/// A hidraw node appeared or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Add(String),
    Remove(String),
}

/// libudev's datagram prefix; its header then gives where the
/// `KEY=VALUE` properties start (`struct udev_monitor_netlink_header`).
const UDEV_PREFIX: &[u8; 8] = b"libudev\0";
const UDEV_MAGIC: u32 = 0xfeed_cafe;

/// The `KEY=VALUE\0` part of a datagram, whichever sender it came from.
fn properties(msg: &[u8]) -> Option<&[u8]> {
    if !msg.starts_with(UDEV_PREFIX) {
        return Some(msg); // Kernel: `action@devpath\0KEY=VALUE\0...`.
    }
    let word = |at: usize| msg.get(at..at + 4).map(|b| [b[0], b[1], b[2], b[3]]);
    if u32::from_be_bytes(word(8)?) != UDEV_MAGIC {
        return None;
    }
    let off = u32::from_ne_bytes(word(16)?) as usize;
    let len = u32::from_ne_bytes(word(20)?) as usize;
    msg.get(off..off.checked_add(len)?)
}

/// Parse one uevent datagram (the kernel's, or udevd's after its rules)
/// into a hidraw event; `None` for anything else.
pub fn parse_uevent(msg: &[u8]) -> Option<Event> {
    let (mut action, mut subsystem, mut devname) = (None, None, None);
    for field in properties(msg)?.split(|&b| b == 0) {
        let Ok(f) = std::str::from_utf8(field) else {
            continue;
        };
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
    // The last path component (a byte search: `rsplit` would be one more
    // searcher on flash).
    let devname = devname?;
    let name = match devname.bytes().rposition(|b| b == b'/') {
        Some(i) => devname[i + 1..].to_string(),
        None => devname.to_string(),
    };
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
    let mut v: Vec<String> = Vec::new();
    for e in std::fs::read_dir(class).into_iter().flatten().flatten() {
        if let Some(n) = e.file_name().to_str() {
            if n.starts_with("hidraw") {
                v.push(n.to_string());
            }
        }
    }
    let number = |n: &String| n[6..].parse::<u32>().unwrap_or(u32::MAX);
    crate::sort::sort_by(&mut v, |a, b| number(a) < number(b));
    v
}

/// A non-blocking netlink socket subscribed to uevents.
pub struct Uevents {
    fd: OwnedFd,
    /// Listening to udevd's broadcasts rather than the kernel's.
    pub udev: bool,
}

impl Uevents {
    /// The error is an `io::Error` (printed as the log's other I/O errors).
    pub fn open() -> std::io::Result<Uevents> {
        let udev = Path::new("/run/udev/control").exists();
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        // Group 1: the kernel's own broadcasts; 2: udevd's, after its rules.
        bind(
            fd.as_raw_fd(),
            &NetlinkAddr::new(0, if udev { 2 } else { 1 }),
        )?;
        Ok(Uevents { fd, udev })
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
    fn udev_broadcasts_with_their_binary_header() {
        let props = b"ACTION=add\0DEVPATH=/devices/x/hidraw/hidraw4\0SUBSYSTEM=hidraw\0DEVNAME=/dev/hidraw4\0SEQNUM=9\0";
        let mut msg = Vec::new();
        msg.extend_from_slice(UDEV_PREFIX);
        msg.extend_from_slice(&UDEV_MAGIC.to_be_bytes());
        msg.extend_from_slice(&40u32.to_ne_bytes()); // header size
        msg.extend_from_slice(&40u32.to_ne_bytes()); // properties offset
        msg.extend_from_slice(&(props.len() as u32).to_ne_bytes());
        msg.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe, 0x80, 0x81]); // filter hashes
        msg.extend_from_slice(&[0xff; 8]); // tag bloom
        msg.extend_from_slice(props);
        assert_eq!(parse_uevent(&msg), Some(Event::Add("hidraw4".into())));
        // A wrong magic, or properties past the end, is not a message.
        let mut bad = msg.clone();
        bad[8] ^= 1;
        assert_eq!(parse_uevent(&bad), None);
        msg[20] = 0xff;
        assert_eq!(parse_uevent(&msg), None);
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
