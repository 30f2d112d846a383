//! The worker's schedule, pure: time in, the next thing to do out
//! (update, reconnect, or wait how long), with NUT's back-off and
//! log-once rules. The thread ([`super::worker`]) asks [`Sched`] and does
//! what it says; tests drive it on a fake clock.
//!
//! Read first: `docs/design/hid-decoding.md` §0 and §6 (polling model,
//! error actions, reconnect).

use crate::config::setup::Retry;

/// The device's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Open and initialised; the next update is due at `next_update`.
    Up { next_update: u64 },
    /// Closed after `failures` failed attempts; the next attempt is at
    /// `next_try` (`None`: attempts stopped, only hot-plug brings it back).
    Down {
        failures: u32,
        next_try: Option<u64>,
    },
}

/// What the worker does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Run an update; `full` when the engine will make it a FULL walk
    /// (`pollfreq` has passed since the last one).
    Update { full: bool },
    /// Try to open the device again.
    Connect,
    /// Nothing is due for this many milliseconds (`None`: until a device
    /// or a message arrives).
    Wait(Option<u64>),
}

/// What a transition asks to be logged. An outage is told once when it
/// starts, once if attempts stop, and once when it ends; the attempts in
/// between are quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    Quiet,
    /// The first failure of an outage.
    Lost,
    /// `maxretry` attempts failed.
    GaveUp,
    /// Connected again after an outage.
    Back,
    /// Connected for the first time.
    Started,
}

/// NUT's schedule as a state machine: time in, next action out.
#[derive(Debug, Clone)]
pub struct Sched {
    pub poll_ms: u64,
    pub retry: Retry,
    pub conn: DeviceState,
    /// This outage was logged.
    outage_logged: bool,
    ever_up: bool,
}

impl Sched {
    /// Down, with an attempt due at once (the device in hand is tried).
    pub fn new(poll_ms: u64, retry: Retry) -> Sched {
        Sched {
            poll_ms,
            retry,
            conn: DeviceState::Down {
                failures: 0,
                next_try: Some(0),
            },
            outage_logged: false,
            ever_up: false,
        }
    }

    /// What to do at `now`; `next_full` is when the engine's next FULL
    /// walk is due ([`crate::ups::engine::Ups::next_full`]).
    pub fn next_action(&self, now: u64, next_full: u64) -> Due {
        let due = |t: u64| (now < t).then(|| t - now);
        match self.conn {
            DeviceState::Up { next_update } => match due(next_update) {
                None => Due::Update {
                    full: now > next_full,
                },
                ms => Due::Wait(ms),
            },
            DeviceState::Down {
                next_try: Some(t), ..
            } => match due(t) {
                None => Due::Connect,
                ms => Due::Wait(ms),
            },
            DeviceState::Down { next_try: None, .. } => Due::Wait(None),
        }
    }

    /// An update that started at `started` went through. The next one is
    /// a poll interval after that start (NUT's main loop sets its timeout
    /// before the update, so a slow update eats into the interval).
    ///
    /// An outage ends here, at the first good update, not when the device
    /// opens again: a unit that opens but never answers stays one outage,
    /// logged once.
    pub fn updated(&mut self, started: u64) -> Say {
        if let DeviceState::Up { next_update } = &mut self.conn {
            *next_update = started + self.poll_ms;
        }
        if std::mem::replace(&mut self.outage_logged, false) {
            Say::Back
        } else {
            Say::Quiet
        }
    }

    /// The open device failed at `now`: close it; the first attempt to
    /// open it again comes after the first back-off delay.
    pub fn lost(&mut self, now: u64) -> Say {
        self.conn = DeviceState::Down {
            failures: 0,
            next_try: Some(now + self.retry.delay_ms(0)),
        };
        self.outage_started()
    }

    /// An attempt to open (or start) the device failed at `now`.
    pub fn connect_failed(&mut self, now: u64) -> Say {
        let failures = match self.conn {
            DeviceState::Down { failures, .. } => failures + 1,
            DeviceState::Up { .. } => 1,
        };
        let give_up = self.retry.max_tries.is_some_and(|m| failures >= m);
        self.conn = DeviceState::Down {
            failures,
            next_try: (!give_up).then(|| now + self.retry.delay_ms(failures)),
        };
        match self.outage_started() {
            // Said when attempts stop, not again when a hot-plugged
            // device fails after that.
            Say::Quiet if self.retry.max_tries == Some(failures) => Say::GaveUp,
            s => s,
        }
    }

    fn outage_started(&mut self) -> Say {
        if std::mem::replace(&mut self.outage_logged, true) {
            Say::Quiet
        } else {
            Say::Lost
        }
    }

    /// The device is open and initialised at `now`: the first update is
    /// a poll interval later.
    pub fn connected(&mut self, now: u64) -> Say {
        self.conn = DeviceState::Up {
            next_update: now + self.poll_ms,
        };
        if !std::mem::replace(&mut self.ever_up, true) {
            Say::Started
        } else {
            Say::Quiet
        }
    }

    /// A device was handed over (hot-plug): try it at once, whatever the
    /// back-off said.
    pub fn hotplugged(&mut self, now: u64) {
        if let DeviceState::Down { next_try, .. } = &mut self.conn {
            *next_try = Some(now);
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self.conn, DeviceState::Up { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive the schedule on a fake clock the way the worker does, with
    /// the engine's FULL-walk rule (`now > last_full + pollfreq`), and
    /// return (time, full) for every update up to `until`.
    fn updates(s: &mut Sched, pollfreq: u64, until: u64) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        let (mut now, mut last_full) = (0, 0);
        s.connected(0);
        while now <= until {
            match s.next_action(now, last_full + pollfreq) {
                Due::Update { full } => {
                    out.push((now, full));
                    if full {
                        last_full = now;
                    }
                    s.updated(now);
                }
                Due::Wait(Some(ms)) => now += ms,
                a => panic!("{a:?} at {now}"),
            }
        }
        out
    }

    #[test]
    fn quick_every_pollinterval_full_when_due() {
        let mut s = Sched::new(2000, Retry::default());
        let u = updates(&mut s, 30_000, 70_000);
        let times: Vec<u64> = u.iter().map(|x| x.0).collect();
        assert_eq!(times, (1..=35).map(|k| k * 2000).collect::<Vec<_>>());
        // The first FULL walk after start-up is the first update past
        // pollfreq (NUT's `now > lastpoll + pollfreq`), then every 30 s
        // counted from it.
        let full: Vec<u64> = u.iter().filter(|x| x.1).map(|x| x.0).collect();
        assert_eq!(full, [32_000, 64_000]);
        // CPS: pollfreq 12 s.
        let mut s = Sched::new(2000, Retry::default());
        let full: Vec<u64> = updates(&mut s, 12_000, 40_000)
            .iter()
            .filter(|x| x.1)
            .map(|x| x.0)
            .collect();
        assert_eq!(full, [14_000, 28_000]);
    }

    #[test]
    fn a_slow_update_eats_into_the_interval() {
        let mut s = Sched::new(2000, Retry::default());
        s.connected(0);
        assert_eq!(s.next_action(1500, u64::MAX), Due::Wait(Some(500)));
        // An update from 2000 to 6500 (a stalled GET_REPORT): the next one
        // was due at 4000, so it runs at once, not 2 s later.
        assert!(matches!(s.next_action(2000, u64::MAX), Due::Update { .. }));
        s.updated(2000);
        assert!(matches!(s.next_action(6500, u64::MAX), Due::Update { .. }));
        s.updated(6500);
        assert_eq!(s.next_action(6600, u64::MAX), Due::Wait(Some(1900)));
    }

    /// Delays between attempts after a fault at `t0`, every attempt failing.
    fn backoff(s: &mut Sched, t0: u64, n: usize) -> Vec<Option<u64>> {
        s.connected(0);
        s.lost(t0);
        let mut now = t0;
        let mut out = Vec::new();
        for _ in 0..n {
            match s.next_action(now, u64::MAX) {
                Due::Wait(Some(ms)) => {
                    out.push(Some(ms));
                    now += ms;
                    assert_eq!(s.next_action(now, u64::MAX), Due::Connect);
                    s.connect_failed(now);
                }
                Due::Wait(None) => {
                    out.push(None);
                    break;
                }
                a => panic!("{a:?}"),
            }
        }
        out
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_or_follows_retrydelay() {
        let mut s = Sched::new(2000, Retry::default());
        let ms: Vec<u64> = backoff(&mut s, 10_000, 8).into_iter().flatten().collect();
        assert_eq!(ms, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
        // retrydelay 5, maxretry 3: three attempts 5 s apart, then only
        // hot-plug.
        let r = Retry {
            fixed_ms: Some(5000),
            max_tries: Some(3),
        };
        let mut s = Sched::new(2000, r);
        assert_eq!(
            backoff(&mut s, 0, 8),
            [Some(5000), Some(5000), Some(5000), None]
        );
        s.hotplugged(99_000);
        assert_eq!(s.next_action(99_000, u64::MAX), Due::Connect);
        // A hot-plugged device is tried at once, whatever the back-off.
        let mut s = Sched::new(2000, Retry::default());
        backoff(&mut s, 0, 6);
        s.hotplugged(50);
        assert_eq!(s.next_action(50, u64::MAX), Due::Connect);
        // Up, a hot-plug event changes nothing.
        s.connected(60);
        s.hotplugged(70);
        assert_eq!(s.next_action(70, u64::MAX), Due::Wait(Some(1990)));
    }

    #[test]
    fn an_outage_is_logged_once() {
        let r = Retry {
            fixed_ms: None,
            max_tries: Some(4),
        };
        let mut s = Sched::new(2000, r);
        assert_eq!(s.connected(0), Say::Started);
        assert_eq!(s.lost(100), Say::Lost);
        let says: Vec<Say> = (0..5).map(|k| s.connect_failed(1000 * k)).collect();
        assert_eq!(
            says,
            [Say::Quiet, Say::Quiet, Say::Quiet, Say::GaveUp, Say::Quiet]
        );
        // Open again, but the outage ends with the first good update.
        assert_eq!(s.connected(9000), Say::Quiet);
        assert_eq!(s.updated(9000), Say::Back);
        assert_eq!(s.updated(11000), Say::Quiet);
        assert_eq!(s.lost(12500), Say::Lost);
        // Opens, fails again, opens: still the same outage, said once.
        assert_eq!(s.connected(13000), Say::Quiet);
        assert_eq!(s.lost(15000), Say::Quiet);
        assert_eq!(s.connected(16000), Say::Quiet);
        assert_eq!(s.updated(16000), Say::Back);
        // A UPS that cannot be opened at start says so once too.
        let mut s = Sched::new(2000, Retry::default());
        assert_eq!(s.connect_failed(0), Say::Lost);
        assert_eq!(s.connect_failed(2000), Say::Quiet);
        assert_eq!(s.connected(4000), Say::Started);
    }
}
