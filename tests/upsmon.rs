//! A stock Debian upsmon, as a secondary, logs in to hidupsd and sees a
//! scripted power cut: ONBATT when the simulated UPS goes on battery,
//! ONLINE when power returns, and no shutdown (the battery never got low).
//! Skipped, with a note, where NUT's upsmon is not installed.

mod common;

use common::{eventually, fixture, start, Guard};
use std::process::{Command, Stdio};
use std::time::Instant;

const UPSMON: &str = "/lib/nut/upsmon";

#[test]
fn stock_upsmon_secondary_sees_the_power_cut_and_its_return() {
    if !std::path::Path::new(UPSMON).exists() {
        println!("skipped: {UPSMON} (Debian nut-client) is not installed");
        return;
    }
    let script = std::env::temp_dir().join(format!("hidupsd-upsmon-{}.script", std::process::id()));
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
    let recording = std::env::temp_dir().join(format!("hidupsd-upsmon-{}.rec", std::process::id()));
    std::fs::write(&recording, rec).unwrap();
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n",
        recording.display()
    );
    let users = "[monuser]\n\tpassword = monpass\n\tupsmon secondary\n";
    let d = start("upsmon", &conf, users);

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
    let child = Command::new(UPSMON)
        .args(["-F", "-p"])
        .env("NUT_CONFPATH", &dir)
        .env("NUT_STATEPATH", &dir)
        .env("NUT_ALTPIDPATH", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    assert!(
        eventually(10, || numlogins() == "NUMLOGINS bk650 1\n"),
        "{}",
        numlogins()
    );
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
    let _ = std::fs::remove_file(&script);
    let _ = std::fs::remove_file(&recording);
}
