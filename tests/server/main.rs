//! Tests that run the real `hidupsd` binary: the daemon on loopback ports
//! (simulated UPSes, raw protocol clients), its command line, its log,
//! signals and reloads. Where Debian's `upsc` is installed, some also
//! compare with it; in CI (CI=true) it must be.

#[path = "../common/mod.rs"]
mod common;

mod admission;
mod auth;
mod cli;
mod config_edges;
mod daemon;
mod docs;
mod fsd;
mod log_lines;
mod notify_bound;
mod ops;
mod qx;
mod ratelimit;
mod sim;
mod upsc;
