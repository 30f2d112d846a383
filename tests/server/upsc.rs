//! hidupsd called as `upsc` (through a symlink) prints what NUT's upsc
//! prints, error lines included. Compared with the stock upsc where
//! Debian's nut-client is installed; checked against the protocol's own
//! answers everywhere.

use crate::common;

use common::{fixture, have, start, Client};
use std::process::Command;

/// stdout, the `Error:` line of stderr (stock upsc may also warn about
/// SSL there), and success.
fn upsc(program: &str, args: &[&str]) -> (String, String, bool) {
    let o = Command::new(program).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("Error:"))
        .collect::<Vec<_>>()
        .join("\n");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        err,
        o.status.success(),
    )
}

#[test]
fn called_as_upsc_it_prints_what_upsc_prints() {
    let conf = format!(
        "[es850]\n\tdriver = sim\n\tport = \"{}\"\n\tdesc = \"rack \\\"A\\\"\"\n\
         [eaton]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display(),
        fixture("eaton-3s-700").display()
    );
    let users = "[mon]\n\tpassword = pw\n\tupsmon secondary\n";
    let d = start("upsc-multicall", &conf, users);
    let link = d.dir.join("upsc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_hidupsd"), &link).unwrap();
    let ours = link.to_str().unwrap().to_string();
    let host = format!("127.0.0.1:{}", d.port);
    let es = format!("es850@{host}");

    // A logged-in client, for -c.
    let mut mon = Client::connect(d.port);
    mon.expect("USERNAME mon\n", "OK\n");
    mon.expect("PASSWORD pw\n", "OK\n");
    mon.expect("LOGIN es850\n", "OK\n");

    let cases: Vec<Vec<&str>> = vec![
        vec!["-l", &host],
        vec!["-L", &host],
        vec![&es],
        vec![&es, "ups.status"],
        vec![&es, "battery.charge"],
        vec!["-c", &es],
        vec![&es, "no.such.var"],
        vec!["nosuch@127.0.0.1:1"],
    ];
    let unknown = format!("nosuch@{host}");
    let mut cases = cases;
    cases.push(vec![&unknown]);

    // Against the protocol itself.
    let mut c = Client::connect(d.port);
    let (out, _, ok) = upsc(&ours, &["-l", &host]);
    assert!(ok);
    assert_eq!(out, "es850\neaton\n");
    let (out, _, _) = upsc(&ours, &["-L", &host]);
    assert_eq!(out, "es850: rack \"A\"\neaton: Description unavailable\n");
    let (out, _, _) = upsc(&ours, &[&es, "ups.status"]);
    let want = c.ask("GET VAR es850 ups.status\n");
    assert_eq!(
        format!("VAR es850 ups.status \"{}\"\n", out.trim_end()),
        want
    );
    let (out, _, _) = upsc(&ours, &[&es]);
    let list = c.ask("LIST VAR es850\n");
    assert_eq!(out.lines().count() + 2, list.lines().count(), "{out}");
    assert!(out.contains("device.model: Back-UPS ES 850G2\n"), "{out}");
    let (out, _, _) = upsc(&ours, &["-c", &es]);
    assert_eq!(out, "127.0.0.1\n");
    let (_, err, ok) = upsc(&ours, &[&unknown]);
    assert!(!ok);
    assert_eq!(err, "Error: Unknown UPS");
    let (_, err, ok) = upsc(&ours, &[&es, "no.such.var"]);
    assert!(!ok);
    assert_eq!(err, "Error: Variable not supported by UPS");

    if !have("upsc") {
        common::missing("upsc (Debian nut-client; the stock comparison)");
        return;
    }
    for args in &cases {
        let stock = upsc("upsc", args);
        let mine = upsc(&ours, args);
        println!("upsc {}: {:?}", args.join(" "), stock.1);
        assert_eq!(mine, stock, "upsc {}", args.join(" "));
    }
}
