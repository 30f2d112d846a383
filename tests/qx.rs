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
    let vars = decode::sorted_qx_vars(&qx);
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
