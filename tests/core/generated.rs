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
