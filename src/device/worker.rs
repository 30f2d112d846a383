//! One thread per UPS: it owns the UPS's engine ([`Ups`]) and its device
//! (a hidraw node, or a simulated UPS: [`super::sim`]), and runs NUT's
//! polling schedule made event-driven, so that the protocol loop never
//! waits on a device.
//!
//! Read first: `hid-decoding.md` §0 and §6 (polling model, error actions,
//! reconnect) and `nut-protocol.md` §5.4 (staleness).
//!
//! Why a thread: every report a UPS is asked for is a blocking ioctl
//! (HIDIOCGFEATURE waits up to 5 s for a unit that does not answer), and
//! so are opening a node and reading its descriptor. NUT puts the device in
//! its own process (the driver); here it is a thread per UPS.
//!
//! Boundary:
//! - [`Sched`] is pure: time in, the next thing to do out (update,
//!   reconnect, or wait how long), with the back-off and log-once rules.
//!   It is tested with a fake clock.
//! - The thread ([`spawn`]) does the I/O. It `poll(2)`s the device and a
//!   wake socket until the next update; input reports are read until
//!   `EAGAIN` and fed to [`Ups::on_input`] the moment they arrive; every
//!   `pollinterval` it runs [`Ups::update`] (QUICK or FULL as the engine
//!   decides); commands and SET VAR run when the loop sends them (a
//!   command's pauses are slept through here, as NUT's driver does).
//! - What it shares with the loop is a [`Link`]: a mutex-guarded copy of
//!   the store, its commands and its state (locked only for the copy,
//!   never across I/O), and an atomic time of the last good update, which
//!   the loop checks against MAXAGE on every request without locking.
//!   The worker tells the loop through [`Report`]s on a channel and a
//!   `mio::Waker`; the loop tells the worker through [`Msg`]s on a channel
//!   and a byte on a socket pair, because `poll(2)` cannot wait on a
//!   channel.
//! - [`probe`] and [`reopen`] are the hidraw side: they open a node, read
//!   its descriptor and identity, and run on a probe thread or the worker,
//!   never on the loop.
//!
//! The worker is generic over [`DeviceIo`] (a [`Transport`], a pollable
//! fd and `read_input`), so a simulated UPS runs through this same code,
//! and tests run it on a socket pair with a scripted transport.
//!
//! Faults (ENODEV, a walk that reads nothing, a read error, a read of 0
//! bytes, a hang-up): the data is marked stale and the last values kept,
//! the fault is logged once, the device closed, and the same device
//! (matched by VID, PID, interface and serial, else port) is opened again
//! with back-off: `retrydelay` seconds between tries when ups.conf sets
//! it, else 1 s, 2 s, 4 s, … up to 30 s; after `maxretry` failed tries
//! (when set) only a hot-plugged device brings it back. A device the loop
//! finds on hot-plug is handed over at once ([`Msg::Attach`]) and keeps
//! its name. Each reconnection starts a fresh engine and INIT walk, as
//! NUT's driver does.

use crate::device::usb::{identity, same_device, UsbInfo};
use crate::hid::descriptor::MAX_REPORT_LEN;
use crate::hid::Descriptor;
use crate::proto::{TrackingId, TrackingStatus};
use crate::store::Store;
use crate::sys::clock::Clock;
use crate::sys::hidraw::{Hidraw, BUS_USB};
use crate::sys::hotplug;
use crate::sys::usb::Strings;
use crate::text::Text;
use crate::ups::command::{CmdError, Step};
use crate::ups::engine::{Ups, WalkResult};
use crate::ups::options::Options;
use crate::ups::transport::{IoError, Transport, WriteError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the worker needs of a device: reports (the [`Transport`]), an fd
/// that `poll(2)` reports readable when an input report waits (and
/// hung up when the device is gone), and a way to read one.
pub trait DeviceIo: Transport + AsFd + Send {
    /// One waiting input report into `buf`, report id first; `Ok(None)`
    /// when none waits.
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Can string descriptors be fetched by index (hiddev or usbfs)?
    fn has_strings(&self) -> bool {
        true
    }
}

impl DeviceIo for Hidraw {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        Hidraw::read_input(self, buf)
    }
    fn has_strings(&self) -> bool {
        !matches!(self.strings, Strings::None)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        (**self).get_feature(buf)
    }
    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        (**self).set_feature(buf)
    }
    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        (**self).string(index, out)
    }
}

impl<T: DeviceIo + ?Sized> DeviceIo for Box<T> {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).read_input(buf)
    }
    fn has_strings(&self) -> bool {
        (**self).has_strings()
    }
}

/// The daemon's devices: hidraw nodes, or anything else a test hands in.
pub type Dev = Box<dyn DeviceIo>;

/// A UPS found on a node: the open device, who it is and its report
/// descriptor.
pub struct Found<D> {
    pub dev: D,
    /// `hidrawN`.
    pub node: String,
    pub info: UsbInfo,
    pub descriptor: Vec<u8>,
}

impl<D: DeviceIo + 'static> Found<D> {
    pub fn boxed(self) -> Found<Dev> {
        Found {
            dev: Box::new(self.dev),
            node: self.node,
            info: self.info,
            descriptor: self.descriptor,
        }
    }
}

/// Opens the device with this identity again, wherever it is now (the
/// worker's timed reconnect attempts).
pub type Opener<D> = Box<dyn FnMut(&UsbInfo) -> Option<Found<D>> + Send>;

// ---------------------------------------------------------------------
// The schedule (pure).

/// Reconnection back-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    /// `retrydelay`: a fixed delay between attempts. Without it the delay
    /// doubles from 1 s up to 30 s.
    pub fixed_ms: Option<u64>,
    /// `maxretry`: timed attempts before only a hot-plugged device
    /// brings the UPS back. Without it attempts never stop.
    pub max_tries: Option<u32>,
}

impl Retry {
    /// The delay before the next attempt after `failures` failed ones.
    pub fn delay_ms(&self, failures: u32) -> u64 {
        self.fixed_ms
            .unwrap_or_else(|| (1000u64 << failures.min(5)).min(30_000))
    }
}

/// The device's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
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
pub enum Action {
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
    pub conn: Conn,
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
            conn: Conn::Down {
                failures: 0,
                next_try: Some(0),
            },
            outage_logged: false,
            ever_up: false,
        }
    }

    /// What to do at `now`; `next_full` is when the engine's next FULL
    /// walk is due ([`Ups::next_full`]).
    pub fn next_action(&self, now: u64, next_full: u64) -> Action {
        let due = |t: u64| (now < t).then(|| t - now);
        match self.conn {
            Conn::Up { next_update } => match due(next_update) {
                None => Action::Update {
                    full: now > next_full,
                },
                ms => Action::Wait(ms),
            },
            Conn::Down {
                next_try: Some(t), ..
            } => match due(t) {
                None => Action::Connect,
                ms => Action::Wait(ms),
            },
            Conn::Down { next_try: None, .. } => Action::Wait(None),
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
        if let Conn::Up { next_update } = &mut self.conn {
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
        self.conn = Conn::Down {
            failures: 0,
            next_try: Some(now + self.retry.delay_ms(0)),
        };
        self.outage_started()
    }

    /// An attempt to open (or start) the device failed at `now`.
    pub fn connect_failed(&mut self, now: u64) -> Say {
        let failures = match self.conn {
            Conn::Down { failures, .. } => failures + 1,
            Conn::Up { .. } => 1,
        };
        let give_up = self.retry.max_tries.is_some_and(|m| failures >= m);
        self.conn = Conn::Down {
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
        self.conn = Conn::Up {
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
        if let Conn::Down { next_try, .. } = &mut self.conn {
            *next_try = Some(now);
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self.conn, Conn::Up { .. })
    }
}

// ---------------------------------------------------------------------
// What the worker and the loop share.

/// The UPS as the loop may see it.
#[derive(Debug, Default)]
pub struct Shared {
    pub store: Store,
    /// Instant commands the device offers.
    pub cmds: Vec<&'static str>,
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
pub struct Link {
    shared: Mutex<Shared>,
    /// Time of the last successful update or input report. A mutex of its
    /// own, not an AtomicU64: 32-bit MIPS and PowerPC have no 64-bit
    /// atomics, and a u32 of milliseconds would wrap after 49 days.
    last_update_ms: Mutex<u64>,
}

impl Link {
    fn new() -> Link {
        Link {
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
    pub live: bool,
    pub gone: bool,
    seq: u64,
}

impl Mirror {
    /// Copy what changed since the last refresh (`clone_from`: the copy
    /// reuses the mirror's memory). Returns whether anything had.
    pub fn refresh(&mut self, link: &Link) -> bool {
        let s = link.lock();
        if s.seq == self.seq {
            return false;
        }
        self.store.clone_from(&s.store);
        self.cmds.clone_from(&s.cmds);
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

    /// Wake the loop (a [`Link`] changed).
    pub fn wake(&self) {
        // Fails only if the loop's poll is gone: nobody to tell.
        let _ = self.waker.wake();
    }
}

/// What a worker serves.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    /// The UPS's index in the loop, for [`Report::Attached`].
    pub index: usize,
    pub opts: Options,
    pub retry: Retry,
}

/// The loop's end of a worker. Dropping it stops the worker.
pub struct Handle<D> {
    tx: Sender<Msg<D>>,
    wake: UnixStream,
    link: Arc<Link>,
}

impl<D> Handle<D> {
    /// Send a message and wake the worker; false if it has stopped.
    pub fn send(&self, m: Msg<D>) -> bool {
        if self.tx.send(m).is_err() {
            return false;
        }
        // A full socket already holds a wake-up.
        let _ = (&self.wake).write(&[1]);
        true
    }

    pub fn link(&self) -> &Link {
        &self.link
    }
}

/// Start the worker for a UPS found on `found`; `opener` finds it again
/// after a fault.
pub fn spawn<D: DeviceIo + 'static>(
    cfg: Config,
    found: Found<D>,
    opener: Opener<D>,
    notify: Notify<D>,
    clock: Clock,
) -> io::Result<Handle<D>> {
    let (tx, rx) = mpsc::channel();
    let (wake, wake_rx) = UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    wake_rx.set_nonblocking(true)?;
    let link = Arc::new(Link::new());
    let poll_ms = match cfg.opts.pollinterval_ms {
        0 => 2000,
        ms => ms,
    };
    let w = Worker {
        sched: Sched::new(poll_ms, cfg.retry),
        want: found.info.clone(),
        pending: Some(found),
        cfg,
        clock,
        link: link.clone(),
        notify,
        rx,
        wake_rx,
        opener,
        dev: None,
        node: None,
        ups: None,
        published: None,
        shown: (false, false),
        buf: vec![0; MAX_REPORT_LEN + 1].into_boxed_slice(),
        bad_input_said: false,
    };
    std::thread::Builder::new()
        .name(format!("ups {}", w.cfg.name))
        .spawn(move || w.run())?;
    Ok(Handle { tx, wake, link })
}

// ---------------------------------------------------------------------
// The thread.

struct Worker<D: DeviceIo> {
    cfg: Config,
    clock: Clock,
    sched: Sched,
    link: Arc<Link>,
    notify: Notify<D>,
    rx: Receiver<Msg<D>>,
    wake_rx: UnixStream,
    opener: Opener<D>,
    /// The device this UPS is (updated when a section takes a new one).
    want: UsbInfo,
    /// A device to try at the next attempt (the first one, or hot-plug).
    pending: Option<Found<D>>,
    dev: Option<D>,
    /// The node the device is (or last was) open on.
    node: Option<String>,
    ups: Option<Box<Ups>>,
    /// Store generation last copied to the link (`None`: copy next time).
    published: Option<u64>,
    /// `(live, gone)` as last written to the link.
    shown: (bool, bool),
    buf: Box<[u8]>,
    /// A malformed input report was logged since the device was opened
    /// (one line per device, not one per report).
    bad_input_said: bool,
}

impl<D: DeviceIo> Worker<D> {
    fn run(mut self) {
        loop {
            let now = self.clock.now();
            let next_full = self.ups.as_ref().map_or(u64::MAX, |u| u.next_full());
            let more = match self.sched.next_action(now, next_full) {
                Action::Update { .. } => {
                    self.update(now);
                    // Messages and input are served between updates even
                    // when a slow device makes them back to back.
                    self.wait(Some(0))
                }
                Action::Connect => {
                    self.connect(now);
                    self.wait(Some(0))
                }
                Action::Wait(ms) => self.wait(ms),
            };
            if !more {
                return;
            }
        }
    }

    fn log(&self, args: std::fmt::Arguments<'_>) {
        crate::sys::log::log(format_args!("{}: {args}", self.cfg.name));
    }

    /// Open and start the device in hand, or look for it.
    fn connect(&mut self, now: u64) {
        let found = match self.pending.take() {
            Some(f) => Some(f),
            None => (self.opener)(&self.want),
        };
        let Some(f) = found else {
            return self.connect_failed(now, "not found");
        };
        let mut dev = f.dev;
        let mut ups = match Ups::new(&f.descriptor, identity(&f.info), self.cfg.opts.clone()) {
            Ok(u) => Box::new(u),
            Err(e) => return self.connect_failed(now, &format!("{}: {e}", f.node)),
        };
        if ups.init(&mut dev, self.clock.now()) == WalkResult::Reconnect {
            return self.connect_failed(now, &format!("{}: stopped answering at start", f.node));
        }
        let now = self.clock.now();
        self.sched.poll_ms = ups.opts.pollinterval_ms;
        let first = match self.sched.connected(now) {
            Say::Started => {
                let i = &f.info;
                self.log(format_args!(
                    "{}: {} (USB {:04x}:{:04x}{}{}), subdriver {}: {} variables, {} commands",
                    f.node,
                    i.product.as_deref().unwrap_or("UPS"),
                    i.vid,
                    i.pid,
                    if i.serial.is_some() { ", serial " } else { "" },
                    i.serial.as_deref().map_or("", str::trim),
                    ups.sub.key,
                    ups.store.len(),
                    ups.cmds.len()
                ));
                for w in ups.option_warnings() {
                    self.log(format_args!("{w}"));
                }
                if !dev.has_strings() {
                    self.log(format_args!(
                        "no hiddev or usbfs node to read USB strings from: \
                         variables made of them (battery.type, ...) are left out"
                    ));
                }
                true
            }
            _ => false,
        };
        self.want = f.info;
        self.node = Some(f.node.clone());
        self.ups = Some(ups);
        self.bad_input_said = false;
        self.dev = Some(dev);
        self.published = None;
        // After an outage the data counts as fresh only if the INIT walk
        // read something (a unit that opens but answers nothing stays
        // stale, quietly, instead of flapping).
        let fresh = first || self.ups.as_deref().is_some_and(|u| u.walk_reads() > 0);
        self.publish(fresh.then_some(now));
        self.notify.send(Report::Attached {
            ups: self.cfg.index,
            node: f.node,
        });
    }

    fn connect_failed(&mut self, now: u64, why: &str) {
        match self.sched.connect_failed(now) {
            Say::Lost => self.log(format_args!("cannot open: {why}; retrying")),
            Say::GaveUp => self.log(format_args!(
                "still not found after {} attempts (maxretry): waiting for it to be plugged in",
                self.cfg.retry.max_tries.unwrap_or(0)
            )),
            _ => {}
        }
        self.set_state(false, self.shown.1);
    }

    /// The open device failed: close it, keep the last values as stale.
    fn lost(&mut self, now: u64, why: &str, gone: bool) {
        self.dev = None;
        self.ups = None;
        if self.sched.lost(now) == Say::Lost {
            let what = if gone {
                "driver not connected"
            } else {
                "data stale, reconnecting"
            };
            self.log(format_args!("{why}: {what}"));
        }
        self.set_state(false, gone);
    }

    fn update(&mut self, now: u64) {
        let (Some(ups), Some(dev)) = (self.ups.as_deref_mut(), self.dev.as_mut()) else {
            return;
        };
        let r = ups.update(dev, now);
        let end = self.clock.now();
        match r {
            WalkResult::Ok => {
                if self.sched.updated(now) == Say::Back {
                    self.log(format_args!("answers again"));
                }
                self.publish(Some(end));
            }
            WalkResult::Reconnect => self.lost(end, "the device stopped answering", false),
        }
    }

    /// Copy what changed to the link and wake the loop; `alive_at` is
    /// the time of a good update or input report, if this is one.
    fn publish(&mut self, alive_at: Option<u64>) {
        let Some(ups) = self.ups.as_deref() else {
            return;
        };
        if let Some(t) = alive_at {
            // Before the wake-up, so the loop never sees new data as old.
            *self
                .link
                .last_update_ms
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = t;
        }
        let gen = ups.store.generation;
        let copy = self.published != Some(gen);
        let state = (alive_at.is_some() || self.shown.0, false);
        if !copy && state == self.shown {
            return;
        }
        {
            let mut s = self.link.lock();
            if copy {
                s.store.clone_from(&ups.store);
                s.cmds.clone_from(&ups.cmds);
            }
            (s.live, s.gone) = state;
            s.seq += 1;
        }
        self.published = Some(gen);
        self.shown = state;
        self.notify.wake();
    }

    fn set_state(&mut self, live: bool, gone: bool) {
        if self.shown == (live, gone) {
            return;
        }
        {
            let mut s = self.link.lock();
            (s.live, s.gone) = (live, gone);
            s.seq += 1;
        }
        self.shown = (live, gone);
        self.notify.wake();
    }

    /// Wait up to `ms` for input, a hang-up or a message. Returns false
    /// when the loop has dropped its end.
    fn wait(&mut self, ms: Option<u64>) -> bool {
        let timeout = ms.map_or(PollTimeout::NONE, |ms| {
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        });
        // Without the interrupt pipe (pollonly) input is not read, but a
        // hang-up is still reported.
        let input = match self.ups.as_deref() {
            Some(u) if u.interrupt_pipe => PollFlags::POLLIN,
            _ => PollFlags::empty(),
        };
        let (wake, dev) = {
            let mut fds = [
                PollFd::new(self.wake_rx.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.wake_rx.as_fd(), PollFlags::empty()),
            ];
            let n = match &self.dev {
                Some(d) => {
                    fds[1] = PollFd::new(d.as_fd(), input);
                    2
                }
                None => 1,
            };
            match poll(&mut fds[..n], timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => return true,
                Err(e) => {
                    self.log(format_args!("poll: {e}"));
                    std::thread::sleep(Duration::from_millis(ms.unwrap_or(1000).min(1000)));
                    return true;
                }
            }
            let ev = |f: &PollFd| f.revents().unwrap_or(PollFlags::empty());
            (
                ev(&fds[0]),
                if n == 2 {
                    ev(&fds[1])
                } else {
                    PollFlags::empty()
                },
            )
        };
        let now = self.clock.now();
        if dev.contains(PollFlags::POLLIN) {
            self.read_inputs(now);
        } else if dev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
            self.lost(now, "the device hung up", false);
        }
        if wake.is_empty() {
            return true;
        }
        let mut hung_up = false;
        let mut b = [0u8; 64];
        loop {
            match (&self.wake_rx).read(&mut b) {
                Ok(0) => {
                    hung_up = true;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        loop {
            match self.rx.try_recv() {
                Ok(m) => self.handle(m),
                Err(TryRecvError::Empty) => return !hung_up,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Every waiting input report, decoded as it comes.
    fn read_inputs(&mut self, now: u64) {
        let mut fed = false;
        loop {
            let (Some(ups), Some(dev)) = (self.ups.as_deref_mut(), self.dev.as_mut()) else {
                return;
            };
            match dev.read_input(&mut self.buf) {
                Ok(None) => break,
                // hidraw never returns an empty report while the device
                // is there.
                Ok(Some(0)) => return self.lost(now, "read 0 bytes", false),
                Ok(Some(n)) => {
                    if !self.bad_input_said {
                        if let Err(e) = ups.check_input(&self.buf[..n]) {
                            self.bad_input_said = true;
                            crate::sys::log::log(format_args!(
                                "{}: {e} (used as far as it fits; said once per device)",
                                self.cfg.name
                            ));
                        }
                    }
                    fed |= ups.on_input(&self.buf[..n], dev, now) > 0
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.lost(now, &format!("read: {e}"), false),
            }
        }
        if fed {
            self.publish(Some(now));
        }
    }

    fn handle(&mut self, m: Msg<D>) {
        let now = self.clock.now();
        match m {
            Msg::InstCmd {
                cmd,
                value,
                tracking,
            } => {
                let st = self.instcmd(cmd, value.as_ref().map(Text::as_str));
                self.done(tracking, st);
            }
            Msg::SetVar {
                var,
                value,
                tracking,
            } => {
                let st = match (self.ups.as_deref_mut(), self.dev.as_mut()) {
                    (Some(ups), Some(dev)) => {
                        let r = ups.setvar(var.as_str(), value.as_str(), dev, now);
                        log_write(&self.cfg.name, var.as_str(), r);
                        write_status(r)
                    }
                    _ => {
                        self.log(format_args!("{var}: failed (not connected)"));
                        TrackingStatus::Failed
                    }
                };
                self.publish(None);
                self.done(tracking, st);
            }
            Msg::Attach(f) => {
                // Up already (it found the device itself, or the loop saw
                // the node twice): the spare handle just closes.
                if !self.sched.is_up() {
                    self.pending = Some(*f);
                    self.sched.hotplugged(now);
                }
            }
            Msg::Removed(node) => {
                if self.node.as_deref() == Some(node.as_str()) {
                    self.node = None;
                    if self.sched.is_up() {
                        self.lost(now, &format!("{node}: unplugged"), true);
                    } else {
                        self.log(format_args!("{node}: unplugged: driver not connected"));
                        self.set_state(false, true);
                    }
                }
            }
        }
    }

    /// Plan and run an instant command; pauses are slept through.
    fn instcmd(&mut self, cmd: &str, value: Option<&str>) -> TrackingStatus {
        let name = &self.cfg.name;
        let (Some(ups), Some(dev)) = (self.ups.as_deref_mut(), self.dev.as_mut()) else {
            crate::sys::log::log(format_args!("{name}: {cmd}: failed (not connected)"));
            return TrackingStatus::Failed;
        };
        let plan = match ups.plan_command(cmd, value) {
            Ok(p) => p,
            Err(e) => {
                crate::sys::log::log(format_args!("{name}: {cmd}: {e:?}"));
                return match e {
                    CmdError::Unknown => TrackingStatus::Unknown,
                    CmdError::NeedsValue | CmdError::BadValue => TrackingStatus::InvalidArgument,
                };
            }
        };
        let mut r = Ok(());
        for step in plan.steps() {
            if let Step::PauseMs(ms) = step {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                continue;
            }
            r = ups.run_step(step, dev, self.clock.now());
            if r.is_err() {
                break;
            }
        }
        log_write(name, cmd, r);
        self.publish(None);
        write_status(r)
    }

    fn done(&self, tracking: Option<TrackingId>, status: TrackingStatus) {
        if let Some(tracking) = tracking {
            self.notify.send(Report::Done { tracking, status });
        }
    }
}

/// The TRACKING result of a write, with the driver result codes NUT's
/// usbhid-ups sends.
pub fn write_status(r: Result<(), WriteError>) -> TrackingStatus {
    match r {
        Ok(()) => TrackingStatus::Success,
        Err(WriteError::NotSupported | WriteError::ReadOnly) => TrackingStatus::Unknown,
        Err(WriteError::BadValue) => TrackingStatus::InvalidArgument,
        Err(WriteError::Io(_)) => TrackingStatus::Failed,
    }
}

/// Log how a write ended.
pub fn log_write(ups: &str, what: &str, r: Result<(), WriteError>) {
    match r {
        Ok(()) => crate::sys::log::log(format_args!("{ups}: {what}: done")),
        Err(e) => crate::sys::log::log(format_args!("{ups}: {what}: failed ({e:?})")),
    }
}

// ---------------------------------------------------------------------
// hidraw.

/// What a hidraw node is.
pub enum Probed {
    Ups(Found<Hidraw>),
    /// Not a UPS (or not ours to open): skipped without a word.
    NotUps,
    /// Looks like a UPS but could not be read: worth a log line.
    Failed(String),
}

/// Open `/dev/<node>`, ask the kernel who it is and for its report
/// descriptor, and keep it if it is a USB HID Power Device. Blocking:
/// run it on a probe or worker thread.
pub fn probe(node: &str) -> Probed {
    let path = Path::new("/dev").join(node);
    let dev = match open_patiently(&path) {
        Ok(d) => d,
        Err(e) => {
            // Keyboards and the like are not our business; a listed UPS
            // we cannot open is (permissions: see rules/).
            let listed = UsbInfo::for_hidraw(node)
                .is_some_and(|u| crate::ups::select::claim(&identity(&u)).is_some());
            return if listed {
                Probed::Failed(format!("{}: {e}", path.display()))
            } else {
                Probed::NotUps
            };
        }
    };
    // Read once the node is open: an open node keeps its number, so this
    // is the device opened, not one that took the name since (a unit
    // unplugged and plugged in again while it was probed).
    let sysfs = UsbInfo::for_hidraw(node);
    match identify(dev, node, sysfs) {
        Ok(Some(found)) => Probed::Ups(found),
        Ok(None) => Probed::NotUps,
        Err(e) => Probed::Failed(e),
    }
}

/// Keep an open hidraw node if it is a USB HID Power Device: its report
/// descriptor, its identity (sysfs `sysfs` when given, else what hidraw
/// itself says, as for uhid devices) and its string source. `Ok(None)`
/// for any other device. Blocking ioctls: not for the event loop.
pub fn identify(
    mut dev: Hidraw,
    node: &str,
    sysfs: Option<UsbInfo>,
) -> Result<Option<Found<Hidraw>>, String> {
    let raw = match dev.info() {
        Ok(i) if i.bustype == BUS_USB => i,
        _ => return Ok(None),
    };
    let descriptor = dev
        .descriptor()
        .map_err(|e| format!("/dev/{node}: HIDIOCGRDESC: {e}"))?;
    if !Descriptor::parse(&descriptor).is_ok_and(|d| d.is_power_device()) {
        return Ok(None);
    }
    let info = match sysfs {
        Some(u) => {
            dev.strings = Strings::open(u.hiddev.as_deref(), &u.usbfs());
            u
        }
        // No USB parent in sysfs (uhid, as in the VM tests): what hidraw
        // itself says.
        None => {
            let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
            let info = UsbInfo {
                vid: raw.vendor as u16,
                pid: raw.product as u16,
                product: nonempty(dev.name()),
                serial: nonempty(dev.uniq()),
                port: nonempty(dev.phys()).unwrap_or_else(|| node.to_string()),
                ..UsbInfo::default()
            };
            // A device gone meanwhile answers nothing (ENODEV), and left
            // without serial and phys it would be served as a new UPS
            // named after the node (`generic-porthidraw3`). Still there
            // now means the answers above were its own.
            if dev.info().is_err() {
                return Ok(None);
            }
            info
        }
    };
    Ok(Some(Found {
        dev,
        node: node.to_string(),
        info,
        descriptor,
    }))
}

/// Open a node that may have just appeared: the kernel's uevent comes
/// before udev has applied its permissions, so a refusal is retried for
/// a while.
fn open_patiently(path: &Path) -> io::Result<Hidraw> {
    let mut tries = 0;
    loop {
        match Hidraw::open(path) {
            Err(e)
                if tries < 10
                    && matches!(
                        e.kind(),
                        io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound
                    ) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

/// Find the device `want` among the hidraw nodes present now. Only nodes
/// whose sysfs identity matches (or that have none) are opened.
/// A node on the same port is tried first: units that share a serial
/// number are told apart by it.
pub fn reopen(want: &UsbInfo) -> Option<Found<Hidraw>> {
    let mut nodes: Vec<(bool, String)> = Vec::new();
    for node in hotplug::scan(Path::new(hotplug::CLASS)) {
        match UsbInfo::for_hidraw(&node) {
            Some(u) if !same_device(&u, want) => continue,
            Some(u) => nodes.push((u.port != want.port, node)),
            None => nodes.push((true, node)),
        }
    }
    nodes.sort();
    for (_, node) in nodes {
        if let Probed::Ups(f) = probe(&node) {
            if same_device(&f.info, want) {
                return Some(f);
            }
        }
    }
    None
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
                Action::Update { full } => {
                    out.push((now, full));
                    if full {
                        last_full = now;
                    }
                    s.updated(now);
                }
                Action::Wait(Some(ms)) => now += ms,
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
        assert_eq!(s.next_action(1500, u64::MAX), Action::Wait(Some(500)));
        // An update from 2000 to 6500 (a stalled GET_REPORT): the next one
        // was due at 4000, so it runs at once, not 2 s later.
        assert!(matches!(
            s.next_action(2000, u64::MAX),
            Action::Update { .. }
        ));
        s.updated(2000);
        assert!(matches!(
            s.next_action(6500, u64::MAX),
            Action::Update { .. }
        ));
        s.updated(6500);
        assert_eq!(s.next_action(6600, u64::MAX), Action::Wait(Some(1900)));
    }

    /// Delays between attempts after a fault at `t0`, every attempt failing.
    fn backoff(s: &mut Sched, t0: u64, n: usize) -> Vec<Option<u64>> {
        s.connected(0);
        s.lost(t0);
        let mut now = t0;
        let mut out = Vec::new();
        for _ in 0..n {
            match s.next_action(now, u64::MAX) {
                Action::Wait(Some(ms)) => {
                    out.push(Some(ms));
                    now += ms;
                    assert_eq!(s.next_action(now, u64::MAX), Action::Connect);
                    s.connect_failed(now);
                }
                Action::Wait(None) => {
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
        assert_eq!(s.next_action(99_000, u64::MAX), Action::Connect);
        // A hot-plugged device is tried at once, whatever the back-off.
        let mut s = Sched::new(2000, Retry::default());
        backoff(&mut s, 0, 6);
        s.hotplugged(50);
        assert_eq!(s.next_action(50, u64::MAX), Action::Connect);
        // Up, a hot-plug event changes nothing.
        s.connected(60);
        s.hotplugged(70);
        assert_eq!(s.next_action(70, u64::MAX), Action::Wait(Some(1990)));
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

    #[test]
    fn same_device_by_serial_else_port() {
        let a = UsbInfo {
            vid: 0x051d,
            pid: 2,
            serial: Some("4B1234P56789  ".into()),
            port: "1-1.2".into(),
            ..UsbInfo::default()
        };
        // Moved to another port: the same unit.
        let moved = UsbInfo {
            port: "3-1".into(),
            serial: Some("4B1234P56789".into()),
            ..a.clone()
        };
        assert!(same_device(&a, &moved));
        let other = UsbInfo {
            serial: Some("4B9999".into()),
            ..a.clone()
        };
        assert!(!same_device(&a, &other));
        // No serial (or zeros): the port tells them apart.
        let z = |port: &str| UsbInfo {
            serial: Some("000000".into()),
            port: port.into(),
            ..a.clone()
        };
        assert!(same_device(&z("1-2"), &z("1-2")));
        assert!(!same_device(&z("1-2"), &z("1-3")));
        assert!(!same_device(&a, &z("1-1.2")));
    }

    #[test]
    fn mirror_copies_only_changes() {
        let link = Link::new();
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
