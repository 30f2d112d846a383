//! Configuration that an operator gets slightly wrong must not take the
//! UPS away: a reload with `upsd.users` missing keeps the running users
//! (and says why), one emptied applies with a warning that every login
//! will be refused; a world-readable `upsd.users` is warned about at
//! start and at reload; Debian's stock `upsmon.conf` (no MONITOR line)
//! means "no monitor", and the UPS is served.

use crate::common;

use common::{eventually, fixture, start_with, Client};
use std::os::unix::fs::PermissionsExt;

fn conf() -> String {
    format!(
        "[es850]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("apc-back-ups-es-850g2").display()
    )
}

const USERS: &str = "[admin]\n\tpassword = secret\n\tinstcmds = all\n";

fn admin(port: u16) -> String {
    let mut c = Client::connect(port);
    c.expect("USERNAME admin\n", "OK\n");
    c.expect("PASSWORD secret\n", "OK\n");
    c.ask("INSTCMD es850 beeper.disable\n")
}

/// SIGHUP, and wait for the reload's last line.
fn reload(d: &common::Daemon) {
    let done = || d.log().matches("configuration reloaded").count();
    let before = done();
    d.signal("HUP");
    assert!(eventually(10, || done() > before), "{}", d.log());
}

#[test]
fn a_reload_never_silently_removes_every_user() {
    let d = start_with("edges-users", &conf(), USERS, &[]);
    std::fs::set_permissions(
        d.dir.join("upsd.users"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(admin(d.port), "OK\n");

    // Missing: the running users stay, and the log says why.
    std::fs::rename(d.dir.join("upsd.users"), d.dir.join("upsd.users.moved")).unwrap();
    reload(&d);
    assert!(
        d.log()
            .contains("upsd.users is missing: keeping the 1 running user"),
        "{}",
        d.log()
    );
    assert_eq!(admin(d.port), "OK\n");

    // Present with no user: applied, with a warning.
    std::fs::write(d.dir.join("upsd.users"), "# nobody\n").unwrap();
    std::fs::set_permissions(
        d.dir.join("upsd.users"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    reload(&d);
    assert!(
        d.log()
            .contains("has no users: every login will now be refused"),
        "{}",
        d.log()
    );
    assert_eq!(admin(d.port), "ERR ACCESS-DENIED\n");

    // Back: logins work again.
    std::fs::rename(d.dir.join("upsd.users.moved"), d.dir.join("upsd.users")).unwrap();
    reload(&d);
    assert_eq!(admin(d.port), "OK\n");
}

#[test]
fn a_world_readable_users_file_is_warned_about_at_start_and_reload() {
    let d = start_with("edges-mode", &conf(), USERS, &[]);
    let users = d.dir.join("upsd.users");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    reload(&d);
    let warning = "upsd.users: readable by every user (mode 0644)";
    assert!(d.log().contains(warning), "{}", d.log());
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o640)).unwrap();
    let n = d.log().matches(warning).count();
    reload(&d);
    assert_eq!(d.log().matches(warning).count(), n, "{}", d.log());
    assert_eq!(admin(d.port), "OK\n");
}

#[test]
fn the_start_warns_about_a_world_readable_users_file() {
    // The usual umask: start_with's upsd.users is then 0644.
    // SAFETY: umask only sets this process's file creation mask.
    unsafe { libc::umask(0o022) };
    let d = start_with("edges-mode-start", &conf(), USERS, &[]);
    let mode = std::fs::metadata(d.dir.join("upsd.users"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert!(
        d.log()
            .contains("upsd.users: readable by every user (mode 0644)"),
        "{}",
        d.log()
    );
}

#[test]
fn debian_s_stock_upsmon_conf_means_no_monitor_and_the_ups_is_served() {
    let stock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz/corpus/upsmon_conf/debian-stock"),
    )
    .unwrap();
    let d = start_with("edges-upsmon", &conf(), USERS, &[("upsmon.conf", &stock)]);
    let mut c = Client::connect(d.port);
    assert!(c
        .ask("GET VAR es850 ups.status\n")
        .starts_with("VAR es850 ups.status \""));
    assert!(
        eventually(5, || d.log().contains("upsmon.conf: no MONITOR line")),
        "{}",
        d.log()
    );
    assert_eq!(d.log().matches("MONITOR").count(), 1, "{}", d.log());
}
