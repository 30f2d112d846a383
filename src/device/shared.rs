//! What a worker and the loop share, and how they talk: a
//! [`WorkerShare`], a mutex-guarded copy of the store, its commands and
//! its state (locked only for the copy, never across I/O) plus the time
//! of the last good update, which the loop checks against MAXAGE on
//! every request; the loop's lock-free [`Mirror`] of it; [`Msg`]s from
//! the loop to a worker and [`Report`]s back, through a channel and a
//! `mio::Waker` ([`Notify`]).

use super::io::Found;
use crate::chan::{self as mpsc, Receiver, Sender};
use crate::proto::{TrackingId, TrackingStatus, VarRange};
use crate::store::Store;
use crate::text::Text;
use std::sync::{Arc, Mutex, MutexGuard};

/// The UPS as the loop may see it.
#[derive(Debug, Default)]
pub struct Shared {
    pub store: Store,
    /// Instant commands the device offers.
    pub cmds: Vec<&'static str>,
    /// Settable ranges of writable variables (`LIST RANGE`): Megatec
    /// units' delays; usbhid-ups publishes none.
    pub ranges: Vec<VarRange<'static>>,
    /// The data is current; false after a failed walk or reconnect
    /// (DATA-STALE), the last values kept.
    pub live: bool,
    /// The device was unplugged (DRIVER-NOT-CONNECTED until it is back).
    pub gone: bool,
    /// Bumped on every change, so the loop copies only what changed.
    pub seq: u64,
}

/// `last_update_ms` before the first update.
pub const NEVER: u64 = u64::MAX;

/// One worker's shared state.
#[derive(Debug)]
pub struct WorkerShare {
    pub(super) shared: Mutex<Shared>,
    /// Time of the last successful update or input report. A mutex of its
    /// own, not an AtomicU64: 32-bit MIPS and PowerPC have no 64-bit
    /// atomics, and a u32 of milliseconds would wrap after 49 days.
    pub(super) last_update_ms: Mutex<u64>,
}

impl WorkerShare {
    pub(super) fn new() -> WorkerShare {
        WorkerShare {
            shared: Mutex::new(Shared::default()),
            last_update_ms: Mutex::new(NEVER),
        }
    }

    /// Lock for a copy. A worker that panicked while holding the lock
    /// left whole values behind (they are only assigned), so a poisoned
    /// lock is still read.
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `None` before the first update.
    pub fn last_update_ms(&self) -> Option<u64> {
        match *self
            .last_update_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            NEVER => None,
            t => Some(t),
        }
    }
}

/// The loop's copy of a [`Shared`], so that requests read it without a
/// lock (and borrow from it freely).
#[derive(Debug, Default)]
pub struct Mirror {
    pub store: Store,
    pub cmds: Vec<&'static str>,
    pub ranges: Vec<VarRange<'static>>,
    pub live: bool,
    pub gone: bool,
    seq: u64,
}

impl Mirror {
    /// Copy what changed since the last refresh (`clone_from`: the copy
    /// reuses the mirror's memory). Returns whether anything had.
    pub fn refresh(&mut self, link: &WorkerShare) -> bool {
        let s = link.lock();
        if s.seq == self.seq {
            return false;
        }
        self.store.clone_from(&s.store);
        self.cmds.clone_from(&s.cmds);
        self.ranges.clone_from(&s.ranges);
        self.live = s.live;
        self.gone = s.gone;
        self.seq = s.seq;
        true
    }

    /// Anything was ever published (the device was opened once).
    pub fn seen(&self) -> bool {
        self.seq > 0
    }
}

/// From the loop to a worker.
pub enum Msg<D> {
    InstCmd {
        cmd: &'static str,
        value: Option<Text>,
        tracking: Option<TrackingId>,
    },
    SetVar {
        var: Text,
        value: Text,
        tracking: Option<TrackingId>,
    },
    /// This device (hot-plugged) is the UPS: use it now if the UPS is
    /// down.
    Attach(Box<Found<D>>),
    /// hidraw node `0` was removed.
    Removed(String),
}

/// From a worker or a probe to the loop.
pub enum Report<D> {
    /// A probe found a UPS.
    Found(Box<Found<D>>),
    /// A probe of a node present at start ended (after its `Found`, if
    /// it found a UPS).
    Probed,
    /// UPS `ups` is open on `node`.
    Attached { ups: usize, node: String },
    /// A SET VAR or INSTCMD ended.
    Done {
        tracking: TrackingId,
        status: TrackingStatus,
    },
}

/// The way back to the loop: a channel and a waker.
pub struct Notify<D> {
    tx: Sender<Report<D>>,
    waker: Arc<mio::Waker>,
}

impl<D> Clone for Notify<D> {
    fn clone(&self) -> Self {
        Notify {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<D> Notify<D> {
    pub fn new(waker: Arc<mio::Waker>) -> (Notify<D>, Receiver<Report<D>>) {
        let (tx, rx) = mpsc::channel();
        (Notify { tx, waker }, rx)
    }

    /// Queue a report and wake the loop.
    pub fn send(&self, r: Report<D>) {
        if self.tx.send(r).is_ok() {
            self.wake();
        }
    }

    /// Wake the loop (a [`WorkerShare`] changed).
    pub fn wake(&self) {
        // Fails only if the loop's poll is gone: nobody to tell.
        let _ = self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_copies_only_changes() {
        let link = WorkerShare::new();
        let mut m = Mirror::default();
        assert!(!m.refresh(&link) && !m.seen());
        {
            let mut s = link.lock();
            s.store.set("battery.charge", "100").unwrap();
            s.cmds.push("beeper.disable");
            s.live = true;
            s.seq += 1;
        }
        assert!(m.refresh(&link) && m.seen());
        assert_eq!(m.store.get("battery.charge"), Some("100"));
        assert_eq!(m.cmds, ["beeper.disable"]);
        assert!(m.live && !m.gone);
        assert!(!m.refresh(&link));
    }
}
