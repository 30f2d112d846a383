//! The fuzz seed corpora under `tests/fuzz/corpus/` in the ordinary suite:
//! every file in them is replayed through the fuzz entry points (one
//! directory per cargo-fuzz target), and every fixture's seed must equal
//! what the fixture gives now. The protocol and configuration seeds are
//! written by hand (stock client sessions, the test suite's and Debian's
//! configuration files) plus the reproducers of what fuzzing found. To regenerate the
//! seeds: `HIDUPSD_WRITE_CORPUS=1 cargo test --test fuzz_corpus`.

use hidupsd::fuzz;
use hidupsd::recording::Recording;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
type Target = fn(&[u8]);
const TARGETS: [(&str, Target); 7] = [
    ("descriptor", fuzz::descriptor),
    ("device", fuzz::device),
    ("protocol", fuzz::protocol),
    ("ups_conf", fuzz::ups_conf),
    ("upsd_conf", fuzz::upsd_conf),
    ("upsd_users", fuzz::upsd_users),
    ("upsmon_conf", fuzz::upsmon_conf),
];

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
    let mut empty = Vec::new();
    for (target, run) in TARGETS {
        let dir = Path::new(ROOT).join("tests/fuzz/corpus").join(target);
        let mut n = 0;
        for path in dir_entries(&dir).into_iter().filter(|p| p.is_file()) {
            let data = fs::read(&path).unwrap();
            n += 1;
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(format!("{target}: {}", path.display()));
            }
        }
        if n == 0 {
            empty.push(target);
        }
    }
    assert!(empty.is_empty(), "fuzz targets without a corpus: {empty:?}");
    assert!(
        failed.is_empty(),
        "fuzz corpus inputs panicked: {failed:#?}"
    );
}

/// The hand-written seeds reach past the first error: each configuration
/// seed named after where it came from parses, and the protocol seeds of
/// stock clients get the replies that show the dispatch ran (logins,
/// rights, lists, tracking).
#[test]
fn seeds_reach_the_parsers_and_the_dispatch() {
    use hidupsd::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
    let corpus = Path::new(ROOT).join("tests/fuzz/corpus");
    let read = |t: &str, f: &str| fs::read(corpus.join(t).join(f)).unwrap();
    let p = Path::new("seed");
    for f in [
        "debian-stock",
        "every-typed-option",
        "tests-daemon",
        "tests-fsd",
    ] {
        ups_conf::parse(p, &read("ups_conf", f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    for f in [
        "debian-stock",
        "every-directive",
        "tests-daemon",
        "login-failures",
    ] {
        upsd_conf::parse(p, &read("upsd_conf", f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    for f in ["debian-stock", "every-directive", "tests-daemon", "quoting"] {
        upsd_users::parse(p, &read("upsd_users", f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    for f in [
        "debian-stock-with-monitor",
        "every-directive",
        "tests-monitor-primary",
        "tests-secondary",
    ] {
        upsmon_conf::parse(p, &read("upsmon_conf", f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let replies =
        |f: &str| String::from_utf8(fuzz::protocol_replies(&read("protocol", f))).unwrap();
    let has = |f: &str, want: &[&str]| {
        let r = replies(f);
        for w in want {
            assert!(r.contains(w), "{f}: no {w:?} in {r}");
        }
    };
    has(
        "upsc-l",
        &[
            "BEGIN LIST UPS\nUPS su700 \"Development box\"\n",
            "OK Goodbye\n",
        ],
    );
    has(
        "upsc-ups",
        &["VAR su700 ups.status \"OL CHRG\"\n", "END LIST VAR su700\n"],
    );
    has("upscmd", &["OK\nOK\nOK\nOK Goodbye\n"]);
    has("upscmd-w", &["OK TRACKING ", "PENDING\n", "ON\n"]);
    has(
        "upsrw-list",
        &[
            "ENUM su700 input.sensitivity \"low\"\n",
            "RANGE su700 battery.runtime.low \"600\" \"900\"\n",
        ],
    );
    has(
        "upsrw-set",
        &[
            "OK TRACKING ",
            "ERR INVALID-VALUE\n",
            "ERR SET-FAILED\n",
            "ERR READONLY\n",
        ],
    );
    has(
        "upsmon-primary",
        &[
            "OK PRIMARY-GRANTED\n",
            "OK MASTER-GRANTED\n",
            "OK FSD-SET\n",
            "VAR su700 ups.status \"FSD OL CHRG\"\n",
            "NUMLOGINS su700 1\n",
        ],
    );
    has(
        "upsmon-secondary",
        &["ERR ACCESS-DENIED\n", "ERR ALREADY-LOGGED-IN\n"],
    );
    has(
        "auth-wrong",
        &[
            "ERR ALREADY-SET-USERNAME\n",
            "ERR ALREADY-SET-PASSWORD\n",
            "ERR ACCESS-DENIED\n",
        ],
    );
    // "#LIMIT" toggles the login limit: the right password is refused.
    has(
        "auth-limited",
        &["OK\nOK\nERR UNKNOWN-COMMAND\nERR ACCESS-DENIED\nERR ACCESS-DENIED\nERR UNKNOWN-COMMAND\nOK\nOK FSD-SET\n"],
    );
    has(
        "auth-missing",
        &["ERR USERNAME-REQUIRED\n", "ERR PASSWORD-REQUIRED\n"],
    );
    has(
        "lists-and-states",
        &[
            "END LIST VAR big\n",
            "ERR DATA-STALE\n",
            "ERR DRIVER-NOT-CONNECTED\n",
            "ERR UNKNOWN-UPS\n",
        ],
    );
    has(
        "lexer-edges",
        &["ERR UNKNOWN-COMMAND\n", "ERR INVALID-ARGUMENT\n"],
    );
    has("limits", &["ERR INVALID-ARGUMENT\n"]);
}
