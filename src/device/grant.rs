//! Which device nodes the privileged helper opens for the daemon, and
//! when it refuses.
//!
//! Under `-u`, the daemon opens UPSes as its own user, so a node whose
//! mode was not (yet) set by udev, mdev or OpenWrt's hotplug scripts
//! (procd never runs them for hidraw) cannot be opened. The root helper
//! (`sys::privsep`) then opens it and passes the descriptor back. So that
//! a compromised daemon gains nothing a UPS would not give it, the helper
//! opens only:
//! - a node named exactly `/dev/hidrawN`, `/dev/usb/hiddevN` or
//!   `/dev/bus/usb/BBB/DDD` ([`Node::parse`]);
//! - that is the character device sysfs names for it (checked on the
//!   opened descriptor, so a node replaced meanwhile is refused);
//! - whose USB HID interface (hidraw: the node's own) has a report
//!   descriptor that is a HID Power Device, as the daemon's own probe
//!   requires ([`decide`]).
//!
//! Boundary: pure. The helper gathers the [`Facts`] (sysfs reads, fstat
//! of what it opened) and acts on the answer.

use crate::hid::descriptor::Descriptor;
use std::fmt;

/// Longest request path the helper reads (`/dev/bus/usb/001/002` is 20).
pub const MAX_PATH: usize = 64;

/// A node the helper may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Hidraw(u32),
    Hiddev(u32),
    Usbfs { bus: u16, dev: u16 },
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not one of the three node names.
    NotADeviceNode,
    /// sysfs has no such device (unplugged meanwhile).
    Gone,
    /// What was opened is not the character device sysfs names.
    Mismatch,
    /// No report descriptor of the device is a HID Power Device.
    NotAUps,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotADeviceNode => "not /dev/hidrawN, /dev/usb/hiddevN or /dev/bus/usb/BBB/DDD",
            Refusal::Gone => "no such device in sysfs",
            Refusal::Mismatch => "the node is not the device sysfs names",
            Refusal::NotAUps => "not a HID Power Device",
        })
    }
}

fn number<T: std::str::FromStr>(s: &str, max_len: usize) -> Option<T> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Node {
    /// The node a request names; anything but the exact forms is refused
    /// (no `..`, no symlink names, no other directories).
    pub fn parse(path: &[u8]) -> Result<Node, Refusal> {
        let bad = Refusal::NotADeviceNode;
        if path.len() > MAX_PATH {
            return Err(bad);
        }
        let path = std::str::from_utf8(path).map_err(|_| bad.clone())?;
        if let Some(n) = path.strip_prefix("/dev/hidraw") {
            return number(n, 6).map(Node::Hidraw).ok_or(bad);
        }
        if let Some(n) = path.strip_prefix("/dev/usb/hiddev") {
            return number(n, 6).map(Node::Hiddev).ok_or(bad);
        }
        if let Some(rest) = path.strip_prefix("/dev/bus/usb/") {
            let (b, d) = rest.split_once('/').ok_or(bad.clone())?;
            if b.len() != 3 || d.len() != 3 {
                return Err(bad);
            }
            return match (number(b, 3), number(d, 3)) {
                (Some(bus), Some(dev)) => Ok(Node::Usbfs { bus, dev }),
                _ => Err(bad),
            };
        }
        Err(bad)
    }

    /// The node's path.
    pub fn path(&self) -> String {
        match self {
            Node::Hidraw(n) => format!("/dev/hidraw{n}"),
            Node::Hiddev(n) => format!("/dev/usb/hiddev{n}"),
            Node::Usbfs { bus, dev } => format!("/dev/bus/usb/{bus:03}/{dev:03}"),
        }
    }
}

/// What the helper found out about a node it opened.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `major:minor` of sysfs's `dev` attribute for the node, if any.
    pub sysfs_dev: Option<(u32, u32)>,
    /// The opened file: a character device, and its device number.
    pub char_device: bool,
    pub opened_dev: (u32, u32),
    /// The report descriptors of the node's HID interfaces (hidraw: its
    /// own; hiddev and usbfs: every HID interface of its USB device).
    pub descriptors: Vec<Vec<u8>>,
}

/// `major:minor` as sysfs's `dev` attribute writes it.
pub fn parse_dev(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once(':')?;
    Some((number(a, 10)?, number(b, 10)?))
}

/// Whether the helper may hand the opened node to the daemon.
pub fn decide(facts: &Facts) -> Result<(), Refusal> {
    let Some(dev) = facts.sysfs_dev else {
        return Err(Refusal::Gone);
    };
    if !facts.char_device || facts.opened_dev != dev {
        return Err(Refusal::Mismatch);
    }
    let ups = facts
        .descriptors
        .iter()
        .any(|d| Descriptor::parse(d).is_ok_and(|d| d.is_power_device()));
    if !ups {
        return Err(Refusal::NotAUps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_descriptor(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        crate::recording::Recording::load(&dir).unwrap().descriptor
    }

    #[test]
    fn only_the_three_node_names() {
        for (p, want) in [
            ("/dev/hidraw0", Ok(Node::Hidraw(0))),
            ("/dev/hidraw17", Ok(Node::Hidraw(17))),
            ("/dev/usb/hiddev3", Ok(Node::Hiddev(3))),
            ("/dev/bus/usb/001/012", Ok(Node::Usbfs { bus: 1, dev: 12 })),
        ] {
            assert_eq!(Node::parse(p.as_bytes()), want, "{p}");
            assert_eq!(Node::parse(p.as_bytes()).unwrap().path(), p);
        }
        for p in [
            "/dev/hidraw",
            "/dev/hidraw0/",
            "/dev/hidraw-1",
            "/dev/hidraw+1",
            "/dev/hidraw0\0",
            "/dev/hidraw1234567",
            "/dev/../dev/hidraw0",
            "/dev/hidraw/../sda",
            "/dev/sda",
            "/etc/shadow",
            "dev/hidraw0",
            "/dev/usb/hiddev",
            "/dev/usb/lp0",
            "/dev/bus/usb/1/2",
            "/dev/bus/usb/001/002/..",
            "/dev/bus/usb/001/",
            "/dev/bus/usb/00a/002",
            "/dev/bus/usb/001/002x",
            "",
        ] {
            assert_eq!(
                Node::parse(p.as_bytes()),
                Err(Refusal::NotADeviceNode),
                "{p:?}"
            );
        }
        assert_eq!(
            Node::parse(&[b'/'; MAX_PATH + 1]),
            Err(Refusal::NotADeviceNode)
        );
        assert_eq!(
            Node::parse(b"/dev/hidraw\xff"),
            Err(Refusal::NotADeviceNode)
        );
    }

    #[test]
    fn sysfs_dev_numbers() {
        assert_eq!(parse_dev("243:0\n"), Some((243, 0)));
        assert_eq!(parse_dev("189:130"), Some((189, 130)));
        for s in ["", "243", ":0", "243:", "a:1", "1:2:3", "-1:0"] {
            assert_eq!(parse_dev(s), None, "{s:?}");
        }
    }

    #[test]
    fn a_ups_that_is_what_sysfs_says_is_granted() {
        let ups = fixture_descriptor("apc-back-ups-es-850g2");
        let facts = Facts {
            sysfs_dev: Some((243, 2)),
            char_device: true,
            opened_dev: (243, 2),
            descriptors: vec![ups.clone()],
        };
        assert_eq!(decide(&facts), Ok(()));
        // Any one HID interface of the device being a UPS is enough
        // (hiddev, usbfs: the device's interfaces).
        let keyboard = vec![
            0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00,
            0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0xc0,
        ];
        let both = Facts {
            descriptors: vec![keyboard.clone(), ups],
            ..facts.clone()
        };
        assert_eq!(decide(&both), Ok(()));

        for (f, want) in [
            (
                Facts {
                    descriptors: vec![keyboard],
                    ..facts.clone()
                },
                Refusal::NotAUps,
            ),
            (
                Facts {
                    descriptors: vec![],
                    ..facts.clone()
                },
                Refusal::NotAUps,
            ),
            (
                // Megatec over HID: NUT's vendor id, no Power Device.
                Facts {
                    descriptors: vec![fixture_descriptor("phoenixtec-06da-0003-megatec-over-hid")],
                    ..facts.clone()
                },
                Refusal::NotAUps,
            ),
            (
                Facts {
                    descriptors: vec![vec![0xff; 40]],
                    ..facts.clone()
                },
                Refusal::NotAUps,
            ),
            (
                Facts {
                    opened_dev: (243, 3),
                    ..facts.clone()
                },
                Refusal::Mismatch,
            ),
            (
                Facts {
                    char_device: false,
                    ..facts.clone()
                },
                Refusal::Mismatch,
            ),
            (
                Facts {
                    sysfs_dev: None,
                    ..facts.clone()
                },
                Refusal::Gone,
            ),
        ] {
            assert_eq!(decide(&f), Err(want.clone()), "{want}");
        }
    }
}
