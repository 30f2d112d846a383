//! A recorded UPS as a real HID device, through the kernel's /dev/uhid:
//! the kernel makes a hidraw node for it exactly as for a USB UPS, and
//! every HIDIOCGFEATURE/HIDIOCSFEATURE hidupsd makes on that node comes
//! here as UHID_GET_REPORT/UHID_SET_REPORT.
//!
//! As a program (for trying things by hand in the VM of tests/vm/):
//!
//! ```text
//! uhid_sim FIXTURE [--uniq SERIAL] [--phys PHYS]
//! ```
//! then commands on standard input, one per line:
//! `powercut`, `powerback`, `lowbatt`, `set PATH VALUE` (a field at a
//! NUT path, in NUT units, as in a recording's script), `input HEX...`
//! (raw input report), `stall SECONDS` (delay GET_REPORT answers),
//! `writes` (print the SET_REPORTs received), `quit`.
//!
//! As a module (tests/vm's `vm_check` includes this file) it gives
//! [`UhidDev`], one simulated device, and [`Model`], which computes the
//! bytes an event changes through the library's own descriptor parser,
//! usage tables and report packing (`hidupsd::hid::report`), the way the
//! `--simulate` device does (`src/device/sim.rs`).
#![allow(dead_code)]

use hidupsd::hid::{report, Descriptor, ReportType};
use hidupsd::recording::{Recording, Replay};
use hidupsd::ups::engine::Ups;
use hidupsd::ups::options::Options;
use hidupsd::ups::path;
use hidupsd::ups::transport::Transport;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// linux/uhid.h
const UHID_DESTROY: u32 = 1;
const UHID_START: u32 = 2;
const UHID_STOP: u32 = 3;
const UHID_OPEN: u32 = 4;
const UHID_CLOSE: u32 = 5;
const UHID_OUTPUT: u32 = 6;
const UHID_GET_REPORT: u32 = 9;
const UHID_GET_REPORT_REPLY: u32 = 10;
const UHID_CREATE2: u32 = 11;
const UHID_INPUT2: u32 = 12;
const UHID_SET_REPORT: u32 = 13;
const UHID_SET_REPORT_REPLY: u32 = 14;
/// `UHID_DATA_MAX` and `HID_MAX_DESCRIPTOR_SIZE`.
pub const DATA_MAX: usize = 4096;
/// `sizeof(struct uhid_event)`: the type, then the union, whose largest
/// member is `uhid_create2_req` (128 + 64 + 64 + 2 + 2 + 4 * 4 + 4096).
const EVENT_SIZE: usize = 4 + 4372;
const BUS_USB: u16 = 0x03;

/// What the kernel is told about the device.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    /// The "physical path" hidraw reports (HIDIOCGRAWPHYS); hidupsd names
    /// a UPS without a serial number by it.
    pub phys: String,
    /// The serial number (HIDIOCGRAWUNIQ).
    pub uniq: String,
    pub vid: u16,
    pub pid: u16,
    pub descriptor: Vec<u8>,
}

impl Spec {
    pub fn from_recording(rec: &Recording, uniq: &str, phys: &str) -> Spec {
        Spec {
            name: rec.ident.product.clone().unwrap_or_default(),
            phys: phys.to_string(),
            uniq: uniq.to_string(),
            vid: rec.ident.vid,
            pid: rec.ident.pid,
            descriptor: rec.descriptor.clone(),
        }
    }
}

/// The device's side: its reports and what happened to it.
pub struct State {
    /// Feature reports by id (GET_REPORT answers; SET_REPORT stores).
    pub reports: Replay,
    /// Every SET_REPORT received: (report type, bytes, report id first).
    pub writes: Vec<(u8, Vec<u8>)>,
    /// Output reports written to the hidraw node.
    pub outputs: Vec<Vec<u8>>,
    /// Delay before answering a GET_REPORT (a stalled UPS).
    pub stall: Duration,
    /// GET_REPORT requests answered, and how many of them were stalled.
    pub gets: u64,
    pub stalled: u64,
    /// The device is open (UHID_OPEN without UHID_CLOSE): its hidraw
    /// node, or for a keyboard or mouse also the kernel's input handlers.
    pub opened: bool,
    /// UHID_OPEN events so far.
    pub opens: u64,
    pub started: bool,
}

/// One device on /dev/uhid, answered by a thread of its own.
pub struct UhidDev {
    file: Arc<File>,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn put_str(ev: &mut [u8], at: usize, cap: usize, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(cap - 1);
    ev[at..at + n].copy_from_slice(&b[..n]);
}

impl UhidDev {
    /// UHID_CREATE2 with `spec`; the device then answers from `reports`.
    pub fn create(spec: &Spec, reports: Replay) -> io::Result<UhidDev> {
        if spec.descriptor.len() > DATA_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "report descriptor longer than 4096 bytes",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/uhid")?;
        let mut ev = vec![0u8; EVENT_SIZE];
        ev[0..4].copy_from_slice(&UHID_CREATE2.to_ne_bytes());
        let u = 4;
        put_str(&mut ev, u, 128, &spec.name);
        put_str(&mut ev, u + 128, 64, &spec.phys);
        put_str(&mut ev, u + 192, 64, &spec.uniq);
        let mut at = u + 256;
        for v in [spec.descriptor.len() as u16, BUS_USB] {
            ev[at..at + 2].copy_from_slice(&v.to_ne_bytes());
            at += 2;
        }
        for v in [spec.vid as u32, spec.pid as u32, 0x0100, 0] {
            ev[at..at + 4].copy_from_slice(&v.to_ne_bytes());
            at += 4;
        }
        ev[at..at + spec.descriptor.len()].copy_from_slice(&spec.descriptor);
        (&file).write_all(&ev)?;
        let file = Arc::new(file);
        let state = Arc::new(Mutex::new(State {
            reports,
            writes: Vec::new(),
            outputs: Vec::new(),
            stall: Duration::ZERO,
            gets: 0,
            stalled: 0,
            opened: false,
            opens: 0,
            started: false,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (file, state, stop) = (file.clone(), state.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("uhid {}", spec.name))
                .spawn(move || serve(&file, &state, &stop))?
        };
        Ok(UhidDev {
            file,
            state,
            stop,
            thread: Some(thread),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// UHID_INPUT2: an input report, as the device's interrupt endpoint
    /// would send it (report id first when the device uses ids).
    pub fn input(&self, data: &[u8]) -> io::Result<()> {
        if data.len() > DATA_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "input report longer than 4096 bytes",
            ));
        }
        let mut ev = vec![0u8; 4 + 2 + data.len()];
        ev[0..4].copy_from_slice(&UHID_INPUT2.to_ne_bytes());
        ev[4..6].copy_from_slice(&(data.len() as u16).to_ne_bytes());
        ev[6..].copy_from_slice(data);
        (&*self.file).write_all(&ev)
    }

    /// Wait until the hidraw node has been opened by someone (hidupsd).
    pub fn wait_opened(&self, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.lock().opened {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// UHID_DESTROY: the device is unplugged.
    pub fn destroy(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        let mut ev = vec![0u8; 4];
        ev.copy_from_slice(&UHID_DESTROY.to_ne_bytes());
        let r = (&*self.file).write_all(&ev);
        self.stop.store(true, Ordering::Relaxed);
        let _ = t.join();
        r
    }
}

impl Drop for UhidDev {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The device thread: answer the kernel's requests until stopped.
fn serve(file: &File, state: &Mutex<State>, stop: &AtomicBool) {
    let mut ev = vec![0u8; EVENT_SIZE];
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 50) };
        if n <= 0 {
            continue;
        }
        let n = match (&*file).read(&mut ev) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("uhid_sim: read /dev/uhid: {e}");
                return;
            }
        };
        if n < 4 {
            continue;
        }
        let u = 4;
        let u32_at =
            |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let u16_at = |b: &[u8], at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        match u32_at(&ev, 0) {
            UHID_START => lock().started = true,
            UHID_STOP => lock().started = false,
            UHID_OPEN => {
                let mut st = lock();
                st.opened = true;
                st.opens += 1;
            }
            UHID_CLOSE => lock().opened = false,
            UHID_OUTPUT => {
                // struct uhid_output_req { data[4096]; u16 size; u8 rtype; }
                let size = (u16_at(&ev, u + DATA_MAX) as usize).min(DATA_MAX);
                lock().outputs.push(ev[u..u + size].to_vec());
            }
            UHID_GET_REPORT => {
                // struct uhid_get_report_req { u32 id; u8 rnum; u8 rtype; }
                let id = u32_at(&ev, u);
                let rnum = ev[u + 4];
                let stall = lock().stall;
                if !stall.is_zero() {
                    lock().stalled += 1;
                    std::thread::sleep(stall);
                }
                let mut buf = vec![0u8; DATA_MAX];
                buf[0] = rnum;
                let answer = {
                    let mut st = lock();
                    st.gets += 1;
                    st.reports.get_feature(&mut buf)
                };
                // struct uhid_get_report_reply_req { u32 id; u16 err; u16 size; data }
                let mut out = vec![0u8; 4 + 8 + DATA_MAX];
                out[0..4].copy_from_slice(&UHID_GET_REPORT_REPLY.to_ne_bytes());
                out[4..8].copy_from_slice(&id.to_ne_bytes());
                match answer {
                    Ok(n) => {
                        out[10..12].copy_from_slice(&(n as u16).to_ne_bytes());
                        out[12..12 + n].copy_from_slice(&buf[..n]);
                    }
                    Err(_) => out[8..10].copy_from_slice(&(libc::EIO as u16).to_ne_bytes()),
                }
                let _ = (&*file).write_all(&out);
            }
            UHID_SET_REPORT => {
                // struct uhid_set_report_req { u32 id; u8 rnum; u8 rtype; u16 size; data }
                let id = u32_at(&ev, u);
                let rtype = ev[u + 5];
                let size = (u16_at(&ev, u + 6) as usize).min(DATA_MAX);
                let data = ev[u + 8..u + 8 + size].to_vec();
                let ok = {
                    let mut st = lock();
                    st.writes.push((rtype, data.clone()));
                    !data.is_empty() && st.reports.set_feature(&data).is_ok()
                };
                let mut out = vec![0u8; 4 + 6];
                out[0..4].copy_from_slice(&UHID_SET_REPORT_REPLY.to_ne_bytes());
                out[4..8].copy_from_slice(&id.to_ne_bytes());
                let err: u16 = if ok { 0 } else { libc::EIO as u16 };
                out[8..10].copy_from_slice(&err.to_ne_bytes());
                let _ = (&*file).write_all(&out);
            }
            _ => {}
        }
    }
}

/// Where the power macros' flags are, as the simulator of
/// `src/device/sim.rs` sets them (`at ... powercut` in a recording).
const STATUS: [&str; 2] = ["UPS.PowerSummary.PresentStatus", "UPS.PowerSummary"];

/// The fields an event sets: `powercut`, `powerback`, `lowbatt` or
/// `set PATH VALUE`, with the recording script's meaning.
pub fn event_fields(event: &str) -> Result<Vec<(String, f64)>, String> {
    let w: Vec<&str> = event.split_whitespace().collect();
    let flags: &[(&str, f64)] = match w.as_slice() {
        ["set", p, v] => {
            let v: f64 = v.parse().map_err(|_| format!("'{v}' is not a number"))?;
            return Ok(vec![(p.to_string(), v)]);
        }
        ["powercut"] => &[("ACPresent", 0.0), ("Discharging", 1.0), ("Charging", 0.0)],
        ["powerback"] => &[("ACPresent", 1.0), ("Discharging", 0.0), ("Charging", 1.0)],
        ["lowbatt"] => &[
            ("BelowRemainingCapacityLimit", 1.0),
            ("ShutdownImminent", 1.0),
        ],
        _ => return Err(format!("unknown event '{event}'")),
    };
    Ok(STATUS
        .iter()
        .flat_map(|c| flags.iter().map(move |(f, v)| (format!("{c}.{f}"), *v)))
        .collect())
}

/// A recording's descriptor bound the way hidupsd binds it (subdriver
/// tables, fix-ups), to place values in report bytes.
pub struct Model {
    pub ups: Ups,
    /// Latest input report per id, id first.
    pub inputs: Vec<Option<Vec<u8>>>,
}

impl Model {
    pub fn new(rec: &Recording) -> Result<Model, String> {
        let ups = Ups::new(&rec.descriptor, rec.ident.clone(), Options::default())
            .map_err(|e| format!("{e}"))?;
        Ok(Model {
            ups,
            inputs: vec![None; 256],
        })
    }

    pub fn desc(&self) -> &Descriptor {
        &self.ups.desc
    }

    /// Indexes of the fields (not Output) at a NUT path.
    pub fn fields_at(&self, p: &str) -> Vec<usize> {
        let Some(want) = path::resolve(p, self.ups.sub.usages) else {
            return Vec::new();
        };
        let desc = &self.ups.desc;
        (0..desc.fields().len())
            .filter(|&i| {
                let f = &desc.fields()[i];
                f.kind != ReportType::Output && f.path.nodes() == want.nodes()
            })
            .collect()
    }

    /// Input report `id` as the device's state shows it: each field
    /// from the Feature field at the same path (as `src/device/sim.rs`
    /// builds an input report never sent before), zeros elsewhere.
    fn input_from_features(&self, reports: &Replay, id: u8) -> Vec<u8> {
        let desc = &self.ups.desc;
        let mut r = vec![0; desc.report_len(id, ReportType::Input) + 1];
        r[0] = id;
        for f in desc.fields() {
            if f.kind != ReportType::Input || f.report_id != id {
                continue;
            }
            let twin = desc
                .fields()
                .iter()
                .find(|g| g.kind == ReportType::Feature && g.path.nodes() == f.path.nodes());
            let value = twin.and_then(|g| report::get_value(reports.report(g.report_id)?, g));
            if let Some(v) = value {
                report::put(&mut r, f, report::to_logical(f, v));
            }
        }
        r
    }

    /// Apply an event: patch the Feature reports in `reports` and return
    /// the input reports to send, as hidraw carries them.
    pub fn apply(&mut self, reports: &mut Replay, event: &str) -> Result<Vec<Vec<u8>>, String> {
        let mut touched = 0;
        let mut sent: Vec<u8> = Vec::new();
        for (p, value) in event_fields(event)? {
            let fields = self.fields_at(&p);
            if fields.is_empty() && event.starts_with("set") {
                return Err(format!("'{p}' names no field of this UPS"));
            }
            // Features first: a new input report starts from them.
            let mut fields = fields;
            fields.sort_by_key(|&i| self.ups.desc.fields()[i].kind != ReportType::Feature);
            for i in fields {
                let f = self.ups.desc.fields()[i];
                let logical = report::to_logical(&f, value);
                let id = f.report_id;
                let len = self.ups.desc.report_len(id, f.kind) + 1;
                if f.kind == ReportType::Feature {
                    report::put(reports.report_mut(id, len), &f, logical);
                } else {
                    if !sent.contains(&id) {
                        sent.push(id);
                    }
                    if self.inputs[id as usize].is_none() {
                        let r = self.input_from_features(reports, id);
                        self.inputs[id as usize] = Some(r);
                    }
                    let r = self.inputs[id as usize].get_or_insert_with(Vec::new);
                    if r.len() < len {
                        r.resize(len, 0);
                    }
                    report::put(r, &f, logical);
                }
                touched += 1;
            }
        }
        if touched == 0 {
            return Err(format!("{event}: this UPS has none of its fields"));
        }
        let ids = self.ups.desc.uses_report_ids;
        Ok(sent
            .iter()
            .filter_map(|&id| self.inputs[id as usize].as_ref())
            .map(|r| if ids { r.clone() } else { r[1..].to_vec() })
            .collect())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    if let Err(e) = run() {
        eprintln!("uhid_sim: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut fixture, mut uniq, mut phys) = (None, String::new(), "uhid_sim".to_string());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--uniq" => uniq = args.next().ok_or("--uniq needs a value")?,
            "--phys" => phys = args.next().ok_or("--phys needs a value")?,
            "-h" | "--help" => {
                println!("usage: uhid_sim FIXTURE [--uniq SERIAL] [--phys PHYS]");
                return Ok(());
            }
            _ if fixture.is_none() && !a.starts_with('-') => fixture = Some(a),
            _ => return Err(format!("unexpected argument '{a}'")),
        }
    }
    let fixture = fixture.ok_or("usage: uhid_sim FIXTURE [--uniq SERIAL] [--phys PHYS]")?;
    let rec = Recording::load(std::path::Path::new(&fixture)).map_err(|e| e.to_string())?;
    let mut model = Model::new(&rec)?;
    let dev = UhidDev::create(&Spec::from_recording(&rec, &uniq, &phys), Replay::new(&rec))
        .map_err(|e| format!("/dev/uhid: {e}"))?;
    println!("created {fixture}");
    for line in io::stdin().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let line = line.trim();
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let r: Result<String, String> = match cmd {
            "" => continue,
            "quit" => break,
            "input" => hidupsd_hex(rest).and_then(|b| {
                dev.input(&b).map_err(|e| e.to_string())?;
                Ok(format!("sent {}", hex(&b)))
            }),
            "stall" => rest
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 60.0)
                .map(|s| {
                    dev.lock().stall = Duration::from_secs_f64(s);
                    format!("stall {s} s")
                })
                .ok_or_else(|| format!("'{rest}' is not a number of seconds below 60")),
            "writes" => Ok(dev
                .lock()
                .writes
                .iter()
                .map(|(t, b)| format!("type {t}: {}", hex(b)))
                .collect::<Vec<_>>()
                .join("\n")),
            _ => {
                let mut st = dev.lock();
                model.apply(&mut st.reports, line).and_then(|inputs| {
                    for r in &inputs {
                        dev.input(r).map_err(|e| e.to_string())?;
                    }
                    Ok(format!("{line}: {} input report(s)", inputs.len()))
                })
            }
        };
        match r {
            Ok(s) => println!("{s}"),
            Err(e) => println!("error: {e}"),
        }
    }
    dev.destroy().map_err(|e| format!("/dev/uhid: {e}"))
}

fn hidupsd_hex(s: &str) -> Result<Vec<u8>, String> {
    s.split_whitespace()
        .map(|w| u8::from_str_radix(w, 16).map_err(|_| format!("'{w}' is not a hex byte")))
        .collect()
}
