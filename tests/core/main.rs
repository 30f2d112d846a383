//! Tests that need the library only: decoding every fixture (against
//! NUT's own output too), the fuzz corpora, the monitor's scenarios, the
//! device worker behind a scripted transport, the generated files. No
//! process is started and no network is used.

#[path = "../common/mod.rs"]
mod common;

mod device_page;
mod device_worker;
mod fuzz_corpus;
mod generated;
mod input_check;
mod interrupt_status;
mod monitor_scenarios;
mod nut_parity;
