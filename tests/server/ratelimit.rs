//! Login attempts are limited per source address and user name: after
//! ten wrong passwords for one user from one address, that user's
//! credentials from there are refused unchecked (the right password
//! too), with the same answer a wrong password gets, and the log says so
//! once. Other users from the same address (upsmon, an admin: everything
//! local shares 127.0.0.1) are not affected; made-up names share one
//! count per address.

use crate::common;

use common::{eventually, fixture, start_with, Client};

fn attempt(port: u16, v6: bool, user: &str, password: &str) -> String {
    let mut c = if v6 {
        let s = std::net::TcpStream::connect(("::1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        Client(s)
    } else {
        Client::connect(port)
    };
    c.expect(&format!("USERNAME {user}\n"), "OK\n");
    c.expect(&format!("PASSWORD {password}\n"), "OK\n");
    c.ask("INSTCMD es850 beeper.disable\n")
}

#[test]
fn wrong_passwords_are_limited_per_address_and_user() {
    let conf = format!(
        "[es850]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display()
    );
    let users = "[admin]\n\tpassword = right\n\tinstcmds = all\n\
                 [script]\n\tpassword = scripted\n\tinstcmds = all\n";
    let d = start_with(
        "ratelimit",
        &conf,
        users,
        &[("upsd.conf", "LISTEN 127.0.0.1 {PORT}\nLISTEN ::1 {PORT}\n")],
    );
    let v6 = std::net::TcpStream::connect(("::1", d.port)).is_ok();
    assert_eq!(attempt(d.port, false, "script", "scripted"), "OK\n");
    // A script with a stale password, retrying.
    for _ in 0..10 {
        assert_eq!(
            attempt(d.port, false, "script", "stale"),
            "ERR ACCESS-DENIED\n"
        );
    }
    // Limited now: its right password is refused too.
    assert_eq!(
        attempt(d.port, false, "script", "scripted"),
        "ERR ACCESS-DENIED\n"
    );
    assert!(
        eventually(5, || d
            .log()
            .contains("127.0.0.1: too many failed logins as script")),
        "{}",
        d.log()
    );
    assert_eq!(d.log().matches("too many failed logins").count(), 1);
    // The admin on the same host logs in.
    assert_eq!(attempt(d.port, false, "admin", "right"), "OK\n");
    // Made-up names: ten in all, whatever the names, then refused; the
    // admin still logs in.
    for n in 0..10 {
        assert_eq!(
            attempt(d.port, false, &format!("guess{n}"), "x"),
            "ERR ACCESS-DENIED\n"
        );
    }
    assert!(
        eventually(5, || d
            .log()
            .contains("too many failed logins with unknown user names")),
        "{}",
        d.log()
    );
    assert_eq!(attempt(d.port, false, "admin", "right"), "OK\n");
    // Reading needs no login and goes on.
    let mut c = Client::connect(d.port);
    assert!(c
        .ask("GET VAR es850 ups.status\n")
        .starts_with("VAR es850 ups.status"));
    // The loopback is one source: ::1 is 127.0.0.1's.
    if v6 {
        assert_eq!(
            attempt(d.port, true, "script", "scripted"),
            "ERR ACCESS-DENIED\n"
        );
        assert_eq!(attempt(d.port, true, "admin", "right"), "OK\n");
    } else {
        println!("no IPv6 loopback here: the ::1 checks are skipped");
    }
}
