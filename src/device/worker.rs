//! One thread per UPS: it owns the UPS's engine ([`Ups`]) and its device
//! (a hidraw node, or a simulated UPS: [`super::sim`]), and runs NUT's
//! polling schedule made event-driven, so that the protocol loop never
//! waits on a device.
//!
//! Read first: `docs/design/hid-decoding.md` §0 and §6 (polling model,
//! error actions, reconnect) and `docs/design/nut-protocol.md` §8.2
//! (staleness).
//!
//! Why a thread: every report a UPS is asked for is a blocking ioctl
//! (HIDIOCGFEATURE waits up to 5 s for a unit that does not answer), and
//! so are opening a node and reading its descriptor. NUT puts the device in
//! its own process (the driver); here it is a thread per UPS.
//!
//! Boundary:
//! - [`Sched`] ([`super::sched`]) is pure: time in, the next thing to do
//!   out. This thread asks it and does what it says.
//! - The thread ([`spawn`]) does the I/O. It `poll(2)`s the device and a
//!   wake socket until the next update; input reports are read until
//!   `EAGAIN` and fed to [`Ups::on_input`] the moment they arrive; every
//!   `pollinterval` it runs [`Ups::update`] (QUICK or FULL as the engine
//!   decides); commands and SET VAR run when the loop sends them (a
//!   command's pauses are slept through here, as NUT's driver does).
//! - What it shares with the loop is a [`WorkerShare`] ([`super::shared`]),
//!   locked only for a copy, never across I/O. The worker tells the loop
//!   through [`Report`]s on a channel and a `mio::Waker`; the loop tells
//!   the worker through [`Msg`]s on a channel and a byte on a socket
//!   pair, because `poll(2)` cannot wait on a channel.
//! - Opening a node and finding a unit again is [`super::probe`]'s.
//!
//! The worker is generic over [`DeviceIo`] (a `Transport`, a pollable
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

use super::io::{DeviceIo, Found, Opener};
use super::qxunit::{self, QxUnit};
use super::sched::{Due, Say, Sched};
use super::shared::{Msg, Notify, Report, WorkerShare};
use super::usb::{identity, UsbInfo};
use crate::chan::{self as mpsc, Receiver, Sender, TryRecvError};
use crate::config::setup::Retry;
use crate::hid::descriptor::MAX_REPORT_LEN;
use crate::proto::{TrackingId, TrackingStatus, VarRange};
use crate::qx::usbid::Serve;
use crate::sys::clock::Clock;
use crate::text::Text;
use crate::ups::command::{CmdError, Step};
use crate::ups::engine::{Ups, WalkResult};
use crate::ups::options::Options;
use crate::ups::transport::WriteError;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

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
    link: Arc<WorkerShare>,
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

    pub fn link(&self) -> &WorkerShare {
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
    let link = Arc::new(WorkerShare::new());
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
        qx: None,
        published: None,
        shown: (false, false),
        buf: vec![0; MAX_REPORT_LEN + 1].into_boxed_slice(),
        bad_input_said: false,
    };
    super::spawn_named(format!("ups {}", w.cfg.name), Box::new(move || w.run()))?;
    Ok(Handle { tx, wake, link })
}

// ---------------------------------------------------------------------
// The thread.

struct Worker<D: DeviceIo> {
    cfg: Config,
    clock: Clock,
    sched: Sched,
    link: Arc<WorkerShare>,
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
    /// Or a Megatec/Q1 unit (nutdrv_qx's engine) on the device.
    qx: Option<Box<QxUnit>>,
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
            let next_full = match (&self.ups, &self.qx) {
                (Some(u), _) => u.next_full(),
                (_, Some(q)) => q.qx.next_full(),
                _ => u64::MAX,
            };
            let more = match self.sched.next_action(now, next_full) {
                Due::Update { .. } => {
                    self.update(now);
                    // Messages and input are served between updates even
                    // when a slow device makes them back to back.
                    self.wait(Some(0))
                }
                Due::Connect => {
                    self.connect(now);
                    self.wait(Some(0))
                }
                Due::Wait(ms) => self.wait(ms),
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
            return self.connect_failed(now, format_args!("not found"));
        };
        // A Megatec/Q1 unit: nutdrv_qx's engine; anything else goes to
        // the HID engine, which says what it is not.
        if let Serve::Megatec(b) = qxunit::serve(&f.descriptor, &f.info, &self.cfg.opts) {
            let mut f = f;
            let t = self.clock.now();
            return match QxUnit::start(&mut f.dev, b, &f.info, &self.cfg.opts, t) {
                Ok(u) => self.connected_qx(f, u),
                Err(e) => self.connect_failed(now, format_args!("{}: {e}", f.node)),
            };
        }
        let mut dev = f.dev;
        let mut ups = match Ups::new(&f.descriptor, identity(&f.info), self.cfg.opts.clone()) {
            Ok(u) => Box::new(u),
            Err(e) => return self.connect_failed(now, format_args!("{}: {e}", f.node)),
        };
        if ups.init(&mut dev, self.clock.now()) == WalkResult::Reconnect {
            return self
                .connect_failed(now, format_args!("{}: stopped answering at start", f.node));
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
        if !first {
            // After a reconnect the first walk is a full one.
            ups.request_full();
        }
        self.want = f.info;
        self.node = Some(f.node.clone());
        self.ups = Some(ups);
        self.qx = None;
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

    /// A Megatec/Q1 unit answered its protocol: serve it.
    fn connected_qx(&mut self, f: Found<D>, u: QxUnit) {
        let now = self.clock.now();
        if self.sched.connected(now) == Say::Started {
            let i = &f.info;
            self.log(format_args!(
                "{}: {} (USB {:04x}:{:04x}), Megatec/Q1 protocol {} through the {} bridge: \
                 {} variables, {} commands",
                f.node,
                i.product.as_deref().unwrap_or("UPS"),
                i.vid,
                i.pid,
                u.qx.proto.name,
                u.bridge.name(),
                u.qx.store.len(),
                u.qx.cmds.len()
            ));
        }
        self.want = f.info;
        self.node = Some(f.node.clone());
        self.ups = None;
        self.qx = Some(Box::new(u));
        self.dev = Some(f.dev);
        self.published = None;
        self.publish(Some(now));
        self.notify.send(Report::Attached {
            ups: self.cfg.index,
            node: f.node,
        });
    }

    fn connect_failed(&mut self, now: u64, why: std::fmt::Arguments<'_>) {
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
    fn lost(&mut self, now: u64, why: std::fmt::Arguments<'_>, gone: bool) {
        self.dev = None;
        self.ups = None;
        self.qx = None;
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
        if let (Some(u), Some(dev)) = (self.qx.as_deref_mut(), self.dev.as_mut()) {
            let r = u.update(dev, now);
            let stale = u.qx.stale();
            let end = self.clock.now();
            return match r {
                Ok(()) => {
                    if self.sched.updated(now) == Say::Back {
                        self.log(format_args!("answers again"));
                    }
                    self.publish(Some(end));
                }
                Err(crate::qx::QxError::Link(_, crate::qx::LinkError::Gone)) => {
                    self.lost(end, format_args!("the device is gone"), false)
                }
                // nutdrv_qx calls the data stale after five failed polls.
                Err(e) if stale => self.lost(end, format_args!("{e}"), false),
                Err(_) => {}
            };
        }
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
            WalkResult::Reconnect => {
                self.lost(end, format_args!("the device stopped answering"), false)
            }
        }
    }

    /// Copy what changed to the link and wake the loop; `alive_at` is
    /// the time of a good update or input report, if this is one.
    fn publish(&mut self, alive_at: Option<u64>) {
        let (store, cmds) = match (self.ups.as_deref(), self.qx.as_deref()) {
            (Some(u), _) => (&u.store, &u.cmds),
            (_, Some(q)) => (&q.qx.store, &q.qx.cmds),
            _ => return,
        };
        if let Some(t) = alive_at {
            // Before the wake-up, so the loop never sees new data as old.
            *self
                .link
                .last_update_ms
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = t;
        }
        let gen = store.generation;
        let copy = self.published != Some(gen);
        let state = (alive_at.is_some() || self.shown.0, false);
        if !copy && state == self.shown {
            return;
        }
        {
            let mut s = self.link.lock();
            if copy {
                s.store.clone_from(store);
                s.cmds.clone_from(cmds);
                s.ranges.clear();
                if let Some(q) = self.qx.as_deref() {
                    s.ranges.extend(q.qx.ranges().map(|(var, lo, hi)| VarRange {
                        var,
                        min: i32::try_from(lo).unwrap_or(i32::MAX),
                        max: i32::try_from(hi).unwrap_or(i32::MAX),
                    }));
                }
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
                    self.log(format_args!("poll: {}", std::io::Error::from(e)));
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
            self.lost(now, format_args!("the device hung up"), false);
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
                Ok(Some(0)) => return self.lost(now, format_args!("read 0 bytes"), false),
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
                Err(e) => return self.lost(now, format_args!("read: {e}"), false),
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
                    (None, Some(dev)) if self.qx.is_some() => {
                        let u = self.qx.as_deref_mut().expect("checked");
                        let r = u.setvar(dev, var.as_str(), value.as_str());
                        qx_log(&self.cfg.name, var.as_str(), r);
                        qx_status(r)
                    }
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
                        self.lost(now, format_args!("{node}: unplugged"), true);
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
        if let (Some(u), Some(dev)) = (self.qx.as_deref_mut(), self.dev.as_mut()) {
            let r = u.instcmd(dev, cmd, value);
            qx_log(name, cmd, r);
            self.publish(None);
            return qx_status(r);
        }
        let (Some(ups), Some(dev)) = (self.ups.as_deref_mut(), self.dev.as_mut()) else {
            crate::sys::log::log(format_args!("{name}: {cmd}: failed (not connected)"));
            return TrackingStatus::Failed;
        };
        let plan = match ups.plan_command(cmd, value) {
            Ok(p) => p,
            Err(e) => {
                crate::sys::log::log(format_args!("{name}: {cmd}: {}", e.name()));
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

/// The TRACKING result of a Megatec unit's command or SET.
pub fn qx_status(r: Result<(), crate::qx::engine::CmdError>) -> TrackingStatus {
    use crate::qx::engine::CmdError as E;
    match r {
        Ok(()) => TrackingStatus::Success,
        Err(E::Unknown) => TrackingStatus::Unknown,
        Err(E::BadValue(_)) => TrackingStatus::InvalidArgument,
        Err(E::Failed(_) | E::Refused(_)) => TrackingStatus::Failed,
    }
}

fn qx_log(ups: &str, what: &str, r: Result<(), crate::qx::engine::CmdError>) {
    match r {
        Ok(()) => crate::sys::log::log(format_args!("{ups}: {what}: done")),
        Err(e) => crate::sys::log::log(format_args!("{ups}: {what}: failed ({e})")),
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
        Err(e) => crate::sys::log::log(format_args!("{ups}: {what}: failed ({})", e.name())),
    }
}
