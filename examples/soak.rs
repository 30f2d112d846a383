//! Long-run soak, accelerated: a day's worth of power events in minutes.
//!
//!     cargo build --release && cargo run --release --example soak \
//!         [-- --seconds 240] [--period-ms 200] [--sample 10] [--bin PATH]
//!
//! Starts `hidupsd -c DIR` with two simulated UPSes (copies of two
//! fixtures whose `device.txt` gets a script appended) that flap between
//! mains and battery every `--period-ms` (the second half a period out of
//! phase), with the battery charge moving along, and an `upsmon.conf`
//! whose `MONITOR` lines watch both (the built-in monitor follows local
//! UPSes from the served data as it changes, not every POLLFREQ) and
//! whose NOTIFYCMD appends `NOTIFYTYPE UPSNAME` to a file. Meanwhile
//! clients connect and leave all the time (LIST VAR, GET VAR, LIST UPS,
//! LOGIN; some leave with a RST).
//!
//! Every `--sample` seconds it prints the daemon's VmRSS, open fds,
//! threads, the number of variables of each UPS and the notifications so
//! far; then first against last, and notifications against the
//! transitions the simulated UPSes really made (the daemon logs each
//! script step it applies). Exit status 1 if the daemon dies, a
//! transition has no ONBATT/ONLINE notification (or one too many), or
//! the host would have been shut down (no LOWBATT is scripted, so nothing
//! may be critical). Loopback only; bounded by `--seconds` (at most 3600)
//! plus a few seconds.

mod common;
use common::{ask, die_with_parent, proc_fds, proc_status};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{exit, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: soak [--seconds 240] [--period-ms 200] [--sample 10] [--bin PATH]";
/// (name in ups.conf, fixture)
const UPSES: [(&str, &str); 2] = [("apc", "apc-back-ups-es-850g2"), ("eaton", "eaton-5sc-750")];

fn die(msg: &str) -> ! {
    eprintln!("soak: {msg}");
    exit(2)
}

struct Args {
    secs: f64,
    period_ms: u64,
    sample: f64,
    bin: PathBuf,
}

fn parse_args() -> Args {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        secs: 240.0,
        period_ms: 200,
        sample: 10.0,
        bin: root.join("target/release/hidupsd"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| die(USAGE));
        let num = |s: String| s.parse::<f64>().unwrap_or_else(|_| die(USAGE));
        match k.as_str() {
            "--seconds" => a.secs = num(v()),
            "--period-ms" => a.period_ms = num(v()) as u64,
            "--sample" => a.sample = num(v()),
            "--bin" => a.bin = v().into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            _ => die(USAGE),
        }
    }
    if !(a.secs >= 10.0 && a.secs <= 3600.0) || a.period_ms < 20 || a.sample < 1.0 {
        die("--seconds in [10, 3600], --period-ms at least 20, --sample at least 1")
    }
    a
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| die(&format!("{}: {e}", to.display())));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| die(&format!("{}: {e}", from.display()))) {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// The script: from 2 s on, powercut and powerback alternately every
/// `period` ms (starting `offset` ms later), the charge going down on
/// battery and up on mains (never below 60 %: nothing may be critical),
/// ending on mains. Returns (script, transitions).
fn script(period: u64, offset: u64, secs: f64) -> (String, u64) {
    let mut s = String::from("\n# soak\n");
    let mut t = 2000 + offset;
    let end = (secs * 1000.0) as u64;
    let mut n = 0u64;
    while t < end {
        let cut = n % 2 == 0;
        s += &format!(
            "at {}.{:03} {}\n",
            t / 1000,
            t % 1000,
            if cut { "powercut" } else { "powerback" }
        );
        let charge = 60 + (n * 7) % 40;
        s += &format!(
            "at {}.{:03} set UPS.PowerSummary.RemainingCapacity {charge}\n",
            (t + period / 2) / 1000,
            (t + period / 2) % 1000
        );
        n += 1;
        t += period;
    }
    if n % 2 == 1 {
        s += &format!("at {}.{:03} powerback\n", t / 1000, t % 1000);
        n += 1;
    }
    (s, n)
}

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    fn status(&self, key: &str) -> u64 {
        proc_status(self.child.id(), key)
    }
    fn fds(&self) -> usize {
        proc_fds(self.child.id())
    }
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(s)
}

fn vars(addr: SocketAddr, ups: &str) -> Option<usize> {
    let mut s = connect(addr)?;
    let r = ask(&mut s, &format!("LIST VAR {ups}\n"))?;
    Some(r.lines().filter(|l| l.starts_with("VAR ")).count())
}

fn notifications(file: &Path) -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for l in std::fs::read_to_string(file).unwrap_or_default().lines() {
        *m.entry(l.trim().to_string()).or_insert(0) += 1;
    }
    m
}

fn main() {
    let a = parse_args();
    if !a.bin.exists() {
        die(&format!(
            "{} missing: run cargo build --release first",
            a.bin.display()
        ))
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| die(&format!("{e}")));
    let dir = std::env::temp_dir().join(format!("hidupsd-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let notes = dir.join("notify.log");
    let shutdown = dir.join("shutdown-ran");
    let mut ups_conf = String::new();
    let mut planned = Vec::new();
    for (k, (name, fixture)) in UPSES.iter().enumerate() {
        let d = dir.join(name);
        copy_dir(&root.join("tests/fixtures").join(fixture), &d);
        let (s, n) = script(a.period_ms, k as u64 * a.period_ms / 2, a.secs);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("device.txt"))
            .unwrap_or_else(|e| die(&format!("device.txt: {e}")));
        f.write_all(s.as_bytes()).unwrap();
        planned.push(n);
        ups_conf += &format!("[{name}]\n  driver = sim\n  port = \"{}\"\n", d.display());
    }
    let w = |f: &str, t: &str| std::fs::write(dir.join(f), t).unwrap();
    w("ups.conf", &ups_conf);
    w(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nMAXCONN 512\nMAXCONN_PER_SOURCE 0\n"),
    );
    w("upsd.users", "[admin]\n  password = pw\n  upsmon primary\n");
    let mut mon = String::new();
    for (name, _) in UPSES {
        mon += &format!("MONITOR {name}@localhost 1 admin pw primary\n");
    }
    mon += &format!(
        "MINSUPPLIES 1\nSHUTDOWNCMD \"/bin/touch {}\"\n\
         NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE $UPSNAME >> {}'\"\n",
        shutdown.display(),
        notes.display()
    );
    for ev in [
        "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "NOCOMM", "REPLBATT",
    ] {
        mon += &format!("NOTIFYFLAG {ev} EXEC\n");
    }
    w("upsmon.conf", &mon);

    let mut child = die_with_parent(&mut Command::new(&a.bin))
        .arg("-c")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("{}: {e}", a.bin.display())));
    // Log lines: how many, and the script steps applied per UPS.
    let log_lines = Arc::new(AtomicU64::new(0));
    let applied: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let other_log: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let err = child.stderr.take().unwrap();
        let (log_lines, applied, other_log) =
            (log_lines.clone(), applied.clone(), other_log.clone());
        thread::spawn(move || {
            for l in BufReader::new(err).lines() {
                let Ok(l) = l else { break };
                log_lines.fetch_add(1, Ordering::Relaxed);
                // "hidupsd: UPS: FILE:LINE: STEP"
                let rest = l.strip_prefix("hidupsd: ").unwrap_or(&l);
                let step = rest
                    .split_once(": ")
                    .map(|(ups, tail)| (ups, tail.rsplit_once(": ").map_or(tail, |(_, w)| w)));
                match step {
                    Some((ups, what @ ("powercut" | "powerback"))) => {
                        *applied
                            .lock()
                            .unwrap()
                            .entry(format!("{what} {ups}"))
                            .or_insert(0) += 1
                    }
                    Some((_, w)) if w.starts_with("set ") => {}
                    _ => {
                        let mut o = other_log.lock().unwrap();
                        if o.len() < 20 {
                            o.push(l.clone());
                        }
                    }
                }
            }
        });
    }
    let mut d = Daemon {
        child,
        dir: dir.clone(),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let t0 = Instant::now();
    while vars(addr, UPSES[1].0).unwrap_or(0) == 0 {
        if !d.alive() || t0.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "soak: the daemon did not start: {:?}",
                other_log.lock().unwrap()
            );
            exit(1)
        }
        thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let total = planned.iter().sum::<u64>();
    println!(
        "hidupsd pid {} on {addr}: 2 UPSes flapping every {} ms for {} s ({total} transitions scripted), clients churning",
        d.child.id(),
        a.period_ms,
        a.secs
    );

    // Clients coming and going.
    let stop = Arc::new(AtomicBool::new(false));
    let churned = Arc::new(AtomicU64::new(0));
    let client_errors = Arc::new(AtomicU64::new(0));
    let churn: Vec<_> = (0..2)
        .map(|t| {
            let (stop, churned, errs) = (stop.clone(), churned.clone(), client_errors.clone());
            thread::spawn(move || {
                let mut i = t as u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 2;
                    let ups = UPSES[(i / 2 % 2) as usize].0;
                    let Some(mut s) = connect(addr) else {
                        errs.fetch_add(1, Ordering::Relaxed);
                        thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    let ok = match i % 8 {
                        0 | 1 => ask(&mut s, &format!("LIST VAR {ups}\n"))
                            .is_some_and(|r| r.contains("END LIST VAR")),
                        2 | 3 => ask(&mut s, &format!("GET VAR {ups} ups.status\n"))
                            .is_some_and(|r| r.starts_with("VAR ")),
                        4 => ask(&mut s, "LIST UPS\n").is_some_and(|r| r.contains("END LIST UPS")),
                        _ => {
                            ask(&mut s, "USERNAME admin\n").is_some()
                                && ask(&mut s, "PASSWORD pw\n").is_some()
                                && ask(&mut s, &format!("LOGIN {ups}\n"))
                                    .is_some_and(|r| r == "OK\n")
                        }
                    };
                    if !ok {
                        errs.fetch_add(1, Ordering::Relaxed);
                    }
                    if i % 3 == 0 {
                        let _ = nix::sys::socket::setsockopt(
                            &s.as_fd(),
                            nix::sys::socket::sockopt::Linger,
                            &libc::linger {
                                l_onoff: 1,
                                l_linger: 0,
                            },
                        );
                    } else if i % 3 == 1 {
                        let _ = s.write_all(b"LOGOUT\n");
                    }
                    drop(s);
                    churned.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();

    struct Sample {
        t: f64,
        rss: u64,
        fds: usize,
        threads: u64,
        vars: Vec<Option<usize>>,
    }
    let sample = |d: &Daemon| Sample {
        t: start.elapsed().as_secs_f64(),
        rss: d.status("VmRSS:"),
        fds: d.fds(),
        threads: d.status("Threads:"),
        vars: UPSES.iter().map(|(n, _)| vars(addr, n)).collect(),
    };
    let print = |s: &Sample| {
        let n = notifications(&notes);
        let count = |ty: &str| {
            n.iter()
                .filter(|(k, _)| k.starts_with(ty))
                .map(|(_, v)| v)
                .sum::<u64>()
        };
        println!(
            "t {:>6.1} s  VmRSS {:>6} kB  fds {:>4}  threads {:>3}  vars {:?}  ONBATT {:>5} ONLINE {:>5}  applied {:>5}  clients {:>6}  log lines {:>6}",
            s.t,
            s.rss,
            s.fds,
            s.threads,
            s.vars.iter().map(|v| v.map_or(-1, |n| n as i64)).collect::<Vec<_>>(),
            count("ONBATT"),
            count("ONLINE"),
            applied.lock().unwrap().values().sum::<u64>(),
            churned.load(Ordering::Relaxed),
            log_lines.load(Ordering::Relaxed),
        );
    };
    let first = sample(&d);
    print(&first);
    let mut died = false;
    let end = start + Duration::from_secs_f64(a.secs);
    let mut next = start + Duration::from_secs_f64(a.sample);
    while Instant::now() < end {
        thread::sleep(next.min(end).saturating_duration_since(Instant::now()));
        next += Duration::from_secs_f64(a.sample);
        if !d.alive() {
            died = true;
            break;
        }
        print(&sample(&d));
    }
    // The last step comes at most a period after the end; let the
    // notifications' shells finish.
    thread::sleep(Duration::from_millis(a.period_ms * 2 + 3000));
    stop.store(true, Ordering::Relaxed);
    for h in churn {
        let _ = h.join();
    }
    died |= !d.alive();
    let last = sample(&d);
    print(&last);

    println!("\nfirst vs last:");
    println!("  VmRSS   {:>7} kB -> {:>7} kB", first.rss, last.rss);
    println!("  fds     {:>7}    -> {:>7}", first.fds, last.fds);
    println!("  threads {:>7}    -> {:>7}", first.threads, last.threads);
    println!("  vars    {:?} -> {:?}", first.vars, last.vars);
    println!(
        "  clients {} connections, {} errors; daemon peak RSS {} kB; {} log lines",
        churned.load(Ordering::Relaxed),
        client_errors.load(Ordering::Relaxed),
        d.status("VmHWM:"),
        log_lines.load(Ordering::Relaxed)
    );
    let n = notifications(&notes);
    let applied = applied.lock().unwrap().clone();
    let mut bad = died;
    println!("\nnotifications vs transitions:");
    for (k, (name, _)) in UPSES.iter().enumerate() {
        let cut = applied
            .get(&format!("powercut {name}"))
            .copied()
            .unwrap_or(0);
        let back = applied
            .get(&format!("powerback {name}"))
            .copied()
            .unwrap_or(0);
        let onbatt = n
            .get(&format!("ONBATT {name}@localhost"))
            .copied()
            .unwrap_or(0);
        let online = n
            .get(&format!("ONLINE {name}@localhost"))
            .copied()
            .unwrap_or(0);
        println!(
            "  {name}: scripted {}, applied powercut {cut} powerback {back}; notified ONBATT {onbatt} ONLINE {online}",
            planned[k]
        );
        if onbatt != cut || online != back {
            println!("  FAIL: {name}: notifications do not match the transitions");
            bad = true;
        }
        if cut + back != planned[k] {
            println!(
                "  FAIL: {name}: {} of {} scripted transitions applied",
                cut + back,
                planned[k]
            );
            bad = true;
        }
    }
    let mut others: Vec<_> = n
        .iter()
        .filter(|(k, _)| !k.starts_with("ONBATT ") && !k.starts_with("ONLINE "))
        .collect();
    others.sort();
    println!("  other notifications: {others:?}");
    let unexpected = other_log.lock().unwrap().clone();
    if !unexpected.is_empty() {
        println!("  other log lines (first 20): {unexpected:#?}");
    }
    if shutdown.exists() {
        println!("FAIL: SHUTDOWNCMD ran");
        bad = true;
    }
    if died {
        println!("FAIL: the daemon died");
    }
    drop(d);
    exit(i32::from(bad))
}
