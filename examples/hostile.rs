//! Hostile and heavy clients against the real daemon (a robustness check,
//! not a benchmark):
//!
//!     cargo build --release && cargo run --release --example hostile \
//!         [-- --bin target/release/hidupsd] [--fixture DIR] [--seconds 3]
//!
//! Starts `hidupsd -c DIR` on a free loopback port serving one simulated
//! UPS, with MAXCONN 10100, then runs one attack after another, each for a
//! few seconds: a 1 MB line without LF, NUL and binary bytes, thousands of
//! words on a line, unterminated quotes, 10,000 idle connections (and what
//! happens past MAXCONN: idle ones make room), a slowloris (one byte a second from 1000
//! connections), clients that send but never read, and clients that vanish
//! mid-`LIST VAR` with a RST (SO_LINGER 0).
//!
//! During each attack a well-behaved client sends `GET VAR ups ups.status`
//! every 5 ms on its own connection; the table gives its latency (p50, p99,
//! max), the daemon's peak and current RSS (VmHWM, VmRSS) after the attack
//! and how many lines the daemon logged during it.
//!
//! Exit status 1 when the daemon dies, or the good client was not served
//! at all during an attack, or a fresh client is not served at the end.
//! Timings are printed, never judged. Loopback only; everything bounded in
//! time (each attack `--seconds`, at most 10).

mod common;
use common::{ask, die_with_parent, proc_fds, proc_status};

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{exit, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: hostile [--bin PATH] [--fixture DIR] [--seconds N]";
const UPS: &str = "ups";
const IDLE_CONNS: usize = 10_000;
const MAXCONN: usize = 10_100;

fn die(msg: &str) -> ! {
    eprintln!("hostile: {msg}");
    exit(2)
}

struct Args {
    bin: PathBuf,
    fixture: PathBuf,
    secs: f64,
}

fn parse_args() -> Args {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        bin: root.join("target/release/hidupsd"),
        fixture: root.join("tests/fixtures/apc-back-ups-es-850g2"),
        secs: 3.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| die(USAGE));
        match k.as_str() {
            "--bin" => a.bin = v().into(),
            "--fixture" => a.fixture = v().into(),
            "--seconds" => {
                a.secs = v().parse().unwrap_or_else(|_| die(USAGE));
                if !(a.secs > 0.0 && a.secs <= 10.0) {
                    die("--seconds must be in (0, 10]")
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            _ => die(USAGE),
        }
    }
    a
}

/// Raise our own open-file limit (10,000 idle connections, plus the rest).
fn raise_nofile(want: u64) -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    let new = want.min(hard);
    match setrlimit(Resource::RLIMIT_NOFILE, new, hard) {
        Ok(()) => new,
        Err(_) => soft,
    }
}

/// The daemon, its log line counter, killed on drop.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    lines: Arc<AtomicUsize>,
    last: Arc<Mutex<Vec<String>>>,
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
    fn start(a: &Args) -> Daemon {
        if !a.bin.exists() {
            die(&format!(
                "{} missing: run cargo build --release first",
                a.bin.display()
            ))
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| die(&format!("no free port: {e}")));
        let dir = std::env::temp_dir().join(format!("hidupsd-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&format!("{e}")));
        let w = |f: &str, t: String| {
            std::fs::write(dir.join(f), t).unwrap_or_else(|e| die(&format!("{f}: {e}")))
        };
        w(
            "upsd.conf",
            format!("LISTEN 127.0.0.1 {port}\nMAXCONN {MAXCONN}\nMAXCONN_PER_SOURCE 0\n"),
        );
        w(
            "ups.conf",
            format!(
                "[{UPS}]\n  driver = sim\n  port = \"{}\"\n",
                a.fixture.display()
            ),
        );
        w(
            "upsd.users",
            "[admin]\n  password = pw\n  actions = SET\n".into(),
        );
        let mut child = die_with_parent(&mut Command::new(&a.bin))
            .arg("-c")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| die(&format!("{}: {e}", a.bin.display())));
        let lines = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        {
            let (lines, last) = (lines.clone(), last.clone());
            thread::spawn(move || {
                for l in BufReader::new(err).lines() {
                    let Ok(l) = l else { break };
                    lines.fetch_add(1, Ordering::Relaxed);
                    let mut v = last.lock().unwrap();
                    if v.len() == 3 {
                        v.remove(0);
                    }
                    v.push(l);
                }
            });
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let t0 = Instant::now();
        let d = Daemon {
            child,
            addr,
            lines,
            last,
            dir,
        };
        loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                if ask(&mut s, "GET VAR ups ups.status\n").is_some_and(|r| r.starts_with("VAR ")) {
                    return d;
                }
            }
            if t0.elapsed() > Duration::from_secs(10) {
                die("the daemon did not serve within 10 s")
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn status(&self, key: &str) -> u64 {
        proc_status(self.child.id(), key)
    }

    fn fds(&self) -> usize {
        proc_fds(self.child.id())
    }
}

/// The well-behaved client: GET VAR every 5 ms while `on`, latencies in µs.
struct Good {
    on: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    lat: Arc<Mutex<Vec<u64>>>,
    fails: Arc<AtomicU64>,
}

impl Good {
    fn start(addr: SocketAddr) -> Good {
        let g = Good {
            on: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            lat: Arc::new(Mutex::new(Vec::new())),
            fails: Arc::new(AtomicU64::new(0)),
        };
        let (on, stop, lat, fails) = (g.on.clone(), g.stop.clone(), g.lat.clone(), g.fails.clone());
        thread::spawn(move || {
            let connect = || {
                let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
                s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                s.set_nodelay(true).ok()?;
                Some(s)
            };
            let mut conn = connect();
            while !stop.load(Ordering::Relaxed) {
                if !on.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let Some(s) = conn.as_mut() else {
                    fails.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(100));
                    conn = connect();
                    continue;
                };
                let t = Instant::now();
                match ask(s, "GET VAR ups ups.status\n") {
                    Some(r) if r.starts_with("VAR ups ups.status ") => {
                        lat.lock().unwrap().push(t.elapsed().as_micros() as u64)
                    }
                    _ => {
                        fails.fetch_add(1, Ordering::Relaxed);
                        conn = connect();
                    }
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        g
    }
}

fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize] as f64 / 1000.0
}

/// Runs `f(deadline)` on `threads` threads until the deadline; each
/// returns a count (rounds, bytes...), summed.
fn parallel(threads: usize, secs: f64, f: impl Fn(Instant) -> u64 + Send + Sync + 'static) -> u64 {
    let f = Arc::new(f);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let f = f.clone();
            thread::spawn(move || f(end))
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(s)
}

/// Read whatever is there without waiting long; false when closed.
fn drain(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 65536];
    s.set_read_timeout(Some(Duration::from_millis(1))).ok();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return true
            }
            Err(_) => return false,
        }
    }
}

/// A small xorshift, for reproducible "random" bytes.
fn noise(seed: &mut u64, buf: &mut [u8]) {
    for b in buf {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *b = *seed as u8;
    }
}

/// Reset on close: SO_LINGER with a zero timeout.
fn rst(s: TcpStream) {
    let l = nix::sys::socket::sockopt::Linger;
    let _ = nix::sys::socket::setsockopt(
        &s.as_fd(),
        l,
        &libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    );
    drop(s);
}

struct Row {
    name: &'static str,
    what: String,
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    fails: u64,
    hwm: u64,
    rss: u64,
    fds: usize,
    lines: usize,
}

fn main() {
    let a = parse_args();
    let nofile = raise_nofile((IDLE_CONNS + 1000) as u64);
    if nofile < (IDLE_CONNS + 200) as u64 {
        eprintln!(
            "hostile: warning: open file limit {nofile}: the idle attack opens fewer connections"
        );
    }
    let mut d = Daemon::start(&a);
    let addr = d.addr;
    println!(
        "hidupsd pid {} on {addr}, MAXCONN {MAXCONN}, {} s per attack; start: VmRSS {} kB, {} fds",
        d.child.id(),
        a.secs,
        d.status("VmRSS:"),
        d.fds()
    );
    let good = Good::start(addr);
    let secs = a.secs;
    type Attack = fn(SocketAddr, f64, u32) -> String;
    let attacks: [(&str, Attack); 9] = [
        ("baseline (no attack)", |_, secs, _pid| {
            thread::sleep(Duration::from_secs_f64(secs));
            "-".into()
        }),
        ("1 MB line without LF", |addr, secs, _pid| {
            // Each round: 1 MB without LF, then an LF and a real request,
            // which must be answered after the refusal.
            let answered = Arc::new(AtomicU64::new(0));
            let ans = answered.clone();
            let rounds = parallel(2, secs, move |end| {
                let mut n = 0;
                let chunk = vec![b'A'; 65536];
                while Instant::now() < end {
                    let Some(mut s) = connect(addr) else { continue };
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                    let mut ok = true;
                    for _ in 0..16 {
                        if s.write_all(&chunk).is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        if let Some(r) = ask(&mut s, "\nGET VAR ups ups.status\n") {
                            let mut r = r;
                            if !r.contains("VAR ups") {
                                r += &ask(&mut s, "").unwrap_or_default();
                            }
                            if r.starts_with("ERR INVALID-ARGUMENT\n")
                                && r.contains("VAR ups ups.status")
                            {
                                ans.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    n += 1;
                }
                n
            });
            format!(
                "{rounds} MB sent, {} of {rounds} then answered correctly",
                answered.load(Ordering::Relaxed)
            )
        }),
        ("NUL and binary bytes", |addr, secs, _pid| {
            let bytes = parallel(4, secs, move |end| {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ end.elapsed().as_nanos() as u64;
                let mut buf = vec![0u8; 4096];
                let mut sent = 0;
                let mut s = connect(addr);
                while Instant::now() < end {
                    let Some(c) = s.as_mut() else {
                        s = connect(addr);
                        continue;
                    };
                    noise(&mut seed, &mut buf);
                    // Half the chunks are mostly NULs.
                    if seed & 1 == 0 {
                        for b in buf.iter_mut().filter(|b| **b > 16) {
                            *b = 0;
                        }
                    }
                    if c.write_all(&buf).is_err() || !drain(c) {
                        s = None;
                        continue;
                    }
                    sent += buf.len() as u64;
                }
                sent
            });
            format!("{} kB of noise", bytes / 1024)
        }),
        ("thousands of words a line", |addr, secs, _pid| {
            let lines = parallel(2, secs, move |end| {
                // 500 words within MAX_LINE (too many words), 5000 words
                // (too long), one of 500,000 words (1 MB).
                let short = format!("GET VAR{}\n", " a".repeat(500));
                let long = format!("GET VAR{}\n", " a".repeat(5000));
                let huge = format!("GET VAR{}\n", " a".repeat(500_000));
                let mut n = 0;
                let mut s = connect(addr);
                while Instant::now() < end {
                    let Some(c) = s.as_mut() else {
                        s = connect(addr);
                        continue;
                    };
                    let req = match n % 50 {
                        49 => &huge,
                        k if k % 2 == 0 => &short,
                        _ => &long,
                    };
                    if c.write_all(req.as_bytes()).is_err() || !drain(c) {
                        s = None;
                        continue;
                    }
                    n += 1;
                }
                n
            });
            format!("{lines} lines")
        }),
        ("unterminated quotes", |addr, secs, _pid| {
            let lines = parallel(2, secs, move |end| {
                let open = "GET VAR \"ups ups.status\n".to_string();
                let hash = "GET VAR \"ups # ups.status\"\n".to_string();
                let mut huge = String::from("GET VAR \"");
                huge.push_str(&"x".repeat(1 << 20));
                huge.push('\n');
                let mut n = 0;
                let mut s = connect(addr);
                while Instant::now() < end {
                    let Some(c) = s.as_mut() else {
                        s = connect(addr);
                        continue;
                    };
                    let req = match n % 100 {
                        99 => &huge,
                        k if k % 2 == 0 => &open,
                        _ => &hash,
                    };
                    if c.write_all(req.as_bytes()).is_err() || !drain(c) {
                        s = None;
                        continue;
                    }
                    n += 1;
                }
                n
            });
            format!("{lines} lines")
        }),
        ("10000 idle connections", |addr, secs, pid| {
            let t = Instant::now();
            let mut conns = Vec::with_capacity(IDLE_CONNS);
            let mut failed = 0;
            while conns.len() < IDLE_CONNS && failed < 100 {
                match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                    Ok(s) => conns.push(s),
                    Err(_) => failed += 1,
                }
            }
            let opened = conns.len();
            let took = t.elapsed().as_secs_f64();
            thread::sleep(Duration::from_secs_f64(secs));
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
            // Are they served? Ask the last 20 opened.
            let mut served = 0;
            for s in conns.iter_mut().rev().take(20) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                if ask(s, "GET VAR ups ups.status\n").is_some_and(|r| r.starts_with("VAR ")) {
                    served += 1;
                }
            }
            // Up to MAXCONN and past it: 300 more (the good client and
            // these 10,000 leave 99 slots); past MAXCONN each newcomer
            // gets the slot of an idle connection closed for it (never
            // the good client, which speaks), so none should be closed
            // unanswered.
            let mut over = Vec::new();
            for _ in 0..300 {
                if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                    over.push(s);
                }
            }
            let mut closed = 0;
            for s in &mut over {
                let mut b = [0u8; 64];
                if matches!(
                    s.write_all(b"VER\n").and_then(|()| s.read(&mut b)),
                    Ok(0) | Err(_)
                ) {
                    closed += 1;
                }
            }
            let n_over = over.len();
            drop(over);
            for s in &conns {
                let _ = s.shutdown(Shutdown::Both);
            }
            drop(conns);
            format!(
                "{opened} open in {took:.1} s ({failed} failed), daemon fds {fds}; \
                 last 20 served: {served}; {n_over} more, {closed} closed unanswered"
            )
        }),
        ("slowloris 1000 x 1 byte/s", |addr, secs, _pid| {
            let mut conns: Vec<TcpStream> = (0..1000).filter_map(|_| connect(addr)).collect();
            let n = conns.len();
            let req = b"GET VAR ups ups.status\n";
            let end = Instant::now() + Duration::from_secs_f64(secs.max(3.0));
            let mut i = 0;
            let mut bytes = 0;
            while Instant::now() < end {
                for s in &mut conns {
                    if s.write_all(&req[i % req.len()..i % req.len() + 1]).is_ok() {
                        bytes += 1;
                    }
                }
                i += 1;
                thread::sleep(Duration::from_secs(1));
            }
            drop(conns);
            format!("{n} connections, {bytes} bytes one at a time")
        }),
        ("never read replies", |addr, secs, _pid| {
            let reqs = parallel(2, secs, move |end| {
                // 25 connections each; LIST VAR until the socket is full.
                let mut conns: Vec<TcpStream> = (0..25).filter_map(|_| connect(addr)).collect();
                for c in &conns {
                    c.set_nonblocking(true).ok();
                }
                let req = b"LIST VAR ups\n".repeat(64);
                let mut n = 0;
                while Instant::now() < end {
                    let mut progress = false;
                    for c in &mut conns {
                        if let Ok(k) = c.write(&req) {
                            n += k as u64 / 13;
                            progress |= k > 0;
                        }
                    }
                    if !progress {
                        thread::sleep(Duration::from_millis(20));
                    }
                }
                n
            });
            format!("{reqs} LIST VAR sent, none read")
        }),
        ("vanish mid-LIST (RST)", |addr, secs, _pid| {
            let rounds = parallel(4, secs, move |end| {
                let mut n = 0;
                while Instant::now() < end {
                    let Some(mut s) = connect(addr) else { continue };
                    if s.write_all(&b"LIST VAR ups\n".repeat(20)).is_ok() {
                        let mut b = [0u8; 100];
                        let _ = s.read(&mut b);
                    }
                    rst(s);
                    n += 1;
                }
                n
            });
            format!("{rounds} connections reset")
        }),
    ];
    let mut rows = Vec::new();
    let mut failed = false;
    for (name, attack) in attacks {
        good.lat.lock().unwrap().clear();
        good.fails.store(0, Ordering::Relaxed);
        let lines0 = d.lines.load(Ordering::Relaxed);
        good.on.store(true, Ordering::Relaxed);
        let what = attack(addr, secs, d.child.id());
        // Let the good client see the aftermath too.
        thread::sleep(Duration::from_millis(300));
        good.on.store(false, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(50));
        let mut lat = good.lat.lock().unwrap().clone();
        lat.sort_unstable();
        let row = Row {
            name,
            what,
            n: lat.len(),
            p50: pct(&lat, 50.0),
            p99: pct(&lat, 99.0),
            max: lat.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
            fails: good.fails.load(Ordering::Relaxed),
            hwm: d.status("VmHWM:"),
            rss: d.status("VmRSS:"),
            fds: d.fds(),
            lines: d.lines.load(Ordering::Relaxed) - lines0,
        };
        println!(
            "{:<28} good: {:>5} ok {:>3} failed  p50 {:>7.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  \
             VmHWM {:>7} kB  VmRSS {:>7} kB  fds {:>5}  log lines {:>3}\n    {}",
            row.name,
            row.n,
            row.fails,
            row.p50,
            row.p99,
            row.max,
            row.hwm,
            row.rss,
            row.fds,
            row.lines,
            row.what
        );
        if row.lines > 0 {
            for l in d.last.lock().unwrap().iter() {
                println!("    log: {l}");
            }
        }
        if !d.alive() {
            println!("FAIL: the daemon died during '{name}'");
            failed = true;
            break;
        }
        if row.n == 0 {
            println!("FAIL: the good client was not served at all during '{name}'");
            failed = true;
        }
        rows.push(row);
    }
    good.stop.store(true, Ordering::Relaxed);
    if !failed {
        // A fresh client after everything.
        let fresh = connect(addr).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            ask(&mut s, "LIST VAR ups\n")
        });
        match fresh {
            Some(r) if r.contains("END LIST VAR ups") => {
                println!(
                    "fresh client after all attacks: served ({} lines)",
                    r.lines().count()
                )
            }
            other => {
                println!("FAIL: a fresh client is not served after the attacks: {other:?}");
                failed = true;
            }
        }
    }
    let total_lines: usize = rows.iter().map(|r| r.lines).sum();
    println!(
        "daemon: peak RSS {} kB, {} log lines in all attacks",
        d.status("VmHWM:"),
        total_lines
    );
    drop(d);
    exit(i32::from(failed))
}
