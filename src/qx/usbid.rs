//! Which USB bridge a device is, by nutdrv_qx's match table
//! ([`USB_IDS`]): the first row whose VID:PID matches and whose
//! manufacturer and product strings, when the row gives them, equal the
//! device's (case ignored) names the bridge.

use super::table::{Bridge, UsbId};
use super::tables::USB_IDS;

/// The row matching a device, if any.
pub fn lookup(
    vid: u16,
    pid: u16,
    vendor: Option<&str>,
    product: Option<&str>,
) -> Option<&'static UsbId> {
    let eq = |want: Option<&str>, have: Option<&str>| match want {
        None => true,
        Some(w) => have.is_some_and(|h| h.eq_ignore_ascii_case(w)),
    };
    USB_IDS
        .iter()
        .find(|r| r.vid == vid && r.pid == pid && eq(r.vendor, vendor) && eq(r.product, product))
}

/// The bridge hidupsd can drive over hidraw for this device: `None` when
/// no row matches or the row's bridge needs what hidraw cannot send.
pub fn bridge(vid: u16, pid: u16, vendor: Option<&str>, product: Option<&str>) -> Option<Bridge> {
    lookup(vid, pid, vendor, product)
        .map(|r| r.bridge)
        .filter(|b| b.over_hidraw())
}

/// Whether nutdrv_qx knows the vendor id at all (NUT's "possibly
/// supported"): such a device is worth a look with `subdriver =`.
pub fn known_vendor(vid: u16) -> bool {
    USB_IDS.iter().any(|r| r.vid == vid)
}

impl Bridge {
    /// Can this bridge's transfers be made through hidraw (output and
    /// input reports, feature reports, string descriptors)?
    pub fn over_hidraw(self) -> bool {
        !matches!(self, Bridge::Phoenixtec | Bridge::None)
    }
}

/// Which engine serves a HID device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// A HID Power Device: usbhid-ups's tables.
    PowerDevice,
    /// A Megatec/Q1 unit behind this bridge: nutdrv_qx's protocols.
    Megatec(Bridge),
    Neither,
}

/// Decide as NUT's drivers divide the devices: usbhid-ups serves HID
/// Power Devices (its vendor tables name no bridge of nutdrv_qx's), and
/// nutdrv_qx serves the devices of its USB table, whose HID interface is
/// a vendor-defined pipe. A device both could take (a Power Device
/// under a bridge's ids) is a Power Device unless the configuration
/// names the Megatec driver (`forced`: `driver = nutdrv_qx` with its
/// `subdriver`, or the table's bridge when none is given).
pub fn choose(
    power_device: bool,
    forced: Option<Option<Bridge>>,
    vid: u16,
    pid: u16,
    vendor: Option<&str>,
    product: Option<&str>,
) -> Serve {
    let table = bridge(vid, pid, vendor, product);
    match forced {
        Some(Some(b)) if b.over_hidraw() => Serve::Megatec(b),
        Some(Some(_)) => Serve::Neither,
        Some(None) => table.map_or(Serve::Neither, Serve::Megatec),
        None if power_device => Serve::PowerDevice,
        None => table.map_or(Serve::Neither, Serve::Megatec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_row_wins_as_in_nut() {
        assert_eq!(bridge(0x0665, 0x5161, None, None), Some(Bridge::Cypress));
        assert_eq!(bridge(0x06da, 0x0003, None, None), Some(Bridge::Ippon));
        // 0001:0000 is told apart by its strings; an unknown pair is krauler.
        assert_eq!(
            bridge(0x0001, 0, Some("MEC"), Some("MEC0003")),
            Some(Bridge::Fabula)
        );
        assert_eq!(
            bridge(0x0001, 0, Some("other"), Some("mec0003")),
            Some(Bridge::Hunnox)
        );
        assert_eq!(
            bridge(0x0001, 0, Some("ATCL FOR UPS"), Some("ATCL FOR UPS")),
            Some(Bridge::Fuji)
        );
        assert_eq!(bridge(0x0001, 0, None, None), Some(Bridge::Krauler));
        // The Masterguard strings select phoenixtec (vendor requests hidraw
        // cannot send); other 06da:0002 units are cypress.
        assert_eq!(
            lookup(
                0x06da,
                2,
                Some("Phoenixtec Power"),
                Some("USB Cable (V2.00)")
            )
            .map(|r| r.bridge),
            Some(Bridge::Phoenixtec)
        );
        assert_eq!(
            bridge(
                0x06da,
                2,
                Some("Phoenixtec Power"),
                Some("USB Cable (V2.00)")
            ),
            None
        );
        assert_eq!(bridge(0x06da, 2, None, Some("x")), Some(Bridge::Cypress));
        assert_eq!(bridge(0x051d, 0x0002, None, None), None);
        assert!(known_vendor(0x06da) && !known_vendor(0x051d));
        // A Power Device stays one; the vendor pipe of a bridge is Megatec.
        assert_eq!(
            choose(true, None, 0x0665, 0x5161, None, None),
            Serve::PowerDevice
        );
        assert_eq!(
            choose(false, None, 0x0665, 0x5161, None, None),
            Serve::Megatec(Bridge::Cypress)
        );
        assert_eq!(choose(false, None, 0x051d, 2, None, None), Serve::Neither);
        assert_eq!(
            choose(
                true,
                Some(Some(Bridge::Krauler)),
                0x0665,
                0x5161,
                None,
                None
            ),
            Serve::Megatec(Bridge::Krauler)
        );
        assert_eq!(
            choose(true, Some(None), 0x06da, 3, None, None),
            Serve::Megatec(Bridge::Ippon)
        );
        assert_eq!(
            choose(false, Some(Some(Bridge::Phoenixtec)), 0x06da, 2, None, None),
            Serve::Neither
        );
        // CH340 serial bridges are serial ports, not in 2.8.0's table.
        assert_eq!(lookup(0x1a86, 0x7523, None, None).map(|r| r.bridge), None);
    }
}
