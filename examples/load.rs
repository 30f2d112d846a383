//! Load tool (a benchmark, not a test): requests per second and latency of
//! `GET VAR` and `LIST VAR` against a NUT server (hidupsd or upsd).
//!
//!     cargo run --release --example load -- 127.0.0.1:3493 UPS \
//!         [--conns 10,100,1000] [--seconds 5] [--request get|list|both] \
//!         [--new 1000] [--max-requests N]
//!
//! For each connection count N it opens N connections, then each one sends
//! `GET VAR UPS ups.status` (or `LIST VAR UPS`, read to `END LIST VAR`) in a
//! closed loop, one request outstanding, for `--seconds`; latency is from
//! the request's write to its reply's last byte. Then `--new` connections
//! are opened at once and each times connect + `GET VAR` + first reply.
//!
//! One thread drives every connection through the crate's own mio (epoll),
//! so the load generator itself takes one core at most. Loopback only: the
//! address must be a loopback one. Everything is bounded: `--seconds` per
//! row (at most 60), `--max-requests` per row, 10 s for the new-connection
//! round, and a 10 s grace for replies still outstanding.
//!
//! Output is a table; latencies are in microseconds so that scripts
//! (tools/bench-vs-upsd.sh) can compare two runs row by row.

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::exit;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: load ADDR:PORT UPS [--conns 10,100,1000] [--seconds 5] \
[--request get|list|both] [--new 1000] [--max-requests 5000000]";

/// How long to wait for replies still outstanding, or for a round of new
/// connections, before giving up on them.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Req {
    Get,
    List,
}

impl Req {
    fn name(self) -> &'static str {
        match self {
            Req::Get => "get",
            Req::List => "list",
        }
    }
}

struct Args {
    addr: SocketAddr,
    ups: String,
    conns: Vec<usize>,
    seconds: f64,
    reqs: Vec<Req>,
    new: usize,
    max_requests: usize,
}

fn die(msg: &str) -> ! {
    eprintln!("load: {msg}");
    exit(2)
}

fn parse_args() -> Args {
    let mut pos = Vec::new();
    let mut conns = vec![10, 100, 1000];
    let mut seconds = 5.0;
    let mut reqs = vec![Req::Get, Req::List];
    let mut new = 1000;
    let mut max_requests = 5_000_000;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .unwrap_or_else(|| die(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            "--conns" => {
                conns = val("--conns")
                    .split(',')
                    .map(|s| s.trim().parse().unwrap_or_else(|_| die("bad --conns")))
                    .collect()
            }
            "--seconds" => {
                seconds = val("--seconds")
                    .parse()
                    .unwrap_or_else(|_| die("bad --seconds"))
            }
            "--request" => {
                reqs = match val("--request").as_str() {
                    "get" => vec![Req::Get],
                    "list" => vec![Req::List],
                    "both" => vec![Req::Get, Req::List],
                    _ => die("--request is get, list or both"),
                }
            }
            "--new" => new = val("--new").parse().unwrap_or_else(|_| die("bad --new")),
            "--max-requests" => {
                max_requests = val("--max-requests")
                    .parse()
                    .unwrap_or_else(|_| die("bad --max-requests"))
            }
            s if s.starts_with('-') => die(&format!("unknown option {s}\n{USAGE}")),
            _ => pos.push(a),
        }
    }
    if pos.len() != 2 {
        die(USAGE)
    }
    let addr = pos[0]
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(&format!("bad address {}", pos[0])));
    if !addr.ip().is_loopback() {
        die("only loopback addresses (127.0.0.0/8, ::1) are allowed")
    }
    if !(seconds > 0.0 && seconds <= 60.0) {
        die("--seconds must be in (0, 60]")
    }
    if conns.iter().any(|&n| n == 0 || n > 10_000) || new > 10_000 {
        die("connection counts must be in 1..=10000")
    }
    Args {
        addr,
        ups: pos[1].clone(),
        conns,
        seconds,
        reqs,
        new,
        max_requests: max_requests.max(1),
    }
}

/// Raise the soft open-file limit to what `want` descriptors need.
fn raise_nofile(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft < want {
        let new = want.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, new, hard).is_err() || new < want {
            eprintln!("load: warning: open file limit {new} < {want} wanted");
        }
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    sent: Instant,
    busy: bool,
}

/// Takes whole reply lines off `c.buf`; true once a complete reply is in.
/// `ERR` lines count as a reply (and in `errs`). With `first`, a reply that
/// is an `ERR` is fatal: the UPS name or the server is wrong.
fn take_reply(c: &mut Conn, req: Req, errs: &mut u64, first: bool) -> bool {
    while let Some(i) = c.buf[c.scanned..].iter().position(|&b| b == b'\n') {
        let end = c.scanned + i + 1;
        let line = &c.buf[..end];
        let done = if line.starts_with(b"ERR") {
            if first {
                die(&format!(
                    "server answered {}",
                    String::from_utf8_lossy(line).trim_end()
                ))
            }
            *errs += 1;
            true
        } else {
            match req {
                Req::Get => true,
                Req::List => line.starts_with(b"END LIST VAR"),
            }
        };
        c.buf.drain(..end);
        c.scanned = 0;
        if done {
            if !c.buf.is_empty() {
                die("bytes past the end of a reply: is more than one request outstanding?")
            }
            return true;
        }
    }
    c.scanned = c.buf.len();
    false
}

/// Reads what is there; Err(()) when the peer closed or failed.
fn fill(c: &mut Conn) -> Result<(), ()> {
    let mut tmp = [0u8; 16384];
    loop {
        match c.s.read(&mut tmp) {
            Ok(0) => return Err(()),
            Ok(n) => c.buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
}

/// One request is a few dozen bytes and only one is outstanding, so the
/// socket buffer always takes it whole.
fn send(c: &mut Conn, msg: &[u8]) -> Result<(), ()> {
    match c.s.write(msg) {
        Ok(n) if n == msg.len() => {
            c.sent = Instant::now();
            c.busy = true;
            Ok(())
        }
        _ => Err(()),
    }
}

struct Row {
    conns: usize,
    req: Req,
    rps: f64,
    lat_us: Vec<f64>,
    errs: u64,
    lost: usize,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn closed_loop(a: &Args, n: usize, req: Req) -> Row {
    let msg = match req {
        Req::Get => format!("GET VAR {} ups.status\n", a.ups),
        Req::List => format!("LIST VAR {}\n", a.ups),
    };
    let mut poll = Poll::new().expect("epoll");
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let s = std::net::TcpStream::connect_timeout(&a.addr, GRACE)
            .unwrap_or_else(|e| die(&format!("connection {} of {n} to {}: {e}", i + 1, a.addr)));
        s.set_nodelay(true).ok();
        s.set_nonblocking(true).expect("nonblocking");
        let mut s = TcpStream::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)
            .expect("register");
        conns.push(Conn {
            s,
            buf: Vec::with_capacity(4096),
            scanned: 0,
            sent: Instant::now(),
            busy: false,
        });
    }
    let mut events = Events::with_capacity(1024);
    let mut lat_ns: Vec<u64> = Vec::with_capacity(a.max_requests.min(1 << 22));
    let (mut errs, mut lost, mut first) = (0u64, 0usize, true);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    for c in conns.iter_mut() {
        if send(c, msg.as_bytes()).is_err() {
            die("cannot send the first request")
        }
    }
    let mut busy = n;
    let mut sending = true;
    while busy > 0 {
        let now = Instant::now();
        if sending && now >= deadline {
            sending = false;
        }
        if !sending && now >= deadline + GRACE {
            break;
        }
        let wait = if sending {
            deadline - now
        } else {
            deadline + GRACE - now
        };
        poll.poll(&mut events, Some(wait)).expect("poll");
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if !c.busy {
                continue;
            }
            if fill(c).is_err() {
                c.busy = false;
                busy -= 1;
                lost += 1;
                continue;
            }
            if !take_reply(c, req, &mut errs, first) {
                continue;
            }
            first = false;
            let done = Instant::now();
            c.busy = false;
            if done <= deadline {
                lat_ns.push((done - c.sent).as_nanos() as u64);
            }
            if sending && done < deadline && lat_ns.len() < a.max_requests {
                if send(c, msg.as_bytes()).is_err() {
                    busy -= 1;
                    lost += 1;
                }
            } else {
                busy -= 1;
            }
        }
        if lat_ns.len() >= a.max_requests {
            sending = false;
        }
    }
    // The window ends at the deadline, or earlier at --max-requests.
    let window = deadline.min(Instant::now()) - start;
    lost += busy;
    drop(conns);
    let mut lat_us: Vec<f64> = lat_ns.iter().map(|&x| x as f64 / 1000.0).collect();
    lat_us.sort_by(|x, y| x.partial_cmp(y).unwrap());
    Row {
        conns: n,
        req,
        rps: lat_us.len() as f64 / window.as_secs_f64(),
        lat_us,
        errs,
        lost,
    }
}

/// `n` connections opened at once; each is timed from its connect() to the
/// last byte of the reply to its first `GET VAR`.
fn new_conns(a: &Args, n: usize) -> (Duration, Vec<f64>, usize) {
    let msg = format!("GET VAR {} ups.status\n", a.ups);
    let mut poll = Poll::new().expect("epoll");
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(n);
    let mut failed = 0;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        match TcpStream::connect(a.addr) {
            Ok(mut s) => {
                poll.registry()
                    .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                    .expect("register");
                conns.push(Some(Conn {
                    s,
                    buf: Vec::new(),
                    scanned: 0,
                    sent: t,
                    busy: false,
                }));
            }
            Err(_) => {
                failed += 1;
                conns.push(None);
            }
        }
    }
    let mut events = Events::with_capacity(1024);
    let mut lat_us = Vec::with_capacity(n);
    let mut left = n - failed;
    let mut errs = 0;
    while left > 0 {
        let now = Instant::now();
        if now >= start + GRACE {
            break;
        }
        poll.poll(&mut events, Some(start + GRACE - now))
            .expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(c) = conns[i].as_mut() else { continue };
            let mut gone = false;
            if !c.busy && ev.is_writable() {
                // Connected (or failed): the connect's outcome is known now.
                match c.s.take_error() {
                    Ok(None) if c.s.peer_addr().is_ok() => match c.s.write(msg.as_bytes()) {
                        Ok(k) if k == msg.len() => c.busy = true,
                        _ => gone = true,
                    },
                    Ok(None) => continue, // not connected yet
                    _ => gone = true,
                }
            }
            if !gone && c.busy && ev.is_readable() {
                if fill(c).is_err() {
                    gone = true;
                } else if take_reply(c, Req::Get, &mut errs, false) {
                    lat_us.push(c.sent.elapsed().as_nanos() as f64 / 1000.0);
                    conns[i] = None;
                    left -= 1;
                    continue;
                }
            }
            if gone {
                conns[i] = None;
                failed += 1;
                left -= 1;
            }
        }
    }
    let all = start.elapsed();
    failed += left + errs as usize;
    drop(conns);
    // A connection that failed or did not answer in time counts as GRACE,
    // so that the percentiles cover every connection tried.
    lat_us.resize(n.max(lat_us.len()), GRACE.as_micros() as f64);
    lat_us.sort_by(|x, y| x.partial_cmp(y).unwrap());
    (all, lat_us, failed)
}

fn main() {
    let a = parse_args();
    let most = a.conns.iter().copied().max().unwrap_or(0).max(a.new);
    raise_nofile(most as u64 + 64);
    println!(
        "# {} UPS {}: closed loop, one request outstanding per connection, {} s per row",
        a.addr, a.ups, a.seconds
    );
    println!(
        "{:>6} {:>7} {:>12} {:>10} {:>10} {:>10} {:>7} {:>5}",
        "conns", "request", "requests/s", "p50_us", "p99_us", "max_us", "errors", "lost"
    );
    for &req in &a.reqs {
        for &n in &a.conns {
            let r = closed_loop(&a, n, req);
            println!(
                "{:>6} {:>7} {:>12.0} {:>10.1} {:>10.1} {:>10.1} {:>7} {:>5}",
                r.conns,
                r.req.name(),
                r.rps,
                pct(&r.lat_us, 50.0),
                pct(&r.lat_us, 99.0),
                r.lat_us.last().copied().unwrap_or(f64::NAN),
                r.errs,
                r.lost
            );
            // Let the server reap the closed connections before the next row.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if a.new > 0 {
        let (all, lat, failed) = new_conns(&a, a.new);
        println!(
            "# {} new connections at once: connect + GET VAR + reply \
             (one failed or not answered in {} s counts as {1} s)",
            a.new,
            GRACE.as_secs()
        );
        println!(
            "{:>6} {:>7} {:>12} {:>10} {:>10} {:>10} {:>7}",
            "new", "request", "all_ms", "p50_us", "p99_us", "max_us", "failed"
        );
        println!(
            "{:>6} {:>7} {:>12.1} {:>10.1} {:>10.1} {:>10.1} {:>7}",
            a.new,
            "connect",
            all.as_secs_f64() * 1000.0,
            pct(&lat, 50.0),
            pct(&lat, 99.0),
            lat.last().copied().unwrap_or(f64::NAN),
            failed
        );
    }
}
