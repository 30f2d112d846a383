//! OpenWrt's init script (contrib/openwrt/files/hidupsd.init) writes NUT's
//! files from the nut_server and nut_monitor UCI files: run its writer
//! under `sh` with a stand-in for OpenWrt's UCI functions
//! (tests/openwrt/uci.sh) and read what it wrote with hidupsd's own
//! parsers, which refuse anything they do not understand.

use hidupsd::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
use hidupsd::proto::{InstCmds, Upsmon};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tempdir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "hidupsd-openwrt-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

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
