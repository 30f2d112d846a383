//! NOTIFYCMD children are bounded: with a NOTIFYCMD that never ends and
//! power flapping, at most 8 run at once, later notices wait (64 at
//! most, the oldest dropped), each said once in the log; and when the
//! daemon exits nothing it started is left running.

use crate::common;

use common::{eventually, recording, start_with};

/// Processes whose command line holds `marker`.
fn running(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(marker)
            })
        })
        .count()
}

#[test]
fn a_hanging_notifycmd_while_power_flaps_is_bounded_and_ended_at_exit() {
    // A sleep of a length no other process has.
    let secs = format!("1000.{}", std::process::id() % 10_000);
    let marker = format!("sleep {secs}");
    // 80 changes, one every 0.1 s: 80 notices.
    let mut script = String::new();
    for k in 0..80 {
        let t = 1.0 + f64::from(k) * 0.1;
        let what = if k % 2 == 0 { "powercut" } else { "powerback" };
        script += &format!("at {t:.1} {what}\n");
    }
    let dir = common::dir_for("notify-bound");
    std::fs::create_dir_all(&dir).unwrap();
    let rec = dir.join("flap.rec");
    std::fs::write(&rec, recording("apc-back-ups-bk650m2-ch", &script)).unwrap();
    let hang = dir.join("hang.sh");
    std::fs::write(&hang, format!("#!/bin/sh\nexec sleep {secs}\n")).unwrap();
    let conf = format!("[bk650]\n\tdriver = sim\n\tport = \"{}\"\n", rec.display());
    let upsmon = format!(
        "MONITOR bk650@localhost 1 admin pw primary\n\
         NOTIFYCMD \"/bin/sh {}\"\n\
         NOTIFYFLAG ONBATT SYSLOG+EXEC\nNOTIFYFLAG ONLINE SYSLOG+EXEC\n",
        hang.display()
    );
    let mut d = start_with(
        "notify-bound",
        &conf,
        "[admin]\n\tpassword = pw\n\tupsmon primary\n",
        &[("upsmon.conf", &upsmon)],
    );
    let mut most = 0;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < end && !d.log().contains("dropping the oldest") {
        most = most.max(running(&marker));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    most = most.max(running(&marker));
    let log = d.log();
    assert!(most <= 8, "{most} NOTIFYCMD children at once");
    assert_eq!(
        most, 8,
        "the hanging NOTIFYCMDs never reached the bound:\n{log}"
    );
    assert_eq!(
        log.matches("still running: further notices wait").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("dropping the oldest").count(), 1, "{log}");
    // Exit: every NOTIFYCMD (and its sleep) is ended.
    assert!(d.stop().success());
    assert!(
        eventually(5, || running(&marker) == 0),
        "{} left running after exit",
        running(&marker)
    );
    assert!(
        d.log().contains("exiting: ended 8 notification command(s)"),
        "{}",
        d.log()
    );
}
