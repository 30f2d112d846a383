//! The daemon's clocks: [`Clock`], the monotonic milliseconds the loop
//! and every worker share, [`slept_ms`], how long the host has been
//! suspended, and [`euid`].
//!
//! Boundary: the shells read time here and hand it to the pure code as a
//! `u64` of milliseconds; nothing outside `sys` reads a clock by a system
//! call of its own.

/// Milliseconds on the daemon's monotonic clock. The loop and every
/// worker share one epoch, so their times compare (MAXAGE). Read straight
/// from `CLOCK_MONOTONIC` (what `Instant` reads), without `Instant`'s
/// `Duration` arithmetic: the loop reads it on every pass.
#[derive(Debug, Clone, Copy)]
pub struct Clock(u64);

impl Clock {
    pub fn start() -> Clock {
        Clock(read_ms(libc::CLOCK_MONOTONIC))
    }

    pub fn now(&self) -> u64 {
        read_ms(libc::CLOCK_MONOTONIC).saturating_sub(self.0)
    }
}

/// Clock `id` in milliseconds.
fn read_ms(id: libc::clockid_t) -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a timespec to fill.
    unsafe { libc::clock_gettime(id, &mut t) };
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// How long the host has been suspended since boot, in ms
/// (CLOCK_BOOTTIME runs on through a suspend, CLOCK_MONOTONIC does not).
pub fn slept_ms() -> u64 {
    read_ms(libc::CLOCK_BOOTTIME).saturating_sub(read_ms(libc::CLOCK_MONOTONIC))
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}
