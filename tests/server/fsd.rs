//! `hidupsd fsd`: what `upsmon -c fsd` does, the unattended-shutdown test
//! usbhid-ups(8) asks every user to run. It logs in as upsmon.conf's
//! primary and raises FSD; the daemon's own monitor then shuts this host
//! down, and clients see FSD in ups.status.

use crate::common;

use common::{eventually, fixture, run, start_with};

#[test]
fn fsd_raises_the_flag_and_the_primary_shuts_down() {
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-bk650m2-ch").display()
    );
    let users = "[admin]\n\tpassword = monpass\n\tupsmon primary\n";
    let monitor = |system: &str, dir: &str| {
        format!(
            "MONITOR {system} 1 admin monpass primary\n\
             SHUTDOWNCMD \"/bin/touch {dir}/primary\"\nPOWERDOWNFLAG {dir}/killpower\n\
             HOSTSYNC 2\nFINALDELAY 0\nPOLLFREQ 1\n"
        )
    };
    let tmp = common::dir_for("fsd");
    let d = start_with(
        "fsd",
        &conf,
        users,
        &[(
            "upsmon.conf",
            &monitor("bk650@localhost", tmp.to_str().unwrap()),
        )],
    );
    assert_ne!(d.port, 3493);
    let dir = d.dir.to_str().unwrap().to_string();
    // The daemon watches its own bk650 (localhost, no port); `fsd` reaches
    // it where upsd.conf's LISTEN puts it (the test's port, not 3493).
    let out = run(env!("CARGO_BIN_EXE_hidupsd"), &["fsd", "-c", &dir]);
    assert_eq!(
        out,
        format!("bk650@127.0.0.1:{}: forced shutdown set\n", d.port)
    );
    let port = d.port;
    let status = move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET VAR bk650 ups.status\n").unwrap();
        let mut b = [0u8; 128];
        let n = s.read(&mut b).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    assert!(
        status().starts_with("VAR bk650 ups.status \"FSD "),
        "{}",
        status()
    );
    assert!(
        eventually(10, || d.dir.join("primary").exists()),
        "the primary did not shut down"
    );
    assert_eq!(
        std::fs::read_to_string(d.dir.join("killpower")).unwrap(),
        "upsmon-shutdown-file"
    );
    // Unknown UPS and no primary entries are one-line errors.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args(["fsd", "-c", &dir, "nosuch"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("monitors no UPS 'nosuch' as primary"));
}

#[test]
fn fsd_logs_in_with_a_password_that_has_a_space_and_a_quote() {
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-bk650m2-ch").display()
    );
    // upsd.users and upsmon.conf both quote and escape it (NUT's rules);
    // on the wire it must be quoted and escaped again.
    let users = "[admin]\n\tpassword = \"pa ss\\\"wd\"\n\tupsmon primary\n";
    let tmp = common::dir_for("fsd-password");
    let monitor = format!(
        "MONITOR bk650@127.0.0.1:{{PORT}} 1 admin \"pa ss\\\"wd\" primary\n\
         SHUTDOWNCMD \"/bin/touch {}/primary\"\nFINALDELAY 0\nPOLLFREQ 1\n",
        tmp.display()
    );
    let d = start_with("fsd-password", &conf, users, &[("upsmon.conf", &monitor)]);
    let dir = d.dir.to_str().unwrap().to_string();
    let out = run(env!("CARGO_BIN_EXE_hidupsd"), &["fsd", "-c", &dir]);
    assert_eq!(
        out,
        format!("bk650@127.0.0.1:{}: forced shutdown set\n", d.port)
    );
}
