//! Tests of what packagers and installers use: `make install` and its
//! variants into a temporary DESTDIR, and OpenWrt's init script writing
//! NUT's files from UCI.

#[path = "../common/mod.rs"]
mod common;
mod hotplug;
mod install;
mod openwrt;

use std::path::{Path, PathBuf};

/// The source tree, where the Makefile and contrib/ are.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory, unique to this process and moment.
fn tempdir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "hidupsd-packaging-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
