//! OpenWrt's hotplug script (contrib/openwrt/files/hidupsd.hotplug) run
//! as procd's hotplug-call runs it: sourced in a subshell, once per
//! event, with ACTION, SUBSYSTEM, DEVNAME, DEVPATH (and for usb DEVTYPE
//! and PRODUCT) as the kernel's uevent gives them, under OpenWrt's shell
//! (busybox ash) and a POSIX sh. Device nodes are files in a temporary
//! root; chgrp and chmod are shell functions that record their arguments.
//! The init script's pass over the nodes present at start is run on a
//! fake sysfs tree.

use crate::common;
use crate::{root, tempdir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary root: ROOT/dev with device nodes (plain files), the hotplug
/// script rewritten to look there, and the log of chgrp/chmod calls.
struct Fake {
    root: PathBuf,
    script: PathBuf,
}

impl Fake {
    fn new(tag: &str, nodes: &[&str]) -> Fake {
        // Canonical: the init script strips this prefix from readlink -f.
        let root = tempdir(tag).canonicalize().unwrap();
        for n in nodes {
            let p = root.join("dev").join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let text =
            std::fs::read_to_string(root_file("contrib/openwrt/files/hidupsd.hotplug")).unwrap();
        let line = "\nnode=/dev/$DEVNAME\n";
        assert_eq!(text.matches(line).count(), 1, "{text}");
        let text = text.replace(line, &format!("\nnode={}/dev/$DEVNAME\n", root.display()));
        let script = root.join("30-hidupsd");
        std::fs::write(&script, text).unwrap();
        // What a later script in the same directory would do: hotplug-call
        // must still run it (an `exit` in ours ends only its subshell).
        std::fs::write(root.join("40-next"), "echo next >>\"$HOTPLUG_LOG\"\n").unwrap();
        Fake { root, script }
    }

    fn log(&self) -> PathBuf {
        self.root.join("calls")
    }

    /// Run one event through hotplug-call's loop under `shell`; the calls
    /// made, with ROOT written as `ROOT`.
    fn event(&self, shell: &[&str], env: &[(&str, &str)]) -> String {
        let _ = std::fs::remove_file(self.log());
        let mut c = Command::new(shell[0]);
        c.args(&shell[1..])
            .arg("-c")
            .arg(
                "chgrp() { echo \"chgrp $*\" >>\"$HOTPLUG_LOG\"; }\n\
                 chmod() { echo \"chmod $*\" >>\"$HOTPLUG_LOG\"; }\n\
                 for script in \"$1\" \"$2\"; do (\n\
                 \t[ -f \"$script\" ] && . \"$script\"\n\
                 ); done\n",
            )
            .arg("hotplug-call")
            .arg(&self.script)
            .arg(self.root.join("40-next"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOTPLUG_LOG", self.log());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{shell:?} {env:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = std::fs::read_to_string(self.log()).unwrap_or_default();
        let calls = calls.replace(&self.root.display().to_string(), "ROOT");
        // The next script ran, last.
        let calls = calls
            .strip_suffix("next\n")
            .unwrap_or_else(|| panic!("{shell:?} {env:?}: the next script did not run: {calls}"));
        calls.to_string()
    }
}

fn root_file(p: &str) -> PathBuf {
    root().join(p)
}

/// The shells to run the script with: OpenWrt's busybox ash, and `sh`.
fn shells() -> Vec<Vec<&'static str>> {
    let mut v = vec![vec!["sh"]];
    if common::have("busybox") {
        v.push(vec!["busybox", "sh"]);
    } else {
        common::missing("busybox (OpenWrt's shell)");
    }
    v
}

const UPS_HID: &str =
    "/devices/platform/ehci-platform/usb1/1-1/1-1:1.0/0003:051D:0002.0001/hidraw/hidraw0";
const KEYBOARD_HID: &str =
    "/devices/platform/ehci-platform/usb1/1-2/1-2:1.0/0003:046D:C31C.0002/hidraw/hidraw1";

#[test]
fn a_ups_node_gets_the_nut_group_and_nothing_else_does() {
    let f = Fake::new(
        "hotplug",
        &[
            "hidraw0",
            "hidraw1",
            "hidraw2",
            "bus/usb/001/002",
            "bus/usb/001/003",
        ],
    );
    let granted = |node: &str| format!("chgrp nut ROOT/dev/{node}\nchmod 0660 ROOT/dev/{node}\n");
    for sh in shells() {
        let ev = |env: &[(&str, &str)]| f.event(&sh, env);
        // An APC Back-UPS: its hidraw node, then its usbfs node.
        let hidraw_add = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "hidraw"),
            ("DEVNAME", "hidraw0"),
            ("DEVPATH", UPS_HID),
            ("MAJOR", "241"),
            ("MINOR", "0"),
            ("SEQNUM", "812"),
        ];
        assert_eq!(ev(&hidraw_add), granted("hidraw0"), "{sh:?}");
        let usb_add = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "usb"),
            ("DEVNAME", "bus/usb/001/002"),
            ("DEVPATH", "/devices/platform/ehci-platform/usb1/1-1"),
            ("DEVTYPE", "usb_device"),
            ("PRODUCT", "51d/2/106"),
            ("TYPE", "0/0/0"),
            ("BUSNUM", "001"),
            ("DEVNUM", "002"),
        ];
        assert_eq!(ev(&usb_add), granted("bus/usb/001/002"), "{sh:?}");
        // The driver bound again (usb's "bind" event): the same.
        let mut bind = usb_add;
        bind[0] = ("ACTION", "bind");
        assert_eq!(ev(&bind), granted("bus/usb/001/002"), "{sh:?}");
        // A Megatec/Q1 unit behind a Cypress bridge (nutdrv_qx's table).
        let qx = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "hidraw"),
            ("DEVNAME", "hidraw2"),
            (
                "DEVPATH",
                "/devices/platform/ehci-platform/usb1/1-3/1-3:1.0/0003:0665:5161.0003/hidraw/hidraw2",
            ),
        ];
        assert_eq!(ev(&qx), granted("hidraw2"), "{sh:?}");

        // Not a UPS: a keyboard's hidraw and usb device.
        let kbd = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "hidraw"),
            ("DEVNAME", "hidraw1"),
            ("DEVPATH", KEYBOARD_HID),
        ];
        assert_eq!(ev(&kbd), "", "{sh:?}");
        let kbd_usb = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "usb"),
            ("DEVNAME", "bus/usb/001/003"),
            ("DEVPATH", "/devices/platform/ehci-platform/usb1/1-2"),
            ("DEVTYPE", "usb_device"),
            ("PRODUCT", "46d/c31c/6400"),
        ];
        assert_eq!(ev(&kbd_usb), "", "{sh:?}");
        // The UPS's interface (no node), a Bluetooth HID device with a
        // listed id, and another subsystem: nothing.
        let iface = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "usb"),
            (
                "DEVPATH",
                "/devices/platform/ehci-platform/usb1/1-1/1-1:1.0",
            ),
            ("DEVTYPE", "usb_interface"),
            ("PRODUCT", "51d/2/106"),
            ("INTERFACE", "3/0/0"),
        ];
        assert_eq!(ev(&iface), "", "{sh:?}");
        let bt = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "hidraw"),
            ("DEVNAME", "hidraw1"),
            (
                "DEVPATH",
                "/devices/virtual/misc/uhid/0005:051D:0002.0004/hidraw/hidraw1",
            ),
        ];
        assert_eq!(ev(&bt), "", "{sh:?}");
        let tty = [
            ("ACTION", "add"),
            ("SUBSYSTEM", "tty"),
            ("DEVNAME", "hidraw0"),
            ("DEVPATH", UPS_HID),
        ];
        assert_eq!(ev(&tty), "", "{sh:?}");

        // Removed: the node is gone, nothing to do (and no error).
        let mut remove = hidraw_add;
        remove[0] = ("ACTION", "remove");
        assert_eq!(ev(&remove), "", "{sh:?}");
        let mut remove = usb_add;
        remove[0] = ("ACTION", "remove");
        assert_eq!(ev(&remove), "", "{sh:?}");
        // An add whose node procd has not made: nothing.
        let mut gone = hidraw_add;
        gone[2] = ("DEVNAME", "hidraw9");
        assert_eq!(ev(&gone), "", "{sh:?}");
    }
    std::fs::remove_dir_all(&f.root).unwrap();
}

/// Every USB id hidupsd's udev rules give the group to is one the OpenWrt
/// script grants too, by hidraw and by usb event.
#[test]
fn the_hotplug_script_grants_every_id_the_udev_rules_do() {
    let ids = common::udev_rule_ids();
    assert!(ids.len() > 100, "{}", ids.len());
    let f = Fake::new("hotplug-ids", &["hidraw0", "bus/usb/001/002"]);
    let sh = ["sh"];
    for &(v, p) in &ids {
        let path = format!(
            "/devices/pci0000:00/usb1/1-1/1-1:1.0/0003:{v:04X}:{p:04X}.0001/hidraw/hidraw0"
        );
        let got = f.event(
            &sh,
            &[
                ("ACTION", "add"),
                ("SUBSYSTEM", "hidraw"),
                ("DEVNAME", "hidraw0"),
                ("DEVPATH", &path),
            ],
        );
        assert!(
            got.starts_with("chgrp nut ROOT/dev/hidraw0\n"),
            "{v:04x}:{p:04x}: {got:?}"
        );
        // PRODUCT: hex without leading zeros.
        let product = format!("{v:x}/{p:x}/100");
        let got = f.event(
            &sh,
            &[
                ("ACTION", "add"),
                ("SUBSYSTEM", "usb"),
                ("DEVNAME", "bus/usb/001/002"),
                ("DEVTYPE", "usb_device"),
                ("PRODUCT", &product),
            ],
        );
        assert!(
            got.starts_with("chgrp nut ROOT/dev/bus/usb/001/002\n"),
            "{v:04x}:{p:04x} {product}: {got:?}"
        );
    }
    std::fs::remove_dir_all(&f.root).unwrap();
}

/// Write `text` to `path`, making its directory.
fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn link(target: &str, at: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, at).unwrap();
}

/// The init script's start runs the hotplug script for the nodes already
/// there (procd's coldplug ran before the package was installed, and
/// procd runs no script for hidraw): on a fake sysfs with a UPS and a
/// keyboard, the UPS's hidraw and usbfs nodes are granted, nothing else.
#[test]
fn the_init_script_grants_the_nodes_present_at_start() {
    let f = Fake::new(
        "hotplug-start",
        &["hidraw0", "hidraw1", "bus/usb/001/002", "bus/usb/001/003"],
    );
    let sys = f.root.join("sys");
    let usb1 = "devices/platform/ehci-platform/usb1";
    for (port, vid, pid, n, dev) in [
        ("1-1", "051d", "0002", "0", "002"),
        ("1-2", "046d", "c31c", "1", "003"),
    ] {
        let product = format!(
            "{:x}/{:x}/106",
            u16::from_str_radix(vid, 16).unwrap(),
            u16::from_str_radix(pid, 16).unwrap()
        );
        let d = format!("{usb1}/{port}");
        put(
            &sys.join(&d).join("uevent"),
            &format!(
                "MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/{dev}\nDEVTYPE=usb_device\n\
                 DRIVER=usb\nPRODUCT={product}\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM={dev}\n"
            ),
        );
        let i = format!("{d}/{port}:1.0");
        put(
            &sys.join(&i).join("uevent"),
            &format!(
                "DEVTYPE=usb_interface\nDRIVER=usbhid\nPRODUCT={product}\nTYPE=0/0/0\n\
                 INTERFACE=3/0/0\nMODALIAS=usb:v{}p{}d0106dc00dsc00dp00ic03isc00ip00in00\n",
                vid.to_uppercase(),
                pid.to_uppercase()
            ),
        );
        let h = format!(
            "{i}/0003:{}:{}.000{n}/hidraw/hidraw{n}",
            vid.to_uppercase(),
            pid.to_uppercase()
        );
        put(
            &sys.join(&h).join("uevent"),
            &format!("MAJOR=241\nMINOR={n}\nDEVNAME=hidraw{n}\n"),
        );
        link(
            &format!("../../{h}"),
            &sys.join(format!("class/hidraw/hidraw{n}")),
        );
        link(
            &format!("../../../{d}"),
            &sys.join("bus/usb/devices").join(port),
        );
        link(
            &format!("../../../{i}"),
            &sys.join("bus/usb/devices").join(format!("{port}:1.0")),
        );
    }
    // The installed hotplug script, with chgrp and chmod recorded.
    let hp = f.root.join("hp");
    put(
        &hp,
        &format!(
            "#!/bin/sh\n\
             chgrp() {{ echo \"chgrp $*\" >>\"{log}\"; }}\n\
             chmod() {{ echo \"chmod $*\" >>\"{log}\"; }}\n\
             . \"{script}\"\n",
            log = f.log().display(),
            script = f.script.display()
        ),
    );
    std::fs::set_permissions(&hp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let init = std::fs::read_to_string(root_file("contrib/openwrt/files/hidupsd.init")).unwrap();
    for line in [
        "\nSYSFS=/sys\n",
        "\nHOTPLUG=/etc/hotplug.d/hidraw/30-hidupsd\n",
    ] {
        assert_eq!(init.matches(line).count(), 1, "{line}");
    }
    let init = init
        .replace("\nSYSFS=/sys\n", &format!("\nSYSFS={}\n", sys.display()))
        .replace(
            "\nHOTPLUG=/etc/hotplug.d/hidraw/30-hidupsd\n",
            &format!("\nHOTPLUG={}\n", hp.display()),
        );
    let init_file = f.root.join("hidupsd.init");
    std::fs::write(&init_file, init).unwrap();
    for sh in shells() {
        let _ = std::fs::remove_file(f.log());
        let out = Command::new(sh[0])
            .args(&sh[1..])
            .arg("-c")
            .arg(". \"$1\" && own_existing_nodes")
            .arg("sh")
            .arg(&init_file)
            .env_remove("DEVNAME")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sh:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = std::fs::read_to_string(f.log())
            .unwrap_or_default()
            .replace(&f.root.display().to_string(), "ROOT");
        let mut calls: Vec<&str> = calls.lines().collect();
        calls.sort_unstable();
        assert_eq!(
            calls,
            [
                "chgrp nut ROOT/dev/bus/usb/001/002",
                "chgrp nut ROOT/dev/hidraw0",
                "chmod 0660 ROOT/dev/bus/usb/001/002",
                "chmod 0660 ROOT/dev/hidraw0",
            ],
            "{sh:?}"
        );
    }
    std::fs::remove_dir_all(&f.root).unwrap();
}
