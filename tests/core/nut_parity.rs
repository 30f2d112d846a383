//! hidupsd against NUT itself: for every fixture with `nut-2.8.0-upsc.txt`
//! (Debian NUT 2.8.0's usbhid-ups reading exactly the fixture's descriptor
//! and feature reports), every variable NUT published must be published
//! by hidupsd with the same value. Variables made of USB strings and
//! `driver.*` are left out (the simulated device's strings were
//! placeholders). Each remaining difference is listed below with its
//! reason and is checked exactly, both sides, so that a change shows.
//!
//! Extra variables hidupsd publishes (NUT's newer tables) are allowed and
//! printed. The same comparison runs against `upsc.txt` where that listing
//! comes from the same physical unit.

use hidupsd::cli::decode;
use hidupsd::recording::Recording;
use hidupsd::ups::options::Options;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Variables built from USB string descriptors, and the driver's own.
fn is_string_var(name: &str) -> bool {
    matches!(
        name,
        "device.mfr"
            | "device.model"
            | "device.serial"
            | "ups.mfr"
            | "ups.model"
            | "ups.serial"
            | "battery.type"
    ) || name.starts_with("driver.")
}

/// (fixture, variable, NUT's value, hidupsd's value, why they differ).
/// `None` means the variable is absent on that side.
type Exception = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const NO_STATUS_DATA: &str = "no status report was recorded for this unit; NUT 2.8.0 says OB whenever \
    ACPresent is not known to be 1 (a false on-battery); NUT master, and hidupsd, add no power state";
const CPS_DELAYS: &str =
    "NUT master's CyberPower table defaults to 60 s / 120 s because the firmware \
    counts whole minutes (2.8.0 used 20 s / 30 s)";
const CPS_STRING_DATE: &str =
    "the CyberPower table reads battery.mfr.date as a USB string index; the \
    simulated device answered that index with its placeholder serial";
const CHRG_AT_FULL: &str =
    "NUT master (and hidupsd) report CHRG only while the battery is not full \
    (battery.charge 100 and no full-charge flag); NUT 2.8.0 reported every Charging bit";
const FIRMWARE_STRING: &str =
    "ups.firmware is a USB string index (iVersion); the simulated device's \
    strings were placeholders and a recording carries none";

const EXCEPTIONS: &[Exception] = &[
    ("apc-smart-ups-x-750", "ups.status", Some("OB"), Some(""), NO_STATUS_DATA),
    ("cps-ec850lcd", "ups.status", Some("OB"), Some(""), NO_STATUS_DATA),
    ("idowell-075d-0300-smart-battery", "ups.status", Some("OB"), Some(""), NO_STATUS_DATA),
    ("tripplite-09ae-3016", "ups.status", Some("OB"), Some(""), NO_STATUS_DATA),
    ("cps-cp1500avrlcda", "ups.delay.shutdown", Some("20"), Some("60"), CPS_DELAYS),
    ("cps-cp1500avrlcda", "ups.delay.start", Some("30"), Some("120"), CPS_DELAYS),
    ("cps-ec850lcd", "ups.delay.shutdown", Some("20"), Some("60"), CPS_DELAYS),
    ("cps-ec850lcd", "ups.delay.start", Some("30"), Some("120"), CPS_DELAYS),
    ("cps-or2200lcdrt2u", "ups.delay.shutdown", Some("20"), Some("60"), CPS_DELAYS),
    ("cps-or2200lcdrt2u", "ups.delay.start", Some("30"), Some("120"), CPS_DELAYS),
    ("cps-cp1500avrlcda", "battery.mfr.date", Some("SIM000000001"), None, CPS_STRING_DATE),
    ("cps-or2200lcdrt2u", "battery.mfr.date", Some("SIM000000001"), None, CPS_STRING_DATE),
    ("liebert-psi5", "ups.status", Some("OL CHRG"), Some("OL"), CHRG_AT_FULL),
    ("vertiv-liebert-gxt5", "ups.status", Some("OL CHRG"), Some("OL"), CHRG_AT_FULL),
    (
        "eaton-3s-700",
        "ups.status",
        Some("OL"),
        Some("OL CHRG"),
        "the unit says Charging=1 at 92 % and has no ABMEnable field; NUT 2.8.0 treated an unknown \
         ABM state as enabled and dropped the bit, NUT master (and hidupsd) use it",
    ),
    ("eaton-3s-700", "ups.firmware", Some(""), None, FIRMWARE_STRING),
    ("eaton-5sc-750", "ups.firmware", Some("HID UPS (ups-sim-ga"), None, FIRMWARE_STRING),
    (
        "powercom-hid-ups-battery",
        "battery.date",
        Some("2014/01/15"),
        None,
        "NUT master renamed this manufacturing date battery.mfr.date (battery.date is the \
         replacement date); hidupsd publishes battery.mfr.date: 2014/01/15",
    ),
    (
        "powercom-hid-ups-battery",
        "ups.timer.shutdown",
        Some("120"),
        Some("2"),
        "report 0x0f reads 02 00: NUT master reads the high byte as minutes and the low byte as \
         seconds (2 s); 2.8.0 used the other byte order (option powercom_sdcmd_byte_order_fallback)",
    ),
];

/// Fixtures whose `upsc.txt` is from the same unit, with the variables
/// that differ because that listing was taken at another moment.
const SAME_UNIT: &[(&str, &[(&str, &str)])] = &[
    (
        "apc-back-ups-bk650m2-ch",
        &[(
            "ups.load",
            "reports were taken in a separate explore run, load 0 % vs 5 %",
        )],
    ),
    (
        "apc-back-ups-es-850g2",
        &[
            (
                "battery.runtime",
                "the upsc listing is from another day than the reports",
            ),
            (
                "battery.voltage",
                "the upsc listing is from another day than the reports",
            ),
            (
                "input.voltage",
                "the upsc listing is from another day than the reports",
            ),
            (
                "ups.load",
                "the upsc listing is from another day than the reports",
            ),
        ],
    ),
    ("eaton-5sc-750", &[]),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_upsc(p: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once(": ")
                .unwrap_or_else(|| (l.trim_end_matches(':'), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Decode as NUT's reference run was configured: `vendorid` and
/// `productid` given, so known vendors' other products are claimed too.
fn ours(name: &str) -> BTreeMap<String, String> {
    let rec = Recording::load(&fixtures().join(name)).unwrap();
    let opts = Options {
        productid_set: true,
        ..Options::default()
    };
    let (ups, _) = decode::decode(&rec, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    decode::sorted_vars(&ups).into_iter().collect()
}

#[test]
fn every_nut_variable_matches_or_is_a_listed_exception() {
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("nut-2.8.0-upsc.txt").exists())
        .collect();
    dirs.sort();
    let (mut matched, mut total, mut failures) = (0, 0, Vec::new());
    let mut used = vec![false; EXCEPTIONS.len()];
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap();
        if name == "phoenixtec-06da-0003-megatec-over-hid" {
            continue; // Refused on purpose: see the test below.
        }
        let nut = read_upsc(&dir.join("nut-2.8.0-upsc.txt"));
        let us = ours(name);
        let (mut m, mut t) = (0, 0);
        for (k, v) in nut.iter().filter(|(k, _)| !is_string_var(k)) {
            t += 1;
            let got = us.get(k).map(String::as_str);
            if let Some(i) = EXCEPTIONS.iter().position(|e| e.0 == name && e.1 == k) {
                used[i] = true;
                let e = EXCEPTIONS[i];
                if e.2 != Some(v.as_str()) || e.3 != got {
                    failures.push(format!(
                        "{name}: exception for {k} is stale: NUT {v:?}, hidupsd {got:?}"
                    ));
                }
                continue;
            }
            if got == Some(v.as_str()) {
                m += 1;
            } else {
                failures.push(format!("{name}: {k}: NUT {v:?}, hidupsd {got:?}"));
            }
        }
        let extra: Vec<_> = us
            .keys()
            .filter(|k| !nut.contains_key(*k) && !is_string_var(k))
            .collect();
        println!("{name}: {m}/{t} NUT variables identical; hidupsd also publishes {extra:?}");
        matched += m;
        total += t;
    }
    for (i, e) in EXCEPTIONS.iter().enumerate() {
        if !used[i] {
            // An exception for a variable NUT did not publish: hidupsd's side must still hold.
            let got = ours(e.0).get(e.1).cloned();
            if e.2.is_some() || got.as_deref() != e.3 {
                failures.push(format!("{}: exception for {} was not exercised", e.0, e.1));
            }
        }
    }
    println!(
        "total: {matched}/{total} identical, {} listed exceptions",
        EXCEPTIONS.len()
    );
    assert!(
        failures.is_empty(),
        "differences from NUT 2.8.0:\n{}",
        failures.join("\n")
    );
    assert!(
        dirs.len() >= 14 && total > 250,
        "too few fixtures compared: {} / {total}",
        dirs.len()
    );
}

#[test]
fn same_unit_upsc_listings_match() {
    for (name, known) in SAME_UNIT {
        let upsc = read_upsc(&fixtures().join(name).join("upsc.txt"));
        let us = ours(name);
        let mut same = 0;
        for (k, v) in upsc.iter().filter(|(k, _)| !is_string_var(k)) {
            let got = us.get(k).map(String::as_str);
            if let Some((_, why)) = known.iter().find(|(n, _)| n == k) {
                assert_ne!(
                    got,
                    Some(v.as_str()),
                    "{name}: {k} now matches; drop the exception ({why})"
                );
                continue;
            }
            assert_eq!(
                got,
                Some(v.as_str()),
                "{name}: {k} differs from the same unit's upsc"
            );
            same += 1;
        }
        println!(
            "{name}: {same} variables identical to the unit's own upsc, {} known drifts",
            known.len()
        );
        assert!(same >= 10, "{name}: too few variables compared");
    }
}

#[test]
fn megatec_over_hid_is_refused_not_reported_on_battery() {
    let rec = Recording::load(&fixtures().join("phoenixtec-06da-0003-megatec-over-hid")).unwrap();
    let err = decode::decode(
        &rec,
        Options {
            productid_set: true,
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(msg.starts_with("not a HID Power Device"), "{msg}");
    assert!(msg.contains("ffa00004"), "{msg}");
}

#[test]
fn every_power_device_fixture_decodes_with_status_and_charge() {
    let mut n = 0;
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let dir = e.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        if !dir.join("descriptor.hex").exists() || name.starts_with("phoenixtec") {
            continue;
        }
        let rec = Recording::load(&dir).unwrap();
        let (ups, _) =
            decode::decode(&rec, Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(ups.store.has("ups.status"), "{name}");
        // These recordings lack the reports that carry charge and runtime.
        let partial = ["tripplite-09ae-3016", "idowell-075d-0300-smart-battery"];
        if !rec.features.is_empty() && !partial.contains(&name.as_str()) {
            assert!(
                ups.store.has("battery.charge") || ups.store.has("battery.runtime"),
                "{name}"
            );
        }
        n += 1;
    }
    assert_eq!(n, 15);
}

#[test]
fn a_ups_nut_has_no_table_for_is_served_by_the_generic_table() {
    // 5131:2007: a proper Power Device from an unknown vendor; NUT serves nothing.
    let us = ours("unknown-5131-2007");
    assert_eq!(
        us.get("driver.version.data").map(String::as_str),
        Some("hidupsd generic HID 0.1")
    );
    for k in ["battery.charge", "ups.status"] {
        assert!(us.contains_key(k), "{k} missing: {us:?}");
    }
}

/// A fixture through the generic table (no `productid`), after `edit`.
fn generic(name: &str, edit: impl Fn(&mut Recording)) -> BTreeMap<String, String> {
    let mut rec = Recording::load(&fixtures().join(name)).unwrap();
    edit(&mut rec);
    let (ups, _) = decode::decode(&rec, Options::default()).unwrap();
    assert_eq!(ups.sub.key, "generic", "{name}");
    decode::sorted_vars(&ups).into_iter().collect()
}

fn get<'a>(vars: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    vars.get(k).map(String::as_str)
}

#[test]
fn generic_table_converts_absolute_capacities_to_percent() {
    // 5131:2007 counts ampere-seconds (CapacityMode 0): full = remaining =
    // 400, warning limit 40. Its status bits come only in the interrupt
    // report, which the generic table takes too.
    let us = generic("unknown-5131-2007", |_| {});
    assert_eq!(get(&us, "battery.charge"), Some("100"), "{us:?}");
    assert_eq!(get(&us, "battery.charge.warning"), Some("10"), "{us:?}");
    assert_eq!(get(&us, "ups.status"), Some("OL"), "{us:?}");
    // Remaining 200 of 400 (the Feature report's last field and the
    // interrupt report's first) is half full.
    let half = generic("unknown-5131-2007", |r| {
        for rep in r.features.iter_mut().chain(r.inputs.iter_mut()) {
            let n = rep.len();
            let at = if n == 23 { n - 3 } else { 1 };
            rep[at..at + 2].copy_from_slice(&[0xc8, 0x00]);
        }
    });
    assert_eq!(get(&half, "battery.charge"), Some("50"), "{half:?}");
}

#[test]
fn generic_table_leaves_out_not_available_values_and_converts_kelvin() {
    // GXT5: RemainingTimeLimit 0xFFFFFF and Temperature 0xFFFF are its
    // "not available" values (both just above the declared maximum).
    let us = generic("vertiv-liebert-gxt5", |_| {});
    assert_eq!(get(&us, "battery.runtime.low"), None, "{us:?}");
    assert_eq!(get(&us, "ups.temperature"), None, "{us:?}");
    assert_eq!(get(&us, "battery.charge"), Some("100"), "{us:?}");
    assert_eq!(get(&us, "battery.runtime"), Some("36"), "{us:?}");
    // The same unit reading 300 K and a 600 s limit.
    let warm = generic("vertiv-liebert-gxt5", |r| {
        for rep in &mut r.features {
            match rep[0] {
                7 => rep[4..6].copy_from_slice(&300u16.to_le_bytes()),
                5 => rep[1..4].copy_from_slice(&[0x58, 0x02, 0x00]),
                _ => {}
            }
        }
    });
    assert_eq!(get(&warm, "ups.temperature"), Some("26.9"), "{warm:?}");
    assert_eq!(get(&warm, "battery.runtime.low"), Some("600"), "{warm:?}");
}
