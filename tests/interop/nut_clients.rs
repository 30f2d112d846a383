//! Debian's own NUT clients are the judges: `upsc -c`, `upscmd` running a
//! command that reaches the (simulated) device, and `upsrw` listing and
//! setting a writable variable that then reads back. Skipped, with a note,
//! where nut-client is not installed (CI installs it).

use crate::common;

use common::{eventually, have, run, run_err, start};

const USERS: &str = "[admin]\n\tpassword = \"s3cret\"\n\tactions = SET FSD\n\tinstcmds = ALL\n\
[viewer]\n\tpassword = \"look\"\n";

fn conf() -> String {
    format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n\tdesc = \"Back-UPS BK650M2\"\n",
        common::fixture("apc-back-ups-bk650m2-ch").display()
    )
}

#[test]
fn upsc_upscmd_and_upsrw() {
    if !(have("upsc") && have("upscmd") && have("upsrw")) {
        common::missing("upsc, upscmd or upsrw (Debian nut-client)");
        return;
    }
    let d = start("nutclients", &conf(), USERS);
    let ups = format!("bk650@127.0.0.1:{}", d.port);
    let host = format!("127.0.0.1:{}", d.port);

    // upsc -l lists it with its description; upsc -c lists no clients yet.
    assert_eq!(run("upsc", &["-L", &host]), "bk650: Back-UPS BK650M2\n");
    assert_eq!(run("upsc", &["-c", &ups]), "");

    // upsrw lists battery.charge.low as writable, sets it, it reads back.
    let rw = run("upsrw", &[&ups]);
    assert!(rw.contains("[battery.charge.low]"), "{rw}");
    // `-w` waits for the TRACKING result and prints it on stderr.
    let out = run_err(
        "upsrw",
        &[
            "-s",
            "battery.charge.low=40",
            "-u",
            "admin",
            "-p",
            "s3cret",
            "-w",
            &ups,
        ],
    );
    assert_eq!(out.trim(), "SUCCESS");
    assert!(eventually(8, || run("upsc", &[&ups, "battery.charge.low"]) == "40\n"));

    // upscmd lists and runs a command; the write reaches the device, whose
    // beeper then reads enabled, and disabled again after beeper.disable.
    let list = run("upscmd", &["-l", &ups]);
    assert!(list.contains("beeper.disable"), "{list}");
    let out = run_err(
        "upscmd",
        &["-u", "admin", "-p", "s3cret", "-w", &ups, "beeper.enable"],
    );
    assert_eq!(out.trim(), "SUCCESS");
    assert!(eventually(8, || run("upsc", &[&ups, "ups.beeper.status"])
        == "enabled\n"));
    let out = run_err(
        "upscmd",
        &["-u", "admin", "-p", "s3cret", "-w", &ups, "beeper.disable"],
    );
    assert_eq!(out.trim(), "SUCCESS");
    assert!(eventually(8, || run("upsc", &[&ups, "ups.beeper.status"])
        == "disabled\n"));

    // Without the right: refused with NUT's message.
    let o = std::process::Command::new("upsrw")
        .args([
            "-s",
            "battery.charge.low=30",
            "-u",
            "viewer",
            "-p",
            "look",
            &ups,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("ERR ACCESS-DENIED"), "{text}");
}
