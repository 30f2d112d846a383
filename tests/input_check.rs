//! Every input report recorded from a real UPS fits its descriptor (no
//! false alarm in the log), and reports that do not fit are named.

use hidupsd::recording::Recording;
use hidupsd::ups::engine::{Options, Ups};
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
