//! Every command that needs rights, against the real daemon with an
//! `upsd.users`: without credentials, with only a USERNAME, with a wrong
//! password, as an unknown user, as a user without the right, and as one
//! with it. The answers are upsd's (`docs/design/nut-protocol.md` §3,
//! §4): the USERNAME/PASSWORD gate first, then `ERR ACCESS-DENIED` for
//! anything that does not match a user holding the right.

use crate::common;

use common::{fixture, start_with, Client};

const APC: &str = "apc-back-ups-es-850g2";

const USERS: &str = "\
[admin]
  password = adminpw
  actions = SET FSD
  instcmds = beeper.disable
[mon]
  password = monpw
  upsmon primary
[sec]
  password = secpw
  upsmon secondary
[reader]
  password = readerpw
[lister]
  password = \"two words\"
  actions = LOGIN PRIMARY
";

/// A fresh connection, with these lines sent first (each must get `OK`).
fn conn(port: u16, pre: &[&str]) -> Client {
    let mut c = Client::connect(port);
    for l in pre {
        assert_eq!(c.ask(&format!("{l}\n")), "OK\n", "{l}");
    }
    c
}

#[test]
fn every_privileged_command_without_and_with_wrong_rights() {
    let conf = format!(
        "[ups]\n  driver = sim\n  port = \"{}\"\n",
        fixture(APC).display()
    );
    // Dozens of wrong passwords from one address: the login limit
    // (tests/server/ratelimit.rs) would refuse the right ones that follow.
    let d = start_with(
        "auth",
        &conf,
        USERS,
        &[("upsd.conf", "LISTEN 127.0.0.1 {PORT}\nLOGIN_FAILURES 0\n")],
    );
    let mut probe = Client::connect(d.port);
    // A command and a writable variable the device really has.
    let cmds = probe.ask("LIST CMD ups\n");
    assert!(cmds.contains("CMD ups beeper.disable\n"), "{cmds}");
    let rw = probe.ask("LIST RW ups\n");
    assert!(rw.contains("RW ups battery.charge.low "), "{rw}");

    // (request, who may do it)
    let privileged: [(&str, &[&str]); 6] = [
        ("SET VAR ups battery.charge.low 15", &["admin"]),
        ("INSTCMD ups beeper.disable", &["admin"]),
        ("FSD ups", &["admin", "mon"]),
        ("PRIMARY ups", &["mon", "lister"]),
        ("MASTER ups", &["mon", "lister"]),
        ("LOGIN ups", &["mon", "sec", "lister"]),
    ];
    let password = |u: &str| match u {
        "lister" => "\"two words\"".to_string(),
        u => format!("{u}pw"),
    };
    for (req, allowed) in privileged {
        let line = format!("{req}\n");
        // No credentials, then a USERNAME only: the gate.
        assert_eq!(
            conn(d.port, &[]).ask(&line),
            "ERR USERNAME-REQUIRED\n",
            "{req}"
        );
        assert_eq!(
            conn(d.port, &["USERNAME admin"]).ask(&line),
            "ERR PASSWORD-REQUIRED\n",
            "{req}"
        );
        // A PASSWORD alone is no better.
        assert_eq!(
            conn(d.port, &["PASSWORD adminpw"]).ask(&line),
            "ERR USERNAME-REQUIRED\n",
            "{req}"
        );
        // Wrong password (for a user that has the right), wrong case,
        // a prefix of the right one, an unknown user.
        let who = allowed[0];
        let right = password(who);
        let bare = right.trim_matches('"');
        for (user, pass) in [
            (who.to_string(), "wrong".to_string()),
            (who.to_string(), bare.to_uppercase()),
            (who.to_string(), bare[..bare.len() - 1].to_string()),
            (who.to_uppercase(), right.clone()),
            ("nobody".to_string(), right.clone()),
        ] {
            let mut c = conn(
                d.port,
                &[&format!("USERNAME {user}"), &format!("PASSWORD {pass}")],
            );
            assert_eq!(
                c.ask(&line),
                "ERR ACCESS-DENIED\n",
                "{req} as {user}/{pass}"
            );
        }
        // Every user: the right ones succeed, the others are denied.
        for user in ["admin", "mon", "sec", "reader", "lister"] {
            let mut c = conn(
                d.port,
                &[
                    &format!("USERNAME {user}"),
                    &format!("PASSWORD {}", password(user)),
                ],
            );
            let got = c.ask(&line);
            if allowed.contains(&user) {
                assert!(got.starts_with("OK"), "{req} as {user}: {got}");
            } else {
                assert_eq!(got, "ERR ACCESS-DENIED\n", "{req} as {user}");
            }
        }
    }

    // LOGIN twice, USERNAME and PASSWORD twice.
    let mut c = conn(d.port, &["USERNAME sec", "PASSWORD secpw"]);
    assert_eq!(c.ask("USERNAME mon\n"), "ERR ALREADY-SET-USERNAME\n");
    assert_eq!(c.ask("PASSWORD monpw\n"), "ERR ALREADY-SET-PASSWORD\n");
    assert_eq!(c.ask("LOGIN ups\n"), "OK\n");
    assert_eq!(c.ask("LOGIN ups\n"), "ERR ALREADY-LOGGED-IN\n");
    // The second credentials were not taken: still only a secondary.
    assert_eq!(c.ask("FSD ups\n"), "ERR ACCESS-DENIED\n");
    // Argument counts come after the gate, unknown UPSes before rights.
    assert_eq!(conn(d.port, &[]).ask("LOGIN\n"), "ERR USERNAME-REQUIRED\n");
    let mut c = conn(d.port, &["USERNAME reader", "PASSWORD readerpw"]);
    assert_eq!(c.ask("LOGIN\n"), "ERR INVALID-ARGUMENT\n");
    assert_eq!(c.ask("FSD nosuch\n"), "ERR UNKNOWN-UPS\n");
    assert_eq!(c.ask("INSTCMD ups nosuch.cmd\n"), "ERR CMD-NOT-SUPPORTED\n");
    assert_eq!(
        c.ask("SET VAR ups battery.charge.low 15\n"),
        "ERR ACCESS-DENIED\n"
    );
    // Reading needs nothing.
    assert!(conn(d.port, &[])
        .ask("GET VAR ups ups.status\n")
        .starts_with("VAR ups ups.status "));
    // SET TRACKING needs the gate only, not a right or a good password.
    assert_eq!(
        conn(d.port, &[]).ask("SET TRACKING ON\n"),
        "ERR USERNAME-REQUIRED\n"
    );
    assert_eq!(
        conn(d.port, &["USERNAME nobody", "PASSWORD x"]).ask("SET TRACKING ON\n"),
        "OK\n"
    );
    // The FSD granted above is latched.
    assert!(probe
        .ask("GET VAR ups ups.status\n")
        .starts_with("VAR ups ups.status \"FSD "));
}
