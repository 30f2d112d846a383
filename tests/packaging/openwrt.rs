//! OpenWrt's init script (contrib/openwrt/files/hidupsd.init) writes NUT's
//! files from the nut_server and nut_monitor UCI files: run its writer
//! under `sh` with a stand-in for OpenWrt's UCI functions
//! (tests/openwrt/uci.sh) and read what it wrote with hidupsd's own
//! parsers, which refuse anything they do not understand.

use crate::{root, tempdir};
use hidupsd::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
use hidupsd::proto::{InstCmds, Upsmon};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run build_config with the UCI files in `uci` (a directory); returns
/// the directory the NUT files were written to, and the messages the
/// script logged.
fn build_config(uci: &Path, tag: &str) -> (PathBuf, String) {
    let tmp = tempdir(tag);
    let out = tmp.join("etc-nut");
    let script = std::fs::read_to_string(root().join("contrib/openwrt/files/hidupsd.init"))
        .unwrap()
        .replace(
            "\nCONFDIR=/var/etc/nut\n",
            &format!("\nCONFDIR={}\n", out.display()),
        );
    assert!(script.contains(&format!("CONFDIR={}", out.display())));
    let init = tmp.join("hidupsd.init");
    std::fs::write(&init, script).unwrap();
    let r = Command::new("sh")
        .arg("-c")
        .arg(". \"$1\" && . \"$2\" && build_config")
        .arg("sh")
        .arg(root().join("tests/openwrt/uci.sh"))
        .arg(&init)
        .env("UCI_DIR", uci)
        .output()
        .expect("cannot run sh");
    let log = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(r.status.success(), "build_config failed: {log}");
    (out, log)
}

#[test]
fn luci_settings_become_nut_files_hidupsd_accepts() {
    let (dir, log) = build_config(&root().join("tests/openwrt"), "full");

    let ups = ups_conf::load(&dir).unwrap();
    assert_eq!(ups.globals.pollinterval, Some(3));
    assert_eq!(ups.globals.synchronous.as_deref(), Some("yes"));
    // The snmp-ups section is left out, with a line in the log.
    assert_eq!(ups.ups.len(), 1, "{:?}", ups.ups);
    let u = &ups.ups[0];
    assert_eq!(u.name, "myups");
    assert_eq!(u.matching.vendorid.as_deref(), Some("051d"));
    assert_eq!(u.desc.as_deref(), Some("UPS \"rack\" #1"));
    assert!(u.ignorelb);
    assert_eq!(
        u.overrides,
        vec![("battery.charge.low".to_string(), "30".to_string())]
    );
    assert_eq!(
        u.defaults,
        vec![("battery.runtime.low".to_string(), "120".to_string())]
    );
    assert!(log.contains("[snmpups] driver 'snmp-ups' skipped"), "{log}");
    assert!(log.contains("[myups] community ignored"), "{log}");

    let upsd = upsd_conf::load(&dir).unwrap();
    let listen: Vec<String> = upsd
        .listen
        .iter()
        .map(|l| format!("{:?} {}", l.addr, l.port))
        .collect();
    assert_eq!(listen, ["Ip(0.0.0.0) 3493", "Ip(::1) 3494"]);
    assert_eq!(upsd.maxage, 20);

    let users = upsd_users::load(&dir).unwrap();
    assert_eq!(users.users.len(), 1);
    let m = &users.users[0];
    assert_eq!(
        (m.name.as_str(), m.password.as_str()),
        ("monuser", "se cret")
    );
    assert!(m.actions.set && m.actions.fsd);
    assert_eq!(
        m.instcmds,
        InstCmds::List(vec!["test.battery.start".into(), "beeper.toggle".into()])
    );
    assert_eq!(m.upsmon, Upsmon::Primary);

    let mon = upsmon_conf::load(&dir).unwrap();
    let monitors: Vec<String> = mon
        .monitors
        .iter()
        .map(|m| format!("{} {} {} {:?}", m.system, m.user, m.password, m.role))
        .collect();
    assert_eq!(
        monitors,
        [
            "myups@localhost monuser se cret Primary",
            "other@192.168.1.9 u p Secondary"
        ]
    );
    assert_eq!(
        mon.shutdowncmd.as_deref(),
        Some(&["/sbin/poweroff".to_string()][..])
    );
    assert_eq!(mon.powerdownflag.as_deref(), Some("/var/run/killpower"));
    let msgs: Vec<String> = mon
        .notifymsg
        .iter()
        .map(|(e, m)| format!("{} {m}", e.name()))
        .collect();
    assert_eq!(msgs, ["ONLINE back online %s", "ONBATT On battery: %s"]);
    // ONLINE has its own flag; every other event the defaultnotify list.
    for (e, f) in &mon.notifyflag {
        let want = if e.name() == "ONLINE" {
            (true, false)
        } else {
            (true, true)
        };
        assert_eq!((f.syslog, f.exec), want, "{}", e.name());
        assert!(!f.wall && !f.ignore);
    }
    assert_eq!(mon.notifyflag.len(), upsmon_conf::Event::ALL.len());

    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn without_uci_files_every_ups_is_served_and_nothing_watched() {
    let empty = tempdir("empty-uci");
    let (dir, _) = build_config(&empty, "empty");
    assert!(ups_conf::load(&dir).unwrap().ups.is_empty());
    assert!(upsd_conf::load(&dir).unwrap().listen.is_empty());
    assert!(upsd_users::load(&dir).unwrap().users.is_empty());
    // No MONITOR: no upsmon.conf (hidupsd would refuse one without).
    assert!(!dir.join("upsmon.conf").exists());
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(empty).unwrap();
}

/// NUT's shutdown command belongs to nut-upsmon, which the package's
/// CONFLICTS removes: the init script writes /sbin/poweroff instead, says
/// so, and the daemon's own check then finds nothing missing.
#[test]
fn nuts_nutshutdown_becomes_poweroff() {
    let uci = tempdir("nutshutdown-uci");
    std::fs::write(
        uci.join("nut_monitor"),
        "config upsmon 'upsmon'\n\toption shutdowncmd '/usr/sbin/nutshutdown'\n\n\
         config monitor\n\toption upsname 'ups'\n\toption username 'm'\n\toption password 'p'\n\
         \toption type 'primary'\n",
    )
    .unwrap();
    let (dir, log) = build_config(&uci, "nutshutdown");
    let mon = upsmon_conf::load(&dir).unwrap();
    assert_eq!(
        mon.shutdowncmd.as_deref(),
        Some(&["/sbin/poweroff".to_string()][..])
    );
    assert!(
        log.contains("shutdowncmd '/usr/sbin/nutshutdown' is NUT's (package nut-upsmon): /sbin/poweroff is used"),
        "{log}"
    );
    // What the daemon checks at start, with OpenWrt's PATH and files.
    let have = |p: &Path| p == Path::new("/sbin/poweroff");
    assert_eq!(
        upsmon_conf::shutdowncmd_warning(&mon, "/usr/sbin:/usr/bin:/sbin:/bin", &have),
        None
    );
    // A command of the user's own is kept as written.
    std::fs::write(
        uci.join("nut_monitor"),
        "config upsmon 'upsmon'\n\toption shutdowncmd '/usr/bin/my-off'\n\n\
         config monitor\n\toption upsname 'ups'\n\toption username 'm'\n\toption password 'p'\n",
    )
    .unwrap();
    let (dir2, log) = build_config(&uci, "own-shutdowncmd");
    let mon = upsmon_conf::load(&dir2).unwrap();
    assert_eq!(
        mon.shutdowncmd.as_deref(),
        Some(&["/usr/bin/my-off".to_string()][..])
    );
    assert!(!log.contains("nutshutdown"), "{log}");
    for d in [dir, dir2] {
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }
    std::fs::remove_dir_all(uci).unwrap();
}

/// `make dist`: a tarball OpenWrt's download script can fetch from the
/// generated package's PKG_SOURCE_URL, whose sha256 is its PKG_HASH, and
/// which holds what the package builds and declares (Cargo.lock for
/// `cargo install --locked`, PKG_LICENSE_FILES).
#[test]
fn make_dist_gives_a_package_that_names_its_tarball() {
    let dist = tempdir("dist");
    let out = Command::new("make")
        .args(["-s", "dist"])
        .arg(format!("DISTDIR={}", dist.display()))
        .env_remove("MAKEFLAGS")
        .env_remove("RELEASE_URL")
        .current_dir(root())
        .output()
        .expect("cannot run make");
    assert!(
        out.status.success(),
        "make dist: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let tarball = format!("hidupsd-{version}.tar.gz");
    let mk = std::fs::read_to_string(dist.join("openwrt/hidupsd/Makefile")).unwrap();
    let var = |name: &str| {
        mk.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:=")))
            .unwrap_or_else(|| panic!("no {name} in {mk}"))
            .to_string()
    };
    assert_eq!(var("PKG_VERSION"), version);
    assert_eq!(var("PKG_SOURCE"), "$(PKG_NAME)-$(PKG_VERSION).tar.gz");
    // download.pl's file:// mirror: a directory holding the file once.
    let url = var("PKG_SOURCE_URL");
    let mirror = Path::new(url.strip_prefix("file://").expect("a file:// URL"));
    assert_eq!(mirror, dist.as_path());
    let bytes = std::fs::read(mirror.join(&tarball)).unwrap();
    let hash = var("PKG_HASH");
    let sum = Command::new("sha256sum")
        .arg(mirror.join(&tarball))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sum.stdout)
            .split(' ')
            .next()
            .unwrap(),
        hash
    );
    assert_eq!(hash.len(), 64, "{hash}");
    assert!(bytes.len() > 10_000);
    // The feed's conventions.
    assert!(mk.contains("\ninclude ../../lang/rust/rust-package.mk\n"));
    assert_eq!(var("PKG_LICENSE"), "GPL-2.0-or-later");
    assert!(mk.contains("\n  URL:="), "{mk}");
    assert!(dist.join("openwrt/hidupsd/files/hidupsd.init").is_file());
    // What the build needs is in the tarball, under hidupsd-VERSION/.
    let list = Command::new("tar")
        .arg("tzf")
        .arg(mirror.join(&tarball))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let lic = var("PKG_LICENSE_FILES");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "man/hidupsd.8",
        lic.as_str(),
    ] {
        assert!(
            list.lines().any(|l| l == format!("hidupsd-{version}/{f}")),
            "{f} not in the tarball"
        );
    }
    // Reproducible: the same tree gives the same bytes.
    let again = Command::new("make")
        .args(["-s", "dist"])
        .arg(format!("DISTDIR={}", dist.display()))
        .env_remove("MAKEFLAGS")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read(mirror.join(&tarball)).unwrap(), bytes);
    std::fs::remove_dir_all(&dist).unwrap();
}
