//! Writes the files generated from the device table (`make generate`):
//! the udev rules and the supported-devices manual page.
//! `tests/core/generated.rs` fails when the committed files differ.

use hidupsd::gen;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in [
        (gen::UDEV_RULES_PATH, gen::udev_rules()),
        (gen::OPENWRT_HOTPLUG_PATH, gen::openwrt_hotplug()),
        (gen::DEVICES_MAN_PATH, gen::device_list_mdoc()),
    ] {
        let file = root.join(path);
        let old = std::fs::read_to_string(&file).unwrap_or_default();
        if old == text {
            println!("{path}: up to date");
            continue;
        }
        if let Err(e) = std::fs::write(&file, text) {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
        println!("{path}: written");
    }
}
