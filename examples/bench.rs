//! Benchmark (not a test): nanoseconds per decoded report. For each
//! fixture, a full walk re-reads every Feature report (cache expired) and
//! maps every entry; the time is divided by the number of reports it read.
//! Interrupt reports are timed one by one through `on_input`.
//! Run: `cargo run --release --example bench`.

use hidupsd::cli::decode;
use hidupsd::hid::ReportType;
use hidupsd::recording::Recording;
use hidupsd::ups::options::Options;
use std::path::Path;
use std::time::Instant;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let (mut total_ns, mut total_reports) = (0f64, 0u64);
    println!(
        "{:<40} {:>8} {:>12} {:>12}",
        "fixture", "reports", "ns/report", "ns/input"
    );
    for dir in dirs.iter().filter(|d| d.join("descriptor.hex").exists()) {
        let rec = Recording::load(dir).unwrap();
        let Ok((mut ups, mut io)) = decode::decode(&rec, Options::default()) else {
            continue;
        };
        let reports = ups.desc.report_ids(ReportType::Feature).len().max(1) as u64;
        let rounds = 2000u64;
        let mut t = ups.next_full();
        let start = Instant::now();
        for _ in 0..rounds {
            t = ups.next_full() + 1;
            ups.update(&mut io, t);
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * reports) as f64;
        total_ns += ns * reports as f64;
        total_reports += reports;
        let input_ns = if rec.inputs.is_empty() {
            "-".to_string()
        } else {
            let start = Instant::now();
            for _ in 0..rounds {
                for r in &rec.inputs {
                    ups.on_input(std::hint::black_box(r), &mut io, t);
                }
            }
            format!(
                "{:.0}",
                start.elapsed().as_nanos() as f64 / (rounds as usize * rec.inputs.len()) as f64
            )
        };
        let name = dir.file_name().unwrap().to_string_lossy();
        println!("{name:<40} {reports:>8} {ns:>12.0} {input_ns:>12}");
    }
    println!(
        "mean over all feature reports: {:.0} ns per decoded report",
        total_ns / total_reports as f64
    );
}
