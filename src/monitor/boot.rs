//! Whether the daemon is still taking its first look at the devices
//! present at start, during which the monitor does not judge a local UPS
//! lost that it has not seen yet (no "communications lost" notice at
//! boot half a second before the UPS is found).
//!
//! Boundary: pure; the shell gives the time, its deadline, the number of
//! start-up probes still running and, for each served UPS, whether its
//! worker runs and whether it has published yet.

/// The first look is going on while `now` is before `until` (the look's
/// deadline) and either start-up probes are still running (`probes`) or
/// some UPS has a worker that has not published yet: `ups` gives
/// `(has_worker, seen)` for each UPS. A UPS without a worker (configured,
/// not plugged in) does not hold the look up: nothing is coming for it.
pub fn booting(
    now: u64,
    until: u64,
    probes: usize,
    ups: impl IntoIterator<Item = (bool, bool)>,
) -> bool {
    now < until
        && (probes > 0
            || ups
                .into_iter()
                .any(|(has_worker, seen)| has_worker && !seen))
}

#[cfg(test)]
mod tests {
    use super::booting;

    const UNTIL: u64 = 15_000;

    #[test]
    fn probes_still_running_hold_the_look() {
        assert!(booting(0, UNTIL, 1, []));
        assert!(booting(UNTIL - 1, UNTIL, 3, [(true, true)]));
    }

    #[test]
    fn a_worker_that_has_not_published_holds_the_look() {
        assert!(booting(500, UNTIL, 0, [(true, false)]));
        // One published, one not yet.
        assert!(booting(500, UNTIL, 0, [(true, true), (true, false)]));
        assert!(booting(500, UNTIL, 0, [(true, false), (true, true)]));
    }

    #[test]
    fn the_look_is_over_when_every_worker_published_and_no_probe_runs() {
        assert!(!booting(500, UNTIL, 0, []));
        assert!(!booting(500, UNTIL, 0, [(true, true), (true, true)]));
    }

    #[test]
    fn a_ups_without_a_worker_is_not_waited_for() {
        // Configured but not plugged in: no worker, never seen.
        assert!(!booting(500, UNTIL, 0, [(false, false)]));
        assert!(!booting(500, UNTIL, 0, [(false, false), (true, true)]));
        // A worker stopped after it published (unplugged): the same.
        assert!(!booting(500, UNTIL, 0, [(false, true)]));
    }

    #[test]
    fn the_deadline_ends_the_look_whatever_is_pending() {
        // A device that never answers is then lost, as it is.
        assert!(!booting(UNTIL, UNTIL, 2, [(true, false)]));
        assert!(!booting(UNTIL + 1, UNTIL, 0, [(true, false)]));
        assert!(booting(UNTIL - 1, UNTIL, 0, [(true, false)]));
    }
}
