//! The steady state allocates nothing: after set-up, decoding every
//! report of every fixture (walks, interrupt reports, field reads) makes
//! no heap allocation. A counting global allocator checks it; this file
//! holds a single test so no other test's allocations are counted.

mod counting;

use hidupsd::cli::decode;
use hidupsd::hid::report;
use hidupsd::recording::Recording;
use hidupsd::ups::options::Options;
use std::path::Path;

#[test]
fn decoding_reports_allocates_nothing_after_setup() {
    let mut checked = 0;
    let mut dirs: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("descriptor.hex").exists())
            .collect();
    dirs.sort();
    for dir in dirs {
        let rec = Recording::load(&dir).unwrap();
        let Ok((mut ups, mut io)) = decode::decode(&rec, Options::default()) else {
            continue;
        };
        let fields = ups.desc.fields().to_vec();
        let mut t = ups.next_full() + 1;
        let before = counting::allocations();
        for round in 0..3 {
            // Quick walk, full walk (cache expired), then every input report.
            t += 2_500;
            ups.update(&mut io, t);
            t = ups.next_full() + 1 + round;
            ups.update(&mut io, t);
            for r in &rec.inputs {
                ups.on_input(r, &mut io, t);
            }
            for f in &fields {
                if let Some(l) = report::get(ups.report(f.report_id), f) {
                    std::hint::black_box(report::value(f, l));
                }
            }
        }
        let n = counting::allocations() - before;
        assert_eq!(n, 0, "{}: {n} allocations while decoding", dir.display());
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} fixtures decoded");
    println!("{checked} fixtures: 0 allocations per report");
}
