//! The daemon's footprint: peak memory serving two simulated UPSes and
//! 100 idle clients, and how often it wakes up when nothing happens.
//!
//!     cargo build --release && cargo run --release --example footprint \
//!         [-- --seconds 60] [--clients 100] [--bin PATH]
//!
//! Starts `hidupsd -c DIR` (two fixtures as `driver = sim`, no script, so
//! no UPS value changes; IDLE_TIMEOUT 3600 so idle clients stay), opens
//! `--clients` connections that each ask `LIST VAR` once (so every
//! connection's buffers have been used) and then stay silent, and prints
//! VmHWM and VmRSS. Then, with no client traffic, it counts the context
//! switches (voluntary + involuntary, from /proc/PID/task/*/status) of
//! every daemon thread over `--seconds`: each switch is a wake-up or a
//! preemption. Printed per thread (by its name) and in all, per minute.
//! A measurement, not a test: nothing is judged.

mod common;
use common::{ask, die_with_parent, proc_status};

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{exit, Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: footprint [--seconds 60] [--clients 100] [--bin PATH]";
const UPSES: [(&str, &str); 2] = [("apc", "apc-back-ups-es-850g2"), ("eaton", "eaton-5sc-750")];

fn die(msg: &str) -> ! {
    eprintln!("footprint: {msg}");
    exit(2)
}

struct Guard(Child, PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Context switches per thread id: (name, voluntary + involuntary).
fn switches(pid: u32) -> BTreeMap<String, (String, u64)> {
    let mut m = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return m;
    };
    for t in dir.flatten() {
        let tid = t.file_name().to_string_lossy().into_owned();
        let base = t.path();
        let name = std::fs::read_to_string(base.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let st = std::fs::read_to_string(base.join("status")).unwrap_or_default();
        let n: u64 = st
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        m.insert(tid, (name, n));
    }
    m
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (mut secs, mut clients, mut bin) = (60.0f64, 100usize, root.join("target/release/hidupsd"));
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| die(USAGE));
        match k.as_str() {
            "--seconds" => secs = v().parse().unwrap_or_else(|_| die(USAGE)),
            "--clients" => clients = v().parse().unwrap_or_else(|_| die(USAGE)),
            "--bin" => bin = v().into(),
            _ => die(USAGE),
        }
    }
    if !(1.0..=600.0).contains(&secs) || clients > 1000 {
        die("--seconds in [1, 600], --clients at most 1000")
    }
    if !bin.exists() {
        die(&format!(
            "{} missing: run cargo build --release first",
            bin.display()
        ))
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| die(&format!("{e}")));
    let dir = std::env::temp_dir().join(format!("hidupsd-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&format!("{e}")));
    let mut ups_conf = String::new();
    for (name, fixture) in UPSES {
        ups_conf += &format!(
            "[{name}]\n  driver = sim\n  port = \"{}\"\n",
            root.join("tests/fixtures").join(fixture).display()
        );
    }
    let w = |f: &str, t: &str| std::fs::write(dir.join(f), t).unwrap();
    w("ups.conf", &ups_conf);
    w(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nIDLE_TIMEOUT 3600\nMAXCONN_PER_SOURCE 0\n"),
    );
    w("upsd.users", "");
    let child = die_with_parent(&mut Command::new(&bin))
        .arg("-c")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("{}: {e}", bin.display())));
    let g = Guard(child, dir);
    let pid = g.0.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(clients);
    while conns.len() < clients {
        match TcpStream::connect(addr) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let ups = UPSES[conns.len() % 2].0;
                match ask(&mut s, &format!("LIST VAR {ups}\n")) {
                    Some(r) if r.contains("END LIST VAR") => conns.push(s),
                    // Data not there yet: ask again.
                    _ if t0.elapsed() < Duration::from_secs(10) => {
                        thread::sleep(Duration::from_millis(50))
                    }
                    other => die(&format!("LIST VAR {ups}: {other:?}")),
                }
            }
            Err(_) if t0.elapsed() < Duration::from_secs(10) => {
                thread::sleep(Duration::from_millis(50))
            }
            Err(e) => die(&format!("connect: {e}")),
        }
    }
    // Let start-up work settle before measuring.
    thread::sleep(Duration::from_secs(3));
    println!(
        "hidupsd pid {pid}: 2 simulated UPSes, {} idle clients: VmHWM {} kB, VmRSS {} kB, {} threads",
        conns.len(),
        proc_status(pid, "VmHWM:"),
        proc_status(pid, "VmRSS:"),
        proc_status(pid, "Threads:")
    );
    let before = switches(pid);
    thread::sleep(Duration::from_secs_f64(secs));
    let after = switches(pid);
    let per_min = |n: u64| n as f64 * 60.0 / secs;
    let mut total = 0;
    println!("context switches over {secs} s with no traffic and no UPS change:");
    for (tid, (name, n)) in &after {
        let was = before.get(tid).map_or(0, |b| b.1);
        let d = n - was.min(*n);
        total += d;
        println!(
            "  thread {tid:>7} {name:<16} {d:>6}  ({:.1}/min){}",
            per_min(d),
            if before.contains_key(tid) {
                ""
            } else {
                "  (new)"
            }
        );
    }
    for (tid, (name, _)) in before.iter().filter(|(t, _)| !after.contains_key(*t)) {
        println!("  thread {tid:>7} {name:<16} ended during the measurement");
    }
    println!(
        "idle wake-ups: {total} in {secs} s = {:.1} per minute (all threads); VmHWM {} kB",
        per_min(total),
        proc_status(pid, "VmHWM:")
    );
    drop(conns);
    drop(g);
}
