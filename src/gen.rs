//! Files generated from the device table: the udev rules
//! (`rules/70-hidupsd.rules`), OpenWrt's hotplug script that does the
//! same without udev (`contrib/openwrt/files/hidupsd.hotplug`) and the
//! supported-devices manual page (`man/hidupsd-devices.7`).
//!
//! Pure text out of [`DEVICES`], [`SUBDRIVERS`] and [`VENDOR_FALLBACK`].
//! `make generate` (`examples/gen.rs`) writes the files and
//! `tests/core/generated.rs` fails when the committed ones differ. The daemon
//! never calls these functions, so the linker drops them from the binary.

use crate::ups::generic;
use crate::ups::table::{DeviceId, Gate, Handler};
use crate::ups::tables::devices::{DEVICES, FALLBACK_REJECT, VENDOR_FALLBACK};
use crate::ups::tables::SUBDRIVERS;
use std::fmt::Write as _;

/// Where `make generate` writes [`udev_rules`], relative to the crate.
pub const UDEV_RULES_PATH: &str = "rules/70-hidupsd.rules";
/// Where `make generate` writes [`openwrt_hotplug`].
pub const OPENWRT_HOTPLUG_PATH: &str = "contrib/openwrt/files/hidupsd.hotplug";
/// Where `make generate` writes [`device_list_mdoc`].
pub const DEVICES_MAN_PATH: &str = "man/hidupsd-devices.7";

/// The group the packages create and the rules give the device nodes.
pub const GROUP: &str = "nut";

/// The date of the generated page; change it when the page's prose
/// (not the table) changes.
const MAN_DATE: &str = "December 7, 2026";

/// Every listed VID:PID once, in the table's order, with the subdrivers
/// that claim it; then the Megatec/Q1 bridges of nutdrv_qx's table that
/// hidraw can drive (`nutdrv_qx`).
fn unique_ids() -> Vec<(u16, u16, Vec<&'static str>)> {
    let mut out: Vec<(u16, u16, Vec<&'static str>)> = Vec::new();
    let qx = crate::qx::tables::USB_IDS
        .iter()
        .filter(|r| r.bridge.over_hidraw())
        .map(|r| (r.vid, r.pid, "nutdrv_qx"));
    for (vid, pid, sub) in DEVICES
        .iter()
        .map(|d| (d.vid, d.pid, d.subdriver.get()))
        .chain(qx)
    {
        match out.iter_mut().find(|(v, p, _)| *v == vid && *p == pid) {
            Some((_, _, subs)) if subs.contains(&sub) => {}
            Some((_, _, subs)) => subs.push(sub),
            None => out.push((vid, pid, vec![sub])),
        }
    }
    out
}

/// udev rules for every USB id in the device table: group [`GROUP`],
/// mode 0660 on the hidraw node, on the usbfs node
/// (`/dev/bus/usb/BBB/DDD`) and on the hiddev node (`/dev/usb/hiddevN`,
/// both for the USB string descriptors), and `hidupsd.service` wanted
/// when the USB device appears.
#[doc(hidden)]
pub fn udev_rules() -> String {
    let mut s = String::new();
    s.push_str(
        "# udev rules for hidupsd: USB HID UPSes known to NUT's usbhid-ups subdrivers,\n\
         # and the Megatec/Q1 USB bridges of nutdrv_qx's table (src/qx/tables.rs).\n\
         # Generated from src/ups/tables/devices.rs by `make generate`: do not edit.\n\
         # Local additions go in a file of their own (/etc/udev/rules.d/), see\n\
         # rules/README.md.\n\
         #\n",
    );
    let _ = writeln!(
        s,
        "# For each listed USB id: group {GROUP}, mode 0660 on its hidraw node (reports),\n\
         # its usbfs node and its hiddev node (USB string descriptors); hidupsd.service\n\
         # is started when the USB device appears (systemd only; harmless elsewhere)."
    );
    s.push_str(
        "\nACTION==\"remove\", GOTO=\"hidupsd_end\"\n\
         SUBSYSTEM==\"hidraw\", GOTO=\"hidupsd_ids\"\n\
         SUBSYSTEM==\"usbmisc\", KERNEL==\"hiddev*\", GOTO=\"hidupsd_ids\"\n\
         SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", GOTO=\"hidupsd_ids\"\n\
         GOTO=\"hidupsd_end\"\n\
         \n\
         LABEL=\"hidupsd_ids\"\n",
    );
    let mut last_sub = "";
    for (vid, pid, subs) in unique_ids() {
        if subs[0] != last_sub {
            let _ = writeln!(s, "# {}", subs[0]);
            last_sub = subs[0];
        }
        if subs.len() > 1 {
            let _ = writeln!(s, "# (also claimed by {})", subs[1..].join(", "));
        }
        let _ = writeln!(
            s,
            "ATTRS{{idVendor}}==\"{vid:04x}\", ATTRS{{idProduct}}==\"{pid:04x}\", GOTO=\"hidupsd_ups\""
        );
    }
    let _ = write!(
        s,
        "GOTO=\"hidupsd_end\"\n\
         \n\
         LABEL=\"hidupsd_ups\"\n\
         GROUP=\"{GROUP}\", MODE=\"0660\"\n\
         SUBSYSTEM==\"usb\", TAG+=\"systemd\", ENV{{SYSTEMD_WANTS}}+=\"hidupsd.service\"\n\
         \n\
         LABEL=\"hidupsd_end\"\n"
    );
    s
}

/// OpenWrt's hotplug script (installed as `/etc/hotplug.d/hidraw/` and
/// `/etc/hotplug.d/usb/` `30-hidupsd`): procd creates device nodes as
/// root-only, so for every USB id of the table it gives the hidraw node
/// and the usbfs node group [`GROUP`], mode 0660, as the udev rules do.
/// The init script runs it for the nodes that exist when it starts.
#[doc(hidden)]
pub fn openwrt_hotplug() -> String {
    let mut s = String::new();
    s.push_str(
        "#!/bin/sh\n\
         # hidupsd on OpenWrt: procd's hotplug creates device nodes for root only;\n\
         # give the nut group the hidraw and usbfs nodes of the USB HID UPSes that\n\
         # NUT's usbhid-ups subdrivers list (what 70-hidupsd.rules does under udev).\n\
         # Generated from src/ups/tables/devices.rs by `make generate`: do not edit.\n\
         # Installed as /etc/hotplug.d/hidraw/30-hidupsd and\n\
         # /etc/hotplug.d/usb/30-hidupsd; hotplug-call sets ACTION, SUBSYSTEM,\n\
         # DEVNAME, DEVPATH and (usb) DEVTYPE and PRODUCT.\n\
         # shellcheck disable=SC2154  # set by hotplug-call\n\
         \n\
         [ \"$ACTION\" = add ] || [ \"$ACTION\" = bind ] || exit 0\n\
         node=/dev/$DEVNAME\n\
         [ -n \"$DEVNAME\" ] && [ -e \"$node\" ] || exit 0\n\
         \n\
         # The USB id: from the HID device's name in DEVPATH (bus:VENDOR:PRODUCT.n,\n\
         # upper-case hex) for hidraw, from PRODUCT (vendor/product/release, hex\n\
         # without leading zeros) for the usb_device.\n\
         case \"$SUBSYSTEM\" in\n\
         hidraw)\n\
         \tid=${DEVPATH%/hidraw/*}\n\
         \tid=${id##*/}\n\
         \tcase \"$id\" in\n\
         \t0003:????:????.*) ;;\n\
         \t*) exit 0 ;;\n\
         \tesac\n\
         \tid=$(echo \"$id\" | cut -c6-14 | tr 'ABCDEF' 'abcdef')\n\
         \t;;\n\
         usb)\n\
         \t[ \"$DEVTYPE\" = usb_device ] || exit 0\n\
         \tid=$(printf '%04x:%04x' \"0x${PRODUCT%%/*}\" \"0x$(echo \"$PRODUCT\" | cut -d/ -f2)\")\n\
         \t;;\n\
         *) exit 0 ;;\n\
         esac\n\
         \n\
         case \"$id\" in\n",
    );
    let ids: Vec<String> = unique_ids()
        .iter()
        .map(|(v, p, _)| format!("{v:04x}:{p:04x}"))
        .collect();
    let lines: Vec<String> = ids.chunks(6).map(|c| c.join(" | ")).collect();
    let _ = writeln!(s, "{})", lines.join(" | \\\n"));
    s.push_str(
        "\tchgrp nut \"$node\" && chmod 0660 \"$node\"\n\
         \t;;\n\
         esac\n\
         exit 0\n",
    );
    s
}

/// Text for an mdoc text line (not a macro line): backslashes escaped,
/// a leading control character neutralised.
fn mdoc_text(t: &str) -> String {
    let t = t.replace('\\', "\\e");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// Append `text` as text lines of at most 72 bytes where it has spaces
/// to break at (mandoc's lint wants lines under 80).
fn wrap(out: &mut String, text: &str) {
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > 72 {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// What a row's claim condition and handler add to its models.
fn notes(d: &DeviceId) -> Vec<String> {
    let mut n = Vec::new();
    match d.gate {
        Gate::None => {}
        Gate::VendorContains(v) => n.push(format!("only when the vendor string contains \"{v}\"")),
        Gate::VendorOrProductContains(v) => n.push(format!(
            "only when the vendor or product string contains \"{v}\""
        )),
        Gate::VendorOrProduct(v, p) => n.push(format!(
            "only when the vendor string contains \"{v}\" or the product string \"{p}\""
        )),
    }
    match d.handler {
        Handler::DisableInterruptPipe => {
            n.push("polled only: its interrupt reports are not used".into())
        }
        Handler::InterruptOnly => n.push("its data comes by interrupt reports only".into()),
        Handler::None | Handler::ApcGeneral | Handler::Other(_) => {}
    }
    n
}

/// The BRIDGES section: nutdrv_qx's USB table in its order, each row's
/// bridge (the `subdriver` of `driver = nutdrv_qx`) and the strings it
/// needs; a bridge hidraw cannot drive is said not to be served.
fn bridges(s: &mut String) {
    s.push_str(
        ".Sh BRIDGES\n\
         USB bridges of NUT's\n\
         .Xr nutdrv_qx 8\n\
         that hidupsd drives through hidraw, for a device that is not a\n\
         Power Device; the first entry for an ID whose strings match (case\n\
         ignored), in this order, names the bridge, which\n\
         .Ic subdriver\n\
         with\n\
         .Ic driver No = nutdrv_qx\n\
         in\n\
         .Pa ups.conf\n\
         also chooses.\n\
         .Pa docs/megatec.md\n\
         in the sources says more.\n\
         .Bl -tag -width 9n -compact\n",
    );
    for r in crate::qx::tables::USB_IDS.iter() {
        let mut text = r.bridge.name().to_string();
        if !r.bridge.over_hidraw() {
            text.push_str(", not served: its vendor requests cannot be sent through hidraw");
        }
        match (r.vendor, r.product) {
            (None, None) => {}
            (Some(v), None) => text.push_str(&format!("; only when the vendor string is \"{v}\"")),
            (None, Some(p)) => text.push_str(&format!("; only when the product string is \"{p}\"")),
            (Some(v), Some(p)) => text.push_str(&format!(
                "; only when the vendor string is \"{v}\" and the product string \"{p}\""
            )),
        }
        let _ = writeln!(s, ".It {:04x}:{:04x}", r.vid, r.pid);
        wrap(s, &mdoc_text(&text));
    }
    s.push_str(".El\n");
}

/// The supported-devices manual page (`hidupsd-devices(7)`), in mdoc.
#[doc(hidden)]
pub fn device_list_mdoc() -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        ".\\\" Generated from src/ups/tables/devices.rs by `make generate`: do not edit.\n\
         .Dd {MAN_DATE}\n\
         .Dt HIDUPSD-DEVICES 7\n\
         .Os\n\
         .Sh NAME\n\
         .Nm hidupsd-devices\n\
         .Nd USB UPSes that hidupsd recognises\n\
         .Sh DESCRIPTION\n\
         .Xr hidupsd 8\n\
         serves USB HID Power Devices through their hidraw nodes.\n\
         It picks the NUT subdriver table that decodes a device in three steps:\n\
         .Bl -enum\n\
         .It\n\
         A USB vendor and product ID listed below selects that subdriver, as\n\
         NUT's\n\
         .Xr usbhid-ups 8\n\
         does; where several subdrivers list the same ID, the first whose\n\
         condition holds, in the order of this page, takes it.\n\
         .It\n\
         An unlisted product of a vendor listed under\n\
         .Sx VENDORS\n\
         takes that vendor's subdriver when its\n\
         .Pa ups.conf\n\
         section sets\n\
         .Ic productid ,\n\
         as NUT does.\n\
         .It\n\
         Any other device whose report descriptor is a Power Device (an\n\
         application collection on usage page 0x84 or 0x85) is served with\n\
         hidupsd's generic table\n\
         .Pq Dq {generic} ,\n\
         which covers the paths the HID Power Device class defines.\n\
         NUT serves nothing for such a device.\n\
         .El\n\
         .Pp\n\
         A device whose report descriptor is not a Power Device is never\n\
         served with these tables, even when its ID is listed.\n\
         .Ic subdriver\n\
         in\n\
         .Pa ups.conf\n\
         chooses a table by name instead.\n\
         .Pp\n\
         A device that is not a Power Device but one of the USB bridges of\n\
         NUT's\n\
         .Xr nutdrv_qx 8\n\
         (0665:5161, 06da:0003 and the others under\n\
         .Sx BRIDGES )\n\
         is served as a Megatec/Q1 unit when one of nutdrv_qx's protocols\n\
         answers through it.\n\
         Units behind a CH340 USB-serial bridge (1a86:7523) are serial\n\
         ports, not HID devices, and are not served.\n\
         .Pp\n\
         The udev rules installed with hidupsd\n\
         .Pq Pa 70-hidupsd.rules\n\
         give the group\n\
         .Ql {GROUP}\n\
         access to the devices listed here only: udev cannot tell a Power\n\
         Device from other HID devices.\n\
         Another UPS needs a local rule, or hidupsd running as root; see\n\
         .Sx FILES .\n\
         .Sh DEVICES\n\
         Each subsection is a subdriver, with its\n\
         .Ic subdriver\n\
         name and the version of its NUT table; each entry is a USB vendor\n\
         and product ID in hex, with the models NUT names for it.\n",
        generic = generic::SUBDRIVER.name,
    );
    for sub in SUBDRIVERS {
        let rows: Vec<&DeviceId> = DEVICES
            .iter()
            .filter(|d| d.subdriver.get() == sub.key)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            ".Ss {key}\n{name}\n.Bl -tag -width 9n -compact\n",
            key = sub.key,
            name = mdoc_text(sub.name),
        );
        for d in rows {
            let _ = writeln!(s, ".It {:04x}:{:04x}", d.vid, d.pid);
            let mut text = if d.models.get().is_empty() {
                "no model named".to_string()
            } else {
                mdoc_text(d.models.get())
            };
            for n in notes(d) {
                text.push_str("; ");
                text.push_str(&mdoc_text(&n));
            }
            wrap(&mut s, &text);
        }
        s.push_str(".El\n");
    }
    bridges(&mut s);
    s.push_str(
        ".Sh VENDORS\n\
         An unlisted product of one of these vendor IDs takes the subdriver\n\
         named before it when\n\
         .Ic productid\n\
         is set in its\n\
         .Pa ups.conf\n\
         section:\n\
         .Bl -tag -width 10n -compact\n",
    );
    let mut keys: Vec<&str> = Vec::new();
    for (_, key) in VENDOR_FALLBACK {
        let key = &key.get();
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    for key in keys {
        let vids: Vec<String> = VENDOR_FALLBACK
            .iter()
            .filter(|(_, k)| k.get() == key)
            .map(|(v, _)| format!("{v:04x}"))
            .collect();
        let _ = writeln!(s, ".It {key}\n{}", vids.join(", "));
    }
    s.push_str(".El\n.Pp\nThese IDs are never taken that way:\n");
    let rejects: Vec<String> = FALLBACK_REJECT
        .iter()
        .map(|(v, p)| format!("{v:04x}:{p:04x}"))
        .collect();
    let _ = writeln!(s, "{}.", rejects.join(", "));
    let _ = write!(
        s,
        ".Sh FILES\n\
         .Bl -tag -width Ds\n\
         .It Pa /usr/lib/udev/rules.d/70-hidupsd.rules\n\
         The rules generated from this list.\n\
         For another UPS, a rule of the same form in\n\
         .Pa /etc/udev/rules.d/\n\
         gives access to it; with the IDs that\n\
         .Nm hidupsd Cm scan\n\
         prints\n\
         .Pq run as root :\n\
         .Bd -literal -offset indent\n\
         SUBSYSTEM==\"hidraw\", ATTRS{{idVendor}}==\"abcd\", \\e\n\
         \x20 ATTRS{{idProduct}}==\"1234\", GROUP=\"{GROUP}\", MODE=\"0660\"\n\
         .Ed\n\
         .El\n\
         .Sh SEE ALSO\n\
         .Xr hidupsd.conf 5 ,\n\
         .Xr udev 7 ,\n\
         .Xr hidupsd 8\n"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_one_rule() {
        let r = udev_rules();
        for d in DEVICES {
            let line = format!(
                "ATTRS{{idVendor}}==\"{:04x}\", ATTRS{{idProduct}}==\"{:04x}\", GOTO=\"hidupsd_ups\"",
                d.vid, d.pid
            );
            assert_eq!(r.matches(&line).count(), 1, "{line}");
        }
        // Megatec bridges hidraw can drive too (0665:5161 cypress), not
        // the Masterguard variant's vendor requests alone.
        assert_eq!(
            r.matches("ATTRS{idVendor}==\"0665\", ATTRS{idProduct}==\"5161\"")
                .count(),
            1
        );
        assert!(r.contains("# nutdrv_qx\n"));
        // Every GOTO has its LABEL.
        for label in ["hidupsd_ids", "hidupsd_ups", "hidupsd_end"] {
            assert!(r.contains(&format!("LABEL=\"{label}\"")), "{label}");
        }
    }

    #[test]
    fn every_device_is_on_the_page() {
        let m = device_list_mdoc();
        for d in DEVICES {
            assert!(m.contains(&format!(".It {:04x}:{:04x}\n", d.vid, d.pid)));
        }
        // No text line may be read as a request.
        for l in m.lines() {
            assert!(!l.starts_with('\''), "{l}");
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(mdoc_text(".5 kVA"), "\\&.5 kVA");
        assert_eq!(mdoc_text("a\\b"), "a\\eb");
    }
}
