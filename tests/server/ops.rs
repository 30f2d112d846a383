//! Running hidupsd as a service: what systemd is told (sd_notify), how
//! it stops (SIGTERM), reloads (SIGHUP) and gives up root (`-u`) while
//! its helper keeps the power to shut the host down.

use crate::common;

use common::{eventually, fixture, free_port, recording, Client};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("hidupsd.log")).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hidupsd-ops-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Start hidupsd with `args`, its log in `dir/hidupsd.log`; wait until
/// it listens on `port`.
fn start(dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Daemon {
    let log = std::fs::File::create(dir.join("hidupsd.log")).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_hidupsd"));
    c.args(args).stderr(log).stdout(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut d = Daemon {
        child: c.spawn().unwrap(),
        dir: dir.to_path_buf(),
        port,
    };
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!("daemon exited ({st}): {}", d.log());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "daemon did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

#[test]
fn systemd_is_told_ready_status_watchdog_and_stopping() {
    let d = dir("notify");
    let sock_path = d.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let fx = fixture("eaton-3s-700");
    let mut daemon = start(
        &d,
        port,
        &["--simulate", fx.to_str().unwrap(), "--listen", &listen],
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            // Pings every 100 ms.
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = sock.recv(&mut buf).expect("nothing from the daemon");
        // The sd-notify crate ends each state with a newline.
        String::from_utf8_lossy(&buf[..n])
            .trim_end_matches('\n')
            .to_string()
    };
    let mut first = next();
    while first == "WATCHDOG=1" {
        first = next();
    }
    println!("first message: {first:?}");
    assert!(
        first.starts_with("READY=1\nSTATUS=eaton-3s-700 OL"),
        "{first:?}"
    );
    assert!(first.ends_with("; 0 client(s)"), "{first:?}");
    let t0 = Instant::now();
    let mut pings = 0;
    while t0.elapsed() < Duration::from_millis(1000) {
        if next() == "WATCHDOG=1" {
            pings += 1;
        }
    }
    println!("{pings} watchdog pings in {:?}", t0.elapsed());
    assert!(pings >= 3, "{pings} pings");
    daemon.signal("TERM");
    let mut last = next();
    while last == "WATCHDOG=1" {
        last = next();
    }
    assert_eq!(last, "STOPPING=1");
    let st = daemon.child.wait().unwrap();
    assert!(st.success(), "{st}: {}", daemon.log());
    assert!(daemon.log().contains("exiting"), "{}", daemon.log());
}

#[test]
fn sighup_reloads_users_and_upses_and_keeps_clients() {
    let d = dir("reload");
    let port = free_port();
    std::fs::write(d.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(d.join("upsd.users"), "").unwrap();
    let one = format!(
        "[one]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("eaton-3s-700").display()
    );
    std::fs::write(d.join("ups.conf"), &one).unwrap();
    let daemon = start(&d, port, &["-c", d.to_str().unwrap()], &[]);

    let mut kept = Client::connect(port);
    assert!(kept
        .ask("GET VAR one ups.status\n")
        .starts_with("VAR one ups.status \"OL"));
    let mut admin = Client::connect(port);
    admin.expect("USERNAME admin\n", "OK\n");
    admin.expect("PASSWORD secret\n", "OK\n");
    assert_eq!(
        admin.ask("INSTCMD one beeper.disable\n"),
        "ERR ACCESS-DENIED\n"
    );

    // A user and a second UPS appear.
    std::fs::write(
        d.join("upsd.users"),
        "[admin]\n\tpassword = secret\n\tinstcmds = all\n",
    )
    .unwrap();
    let two = format!(
        "{one}[two]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display()
    );
    std::fs::write(d.join("ups.conf"), &two).unwrap();
    daemon.signal("HUP");
    assert!(
        eventually(10, || daemon.log().contains("configuration reloaded")),
        "{}",
        daemon.log()
    );
    let mut fresh = Client::connect(port);
    fresh.expect("USERNAME admin\n", "OK\n");
    fresh.expect("PASSWORD secret\n", "OK\n");
    assert_eq!(fresh.ask("INSTCMD one beeper.disable\n"), "OK\n");
    assert!(
        eventually(10, || fresh.ask("LIST UPS\n").contains("UPS two ")),
        "{}",
        fresh.ask("LIST UPS\n")
    );
    assert!(eventually(10, || fresh
        .ask("GET VAR two ups.status\n")
        .starts_with("VAR two ups.status \"OL")));
    // The client from before is still served.
    assert!(kept
        .ask("GET VAR one ups.status\n")
        .starts_with("VAR one ups.status \"OL"));

    // A broken file is refused; the running configuration stays.
    std::fs::write(d.join("ups.conf"), format!("{two}[three\n")).unwrap();
    daemon.signal("HUP");
    assert!(
        eventually(10, || daemon
            .log()
            .contains("keeping the running configuration")),
        "{}",
        daemon.log()
    );
    let line = daemon
        .log()
        .lines()
        .find(|l| l.contains("keeping the running configuration"))
        .unwrap()
        .to_string();
    println!("{line}");
    assert!(line.contains("ups.conf:7: '[three'"), "{line}");
    assert_eq!(fresh.ask("INSTCMD one beeper.disable\n"), "OK\n");
    assert!(kept
        .ask("GET VAR two ups.status\n")
        .starts_with("VAR two ups.status \"OL"));
}

/// uid of `pid` (real, effective, saved, fs) from /proc.
fn uids(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The child processes of `pid` named hidupsd (the helper).
fn helper_of(pid: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(") ") else {
            continue;
        };
        let ppid: u32 = rest.1.split(' ').nth(1)?.parse().ok()?;
        if ppid == pid && stat.contains("(hidupsd)") {
            return Some(p);
        }
    }
    None
}

fn can_drop_to_nobody() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let nobody = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("nobody:"));
    root && nobody
}

#[test]
fn runs_as_another_user_and_the_root_helper_shuts_down() {
    if !can_drop_to_nobody() {
        println!("skipped: needs root and a 'nobody' user");
        return;
    }
    let d = dir("privsep");
    // nobody writes its notices here; the helper (root) the rest.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("ups.rec"),
        recording("apc-back-ups-bk650m2-ch", "at 2 powercut\nat 3 lowbatt\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("ups.conf"),
        "[bk650]\n\tdriver = sim\n\tport = ups.rec\n",
    )
    .unwrap();
    std::fs::write(d.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(
        d.join("upsmon.conf"),
        format!(
            "MONITOR bk650@localhost 1 admin pass primary\n\
             SHUTDOWNCMD \"/bin/touch {dir}/shutdown\"\n\
             NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE $(id -u) >> {dir}/notify.log'\"\n\
             NOTIFYFLAG ONBATT SYSLOG+EXEC\nNOTIFYFLAG SHUTDOWN SYSLOG+EXEC\n\
             HOSTSYNC 1\nFINALDELAY 0\nPOWERDOWNFLAG {dir}/killpower\n",
            dir = d.display()
        ),
    )
    .unwrap();
    let daemon = start(&d, port, &["-c", d.to_str().unwrap(), "-u", "nobody"], &[]);
    let pid = daemon.child.id();
    let u = uids(pid);
    println!("daemon uids: {u}");
    assert!(u.split(' ').all(|x| x != "0"), "still root: {u}");
    let helper = helper_of(pid).expect("no privileged helper");
    assert!(
        uids(helper).split(' ').all(|x| x == "0"),
        "helper {}",
        uids(helper)
    );

    assert!(
        eventually(20, || d.join("shutdown").exists()),
        "no shutdown: {}",
        daemon.log()
    );
    let owner = |f: &str| std::fs::metadata(d.join(f)).unwrap().uid();
    assert_eq!(owner("shutdown"), 0, "SHUTDOWNCMD did not run as root");
    assert_eq!(owner("killpower"), 0);
    assert_eq!(
        std::fs::read_to_string(d.join("killpower")).unwrap(),
        "upsmon-shutdown-file"
    );
    let notes = || std::fs::read_to_string(d.join("notify.log")).unwrap_or_default();
    assert!(
        eventually(5, || notes().contains("SHUTDOWN ")),
        "{}",
        notes()
    );
    let nobody_uid = u.split(' ').next().unwrap().to_string();
    assert!(
        notes().contains(&format!("ONBATT {nobody_uid}\n")),
        "{}",
        notes()
    );
}

#[test]
fn a_lost_helper_is_noparent() {
    if !can_drop_to_nobody() {
        println!("skipped: needs root and a 'nobody' user");
        return;
    }
    let d = dir("noparent");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("ups.conf"),
        format!(
            "[es850]\n\tdriver = sim\n\tport = \"{}\"\n",
            fixture("apc-back-ups-es-850g2").display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(
        d.join("upsmon.conf"),
        format!(
            "MONITOR es850@localhost 1 admin pass primary\n\
             SHUTDOWNCMD \"/bin/true\"\n\
             NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE >> {dir}/notify.log'\"\n\
             NOTIFYFLAG NOPARENT SYSLOG+EXEC\n",
            dir = d.display()
        ),
    )
    .unwrap();
    let daemon = start(&d, port, &["-c", d.to_str().unwrap(), "-u", "nobody"], &[]);
    let helper = helper_of(daemon.child.id()).expect("no privileged helper");
    let st = Command::new("kill")
        .arg(helper.to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let notes = || std::fs::read_to_string(d.join("notify.log")).unwrap_or_default();
    assert!(
        eventually(10, || notes().contains("NOPARENT")),
        "{} / {}",
        notes(),
        daemon.log()
    );
    // Still serving.
    let mut c = Client::connect(daemon.port);
    assert!(c
        .ask("GET VAR es850 ups.status\n")
        .starts_with("VAR es850 ups.status"));
}

#[test]
fn debug_levels_log_connections_and_requests_but_no_password() {
    let d = dir("debug");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let fx = fixture("eaton-3s-700");
    let daemon = start(
        &d,
        port,
        &[
            "--simulate",
            fx.to_str().unwrap(),
            "--listen",
            &listen,
            "-DD",
        ],
        &[],
    );
    let mut c = Client::connect(port);
    c.expect("USERNAME someone\n", "OK\n");
    c.expect("PASSWORD hunter2\n", "OK\n");
    assert!(c
        .ask("GET VAR eaton-3s-700 ups.status\n")
        .starts_with("VAR eaton-3s-700 ups.status"));
    drop(c);
    assert!(
        eventually(5, || daemon.log().contains("disconnected")),
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(log.contains("connection from 127.0.0.1"), "{log}");
    assert!(
        log.contains("127.0.0.1: GET VAR eaton-3s-700 ups.status"),
        "{log}"
    );
    assert!(log.contains("127.0.0.1: PASSWORD ...\n"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    // Without -D, none of it.
    let d2 = dir("nodebug");
    let port2 = free_port();
    let quiet = start(
        &d2,
        port2,
        &[
            "--simulate",
            fx.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port2}"),
        ],
        &[],
    );
    let mut c = Client::connect(port2);
    c.ask("GET VAR eaton-3s-700 ups.status\n");
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!quiet.log().contains("connection from"), "{}", quiet.log());
}

/// A reply longer than a connection's first (small) buffer: the buffer
/// grows and the whole list arrives, pipelined lines around it too.
#[test]
fn a_long_list_grows_the_reply_buffer() {
    let mut conf = format!(
        "[big]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display()
    );
    for k in 0..150 {
        conf += &format!("\tdefault.test.filler{k:03} = \"{}\"\n", "x".repeat(40));
    }
    let d = common::start("biglist", &conf, "");
    let mut c = Client::connect(d.port);
    let list = c.ask("GET VAR big ups.status\nLIST VAR big\n");
    assert!(list.starts_with("VAR big ups.status"), "{}", &list[..80]);
    let mut c = Client::connect(d.port);
    let list = c.ask("LIST VAR big\n");
    println!(
        "LIST VAR: {} bytes, {} lines",
        list.len(),
        list.lines().count()
    );
    assert!(list.len() > 8192, "{} bytes", list.len());
    assert!(list.contains("VAR big test.filler149 "), "{list}");
    assert!(list.ends_with("END LIST VAR big\n"));
    assert_eq!(
        c.ask("GET VAR big test.filler000\n"),
        format!("VAR big test.filler000 \"{}\"\n", "x".repeat(40))
    );
}
