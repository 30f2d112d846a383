//! The committed generated files (udev rules, OpenWrt hotplug script,
//! supported-devices page)
//! must be what the device table gives today.

use hidupsd::gen;
use std::path::Path;

fn check(path: &str, want: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let have = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{path}: {e}: run `make generate` and commit it"));
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "{path} differs from what the device table gives (first at line {}): \
             run `make generate` and commit the result",
            line + 1
        );
    }
}

#[test]
fn udev_rules_are_generated() {
    check(gen::UDEV_RULES_PATH, &gen::udev_rules());
}

#[test]
fn device_page_is_generated() {
    check(gen::DEVICES_MAN_PATH, &gen::device_list_mdoc());
}

#[test]
fn openwrt_hotplug_is_generated() {
    check(gen::OPENWRT_HOTPLUG_PATH, &gen::openwrt_hotplug());
}

#[test]
fn the_readme_rule_for_an_unlisted_ups_does_what_the_generated_rules_do() {
    // A local rule for a UPS that is not listed must give the same nodes
    // the group and start the service on plug-in as the generated rules
    // do for a listed one (TAG+="systemd" and SYSTEMD_WANTS on the USB
    // device, or udev never starts hidupsd.service).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("rules/README.md")).unwrap();
    let local: Vec<&str> = readme
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("SUBSYSTEM==") && l.contains(r#"=="abcd""#))
        .collect();
    let generated = gen::udev_rules();
    let start = generated
        .lines()
        .find(|l| l.starts_with(r#"SUBSYSTEM=="usb", TAG+="systemd""#))
        .expect("the generated rules start the service");
    let wants = start.trim_start_matches(r#"SUBSYSTEM=="usb", "#);
    for subsystem in ["hidraw", "usbmisc", "usb"] {
        let line = local
            .iter()
            .find(|l| l.starts_with(&format!(r#"SUBSYSTEM=="{subsystem}""#)))
            .unwrap_or_else(|| panic!("README: no local rule for {subsystem}: {local:?}"));
        assert!(line.contains(r#"GROUP="nut", MODE="0660""#), "{line}");
        assert!(generated.contains(&format!(r#"SUBSYSTEM=="{subsystem}""#)));
        if subsystem == "usb" {
            assert!(line.ends_with(wants), "{line} lacks {wants}");
            assert!(line.contains(r#"ENV{DEVTYPE}=="usb_device""#), "{line}");
        } else {
            assert!(!line.contains("SYSTEMD_WANTS"), "{line}");
        }
    }
}
