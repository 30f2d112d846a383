//! Simulated UPSes through the worker, the same code path as hidraw:
//! - every Power Device fixture, served by a `SimDevice` in a worker
//!   spawned as the daemon spawns it, publishes after its first full walk
//!   exactly what `hidupsd decode` prints for it;
//! - a scripted power cut on the real binary (`--simulate` and
//!   `--script`), watched over the NUT protocol by a raw TCP client (and
//!   `upsc` when installed): OL, then OB DISCHRG, then LB, then OL again;
//!   the time from each event to the change the client sees is printed;
//! - a SET VAR on the scripted UPS reads back;
//! - a script path that names no field fails at start, naming the line.
//!
//! Loopback only; every wait is bounded and every daemon killed.

use crate::common;
use crate::TmpDir;

use common::{free_port, Client};

use hidupsd::cli::decode;
use hidupsd::config::setup::Retry;
use hidupsd::device::io::Dev;
use hidupsd::device::shared::Notify;
use hidupsd::device::sim::Sim;
use hidupsd::device::worker::{self, Config};
use hidupsd::hid::Descriptor;
use hidupsd::recording::Recording;
use hidupsd::sys::clock::Clock;
use hidupsd::ups::options::Options;
use mio::{Poll, Token, Waker};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APC: &str = "apc-back-ups-bk650m2-ch";
const TIMEOUT: Duration = Duration::from_secs(10);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn every_fixture_through_the_worker_publishes_what_decode_prints() {
    let poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
    let (notify, _reports) = Notify::<Dev>::new(waker);
    let clock = Clock::start();
    // A short poll interval, and a full walk at every update (pollfreq
    // 1 ms), so the first update is the full walk decode runs.
    let opts = Options {
        pollinterval_ms: 100,
        pollfreq_ms: 1,
        ..Options::default()
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut compared, mut skipped) = (Vec::new(), Vec::new());
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let rec = Recording::load(&dir).unwrap();
        if !Descriptor::parse(&rec.descriptor).is_ok_and(|d| d.is_power_device()) {
            skipped.push(name);
            continue;
        }
        let want = decode::sorted_vars(&decode::decode(&rec, Options::default()).unwrap().0);
        let answers = !rec.features.is_empty();
        let ups = Sim::load(rec, &opts, &name).unwrap().start(&name).unwrap();
        let cfg = Config {
            name: name.clone(),
            index: 0,
            opts: opts.clone(),
            retry: Retry::default(),
        };
        let found = ups.found().unwrap().boxed();
        let h = worker::spawn(cfg, found, ups.opener(), notify.clone(), clock).unwrap();
        let link = h.link();
        let t0 = Instant::now();
        let wait = |what: &str, ok: &dyn Fn() -> bool| {
            while !ok() {
                assert!(t0.elapsed() < TIMEOUT, "{name}: {what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait("no first data", &|| link.last_update_ms().is_some());
        let first = link.last_update_ms().unwrap();
        if answers {
            // Past the start-up publications (INIT, recorded inputs): a
            // later one is an update, and every update is a full walk.
            wait("no full walk", &|| {
                link.last_update_ms().is_some_and(|t| t >= first + 200)
            });
        } else {
            // No feature report recorded: INIT publishes what the
            // descriptor and identity give, and the first poll reads
            // nothing, as from a UPS that stopped answering: stale, the
            // values kept.
            wait("never stale", &|| !link.lock().live);
        }
        let mut got: Vec<(String, String)> = link
            .lock()
            .store
            .iter()
            .map(|v| (v.name.as_str().to_string(), v.value.as_str().to_string()))
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}: the worker's variables against decode's");
        compared.push(format!("{name} ({} variables)", got.len()));
    }
    println!(
        "{} fixtures through SimDevice and the worker match decode: {}",
        compared.len(),
        compared.join(", ")
    );
    println!("not Power Devices, skipped: {}", skipped.join(", "));
    assert!(compared.len() >= 14, "{compared:?}");
}

/// The real binary, killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VAR apc ups.status "OB DISCHRG"` → `OB DISCHRG`.
fn value(reply: &str) -> &str {
    reply
        .trim_end()
        .split_once(" \"")
        .map_or(reply, |(_, v)| v.trim_end_matches('"'))
}

fn upsc(at: &str, var: &str) -> Option<String> {
    let o = Command::new("upsc").args([at, var]).output().ok()?;
    Some(String::from_utf8_lossy(&o.stdout).trim_end().to_string())
}

#[test]
fn a_scripted_power_cut_is_seen_over_the_protocol() {
    let tmp = TmpDir::new("sim-cut");
    let script = tmp.0.join("cut.script");
    // Times in seconds after the UPS starts.
    let events = [
        (1.5, "powercut"),
        (2.5, "set UPS.PowerSummary.RemainingCapacity 35"),
        (3.5, "lowbatt"),
        (4.5, "powerback"),
    ];
    let text: String = events
        .iter()
        .map(|(t, e)| format!("at {t} {e}\n"))
        .collect();
    std::fs::write(&script, format!("# a power cut\n{text}")).unwrap();
    std::fs::write(
        tmp.0.join("upsd.users"),
        "[admin]\n  password = pw\n  actions = SET\n",
    )
    .unwrap();
    let port = free_port();
    let sim = format!("apc={}", fixtures().join(APC).display());
    let listen = format!("127.0.0.1:{port}");
    let spawned = Instant::now();
    let mut d = Daemon(
        Command::new(env!("CARGO_BIN_EXE_hidupsd"))
            .args(["-c", tmp.0.to_str().unwrap()])
            .args(["--simulate", &sim, "--script", script.to_str().unwrap()])
            .args(["--listen", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The daemon logs each event as its simulated UPS applies it: the
    // time a line arrives here is when the event happened, give or take
    // a pipe's latency.
    let log: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    {
        let (log, err) = (log.clone(), d.0.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                log.lock().unwrap().push((Instant::now(), line));
            }
        });
    }
    let mut c = Client::connect(port);
    let first = c.ask("GET VAR apc ups.status\n");
    // The simulation started between the spawn and this first answer
    // (the server answers once the simulated UPS has published).
    let answered = spawned.elapsed();
    let status = value(&first).to_string();
    assert!(status.starts_with("OL"), "{first:?}");
    let host = format!("apc@127.0.0.1:{port}");
    let stock = upsc(&host, "ups.status");
    let have_upsc = stock.is_some();
    match stock {
        Some(s) => assert_eq!(s, status, "upsc {host} ups.status"),
        None => common::missing("upsc (apt-get install nut-client; its checks)"),
    }

    // What the client must see after each event, in order.
    type Check = fn(&str) -> bool;
    let expect: [(&str, Check); 4] = [
        ("ups.status", |s| s == "OB DISCHRG"),
        ("battery.charge", |s| s == "35"),
        ("ups.status", |s| s == "OB DISCHRG LB"),
        ("ups.status", |s| s.starts_with("OL") && !s.contains("OB")),
    ];
    let mut latencies = Vec::new();
    for (n, ((at, event), (var, ok))) in events.iter().zip(expect).enumerate() {
        let due = Duration::from_secs_f64(*at);
        let req = format!("GET VAR apc {var}\n");
        let seen = loop {
            let r = c.ask(&req);
            let v = value(&r).to_string();
            if ok(&v) {
                break (v, Instant::now());
            }
            assert!(
                spawned.elapsed() < due + Duration::from_secs(5),
                "after '{event}': {var} is still {r:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        // The script's line 2 + n (after the comment) says it happened.
        let mark = format!("{}:{}: {event}", script.display(), n + 2);
        let applied = log
            .lock()
            .unwrap()
            .iter()
            .find(|(_, l)| l.ends_with(&mark))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no log line ending {mark:?}: {:?}", log.lock().unwrap()));
        // Not before the event, and not before its time (the UPS started
        // after the spawn).
        assert!(seen.1 >= applied && applied >= spawned + due);
        let ms = (seen.1 - applied).as_secs_f64() * 1000.0;
        latencies.push(ms);
        println!(
            "at {at} s '{event}': the client saw {var} = {:?} {ms:.2} ms after the UPS \
             applied it ({:.1} ms after the spawn + {at} s)",
            seen.0,
            (applied - spawned - due).as_secs_f64() * 1000.0
        );
        if have_upsc {
            assert_eq!(
                upsc(&host, var).as_deref(),
                Some(seen.0.as_str()),
                "upsc {host} {var}"
            );
        }
    }

    println!(
        "event to client, worst of {}: {:.2} ms (the client asks every ~1 ms; the UPS \
         started {:.1} ms or less after the spawn)",
        latencies.len(),
        latencies.iter().cloned().fold(0.0, f64::max),
        answered.as_secs_f64() * 1000.0
    );

    // A write to the scripted UPS reads back.
    assert_eq!(c.ask("USERNAME admin\n"), "OK\n");
    assert_eq!(c.ask("PASSWORD pw\n"), "OK\n");
    assert_eq!(c.ask("SET VAR apc battery.charge.low 40\n"), "OK\n");
    let t0 = Instant::now();
    while c.ask("GET VAR apc battery.charge.low\n") != "VAR apc battery.charge.low \"40\"\n" {
        assert!(
            t0.elapsed() < TIMEOUT,
            "battery.charge.low never read back 40"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "SET VAR battery.charge.low 40 read back after {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_script_line_naming_no_field_stops_the_start() {
    let tmp = TmpDir::new("sim-bad");
    let script = tmp.0.join("bad.script");
    std::fs::write(
        &script,
        "at 1 powercut\nat 2 set UPS.PowerSummary.Nothing 1\n",
    )
    .unwrap();
    let sim = format!("apc={}", fixtures().join(APC).display());
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_hidupsd"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8(o.stderr).unwrap();
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        e
    };
    let e = run(&["--simulate", &sim, "--script", script.to_str().unwrap()]);
    assert!(
        e.contains(&format!(
            "{}:2: 'UPS.PowerSummary.Nothing'",
            script.display()
        )),
        "{e}"
    );
    std::fs::write(&script, "at 1 blackout\n").unwrap();
    let e = run(&["--simulate", &sim, "--script", script.to_str().unwrap()]);
    assert!(e.contains(":1: unknown event 'blackout'"), "{e}");
    let e = run(&["--script", script.to_str().unwrap()]);
    assert!(e.contains("--script"), "{e}");
    // In a recording served by ups.conf's `driver = sim`: the section,
    // then the recording's file and line.
    let rec = tmp.0.join("ups.rec");
    let mut text = String::new();
    for f in ["device.txt", "reports.txt"] {
        text += &std::fs::read_to_string(fixtures().join(APC).join(f)).unwrap();
    }
    let desc = std::fs::read_to_string(fixtures().join(APC).join("descriptor.hex")).unwrap();
    for l in desc.lines() {
        text += &format!("descriptor {l}\n");
    }
    let n = text.lines().count() + 1;
    text += "at 5 set UPS.NoSuchPath 3\n";
    std::fs::write(&rec, text).unwrap();
    std::fs::write(
        tmp.0.join("ups.conf"),
        "[sim]\n  driver = sim\n  port = ups.rec\n",
    )
    .unwrap();
    let e = run(&["-c", tmp.0.to_str().unwrap()]);
    assert!(
        e.contains(&format!(
            "ups.conf:1: [sim] port: {}:{n}: 'UPS.NoSuchPath'",
            rec.display()
        )),
        "{e}"
    );
}
