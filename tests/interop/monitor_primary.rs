//! hidupsd as the primary upsmon of its own UPS, with a secondary on
//! another host: a scripted power cut runs down to a low battery; hidupsd
//! sets FSD, the secondary shuts down and logs out, then hidupsd writes
//! the power-down flag and runs its SHUTDOWNCMD; the late `hidupsd
//! killpower` would then turn the UPS off. The secondary is a stock
//! Debian upsmon (skipped, with a note, where NUT's upsmon is not
//! installed), and hidupsd itself with nut.conf's `MODE=netclient`.

use crate::common;

use common::{dir_for, eventually, start_with, Guard};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const UPSMON: &str = "/lib/nut/upsmon";
const FIXTURE: &str = "apc-back-ups-bk650m2-ch";

/// When `path` appears, polling every 10 ms for up to 30 s.
fn appears(path: &Path) -> Option<Instant> {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if path.exists() {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn primary_sets_fsd_waits_for_the_stock_secondary_then_shuts_down() {
    if !Path::new(UPSMON).exists() {
        common::missing(&format!("{UPSMON} (Debian nut-client)"));
        return;
    }
    let _one = common::one_stock_upsmon();
    primary_sets_fsd_waits_for_the_secondary_then_shuts_down(false);
}

#[test]
fn primary_sets_fsd_waits_for_a_hidupsd_netclient_secondary_then_shuts_down() {
    primary_sets_fsd_waits_for_the_secondary_then_shuts_down(true);
}

/// `netclient`: the secondary is hidupsd with nut.conf's MODE=netclient,
/// else NUT's upsmon.
fn primary_sets_fsd_waits_for_the_secondary_then_shuts_down(netclient: bool) {
    let tag = if netclient {
        "monprimary-netclient"
    } else {
        "monprimary"
    };
    let dir = dir_for(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let rec = dir.join("bk650.rec");
    std::fs::write(
        &rec,
        common::recording(FIXTURE, "at 2 powercut\nat 5 lowbatt\n"),
    )
    .unwrap();
    let flag = dir.join("killpower");
    // Left from the last shutdown: the daemon removes it at start.
    std::fs::write(&flag, "upsmon-shutdown-file").unwrap();
    let notes = dir.join("notify.log");
    // FINALDELAY 1 (NUT's default is 5): the secondary starts its
    // SHUTDOWNCMD as it logs out, so the primary's own waits that long
    // after the logout before its own; with 0 the two race.
    let primary_conf = format!(
        "MONITOR bk650@localhost 1 admin pass primary\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/touch {dir}/primary\"\n\
         NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE $UPSNAME >> {notes}'\"\n\
         NOTIFYFLAG ONBATT SYSLOG+EXEC\nNOTIFYFLAG LOWBATT SYSLOG+EXEC\n\
         NOTIFYFLAG FSD SYSLOG+EXEC\nNOTIFYFLAG SHUTDOWN_HOSTSYNC SYSLOG+EXEC\n\
         NOTIFYFLAG SHUTDOWN SYSLOG+EXEC\n\
         HOSTSYNC 5\nFINALDELAY 1\n\
         POWERDOWNFLAG {flag}\n",
        dir = dir.display(),
        notes = notes.display(),
        flag = flag.display(),
    );
    let conf = format!("[bk650]\n\tdriver = sim\n\tport = \"{}\"\n", rec.display());
    // No space in the password: stock upsmon sends it unquoted.
    let users = "[monuser]\n\tpassword = monpass\n\tupsmon secondary\n";
    let d = start_with(tag, &conf, users, &[("upsmon.conf", &primary_conf)]);
    assert!(!flag.exists(), "the stale power-down flag was not removed");

    let sec = dir.join("upsmon-secondary");
    std::fs::create_dir_all(&sec).unwrap();
    let secondary_conf = format!(
        "MONITOR bk650@127.0.0.1:{port} 1 monuser monpass secondary\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/touch {dir}/secondary\"\n\
         NOTIFYFLAG ONBATT SYSLOG\nNOTIFYFLAG LOWBATT SYSLOG\nNOTIFYFLAG FSD SYSLOG\n\
         NOTIFYFLAG SHUTDOWN SYSLOG\nNOTIFYFLAG COMMBAD SYSLOG\nNOTIFYFLAG COMMOK SYSLOG\n\
         POLLFREQ 1\nPOLLFREQALERT 1\nFINALDELAY 0\n",
        port = d.port,
        dir = dir.display(),
    );
    std::fs::write(sec.join("upsmon.conf"), secondary_conf).unwrap();
    // Half a second out of phase with the script's whole seconds, so that
    // the secondary's 1 s polls do not land just after the LB by chance.
    std::thread::sleep(Duration::from_millis(500));
    let child = if netclient {
        std::fs::write(sec.join("nut.conf"), "MODE=netclient\n").unwrap();
        Command::new(env!("CARGO_BIN_EXE_hidupsd"))
            .args(["-c", sec.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(sec.join("hidupsd.log")).unwrap())
            .spawn()
            .unwrap()
    } else {
        Command::new(UPSMON)
            .args(["-F", "-p"])
            .env("NUT_CONFPATH", &sec)
            .env("NUT_STATEPATH", &sec)
            .env("NUT_ALTPIDPATH", &sec)
            // Its messages (on stdout, as it happens) for the check below.
            .stdout(std::fs::File::create(sec.join("upsmon.out")).unwrap())
            .stderr(std::fs::File::create(sec.join("upsmon.err")).unwrap())
            .spawn()
            .unwrap()
    };
    let _mon = Guard(child);

    // The scripted LB, as a client sees it.
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        s.write_all(b"GET VAR bk650 ups.status\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.split(['"', ' ']).any(|w| w == "LB") {
            break;
        }
        assert!(Instant::now() < end, "no LB: {line:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t_lb = Instant::now();
    drop((s, r));

    let secondary = appears(&dir.join("secondary"));
    if !netclient {
        common::assert_no_other_upsmon(&sec.join("upsmon.out"));
        common::assert_no_other_upsmon(&sec.join("upsmon.err"));
    }
    let secondary = secondary.expect("the secondary did not shut down");
    let primary = appears(&dir.join("primary")).expect("the primary did not shut down");
    let since_lb = |t: Instant| match t.checked_duration_since(t_lb) {
        Some(d) => d.as_secs_f64(),
        None => -t_lb.duration_since(t).as_secs_f64(),
    };
    println!(
        "from LB: secondary shut down after {:.2} s, primary after {:.2} s",
        since_lb(secondary),
        since_lb(primary)
    );
    // Before its own HOSTSYNC (15 s): it saw the FSD hidupsd set.
    assert!(since_lb(secondary) < 5.0, "the secondary saw no FSD");
    let mtime = |f: &str| std::fs::metadata(dir.join(f)).unwrap().modified().unwrap();
    assert!(
        mtime("secondary") <= mtime("primary"),
        "the primary went first"
    );
    assert_eq!(
        std::fs::read_to_string(&flag).unwrap(),
        "upsmon-shutdown-file"
    );
    let log = || std::fs::read_to_string(&notes).unwrap_or_default();
    assert!(
        eventually(5, || log().contains("SHUTDOWN\n")),
        "notices: {:?}",
        log()
    );
    // Each notice runs on its own, as upsmon's: their order may differ.
    let n = log();
    for want in [
        "ONBATT bk650@localhost\n",
        "LOWBATT bk650@localhost\n",
        "FSD bk650@localhost\n",
        "SHUTDOWN_HOSTSYNC\n",
        "SHUTDOWN\n",
    ] {
        assert!(n.contains(want), "no {want:?} in {n:?}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args(["killpower", "-c", dir.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    print!("{out}");
    assert_eq!(
        out,
        "bk650: shutdown.reboot: 1 report(s) to send (dry run)\n\
         bk650: SET_REPORT 0x40: 40 0a 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  \
         (shutdown.reboot 10 via UPS.APCGeneralCollection.APCDelayBeforeReboot)\n"
    );
}
