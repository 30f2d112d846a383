//! A monitoring secondary logs in to hidupsd and sees a scripted power
//! cut: ONBATT when the simulated UPS goes on battery, ONLINE when power
//! returns, and no shutdown (the battery never got low). The secondary is
//! a stock Debian upsmon (skipped, with a note, where NUT's upsmon is not
//! installed), and hidupsd itself on a host whose nut.conf says
//! `MODE=netclient`: the monitor only, no listener, no UPS of its own.

use crate::common;

use common::{eventually, fixture, free_port, start, Guard};
use std::process::{Command, Stdio};
use std::time::Instant;

const UPSMON: &str = "/lib/nut/upsmon";

#[derive(Clone, Copy, PartialEq)]
enum Secondary {
    StockUpsmon,
    /// hidupsd with nut.conf's MODE=netclient.
    Netclient,
}

#[test]
fn stock_upsmon_secondary_sees_the_power_cut_and_its_return() {
    if !std::path::Path::new(UPSMON).exists() {
        common::missing(&format!("{UPSMON} (Debian nut-client)"));
        return;
    }
    let _one = common::one_stock_upsmon();
    secondary_sees_the_power_cut_and_its_return(Secondary::StockUpsmon);
}

#[test]
fn hidupsd_netclient_secondary_sees_the_power_cut_and_its_return() {
    secondary_sees_the_power_cut_and_its_return(Secondary::Netclient);
}

fn secondary_sees_the_power_cut_and_its_return(kind: Secondary) {
    let tag = match kind {
        Secondary::StockUpsmon => "upsmon",
        Secondary::Netclient => "netclient",
    };
    let script = std::env::temp_dir().join(format!("hidupsd-{tag}-{}.script", std::process::id()));
    std::fs::write(&script, "at 3 powercut\nat 9 powerback\n").unwrap();
    let text =
        std::fs::read_to_string(fixture("apc-back-ups-bk650m2-ch").join("reports.txt")).unwrap();
    let mut rec = String::new();
    for f in ["device.txt", "descriptor.hex"] {
        let t = std::fs::read_to_string(fixture("apc-back-ups-bk650m2-ch").join(f)).unwrap();
        if f == "descriptor.hex" {
            for l in t.lines() {
                rec += &format!("descriptor {l}\n");
            }
        } else {
            rec += &t;
        }
    }
    rec += &text;
    rec += &std::fs::read_to_string(&script).unwrap();
    let recording = std::env::temp_dir().join(format!("hidupsd-{tag}-{}.rec", std::process::id()));
    std::fs::write(&recording, rec).unwrap();
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n",
        recording.display()
    );
    let users = "[monuser]\n\tpassword = monpass\n\tupsmon secondary\n";
    let d = start(tag, &conf, users);

    let dir = d.dir.join("upsmon");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("notify.log");
    let upsmon_conf = format!(
        "MONITOR bk650@127.0.0.1:{port} 1 monuser monpass secondary\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/touch {dir}/shutdown\"\n\
         NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE >> {log}'\"\n\
         NOTIFYFLAG ONLINE EXEC\nNOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG LOWBATT EXEC\n\
         NOTIFYFLAG COMMOK EXEC\nNOTIFYFLAG COMMBAD EXEC\n\
         POLLFREQ 1\nPOLLFREQALERT 1\nDEADTIME 15\n\
         POWERDOWNFLAG {dir}/killpower\n",
        port = d.port,
        dir = dir.display(),
        log = log.display(),
    );
    std::fs::write(dir.join("upsmon.conf"), upsmon_conf).unwrap();
    let t0 = Instant::now();
    // The netclient's own server files, which it must leave alone: a
    // LISTEN port and a UPS it would otherwise serve.
    let unused_port = free_port();
    let child = match kind {
        Secondary::StockUpsmon => Command::new(UPSMON)
            .args(["-F", "-p"])
            .env("NUT_CONFPATH", &dir)
            .env("NUT_STATEPATH", &dir)
            .env("NUT_ALTPIDPATH", &dir)
            // Its messages (on stdout, as it happens) for the check below.
            .stdout(std::fs::File::create(dir.join("upsmon.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("upsmon.err")).unwrap())
            .spawn()
            .unwrap(),
        Secondary::Netclient => {
            std::fs::write(
                dir.join("nut.conf"),
                "# this host only monitors\nMODE=netclient\n",
            )
            .unwrap();
            std::fs::write(
                dir.join("upsd.conf"),
                format!("LISTEN 127.0.0.1 {unused_port}\n"),
            )
            .unwrap();
            std::fs::write(
                dir.join("ups.conf"),
                format!(
                    "[own]\n\tdriver = sim\n\tport = \"{}\"\n",
                    fixture("eaton-5sc-750").display()
                ),
            )
            .unwrap();
            Command::new(env!("CARGO_BIN_EXE_hidupsd"))
                .args(["-c", dir.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("hidupsd.log")).unwrap())
                .spawn()
                .unwrap()
        }
    };
    let _mon = Guard(child);
    // The secondary really logs in (a refused login would still let it
    // read, and hide a broken LOGIN).
    let port = d.port;
    let numlogins = move || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ = s.write_all(b"GET NUMLOGINS bk650\n");
        let mut b = [0u8; 64];
        let n = s.read(&mut b).unwrap_or(0);
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    // A stock upsmon that found another upsmon on this host has exited:
    // say so rather than wait for a login that cannot come.
    let refused = || {
        common::other_upsmon(&dir.join("upsmon.out"))
            || common::other_upsmon(&dir.join("upsmon.err"))
    };
    assert!(
        eventually(10, || refused() || numlogins() == "NUMLOGINS bk650 1\n"),
        "{}",
        numlogins()
    );
    common::assert_no_other_upsmon(&dir.join("upsmon.out"));
    common::assert_no_other_upsmon(&dir.join("upsmon.err"));
    let notes = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        eventually(20, || notes().contains("ONBATT")),
        "no ONBATT: {:?}",
        notes()
    );
    println!(
        "upsmon saw ONBATT {:.1} s after it started (power cut at 3 s)",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        eventually(20, || notes().contains("ONLINE")),
        "no ONLINE: {:?}",
        notes()
    );
    let n = notes();
    let (onbatt, online) = (n.find("ONBATT").unwrap(), n.rfind("ONLINE").unwrap());
    assert!(onbatt < online, "{n}");
    assert!(
        !dir.join("shutdown").exists(),
        "a secondary must not shut down without LB or FSD"
    );
    if kind == Secondary::Netclient {
        // Monitor only: nothing listens on its upsd.conf's port, and its
        // log says why.
        assert!(std::net::TcpStream::connect(("127.0.0.1", unused_port)).is_err());
        let log = std::fs::read_to_string(dir.join("hidupsd.log")).unwrap();
        assert!(
            log.contains("nut.conf:2: MODE=netclient: monitoring only"),
            "{log}"
        );
        assert!(!log.contains("own:"), "{log}");
    }
    let _ = std::fs::remove_file(&script);
    let _ = std::fs::remove_file(&recording);
}
