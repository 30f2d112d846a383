//! A power cut during a connection flood, end to end (`make flood`):
//!
//!     cargo build && cargo run --example flood [-- --bin target/debug/hidupsd]
//!
//! hidupsd serves a simulated UPS on a free loopback port, with its
//! built-in monitor as the primary, and default settings (MAXCONN 1024,
//! HOSTSYNC 15, FINALDELAY 5, POLLFREQ 5). A flood of 1,100 idle TCP
//! connections from the loopback arrives and is kept up: every second
//! whatever the server closed is opened again. During the flood a stock
//! Debian upsmon starts as a secondary, from the loopback too. The UPS
//! then goes on battery, the battery gets low, the primary sets FSD and
//! waits for the secondary; the secondary must see the power cut and the
//! FSD and shut down (its SHUTDOWNCMD) before the primary does.
//!
//! The closing lines print the timeline. Exit status 0 when the secondary
//! shut down first, 1 when not (or a tool is missing under CI=true), 2
//! for a setup problem (then the message says which). Loopback only, done
//! within 120 s.
//!
//! Needs 1,100 file descriptors for the flood: the soft `ulimit -n` is
//! raised to the hard limit here; a hard limit below 1,200 is a setup
//! problem. upsmon refuses to start while another upsmon runs on this
//! host ("A previous upsmon instance is already running"); that is
//! reported as such.

mod common;
use common::die_with_parent;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{exit, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const UPSMON: &str = "/lib/nut/upsmon";
const FLOOD: usize = 1_100;
/// The whole run, at most.
const BOUND: Duration = Duration::from_secs(120);
/// Seconds after the daemon starts (the simulation's clock).
const POWERCUT_S: u64 = 12;
const LOWBATT_S: u64 = 18;

fn die(code: i32, msg: &str) -> ! {
    eprintln!("flood: {msg}");
    exit(code)
}

fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Raise the soft open-file limit to the hard one; the soft limit now.
fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    // rlim_t is 32 bits on some targets.
    #[allow(clippy::unnecessary_cast)]
    let n = r.rlim_cur as u64;
    n
}

/// One request on a fresh connection; retried (a loopback client may be
/// closed to make room while the flood runs, as any other).
fn ask(port: u16, req: &str) -> Option<String> {
    for _ in 0..20 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(req.as_bytes()).is_ok() {
                let mut b = [0u8; 256];
                if let Ok(n) = s.read(&mut b) {
                    if n > 0 {
                        return Some(String::from_utf8_lossy(&b[..n]).into_owned());
                    }
                }
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `(epoch, event)` lines a notify command appended.
fn events(file: &Path) -> Vec<(f64, String)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, what) = l.split_once(' ')?;
            Some((t.parse().ok()?, what.to_string()))
        })
        .collect()
}

fn stamp(file: &Path) -> Option<f64> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// The flood: `FLOOD` connections held; every second those the server
/// closed are opened again. Counts what the server closed.
fn flood(port: u16, stop: Arc<AtomicBool>, closed: Arc<AtomicU64>, up: Arc<AtomicU64>) {
    let mut conns: Vec<Option<TcpStream>> = (0..FLOOD).map(|_| None).collect();
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        let mut open = 0;
        for c in conns.iter_mut() {
            if let Some(s) = c {
                match s.read(&mut buf) {
                    Ok(0) => *c = None,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    _ => *c = None,
                }
                if c.is_none() {
                    closed.fetch_add(1, Ordering::Relaxed);
                }
            }
            if c.is_none() {
                if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                    let _ = s.set_nonblocking(true);
                    *c = Some(s);
                }
            }
            open += usize::from(c.is_some());
        }
        up.store(open as u64, Ordering::Relaxed);
        thread::sleep(Duration::from_secs(1));
    }
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut bin = root.join("target/debug/hidupsd");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--bin", Some(p)) => bin = PathBuf::from(p),
            _ => die(2, "usage: flood [--bin PATH]"),
        }
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !Path::new(UPSMON).exists() {
        if ci {
            die(
                1,
                &format!("{UPSMON} (Debian nut-client) is missing: install it"),
            );
        }
        println!("flood: skipped: {UPSMON} (Debian nut-client) is not installed");
        return;
    }
    if !bin.exists() {
        die(
            2,
            &format!("{} missing: run cargo build first", bin.display()),
        );
    }
    let nofile = raise_nofile();
    println!("open file limit (ulimit -n): {nofile}");
    if nofile < FLOOD as u64 + 100 {
        die(
            2,
            &format!(
                "the open file limit is {nofile}: {FLOOD} connections need at least {} \
                 (raise the hard limit: ulimit -Hn)",
                FLOOD + 100
            ),
        );
    }
    let dir = std::env::temp_dir().join(format!("hidupsd-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("upsmon")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // The UPS: a recorded APC, on battery at POWERCUT_S, low at LOWBATT_S.
    let fx = root.join("tests/fixtures/apc-back-ups-bk650m2-ch");
    let mut rec = std::fs::read_to_string(fx.join("device.txt")).unwrap();
    for l in std::fs::read_to_string(fx.join("descriptor.hex"))
        .unwrap()
        .lines()
    {
        rec += &format!("descriptor {l}\n");
    }
    rec += &std::fs::read_to_string(fx.join("reports.txt")).unwrap();
    rec += &format!("at {POWERCUT_S} powercut\nat {LOWBATT_S} lowbatt\n");
    std::fs::write(dir.join("bk650.rec"), rec).unwrap();
    let d = dir.display();
    // (NUT 2.8.0's upsmon has no SHUTDOWN_HOSTSYNC: the primary's only.)
    let notify = |who: &str| {
        let hostsync = if who == "primary" {
            "NOTIFYFLAG SHUTDOWN_HOSTSYNC SYSLOG+EXEC\n"
        } else {
            ""
        };
        format!(
            "NOTIFYCMD \"/bin/sh -c 'echo $(date +%s.%N) $NOTIFYTYPE >> {d}/{who}.events'\"\n\
             NOTIFYFLAG ONBATT SYSLOG+EXEC\nNOTIFYFLAG LOWBATT SYSLOG+EXEC\n\
             NOTIFYFLAG FSD SYSLOG+EXEC\nNOTIFYFLAG COMMOK SYSLOG+EXEC\n\
             NOTIFYFLAG COMMBAD SYSLOG+EXEC\nNOTIFYFLAG NOCOMM SYSLOG+EXEC\n\
             NOTIFYFLAG SHUTDOWN SYSLOG+EXEC\n{hostsync}"
        )
    };
    let files = [
        (
            "ups.conf",
            format!("[bk650]\n\tdriver = sim\n\tport = \"{d}/bk650.rec\"\n"),
        ),
        ("upsd.conf", format!("LISTEN 127.0.0.1 {port}\n")),
        (
            "upsd.users",
            "[admin]\n\tpassword = adminpass\n\tupsmon primary\n\
             [monuser]\n\tpassword = monpass\n\tupsmon secondary\n"
                .to_string(),
        ),
        (
            "upsmon.conf",
            format!(
                "MONITOR bk650@localhost 1 admin adminpass primary\n\
                 SHUTDOWNCMD \"/bin/sh -c 'date +%s.%N > {d}/primary.shutdown'\"\n{}",
                notify("primary")
            ),
        ),
        (
            "upsmon/upsmon.conf",
            format!(
                "MONITOR bk650@127.0.0.1:{port} 1 monuser monpass secondary\n\
                 SHUTDOWNCMD \"/bin/sh -c 'date +%s.%N > {d}/secondary.shutdown'\"\n{}",
                notify("secondary")
            ),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }

    let t0 = epoch();
    let mut timeline: Vec<(f64, String)> = Vec::new();
    let log = std::fs::File::create(dir.join("hidupsd.log")).unwrap();
    let daemon = Kill(
        die_with_parent(Command::new(&bin).args(["-c", dir.to_str().unwrap()]))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| die(2, &format!("{}: {e}", bin.display()))),
    );
    let until = |secs: f64, f: &mut dyn FnMut() -> bool| {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            if f() {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    };
    if !until(10.0, &mut || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }) {
        die(2, "the daemon did not listen within 10 s (see its log)");
    }
    timeline.push((
        epoch(),
        "hidupsd listening (primary: its built-in monitor)".into(),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicU64::new(0));
    let up = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (stop, closed, up) = (stop.clone(), closed.clone(), up.clone());
        thread::spawn(move || flood(port, stop, closed, up))
    };
    if !until(20.0, &mut || up.load(Ordering::Relaxed) >= FLOOD as u64) {
        die(2, "the flood could not open its connections");
    }
    timeline.push((
        epoch(),
        format!("flood: {FLOOD} connections from 127.0.0.1 open, reopened every second"),
    ));
    thread::sleep(Duration::from_secs(1));

    let upsmon_log = dir.join("upsmon.log");
    let upsmon = Kill(
        die_with_parent(
            Command::new(UPSMON)
                .args(["-F", "-p"])
                .env("NUT_CONFPATH", dir.join("upsmon"))
                .env("NUT_STATEPATH", dir.join("upsmon"))
                .env("NUT_ALTPIDPATH", dir.join("upsmon")),
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&upsmon_log).unwrap())
        .spawn()
        .unwrap(),
    );
    timeline.push((epoch(), "stock upsmon secondary started".into()));
    let logged_in = until(30.0, &mut || {
        ask(port, "GET NUMLOGINS bk650\n").is_some_and(|a| a == "NUMLOGINS bk650 1\n")
    });
    let mon_log = || std::fs::read_to_string(&upsmon_log).unwrap_or_default();
    if !logged_in && mon_log().contains("A previous upsmon instance is already running") {
        die(
            2,
            "upsmon refused to start: another upsmon runs on this host (stop it and run again)",
        );
    }
    if logged_in {
        timeline.push((epoch(), "secondary logged in (NUMLOGINS 1)".into()));
    }
    println!(
        "flood while the secondary logged in: {} connections open, {} closed by the server",
        up.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed)
    );

    // Until the primary shuts down (it does last), or the bound runs out.
    let sec_file = dir.join("secondary.shutdown");
    let pri_file = dir.join("primary.shutdown");
    let left = BOUND.saturating_sub(started.elapsed()).as_secs_f64();
    until(left, &mut || stamp(&pri_file).is_some());
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    let flood_closed = closed.load(Ordering::Relaxed);
    drop(upsmon);
    drop(daemon);

    timeline.push((t0 + POWERCUT_S as f64, "UPS: power cut (on battery)".into()));
    timeline.push((t0 + LOWBATT_S as f64, "UPS: battery low".into()));
    for (who, file) in [
        ("primary", "primary.events"),
        ("secondary", "secondary.events"),
    ] {
        for (t, what) in events(&dir.join(file)) {
            timeline.push((t, format!("{who}: {what}")));
        }
    }
    let sec = stamp(&sec_file);
    let pri = stamp(&pri_file);
    if let Some(t) = sec {
        timeline.push((t, "secondary: SHUTDOWNCMD ran".into()));
    }
    if let Some(t) = pri {
        timeline.push((t, "primary: SHUTDOWNCMD ran".into()));
    }
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("timeline (seconds after hidupsd started):");
    for (t, what) in &timeline {
        println!("  {:7.2}  {what}", t - t0);
    }
    println!("flood: the server closed {flood_closed} of its connections");
    let log = std::fs::read_to_string(dir.join("hidupsd.log")).unwrap_or_default();
    for l in log.lines().filter(|l| {
        l.contains("MAXCONN") || l.contains("closing") || l.contains("connections from")
    }) {
        println!("  hidupsd: {l}");
    }
    let sec_events = events(&dir.join("secondary.events"));
    let saw = |what: &str| sec_events.iter().any(|(_, w)| w == what);
    let mut fail = Vec::new();
    if !logged_in {
        fail.push("the secondary never logged in".to_string());
    }
    if !saw("ONBATT") {
        fail.push("the secondary never saw the power cut (ONBATT)".into());
    }
    if !saw("FSD") {
        fail.push("the secondary never saw FSD".into());
    }
    match (sec, pri) {
        (Some(s), Some(p)) if s < p => {
            println!("the secondary shut down {:.1} s before the primary", p - s)
        }
        (Some(_), Some(_)) => fail.push("the primary shut down before the secondary".into()),
        (None, _) => fail.push("the secondary did not shut down".into()),
        (_, None) => fail.push("the primary did not shut down".into()),
    }
    if fail.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        println!("flood: ok ({:.0} s)", started.elapsed().as_secs_f64());
    } else {
        println!("--- upsmon's output\n{}", mon_log());
        println!("--- hidupsd's log (last 40 lines)");
        for l in log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            println!("{l}");
        }
        die(
            1,
            &format!("FAILED: {} (files in {})", fail.join("; "), dir.display()),
        );
    }
}
