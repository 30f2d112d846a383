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
//! Boundary: [`Sim::load`] is pure (it checks and compiles the script);
//! from [`Sim::start`] on this is a shell, a stand-in for a device: it
//! owns sockets and a timer thread that reads the clock. Script times
//! count from `start`. The timer ends when the last handle on the UPS
//! (the worker's device and opener) is dropped.

use super::io::{Dev, DeviceIo, Found, Opener};
use crate::device::usb::UsbInfo;
use crate::hid::{report, Descriptor, Kind};
use crate::recording::{Act, Recording, Replay};
use crate::text::Text;
use crate::ups::engine::Ups;
use crate::ups::options::Options;
use crate::ups::path;
use crate::ups::transport::{IoError, Transport};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Where the power macros' flags sit: under PresentStatus, and (APC,
/// Liebert) beside it as well, where a unit repeats them; both are set
/// where present, as the unit itself would keep them in step.
const STATUS: [&str; 2] = ["UPS.PowerSummary.PresentStatus", "UPS.PowerSummary"];

/// The fields an event sets, each where the UPS has it (a `set` path must
/// exist).
fn expand(act: &Act) -> Vec<(String, f64)> {
    let flags: &[(&str, f64)] = match act {
        Act::Set { path, value } => return vec![(path.clone(), *value)],
        Act::PowerCut => &[("ACPresent", 0.0), ("Discharging", 1.0), ("Charging", 0.0)],
        Act::PowerBack => &[("ACPresent", 1.0), ("Discharging", 0.0), ("Charging", 1.0)],
        Act::LowBatt => &[
            ("BelowRemainingCapacityLimit", 1.0),
            ("ShutdownImminent", 1.0),
        ],
    };
    STATUS
        .iter()
        .flat_map(|c| flags.iter().map(move |(f, v)| (format!("{c}.{f}"), *v)))
        .collect()
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
        let ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts.clone())
            .map_err(|e| format!("{label}: {e}"))?;
        let tables = ups.sub.usages;
        let desc = ups.desc;
        let mut steps = Vec::with_capacity(rec.script.len());
        for ev in &rec.script {
            let at = if ev.file.as_os_str().is_empty() {
                format!("{label}: line {}", ev.line)
            } else {
                format!("{}:{}", ev.file.display(), ev.line)
            };
            let mut patches = Vec::new();
            for (p, value) in expand(&ev.act) {
                let Some(want) = path::resolve(&p, tables) else {
                    if matches!(ev.act, Act::Set { .. }) {
                        return Err(format!(
                            "{at}: '{p}' is not a path this UPS's usage tables ({}) can name",
                            ups.sub.key
                        ));
                    }
                    continue;
                };
                for (i, f) in desc.fields().iter().enumerate() {
                    if f.kind != Kind::Output && f.path.nodes() == want.nodes() {
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
            patches.sort_by_key(|p| desc.fields()[p.field].kind != Kind::Feature);
            steps.push(Step {
                at_ms: ev.at_ms,
                what: format!("{at}: {}", ev.act),
                patches,
            });
        }
        // In time order; lines with the same time in file order.
        steps.sort_by_key(|s| s.at_ms);
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
        let (stop, stopped) = mpsc::channel();
        let mut inputs = vec![None; 256];
        for r in &self.rec.inputs {
            let (id, bytes) = with_id(&self.desc, r);
            inputs[id as usize] = Some(bytes);
        }
        let inner = Arc::new(Inner {
            name: name.to_string(),
            label: self.label,
            info: UsbInfo {
                vid: self.rec.ident.vid,
                pid: self.rec.ident.pid,
                manufacturer: self.rec.ident.vendor.clone(),
                product: self.rec.ident.product.clone(),
                serial: self.rec.ident.serial.clone(),
                port: "sim".into(),
                ..UsbInfo::default()
            },
            descriptor: self.rec.descriptor.clone(),
            desc: self.desc,
            state: Mutex::new(State {
                features: Replay::new(&self.rec),
                inputs,
                recorded: self.rec.inputs,
                opened: false,
                peer: None,
            }),
            _stop: stop,
        });
        if !self.steps.is_empty() {
            let weak = Arc::downgrade(&inner);
            let t0 = Instant::now();
            let steps = self.steps;
            std::thread::Builder::new()
                .name(format!("sim {name}"))
                .spawn(move || play(weak, steps, stopped, t0))?;
        }
        Ok(SimUps(inner))
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
        let mut sent: Vec<u8> = Vec::new();
        for p in &step.patches {
            let f = &self.desc.fields()[p.field];
            let id = f.report_id;
            let len = self.desc.report_len(id, f.kind) + 1;
            let buf = match f.kind {
                Kind::Feature => st.features.report_mut(id, len),
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
        let len = self.desc.report_len(id, Kind::Input) + 1;
        if st.inputs[id as usize].is_none() {
            let mut r = vec![0; len];
            r[0] = id;
            for f in self.desc.fields() {
                if f.kind != Kind::Input || f.report_id != id {
                    continue;
                }
                let twin = self
                    .desc
                    .fields()
                    .iter()
                    .find(|g| g.kind == Kind::Feature && g.path.nodes() == f.path.nodes());
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
        self.ups.lock().features.get_feature(buf)
    }

    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        let mut st = self.ups.lock();
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
