//! The Megatec/Q1 oracle of the VM tests (tests/vm, pass `megatec`): the
//! same simulated USB unit (a FunctionFS gadget on dummy_hcd answering
//! like a Megatec unit behind a USB bridge, `vm_gadget`'s megatec mode)
//! read by hidupsd through hidraw and by NUT 2.8.0's own `nutdrv_qx`
//! (Debian's nut-server, through libusb, `-d 1`: one poll, then the
//! variables on standard output). Their variables must match, `driver.*`
//! aside. One line per case, `PASS [megatec] PROTOCOL/BRIDGE ...` or
//! `FAIL ...`, and one for an instant command (`beeper.toggle`, sent
//! through hidupsd, seen by the unit as `Q\r`).
//!
//! The string-descriptor bridges (krauler, hunnox) cannot be a FunctionFS
//! gadget (the composite layer answers string requests itself): those
//! units are USB/IP devices served by this program (`vm_usbip`), and the
//! command seen is the string index asked for.
//!
//! Usage (as root, in the VM): `vm_megatec [NUTDRV_QX]`.

#[path = "vm_gadget.rs"]
mod vm_gadget;
#[path = "vm_usbip.rs"]
mod vm_usbip;

use hidupsd::qx::tables::SAMPLES;
use hidupsd::qx::Bridge;
use hidupsd::recording::Recording;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vm_gadget::Gadget;

/// The Phoenixtec fixture's report descriptor: a vendor pipe of 8-byte
/// input and 64-byte output reports, as Megatec bridges have.
const DESCRIPTOR: [u8; 27] = [
    0x06, 0xa0, 0xff, 0x09, 0x04, 0xa1, 0x01, 0x09, 0x06, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08,
    0x95, 0x08, 0x81, 0x82, 0x09, 0x07, 0x95, 0x40, 0x91, 0x82, 0xc0,
];

const PORT: u16 = 3493;

fn hidraw_of(vid: u16, pid: u16) -> Option<String> {
    for e in std::fs::read_dir("/sys/class/hidraw").ok()?.flatten() {
        let dev = e.path().join("device/../..");
        let id = |n: &str| {
            std::fs::read_to_string(dev.join(n))
                .ok()
                .and_then(|s| u16::from_str_radix(s.trim(), 16).ok())
        };
        if id("idVendor") == Some(vid) && id("idProduct") == Some(pid) {
            return Some(e.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

fn wait<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect() -> Option<Client> {
        let s = TcpStream::connect(("127.0.0.1", PORT)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        Some(Client {
            r: BufReader::new(s.try_clone().ok()?),
            w: s,
        })
    }
    fn line(&mut self, req: &str) -> String {
        let _ = self.w.write_all(req.as_bytes());
        let mut l = String::new();
        let _ = self.r.read_line(&mut l);
        l
    }
    fn vars(&mut self, ups: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let _ = self.w.write_all(format!("LIST VAR {ups}\n").as_bytes());
        let mut l = String::new();
        while self.r.read_line(&mut l).is_ok_and(|n| n > 0) {
            if l.starts_with("END LIST") || l.starts_with("ERR") {
                break;
            }
            if let Some(rest) = l.strip_prefix(&format!("VAR {ups} ")) {
                if let Some((k, v)) = rest.trim_end().split_once(' ') {
                    m.insert(k.to_string(), v.trim_matches('"').replace("\\\"", "\""));
                }
            }
            l.clear();
        }
        m
    }
}

/// What nutdrv_qx publishes for the unit: `-d 1` prints `name: value`.
fn nut(
    nutdrv: &str,
    vid: u16,
    pid: u16,
    protocol: &str,
) -> Result<BTreeMap<String, String>, String> {
    let dir = Path::new("/tmp/nutqx");
    let _ = std::fs::create_dir_all(dir);
    std::fs::write(
        dir.join("ups.conf"),
        format!(
            "[qx]\n\tdriver = nutdrv_qx\n\tport = auto\n\tvendorid = {vid:04x}\n\tproductid = {pid:04x}\n\
             \tprotocol = {protocol}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(nutdrv)
        .args(["-a", "qx", "-d", "1", "-u", "root"])
        .env("NUT_CONFPATH", dir)
        .env("NUT_STATEPATH", dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{nutdrv}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let m: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if m.is_empty() {
        return Err(format!(
            "nutdrv_qx printed nothing ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(m)
}

struct Case {
    protocol: &'static str,
    bridge: Bridge,
    vid: u16,
    pid: u16,
    /// The 8 status characters of the unit's status answer (Q1 positions
    /// 38 to 45), so that each case shows other status words.
    bits: &'static str,
}

fn run_case(i: usize, c: &Case, nutdrv: &str) -> Result<(String, bool), String> {
    let answers: Vec<(Vec<u8>, Vec<u8>)> = SAMPLES
        .iter()
        .filter(|(p, _, _)| *p == c.protocol)
        .map(|(_, q, a)| {
            let mut a = a.to_vec();
            if a.len() >= 47 && a[0] == b'(' {
                a[38..46].copy_from_slice(c.bits.as_bytes());
            }
            (q.as_bytes().to_vec(), a)
        })
        .collect();
    let mut rec = Recording {
        descriptor: DESCRIPTOR.to_vec(),
        answers,
        ..Recording::default()
    };
    rec.ident.vid = c.vid;
    rec.ident.pid = c.pid;
    rec.ident.product = Some("USB UPS".into());
    if matches!(c.bridge, Bridge::Krauler | Bridge::Hunnox | Bridge::Fabula) {
        let answers = rec.answers.clone();
        let bridge = c.bridge;
        let answer: vm_usbip::Strings = Box::new(move |idx: u8| {
            let cmd = hidupsd::qx::bridge::string_command(bridge, idx)?;
            let a = answers
                .iter()
                .find(|(q, _)| *q == cmd)
                .map(|(_, a)| a.clone());
            // A command: an empty string (no answer).
            Some(a.unwrap_or_default())
        });
        let (vendor, product) = match c.bridge {
            Bridge::Hunnox => ("HNX", "MEC0003"),
            Bridge::Fabula => ("MEC", "MEC0003"),
            _ => ("VM usbip", "USB UPS"),
        };
        let d = vm_usbip::UsbipDevice::attach(c.vid, c.pid, vendor, product, &DESCRIPTOR, answer)
            .map_err(|e| format!("usbip: {e}"))?;
        let seen = d.seen.clone();
        let count = || {
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            s.strings.iter().filter(|&&x| x == 0x07).count()
        };
        let r = compare(&count, c, nutdrv);
        let _ = d.detach();
        return r;
    }
    let g = Gadget::start_megatec(
        &format!("mq{i}"),
        &rec,
        &format!("MQ{i}"),
        "VM gadget",
        c.bridge,
    )
    .map_err(|e| format!("gadget: {e}"))?;
    let count = || {
        g.lock().megatec.as_ref().map_or(0, |m| {
            m.wire
                .received
                .iter()
                .filter(|x| x.as_slice() == b"Q\r")
                .count()
        })
    };
    let r = compare(&count, c, nutdrv);
    let _ = g.unplug();
    r
}

/// `beeper`: how many beeper commands (`Q`) the unit has received.
fn compare(beeper: &dyn Fn() -> usize, c: &Case, nutdrv: &str) -> Result<(String, bool), String> {
    wait(5, || hidraw_of(c.vid, c.pid)).ok_or("no hidraw node for the gadget")?;
    let dir = Path::new("/tmp/hidupsd-mq");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::copy("/etc/nut/upsd.users", dir.join("upsd.users"));
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {PORT}\n"))
        .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("ups.conf"),
        format!(
            "[mq]\n\tdriver = nutdrv_qx\n\tport = auto\n\tvendorid = \"{:04x}\"\n\tproductid = \"{:04x}\"\n\
             \tprotocol = {}\n",
            c.vid, c.pid, c.protocol
        ),
    )
    .map_err(|e| e.to_string())?;
    let log = std::fs::File::create("/tmp/hidupsd-mq.log").map_err(|e| e.to_string())?;
    let mut d = Command::new("hidupsd")
        .args(["-c", dir.to_str().unwrap_or("")])
        .stderr(log)
        .spawn()
        .map_err(|e| format!("hidupsd: {e}"))?;
    let ours = (|| {
        let mut cl = wait(10, Client::connect).ok_or("hidupsd does not listen")?;
        wait(20, || {
            cl.line("GET VAR mq ups.status\n")
                .starts_with("VAR")
                .then_some(())
        })
        .ok_or("hidupsd never served the unit")?;
        let vars = cl.vars("mq");
        // An instant command, seen by the unit.
        let mut cmd = String::new();
        if c.protocol == "megatec" {
            cl.line("USERNAME vmadmin\n");
            cl.line("PASSWORD vmpass\n");
            let before = beeper();
            let ok = cl.line("INSTCMD mq beeper.toggle\n");
            let seen = wait(5, || (beeper() > before).then_some(()));
            cmd = format!(
                "INSTCMD beeper.toggle answered {:?}, unit {}",
                ok.trim(),
                if seen.is_some() {
                    "received Q"
                } else {
                    "received nothing"
                }
            );
            if seen.is_none() || !ok.starts_with("OK") {
                return Err(cmd);
            }
        }
        Ok::<_, String>((vars, cmd))
    })();
    let _ = d.kill();
    let _ = d.wait();
    let (ours, cmd) = ours.map_err(|e| {
        let log = std::fs::read_to_string("/tmp/hidupsd-mq.log").unwrap_or_default();
        format!(
            "{e}; hidupsd log: {}",
            log.lines().collect::<Vec<_>>().join(" | ")
        )
    })?;
    let theirs = nut(nutdrv, c.vid, c.pid, c.protocol)?;
    let keys: std::collections::BTreeSet<&String> = ours
        .keys()
        .chain(theirs.keys())
        .filter(|k| !k.starts_with("driver."))
        .collect();
    let mut diffs = Vec::new();
    for k in &keys {
        let (a, b) = (ours.get(*k), theirs.get(*k));
        if a != b {
            diffs.push(format!("{k}: hidupsd {a:?} nutdrv_qx {b:?}"));
        }
    }
    if !diffs.is_empty() {
        return Err(format!(
            "{} of {} variables differ: {}",
            diffs.len(),
            keys.len(),
            diffs.join("; ")
        ));
    }
    let _ = cmd.is_empty();
    Ok((
        format!(
            "{} variables equal (ups.status {:?}){}",
            keys.len(),
            ours.get("ups.status").map(String::as_str).unwrap_or(""),
            if cmd.is_empty() {
                String::new()
            } else {
                format!("; {cmd}")
            }
        ),
        !cmd.is_empty(),
    ))
}

fn main() {
    let nutdrv = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/lib/nut/nutdrv_qx".into());
    if !Path::new(&nutdrv).exists() {
        println!("FAIL [megatec] 0 {nutdrv} missing");
        std::process::exit(1);
    }
    let (c5161, i0003, k0000) = ((0x0665, 0x5161), (0x06da, 0x0003), (0x0001, 0x0000));
    // Status characters: utility fail, battery low, bypass/boost/buck,
    // UPS failed, offline type, test running, shutdown active, beeper.
    let cases = [
        ("megatec", Bridge::Cypress, c5161, "00000000"),
        ("megatec/old", Bridge::Cypress, c5161, "10000001"),
        ("mustek", Bridge::Ippon, i0003, "11001000"),
        ("voltronic-qs", Bridge::Cypress, c5161, "00100000"),
        ("voltronic-qs-hex", Bridge::Cypress, c5161, "00000000"),
        ("zinto", Bridge::Ippon, i0003, "00000100"),
        ("hunnox", Bridge::Cypress, c5161, "00011001"),
        ("megatec", Bridge::Ippon, i0003, "10010000"),
        ("q1", Bridge::Ippon, i0003, "00000010"),
        ("mecer", Bridge::Cypress, c5161, "01000001"),
        // Over cypress nutdrv_qx's bestups rule refuses the ID answer
        // (cypress reports whole 8-byte reports: 32 bytes, not 25 to 27);
        // ippon reports the answer's own length.
        ("bestups", Bridge::Ippon, i0003, "00100000"),
        ("megatec", Bridge::Krauler, k0000, "10100001"),
        ("q1", Bridge::Krauler, k0000, "01000000"),
        ("megatec", Bridge::Hunnox, k0000, "00001000"),
        ("megatec", Bridge::Fabula, k0000, "00000001"),
    ];
    let mut failed = false;
    for (i, (p, b, (vid, pid), bits)) in cases.iter().enumerate() {
        let c = Case {
            protocol: p,
            bridge: *b,
            vid: *vid,
            pid: *pid,
            bits,
        };
        let t = Instant::now();
        match run_case(i, &c, &nutdrv) {
            Ok((what, _)) => println!(
                "PASS [megatec] {p}/{} {what} ({} ms)",
                b.name(),
                t.elapsed().as_millis()
            ),
            Err(e) => {
                failed = true;
                println!("FAIL [megatec] {p}/{} {e}", b.name());
            }
        }
    }
    std::process::exit(i32::from(failed));
}
