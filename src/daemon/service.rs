//! The daemon and its service manager: sd_notify's READY, WATCHDOG,
//! STATUS (a one-line summary of the UPSes), RELOADING and STOPPING;
//! the signals that stop or reload it; and noticing that the host was
//! suspended (the monitor is told, as upsmon is).

use super::{Daemon, SLEEP_MS, STATUS_MS};
use crate::config::setup::Args;
use crate::proto::Data;
use crate::sys::clock::{self, Clock};
use crate::sys::log::log;
use crate::sys::sdnotify;
use crate::sys::signals::{Signal, Signals};
use std::ops::ControlFlow;

/// What the service manager is told, and when next.
pub(super) struct Service {
    manager: Option<sdnotify::Notifier>,
    /// WATCHDOG=1 interval, when the manager asks for one.
    watchdog: Option<u64>,
    /// The last STATUS sent.
    status: String,
    ping_at: u64,
    status_at: u64,
}

impl Service {
    /// READY=1 with the first STATUS.
    pub(super) fn start(d: &Daemon) -> Service {
        let manager = sdnotify::Notifier::from_env();
        let watchdog = sdnotify::watchdog_ms();
        let status = d.summary();
        if let Some(m) = &manager {
            m.send(&format!("READY=1\nSTATUS={status}"));
        }
        Service {
            manager,
            watchdog,
            status,
            ping_at: d.clock.now(),
            status_at: d.clock.now() + STATUS_MS,
        }
    }

    /// Ping the watchdog and bring STATUS up to date when due; returns
    /// when next (`u64::MAX`: never).
    pub(super) fn due(&mut self, d: &Daemon, clock: &Clock) -> u64 {
        let mut next = u64::MAX;
        if let Some(w) = self.watchdog {
            let now = clock.now();
            if self.ping_at <= now {
                self.send("WATCHDOG=1");
                self.ping_at = now + w;
            }
            next = next.min(self.ping_at);
        }
        if self.manager.is_some() {
            let now = clock.now();
            if self.status_at <= now {
                let s = d.summary();
                if s != self.status {
                    self.send(&format!("STATUS={s}"));
                    self.status = s;
                }
                self.status_at = now + STATUS_MS;
            }
            next = next.min(self.status_at);
        }
        next
    }

    fn send(&self, msg: &str) {
        if let Some(m) = &self.manager {
            m.send(msg);
        }
    }
}

/// The monotonic clock stops while the host sleeps; the boot-time clock
/// does not: a grown difference is a suspend just ended. Looked at when
/// the loop wakes with nothing to do, and otherwise at most once a second
/// (two clock reads saved on every request).
pub(super) struct Suspend {
    slept: u64,
    /// When to look next while the loop is busy.
    next: u64,
}

impl Suspend {
    pub(super) fn new() -> Suspend {
        Suspend {
            slept: clock::slept_ms(),
            next: 0,
        }
    }

    /// How long the host was suspended since the last look, if it was;
    /// `now` is the loop's time, `idle` says the loop woke for no event.
    pub(super) fn resumed(&mut self, now: u64, idle: bool) -> Option<u64> {
        if !idle && now < self.next {
            return None;
        }
        self.next = now + 1000;
        let s = clock::slept_ms();
        let was = std::mem::replace(&mut self.slept, s);
        (s > was + SLEEP_MS).then(|| s - was)
    }
}

impl Daemon {
    /// Every signal waiting: SIGHUP reloads, SIGTERM and SIGINT stop
    /// (what the daemon started is ended, and [`ControlFlow::Break`]).
    pub(super) fn signals(
        &mut self,
        signals: &Signals,
        service: &Service,
        args: &Args,
        now: u64,
    ) -> ControlFlow<()> {
        while let Some(sig) = signals.next() {
            match sig {
                Signal::Stop => {
                    log(format_args!("signal received: exiting"));
                    service.send("STOPPING=1");
                    self.exit();
                    return ControlFlow::Break(());
                }
                Signal::Reload => {
                    service.send("RELOADING=1");
                    self.reload(args, now);
                    service.send("READY=1");
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// One line for the service manager: each UPS with its status, and
    /// the number of clients.
    pub(super) fn summary(&self) -> String {
        let now = self.clock.now();
        let mut s = String::new();
        for (k, u) in self.upses.iter().enumerate() {
            s.push_str(if k == 0 { "" } else { ", " });
            s.push_str(&u.name);
            s.push(' ');
            match u.dev.data(now, self.maxage_ms) {
                Data::Ready(live) => s.push_str(live.store.get("ups.status").unwrap_or("?")),
                Data::Stale => s.push_str("stale"),
                _ => s.push_str("not connected"),
            }
        }
        if self.upses.is_empty() {
            s.push_str("no UPS yet");
        }
        let clients = self.clients.open();
        s.push_str(&format!("; {clients} client(s)"));
        s
    }
}
