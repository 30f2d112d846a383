//! The built-in upsmon watching a UPS on another server (`MONITOR
//! ups@host:port`), as upsmon does: logging in, polling, setting FSD as
//! primary, waiting for the logins to end, shutting down.
//!
//! Two servers: another hidupsd (always), and NUT's stock upsd with
//! dummy-ups playing a timed power cut (skipped, with a note, where
//! Debian's nut-server is not installed).

use crate::common;

use common::{dir_for, eventually, free_port, recording, start_with, Client, Guard};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const UPSD: &str = "/lib/nut/upsd";
const DUMMY: &str = "/lib/nut/dummy-ups";

/// The monitoring daemon: hidupsd with only an upsmon.conf (and a port of
/// its own), its files in `dir`.
fn monitor(dir: &Path, upsmon_conf: &str) -> Guard {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("upsmon.conf"), upsmon_conf).unwrap();
    std::fs::write(
        dir.join("upsd.conf"),
        format!("LISTEN 127.0.0.1 {}\n", free_port()),
    )
    .unwrap();
    // An empty ups.conf: nothing simulated; no USB UPS in a test box.
    std::fs::write(dir.join("ups.conf"), "").unwrap();
    let log = std::fs::File::create(dir.join("hidupsd.log")).unwrap();
    Guard(
        Command::new(env!("CARGO_BIN_EXE_hidupsd"))
            .args(["-c", dir.to_str().unwrap()])
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn appears(path: &Path, secs: u64) -> Option<Instant> {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if path.exists() {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn upsmon_conf(system: &str, role: &str, dir: &Path) -> String {
    format!(
        "MONITOR {system} 1 mon secret {role}\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/touch {dir}/shutdown\"\n\
         NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE $UPSNAME >> {dir}/notify.log'\"\n\
         NOTIFYFLAG ONBATT SYSLOG+EXEC\nNOTIFYFLAG LOWBATT SYSLOG+EXEC\n\
         NOTIFYFLAG FSD SYSLOG+EXEC\nNOTIFYFLAG SHUTDOWN SYSLOG+EXEC\n\
         NOTIFYFLAG COMMBAD SYSLOG+EXEC\nNOTIFYFLAG COMMOK SYSLOG+EXEC\n\
         POLLFREQ 1\nPOLLFREQALERT 1\nHOSTSYNC 3\nFINALDELAY 0\n\
         POWERDOWNFLAG {dir}/killpower\n",
        dir = dir.display()
    )
}

/// The killpower flag the monitor wrote, and the SHUTDOWN, ONBATT, LOWBATT
/// and FSD notes for `system`; returns the notify log as read at the end.
fn shut_down_and_notified(mdir: &Path, system: &str) -> String {
    assert_eq!(
        std::fs::read_to_string(mdir.join("killpower")).unwrap(),
        "upsmon-shutdown-file"
    );
    let notes = || std::fs::read_to_string(mdir.join("notify.log")).unwrap_or_default();
    assert!(eventually(5, || notes().contains("SHUTDOWN\n")));
    for want in ["ONBATT", "LOWBATT", "FSD"] {
        assert!(
            notes().contains(&format!("{want} {system}\n")),
            "no {want}: {}",
            notes()
        );
    }
    notes()
}

#[test]
fn primary_of_another_hidupsd_sets_fsd_and_shuts_down() {
    let tag = "remote-hidupsd";
    let rec = recording("apc-back-ups-bk650m2-ch", "at 2 powercut\nat 4 lowbatt\n");
    let srcdir = dir_for(tag);
    std::fs::create_dir_all(&srcdir).unwrap();
    std::fs::write(srcdir.join("bk650.rec"), rec).unwrap();
    let conf = "[bk650]\n\tdriver = sim\n\tport = bk650.rec\n";
    let users = "[mon]\n\tpassword = secret\n\tupsmon primary\n";
    let server = start_with(tag, conf, users, &[]);

    let mdir = dir_for("remote-hidupsd-mon");
    let system = format!("bk650@127.0.0.1:{}", server.port);
    let _mon = monitor(&mdir, &upsmon_conf(&system, "primary", &mdir));

    // The monitor logs in as upsmon does: the server counts it.
    let mut c = Client::connect(server.port);
    assert!(
        eventually(10, || c.ask("GET NUMLOGINS bk650\n")
            == "NUMLOGINS bk650 1\n"),
        "the monitor did not log in: {}",
        c.ask("GET NUMLOGINS bk650\n")
    );
    let status = c.until("GET VAR bk650 ups.status\n", |l| l.contains("FSD"));
    // The recording says DISCHRG too.
    assert_eq!(status, "VAR bk650 ups.status \"FSD OB DISCHRG LB\"\n");
    appears(&mdir.join("shutdown"), 20).expect("the monitor did not shut down");
    let log = std::fs::read_to_string(mdir.join("hidupsd.log")).unwrap();
    println!("monitor log:\n{log}");
    // Its connection closed at shutdown, as upsmon's exit does.
    assert!(
        eventually(5, || c.ask("GET NUMLOGINS bk650\n")
            == "NUMLOGINS bk650 0\n"),
        "the monitor is still logged in"
    );
    let notes = shut_down_and_notified(&mdir, &system);
    assert!(!notes.contains("COMMBAD"), "{notes}");
    let _ = std::fs::remove_dir_all(&mdir);
}

#[test]
fn lost_server_is_commbad_then_commok_with_the_same_login() {
    let tag = "remote-lost";
    let rec = recording("apc-back-ups-bk650m2-ch", "");
    let srcdir = dir_for(tag);
    std::fs::create_dir_all(&srcdir).unwrap();
    std::fs::write(srcdir.join("bk650.rec"), rec).unwrap();
    let conf = "[bk650]\n\tdriver = sim\n\tport = bk650.rec\n";
    let users = "[mon]\n\tpassword = secret\n\tupsmon secondary\n";
    let server = start_with(tag, conf, users, &[]);
    let port = server.port;

    let mdir = dir_for("remote-lost-mon");
    let system = format!("bk650@127.0.0.1:{port}");
    let _mon = monitor(&mdir, &upsmon_conf(&system, "secondary", &mdir));
    let mut c = Client::connect(port);
    assert!(eventually(10, || c.ask("GET NUMLOGINS bk650\n")
        == "NUMLOGINS bk650 1\n"));
    drop(c);
    // The server goes away, and comes back on the same port.
    drop(server);
    let notes = || std::fs::read_to_string(mdir.join("notify.log")).unwrap_or_default();
    assert!(
        eventually(10, || notes().contains("COMMBAD")),
        "no COMMBAD: {}",
        notes()
    );
    std::fs::create_dir_all(&srcdir).unwrap();
    std::fs::write(
        srcdir.join("bk650.rec"),
        recording("apc-back-ups-bk650m2-ch", ""),
    )
    .unwrap();
    std::fs::write(srcdir.join("ups.conf"), conf).unwrap();
    std::fs::write(srcdir.join("upsd.users"), users).unwrap();
    std::fs::write(
        srcdir.join("upsd.conf"),
        format!("LISTEN 127.0.0.1 {port}\n"),
    )
    .unwrap();
    let _back = Guard(
        Command::new(env!("CARGO_BIN_EXE_hidupsd"))
            .args(["-c", srcdir.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        eventually(15, || notes().contains("COMMOK")),
        "no COMMOK: {}",
        notes()
    );
    assert!(
        !mdir.join("shutdown").exists(),
        "shut down on a lost OL UPS"
    );
    let _ = std::fs::remove_dir_all(&mdir);
    let _ = std::fs::remove_dir_all(&srcdir);
}

/// Against NUT's own upsd: dummy-ups plays OL, then OB, then OB LB;
/// hidupsd, primary, sends FSD (upsc sees it), waits, shuts down.
#[test]
fn primary_of_stock_upsd() {
    if !Path::new(UPSD).exists() || !Path::new(DUMMY).exists() {
        common::missing(&format!("{UPSD} or {DUMMY} (Debian nut-server)"));
        return;
    }
    let dir = dir_for("stock-upsd");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("ups.seq"),
        "ups.status: OL\nbattery.charge: 100\nTIMER 2\n\
         ups.status: OB\nbattery.charge: 40\nTIMER 2\n\
         ups.status: OB LB\nbattery.charge: 5\nTIMER 600\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ups.conf"),
        format!(
            "[ups]\n\tdriver = dummy-ups\n\tport = {}/ups.seq\n\tdesc = \"cut\"\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(
        dir.join("upsd.users"),
        "[mon]\n\tpassword = secret\n\tupsmon primary\n",
    )
    .unwrap();
    let env = |c: &mut Command| {
        c.env("NUT_CONFPATH", &dir)
            .env("NUT_STATEPATH", &dir)
            .env("NUT_ALTPIDPATH", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut cmd = Command::new(DUMMY);
    cmd.args(["-a", "ups", "-u", "root", "-F"]);
    env(&mut cmd);
    let _dummy = Guard(cmd.spawn().unwrap());
    assert!(
        eventually(10, || dir.join("dummy-ups-ups").exists()),
        "dummy-ups did not start"
    );
    let mut cmd = Command::new(UPSD);
    cmd.args(["-F", "-u", "root"]);
    env(&mut cmd);
    let _upsd = Guard(cmd.spawn().unwrap());
    assert!(eventually(10, || std::net::TcpStream::connect((
        "127.0.0.1",
        port
    ))
    .is_ok()));

    let mdir = dir.join("monitor");
    let system = format!("ups@127.0.0.1:{port}");
    let _mon = monitor(&mdir, &upsmon_conf(&system, "primary", &mdir));
    let mut c = Client::connect(port);
    assert!(
        eventually(10, || c.ask("GET NUMLOGINS ups\n") == "NUMLOGINS ups 1\n"),
        "no login at upsd: {}",
        c.ask("GET NUMLOGINS ups\n")
    );
    let status = c.until("GET VAR ups ups.status\n", |l| l.contains("FSD"));
    assert_eq!(status, "VAR ups ups.status \"FSD OB LB\"\n");
    appears(&mdir.join("shutdown"), 20).expect("the monitor did not shut down");
    shut_down_and_notified(&mdir, &system);
    let _ = std::fs::remove_dir_all(&dir);
}
