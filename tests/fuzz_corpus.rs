//! The fuzz seed corpora under `tests/fuzz/corpus/` in the ordinary suite:
//! every file in them is replayed through the fuzz entry points, and every
//! fixture's seed must equal what the fixture gives now. To regenerate the
//! seeds: `HIDUPSD_WRITE_CORPUS=1 cargo test --test fuzz_corpus`.

use hidupsd::fuzz;
use hidupsd::recording::Recording;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
type Target = fn(&[u8]);
const TARGETS: [(&str, Target); 2] = [("descriptor", fuzz::descriptor), ("device", fuzz::device)];

fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// (name, descriptor seed, device seed) for every fixture directory.
fn seeds() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let fixtures = Path::new(ROOT).join("tests/fixtures");
    dir_entries(&fixtures)
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| {
            let rec = Recording::load(&p).unwrap_or_else(|e| panic!("{e}"));
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, rec.descriptor.clone(), fuzz::encode_device(&rec))
        })
        .collect()
}

#[test]
fn seeds_match_fixtures() {
    let corpus = Path::new(ROOT).join("tests/fuzz/corpus");
    let write = std::env::var_os("HIDUPSD_WRITE_CORPUS").is_some_and(|v| v == "1");
    let all = seeds();
    assert!(all.len() >= 10, "only {} fixtures found", all.len());
    let mut stale = Vec::new();
    for (name, desc, dev) in &all {
        for (target, want) in [("descriptor", desc), ("device", dev)] {
            let path = corpus.join(target).join(name);
            if write {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            } else if fs::read(&path).ok().as_ref() != Some(want) {
                stale.push(path.strip_prefix(ROOT).unwrap().display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "fuzz seeds missing or out of date: {stale:?}\n\
         regenerate them with: HIDUPSD_WRITE_CORPUS=1 cargo test --test fuzz_corpus"
    );
}

#[test]
fn corpus_replays_without_panic() {
    let mut failed = Vec::new();
    let mut n = 0;
    for (target, run) in TARGETS {
        let dir = Path::new(ROOT).join("tests/fuzz/corpus").join(target);
        for path in dir_entries(&dir).into_iter().filter(|p| p.is_file()) {
            let data = fs::read(&path).unwrap();
            n += 1;
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(format!("{target}: {}", path.display()));
            }
        }
    }
    assert!(n > 0, "empty fuzz corpus");
    assert!(
        failed.is_empty(),
        "fuzz corpus inputs panicked: {failed:#?}"
    );
}
