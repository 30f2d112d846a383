//! Copying a UPS's store, as a device worker publishes it and the loop
//! mirrors it, allocates nothing: `Store::clone_from` reuses the copy's
//! memory. A counting global allocator checks it; this file holds a
//! single test so no other test's allocations are counted.

mod counting;

use hidupsd::cli::decode;
use hidupsd::recording::Recording;
use hidupsd::store::Store;
use hidupsd::ups::options::Options;
use std::path::Path;

#[test]
fn copying_a_store_allocates_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eaton-5sc-750");
    let rec = Recording::load(&dir).unwrap();
    let (ups, _) = decode::decode(&rec, Options::default()).unwrap();
    let mut src = ups.store.clone();
    let mut copy = Store::new();
    let before = counting::allocations();
    copy.clone_from(&src);
    src.set("battery.charge", "42").unwrap();
    src.delete("ups.status");
    copy.clone_from(&src);
    src.set("ups.status", "OB").unwrap();
    copy.clone_from(&src);
    assert_eq!(counting::allocations(), before);
    assert_eq!(copy.len(), src.len());
    assert_eq!(copy.get("battery.charge"), Some("42"));
    assert_eq!(copy.generation, src.generation);
}
