//! hidupsd-devices(7) read as a user reads it, each claim tried against
//! the code that decides: the committed page is parsed on its own (not
//! through the generator) and its rows, conditions, vendor fallbacks,
//! bridges and udev coverage are put to the subdriver choice
//! (`ups::select::choose`), nutdrv_qx's bridge choice (`qx::usbid`) and
//! the installed udev rules. `generated.rs` checks that the page is what
//! the generator writes today; this checks that what it says is true.

use hidupsd::hid::descriptor::Descriptor;
use hidupsd::qx::usbid::{self, Serve};
use hidupsd::ups::generic;
use hidupsd::ups::options::{Identity, Options};
use hidupsd::ups::select::{by_name, choose};
use hidupsd::ups::tables::devices::DEVICES;
use hidupsd::ups::tables::SUBDRIVERS;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// An mdoc text line as the reader sees it.
fn unescape(t: &str) -> String {
    t.replace("\\&", "").replace("\\e", "\\")
}

/// A `.It VVVV:PPPP` entry of a subsection: the ID and its text.
#[derive(Debug)]
struct Row {
    section: String,
    vid: u16,
    pid: u16,
    text: String,
}

/// What the page says about the strings a row needs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cond<'a> {
    Always,
    Vendor(&'a str),
    VendorOrProduct(&'a str),
    VendorOrProductEach(&'a str, &'a str),
}

impl Row {
    fn cond(&self) -> Cond<'_> {
        let t = &self.text;
        let quoted = |after: &str| -> Option<&str> {
            let rest = &t[t.find(after)? + after.len()..];
            rest.split('"').next()
        };
        if let Some(v) = quoted("only when the vendor or product string contains \"") {
            Cond::VendorOrProduct(v)
        } else if let Some(v) = quoted("only when the vendor string contains \"") {
            match quoted(&format!("contains \"{v}\" or the product string \"")) {
                Some(p) => Cond::VendorOrProductEach(v, p),
                None => Cond::Vendor(v),
            }
        } else {
            assert!(!t.contains("only when"), "a condition not understood: {t}");
            Cond::Always
        }
    }

    fn holds(&self, id: &Identity) -> bool {
        let has = |s: &Option<String>, w: &str| s.as_deref().is_some_and(|s| s.contains(w));
        match self.cond() {
            Cond::Always => true,
            Cond::Vendor(v) => has(&id.vendor, v),
            Cond::VendorOrProduct(v) => has(&id.vendor, v) || has(&id.product, v),
            Cond::VendorOrProductEach(v, p) => has(&id.vendor, v) || has(&id.product, p),
        }
    }

    /// Identities that meet the row's condition (each way it can be met).
    fn meeting(&self) -> Vec<Identity> {
        let id = |vendor: Option<&str>, product: Option<&str>| Identity {
            vid: self.vid,
            pid: self.pid,
            vendor: vendor.map(str::to_string),
            product: product.map(str::to_string),
            serial: None,
        };
        match self.cond() {
            Cond::Always => vec![id(None, None)],
            Cond::Vendor(v) => vec![id(Some(v), None)],
            Cond::VendorOrProduct(v) => vec![id(Some(v), None), id(None, Some(v))],
            Cond::VendorOrProductEach(v, p) => vec![id(Some(v), None), id(None, Some(p))],
        }
    }
}

/// The page's parts: subsections with their heading line, rows, the
/// VENDORS list and the IDs never taken by vendor.
struct Page {
    text: String,
    sections: Vec<(String, String)>,
    rows: Vec<Row>,
    vendors: Vec<(String, Vec<u16>)>,
    rejects: Vec<(u16, u16)>,
}

fn hex_id(s: &str) -> (u16, u16) {
    let (v, p) = s
        .split_once(':')
        .unwrap_or_else(|| panic!("not an ID: {s}"));
    assert!(v.len() == 4 && p.len() == 4, "not an ID: {s}");
    (
        u16::from_str_radix(v, 16).unwrap(),
        u16::from_str_radix(p, 16).unwrap(),
    )
}

/// The text lines after a `.It` (up to the next macro line), joined
/// as the reader sees them.
fn item_text<'a>(lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>) -> String {
    let mut words = Vec::new();
    while let Some(t) = lines.peek().filter(|t| !t.starts_with('.')) {
        words.push(unescape(t));
        lines.next();
    }
    words.join(" ")
}

fn page() -> Page {
    let text = read("man/hidupsd-devices.7");
    let mut p = Page {
        text: text.clone(),
        sections: Vec::new(),
        rows: Vec::new(),
        vendors: Vec::new(),
        rejects: Vec::new(),
    };
    let mut sh = "";
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if let Some(s) = l.strip_prefix(".Sh ") {
            sh = s;
            continue;
        }
        match sh {
            "DEVICES" => {
                if let Some(key) = l.strip_prefix(".Ss ") {
                    let heading = unescape(lines.next().unwrap());
                    p.sections.push((key.to_string(), heading));
                } else if let Some(id) = l.strip_prefix(".It ") {
                    let (vid, pid) = hex_id(id);
                    p.rows.push(Row {
                        section: p.sections.last().expect("a row before .Ss").0.clone(),
                        vid,
                        pid,
                        text: item_text(&mut lines),
                    });
                }
            }
            "VENDORS" => {
                if let Some(key) = l.strip_prefix(".It ") {
                    let vids = lines
                        .next()
                        .unwrap()
                        .split(", ")
                        .map(|v| u16::from_str_radix(v, 16).unwrap())
                        .collect();
                    p.vendors.push((key.to_string(), vids));
                } else if l == "These IDs are never taken that way:" {
                    let ids = lines.next().unwrap().trim_end_matches('.');
                    p.rejects = ids.split(", ").map(hex_id).collect();
                }
            }
            _ => {}
        }
    }
    assert!(p.rows.len() > 100, "{} rows", p.rows.len());
    assert!(!p.vendors.is_empty() && !p.rejects.is_empty());
    p
}

fn ident(vid: u16, pid: u16) -> Identity {
    Identity {
        vid,
        pid,
        vendor: None,
        product: None,
        serial: None,
    }
}

/// Every row is one of the daemon's device table, under the subdriver
/// that lists it, and every row of the table is on the page.
#[test]
fn the_rows_are_the_device_table() {
    let p = page();
    let mut page_rows: Vec<(String, u16, u16)> = p
        .rows
        .iter()
        .map(|r| (r.section.clone(), r.vid, r.pid))
        .collect();
    let mut table: Vec<(String, u16, u16)> = DEVICES
        .iter()
        .map(|d| (d.subdriver.get().to_string(), d.vid, d.pid))
        .collect();
    page_rows.sort();
    table.sort();
    assert_eq!(page_rows, table);
}

/// Each subsection is a subdriver `subdriver =` accepts by that name,
/// headed by the name and version it publishes, in the daemon's order
/// (the order the page says decides between subdrivers).
#[test]
fn the_subsections_are_the_subdrivers_in_their_order() {
    let p = page();
    let mut last = None;
    for (key, heading) in &p.sections {
        let sub = by_name(key).unwrap_or_else(|| panic!("subdriver = {key} is refused"));
        assert_eq!(sub.key, key.as_str());
        assert_eq!(&sub.name, heading, "{key}");
        assert_eq!(by_name(heading).map(|s| s.key), Some(sub.key), "{heading}");
        let at = SUBDRIVERS.iter().position(|s| s.key == key).unwrap();
        assert!(last.is_none_or(|l| l < at), "{key} out of order");
        last = Some(at);
    }
    // The generic table the page names.
    assert!(
        p.text
            .contains(&format!(".Pq Dq {} ,\n", generic::SUBDRIVER.name)),
        "the generic table's name"
    );
}

/// "A USB vendor and product ID listed below selects that subdriver ...
/// where several subdrivers list the same ID, the first whose condition
/// holds, in the order of this page, takes it": for each row, with
/// strings that meet its condition, the subdriver chosen is the first
/// row of the page for that ID whose condition holds; with no strings,
/// a conditional row's ID goes to the first unconditional row, else to
/// the generic table. "polled only" and "interrupt reports only" are
/// what the choice says.
#[test]
fn each_row_selects_what_the_page_says() {
    let p = page();
    let o = Options::default();
    for row in &p.rows {
        let mut ids = row.meeting();
        ids.push(ident(row.vid, row.pid));
        for id in ids {
            let first = p
                .rows
                .iter()
                .find(|r| r.vid == id.vid && r.pid == id.pid && r.holds(&id));
            let c = choose(&id, &o).unwrap();
            let want = first.map_or(generic::SUBDRIVER.key, |r| r.section.as_str());
            assert_eq!(c.sub.key, want, "{:04x}:{:04x} {id:?}", row.vid, row.pid);
            if let Some(r) = first {
                assert_eq!(
                    c.pollonly,
                    r.text
                        .contains("polled only: its interrupt reports are not used"),
                    "{r:?}"
                );
                assert_eq!(
                    c.interruptonly,
                    r.text.contains("its data comes by interrupt reports only"),
                    "{r:?}"
                );
            }
        }
    }
}

/// VENDORS: an unlisted product of each vendor takes the subdriver named
/// before it only when productid is set; the IDs listed as never taken
/// that way keep the generic table.
#[test]
fn unlisted_products_follow_the_vendors_list() {
    let p = page();
    let listed = |v: u16, q: u16| p.rows.iter().any(|r| r.vid == v && r.pid == q);
    let with = Options {
        productid_set: true,
        ..Options::default()
    };
    for (key, vids) in &p.vendors {
        for &vid in vids {
            let pid = (0x7e57..).find(|&q| !listed(vid, q)).unwrap();
            let id = ident(vid, pid);
            assert_eq!(choose(&id, &with).unwrap().sub.key, key, "{vid:04x}");
            assert_eq!(
                choose(&id, &Options::default()).unwrap().sub.key,
                generic::SUBDRIVER.key,
                "{vid:04x} without productid"
            );
        }
    }
    for &(vid, pid) in &p.rejects {
        assert!(!listed(vid, pid), "{vid:04x}:{pid:04x} is a row");
        assert!(
            p.vendors.iter().any(|(_, v)| v.contains(&vid)),
            "{vid:04x}: not a listed vendor"
        );
        assert_eq!(
            choose(&ident(vid, pid), &with).unwrap().sub.key,
            generic::SUBDRIVER.key,
            "{vid:04x}:{pid:04x}"
        );
    }
}

/// A report descriptor with one application collection on `page`.
fn descriptor(page: u8, usage: u8) -> Descriptor {
    // Usage Page, Usage, Collection (Application), a 1-byte input, End.
    let bytes = [
        0x05, page, 0x09, usage, 0xa1, 0x01, 0x85, 0x01, 0x75, 0x08, 0x95, 0x01, 0x09, 0x01, 0x81,
        0x02, 0xc0,
    ];
    Descriptor::parse(&bytes).unwrap()
}

/// "a Power Device (an application collection on usage page 0x84 or
/// 0x85)"; "A device whose report descriptor is not a Power Device is
/// never served with these tables, even when its ID is listed"; the
/// nutdrv_qx bridges the page names are served as Megatec units when
/// they are not Power Devices, and a CH340 is not.
#[test]
fn power_devices_and_bridges_are_what_the_page_says() {
    assert!(descriptor(0x84, 0x04).is_power_device());
    assert!(descriptor(0x85, 0x01).is_power_device());
    assert!(!descriptor(0x01, 0x06).is_power_device());
    assert!(!descriptor(0xff, 0x01).is_power_device());

    let p = page();
    for r in &p.rows {
        // Not a Power Device and not a bridge: nothing serves it.
        if usbid::bridge(r.vid, r.pid, None, None).is_none() {
            assert_eq!(
                usbid::choose(false, None, r.vid, r.pid, None, None),
                Serve::Neither,
                "{r:?}"
            );
        }
        assert_eq!(
            usbid::choose(true, None, r.vid, r.pid, None, None),
            Serve::PowerDevice
        );
    }
    let para = p
        .text
        .split(".Pp\n")
        .find(|s| s.contains(".Xr nutdrv_qx 8"))
        .expect("the nutdrv_qx paragraph");
    let named: Vec<(u16, u16)> = para
        .split(|c: char| !c.is_ascii_hexdigit() && c != ':')
        .filter(|w| w.len() == 9 && w.as_bytes()[4] == b':')
        .map(hex_id)
        .collect();
    assert!(named.len() >= 3, "{named:?}");
    for (vid, pid) in named {
        let ch340 = (vid, pid) == (0x1a86, 0x7523);
        let got = usbid::choose(false, None, vid, pid, None, None);
        assert_eq!(
            matches!(got, Serve::Megatec(_)),
            !ch340,
            "{vid:04x}:{pid:04x}: {got:?}"
        );
    }
}

/// "The udev rules installed with hidupsd give the group nut access to
/// the devices listed here only": every ID of the rules is on the page
/// (a row, or a bridge of the BRIDGES section), and every ID on the page
/// is in the rules.
#[test]
fn the_udev_rules_cover_the_devices_listed_here() {
    let p = page();
    let mut in_rules = crate::common::udev_rule_ids();
    let bridges: Vec<(u16, u16)> = bridge_rows(&p).iter().map(|r| (r.vid, r.pid)).collect();
    let mut on_page: Vec<(u16, u16)> = p
        .rows
        .iter()
        .map(|r| (r.vid, r.pid))
        .chain(bridges.iter().copied())
        .collect();
    in_rules.sort_unstable();
    in_rules.dedup();
    on_page.sort_unstable();
    on_page.dedup();
    let hex = |ids: &[(u16, u16)]| -> Vec<String> {
        ids.iter()
            .map(|(v, q)| format!("{v:04x}:{q:04x}"))
            .collect()
    };
    let missing: Vec<(u16, u16)> = in_rules
        .iter()
        .filter(|i| !on_page.contains(i))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "in the rules, not on the page: {:?}",
        hex(&missing)
    );
    assert_eq!(hex(&in_rules), hex(&on_page));
    // Each bridge listed is one hidupsd drives over hidraw.
    for (vid, pid) in bridges {
        let any = hidupsd::qx::tables::USB_IDS
            .iter()
            .any(|r| r.vid == vid && r.pid == pid && r.bridge.over_hidraw());
        assert!(any, "{vid:04x}:{pid:04x}");
    }
}

/// One BRIDGES entry: the ID, the bridge's name, whether it is served
/// and the strings it needs.
struct BridgeRow {
    vid: u16,
    pid: u16,
    name: String,
    served: bool,
    vendor: Option<String>,
    product: Option<String>,
}

fn bridge_rows(p: &Page) -> Vec<BridgeRow> {
    let section = p
        .text
        .split(".Sh BRIDGES\n")
        .nth(1)
        .expect("no BRIDGES section");
    let section = section.split("\n.Sh ").next().unwrap();
    let mut rows = Vec::new();
    let mut lines = section.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(id) = l.strip_prefix(".It ") else {
            continue;
        };
        let (vid, pid) = hex_id(id);
        let text = item_text(&mut lines);
        let name = text.split([',', ';']).next().unwrap().to_string();
        let quoted = |after: &str| {
            let at = text.find(after)? + after.len();
            text[at..].split('"').next().map(str::to_string)
        };
        rows.push(BridgeRow {
            vid,
            pid,
            served: !text.contains(", not served:"),
            vendor: quoted("the vendor string is \""),
            product: quoted("the product string is \"")
                .or_else(|| quoted("and the product string \"")),
            name,
        });
    }
    assert!(rows.len() >= 10, "{} bridge entries", rows.len());
    rows
}

/// BRIDGES: for each entry, a device with its ID and strings (and no
/// Power Device descriptor) is driven over the bridge of the first entry
/// whose strings match, or not at all where that entry says so; and the
/// name is the `subdriver` nutdrv_qx's section takes.
#[test]
fn each_bridge_entry_is_what_the_daemon_chooses() {
    let p = page();
    let rows = bridge_rows(&p);
    let eq = |want: &Option<String>, have: &Option<String>| match want {
        None => true,
        Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
    };
    for r in &rows {
        let bridge = hidupsd::qx::table::Bridge::from_name(&r.name)
            .unwrap_or_else(|| panic!("subdriver = {} is not a bridge", r.name));
        assert_eq!(bridge.over_hidraw(), r.served, "{}", r.name);
        let first = rows
            .iter()
            .find(|o| {
                o.vid == r.vid
                    && o.pid == r.pid
                    && eq(&o.vendor, &r.vendor)
                    && eq(&o.product, &r.product)
            })
            .unwrap();
        let got = usbid::choose(
            false,
            None,
            r.vid,
            r.pid,
            r.vendor.as_deref(),
            r.product.as_deref(),
        );
        let want = if first.served {
            Serve::Megatec(hidupsd::qx::table::Bridge::from_name(&first.name).unwrap())
        } else {
            Serve::Neither
        };
        assert_eq!(
            got, want,
            "{:04x}:{:04x} {} {:?} {:?}",
            r.vid, r.pid, r.name, r.vendor, r.product
        );
        // A Power Device with the same ID is usbhid-ups's.
        assert_eq!(
            usbid::choose(
                true,
                None,
                r.vid,
                r.pid,
                r.vendor.as_deref(),
                r.product.as_deref()
            ),
            Serve::PowerDevice
        );
    }
}
