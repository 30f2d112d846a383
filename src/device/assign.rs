//! Which served UPS a USB device that was just found goes to. Pure: the
//! daemon describes its UPSes as [`Candidate`]s and carries out the
//! [`Assignment`] (hand the device over, start a worker, add a UPS, or
//! log the refusal).
//!
//! The rules, in order:
//! 1. a UPS served before takes its device back under its name (a
//!    replug, or the same node seen twice). Units that share a serial
//!    number are all candidates: the one last seen on this port is it,
//!    so the names do not swap when twins come back in another order;
//! 2. with ups.conf sections, the first section whose matcher accepts the
//!    device and that has no device: sections never bound first, then
//!    those whose device was unplugged;
//! 3. with nothing configured, the device is adopted under its stable
//!    name ([`super::naming`], from the subdriver key the caller names);
//!    when another unit has that name (the same serial number), the port
//!    tells them apart.

use super::matcher::Matcher;
use super::naming;
use super::usb::{same_device, UsbInfo};
use crate::config::setup::Discovery;

/// What the assignment needs to know of one served UPS.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub name: &'a str,
    /// The USB device bound to it last, if any.
    pub info: Option<&'a UsbInfo>,
    /// The hidraw node it is open on, as its worker last said.
    pub node: Option<&'a str>,
    /// Its ups.conf section's matcher (`None`: simulated, adopted, or
    /// handed in).
    pub matcher: Option<&'a Matcher>,
    /// It has a worker (a device was bound to it once).
    pub bound: bool,
    /// It may take a new device: unbound, or its device was unplugged.
    pub free: bool,
}

impl Candidate<'_> {
    /// Was the device found on `node` as `info` this UPS's, and not in
    /// use by it elsewhere? (Two units may share a bogus serial number.)
    fn owns(&self, node: &str, info: &UsbInfo) -> bool {
        self.info.is_some_and(|i| same_device(i, info)) && self.node.map_or(true, |n| n == node)
    }

    fn on_port(&self, port: &str) -> bool {
        self.info.is_some_and(|i| i.port == port)
    }
}

/// Where a found device goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// Back to UPS `i`, whose device it was.
    Reattach(usize),
    /// To UPS `i`, a configured section that accepts it.
    Bind(usize),
    /// To a new UPS of this name, described by the product string.
    Adopt { name: String, desc: Option<String> },
    /// Nowhere.
    Refuse(Refusal),
}

/// Why a found device is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Only simulated or handed-in UPSes are served.
    Off,
    /// No free ups.conf section accepts it.
    NoFreeSection,
    /// Adopting it would reuse this name.
    NameTaken(String),
}

/// Assign the device found on `node` as `info` (see the module docs);
/// `key` names its subdriver (`apc`, `megatec`, `generic`...), asked only
/// to adopt it.
pub fn assign(
    upses: &[Candidate],
    node: &str,
    info: &UsbInfo,
    mode: Discovery,
    key: impl FnOnce() -> &'static str,
) -> Assignment {
    let owners = || (0..upses.len()).filter(|&i| upses[i].owns(node, info));
    if let Some(i) = owners()
        .find(|&i| upses[i].on_port(&info.port))
        .or_else(|| owners().next())
    {
        return Assignment::Reattach(i);
    }
    match mode {
        Discovery::Off => Assignment::Refuse(Refusal::Off),
        Discovery::Configured => {
            let accepts = |c: &Candidate| c.matcher.is_some_and(|m| m.matches(node, info));
            let pick = |unbound: bool| {
                upses
                    .iter()
                    .position(|c| accepts(c) && c.free && c.bound != unbound)
            };
            match pick(true).or_else(|| pick(false)) {
                Some(i) => Assignment::Bind(i),
                None => Assignment::Refuse(Refusal::NoFreeSection),
            }
        }
        Discovery::Adopt => {
            let key = key();
            let taken = |n: &str| upses.iter().any(|c| c.name.eq_ignore_ascii_case(n));
            let mut name = naming::stable_name(key, info);
            if taken(&name) {
                let mut by_port = info.clone();
                by_port.serial = None;
                name = naming::stable_name(key, &by_port);
            }
            if taken(&name) {
                return Assignment::Refuse(Refusal::NameTaken(name));
            }
            Assignment::Adopt {
                name,
                // LIST UPS shows the product, as a ups.conf desc would.
                desc: info.product.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ups_conf::Match;
    use crate::device::matcher::Pattern;

    /// Exact, case-insensitive: enough to tell sections apart here.
    #[derive(Debug)]
    struct Exact(String);

    impl Pattern for Exact {
        fn is_match(&self, text: &str) -> bool {
            self.0.eq_ignore_ascii_case(text.trim())
        }
    }

    fn by_serial(serial: &str) -> Matcher {
        let m = Match {
            serial: Some(serial.into()),
            ..Match::default()
        };
        Matcher::new(&m, "auto", |p| Ok::<_, String>(Exact(p.into()))).unwrap()
    }

    fn apc(serial: &str, port: &str) -> UsbInfo {
        UsbInfo {
            vid: 0x051d,
            pid: 0x0002,
            product: Some("Back-UPS ES 850G2".into()),
            serial: Some(serial.into()),
            port: port.into(),
            ..UsbInfo::default()
        }
    }

    fn unbound<'a>(name: &'a str, matcher: Option<&'a Matcher>) -> Candidate<'a> {
        Candidate {
            name,
            info: None,
            node: None,
            matcher,
            bound: false,
            free: true,
        }
    }

    #[test]
    fn a_ups_takes_its_device_back_twins_by_port() {
        let (a, b) = (apc("TWIN", "1-1"), apc("TWIN", "1-2"));
        let was = |name, info| Candidate {
            name,
            info: Some(info),
            node: None,
            matcher: None,
            bound: true,
            free: true,
        };
        let upses = [was("one", &a), was("two", &b)];
        // Both own a unit with serial TWIN; the port decides.
        let got = assign(
            &upses,
            "hidraw5",
            &apc("TWIN", "1-2"),
            Discovery::Off,
            || "apc",
        );
        assert_eq!(got, Assignment::Reattach(1));
        let got = assign(
            &upses,
            "hidraw4",
            &apc("TWIN", "1-1"),
            Discovery::Adopt,
            || "apc",
        );
        assert_eq!(got, Assignment::Reattach(0));
        // On a third port: the first owner.
        let got = assign(
            &upses,
            "hidraw6",
            &apc("TWIN", "3-1"),
            Discovery::Off,
            || "apc",
        );
        assert_eq!(got, Assignment::Reattach(0));
        // Open on another node: not the same device (a second unit).
        let open = Candidate {
            node: Some("hidraw1"),
            ..was("one", &a)
        };
        let got = assign(
            &[open],
            "hidraw2",
            &apc("TWIN", "1-1"),
            Discovery::Off,
            || "apc",
        );
        assert_eq!(got, Assignment::Refuse(Refusal::Off));
    }

    #[test]
    fn a_section_never_bound_goes_before_an_unplugged_one() {
        let (m1, m2) = (by_serial("AAA"), by_serial("AAA"));
        let old = apc("OLD", "1-1");
        let unplugged = Candidate {
            info: Some(&old),
            bound: true,
            ..unbound("first", Some(&m1))
        };
        let upses = [unplugged, unbound("second", Some(&m2))];
        let dev = apc("AAA", "1-4");
        assert_eq!(
            assign(&upses, "hidraw0", &dev, Discovery::Configured, || "apc"),
            Assignment::Bind(1)
        );
        // Without the unbound one, the unplugged section takes it.
        assert_eq!(
            assign(&upses[..1], "hidraw0", &dev, Discovery::Configured, || {
                "apc"
            }),
            Assignment::Bind(0)
        );
        // A section with its device still plugged in is not free.
        let busy = Candidate {
            free: false,
            ..upses[0]
        };
        assert_eq!(
            assign(&[busy], "hidraw0", &dev, Discovery::Configured, || "apc"),
            Assignment::Refuse(Refusal::NoFreeSection)
        );
        // No matcher accepts it.
        let other = apc("BBB", "1-4");
        assert_eq!(
            assign(&upses, "hidraw0", &other, Discovery::Configured, || "apc"),
            Assignment::Refuse(Refusal::NoFreeSection)
        );
    }

    #[test]
    fn adopted_names_fall_back_to_the_port() {
        let dev = apc("4B1234P56789", "1-1.2");
        let got = assign(&[], "hidraw0", &dev, Discovery::Adopt, || "apc");
        let Assignment::Adopt { name, desc } = got else {
            panic!("{got:?}")
        };
        assert_eq!(name, "apc-4b1234p56789");
        assert_eq!(desc.as_deref(), Some("Back-UPS ES 850G2"));
        // A twin (same serial, other port) is named by its port.
        let first = unbound("APC-4B1234P56789", None);
        let twin = apc("4B1234P56789", "1-3");
        let got = assign(&[first], "hidraw1", &twin, Discovery::Adopt, || "apc");
        assert!(
            matches!(&got, Assignment::Adopt { name, .. } if name == "apc-port1-3"),
            "{got:?}"
        );
        // Both names taken: refused, naming the name.
        let second = unbound("apc-port1-3", None);
        assert_eq!(
            assign(&[first, second], "hidraw1", &twin, Discovery::Adopt, || {
                "apc"
            }),
            Assignment::Refuse(Refusal::NameTaken("apc-port1-3".into()))
        );
    }
}
