//! The daemon's clocks: [`Clock`], the monotonic milliseconds the loop
//! and every worker share, [`slept_ms`], how long the host has been
//! suspended, and [`euid`].
//!
//! Boundary: the shells read time here and hand it to the pure code as a
//! `u64` of milliseconds; nothing outside `sys` reads a clock by a system
//! call of its own.

use std::time::Instant;

/// Milliseconds on the daemon's monotonic clock. The loop and every
/// worker share one epoch, so their times compare (MAXAGE).
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    pub fn now(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// How long the host has been suspended since boot, in ms
/// (CLOCK_BOOTTIME runs on through a suspend, CLOCK_MONOTONIC does not).
pub fn slept_ms() -> u64 {
    let read = |id| {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a timespec to fill.
        unsafe { libc::clock_gettime(id, &mut t) };
        t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
    };
    read(libc::CLOCK_BOOTTIME).saturating_sub(read(libc::CLOCK_MONOTONIC))
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}
