//! OpenWrt's init script (contrib/openwrt/files/hidupsd.init) writes NUT's
//! files from the nut_server and nut_monitor UCI files: run its writer
//! under `sh` with a stand-in for OpenWrt's UCI functions
//! (tests/openwrt/uci.sh) and read what it wrote with hidupsd's own
//! parsers, which refuse anything they do not understand.

use crate::common::{self, Client, Daemon, Guard};
use crate::{root, tempdir};
use hidupsd::config::nut_conf::Mode;
use hidupsd::config::{nut_conf, ups_conf, upsd_conf, upsd_users, upsmon_conf};
use hidupsd::proto::{InstCmds, Upsmon};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run build_config with the UCI files in `uci` (a directory); returns
/// the directory the NUT files were written to, and the messages the
/// script logged.
fn build_config(uci: &Path, tag: &str) -> (PathBuf, String) {
    let (out, log, _) = run_init(uci, &tempdir(tag), "build_config");
    (out, log)
}

/// Run `cmds` after sourcing the UCI stand-in and the init script, with
/// its files written under `tmp`; returns where they are, the messages
/// and the standard output.
fn run_init(uci: &Path, tmp: &Path, cmds: &str) -> (PathBuf, String, String) {
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
        .arg(format!(". \"$1\" && . \"$2\" && {cmds}"))
        .arg("sh")
        .arg(root().join("tests/openwrt/uci.sh"))
        .arg(&init)
        .env("UCI_DIR", uci)
        .output()
        .expect("cannot run sh");
    let log = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(r.status.success(), "{cmds} failed: {log}");
    (out, log, String::from_utf8_lossy(&r.stdout).into_owned())
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
    // A UPS section: a server, as NUT's packages make it.
    assert_eq!(mode(&dir), Mode::Netserver);

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
    assert_eq!(mode(&dir), Mode::Netserver);
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(empty).unwrap();
}

/// nut.conf's MODE as the init script wrote it.
fn mode(dir: &Path) -> Mode {
    nut_conf::load(dir)
        .unwrap()
        .unwrap_or_else(|| panic!("no nut.conf in {}", dir.display()))
        .mode
}

/// The TCP ports process `pid` listens on: its socket inodes matched to
/// /proc/net/tcp and tcp6 lines in state LISTEN (0A).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

/// Start hidupsd on the files the init script wrote, as procd does
/// (`-c DIR`, no -u: the test may not be root), logging to DIR/../log.
fn run_daemon(dir: &Path) -> Guard {
    let log = std::fs::File::create(dir.parent().unwrap().join("log")).unwrap();
    Guard(
        Command::new(common::bin())
            .args(["-c", dir.to_str().unwrap()])
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn daemon_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.parent().unwrap().join("log")).unwrap_or_default()
}

/// A former NUT secondary: nut_server has no 'driver' section and every
/// monitor names another host's UPS. NUT's OpenWrt packages then run
/// upsmon alone (MODE=netclient); so does hidupsd with the files the init
/// script writes: it logs in to the other server as a secondary and
/// listens on no port. A monitor of this host's own UPS (localhost, no
/// other port), or a 'driver' section, keeps it a server.
#[test]
fn a_host_that_only_monitors_runs_as_a_netclient() {
    // The other host: a server with a simulated UPS.
    let users = "[monuser]\n\tpassword = monpass\n\tupsmon secondary\n";
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n",
        common::fixture("apc-back-ups-es-850g2").display()
    );
    let server: Daemon = common::start("owrt-netclient-srv", &conf, users);

    let uci = tempdir("netclient-uci");
    // As shipped: an upsd section, no driver.
    std::fs::copy(
        root().join("contrib/openwrt/files/nut_server.config"),
        uci.join("nut_server"),
    )
    .unwrap();
    let monitor = |host: &str, port: u16| {
        format!(
            "config upsmon 'upsmon'\n\toption shutdowncmd '/bin/true'\n\n\
             config monitor\n\toption upsname 'bk650'\n\toption hostname '{host}'\n\
             \toption port '{port}'\n\toption username 'monuser'\n\
             \toption password 'monpass'\n\toption type 'secondary'\n"
        )
    };
    // Another server on this host's loopback (not hidupsd's port): not
    // this hidupsd's UPS, as the daemon's monitor sees it too.
    std::fs::write(uci.join("nut_monitor"), monitor("127.0.0.1", server.port)).unwrap();
    let (dir, log) = build_config(&uci, "netclient");
    assert_eq!(mode(&dir), Mode::Netclient);
    assert!(log.contains("monitoring only (MODE=netclient)"), "{log}");

    let mut mon = run_daemon(&dir);
    let pid = mon.0.id();
    let mut c = Client::connect(server.port);
    let clients = c.until("LIST CLIENT bk650\n", |r| {
        r.contains("CLIENT bk650 127.0.0.1")
    });
    assert!(clients.contains("CLIENT bk650 127.0.0.1"), "{clients}");
    assert!(mon.0.try_wait().unwrap().is_none(), "{}", daemon_log(&dir));
    assert_eq!(
        listening_ports(pid),
        Vec::<u16>::new(),
        "{}",
        daemon_log(&dir)
    );
    assert!(
        daemon_log(&dir).contains("MODE=netclient: monitoring only"),
        "{}",
        daemon_log(&dir)
    );
    drop(mon);

    // The same host with a UPS section: a server (it listens).
    let port = common::free_port();
    let mut server_uci = std::fs::read_to_string(uci.join("nut_server")).unwrap();
    server_uci += &format!(
        "\nconfig driver 'myups'\n\toption driver 'usbhid-ups'\n\toption port 'auto'\n\n\
         config listen_address\n\toption address '127.0.0.1'\n\toption port '{port}'\n"
    );
    std::fs::write(uci.join("nut_server"), &server_uci).unwrap();
    let (dir2, _) = build_config(&uci, "netserver");
    assert_eq!(mode(&dir2), Mode::Netserver);
    // A reload that changes the mode restarts hidupsd (its listeners and
    // devices are kept across a SIGHUP); one that does not signals it.
    let procd = "stop() { echo stop; }; start() { echo start; }; \
                 procd_send_signal() { echo signal \"$@\"; }; reload_service";
    let (_, _, did) = run_init(&uci, dir.parent().unwrap(), procd);
    assert_eq!(did, "stop\nstart\n");
    let (_, _, did) = run_init(&uci, dir.parent().unwrap(), procd);
    assert_eq!(did, "signal hidupsd * HUP\n");
    let srv = run_daemon(&dir2);
    assert!(
        common::eventually(10, || listening_ports(srv.0.id()) == [port]),
        "{}",
        daemon_log(&dir2)
    );
    drop(srv);

    // No driver section, and a monitor of this host's UPS (served
    // without one): a server too, whose monitor watches its own UPS.
    std::fs::write(
        uci.join("nut_server"),
        format!("config listen_address\n\toption address '127.0.0.1'\n\toption port '{port}'\n"),
    )
    .unwrap();
    for (host, p) in [("localhost", port), ("127.0.0.1", port), ("::1", port)] {
        std::fs::write(uci.join("nut_monitor"), monitor(host, p)).unwrap();
        let (d, _) = build_config(&uci, "local-monitor");
        assert_eq!(mode(&d), Mode::Netserver, "{host}:{p}");
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }
    // ... also without a port.
    std::fs::write(
        uci.join("nut_monitor"),
        monitor("LocalHost", 0).replace("\toption port '0'\n", ""),
    )
    .unwrap();
    let (d, _) = build_config(&uci, "local-monitor");
    assert_eq!(mode(&d), Mode::Netserver);
    // localhost on another port is another server's UPS.
    std::fs::write(uci.join("nut_monitor"), monitor("localhost", port + 1)).unwrap();
    let (d2, _) = build_config(&uci, "other-port");
    assert_eq!(mode(&d2), Mode::Netclient);

    for d in [dir, dir2, d, d2] {
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }
    std::fs::remove_dir_all(uci).unwrap();
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
