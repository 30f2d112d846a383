//! Work per request and memory per idle client, hidupsd beside NUT's
//! upsd, in one run:
//!
//!     make bench-callgrind
//!     cargo run --release --example callgrind -- [--bin PATH] \
//!         [--fixture DIR] [--get N] [--list N] [--no-upsd] [--no-rss]
//!
//! Instructions per request are counted by `valgrind --tool=callgrind`
//! (instructions, not time, so the figures repeat on a busy machine). For
//! each case the server runs under callgrind, a client outside valgrind
//! sends exactly N requests, and the server is stopped with SIGTERM; the
//! same server is then run again with the same connections and no
//! requests, idle for as long as the first run took, and its count is
//! subtracted. The difference over N is the work of one request. Only the
//! thread that serves the network is counted (hidupsd's main thread;
//! upsd has only one): the device side (hidupsd's worker, NUT's
//! dummy-ups) is not the server's per-request work.
//!
//! Cases: `GET VAR <ups> ups.status` (upsmon's poll) from 1 and from 10
//! connections at once, at MAXCONN 1024 and 4096; `LIST VAR <ups>` from
//! one connection. With 10 connections every round sends one request on
//! each, then reads the 10 replies.
//!
//! The stock server is `/lib/nut/upsd` with `/lib/nut/dummy-ups` (Debian's
//! nut-server), serving the variables hidupsd serves for the same
//! recording: the bench first asks hidupsd for its `LIST VAR` and writes
//! them to dummy-ups's file (without `driver.*`, which dummy-ups makes
//! itself, and dropping a few others so both serve the same number).
//! Without nut-server only hidupsd is measured.
//!
//! Memory: each server is run natively at MAXCONN 1024 and its VmRSS read
//! with 0, 100 and 1000 idle clients, each of which asked `LIST VAR` once
//! and then went silent (upsd drops silent clients after 60 s; the
//! readings are taken well before). Per idle client is the growth from 0
//! to 1000 over 1000. hidupsd's VmRSS at MAXCONN 4096 with no client
//! shows what capacity nobody uses costs.
//!
//! A measurement, not a test: nothing is judged.

mod common;
use common::{ask, die_with_parent, proc_status};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{exit, Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: callgrind [--bin PATH] [--fixture DIR] [--get N] [--list N] \
                     [--no-upsd] [--no-rss]";
const UPS: &str = "ups";
const UPSD: &str = "/lib/nut/upsd";
const DUMMY: &str = "/lib/nut/dummy-ups";
/// Variables dummy-ups publishes itself (NUT 2.8.0): `driver.name`,
/// `driver.version`, `driver.version.internal` and four
/// `driver.parameter.*`.
const DUMMY_DRIVER_VARS: usize = 7;

fn die(msg: &str) -> ! {
    eprintln!("callgrind: {msg}");
    exit(2)
}

struct Args {
    bin: PathBuf,
    fixture: PathBuf,
    get: usize,
    list: usize,
    upsd: bool,
    rss: bool,
}

fn parse_args() -> Args {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        bin: root.join("target/release/hidupsd"),
        fixture: root.join("tests/fixtures/apc-back-ups-es-850g2"),
        get: 4000,
        list: 400,
        upsd: true,
        rss: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| die(USAGE));
        match k.as_str() {
            "--bin" => a.bin = v().into(),
            "--fixture" => a.fixture = v().into(),
            "--get" => a.get = v().parse().unwrap_or_else(|_| die(USAGE)),
            "--list" => a.list = v().parse().unwrap_or_else(|_| die(USAGE)),
            "--no-upsd" => a.upsd = false,
            "--no-rss" => a.rss = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            _ => die(USAGE),
        }
    }
    if a.get < 10 || a.list < 1 || a.get > 1_000_000 || a.list > 100_000 {
        die("--get in [10, 1000000], --list in [1, 100000]")
    }
    if !a.bin.exists() {
        die(&format!(
            "{} missing: run cargo build --release first",
            a.bin.display()
        ))
    }
    a
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| die(&format!("{e}")))
}

/// Processes to stop and a directory to remove when a run ends.
struct Guard {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hidupsd,
    Upsd,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Hidupsd => "hidupsd",
            Kind::Upsd => "upsd",
        }
    }
}

/// What a server serves and how it is started.
struct Setup<'a> {
    args: &'a Args,
    /// dummy-ups's variable file (`name: value` lines), for upsd.
    dev: String,
}

/// A server running, its network thread's pid, its port.
struct Server {
    guard: Guard,
    /// The process measured (upsd or hidupsd, valgrind's pid under it).
    pid: u32,
    port: u16,
    /// callgrind's output file for the network thread.
    out: Option<PathBuf>,
}

fn start(s: &Setup<'_>, kind: Kind, maxconn: u32, callgrind: bool, tag: &str) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "hidupsd-callgrind-{}-{}-{tag}",
        std::process::id(),
        kind.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&format!("{}: {e}", dir.display())));
    let port = free_port();
    let w = |f: &str, t: &str| {
        std::fs::write(dir.join(f), t).unwrap_or_else(|e| die(&format!("{f}: {e}")))
    };
    w("upsd.users", "");
    let mut guard = Guard {
        children: Vec::new(),
        dir: dir.clone(),
    };
    let cg_out = dir.join("cg.out");
    let wrap = |prog: &Path| -> Command {
        if callgrind {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg("--separate-threads=yes")
                .arg(format!("--callgrind-out-file={}", cg_out.display()))
                .arg(prog);
            c
        } else {
            Command::new(prog)
        }
    };
    let mut cmd = match kind {
        Kind::Hidupsd => {
            w(
                "ups.conf",
                &format!(
                    "[{UPS}]\n  driver = sim\n  port = \"{}\"\n",
                    s.args.fixture.display()
                ),
            );
            w(
                "upsd.conf",
                // Idle clients stay (upsd keeps them for 60 s and has no
                // per-source limit).
                &format!(
                    "LISTEN 127.0.0.1 {port}\nMAXCONN {maxconn}\nIDLE_TIMEOUT 3600\n\
                     MAXCONN_PER_SOURCE 0\n"
                ),
            );
            let mut c = wrap(&s.args.bin);
            c.arg("-c").arg(&dir);
            c
        }
        Kind::Upsd => {
            w("ups.dev", &s.dev);
            w(
                "ups.conf",
                &format!(
                    "[{UPS}]\n  driver = dummy-ups\n  port = {}\n",
                    dir.join("ups.dev").display()
                ),
            );
            w(
                "upsd.conf",
                &format!("LISTEN 127.0.0.1 {port}\nMAXCONN {maxconn}\n"),
            );
            let mut d = Command::new(DUMMY);
            nut_env(&mut d, &dir).args(["-a", UPS, "-u", "root", "-F"]);
            let child = die_with_parent(&mut d)
                .spawn()
                .unwrap_or_else(|e| die(&format!("{DUMMY}: {e}")));
            guard.children.push(child);
            let sock = dir.join(format!("dummy-ups-{UPS}"));
            let t0 = Instant::now();
            while !sock.exists() {
                if t0.elapsed() > Duration::from_secs(20) {
                    die("dummy-ups did not start")
                }
                thread::sleep(Duration::from_millis(50));
            }
            let mut c = wrap(Path::new(UPSD));
            nut_env(&mut c, &dir).args(["-F", "-u", "root"]);
            c
        }
    };
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let child = die_with_parent(&mut cmd)
        .spawn()
        .unwrap_or_else(|e| die(&format!("{}: {e}", kind.name())));
    let pid = child.id();
    guard.children.push(child);
    let server = Server {
        guard,
        pid,
        port,
        out: callgrind.then(|| PathBuf::from(format!("{}-01", cg_out.display()))),
    };
    wait_ready(&server, kind);
    server
}

fn nut_env<'c>(c: &'c mut Command, dir: &Path) -> &'c mut Command {
    c.env("NUT_CONFPATH", dir)
        .env("NUT_STATEPATH", dir)
        .env("NUT_ALTPIDPATH", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

fn connect(port: u16) -> Option<TcpStream> {
    let s = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.set_nodelay(true).ok()?;
    Some(s)
}

/// Until the server answers a GET VAR with the device's data (under
/// valgrind a start takes seconds). The same probes run with and without
/// requests.
fn wait_ready(s: &Server, kind: Kind) {
    let t0 = Instant::now();
    let req = format!("GET VAR {UPS} ups.status\n");
    loop {
        if let Some(mut c) = connect(s.port) {
            loop {
                match ask(&mut c, &req) {
                    // upsd says WAIT until the driver's data is all in.
                    Some(r) if r.starts_with("VAR ") && !r.contains("\"WAIT\"") => return,
                    Some(_) if t0.elapsed() < Duration::from_secs(120) => {
                        thread::sleep(Duration::from_millis(250))
                    }
                    r => die(&format!("{}: {req:?} answered {r:?}", kind.name())),
                }
            }
        }
        if t0.elapsed() > Duration::from_secs(120) {
            die(&format!("{} did not start listening", kind.name()))
        }
        thread::sleep(Duration::from_millis(250));
    }
}

/// Read one reply (a line, or a whole list) into `buf`.
fn read_reply(c: &mut TcpStream, buf: &mut Vec<u8>, list: bool) {
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        let n = c
            .read(&mut chunk)
            .unwrap_or_else(|e| die(&format!("read: {e}")));
        if n == 0 {
            die("connection closed by the server")
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.ends_with(b"\n") {
            if !list {
                break;
            }
            if buf.windows(9).any(|w| w == b"END LIST ") {
                break;
            }
            if buf.starts_with(b"ERR") {
                die(&format!("{}", String::from_utf8_lossy(buf)))
            }
        }
    }
    if buf.starts_with(b"ERR") {
        die(&format!("{}", String::from_utf8_lossy(buf)))
    }
}

/// Send `rounds` rounds of `req` on every connection; returns how long
/// it took.
fn drive(conns: &mut [TcpStream], req: &str, rounds: usize) -> Duration {
    let list = req.starts_with("LIST");
    let mut buf = Vec::with_capacity(16384);
    let t0 = Instant::now();
    for _ in 0..rounds {
        for c in conns.iter_mut() {
            c.write_all(req.as_bytes())
                .unwrap_or_else(|e| die(&format!("write: {e}")));
        }
        for c in conns.iter_mut() {
            read_reply(c, &mut buf, list);
        }
    }
    t0.elapsed()
}

/// Stop a server gently (so callgrind writes its file) and read the
/// instruction count of its network thread.
fn stop(mut s: Server) -> u64 {
    // SAFETY: kill() with a pid of our own child.
    unsafe {
        libc::kill(s.pid as libc::pid_t, libc::SIGTERM);
    }
    let me = s.guard.children.pop().unwrap_or_else(|| die("no child"));
    wait_exit(me);
    let out = s.out.take().unwrap_or_else(|| die("not under callgrind"));
    let text =
        std::fs::read_to_string(&out).unwrap_or_else(|e| die(&format!("{}: {e}", out.display())));
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| die(&format!("{}: no instruction total", out.display())))
}

fn wait_exit(mut c: Child) {
    let t0 = Instant::now();
    loop {
        match c.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if t0.elapsed() < Duration::from_secs(60) => {
                thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = c.kill();
                let _ = c.wait();
                die("the server did not stop on SIGTERM")
            }
        }
    }
}

/// One case: instructions per request.
struct Case {
    label: &'static str,
    maxconn: u32,
    conns: usize,
    list: bool,
}

const CASES: [Case; 5] = [
    Case {
        label: "GET VAR, 1 connection",
        maxconn: 1024,
        conns: 1,
        list: false,
    },
    Case {
        label: "GET VAR, 10 connections",
        maxconn: 1024,
        conns: 10,
        list: false,
    },
    Case {
        label: "GET VAR, 1 connection, MAXCONN 4096",
        maxconn: 4096,
        conns: 1,
        list: false,
    },
    Case {
        label: "GET VAR, 10 connections, MAXCONN 4096",
        maxconn: 4096,
        conns: 10,
        list: false,
    },
    Case {
        label: "LIST VAR",
        maxconn: 1024,
        conns: 1,
        list: true,
    },
];

/// Instructions per request of one case on one server.
fn per_request(s: &Setup<'_>, kind: Kind, case: &Case) -> f64 {
    let n = if case.list { s.args.list } else { s.args.get };
    let rounds = n / case.conns;
    let requests = rounds * case.conns;
    let req = if case.list {
        format!("LIST VAR {UPS}\n")
    } else {
        format!("GET VAR {UPS} ups.status\n")
    };
    let open = |srv: &Server| -> Vec<TcpStream> {
        (0..case.conns)
            .map(|_| connect(srv.port).unwrap_or_else(|| die("connect")))
            .collect()
    };
    let srv = start(s, kind, case.maxconn, true, "run");
    let mut conns = open(&srv);
    let took = drive(&mut conns, &req, rounds);
    drop(conns);
    thread::sleep(Duration::from_millis(200));
    let with = stop(srv);
    let srv = start(s, kind, case.maxconn, true, "idle");
    let conns = open(&srv);
    thread::sleep(took);
    drop(conns);
    thread::sleep(Duration::from_millis(200));
    let without = stop(srv);
    (with as f64 - without as f64) / requests as f64
}

/// VmRSS (kB) with 0, 100 and 1000 idle clients.
fn rss(s: &Setup<'_>, kind: Kind, maxconn: u32, steps: &[usize]) -> Vec<u64> {
    let srv = start(s, kind, maxconn, false, "rss");
    thread::sleep(Duration::from_millis(500));
    let mut conns = Vec::new();
    let mut got = Vec::new();
    let mut buf = Vec::new();
    for &want in steps {
        while conns.len() < want {
            let mut c = connect(srv.port).unwrap_or_else(|| die("connect"));
            c.write_all(format!("LIST VAR {UPS}\n").as_bytes())
                .unwrap_or_else(|e| die(&format!("write: {e}")));
            read_reply(&mut c, &mut buf, true);
            conns.push(c);
        }
        thread::sleep(Duration::from_millis(500));
        got.push(proc_status(srv.pid, "VmRSS:"));
    }
    // Every client was still there when measured.
    for c in conns.iter_mut() {
        c.write_all(b"NETVER\n")
            .unwrap_or_else(|e| die(&format!("{}: an idle client was closed: {e}", kind.name())));
    }
    for c in conns.iter_mut() {
        read_reply(c, &mut buf, false);
    }
    drop(conns);
    drop(srv);
    got
}

/// The variables hidupsd serves for the recording, as `name: value`
/// lines for dummy-ups: without `driver.*`, and without as many others as
/// dummy-ups adds driver variables beyond hidupsd's, so that both serve
/// the same number.
fn dummy_dev(args: &Args) -> (String, usize) {
    let s = Setup {
        args,
        dev: String::new(),
    };
    let srv = start(&s, Kind::Hidupsd, 1024, false, "vars");
    let mut c = connect(srv.port).unwrap_or_else(|| die("connect"));
    let list = ask(&mut c, &format!("LIST VAR {UPS}\n")).unwrap_or_else(|| die("LIST VAR"));
    drop(srv);
    let vars: Vec<(String, String)> = list
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&format!("VAR {UPS} "))?;
            let (name, v) = rest.split_once(' ')?;
            let v = v
                .trim_matches('"')
                .replace("\\\"", "\"")
                .replace("\\\\", "\\");
            Some((name.to_string(), v))
        })
        .collect();
    let total = vars.len();
    let hid_driver = vars
        .iter()
        .filter(|(n, _)| n.starts_with("driver."))
        .count();
    let mut own: Vec<_> = vars
        .into_iter()
        .filter(|(n, _)| !n.starts_with("driver."))
        .collect();
    // Keep ups.status (the GET cases ask for it).
    let drop_n = DUMMY_DRIVER_VARS.saturating_sub(hid_driver);
    let mut dropped = 0;
    while dropped < drop_n {
        match own.iter().rposition(|(n, _)| n != "ups.status") {
            Some(i) => {
                own.remove(i);
                dropped += 1;
            }
            None => break,
        }
    }
    let dev = own.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
    (dev, total)
}

fn count_vars(s: &Setup<'_>, kind: Kind) -> usize {
    let srv = start(s, kind, 1024, false, "count");
    let mut c = connect(srv.port).unwrap_or_else(|| die("connect"));
    let list = ask(&mut c, &format!("LIST VAR {UPS}\n")).unwrap_or_else(|| die("LIST VAR"));
    list.lines().filter(|l| l.starts_with("VAR ")).count()
}

fn main() {
    let args = parse_args();
    if Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
    {
        die("valgrind is not installed (Debian: apt-get install valgrind)")
    }
    let stock = args.upsd && Path::new(UPSD).exists() && Path::new(DUMMY).exists();
    if args.upsd && !stock {
        println!("{UPSD} or {DUMMY} missing (Debian nut-server): hidupsd only");
    }
    let (dev, hid_vars) = dummy_dev(&args);
    let setup = Setup { args: &args, dev };
    let mut kinds = vec![Kind::Hidupsd];
    if stock {
        kinds.push(Kind::Upsd);
        let upsd_vars = count_vars(&setup, Kind::Upsd);
        println!(
            "recording {}: hidupsd serves {hid_vars} variables, upsd + dummy-ups {upsd_vars}",
            args.fixture.display()
        );
    } else {
        println!(
            "recording {}: hidupsd serves {hid_vars} variables",
            args.fixture.display()
        );
    }
    println!(
        "instructions per request (callgrind, network thread; {} GETs, {} LISTs, minus an idle run):",
        args.get, args.list
    );
    print!("| {:<40} |", "Request");
    for k in &kinds {
        print!(" {:>9} |", k.name());
    }
    if stock {
        print!(" {:>14} |", "hidupsd/upsd");
    }
    println!();
    print!("|{:-<42}|", "");
    for _ in &kinds {
        print!("{:->10}:|", "");
    }
    if stock {
        print!("{:->15}:|", "");
    }
    println!();
    for case in &CASES {
        let got: Vec<f64> = kinds
            .iter()
            .map(|&k| per_request(&setup, k, case))
            .collect();
        print!("| {:<40} |", case.label);
        for g in &got {
            print!(" {:>9.0} |", g);
        }
        if stock {
            print!(" {:>14.2} |", got[0] / got[1]);
        }
        println!();
    }
    if !args.rss {
        return;
    }
    let steps = [0usize, 100, 1000];
    println!("memory (VmRSS, kB) with idle clients that each asked LIST VAR once, MAXCONN 1024:");
    println!(
        "| {:<10} | {:>9} | {:>9} | {:>9} | {:>16} |",
        "Server", "0", "100", "1000", "kB/idle client"
    );
    println!(
        "|{:-<12}|{:->10}:|{:->10}:|{:->10}:|{:->17}:|",
        "", "", "", "", ""
    );
    for &k in &kinds {
        let r = rss(&setup, k, 1024, &steps);
        println!(
            "| {:<10} | {:>9} | {:>9} | {:>9} | {:>16.2} |",
            k.name(),
            r[0],
            r[1],
            r[2],
            (r[2] as f64 - r[0] as f64) / 1000.0
        );
    }
    let h1 = rss(&setup, Kind::Hidupsd, 1024, &[0])[0];
    let h4 = rss(&setup, Kind::Hidupsd, 4096, &[0])[0];
    println!(
        "hidupsd with no client: VmRSS {h1} kB at MAXCONN 1024, {h4} kB at MAXCONN 4096 \
         ({:.2} kB per unused slot)",
        (h4 as f64 - h1 as f64) / 3072.0
    );
}
