//! Which subdriver serves a device: NUT's claim rules (exact VID:PID in
//! subdriver list order with string gates; a known vendor's unknown
//! product only when `productid` is configured), then, beyond NUT, a
//! generic table for any other proper Power Device. One difference on
//! purpose: a listed VID:PID keeps its own subdriver when `productid` is
//! set, where NUT lets an earlier subdriver that only knows the vendor
//! take it (`docs/differences.md`, "Subdriver choice").
//!
//! Read first: `docs/design/hid-decoding.md` §8.

use super::generic;
use super::options::{BindError, Identity, Options};
use super::table::{DeviceId, Gate, Handler, Str, Subdriver};
use super::tables::{devices, SUBDRIVERS};

/// The chosen subdriver and the claim's side effects.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    pub sub: &'static Subdriver,
    /// The claim found the interrupt pipe unusable.
    pub pollonly: bool,
    /// The claim says data comes only by interrupt reports.
    pub interruptonly: bool,
    /// The matching device row, if the VID:PID is listed.
    pub device: Option<&'static DeviceId>,
}

fn contains(hay: &Option<String>, needle: Str) -> bool {
    hay.as_deref().is_some_and(|h| h.contains(needle.get()))
}

fn gate_ok(g: Gate, id: &Identity) -> bool {
    match g {
        Gate::None => true,
        Gate::VendorContains(s) => contains(&id.vendor, s),
        Gate::VendorOrProductContains(s) => contains(&id.vendor, s) || contains(&id.product, s),
        Gate::VendorOrProduct(v, p) => contains(&id.vendor, v) || contains(&id.product, p),
    }
}

/// The listed device row that claims this identity, in list order.
pub fn claim(id: &Identity) -> Option<&'static DeviceId> {
    SUBDRIVERS.iter().find_map(|s| {
        devices::DEVICES.iter().find(|d| {
            d.subdriver.get() == s.key && d.vid == id.vid && d.pid == id.pid && gate_ok(d.gate, id)
        })
    })
}

/// Find a subdriver by key or by its published name, case-insensitively.
pub fn by_name(name: &str) -> Option<&'static Subdriver> {
    if name.eq_ignore_ascii_case(generic::SUBDRIVER.key) {
        return Some(&generic::SUBDRIVER);
    }
    SUBDRIVERS
        .iter()
        .copied()
        .find(|s| s.key.eq_ignore_ascii_case(name) || s.name.eq_ignore_ascii_case(name))
}

pub fn choose(id: &Identity, opts: &Options) -> Result<Choice, BindError> {
    let device = claim(id);
    let (pollonly, interruptonly) = match device.map(|d| d.handler) {
        Some(Handler::DisableInterruptPipe) => (true, false),
        Some(Handler::InterruptOnly) => (false, true),
        _ => (false, false),
    };
    let mut c = Choice {
        sub: &generic::SUBDRIVER,
        pollonly,
        interruptonly,
        device,
    };
    if let Some(name) = &opts.subdriver {
        c.sub = by_name(name).ok_or_else(|| BindError::UnknownSubdriver(name.clone()))?;
        return Ok(c);
    }
    if let Some(d) = device {
        if let Some(s) = super::tables::subdriver(d.subdriver.get()) {
            c.sub = s;
        }
        return Ok(c);
    }
    let rejected = devices::FALLBACK_REJECT.contains(&(id.vid, id.pid));
    if opts.productid_set && !rejected {
        if let Some(&(_, key)) = devices::VENDOR_FALLBACK.iter().find(|v| v.0 == id.vid) {
            if let Some(s) = super::tables::subdriver(key.get()) {
                c.sub = s;
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(vid: u16, pid: u16, vendor: Option<&str>, product: Option<&str>) -> Identity {
        Identity {
            vid,
            pid,
            vendor: vendor.map(str::to_string),
            product: product.map(str::to_string),
            serial: None,
        }
    }

    #[test]
    fn claims_follow_nut() {
        let o = Options::default();
        let key = |i: &Identity, o: &Options| choose(i, o).unwrap().sub.key;
        assert_eq!(key(&id(0x051d, 0x0002, None, None), &o), "apc");
        assert!(
            choose(&id(0x051d, 0x0003, None, None), &o)
                .unwrap()
                .pollonly
        );
        assert_eq!(key(&id(0x0463, 0xffff, None, None), &o), "mge");
        assert_eq!(key(&id(0x0764, 0x0501, None, None), &o), "cps");
        // 06da:ffff: MGE with AEG, iDowell with BMS, else Liebert.
        assert_eq!(key(&id(0x06da, 0xffff, Some("AEG"), None), &o), "mge");
        assert_eq!(
            key(&id(0x06da, 0xffff, None, Some("Smart-Battery")), &o),
            "idowell"
        );
        assert_eq!(key(&id(0x06da, 0xffff, None, None), &o), "liebert");
        // Unknown product of a known vendor: only with productid set.
        assert_eq!(key(&id(0x0463, 0x1234, None, None), &o), "generic");
        let p = Options {
            productid_set: true,
            ..Options::default()
        };
        assert_eq!(key(&id(0x0463, 0x1234, None, None), &p), "mge");
        assert_eq!(key(&id(0x0d9f, 0x0002, None, None), &p), "generic");
        // Unknown vendor: the generic table.
        assert_eq!(key(&id(0x5131, 0x2007, None, None), &o), "generic");
        let s = Options {
            subdriver: Some("Nope".into()),
            ..Options::default()
        };
        assert!(matches!(
            choose(&id(1, 2, None, None), &s),
            Err(BindError::UnknownSubdriver(_))
        ));
    }

    #[test]
    fn a_listed_device_keeps_its_subdriver_when_productid_is_set() {
        // NUT asks subdrivers in list order and the first that knows the
        // vendor takes these when productid is set (delta_ups, mge, cps);
        // hidupsd keeps the row NUT's maintainers added for the model,
        // with or without productid (nut-scanner writes it everywhere).
        let plain = Options::default();
        let with_pid = Options {
            productid_set: true,
            ..Options::default()
        };
        for (vid, pid, nut_with_pid, listed) in [
            (0x05dd, 0xa011, "delta_ups", "tripplite"),
            (0x05dd, 0xa0a0, "delta_ups", "tripplite"),
            (0x03f0, 0x1f06, "mge", "tripplite"),
            (0x03f0, 0x1fe0, "mge", "tripplite"),
            (0x0483, 0xa113, "cps", "ever"),
        ] {
            let i = id(vid, pid, None, None);
            for o in [&plain, &with_pid] {
                let c = choose(&i, o).unwrap();
                assert_eq!(c.sub.key, listed, "{vid:04x}:{pid:04x}");
                assert_eq!(c.device.map(|d| d.subdriver.get()), Some(listed));
            }
            // The subdriver NUT would pick knows the vendor, and comes first.
            let order = |k: &str| SUBDRIVERS.iter().position(|s| s.key == k).unwrap();
            assert!(order(nut_with_pid) < order(listed));
            assert!(devices::VENDOR_FALLBACK
                .iter()
                .any(|&(v, s)| (v, s.get()) == (vid, nut_with_pid)));
        }
    }
}
