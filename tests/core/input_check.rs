//! Every input report recorded from a real UPS fits its descriptor (no
//! false alarm in the log), and reports that do not fit are named.

use hidupsd::recording::Recording;
use hidupsd::ups::engine::Ups;
use hidupsd::ups::options::Options;
use std::path::Path;

#[test]
fn recorded_input_reports_fit_and_bad_ones_are_named() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let Ok(rec) = Recording::load(&p) else {
            continue;
        };
        let Ok(ups) = Ups::new(&rec.descriptor, rec.ident.clone(), Options::default()) else {
            continue;
        };
        for r in &rec.inputs {
            assert_eq!(ups.check_input(r), Ok(()), "{}: {r:02x?}", p.display());
            checked += 1;
            let mut short = r.clone();
            short.pop();
            let e = ups.check_input(&short).unwrap_err();
            assert!(e.contains("data bytes where the descriptor says"), "{e}");
            let mut long = r.clone();
            long.push(0);
            assert!(ups.check_input(&long).is_err());
        }
    }
    println!("{checked} recorded input reports checked");
    assert!(checked >= 1, "no input report in the fixtures");
}

/// A write is read back from the device at once: clients see what the
/// UPS took without waiting for the next poll.
#[test]
fn a_written_variable_reads_back_at_once() {
    use hidupsd::cli::decode::decode;
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apc-back-ups-es-850g2");
    let rec = Recording::load(&p).unwrap();
    let (mut ups, mut io) = decode(&rec, Options::default()).unwrap();
    assert_eq!(ups.store.get("battery.charge.low"), Some("10"));
    assert!(ups.store.is_rw("battery.charge.low"));
    let gen = ups.store.generation;
    ups.setvar("battery.charge.low", "25", &mut io, 1_000_000)
        .unwrap();
    assert_eq!(io.writes.len(), 1, "one SET_REPORT");
    assert_eq!(ups.store.get("battery.charge.low"), Some("25"));
    assert!(ups.store.generation > gen, "the change is published");
}
