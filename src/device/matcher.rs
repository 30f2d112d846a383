//! `ups.conf` matching as NUT's USB drivers do it: each of `vendorid`,
//! `productid`, `vendor`, `product`, `serial`, `bus`, `device` and
//! `busport` is a whole-string, case-insensitive POSIX extended regular
//! expression; ids are matched as 4 lowercase hex digits; a device must
//! satisfy every one given. `port = auto` (or a `/dev/hidrawN` path) too.
//!
//! Pure: the patterns are compiled by the caller's [`Pattern`]
//! implementation (the daemon's is the C library's, through
//! `device::probe::matcher`).

use crate::config::ups_conf::Match;
use crate::device::usb::UsbInfo;

/// A compiled matching option: NUT's whole-string, case-insensitive POSIX
/// extended regular expression, surrounding white space in the text
/// ignored.
pub trait Pattern: std::fmt::Debug {
    fn is_match(&self, text: &str) -> bool;
}

#[derive(Debug, Default)]
pub struct Matcher {
    rules: Vec<(Field, Box<dyn Pattern>)>,
    /// `port` names one hidraw node rather than `auto`.
    node: Option<String>,
    /// The options as written (`vendorid 051d, serial X`), for the log.
    pub what: String,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    VendorId,
    ProductId,
    Vendor,
    Product,
    Serial,
    Bus,
    Device,
    BusPort,
}

impl Matcher {
    /// Compile a section's matching options with `compile`; the error
    /// names the option.
    pub fn new<P: Pattern + 'static>(
        m: &Match,
        port: &str,
        compile: impl Fn(&str) -> Result<P, String>,
    ) -> Result<Matcher, String> {
        let mut rules = Vec::new();
        let mut what = Vec::new();
        for (field, name, pat) in [
            (Field::VendorId, "vendorid", &m.vendorid),
            (Field::ProductId, "productid", &m.productid),
            (Field::Vendor, "vendor", &m.vendor),
            (Field::Product, "product", &m.product),
            (Field::Serial, "serial", &m.serial),
            (Field::Bus, "bus", &m.bus),
            (Field::Device, "device", &m.device),
            (Field::BusPort, "busport", &m.busport),
        ] {
            if let Some(p) = pat {
                let re = compile(p).map_err(|e| format!("{name} = \"{p}\": {e}"))?;
                rules.push((field, Box::new(re) as Box<dyn Pattern>));
                what.push(format!("{name} {p}"));
            }
        }
        let node = port
            .strip_prefix("/dev/")
            .filter(|n| n.starts_with("hidraw"))
            .map(str::to_string);
        if let Some(n) = &node {
            what.push(format!("port /dev/{n}"));
        }
        let what = if what.is_empty() {
            "any USB UPS".to_string()
        } else {
            what.join(", ")
        };
        Ok(Matcher { rules, node, what })
    }

    /// Does the device at hidraw node `node` with this identity match?
    pub fn matches(&self, node: &str, u: &UsbInfo) -> bool {
        if self.node.as_deref().is_some_and(|n| n != node) {
            return false;
        }
        self.rules.iter().all(|(field, re)| {
            let text = match field {
                Field::VendorId => format!("{:04x}", u.vid),
                Field::ProductId => format!("{:04x}", u.pid),
                Field::Vendor => u.manufacturer.clone().unwrap_or_default(),
                Field::Product => u.product.clone().unwrap_or_default(),
                Field::Serial => u.serial.clone().unwrap_or_default(),
                Field::Bus => format!("{:03}", u.busnum),
                Field::Device => format!("{:03}", u.devnum),
                Field::BusPort => u
                    .port
                    .split_once('-')
                    .map_or(u.port.clone(), |(_, p)| p.to_string()),
            };
            re.is_match(&text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::probe::matcher;

    fn apc() -> UsbInfo {
        UsbInfo {
            vid: 0x051d,
            pid: 0x0002,
            manufacturer: Some("American Power Conversion".into()),
            product: Some("Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2".into()),
            serial: Some("4B1234P56789  ".into()),
            busnum: 1,
            devnum: 7,
            port: "1-1.2".into(),
            ..UsbInfo::default()
        }
    }

    #[test]
    fn every_given_option_must_match() {
        let m = |f: fn(&mut Match)| {
            let mut x = Match::default();
            f(&mut x);
            matcher(&x, "auto").unwrap().matches("hidraw0", &apc())
        };
        assert!(m(|_| {}));
        assert!(m(|x| x.vendorid = Some("051D".into())));
        assert!(!m(|x| x.vendorid = Some("051".into())));
        assert!(m(|x| x.product = Some("Back-UPS.*".into())));
        // Surrounding white space in the device's serial is ignored.
        assert!(m(|x| x.serial = Some("4b1234p56789".into())));
        assert!(m(|x| {
            x.bus = Some("001".into());
            x.device = Some("007".into());
        }));
        assert!(!m(|x| {
            x.vendorid = Some("051d".into());
            x.serial = Some("OTHER".into());
        }));
        let x = Match {
            product: Some("(bad".into()),
            ..Match::default()
        };
        assert!(matcher(&x, "auto")
            .unwrap_err()
            .starts_with("product = \"(bad\""));
        let only = matcher(&Match::default(), "/dev/hidraw3").unwrap();
        assert!(only.matches("hidraw3", &apc()) && !only.matches("hidraw0", &apc()));
    }
}
