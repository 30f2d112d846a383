//! A recorded UPS as a real USB device: a configfs gadget with one
//! FunctionFS function on a UDC (in tests/vm, `dummy_hcd`'s), so that the
//! kernel enumerates it over (virtual) USB, binds usbhid and hid-generic,
//! and makes hidraw and hiddev nodes with a USB parent in sysfs and real
//! string descriptors.
//!
//! The device side runs here: FunctionFS gets the HID interface and its
//! interrupt IN endpoint, and this program answers the control requests
//! the host sends to the interface on ep0: GET_DESCRIPTOR (HID, report
//! descriptor), GET_REPORT from the recording, SET_REPORT (kept, and
//! recorded for checks), SET_IDLE. USB strings: manufacturer, product and
//! serial number are the gadget's (indexes 1 to 3), and the FunctionFS
//! strings follow them, so the function's string 1 is index 4, where
//! UPSes keep their battery chemistry (`iDeviceChemistry` 4 = "PbAc").
//!
//! As a program: `vm_gadget FIXTURE [--serial S]` (as root, with configfs
//! mounted and `libcomposite usb_f_fs` and a UDC loaded); plugged in until
//! standard input closes.
//!
//! As a module (vm_check includes it): [`Gadget`].
//!
//! A Megatec/Q1 unit behind a USB bridge ([`Gadget::start_megatec`],
//! vm_megatec): the recording's `answer` lines answer the commands the
//! host sends as SET_REPORT of output report 0, framed as the bridge's
//! 8-byte interrupt reports (hidupsd's `qx::bridge::SimWire` does the
//! framing), on an endpoint of 8-byte packets as those chips have.
#![allow(dead_code)]

use hidupsd::qx::bridge::{SimWire, Wire};
use hidupsd::qx::Bridge;
use hidupsd::recording::{Recording, Replay};
use hidupsd::ups::transport::Transport;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const CONFIGFS: &str = "/sys/kernel/config/usb_gadget";

// linux/usb/functionfs.h
const DESCRIPTORS_MAGIC_V2: u32 = 3;
const STRINGS_MAGIC: u32 = 2;
const HAS_FS_DESC: u32 = 1;
const HAS_HS_DESC: u32 = 2;
const EV_BIND: u8 = 0;
const EV_UNBIND: u8 = 1;
const EV_ENABLE: u8 = 2;
const EV_DISABLE: u8 = 3;
const EV_SETUP: u8 = 4;
/// `sizeof(struct usb_functionfs_event)`.
const EVENT_SIZE: usize = 12;

/// The device's side, as the checks see it.
#[derive(Default)]
pub struct State {
    pub reports: Option<Replay>,
    /// SET_REPORT data received (report id first).
    pub writes: Vec<Vec<u8>>,
    /// GET_REPORT requests answered.
    pub gets: u64,
    /// The function is enabled (the host configured the device).
    pub enabled: bool,
    /// Requests this device refused (stalled), as (bRequestType, bRequest, wValue).
    pub stalled: Vec<(u8, u8, u16)>,
    /// A Megatec unit: its bridge framing and where its reports go.
    pub megatec: Option<MegatecDev>,
}

type Answerer = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

/// A Megatec/Q1 unit's side: commands received (in `wire.received`),
/// answers sent to the ep1 writer thread.
pub struct MegatecDev {
    pub wire: SimWire<Answerer>,
    tx: std::sync::mpsc::Sender<Vec<u8>>,
}

/// A USB UPS on a UDC.
pub struct Gadget {
    dir: PathBuf,
    mount: PathBuf,
    udc: String,
    pub state: Arc<Mutex<State>>,
    ep1: Mutex<Option<File>>,
}

fn write(p: &Path, s: &str) -> io::Result<()> {
    std::fs::write(p, s).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
}

fn mkdir(p: &Path) -> io::Result<()> {
    match std::fs::create_dir(p) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
            e.kind(),
            format!("mkdir {}: {e}", p.display()),
        )),
        _ => Ok(()),
    }
}

/// The interface (HID, one interrupt IN endpoint) at one speed.
fn interface(report_len: usize, max_packet: u16, interval: u8) -> Vec<u8> {
    let mut d = vec![
        // Interface: HID, no boot protocol; iInterface names the
        // function's string 1, without which FunctionFS drops its
        // strings (it keeps as many as the descriptors refer to).
        9, 4, 0, 0, 1, 3, 0, 0, 1, 9, 0x21, 0x11, 0x01, 0, 1,
        0x22, // HID 1.11, one report descriptor
    ];
    d.extend_from_slice(&(report_len as u16).to_le_bytes());
    d.extend_from_slice(&[7, 5, 0x81, 3]); // endpoint 1 IN, interrupt
    d.extend_from_slice(&max_packet.to_le_bytes());
    d.push(interval);
    d
}

fn descriptors(report_len: usize, max_packet: u16) -> Vec<u8> {
    let fs = interface(report_len, max_packet, 10);
    let hs = interface(report_len, max_packet, 4);
    let mut d = Vec::new();
    for v in [DESCRIPTORS_MAGIC_V2, 0, HAS_FS_DESC | HAS_HS_DESC, 3, 3] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.extend_from_slice(&fs);
    d.extend_from_slice(&hs);
    let len = d.len() as u32;
    d[4..8].copy_from_slice(&len.to_le_bytes());
    d
}

fn strings(list: &[&str]) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [STRINGS_MAGIC, 0, list.len() as u32, 1] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.extend_from_slice(&0x0409u16.to_le_bytes());
    for s in list {
        d.extend_from_slice(s.as_bytes());
        d.push(0);
    }
    let len = d.len() as u32;
    d[4..8].copy_from_slice(&len.to_le_bytes());
    d
}

impl Gadget {
    /// Make gadget `name` for the recording (USB serial `serial`, the
    /// function's strings `fstrings`, index 4 on) and plug it into the
    /// first UDC.
    pub fn start(
        name: &str,
        rec: &Recording,
        serial: &str,
        manufacturer: &str,
        fstrings: &[&str],
    ) -> io::Result<Gadget> {
        Self::start_with(name, rec, serial, manufacturer, fstrings, None)
    }

    /// A Megatec/Q1 unit behind `bridge`, answering from the recording's
    /// `answer` lines.
    pub fn start_megatec(
        name: &str,
        rec: &Recording,
        serial: &str,
        manufacturer: &str,
        bridge: Bridge,
    ) -> io::Result<Gadget> {
        Self::start_with(name, rec, serial, manufacturer, &["x"], Some(bridge))
    }

    fn start_with(
        name: &str,
        rec: &Recording,
        serial: &str,
        manufacturer: &str,
        fstrings: &[&str],
        megatec: Option<Bridge>,
    ) -> io::Result<Gadget> {
        let dir = Path::new(CONFIGFS).join(name);
        mkdir(&dir)?;
        write(&dir.join("idVendor"), &format!("0x{:04x}", rec.ident.vid))?;
        write(&dir.join("idProduct"), &format!("0x{:04x}", rec.ident.pid))?;
        write(&dir.join("bcdUSB"), "0x0200")?;
        write(&dir.join("bcdDevice"), "0x0100")?;
        let st = dir.join("strings/0x409");
        mkdir(&st)?;
        write(&st.join("manufacturer"), manufacturer)?;
        write(
            &st.join("product"),
            rec.ident.product.as_deref().unwrap_or(""),
        )?;
        write(&st.join("serialnumber"), serial)?;
        let cfg = dir.join("configs/c.1");
        mkdir(&cfg)?;
        write(&cfg.join("MaxPower"), "2")?;
        let func = dir.join(format!("functions/ffs.{name}"));
        mkdir(&func)?;
        let link = cfg.join(format!("ffs.{name}"));
        if !link.exists() {
            std::os::unix::fs::symlink(&func, &link)?;
        }
        let mount = PathBuf::from(format!("/tmp/ffs-{name}"));
        mkdir(&mount)?;
        let c = |s: &str| {
            CString::new(s).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'{s}' holds a NUL byte"),
                )
            })
        };
        let (src, target, fstype) = (c(name)?, c(mount.to_str().unwrap_or(""))?, c("functionfs")?);
        // SAFETY: valid NUL-terminated strings; no data argument.
        if unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        } != 0
        {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("mount functionfs {}: {e}", mount.display()),
            ));
        }
        let ep0 = OpenOptions::new()
            .read(true)
            .write(true)
            .open(mount.join("ep0"))?;
        let packet = if megatec.is_some() { 8 } else { 64 };
        (&ep0).write_all(&descriptors(rec.descriptor.len(), packet))?;
        (&ep0).write_all(&strings(fstrings))?;
        let state = Arc::new(Mutex::new(State {
            reports: Some(Replay::new(rec)),
            ..State::default()
        }));
        if let Some(bridge) = megatec {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
            let answers = rec.answers.clone();
            let answer: Answerer = Box::new(move |cmd: &[u8]| {
                answers
                    .iter()
                    .find(|(c, _)| c.as_slice() == cmd)
                    .map(|(_, a)| a.clone())
            });
            state.lock().unwrap_or_else(|e| e.into_inner()).megatec = Some(MegatecDev {
                wire: SimWire::new(bridge, answer),
                tx,
            });
            // Interrupt IN writes block until the host reads: a thread.
            let ep1 = mount.join("ep1");
            std::thread::Builder::new()
                .name(format!("ep1 {name}"))
                .spawn(move || {
                    let mut f: Option<File> = None;
                    for r in rx {
                        for _ in 0..500 {
                            if f.is_none() {
                                f = OpenOptions::new().read(true).write(true).open(&ep1).ok();
                            }
                            match f.as_mut().map(|f| f.write_all(&r)) {
                                Some(Ok(())) => break,
                                _ => {
                                    f = None;
                                    std::thread::sleep(Duration::from_millis(10));
                                }
                            }
                        }
                    }
                })?;
        }
        {
            let state = state.clone();
            let desc = rec.descriptor.clone();
            std::thread::Builder::new()
                .name(format!("ep0 {name}"))
                .spawn(move || serve(ep0, &desc, &state))?;
        }
        let udc = std::fs::read_dir("/sys/class/udc")?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .min()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no UDC in /sys/class/udc"))?;
        let g = Gadget {
            dir,
            mount,
            udc,
            state,
            ep1: Mutex::new(None),
        };
        g.plug()?;
        Ok(g)
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bind the gadget to the UDC: the host sees a device plugged in.
    pub fn plug(&self) -> io::Result<()> {
        write(&self.dir.join("UDC"), &self.udc)
    }

    /// Unbind it: unplugged.
    pub fn unplug(&self) -> io::Result<()> {
        *self.ep1.lock().unwrap_or_else(|e| e.into_inner()) = None;
        write(&self.dir.join("UDC"), "\n")
    }

    /// An input report on the interrupt endpoint (blocks until the host
    /// reads it, as it does while the hidraw node is open).
    pub fn input(&self, data: &[u8]) -> io::Result<()> {
        let mut ep1 = self.ep1.lock().unwrap_or_else(|e| e.into_inner());
        if ep1.is_none() {
            *ep1 = Some(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(self.mount.join("ep1"))?,
            );
        }
        match ep1.as_mut() {
            Some(f) => f.write_all(data),
            None => Ok(()),
        }
    }

    pub fn udc(&self) -> &str {
        &self.udc
    }
}

/// The ep0 thread: events until the function goes away.
fn serve(mut ep0: File, desc: &[u8], state: &Mutex<State>) {
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let mut buf = [0u8; EVENT_SIZE * 4];
    loop {
        let n = match ep0.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EL2HLT and the like after a stall: go on reading events.
            Err(e) if e.raw_os_error() == Some(libc::EL2HLT) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ESHUTDOWN) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                eprintln!("vm_gadget: ep0: {e}");
                return;
            }
        };
        for ev in buf[..n].chunks_exact(EVENT_SIZE) {
            match ev[8] {
                EV_ENABLE => lock().enabled = true,
                EV_DISABLE | EV_UNBIND => lock().enabled = false,
                EV_SETUP => setup(&mut ep0, ev, desc, state),
                EV_BIND | 5 | 6 => {}
                _ => {}
            }
        }
    }
}

/// Answer one control request (struct usb_ctrlrequest at the event's start).
fn setup(ep0: &mut File, ev: &[u8], desc: &[u8], state: &Mutex<State>) {
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let (rtype, req) = (ev[0], ev[1]);
    let value = u16::from_le_bytes([ev[2], ev[3]]);
    let length = u16::from_le_bytes([ev[6], ev[7]]) as usize;
    let in_dir = rtype & 0x80 != 0;
    let reply: Option<Vec<u8>> = match (rtype, req, value >> 8) {
        // GET_DESCRIPTOR to the interface: the report descriptor, or HID.
        (0x81, 0x06, 0x22) => Some(desc.to_vec()),
        (0x81, 0x06, 0x21) => {
            let mut d = vec![9, 0x21, 0x11, 0x01, 0, 1, 0x22];
            d.extend_from_slice(&(desc.len() as u16).to_le_bytes());
            Some(d)
        }
        // GET_REPORT (any type) from the recording.
        (0xa1, 0x01, _) => {
            let mut b = vec![0u8; 4096];
            b[0] = value as u8;
            let mut st = lock();
            st.gets += 1;
            let r = st.reports.as_mut().map(|r| r.get_feature(&mut b));
            match r {
                Some(Ok(n)) => Some(b[..n].to_vec()),
                _ => None,
            }
        }
        // SET_REPORT: read the data stage, keep it.
        (0x21, 0x09, _) => {
            let mut b = vec![0u8; length];
            if ep0.read_exact(&mut b).is_ok() {
                let mut st = lock();
                if let Some(m) = st.megatec.as_mut() {
                    let mut d = vec![0u8];
                    d.extend_from_slice(&b);
                    let _ = m.wire.write_output(&d);
                    for r in m.wire.pending.drain(..) {
                        let _ = m.tx.send(r);
                    }
                    return;
                }
                st.writes.push(b.clone());
                if let Some(r) = st.reports.as_mut() {
                    let _ = r.set_feature(&b);
                }
            }
            return;
        }
        // SET_IDLE: no data stage; reading nothing acknowledges it.
        (0x21, 0x0a, _) => {
            let _ = ep0.read(&mut []);
            return;
        }
        _ => None,
    };
    match reply {
        Some(mut r) => {
            r.truncate(length);
            let _ = ep0.write_all(&r);
        }
        None => {
            lock().stalled.push((rtype, req, value));
            // Halt: a read on ep0 for an IN request, a write for OUT.
            if in_dir {
                let _ = ep0.read(&mut [0u8; 1]);
            } else {
                let _ = ep0.write(&[]);
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut fixture, mut serial) = (None, "VMGADGET".to_string());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--serial" => serial = args.next().unwrap_or_default(),
            _ if fixture.is_none() => fixture = Some(a),
            _ => {
                eprintln!("usage: vm_gadget FIXTURE [--serial S]");
                std::process::exit(2);
            }
        }
    }
    let Some(fixture) = fixture else {
        eprintln!("usage: vm_gadget FIXTURE [--serial S]");
        std::process::exit(2);
    };
    let rec = match Recording::load(Path::new(&fixture)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vm_gadget: {e}");
            std::process::exit(1);
        }
    };
    match Gadget::start("vmups", &rec, &serial, "VM gadget", &["PbAc"]) {
        Ok(g) => {
            println!("plugged into {}; close standard input to unplug", g.udc());
            let _ = io::copy(&mut io::stdin(), &mut io::sink());
            if let Err(e) = g.unplug() {
                eprintln!("vm_gadget: {e}");
            }
        }
        Err(e) => {
            eprintln!("vm_gadget: {e}");
            std::process::exit(1);
        }
    }
}
