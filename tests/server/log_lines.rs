//! What the log says that the manual promises it says: a configured UPS
//! still waiting for its device, a UPS section changed by a reload (it
//! takes effect at restart), a SHUTDOWNCMD whose program is missing
//! (at start and at each reload), and a nut.conf MODE changed by a reload.

use crate::common;

use common::{eventually, fixture, start_with};
use std::process::Command;

fn hup(pid: u32) {
    let st = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The daemon's pid: the one whose command line names `dir`.
fn pid_of(dir: &std::path::Path) -> u32 {
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(env!("CARGO_BIN_EXE_hidupsd")) && cmd.contains(dir.to_str().unwrap()) {
            return pid;
        }
    }
    panic!("no daemon for {}", dir.display())
}

#[test]
fn a_configured_ups_without_its_device_is_logged_once() {
    // No USB device has vendor id 9999 (and test boxes have none at all).
    let conf = "[rack]\n\tdriver = usbhid-ups\n\tport = auto\n\tvendorid = 9999\n";
    let d = start_with("log-waiting", conf, "", &[]);
    let said = "rack: no USB UPS found that its ups.conf section accepts (vendorid 9999): \
                waiting for one (clients get DRIVER-NOT-CONNECTED until then)";
    assert!(eventually(10, || d.log().contains(said)), "{}", d.log());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        d.log().matches("no USB UPS found").count(),
        1,
        "{}",
        d.log()
    );
}

#[test]
fn a_changed_ups_section_is_logged_at_reload() {
    let section = |offdelay: u32, extra: &str| {
        format!(
            "[a]\n\tdriver = sim\n\tport = \"{}\"\n\toffdelay = {offdelay}\n{extra}\
             [b]\n\tdriver = sim\n\tport = \"{}\"\n",
            fixture("eaton-5sc-750").display(),
            fixture("cps-ec850lcd").display()
        )
    };
    let d = start_with("log-changed", &section(20, ""), "", &[]);
    let pid = pid_of(&d.dir);
    std::fs::write(d.dir.join("ups.conf"), section(120, "\tdesc = \"rack\"\n")).unwrap();
    hup(pid);
    let said = "reload: a: changed (offdelay, desc): takes effect at restart";
    assert!(eventually(5, || d.log().contains(said)), "{}", d.log());
    assert!(!d.log().contains("reload: b:"), "{}", d.log());
    // The same file again: the running UPS still has its old settings,
    // so each reload says so.
    hup(pid);
    assert!(
        eventually(5, || d.log().matches(said).count() == 2),
        "{}",
        d.log()
    );
}

#[test]
fn a_missing_shutdowncmd_program_is_logged_at_start_and_reload() {
    let conf = format!(
        "[u]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("eaton-5sc-750").display()
    );
    let users = "[mon]\n\tpassword = pw\n\tupsmon primary\n";
    let upsmon = "MONITOR u@localhost 1 mon pw primary\n\
                  SHUTDOWNCMD /nonexistent/sbin/nutshutdown\n";
    let d = start_with("log-shutdowncmd", &conf, users, &[("upsmon.conf", upsmon)]);
    let said = "warning: upsmon.conf: SHUTDOWNCMD: '/nonexistent/sbin/nutshutdown' is not an \
                executable program here (nutshutdown comes with NUT's upsmon package";
    assert!(eventually(5, || d.log().contains(said)), "{}", d.log());
    hup(pid_of(&d.dir));
    assert!(
        eventually(5, || d.log().contains(&format!("reload: {said}"))),
        "{}",
        d.log()
    );
    // A command that exists is not mentioned.
    std::fs::write(
        d.dir.join("upsmon.conf"),
        "MONITOR u@localhost 1 mon pw primary\nSHUTDOWNCMD \"/bin/true now\"\n",
    )
    .unwrap();
    let before = d.log().matches("SHUTDOWNCMD:").count();
    hup(pid_of(&d.dir));
    assert!(eventually(5, || d
        .log()
        .matches("configuration reloaded")
        .count()
        == 2));
    assert_eq!(
        d.log().matches("SHUTDOWNCMD:").count(),
        before,
        "{}",
        d.log()
    );
}

#[test]
fn a_changed_nut_conf_mode_is_logged_at_reload_and_waits_for_restart() {
    let conf = format!(
        "[u]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("eaton-5sc-750").display()
    );
    let d = start_with("log-mode", &conf, "", &[]);
    std::fs::write(
        d.dir.join("upsmon.conf"),
        "MONITOR far@192.0.2.1 1 mon pw secondary\nSHUTDOWNCMD /bin/true\n",
    )
    .unwrap();
    std::fs::write(d.dir.join("nut.conf"), "MODE=netclient\n").unwrap();
    hup(pid_of(&d.dir));
    let said = "nut.conf:1: MODE=netclient): takes effect at restart";
    assert!(eventually(5, || d.log().contains(said)), "{}", d.log());
    // Still serving until then.
    let mut c = common::Client::connect(d.port);
    let r = c.ask("GET VAR u ups.status\n");
    assert!(r.starts_with("VAR u ups.status"), "{r}");
}
