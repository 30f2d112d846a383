//! Answering requests allocates nothing: GET VAR, LIST VAR, LIST CMD,
//! GET TYPE and LIST UPS on a decoded fixture, through the same session
//! code the daemon runs, with a counting global allocator. One test per
//! file so no other test's allocations are counted.

mod counting;

use hidupsd::cli::decode;
use hidupsd::proto::{
    Data, Live, Reply, RequestEnv, Session, TrackingId, TrackingStatus, UpsView, Upses, Users,
};
use hidupsd::recording::Recording;
use hidupsd::store::Store;
use hidupsd::ups::options::Options;
use std::net::IpAddr;
use std::path::Path;

struct One<'a> {
    store: &'a Store,
    cmds: &'a [&'static str],
}

impl Upses for One<'_> {
    fn count(&self) -> usize {
        1
    }
    fn ups(&self, i: usize) -> Option<UpsView<'_>> {
        (i == 0).then_some(UpsView {
            name: "ups",
            desc: Some("test"),
            numlogins: 0,
            fsd: false,
            data: Data::Ready(Live {
                store: self.store,
                commands: self.cmds,
                ranges: &[],
            }),
        })
    }
    fn clients(&self, _: usize, _: &mut dyn FnMut(IpAddr)) {}
    fn tracking(&self, _: TrackingId) -> TrackingStatus {
        TrackingStatus::Unknown
    }
}

#[test]
fn answering_requests_allocates_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eaton-5sc-750");
    let (ups, _) = decode::decode(&Recording::load(&dir).unwrap(), Options::default()).unwrap();
    let upses = One {
        store: &ups.store,
        cmds: &ups.cmds,
    };
    let users = Users::default();
    let mut session = Session::new(0, 42);
    let mut scratch = [0u8; 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let requests: &[&[u8]] = &[
        b"GET VAR ups battery.charge",
        b"LIST VAR ups",
        b"LIST CMD ups",
        b"GET TYPE ups battery.charge.low",
        b"LIST UPS",
        b"GET DESC ups battery.charge",
        b"GET VAR ups \"ups.status\"",
    ];
    // One warm-up round, then count.
    let mut total = 0;
    for round in 0..2 {
        let before = counting::allocations();
        for r in requests {
            let mut out = Reply::new(&mut buf);
            let env = RequestEnv {
                upses: &upses,
                users: &users,
                now: 1000,
            };
            session
                .handle_line(r, &mut scratch, &env, &mut out)
                .unwrap();
            assert!(out.as_bytes().ends_with(b"\n"));
            assert!(
                !out.as_bytes().starts_with(b"ERR"),
                "{}",
                String::from_utf8_lossy(out.as_bytes())
            );
            total += out.as_bytes().len();
        }
        if round == 1 {
            assert_eq!(
                counting::allocations() - before,
                0,
                "allocations while answering"
            );
        }
    }
    assert!(total > 2000, "LIST VAR of the Eaton 5SC is long: {total}");
}
