//! A simulated UPS: a recording served through the same device trait as
//! a hidraw node ([`DeviceIo`]), so that a simulated UPS runs in a
//! [`worker`](super::worker) thread exactly as a USB one does.
//!
//! What the device does:
//! - GET_REPORT (Feature) answers the latest bytes of that report id,
//!   SET_REPORT stores what was written, so a written value reads back
//!   ([`Replay`]); USB strings come from the recording;
//! - input reports arrive on a pollable fd, one end of a
//!   `SOCK_SEQPACKET` socket pair (one record per report, as hidraw
//!   reads are), the other end held by the device: the recorded input
//!   reports are sent when the device is first opened, and a reopened
//!   device sends the latest input report of each id;
//! - its script (`at` lines, see [`crate::recording`]) is played by a
//!   timer thread: each event patches, through the report descriptor
//!   ([`report::to_logical`], [`report::put`]), every Feature field at the
//!   event's path, so the next walk reads the new value, and every Input
//!   field there, whose report (the latest bytes of that id, patched) is
//!   then sent like an interrupt report.
//!
//! Paths resolve with the usage tables of the subdriver the engine picks
//! for the recording's identity (vendor names allowed), against the
//! descriptor after the subdriver's fix-ups, so values are in NUT's units
//! (volts, percent, seconds). A path that names no field, or a macro
//! none of whose fields the UPS has, is an error when the simulation is
//! set up ([`Sim::load`]), naming the file and line.
//!
//! A recording of a Megatec/Q1 unit (`answer` lines, a descriptor that
//! is not a Power Device) is simulated behind its USB bridge (nutdrv_qx's
//! match table on the recording's ids, else `cypress`): output reports
//! written are assembled into commands, answered from the recording and
//! framed as the bridge's input reports (string descriptors and feature
//! reports for the bridges that use them); `powercut`, `powerback` and
//! `lowbatt` flip the status characters of the recorded status answers.
//!
//! Boundary: [`Sim::load`] is pure (it checks and compiles the script);
//! from [`Sim::start`] on this is a shell, a stand-in for a device: it
//! owns sockets and a timer thread that reads the clock. Script times
//! count from `start`. The timer ends when the last handle on the UPS
//! (the worker's device and opener) is dropped.

use super::io::{Dev, DeviceIo, Found, Opener};
use crate::chan::{self as mpsc, Receiver, RecvTimeoutError, Sender};
use crate::device::usb::UsbInfo;
use crate::hid::{report, Descriptor, ReportType};
use crate::qx::bridge::{SimWire, Wire};
use crate::qx::replay::AnswerList;
use crate::qx::usbid;
use crate::qx::Bridge;
use crate::recording::{Act, Event, Recording, Replay};
use crate::text::Text;
use crate::ups::engine::Ups;
use crate::ups::options::Options;
use crate::ups::path;
use crate::ups::transport::{IoError, Transport};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Where the power macros' flags sit: under PresentStatus, and (APC,
/// Liebert) beside it as well, where a unit repeats them; both are set
/// where present, as the unit itself would keep them in step.
const STATUS: [&str; 2] = ["UPS.PowerSummary.PresentStatus", "UPS.PowerSummary"];

/// Eaton's own fields that say the same as the power macros' flags, set
/// where the UPS has them: with ABM charging (5SC) the charger's mode or
/// status decides CHRG and DISCHRG, not the Charging flags, and the input
/// converter's Used flag is read as "online" at every full walk (so a
/// power cut that left it at 1 would read OL for one walk in every 30 s).
/// Values: Charger.Mode 1 charging, 2 discharging; Charger.Status 1
/// charging, 4 discharging (NUT's mge-hid ABM rules).
type Sets = &'static [(&'static str, f64)];
const EATON_CUT: Sets = &[
    ("UPS.PowerConverter.Input.[1].PresentStatus.Used", 0.0),
    ("UPS.BatterySystem.Charger.Mode", 2.0),
    ("UPS.BatterySystem.Charger.Status", 4.0),
];
const EATON_BACK: Sets = &[
    ("UPS.PowerConverter.Input.[1].PresentStatus.Used", 1.0),
    ("UPS.BatterySystem.Charger.Mode", 1.0),
    ("UPS.BatterySystem.Charger.Status", 1.0),
];

/// The fields an event sets, each where the UPS has it (a `set` path must
/// exist).
fn expand(act: &Act) -> Vec<(String, f64)> {
    let (flags, extra): (Sets, Sets) = match act {
        Act::Set { path, value } => return vec![(path.clone(), *value)],
        // A battery in use is no longer full.
        Act::PowerCut => (
            &[
                ("ACPresent", 0.0),
                ("Discharging", 1.0),
                ("Charging", 0.0),
                ("FullyCharged", 0.0),
            ],
            EATON_CUT,
        ),
        Act::PowerBack => (
            &[("ACPresent", 1.0), ("Discharging", 0.0), ("Charging", 1.0)],
            EATON_BACK,
        ),
        Act::LowBatt => (
            &[
                ("BelowRemainingCapacityLimit", 1.0),
                ("ShutdownImminent", 1.0),
            ],
            &[],
        ),
    };
    let mut out = Vec::with_capacity(STATUS.len() * flags.len() + extra.len());
    for c in STATUS {
        for (f, v) in flags {
            out.push((format!("{c}.{f}"), *v));
        }
    }
    for (p, v) in extra {
        out.push((p.to_string(), *v));
    }
    out
}

/// One field write of an event: the field's index in the descriptor and
/// the logical value to put there.
#[derive(Debug, Clone, Copy)]
struct Patch {
    field: usize,
    logical: i64,
}

/// A compiled event.
#[derive(Debug, Clone)]
struct Step {
    at_ms: u64,
    /// `file:line: what`, for the log.
    what: String,
    patches: Vec<Patch>,
    /// For a Megatec/Q1 unit: the event, applied to its status answers.
    megatec: Option<Act>,
}

/// A simulated Megatec/Q1 unit behind its bridge.
struct Megatec {
    wire: SimWire<Answerer>,
    answers: Arc<Mutex<AnswerList>>,
}

type Answerer = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

impl Megatec {
    fn new(rec: &Recording) -> Megatec {
        let i = &rec.ident;
        let bridge = usbid::bridge(i.vid, i.pid, i.vendor.as_deref(), i.product.as_deref())
            .unwrap_or(Bridge::Cypress);
        let answers = Arc::new(Mutex::new(rec.answers.clone()));
        let a = answers.clone();
        let answer: Answerer = Box::new(move |cmd: &[u8]| {
            let list = a.lock().unwrap_or_else(|e| e.into_inner());
            list.iter()
                .rev()
                .find(|(c, _)| c.as_slice() == cmd)
                .map(|(_, v)| v.clone())
        });
        let mut wire = SimWire::new(bridge, answer);
        wire.strings = rec.strings.clone();
        Megatec { wire, answers }
    }

    /// Flip the status characters (Q1 position 38: utility fail, 39:
    /// battery low) of every recorded status answer.
    fn apply(&self, act: &Act) {
        let mut list = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        for (_, a) in list.iter_mut() {
            if a.len() < 47 || a[0] != b'(' {
                continue;
            }
            match act {
                Act::PowerCut => a[38] = b'1',
                Act::PowerBack => {
                    a[38] = b'0';
                    a[39] = b'0';
                }
                Act::LowBatt => a[39] = b'1',
                Act::Set { .. } => {}
            }
        }
    }
}

/// A simulated UPS, checked and ready to start.
pub struct Sim {
    rec: Recording,
    /// The descriptor as the engine sees it (after fix-ups).
    desc: Descriptor,
    steps: Vec<Step>,
    /// What the worker logs as the device's node: the recording's path.
    label: String,
}

impl Sim {
    /// Bind the recording as the worker will (`opts` as configured, so a
    /// `subdriver` option picks the tables too) and compile its script.
    /// Errors are one line naming the UPS, or the script's file and line.
    pub fn load(rec: Recording, opts: &Options, label: &str) -> Result<Sim, String> {
        let power = Descriptor::parse(&rec.descriptor).is_ok_and(|d| d.is_power_device());
        if !power && !rec.answers.is_empty() {
            return Sim::load_megatec(rec, label);
        }
        // The worker decodes the device in full; here the fields and the
        // tables are enough (the same checks, without the bindings).
        let (desc, choice) =
            Ups::prepare(&rec.descriptor, &rec.ident, opts).map_err(|e| format!("{label}: {e}"))?;
        let sub = choice.sub;
        let tables = sub.usages;
        let mut steps = Vec::with_capacity(rec.script.len());
        for ev in &rec.script {
            let at = place(ev, label);
            let mut patches = Vec::new();
            for (p, value) in expand(&ev.act) {
                let Some(want) = path::resolve(&p, tables) else {
                    if matches!(ev.act, Act::Set { .. }) {
                        return Err(format!(
                            "{at}: '{p}' is not a path this UPS's usage tables ({}) can name",
                            sub.key
                        ));
                    }
                    continue;
                };
                for (i, f) in desc.fields().iter().enumerate() {
                    if f.kind != ReportType::Output && f.path.nodes() == want.nodes() {
                        patches.push(Patch {
                            field: i,
                            logical: report::to_logical(f, value),
                        });
                    }
                }
            }
            if patches.is_empty() {
                let what = match &ev.act {
                    Act::Set { path, .. } => format!("'{path}' names no field of this UPS"),
                    a => format!(
                        "{a}: this UPS has none of its flags under {} or {}",
                        STATUS[0], STATUS[1]
                    ),
                };
                return Err(format!("{at}: {what}"));
            }
            // Feature fields first: an input report never sent before is
            // built from them (see `Inner::input`).
            let feature = |p: &Patch| desc.fields()[p.field].kind == ReportType::Feature;
            crate::sort::sort_by(&mut patches, |a, b| feature(a) && !feature(b));
            steps.push(step(ev, &at, patches, None));
        }
        // In time order; lines with the same time in file order.
        crate::sort::sort_by(&mut steps, |a, b| a.at_ms < b.at_ms);
        Ok(Sim {
            rec,
            desc,
            steps,
            label: label.to_string(),
        })
    }

    /// A Megatec/Q1 unit: its answers, and events on its status answers.
    fn load_megatec(rec: Recording, label: &str) -> Result<Sim, String> {
        let desc = Descriptor::parse(&rec.descriptor).map_err(|e| format!("{label}: {e}"))?;
        let mut steps = Vec::with_capacity(rec.script.len());
        for ev in &rec.script {
            let at = place(ev, label);
            if let Act::Set { path, .. } = &ev.act {
                return Err(format!(
                    "{at}: 'set {path}': a Megatec/Q1 unit has no HID fields \
                     (powercut, powerback and lowbatt change its status answers)"
                ));
            }
            steps.push(step(ev, &at, Vec::new(), Some(ev.act.clone())));
        }
        crate::sort::sort_by(&mut steps, |a, b| a.at_ms < b.at_ms);
        Ok(Sim {
            rec,
            desc,
            steps,
            label: label.to_string(),
        })
    }

    /// Switch the device on: the script's clock starts now. `name` is the
    /// UPS's name, for the log.
    pub fn start(self, name: &str) -> io::Result<SimUps> {
        let Sim {
            rec,
            desc,
            steps,
            label,
        } = self;
        let megatec = !rec.answers.is_empty() && !desc.is_power_device();
        let (stop, stopped) = mpsc::channel();
        let mut inputs = vec![None; 256];
        for r in &rec.inputs {
            let (id, bytes) = with_id(&desc, r);
            inputs[id as usize] = Some(bytes);
        }
        let features = Replay::new(&rec);
        let megatec = megatec.then(|| Megatec::new(&rec));
        // The rest of the recording moves to the unit.
        let Recording {
            ident,
            descriptor,
            inputs: recorded,
            ..
        } = rec;
        let inner = Arc::new(Inner {
            name: name.to_string(),
            label,
            info: UsbInfo {
                vid: ident.vid,
                pid: ident.pid,
                manufacturer: ident.vendor,
                product: ident.product,
                serial: ident.serial,
                port: "sim".into(),
                ..UsbInfo::default()
            },
            descriptor,
            desc,
            state: Mutex::new(State {
                megatec,
                features,
                inputs,
                recorded,
                opened: false,
                peer: None,
            }),
            _stop: stop,
        });
        if !steps.is_empty() {
            let weak = Arc::downgrade(&inner);
            let t0 = Instant::now();
            super::spawn_named(
                format!("sim {name}"),
                Box::new(move || play(weak, steps, stopped, t0)),
            )?;
        }
        Ok(SimUps(inner))
    }
}

/// Where a script line is, for its errors and log lines: the file and
/// line, or the UPS's recording and the line.
fn place(ev: &Event, label: &str) -> String {
    if ev.file.as_os_str().is_empty() {
        format!("{label}: line {}", ev.line)
    } else {
        format!("{}:{}", ev.file.display(), ev.line)
    }
}

fn step(ev: &Event, at: &str, patches: Vec<Patch>, megatec: Option<Act>) -> Step {
    Step {
        at_ms: ev.at_ms,
        what: format!("{at}: {}", ev.act),
        patches,
        megatec,
    }
}

/// An input report with its id byte first (NUT's buffer layout), however
/// the device sends it: without report ids, hidraw delivers the data
/// alone.
fn with_id(desc: &Descriptor, r: &[u8]) -> (u8, Vec<u8>) {
    if desc.uses_report_ids {
        (r.first().copied().unwrap_or(0), r.to_vec())
    } else {
        let mut v = Vec::with_capacity(r.len() + 1);
        v.push(0);
        v.extend_from_slice(r);
        (0, v)
    }
}

/// The timer thread: apply each step at its time; stop when the UPS is
/// dropped (its channel closes).
fn play(ups: Weak<Inner>, steps: Vec<Step>, stopped: Receiver<()>, t0: Instant) {
    for step in &steps {
        let due = t0 + Duration::from_millis(step.at_ms);
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match stopped.recv_timeout(left) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
        let Some(ups) = ups.upgrade() else {
            return;
        };
        crate::sys::log::log(format_args!("{}: {}", ups.name, step.what));
        ups.apply(step);
    }
}

/// A running simulated UPS; [`SimUps::open`] gives the worker a device on
/// it. Clones share the one unit.
#[derive(Clone)]
pub struct SimUps(Arc<Inner>);

struct Inner {
    name: String,
    label: String,
    info: UsbInfo,
    /// As recorded, for the worker's engine (which applies the fix-ups).
    descriptor: Vec<u8>,
    /// After fix-ups, to place fields.
    desc: Descriptor,
    state: Mutex<State>,
    /// Closes the timer's channel when the last handle goes.
    _stop: Sender<()>,
}

struct State {
    /// A Megatec/Q1 unit's bridge and answers.
    megatec: Option<Megatec>,
    features: Replay,
    /// Latest input report per id, id first.
    inputs: Vec<Option<Vec<u8>>>,
    /// The recording's input reports, as hidraw delivers them.
    recorded: Vec<Vec<u8>>,
    /// Opened before: a reopen sends the latest inputs, not the recording.
    opened: bool,
    /// The device's end of the socket pair of the latest open.
    peer: Option<UnixStream>,
}

impl State {
    /// Send an input report (id first) as the device would.
    fn send(&self, uses_ids: bool, r: &[u8]) {
        let Some(peer) = &self.peer else {
            return;
        };
        let r = if uses_ids { r } else { &r[1..] };
        // Non-blocking: a worker that does not read input (pollonly)
        // loses reports once the socket's buffer is full, as an unread
        // hidraw queue does.
        let _ = (&*peer).write(r);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Values are only assigned under the lock: a panicked holder
        // left them whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn apply(&self, step: &Step) {
        let mut st = self.lock();
        if let (Some(m), Some(act)) = (&st.megatec, &step.megatec) {
            m.apply(act);
            return;
        }
        let mut sent: Vec<u8> = Vec::new();
        for p in &step.patches {
            let f = &self.desc.fields()[p.field];
            let id = f.report_id;
            let len = self.desc.report_len(id, f.kind) + 1;
            let buf = match f.kind {
                ReportType::Feature => st.features.report_mut(id, len),
                _ => {
                    if !sent.contains(&id) {
                        sent.push(id);
                    }
                    self.input(&mut st, id)
                }
            };
            report::put(buf, f, p.logical);
        }
        for id in sent {
            if let Some(r) = &st.inputs[id as usize] {
                st.send(self.desc.uses_report_ids, r);
            }
        }
    }

    /// Input report `id` to patch: the latest one sent, else one built
    /// from the Feature fields at the same paths (the device's state as
    /// a read would show it), zeros where there are none.
    fn input<'a>(&self, st: &'a mut State, id: u8) -> &'a mut Vec<u8> {
        let len = self.desc.report_len(id, ReportType::Input) + 1;
        if st.inputs[id as usize].is_none() {
            let mut r = vec![0; len];
            r[0] = id;
            for f in self.desc.fields() {
                if f.kind != ReportType::Input || f.report_id != id {
                    continue;
                }
                let twin =
                    self.desc.fields().iter().find(|g| {
                        g.kind == ReportType::Feature && g.path.nodes() == f.path.nodes()
                    });
                let value =
                    twin.and_then(|g| report::get_value(st.features.report(g.report_id)?, g));
                if let Some(v) = value {
                    report::put(&mut r, f, report::to_logical(f, v));
                }
            }
            st.inputs[id as usize] = Some(r);
        }
        let r = st.inputs[id as usize].get_or_insert_with(Vec::new);
        if r.len() < len {
            r.resize(len, 0);
        }
        r
    }
}

impl SimUps {
    /// Open the device: a fresh socket pair, whose input reports start
    /// with the recorded ones (first open) or the latest of each id.
    pub fn open(&self) -> io::Result<SimDevice> {
        let (dev, peer) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        )?;
        let mut st = self.0.lock();
        st.peer = Some(UnixStream::from(peer));
        let uses_ids = self.0.desc.uses_report_ids;
        if !std::mem::replace(&mut st.opened, true) {
            for r in &st.recorded {
                // As recorded: already as hidraw delivers them.
                if let Some(p) = &st.peer {
                    let _ = (&*p).write(r);
                }
            }
        } else {
            for r in st.inputs.iter().flatten() {
                st.send(uses_ids, r);
            }
        }
        drop(st);
        Ok(SimDevice {
            ups: self.0.clone(),
            sock: UnixStream::from(dev),
        })
    }

    /// The device opened, as a probe would hand it to a worker.
    pub fn found(&self) -> io::Result<Found<SimDevice>> {
        Ok(Found {
            dev: self.open()?,
            node: self.0.label.clone(),
            info: self.0.info.clone(),
            descriptor: self.0.descriptor.clone(),
        })
    }

    /// How the worker opens it again after a fault: the same unit, its
    /// state and script going on.
    pub fn opener(&self) -> Opener<Dev> {
        let ups = self.clone();
        Box::new(move |_| match ups.found() {
            Ok(f) => Some(f.boxed()),
            Err(e) => {
                crate::sys::log::log(format_args!("{}: {e}", ups.0.name));
                None
            }
        })
    }
}

/// The worker's handle on a simulated UPS.
pub struct SimDevice {
    ups: Arc<Inner>,
    sock: UnixStream,
}

impl Transport for SimDevice {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let mut st = self.ups.lock();
        if let Some(m) = st.megatec.as_mut() {
            return m.wire.get_feature(buf).map_err(|_| IoError::Skip);
        }
        st.features.get_feature(buf)
    }

    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        let mut st = self.ups.lock();
        if let Some(m) = st.megatec.as_mut() {
            return m.wire.set_feature(buf).map_err(|_| IoError::Skip);
        }
        st.features.set_feature(buf)?;
        // Replay keeps every write for tests; a UPS simulated for days
        // keeps none.
        st.features.writes.clear();
        Ok(())
    }

    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        self.ups.lock().features.string(index, out)
    }
}

impl AsFd for SimDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl DeviceIo for SimDevice {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match (&self.sock).read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A Megatec unit's bridge takes the report; its answer comes back
    /// as input reports on the socket.
    fn write_output(&mut self, data: &[u8]) -> io::Result<()> {
        let mut st = self.ups.lock();
        let Some(m) = st.megatec.as_mut() else {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        };
        m.wire
            .write_output(data)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let reports = core::mem::take(&mut m.wire.pending);
        if let Some(peer) = &st.peer {
            for r in &reports {
                let _ = (&*peer).write(r);
            }
        }
        Ok(())
    }

    fn string_with(
        &mut self,
        index: u8,
        lang: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Option<usize> {
        let mut st = self.ups.lock();
        match st.megatec.as_mut() {
            Some(m) => m.wire.string(index, lang, max, out).ok().filter(|&n| n > 0),
            None => {
                drop(st);
                super::io::transport_string(self, index, out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> Recording {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        Recording::load(&p).unwrap()
    }

    fn load(name: &str, script: &str) -> Result<Sim, String> {
        let mut rec = fixture(name);
        rec.parse(script).map_err(|(l, m)| format!("{l}: {m}"))?;
        Sim::load(rec, &Options::default(), name)
    }

    /// Feature report `id` as the device answers it now.
    fn feature(dev: &mut SimDevice, id: u8) -> Vec<u8> {
        let mut buf = vec![0u8; 64];
        buf[0] = id;
        let n = dev.get_feature(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn paths_that_name_nothing_are_errors_naming_the_line() {
        let e = load(
            "apc-back-ups-bk650m2-ch",
            "at 1 powercut\nat 2 set UPS.PowerSummary.NoSuchThing 1\n",
        )
        .err()
        .unwrap();
        assert!(e.contains("line 2: 'UPS.PowerSummary.NoSuchThing'"), "{e}");
        // A name the tables know that this descriptor lacks.
        let e = load(
            "apc-back-ups-bk650m2-ch",
            "at 2 set UPS.Flow.ConfigVoltage 1\n",
        )
        .err()
        .unwrap();
        assert!(e.contains("names no field"), "{e}");
        // Vendor names resolve through the subdriver's tables.
        assert!(load("eaton-5sc-750", "at 1 powercut\nat 2 lowbatt\n").is_ok());
    }

    #[test]
    fn events_patch_features_and_send_input_reports() {
        let sim = load(
            "apc-back-ups-bk650m2-ch",
            "at 0 powercut\nat 0 set UPS.PowerSummary.RemainingCapacity 42\n",
        )
        .unwrap();
        // Applied by hand rather than by the timer, to check the bytes.
        let steps = sim.steps.clone();
        let ups = Sim {
            steps: Vec::new(),
            ..sim
        }
        .start("t")
        .unwrap();
        let mut dev = ups.open().unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(dev.read_input(&mut buf).unwrap(), None, "nothing recorded");
        // 0x16: Charging bit 0, Discharging bit 1, ACPresent bit 2 (recorded 0b0000_1110).
        assert_eq!(feature(&mut dev, 0x16)[1] & 0b111, 0b110);
        for s in &steps {
            ups.0.apply(s);
        }
        assert_eq!(feature(&mut dev, 0x16)[1] & 0b111, 0b010);
        assert_eq!(feature(&mut dev, 0x0c), [0x0c, 42]);
        // One input report per event and report id, in event order.
        let mut got = Vec::new();
        while let Some(n) = dev.read_input(&mut buf).unwrap() {
            got.push(buf[..n].to_vec());
        }
        assert_eq!(got.len(), 3, "{got:02x?}");
        assert_eq!(got[0][0], 0x16);
        assert_eq!(
            got[0][1] & 0b1111,
            0b1010,
            "BatteryPresent kept from the feature"
        );
        // This unit repeats ACPresent beside PresentStatus (Input only).
        assert_eq!(got[1], [0x13, 0]);
        assert_eq!(got[2], [0x0c, 42]);
        // A write reads back.
        dev.set_feature(&[0x0c, 7]).unwrap();
        assert_eq!(feature(&mut dev, 0x0c), [0x0c, 7]);
        // Reopened: the latest input of each id comes again.
        drop(dev);
        let mut dev = ups.open().unwrap();
        let mut n = 0;
        while dev.read_input(&mut buf).unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn recorded_inputs_come_on_first_open() {
        let ups = load("unknown-5131-2007", "").unwrap().start("t").unwrap();
        let mut dev = ups.open().unwrap();
        let mut buf = [0u8; 64];
        let n = dev.read_input(&mut buf).unwrap().unwrap();
        assert_eq!(buf[..n], [0x0b, 0x0b, 0x90, 0x01, 0, 0, 0, 0x01][1..]);
        assert_eq!(dev.read_input(&mut buf).unwrap(), None);
    }

    /// The engine over a simulated unit, driven by hand on a simulated
    /// clock (no timer): each event at its time, interrupt reports as
    /// they come, an update every 2 s (a full walk every 30 s, as the
    /// worker runs it). Returns `ups.status` at each change, with the time.
    fn run(name: &str, script: &str, until_ms: u64) -> Vec<(u64, String)> {
        let sim = load(name, script).unwrap();
        let steps = sim.steps.clone();
        let rec = fixture(name);
        let unit = Sim {
            steps: Vec::new(),
            ..sim
        }
        .start("t")
        .unwrap();
        let mut dev = unit.open().unwrap();
        let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), Options::default()).unwrap();
        ups.init(&mut dev, 0);
        let mut seen: Vec<(u64, String)> = Vec::new();
        let mut note = |t: u64, ups: &Ups| {
            let s = ups.store.get("ups.status").unwrap_or("").to_string();
            if seen.last().map_or(true, |l| l.1 != s) {
                seen.push((t, s));
            }
        };
        note(0, &ups);
        let mut buf = [0u8; 4096];
        let mut next = steps.iter().peekable();
        for t in (0..=until_ms).step_by(100) {
            while let Some(s) = next.next_if(|s| s.at_ms <= t) {
                unit.0.apply(s);
            }
            while let Some(n) = dev.read_input(&mut buf).unwrap() {
                ups.on_input(&buf[..n], &mut dev, t);
                note(t, &ups);
            }
            if t > 0 && t % 2000 == 0 {
                ups.update(&mut dev, t);
                note(t, &ups);
            }
        }
        seen
    }

    #[test]
    fn a_long_power_cut_on_an_eaton_stays_on_battery() {
        // Longer than two full walks (30 s each): OB must hold through
        // them, and powerback gives OL CHRG while the battery is not full.
        let seen = run(
            "eaton-5sc-750",
            "at 5 powercut\nat 10 set UPS.PowerSummary.RemainingCapacity 30\nat 80 powerback\n",
            100_000,
        );
        let power: Vec<(u64, &str)> = seen
            .iter()
            .map(|(t, s)| (*t, s.split(' ').next().unwrap_or("")))
            .collect();
        let mut changes = power.clone();
        changes.dedup_by(|b, a| a.1 == b.1);
        let times: Vec<_> = changes.iter().map(|c| (c.0 / 1000, c.1)).collect();
        assert_eq!(times, [(0, "OL"), (5, "OB"), (80, "OL")], "{seen:?}");
        assert_eq!(seen.last().unwrap().1, "OL CHRG", "{seen:?}");
        // DISCHRG from the charger's mode, read at the next poll.
        assert!(
            seen.iter().any(|(t, s)| *t <= 8000 && s == "OB DISCHRG"),
            "{seen:?}"
        );
    }

    #[test]
    fn powerback_charges_on_every_unit_with_charging_flags() {
        // What hidupsd(8) says: powerback sets Charging, so a battery
        // that is not full shows CHRG. (At 100 % no unit says CHRG: NUT
        // shows it only while the battery is not full.)
        for name in [
            "eaton-5sc-750",
            "apc-back-ups-bk650m2-ch",
            "cps-cp1500avrlcda",
        ] {
            let seen = run(
                name,
                "at 1 powercut\nat 2 set UPS.PowerSummary.RemainingCapacity 40\nat 4 powerback\n",
                8_000,
            );
            assert_eq!(seen.last().unwrap().1, "OL CHRG", "{name}: {seen:?}");
        }
    }

    #[test]
    fn the_timer_plays_the_script_and_stops_with_the_ups() {
        let ups = load("eaton-5sc-750", "at 0.05 powercut\n")
            .unwrap()
            .start("t")
            .unwrap();
        let mut dev = ups.open().unwrap();
        let t0 = Instant::now();
        {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            let mut pfd = [PollFd::new(dev.as_fd(), PollFlags::POLLIN)];
            assert_eq!(poll(&mut pfd, PollTimeout::from(5000u16)).unwrap(), 1);
        }
        assert!(t0.elapsed() >= Duration::from_millis(40));
        let mut buf = [0u8; 64];
        let n = dev.read_input(&mut buf).unwrap().unwrap();
        // Eaton 0x01: ACPresent, BelowRemainingCapacityLimit, Charging,
        // Discharging, Good, a byte each.
        assert_eq!(buf[..n][..5], [0x01, 0, 0, 0, 1]);
        // The timer lets go of the unit once its step is applied; then
        // dropping the handles frees it.
        let weak = Arc::downgrade(&ups.0);
        drop((dev, ups));
        while weak.strong_count() > 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the unit outlived its handles"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
