//! The server as users run it: the real binary serving simulated UPSes on
//! a free loopback port, asked by a raw TCP client (exact bytes) and, when
//! installed, by NUT's own `upsc` and `upscmd`, whose output must match
//! `hidupsd decode` of the same recording.
//!
//! Loopback only; every read has a timeout and every daemon is killed when
//! its test ends, panics included.

use crate::common;
use crate::TmpDir;

use common::{free_port, Client};

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hidupsd");
const APC: &str = "apc-back-ups-bk650m2-ch";
const EATON: &str = "eaton-5sc-750";
/// How long any one answer may take.
const TIMEOUT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A running daemon, killed on drop.
struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    /// Start `hidupsd ARGS` and wait until `port` accepts connections.
    fn start(args: &[&str], port: u16, name: &str) -> Daemon {
        let log =
            std::env::temp_dir().join(format!("hidupsd-daemon-{}-{name}.log", std::process::id()));
        let child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut d = Daemon { child, port, log };
        let t0 = Instant::now();
        loop {
            if let Some(st) = d.child.try_wait().unwrap() {
                panic!("hidupsd exited ({st}): {}", d.stderr());
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return d;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "{}", d.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Serve the two fixtures, one named explicitly.
    fn two_fixtures(name: &str) -> Daemon {
        let port = free_port();
        let apc = format!("apc={}", fixture(APC));
        let listen = format!("127.0.0.1:{port}");
        Daemon::start(
            &[
                "--simulate",
                &apc,
                "--simulate",
                &fixture(EATON),
                "--listen",
                &listen,
            ],
            port,
            name,
        )
    }

    fn client(&self) -> Client {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Client(s)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap()
}

/// `hidupsd decode`: (name, value) pairs sorted by name.
fn decoded(fixture_name: &str) -> Vec<(String, String)> {
    let o = run(BIN, &["decode", &fixture(fixture_name)]);
    assert!(o.status.success());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn value<'a>(vars: &'a [(String, String)], name: &str) -> &'a str {
    &vars.iter().find(|(k, _)| k == name).unwrap().1
}

/// `LIST VAR` as upsd sends it: names sorted case-insensitively, values
/// quoted with `"`, `\` and `#` escaped.
fn list_var(ups: &str, vars: &[(String, String)]) -> String {
    let mut v = vars.to_vec();
    v.sort_by(|a, b| {
        a.0.to_ascii_lowercase()
            .cmp(&b.0.to_ascii_lowercase())
            .then(a.0.cmp(&b.0))
    });
    let mut s = format!("BEGIN LIST VAR {ups}\n");
    for (k, val) in v {
        let mut esc = String::new();
        for c in val.chars() {
            if matches!(c, '"' | '\\' | '#') {
                esc.push('\\');
            }
            esc.push(c);
        }
        s += &format!("VAR {ups} {k} \"{esc}\"\n");
    }
    s + &format!("END LIST VAR {ups}\n")
}

#[test]
fn raw_client_gets_exact_replies() {
    let d = Daemon::two_fixtures("raw");
    let mut c = d.client();
    assert_eq!(
        c.ask("VER\n"),
        format!(
            "Network UPS Tools upsd hidupsd-{} - https://www.networkupstools.org/\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        c.ask("LIST UPS\n"),
        "BEGIN LIST UPS\nUPS apc \"Description unavailable\"\n\
         UPS eaton-5sc-750 \"Description unavailable\"\nEND LIST UPS\n"
    );
    let apc = decoded(APC);
    assert_eq!(
        c.ask("GET VAR apc battery.charge\n"),
        format!(
            "VAR apc battery.charge \"{}\"\n",
            value(&apc, "battery.charge")
        )
    );
    // Each list arrives in two writes: its BEGIN line alone, then the
    // rest (2 ms later, for clients that read before looking at what they
    // hold); a slow reader may get both in one read.
    let eaton = decoded(EATON);
    assert!(eaton.len() > 50);
    for (ups, vars) in [("apc", &apc), ("eaton-5sc-750", &eaton)] {
        let reads = c.list_reads(&format!("LIST VAR {ups}\n"));
        assert_eq!(reads.concat(), list_var(ups, vars));
        assert!(reads.len() <= 2, "{reads:?}");
        if reads.len() == 2 {
            assert_eq!(reads[0], format!("BEGIN LIST VAR {ups}\n"));
        }
    }
    assert_eq!(c.ask("GET VAR nosuch ups.status\n"), "ERR UNKNOWN-UPS\n");
    assert_eq!(
        c.ask("GET VAR apc no.such.var\n"),
        "ERR VAR-NOT-SUPPORTED\n"
    );
    // Without TLS the answer comes at once, so clients carry on in plain text.
    assert_eq!(c.ask("STARTTLS\n"), "ERR FEATURE-NOT-CONFIGURED\n");
    // Pipelined lines, CRLF, an overlong line: answered in order.
    c.expect("NETVER\r\nPROTVER\n", "1.3\n1.3\n");
    let long = format!("GET VAR apc {}\nNETVER\n", "x".repeat(3000));
    c.expect(&long, "ERR INVALID-ARGUMENT\n1.3\n");
    assert_eq!(c.ask("LOGOUT\n"), "OK Goodbye\n");
    assert!(c.closed());
}

/// Bytes arrive as TCP delivers them, not as lines: a line split over
/// writes, an overlong line split over writes, hundreds of lines in one
/// write, and a client that sends many long lists before reading any (the
/// replies wait for it, in order, and nothing else is held up).
#[test]
fn split_pipelined_and_unread_input() {
    let d = Daemon::two_fixtures("split");
    let apc = decoded(APC);
    let charge = format!(
        "VAR apc battery.charge \"{}\"\n",
        value(&apc, "battery.charge")
    );
    let mut c = d.client();
    c.0.write_all(b"GET VAR apc ").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.expect("battery.charge\n", &charge);
    // 1600 bytes without a LF, in two writes: refused once, then served.
    c.0.write_all("x".repeat(800).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.0.write_all("x".repeat(800).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.expect("yyy\nNETVER\n", "ERR INVALID-ARGUMENT\n1.3\n");
    // A line of exactly 1024 bytes is a request; 1025 is too long.
    let get = "GET VAR apc battery.charge";
    let fits = format!("{get}{}\n", " ".repeat(1024 - get.len()));
    c.expect(&fits, &charge);
    let over = format!("{get}{}\nNETVER\n", " ".repeat(1025 - get.len()));
    c.expect(&over, "ERR INVALID-ARGUMENT\n1.3\n");
    let n = 500;
    c.expect(&"GET VAR apc battery.charge\n".repeat(n), &charge.repeat(n));
    // Many lists sent before any is read: more than the socket buffers
    // hold, so replies wait in the server until this client reads.
    let eaton = list_var("eaton-5sc-750", &decoded(EATON));
    let lists = 300;
    c.0.write_all("LIST VAR eaton-5sc-750\n".repeat(lists).as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile another client is served at once.
    let mut other = d.client();
    assert_eq!(other.ask("GET VAR apc battery.charge\n"), charge);
    let mut got = vec![0u8; eaton.len() * lists];
    c.0.read_exact(&mut got).unwrap();
    assert!(
        got == eaton.repeat(lists).as_bytes(),
        "the lists came back out of order or cut"
    );
    assert_eq!(c.ask("LOGOUT\n"), "OK Goodbye\n");
    assert!(c.closed());
}

/// `upsc`/`upscmd` from NUT (Debian package nut-client), if installed.
fn nut_client(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        common::missing(&format!("{tool} (apt-get install nut-client; its checks)"));
    }
    found
}

fn stdout(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn nut_clients_see_what_decode_prints() {
    if !nut_client("upsc") {
        return;
    }
    let d = Daemon::two_fixtures("upsc");
    let host = d.host();
    assert_eq!(stdout(run("upsc", &["-l", &host])), "apc\neaton-5sc-750\n");
    for (ups, fixture_name) in [("apc", APC), ("eaton-5sc-750", EATON)] {
        let want = decoded(fixture_name);
        let at = format!("{ups}@{host}");
        let mut got: Vec<(String, String)> = stdout(run("upsc", &[&at]))
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap_or((l, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "upsc {at}");
        assert_eq!(
            stdout(run("upsc", &[&at, "battery.charge"])),
            format!("{}\n", value(&want, "battery.charge"))
        );
        if nut_client("upscmd") {
            let explore = stdout(run(BIN, &["decode", "--explore", &fixture(fixture_name)]));
            let mut want: Vec<&str> = explore
                .lines()
                .find_map(|l| l.strip_prefix("# commands: "))
                .unwrap()
                .split_whitespace()
                .collect();
            want.sort_unstable();
            let listed = stdout(run("upscmd", &["-l", &at]));
            let got: Vec<&str> = listed
                .lines()
                .filter_map(|l| l.split_once(" - ").map(|(c, _)| c))
                .collect();
            assert_eq!(got, want, "upscmd -l {at}:\n{listed}");
        }
    }
}

#[test]
fn configuration_directory_users_commands_and_limits() {
    let port = free_port();
    let tmp = TmpDir::new("daemon-conf");
    let dir = &tmp.0;
    let w = |f: &str, t: &str| std::fs::write(dir.join(f), t).unwrap();
    w(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nMAXCONN 3\n"),
    );
    w(
        "upsd.users",
        "[admin]\n  password = pw\n  actions = SET\n  instcmds = ALL\n\
         [mon]\n  password = pw\n  upsmon primary\n",
    );
    w(
        "ups.conf",
        &format!(
            "[sim]\n  driver = sim\n  port = \"{}\"\n  desc = \"Rack UPS\"\n\
             [usb]\n  driver = usbhid-ups\n  port = auto\n\
             [cps]\n  driver = sim\n  port = \"{}\"\n",
            fixture(APC),
            fixture("cps-or2200lcdrt2u")
        ),
    );
    let d = Daemon::start(&["-c", dir.to_str().unwrap()], port, "conf");
    let mut mon = d.client();
    assert_eq!(
        mon.ask("LIST UPS\n"),
        "BEGIN LIST UPS\nUPS sim \"Rack UPS\"\nUPS usb \"Description unavailable\"\n\
         UPS cps \"Description unavailable\"\nEND LIST UPS\n"
    );
    assert_eq!(
        mon.ask("GET VAR usb ups.status\n"),
        "ERR DRIVER-NOT-CONNECTED\n"
    );

    // upsmon: LOGIN counts, LIST CLIENT lists, FSD latches.
    mon.expect("USERNAME mon\nPASSWORD pw\n", "OK\nOK\n");
    assert_eq!(mon.ask("LOGIN sim\n"), "OK\n");
    assert_eq!(mon.ask("GET NUMLOGINS sim\n"), "NUMLOGINS sim 1\n");
    assert_eq!(
        mon.ask("LIST CLIENT sim\n"),
        "BEGIN LIST CLIENT sim\nCLIENT sim 127.0.0.1\nEND LIST CLIENT sim\n"
    );
    let status = value(&decoded(APC), "ups.status").to_string();
    assert_eq!(mon.ask("FSD sim\n"), "OK FSD-SET\n");
    assert_eq!(
        mon.ask("GET VAR sim ups.status\n"),
        format!("VAR sim ups.status \"FSD {status}\"\n")
    );

    // upscmd -w / upsrw -w: the write reaches the recording and reads back.
    let mut admin = d.client();
    admin.expect(
        "USERNAME admin\nPASSWORD pw\nSET TRACKING ON\n",
        "OK\nOK\nOK\n",
    );
    let tracked = |c: &mut Client, req: &str| {
        let r = c.ask(req);
        let id = r
            .strip_prefix("OK TRACKING ")
            .unwrap_or_else(|| panic!("{req:?}: {r:?}"))
            .trim_end()
            .to_string();
        assert_eq!(id.len(), 36);
        // The UPS's worker carries it out and reports back: PENDING
        // until then.
        let t0 = Instant::now();
        loop {
            match c.ask(&format!("GET TRACKING {id}\n")) {
                p if p == "PENDING\n" && t0.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                r => return r,
            }
        }
    };
    assert_eq!(
        tracked(&mut admin, "INSTCMD sim beeper.disable\n"),
        "SUCCESS\n"
    );
    assert_eq!(
        tracked(&mut admin, "SET VAR sim battery.charge.low 40\n"),
        "SUCCESS\n"
    );
    let t0 = Instant::now();
    while admin.ask("GET VAR sim battery.charge.low\n") != "VAR sim battery.charge.low \"40\"\n" {
        assert!(
            t0.elapsed() < TIMEOUT,
            "battery.charge.low never read back 40"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // shutdown.return pauses 125 ms between its writes, slept through by
    // the UPS's worker as NUT's driver does; a command sent meanwhile is
    // accepted and runs after it, in order.
    let t0 = Instant::now();
    admin
        .0
        .write_all(b"INSTCMD cps shutdown.return\nINSTCMD cps load.off\n")
        .unwrap();
    let mut r = [0u8; 2 * 49];
    admin.0.read_exact(&mut r).unwrap();
    let r = String::from_utf8_lossy(&r).into_owned();
    let ids: Vec<String> = r
        .lines()
        .map(|l| {
            l.strip_prefix("OK TRACKING ")
                .unwrap_or_else(|| panic!("{r:?}"))
                .to_string()
        })
        .collect();
    // Poll the second before the first: the second may never be seen done
    // while the first is still pending (the worker runs them in order).
    let mut ended: Vec<Option<(String, Duration)>> = vec![None, None];
    while ended.iter().any(Option::is_none) {
        assert!(
            t0.elapsed() < TIMEOUT,
            "the commands never ended: {ended:?}"
        );
        let second = admin.ask(&format!("GET TRACKING {}\n", ids[1]));
        let first = admin.ask(&format!("GET TRACKING {}\n", ids[0]));
        assert!(
            second == "PENDING\n" || first != "PENDING\n",
            "load.off ended before shutdown.return: {second:?} / {first:?}"
        );
        for (k, st) in [(0, first), (1, second)] {
            if ended[k].is_none() && st != "PENDING\n" {
                ended[k] = Some((st, t0.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (first, second) = (ended[0].clone().unwrap(), ended[1].clone().unwrap());
    assert_eq!(
        (first.0.as_str(), second.0.as_str()),
        ("SUCCESS\n", "SUCCESS\n")
    );
    assert!(first.1 >= Duration::from_millis(125), "{first:?}");
    assert_eq!(
        admin.ask("INSTCMD sim no.such.cmd\n"),
        "ERR CMD-NOT-SUPPORTED\n"
    );

    // MAXCONN 3: a fourth connection gets a slot, made by closing the
    // connection idle longest that did not log in (admin); mon's login
    // is never closed to make room.
    let mut third = d.client();
    assert_eq!(third.ask("NETVER\n"), "1.3\n");
    let mut fourth = d.client();
    assert_eq!(fourth.ask("NETVER\n"), "1.3\n");
    // (Nothing is sent first: closing with unread data would be a reset.)
    assert!(admin.closed());
    assert_eq!(mon.ask("GET NUMLOGINS sim\n"), "NUMLOGINS sim 1\n");
    // Closing a connection frees its slot and its login.
    drop(mon);
    let t0 = Instant::now();
    loop {
        let mut c = d.client();
        c.0.write_all(b"GET NUMLOGINS sim\n").unwrap();
        let mut buf = [0u8; 64];
        if let Ok(n) = c.0.read(&mut buf) {
            if &buf[..n] == b"NUMLOGINS sim 0\n" {
                break;
            }
        }
        assert!(t0.elapsed() < TIMEOUT, "the slot and login were not freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn fails_with(args: &[&str]) -> String {
    let o = run(BIN, args);
    assert_eq!(o.status.code(), Some(1), "{args:?}");
    let e = String::from_utf8(o.stderr).unwrap();
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    e
}

#[test]
fn bad_configuration_is_one_line_naming_file_and_line() {
    let tmp = TmpDir::new("daemon-bad");
    let dir = &tmp.0;
    std::fs::write(dir.join("ups.conf"), "[sim]\n  driver = sim\n  bogus = 1\n").unwrap();
    let e = fails_with(&["-c", dir.to_str().unwrap()]);
    assert!(e.contains("ups.conf:3: "), "{e}");
    std::fs::write(
        dir.join("ups.conf"),
        "[sim]\n  driver = sim\n  port = nowhere\n",
    )
    .unwrap();
    let e = fails_with(&["-c", dir.to_str().unwrap()]);
    assert!(e.contains("ups.conf:1: [sim] port: "), "{e}");
    let e = fails_with(&["--simulate", "/nonexistent/ups"]);
    assert!(e.contains("/nonexistent/ups"), "{e}");
    let e = fails_with(&["--simulate", &fixture(APC), "--listen", "localhost"]);
    assert!(e.contains("--listen 'localhost'"), "{e}");
    let e = fails_with(&["--simulate", &fixture(APC), "--simulate", &fixture(APC)]);
    assert!(e.contains("two UPSes"), "{e}");
    let e = fails_with(&["--bogus"]);
    assert!(e.contains("unknown option '--bogus'"), "{e}");
}

#[test]
fn without_configuration_it_serves_what_it_finds() {
    // No UPS configured: every USB UPS found is served (none on a machine
    // without one), read-only; the server itself answers at once.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let d = Daemon::start(&["--listen", &listen], port, "adopt");
    let mut c = d.client();
    assert_eq!(c.ask("LIST UPS\n"), "BEGIN LIST UPS\nEND LIST UPS\n");
    assert_eq!(c.ask("GET VAR nosuch ups.status\n"), "ERR UNKNOWN-UPS\n");
    assert!(
        d.stderr().contains("serving every USB UPS found"),
        "{}",
        d.stderr()
    );

    // `hidupsd` alone: the NUT port on loopback, when it is free here.
    if TcpListener::bind((Ipv4Addr::LOCALHOST, 3493)).is_err() {
        eprintln!("note: port 3493 is taken: bare `hidupsd` not checked");
        return;
    }
    let d = Daemon::start(&[], 3493, "bare");
    let mut c = d.client();
    assert_eq!(c.ask("NETVER\n"), "1.3\n");
    assert!(
        d.stderr().contains("listening on 127.0.0.1:3493"),
        "{}",
        d.stderr()
    );
}
