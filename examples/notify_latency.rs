//! Benchmark (with a functional check): how long from a status change in
//! the daemon's store to the notification, for the built-in monitor and
//! for a stock upsmon secondary polling over the network.
//!
//! A simulated UPS loses and regains mains four times; a client polls
//! `ups.status` every millisecond and notes when each change shows; both
//! monitors' NOTIFYCMD append the event and the wall-clock time. The
//! figures are printed (`make notify-latency`, which builds the release
//! daemon first); only the arrival of every notification is asserted.
//! The stock upsmon part is skipped where Debian's nut-client is not
//! installed. An example, not a test: it takes ten seconds.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{dir_for, start_with, Client};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const UPSMON: &str = "/lib/nut/upsmon";
/// Mains lost and back four times, a quarter second further into the
/// second each time, so that a monitor polling every second meets the
/// changes at four different phases of its poll.
const SCRIPT: &str = "at 1 powercut\nat 3.25 powerback\nat 5.5 powercut\nat 7.75 powerback\n";

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `EVENT SECONDS` lines of a NOTIFYCMD log.
fn events(path: &Path) -> Vec<(String, f64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (e, t) = l.split_once(' ')?;
            Some((e.to_string(), t.trim().parse().ok()?))
        })
        .collect()
}

fn notifycmd(log: &Path) -> String {
    format!(
        "NOTIFYCMD \"/bin/sh -c 'echo $NOTIFYTYPE $(date +%s.%N) >> {}'\"\n\
         NOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\n",
        log.display()
    )
}

/// For each change (`ONBATT`/`ONLINE` at a time), the delay until the
/// first matching notice at or after it, in ms.
fn delays(changes: &[(String, f64)], notes: &[(String, f64)]) -> Vec<Option<f64>> {
    changes
        .iter()
        .map(|(ev, t)| {
            notes
                .iter()
                .filter(|(e, nt)| e == ev && *nt >= *t - 0.002)
                .map(|(_, nt)| (nt - t) * 1000.0)
                .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))))
        })
        .collect()
}

fn show(who: &str, d: &[Option<f64>]) {
    let v: Vec<String> = d
        .iter()
        .map(|x| x.map_or("missed".into(), |ms| format!("{ms:.1} ms")))
        .collect();
    let got: Vec<f64> = d.iter().flatten().copied().collect();
    let mean = got.iter().sum::<f64>() / got.len().max(1) as f64;
    println!("{who}: {} (mean {mean:.1} ms)", v.join(", "));
}

fn main() {
    let tag = "notify-latency";
    let dir = dir_for(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let rec = common::recording("apc-back-ups-es-850g2", SCRIPT);
    std::fs::write(dir.join("ups.rec"), rec).unwrap();
    let inproc = dir.join("inproc.log");
    let upsmon_conf = format!(
        "MONITOR es850@localhost 1 admin pass primary\nMINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/true\"\n{}",
        notifycmd(&inproc)
    );
    let users = "[mon]\n\tpassword = monpass\n\tupsmon secondary\n";
    let d = start_with(
        tag,
        "[es850]\n\tdriver = sim\n\tport = ups.rec\n",
        users,
        &[("upsmon.conf", &upsmon_conf)],
    );
    let t_start = Instant::now();

    let stock = Path::new(UPSMON).exists();
    let sec = dir.join("secondary");
    let stock_log = sec.join("notify.log");
    let _mon = stock.then(|| {
        std::fs::create_dir_all(&sec).unwrap();
        std::fs::write(
            sec.join("upsmon.conf"),
            format!(
                "MONITOR es850@127.0.0.1:{} 1 mon monpass secondary\nMINSUPPLIES 1\n\
                 SHUTDOWNCMD \"/bin/true\"\nPOLLFREQ 1\nPOLLFREQALERT 1\n{}",
                d.port,
                notifycmd(&stock_log)
            ),
        )
        .unwrap();
        common::Guard(
            Command::new(UPSMON)
                .args(["-F", "-p"])
                .env("NUT_CONFPATH", &sec)
                .env("NUT_STATEPATH", &sec)
                .env("NUT_ALTPIDPATH", &sec)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    });

    // When each change shows in the store, as a client sees it.
    let mut c = Client::connect(d.port);
    let mut changes = Vec::new();
    let mut last_ob = false;
    while t_start.elapsed() < Duration::from_secs(10) && changes.len() < 4 {
        let r = c.ask("GET VAR es850 ups.status\n");
        let t = now_s();
        let ob = r.contains("\"OB") || r.contains(" OB");
        if ob != last_ob {
            changes.push((if ob { "ONBATT" } else { "ONLINE" }.to_string(), t));
            last_ob = ob;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(changes.len(), 4, "the script's changes did not all show");
    // Let the last notices land (the stock one polls every second).
    std::thread::sleep(Duration::from_millis(2500));

    let ours = delays(&changes, &events(&inproc));
    show("built-in monitor, change to NOTIFYCMD", &ours);
    assert!(
        ours.iter().all(Option::is_some),
        "a notice was missed: {:?}",
        events(&inproc)
    );
    if stock {
        // Its first ONLINE after start is not notified by design; the
        // first change here is ONBATT, so all four count.
        let theirs = delays(&changes, &events(&stock_log));
        show(
            "stock upsmon secondary (POLLFREQ 1), change to NOTIFYCMD",
            &theirs,
        );
        assert!(
            theirs.iter().all(Option::is_some),
            "the stock secondary missed a notice: {:?}",
            events(&stock_log)
        );
    } else {
        println!("stock upsmon part skipped: {UPSMON} (Debian nut-client) is not installed");
    }
}
