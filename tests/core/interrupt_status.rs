//! A unit that sends its status only on the interrupt pipe: it answers
//! GET_REPORT for its other reports but not for the ones a quick poll
//! reads. Built from the Eaton 5SC recording: every report a quick poll
//! reads is removed from the feature answers, and those with input fields
//! come as interrupt reports instead. Such a unit must be served, not
//! flap between served and stale: a quick poll that reads nothing is no
//! lost device while the last full walk was answered and interrupt
//! reports come. A unit that answers nothing at all is still lost.

use hidupsd::cli::decode;
use hidupsd::hid::ReportType;
use hidupsd::recording::{Recording, Replay};
use hidupsd::text::Text;
use hidupsd::ups::engine::{Ups, WalkResult};
use hidupsd::ups::options::Options;
use hidupsd::ups::table::hu;
use hidupsd::ups::transport::{IoError, Transport};
use std::path::Path;

fn eaton() -> Recording {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eaton-5sc-750");
    Recording::load(&p).unwrap()
}

/// The Eaton recording with its quick-poll reports moved to the
/// interrupt pipe; also the ids moved.
fn input_only_status() -> (Recording, Vec<u8>) {
    let mut rec = eaton();
    let (ups, _) = decode::decode(&rec, Options::default()).unwrap();
    let mut quick: Vec<u8> = (0..ups.sub.map.len())
        .filter(|&i| ups.sub.map[i].hu & hu::QUICK_POLL != 0)
        .filter_map(|i| ups.bound_field(i).map(|f| f.report_id))
        .collect();
    quick.sort();
    quick.dedup();
    let mut moved = Vec::new();
    rec.features.retain(|r| {
        let id = r[0];
        if !quick.contains(&id) {
            return true;
        }
        let n = ups.desc.report_len(id, ReportType::Input);
        if n > 0 {
            moved.push(r[..(n + 1).min(r.len())].to_vec());
        }
        false
    });
    rec.inputs.extend(moved);
    (rec, quick)
}

fn opts() -> Options {
    Options {
        pollinterval_ms: 2000,
        pollfreq_ms: 30_000,
        ..Options::default()
    }
}

#[test]
fn a_unit_whose_status_comes_by_interrupt_is_served_without_flapping() {
    let (rec, quick) = input_only_status();
    assert!(!rec.inputs.is_empty() && quick.len() > 3, "{quick:02x?}");
    let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts()).unwrap();
    let mut io = Replay::new(&rec);
    assert_eq!(ups.init(&mut io, 0), WalkResult::Ok);
    assert!(ups.walk_reads() > 0, "the other reports answer");
    for r in &rec.inputs {
        ups.on_input(r, &mut io, 500);
    }
    let status = ups.store.get("ups.status").unwrap_or("").to_string();
    assert!(status.starts_with("OL"), "{status:?}");
    // Two minutes of 2 s polls (quick ones read nothing, full ones every
    // 30 s read the rest), interrupt reports now and then.
    let mut quick_empty = 0;
    for k in 1..=60u64 {
        let now = k * 2000;
        if k % 5 == 0 {
            for r in &rec.inputs {
                ups.on_input(r, &mut io, now - 1000);
            }
        }
        assert_eq!(ups.update(&mut io, now), WalkResult::Ok, "at {now} ms");
        if ups.walk_reads() == 0 {
            quick_empty += 1;
        }
        assert_eq!(ups.store.get("ups.status"), Some(status.as_str()));
    }
    assert!(quick_empty >= 40, "{quick_empty}");
    // `interruptonly` was not switched on behind the user's back.
    assert!(!ups.opts.interruptonly);
}

#[test]
fn without_interrupt_reports_or_answers_the_unit_is_lost() {
    // The same unit with no interrupt report: its quick poll reading
    // nothing means it stopped answering.
    let (mut rec, _) = input_only_status();
    rec.inputs.clear();
    let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts()).unwrap();
    let mut io = Replay::new(&rec);
    assert_eq!(ups.init(&mut io, 0), WalkResult::Ok);
    assert_eq!(ups.update(&mut io, 2000), WalkResult::Reconnect);
    // Interrupt reports, but a full walk that reads nothing: lost.
    let (rec, _) = input_only_status();
    let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts()).unwrap();
    let mut io = Replay::new(&rec);
    assert_eq!(ups.init(&mut io, 0), WalkResult::Ok);
    for r in &rec.inputs {
        ups.on_input(r, &mut io, 500);
    }
    let mut silent = rec.clone();
    silent.features.clear();
    let mut dead = Replay::new(&silent);
    assert_eq!(ups.update(&mut dead, 2000), WalkResult::Ok);
    assert_eq!(ups.update(&mut dead, 31_000), WalkResult::Reconnect);
}

#[test]
fn after_a_reconnect_the_first_walk_is_a_full_one() {
    let rec = eaton();
    let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts()).unwrap();
    let mut io = Replay::new(&rec);
    ups.init(&mut io, 100_000);
    assert_eq!(ups.next_full(), 130_000);
    ups.request_full();
    // Due at once: the next update (2 s later) is FULL.
    assert!(ups.next_full() < 102_000);
    ups.update(&mut io, 102_000);
    assert_eq!(ups.next_full(), 132_000);
}

/// A unit that no longer answers at all: every GET_REPORT waits out the
/// kernel's timeout (hidraw's ETIMEDOUT after 5 s).
struct Hung<'a>(&'a mut Replay, u32);

impl Transport for Hung<'_> {
    fn get_feature(&mut self, _buf: &mut [u8]) -> Result<usize, IoError> {
        self.1 += 1;
        Err(IoError::Timeout)
    }
    fn set_feature(&mut self, _buf: &[u8]) -> Result<(), IoError> {
        Err(IoError::Timeout)
    }
    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        self.0.string(index, out)
    }
}

#[test]
fn a_hung_unit_is_lost_at_its_first_quick_poll_even_with_interrupt_reports() {
    // The interrupt-status unit, and the plain Eaton unit: both answered
    // their last full walk and sent interrupt reports; then a quick poll's
    // request goes unanswered for the kernel's whole timeout. That is no
    // refusal of those reports (the first test) but a hung unit: lost,
    // so that its data goes stale (a scenario of the VM test, 4b), not
    // an update that keeps it fresh until the next full walk.
    for (what, rec) in [
        ("interrupt status", input_only_status().0),
        ("eaton", eaton()),
    ] {
        let inputs: Vec<Vec<u8>> = if rec.inputs.is_empty() {
            input_only_status().0.inputs
        } else {
            rec.inputs.clone()
        };
        let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts()).unwrap();
        let mut io = Replay::new(&rec);
        assert_eq!(ups.init(&mut io, 0), WalkResult::Ok, "{what}");
        for r in &inputs {
            ups.on_input(r, &mut io, 500);
        }
        // Answered as before: served.
        assert_eq!(ups.update(&mut io, 2000), WalkResult::Ok, "{what}");
        let mut hung = Hung(&mut io, 0);
        assert_eq!(ups.update(&mut hung, 4000), WalkResult::Reconnect, "{what}");
        // One request, not one per report: a hung unit holds hidraw's lock.
        assert_eq!(hung.1, 1, "{what}");
    }
}
