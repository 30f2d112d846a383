//! Connection admission against the real daemon: a flood of idle
//! connections from one address cannot keep an upsmon out (room is made
//! by closing the longest-idle connection that has not logged in), a
//! logged-in session is never closed to make room, and a client that
//! half-closes after its request is closed at once, not after 60 s.

use crate::common;

use common::{fixture, start, start_with, Client, Daemon};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

fn conf() -> String {
    format!(
        "[es850]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display()
    )
}

const USERS: &str = "[monuser]\n\tpassword = pass\n\tupsmon secondary\n";

/// Log in as upsmon does.
/// A failed exchange says what the daemon logged: seen once under
/// qemu-mipsel, the first login of a fresh daemon was reset.
fn upsmon(d: &Daemon) -> Client {
    let mut c = Client::connect(d.port);
    for req in ["USERNAME monuser\n", "PASSWORD pass\n", "LOGIN es850\n"] {
        match c.try_read(req, 3) {
            Ok(got) => assert_eq!(got, "OK\n", "reply to {req:?}"),
            Err(e) => panic!("{req:?}: {e}; the daemon's log:\n{}", d.log()),
        }
    }
    c
}

/// Raise the soft open-file limit to the hard one (the flood needs
/// 1,100 descriptors here).
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
    #[allow(clippy::unnecessary_cast)]
    let n = r.rlim_cur as u64;
    n
}

/// Has the server closed it (EOF or a reset already here)?
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 16];
    !matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn upsmon_logs_in_during_a_flood_from_its_own_address() {
    let n = raise_nofile();
    assert!(
        n >= 1_300,
        "ulimit -n is {n}: the flood needs 1,100 connections"
    );
    let d = start("admission-flood", &conf(), USERS);
    // 1,100 idle connections from 127.0.0.1: more than MAXCONN (1024).
    let mut flood: Vec<TcpStream> = (0..1_100)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    // upsmon, from the same address, gets in and logs in.
    let mut mon = upsmon(&d);
    let mut other = Client::connect(d.port);
    assert_eq!(other.ask("GET NUMLOGINS es850\n"), "NUMLOGINS es850 1\n");
    // The flood goes on: 1,100 more (the closed ones dropped, to stay
    // within the descriptor limit); upsmon keeps its session.
    std::thread::sleep(Duration::from_millis(300));
    flood.retain_mut(|s| !closed_by_server(s));
    flood.extend((0..1_100).map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap()));
    assert!(mon
        .ask("GET VAR es850 ups.status\n")
        .starts_with("VAR es850 ups.status \""));
    // The loopback held at most MAXCONN_PER_SOURCE (32) of the flood:
    // almost every flood connection was closed.
    std::thread::sleep(Duration::from_millis(300));
    let open = flood
        .iter_mut()
        .map(closed_by_server)
        .filter(|c| !c)
        .count();
    assert!(open <= 32, "{open} flood connections still open");
    assert!(d.log().contains("MAXCONN_PER_SOURCE 32"), "{}", d.log());
    // Said once, not once per connection closed.
    assert_eq!(
        d.log().matches("MAXCONN_PER_SOURCE").count(),
        1,
        "{}",
        d.log()
    );
}

#[test]
fn a_full_server_closes_the_longest_idle_and_never_a_login() {
    let d = start_with(
        "admission-full",
        &conf(),
        USERS,
        &[(
            "upsd.conf",
            "LISTEN 127.0.0.1 {PORT}\nMAXCONN 3\nMAXCONN_PER_SOURCE 0\n",
        )],
    );
    let mut mon = upsmon(&d);
    let mut a = Client::connect(d.port);
    assert_eq!(a.ask("NETVER\n"), "1.3\n");
    let mut b = Client::connect(d.port);
    assert_eq!(b.ask("NETVER\n"), "1.3\n");
    // Full: a fourth gets in, and `a`, idle longest, is closed for it.
    let mut c = Client::connect(d.port);
    assert_eq!(c.ask("NETVER\n"), "1.3\n");
    assert!(a.closed());
    assert_eq!(b.ask("NETVER\n"), "1.3\n");
    // A second login: then `c` (idle longest now) goes for the next.
    let mut mon2 = Client(c.0.try_clone().unwrap());
    mon2.expect("USERNAME monuser\n", "OK\n");
    mon2.expect("PASSWORD pass\n", "OK\n");
    mon2.expect("LOGIN es850\n", "OK\n");
    let mut e = Client::connect(d.port);
    assert_eq!(e.ask("NETVER\n"), "1.3\n");
    assert!(b.closed());
    // Every slot but `e` is a login; `e` goes for the next, then, with
    // only logins left... one more login makes every slot a login:
    let mut mon3 = Client(e.0.try_clone().unwrap());
    mon3.expect("USERNAME monuser\n", "OK\n");
    mon3.expect("PASSWORD pass\n", "OK\n");
    mon3.expect("LOGIN es850\n", "OK\n");
    // ...and a newcomer is closed at once, unanswered.
    assert!(Client::connect(d.port).closed());
    assert_eq!(mon.ask("GET NUMLOGINS es850\n"), "NUMLOGINS es850 3\n");
    assert!(d.log().contains("MAXCONN (3)"), "{}", d.log());
}

#[test]
fn a_half_closed_one_shot_request_is_answered_and_closed_at_once() {
    let d = start("admission-halfclose", &conf(), USERS);
    // As `printf 'GET VAR ...\n' | nc -N 127.0.0.1 PORT`.
    for _ in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t0 = Instant::now();
        s.write_all(b"GET VAR es850 ups.status\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        let took = t0.elapsed();
        assert!(got.starts_with("VAR es850 ups.status \""), "{got:?}");
        assert!(took < Duration::from_secs(2), "closed after {took:?}");
    }
    // The slots were freed: the daemon holds no client now.
    let mut c = Client::connect(d.port);
    assert_eq!(
        c.ask("LIST CLIENT es850\n"),
        "BEGIN LIST CLIENT es850\nEND LIST CLIENT es850\n"
    );
}
