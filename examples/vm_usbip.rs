//! A whole USB device in userspace through USB/IP (the kernel's
//! `vhci-hcd`), for the VM tests: every request the host sends, standard
//! ones included, reaches this program, so a Megatec unit behind a
//! string-descriptor bridge (krauler, fabula, hunnox: the command is the
//! index of a string descriptor, the answer its text) can be simulated,
//! which a FunctionFS gadget cannot (the composite layer answers string
//! requests itself).
//!
//! How: a loopback TCP connection; one end is handed to vhci-hcd by
//! writing `PORT SOCKFD DEVID SPEED` to its sysfs `attach` file (what
//! `usbip attach` does after its own handshake), the other end is served
//! here: USBIP_CMD_SUBMIT for ep0 (descriptors, SET_CONFIGURATION,
//! SET_IDLE) and ep1 IN (held until unlinked: the unit sends no
//! interrupt reports), USBIP_CMD_UNLINK answered. Protocol:
//! Documentation/usb/usbip_protocol.rst in the kernel sources.
//!
//! As a program: `vm_usbip` attaches a krauler-bridged Megatec unit
//! (0001:0000) answering NUT's megatec sample until standard input
//! closes (as root, with `vhci-hcd` loaded). As a module: vm_megatec.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

const VHCI: &str = "/sys/devices/platform/vhci_hcd.0";

/// The simulated device's answers to string-descriptor commands.
pub type Strings = Box<dyn FnMut(u8) -> Option<Vec<u8>> + Send>;

/// What the device saw.
#[derive(Default)]
pub struct Seen {
    /// String descriptor indexes asked for, in order.
    pub strings: Vec<u8>,
}

pub struct UsbipDevice {
    port: u32,
    pub seen: Arc<Mutex<Seen>>,
    _client: TcpStream,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl UsbipDevice {
    /// Attach a full-speed HID device with `descriptor` as its report
    /// descriptor and these ids and strings (1: manufacturer, 2:
    /// product); `answer(index)` gives the text of other string indexes.
    pub fn attach(
        vid: u16,
        pid: u16,
        manufacturer: &str,
        product: &str,
        descriptor: &[u8],
        answer: Strings,
    ) -> io::Result<UsbipDevice> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(l.local_addr()?)?;
        let (server, _) = l.accept()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let dev = Device {
            vid,
            pid,
            strings: vec![manufacturer.to_string(), product.to_string()],
            report: descriptor.to_vec(),
            answer,
            seen: seen.clone(),
        };
        std::thread::Builder::new()
            .name("usbip".into())
            .spawn(move || serve(server, dev))?;
        // A free high-speed port of vhci-hcd (the first ones are HS).
        let status = std::fs::read_to_string(format!("{VHCI}/status")).unwrap_or_default();
        let port = status
            .lines()
            .skip(1)
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                // hub port sta spd dev sockfd local_busid; 004 = free.
                (w.len() > 2 && w[0] == "hs" && w[2] == "004").then(|| w[1].parse::<u32>().ok())?
            })
            .unwrap_or(0);
        // devid: bus 1, device 2; speed 2: full speed.
        let line = format!("{port} {} {} 2", client.as_raw_fd(), (1u32 << 16) | 2);
        std::fs::write(format!("{VHCI}/attach"), line)
            .map_err(|e| io::Error::new(e.kind(), format!("{VHCI}/attach: {e}")))?;
        Ok(UsbipDevice {
            port,
            seen,
            _client: client,
        })
    }

    pub fn detach(&self) -> io::Result<()> {
        std::fs::write(format!("{VHCI}/detach"), self.port.to_string())
    }
}

struct Device {
    vid: u16,
    pid: u16,
    strings: Vec<String>,
    report: Vec<u8>,
    answer: Strings,
    seen: Arc<Mutex<Seen>>,
}

fn string_desc(text: &[u8]) -> Vec<u8> {
    let n = text.len().min(126);
    let mut d = vec![(2 + 2 * n) as u8, 3];
    for &c in &text[..n] {
        d.extend_from_slice(&[c, 0]);
    }
    d
}

impl Device {
    fn config(&self) -> Vec<u8> {
        let rl = (self.report.len() as u16).to_le_bytes();
        let mut d = vec![9, 2, 34, 0, 1, 1, 0, 0x80, 50];
        d.extend_from_slice(&[9, 4, 0, 0, 1, 3, 0, 0, 0]);
        d.extend_from_slice(&[9, 0x21, 0x11, 0x01, 0, 1, 0x22, rl[0], rl[1]]);
        d.extend_from_slice(&[7, 5, 0x81, 3, 8, 0, 10]);
        d
    }

    /// A control request: `Ok(data)` (IN data, empty for OUT), or a stall.
    fn control(&mut self, setup: &[u8]) -> Result<Vec<u8>, ()> {
        let (rt, req) = (setup[0], setup[1]);
        let value = u16::from_le_bytes([setup[2], setup[3]]);
        match (rt, req, (value >> 8) as u8) {
            (0x80, 6, 1) => {
                let v = self.vid.to_le_bytes();
                let p = self.pid.to_le_bytes();
                Ok(vec![
                    18, 1, 0, 2, 0, 0, 0, 64, v[0], v[1], p[0], p[1], 0, 1, 1, 2, 0, 1,
                ])
            }
            (0x80, 6, 2) => Ok(self.config()),
            (0x80, 6, 3) => {
                let idx = value as u8;
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .strings
                    .push(idx);
                match idx {
                    0 => Ok(vec![4, 3, 0x09, 0x04]),
                    1 | 2 => Ok(string_desc(self.strings[idx as usize - 1].as_bytes())),
                    _ => match (self.answer)(idx) {
                        Some(t) => Ok(string_desc(&t)),
                        None => Err(()),
                    },
                }
            }
            (0x81, 6, 0x22) => Ok(self.report.clone()),
            (0x81, 6, 0x21) => {
                let rl = (self.report.len() as u16).to_le_bytes();
                Ok(vec![9, 0x21, 0x11, 0x01, 0, 1, 0x22, rl[0], rl[1]])
            }
            (0x80, 0, _) | (0x81, 0, _) | (0x82, 0, _) => Ok(vec![0, 0]),
            (0x00, 9, _) | (0x21, 0x0a, _) | (0x21, 0x09, _) | (0x01, 0x0b, _) => Ok(vec![]),
            (0x02, 1, _) => Ok(vec![]), // CLEAR_FEATURE (halt)
            _ => Err(()),
        }
    }
}

/// USBIP_RET_SUBMIT: `actual` bytes done, `data` sent along (IN only).
fn ret_submit(seq: u32, status: i32, actual: usize, data: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(48 + data.len());
    for v in [3u32, seq, 0, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    for v in [status, actual as i32, 0, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(data);
    h
}

fn serve(mut s: TcpStream, mut dev: Device) {
    let mut held: Vec<u32> = Vec::new();
    let mut hdr = [0u8; 48];
    loop {
        if s.read_exact(&mut hdr).is_err() {
            return;
        }
        let (cmd, seq, dir, ep) = (be32(&hdr, 0), be32(&hdr, 4), be32(&hdr, 12), be32(&hdr, 16));
        match cmd {
            1 => {
                let len = be32(&hdr, 24) as usize;
                let mut out = vec![0u8; if dir == 0 { len } else { 0 }];
                if s.read_exact(&mut out).is_err() {
                    return;
                }
                if ep != 0 {
                    // Interrupt IN: nothing to send; held until unlinked.
                    held.push(seq);
                    continue;
                }
                let setup = hdr[40..48].to_vec();
                let reply = match dev.control(&setup) {
                    Ok(mut d) if dir == 1 => {
                        d.truncate(len);
                        ret_submit(seq, 0, d.len(), &d)
                    }
                    Ok(_) => ret_submit(seq, 0, len, &[]),
                    Err(()) => ret_submit(seq, -32, 0, &[]),
                };
                if s.write_all(&reply).is_err() {
                    return;
                }
            }
            2 => {
                let victim = be32(&hdr, 20);
                let status: i32 = if let Some(i) = held.iter().position(|&x| x == victim) {
                    held.remove(i);
                    -104
                } else {
                    0
                };
                let mut r = Vec::with_capacity(48);
                for v in [4u32, seq, 0, 0, 0] {
                    r.extend_from_slice(&v.to_be_bytes());
                }
                r.extend_from_slice(&status.to_be_bytes());
                r.extend_from_slice(&[0; 24]);
                if s.write_all(&r).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

fn main() {
    use hidupsd::qx::tables::SAMPLES;
    use hidupsd::qx::Bridge;
    let answer: Strings = Box::new(|idx: u8| {
        let cmd = hidupsd::qx::bridge::string_command(Bridge::Krauler, idx)?;
        let a = SAMPLES
            .iter()
            .find(|(p, c, _)| *p == "megatec" && c.as_bytes() == cmd.as_slice())
            .map(|(_, _, a)| a.to_vec());
        Some(a.unwrap_or_default())
    });
    let desc = [
        0x06, 0xa0, 0xff, 0x09, 0x04, 0xa1, 0x01, 0x09, 0x06, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75,
        0x08, 0x95, 0x08, 0x81, 0x82, 0x09, 0x07, 0x95, 0x40, 0x91, 0x82, 0xc0,
    ];
    match UsbipDevice::attach(0x0001, 0x0000, "VM usbip", "USB UPS", &desc, answer) {
        Ok(d) => {
            println!("attached; close standard input to detach");
            let _ = io::copy(&mut io::stdin(), &mut io::sink());
            let _ = d.detach();
        }
        Err(e) => {
            eprintln!("vm_usbip: {e}");
            std::process::exit(1);
        }
    }
}
