//! Megatec/Q1 units (src/qx): the recorded Phoenixtec 06da:0003 unit
//! (a vendor-defined HID pipe that usbhid-ups refuses) served through
//! nutdrv_qx's ippon bridge framing and megatec protocol.

use hidupsd::cli::decode;
use hidupsd::hid::Descriptor;
use hidupsd::qx::bridge::{BridgeLink, SimWire};
use hidupsd::qx::usbid::{choose, Serve};
use hidupsd::qx::{Bridge, Qx, QxOptions};
use hidupsd::recording::Recording;
use std::path::PathBuf;

fn fixture() -> Recording {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/phoenixtec-06da-0003-megatec-over-hid");
    Recording::load(&p).unwrap()
}

#[test]
fn phoenixtec_fixture_is_a_megatec_unit_behind_ippon() {
    let rec = fixture();
    let power = Descriptor::parse(&rec.descriptor).is_ok_and(|d| d.is_power_device());
    assert!(!power);
    let serve = choose(
        power,
        None,
        rec.ident.vid,
        rec.ident.pid,
        None,
        rec.ident.product.as_deref(),
    );
    assert_eq!(serve, Serve::Megatec(Bridge::Ippon));
}

#[test]
fn phoenixtec_fixture_decodes_as_nutdrv_qx_publishes() {
    let rec = fixture();
    let qx = decode::decode_qx(&rec, &QxOptions::default()).unwrap();
    assert_eq!(qx.proto.name, "megatec");
    let vars = qx.sorted_vars();
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // Values as nutdrv_qx computes them from these answers (and not the
    // false "OB" usbhid-ups reports for this descriptor).
    for (k, v) in [
        ("ups.status", "OL"),
        ("input.voltage", "215.0"),
        ("output.voltage", "230.0"),
        ("battery.voltage", "22.70"),
        ("battery.charge", "37"),
        ("ups.load", "14"),
        ("ups.vendorid", "06da"),
        ("ups.productid", "0003"),
        ("ups.delay.shutdown", "30"),
        ("driver.version.data", "Megatec 0.06"),
    ] {
        assert_eq!(get(k), Some(v), "{k}");
    }
}

#[test]
fn phoenixtec_answers_through_the_ippon_framing() {
    let rec = fixture();
    let answers = rec.answers.clone();
    let wire = SimWire::new(Bridge::Ippon, move |cmd: &[u8]| {
        answers
            .iter()
            .find(|(c, _)| c.as_slice() == cmd)
            .map(|(_, a)| a.clone())
    });
    let mut link = BridgeLink::new(Bridge::Ippon, wire);
    let mut qx = Qx::probe(&mut link, &QxOptions::default()).unwrap();
    qx.init(&mut link, 0).unwrap();
    assert_eq!(qx.store.get("ups.status"), Some("OL"));
    qx.instcmd("test.battery.start.quick", None, &mut link)
        .unwrap();
    assert_eq!(link.wire.received.last().unwrap(), b"T\r");
}

use crate::common;

/// Is a NUT client installed? In CI (CI=true) a missing one fails.
fn nut(tool: &str) -> bool {
    if common::have(tool) {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "{tool} is needed in CI (apt-get install nut-client)"
    );
    eprintln!("note: {tool} not installed: its checks skipped");
    false
}

#[test]
fn the_daemon_serves_a_simulated_megatec_unit_to_nut_clients() {
    // The Phoenixtec fixture's answers, with a power cut after 2 s.
    let src = fixture();
    let mut text = String::from("vendorid 06da\nproductid 0003\nproduct \"USB UPS\"\ndescriptor");
    for b in &src.descriptor {
        text.push_str(&format!(" {b:02x}"));
    }
    text.push('\n');
    for (c, a) in &src.answers {
        text.push_str(&format!(
            "answer {} {}\n",
            hidupsd::recording::c_quote(c),
            hidupsd::recording::c_quote(a)
        ));
    }
    text.push_str("at 2 powercut\n");
    let conf = "[mega]\n  driver = sim\n  port = mega.txt\n  pollinterval = 1\n";
    let users = "[admin]\n  password = pw\n  actions = SET\n  instcmds = ALL\n";
    let d = common::start_with("qx", conf, users, &[("mega.txt", &text)]);
    let mut c = common::Client::connect(d.port);
    let st = c.until("GET VAR mega ups.status\n", |r| r.contains("\"OL\""));
    assert_eq!(st, "VAR mega ups.status \"OL\"\n", "{}", d.log());
    c.expect(
        "GET VAR mega battery.charge\n",
        "VAR mega battery.charge \"37\"\n",
    );
    c.expect(
        "GET VAR mega driver.version.data\n",
        "VAR mega driver.version.data \"Megatec 0.06\"\n",
    );
    let log = d.log();
    assert!(
        log.contains("Megatec/Q1 protocol megatec through the ippon bridge"),
        "{log}"
    );
    let st = c.until("GET VAR mega ups.status\n", |r| r.contains("\"OB\""));
    assert_eq!(st, "VAR mega ups.status \"OB\"\n");
    let host = format!("mega@127.0.0.1:{}", d.port);
    if nut("upsc") {
        let out = common::run("upsc", &[&host]);
        for line in [
            "input.voltage: 215.0",
            "ups.type: online",
            "ups.delay.shutdown: 30",
            "device.type: ups",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }
    if nut("upscmd") {
        let listed = common::run("upscmd", &["-l", &host]);
        assert!(
            listed.contains("beeper.toggle") && listed.contains("shutdown.return"),
            "{listed}"
        );
        let err = common::run_err(
            "upscmd",
            &[
                "-u",
                "admin",
                "-p",
                "pw",
                "-w",
                &host,
                "test.battery.start",
                "120",
            ],
        );
        assert!(err.contains("SUCCESS"), "{err}");
        let err = common::run_err(
            "upscmd",
            &[
                "-u",
                "admin",
                "-p",
                "pw",
                "-w",
                &host,
                "test.battery.start",
                "30",
            ],
        );
        assert!(err.contains("INVALID-ARGUMENT"), "{err}");
    }
    if nut("upsrw") {
        let err = common::run_err(
            "upsrw",
            &[
                "-s",
                "ups.delay.shutdown=125",
                "-u",
                "admin",
                "-p",
                "pw",
                "-w",
                &host,
            ],
        );
        assert!(err.contains("SUCCESS"), "{err}");
        c.expect(
            "GET VAR mega ups.delay.shutdown\n",
            "VAR mega ups.delay.shutdown \"120\"\n",
        );
    }
}
