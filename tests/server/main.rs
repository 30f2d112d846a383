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

use std::path::PathBuf;

/// A scratch directory, removed on drop; `tag` names it within this run,
/// so tests running in parallel need tags of their own.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(tag: &str) -> TmpDir {
        let d = std::env::temp_dir().join(format!("hidupsd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
