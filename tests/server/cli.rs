//! `hidupsd decode` as users run it: the real binary on fixtures and on
//! broken input. Errors are one line naming the culprit, with a non-zero
//! exit, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("hidupsd-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success());
    assert_eq!(o.status.code(), Some(1), "a panic would exit 101");
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    e
}

#[test]
fn decode_prints_sorted_variables() {
    let o = run(&["decode", &fixture("apc-back-ups-bk650m2-ch")]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let names: Vec<&str> = out.lines().map(|l| l.split(": ").next().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(out.contains("\nbattery.charge: 100\n") || out.starts_with("battery.charge: 100\n"));
    assert!(out.contains("ups.status: OL DISCHRG\n"), "{out}");
}

#[test]
fn explore_lists_every_field_with_its_path() {
    let o = run(&["decode", "--explore", &fixture("eaton-5sc-750")]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("UPS.PowerSummary.RemainingCapacity = 100"),
        "{out}"
    );
    assert!(out.contains("UPS.Flow.[4].ConfigApparentPower"), "{out}");
    assert!(out.lines().count() > 150);
}

#[test]
fn explore_says_not_read_exactly_for_reports_the_recording_lacks() {
    // A report never read has no value (its bytes would be the cache's
    // zeros): explore says so, and shows every recorded one.
    for name in ["eaton-5sc-750", "apc-smart-ups-x-750", "unknown-5131-2007"] {
        let dir = fixture(name);
        let recorded: Vec<u8> = std::fs::read_to_string(Path::new(&dir).join("reports.txt"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| u8::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
            .collect();
        let o = run(&["decode", "--explore", &dir]);
        assert!(o.status.success());
        let out = String::from_utf8(o.stdout).unwrap();
        let (mut unread, mut read) = (0, 0);
        for l in out.lines().filter(|l| l.starts_with("0x")) {
            let id = u8::from_str_radix(&l[2..4], 16).unwrap();
            if l.contains(" Output ") {
                continue;
            }
            let said = l.contains(" = not read [");
            assert_eq!(said, !recorded.contains(&id), "{name}: {l}");
            if said {
                unread += 1;
            } else {
                read += 1;
            }
        }
        println!("{name}: {read} fields read, {unread} not read");
        assert_eq!(read > 0, !recorded.is_empty(), "{name}");
    }
}

#[test]
fn a_recording_file_decodes_like_its_fixture_directory() {
    let dir = fixture("cps-cp1500avrlcda");
    let mut text = String::new();
    for f in ["device.txt", "reports.txt"] {
        text += &std::fs::read_to_string(Path::new(&dir).join(f)).unwrap();
    }
    let desc = std::fs::read_to_string(Path::new(&dir).join("descriptor.hex")).unwrap();
    for l in desc.lines() {
        text += &format!("descriptor {l}\n");
    }
    let file = tmp("rec.txt", &text);
    let a = run(&["decode", &dir]);
    let b = run(&["decode", file.to_str().unwrap()]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn non_ups_and_broken_input_give_one_line_errors() {
    // Not a Power Device, but a Megatec/Q1 unit with recorded answers:
    // served as nutdrv_qx would; without its answers it is refused.
    let out = run(&["decode", &fixture("phoenixtec-06da-0003-megatec-over-hid")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ups.status: OL\n") && text.contains("driver.version.data: Megatec 0.06\n"),
        "{text}"
    );
    let f = tmp(
        "megatec-no-answers.txt",
        "vendorid 06da\nproductid 0003\ndescriptor 06 a0 ff 09 04 a1 01 09 06 15 00 26 ff 00 75 08 95 08 81 82 c0\n",
    );
    let e = one_line_error(&run(&["decode", f.to_str().unwrap()]));
    assert!(e.contains("not a HID Power Device"), "{e}");
    let e = one_line_error(&run(&["decode", "/nonexistent/ups"]));
    assert!(e.contains("/nonexistent/ups"), "{e}");
    let f = tmp(
        "trunc.txt",
        "vendorid 051d\nproductid 0002\ndescriptor 05 84 09 04 a1 01 27 01\n",
    );
    let e = one_line_error(&run(&["decode", f.to_str().unwrap()]));
    assert!(e.contains("runs past the end"), "{e}");
    let f = tmp("garbage.txt", "vendorid 051d\ndescriptor 05 84 zz\n");
    let e = one_line_error(&run(&["decode", f.to_str().unwrap()]));
    assert!(e.contains(":2:") && e.contains("'zz'"), "{e}");
    let f = tmp(
        "unbalanced.txt",
        "descriptor 05 84 09 04 a1 01 09 30 75 08 95 01 b1 02\n",
    );
    let e = one_line_error(&run(&["decode", f.to_str().unwrap()]));
    assert!(e.contains("ends inside a collection"), "{e}");
    let e = one_line_error(&run(&["record", "/dev/hidraw-none"]));
    assert!(e.contains("/dev/hidraw-none"), "{e}");
    let e = one_line_error(&run(&["record", "/dev/null", "soon"]));
    assert!(e.contains("'soon' is not a number"), "{e}");
    let e = one_line_error(&run(&["frobnicate"]));
    assert!(e.contains("unknown command"), "{e}");
}

#[test]
fn dash_b_detaches_after_checking_the_configuration() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    // A bad configuration is refused before detaching, on the terminal.
    let e = one_line_error(&run(&["-B", "-c", "/nonexistent/dir", "--listen", &listen]));
    assert!(e.contains("/nonexistent/dir"), "{e}");
    let pidfile = std::env::temp_dir().join(format!("hidupsd-cli-{}.pid", std::process::id()));
    let st = Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args([
            "--simulate",
            &fixture("eaton-3s-700"),
            "--listen",
            &listen,
            "-B",
            "--pidfile",
            pidfile.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(st.status.success());
    // Without a syslog daemon, the terminal is told where the log goes
    // before the daemon detaches (the kernel log, else nowhere).
    let said = String::from_utf8_lossy(&st.stderr);
    if !Path::new("/dev/log").exists() {
        assert!(said.contains("no syslog (/dev/log: "), "{said:?}");
        assert!(
            said.contains("messages go to the kernel log (dmesg)")
                || said.contains("messages go to standard error"),
            "{said:?}"
        );
    }
    println!("-B said: {said:?}");
    // The detached server answers; then stop it.
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(&listen) {
            use std::io::{Read, Write};
            s.write_all(b"GET VAR eaton-3s-700 ups.status\n").unwrap();
            let mut b = [0u8; 128];
            let n = s.read(&mut b).unwrap();
            ok = b[..n].starts_with(b"VAR eaton-3s-700 ups.status ");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Its pid file names it; SIGTERM stops it and the file goes.
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    let pid: i32 = pid.trim().parse().unwrap_or(0);
    let alive = || Path::new(&format!("/proc/{pid}")).exists();
    let stopped = pid > 0 && {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            !alive() && !pidfile.exists()
        })
    };
    if !stopped {
        let _ = Command::new("pkill")
            .args(["-f", "--", &format!("--listen {listen} -B")])
            .status();
    }
    assert!(ok, "the detached server did not answer");
    assert!(pid > 0, "no pid in {}", pidfile.display());
    assert!(
        stopped,
        "SIGTERM did not stop {pid}, or the pid file stayed"
    );
}

#[test]
fn killpower_needs_the_flag_and_dry_run_shows_the_writes() {
    let dir = std::env::temp_dir().join(format!("hidupsd-kp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("killpower");
    std::fs::write(
        dir.join("upsmon.conf"),
        format!(
            "MONITOR cps@localhost 1 mon pass primary\nSHUTDOWNCMD \"/sbin/shutdown -h now\"\nPOWERDOWNFLAG {}\n",
            flag.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("ups.conf"),
        format!(
            "[cps]\n\tdriver = sim\n\tport = \"{}\"\n\toffdelay = 60\n\tondelay = 180\n",
            fixture("cps-or2200lcdrt2u")
        ),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let o = run(&["killpower", "-c", d, "--dry-run"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("no power-down flag at "));
    // An empty or foreign file is not upsmon's flag: left alone, as the
    // daemon leaves it.
    for junk in ["", "garbage\n"] {
        std::fs::write(&flag, junk).unwrap();
        let o = run(&["killpower", "-c", d, "--dry-run"]);
        assert!(o.status.success());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("was not written by upsmon"), "{out}");
        assert!(!out.contains("SET_REPORT"), "{out}");
    }
    std::fs::write(&flag, "upsmon-shutdown-file").unwrap();
    let o = run(&["killpower", "-c", d, "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // CyberPower counts whole minutes: 180 s and 60 s are written as 3 and 1.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "cps: shutdown.return: 2 report(s) to send (dry run)\n\
         cps: SET_REPORT 0x16: 16 03 00  (load.on.delay 180 via UPS.Output.DelayBeforeStartup)\n\
         cps: SET_REPORT 0x15: 15 01 00  (load.off.delay 60 via UPS.Output.DelayBeforeShutdown)\n"
    );
    let e = one_line_error(&run(&["killpower", "-c", "/nonexistent"]));
    assert!(e.contains("/nonexistent"), "{e}");
    // A host without a monitor: nothing to do, and no failure.
    std::fs::remove_file(dir.join("upsmon.conf")).unwrap();
    let o = run(&["killpower", "-c", d]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to do"));
    // Debian's stock upsmon.conf (settings and POWERDOWNFLAG, no
    // MONITOR): the shutdown hook runs at every shutdown and must not
    // fail; with upsmon's flag there, it would act.
    let stock = "MINSUPPLIES 1\nSHUTDOWNCMD \"/sbin/shutdown -h +0\"\nPOLLFREQ 5\n\
                 POLLFREQALERT 5\nHOSTSYNC 15\nDEADTIME 15\n";
    std::fs::write(
        dir.join("upsmon.conf"),
        format!(
            "{stock}POWERDOWNFLAG {}\nRBWARNTIME 43200\n",
            flag.display()
        ),
    )
    .unwrap();
    std::fs::remove_file(&flag).unwrap();
    let o = run(&["killpower", "-c", d]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("no power-down flag at "));
    std::fs::write(&flag, "upsmon-shutdown-file\n").unwrap();
    let o = run(&["killpower", "-c", d, "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("cps: shutdown.return"));
    // Without POWERDOWNFLAG at all: nothing to look for.
    std::fs::write(dir.join("upsmon.conf"), stock).unwrap();
    let o = run(&["killpower", "-c", d]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("sets no POWERDOWNFLAG"));
    // A broken file is still an error, naming the line.
    std::fs::write(dir.join("upsmon.conf"), "POWERDOWNFLAG /x\nBOGUS 1\n").unwrap();
    let e = one_line_error(&run(&["killpower", "-c", d]));
    assert!(e.contains("upsmon.conf:2"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_scan_and_contradicting_options() {
    // -c reads upsmon.conf (and nut.conf) too, as the manual says.
    let o = run(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    let c = &help[help.find("  -c DIR").unwrap()..];
    let c = &c[..c.find("\n  decode").unwrap()];
    for f in [
        "ups.conf",
        "upsd.conf",
        "upsd.users",
        "upsmon.conf",
        "nut.conf",
    ] {
        assert!(c.contains(f), "{f} not in: {c}");
    }
    // -B detaches, -F stays: both at once is refused, before anything runs.
    let e = one_line_error(&run(&["-B", "-F", "--simulate", &fixture("eaton-3s-700")]));
    assert!(e.contains("-B and -F"), "{e}");
    // No UPS here (no hidraw nodes we may open, or none at all): a scan
    // that finds nothing fails, so scripts can tell.
    let have_ups = std::fs::read_dir("/sys/class/hidraw").is_ok_and(|d| d.count() > 0);
    if !have_ups {
        let e = one_line_error(&run(&["scan"]));
        assert!(e.contains("no UPS found"), "{e}");
    }
    // decode of a device node that is not a UPS says so.
    let e = one_line_error(&run(&["decode", "/dev/null"]));
    assert!(
        e.contains("/dev/null: neither a USB HID Power Device nor a Megatec/Q1 unit"),
        "{e}"
    );
}

/// nut.conf's MODE, as NUT's scripts read it: none starts nothing (with
/// a message saying what to set), netclient needs an upsmon.conf and
/// serves nothing, so --simulate or --listen with it is refused.
#[test]
fn nut_conf_mode_none_and_netclient() {
    let dir = std::env::temp_dir().join(format!("hidupsd-cli-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    // Debian's file as nut-client installs it.
    std::fs::write(dir.join("nut.conf"), "# MODE=standalone\nMODE=none\n").unwrap();
    let e = one_line_error(&run(&["-c", d, "--listen", "127.0.0.1:0"]));
    assert!(
        e.contains("nut.conf:2: MODE=none: NUT is not to run on this host")
            && e.contains("set MODE=standalone"),
        "{e}"
    );
    std::fs::write(dir.join("nut.conf"), "MODE=netclient\n").unwrap();
    let e = one_line_error(&run(&["-c", d]));
    assert!(e.contains("MODE=netclient runs the monitor only"), "{e}");
    // Debian's stock upsmon.conf (no MONITOR) is nothing to monitor either.
    std::fs::write(
        dir.join("upsmon.conf"),
        "MINSUPPLIES 1\nPOWERDOWNFLAG /etc/killpower\n",
    )
    .unwrap();
    let e = one_line_error(&run(&["-c", d]));
    assert!(
        e.contains("no MONITOR line: MODE=netclient runs the monitor only"),
        "{e}"
    );
    std::fs::write(
        dir.join("upsmon.conf"),
        "MONITOR ups@192.0.2.1 1 mon pw secondary\nSHUTDOWNCMD /bin/true\n",
    )
    .unwrap();
    let e = one_line_error(&run(&["-c", d, "--simulate", &fixture("eaton-3s-700")]));
    assert!(e.contains("this host only monitors, and --simulate"), "{e}");
    std::fs::write(dir.join("nut.conf"), "MODE=netclients\n").unwrap();
    let e = one_line_error(&run(&["-c", d]));
    assert!(
        e.contains("nut.conf:1: MODE: expected none, standalone"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run the daemon on a configuration directory that must be refused:
/// it exits 1 within 10 s with one line naming the culprit.
fn refused_config(name: &str, files: &[(&str, &[u8])]) -> String {
    let dir = std::env::temp_dir().join(format!("hidupsd-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    // Never port 3493, should the configuration be taken after all.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args(["-c", dir.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            panic!("{name}: still running after 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut e = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut e).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status.code(), Some(1), "{name}: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    e
}

#[test]
fn a_device_as_a_recording_and_a_nul_in_a_value_are_refused() {
    let e = refused_config(
        "zero",
        &[(
            "ups.conf",
            b"[sim]\n\tdriver = sim\n\tport = /dev/zero\n".as_slice(),
        )],
    );
    assert!(
        e.contains("/dev/zero: larger than 4 MiB: not a recording"),
        "{e}"
    );
    let e = refused_config(
        "nul",
        &[(
            "upsd.users",
            b"[admin]\n\tpassword = a\0b\n\tinstcmds = all\n".as_slice(),
        )],
    );
    assert!(e.contains("upsd.users:2: NUL byte (0x00)"), "{e}");
}
