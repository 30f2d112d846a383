//! `hidupsd record`: everything needed to replay a UPS, in the
//! single-file format `Recording::load` reads (see `recording.rs`): USB
//! identity and strings, the descriptor, every Feature report, and the
//! Input reports that arrived while recording; for a Megatec/Q1 unit,
//! the answers to every protocol's queries instead of reports. Writing is pure; reading
//! the device is [`capture`].

use crate::device::usb::UsbInfo;
use crate::hid::{Descriptor, ReportType};
use crate::recording::Recording;
use crate::sys::hidraw::Hidraw;
use crate::ups::transport::Transport;
use std::fmt::Write;
use std::io::Write as _;
use std::path::Path;

/// `hidupsd record /dev/hidrawN [SECONDS]`: the recording on standard
/// output.
pub fn run(args: &[String]) -> Result<(), String> {
    let node = args
        .first()
        .ok_or("record: missing /dev/hidrawN (see hidupsd --help)")?;
    // u32: one parser fewer on flash (u64's), and no overflow below.
    let secs = match args.get(1) {
        Some(s) => s
            .parse::<u32>()
            .map_err(|_| format!("record: '{s}' is not a number of seconds"))?,
        None => 5,
    };
    let secs = u64::from(secs);
    let f = super::decode::open_ups(Path::new(node))?;
    let (mut dev, info) = (f.dev, f.info);
    let rec = capture(&mut dev, &info, secs * 1000).map_err(|e| format!("{node}: {e}"))?;
    let text = to_text(
        &rec,
        &format!("hidupsd {} recording of {node}", env!("CARGO_PKG_VERSION")),
    );
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn hex_line(out: &mut String, key: &str, bytes: &[u8]) {
    out.push_str(key);
    for b in bytes {
        let _ = write!(out, " {b:02x}");
    }
    out.push('\n');
}

/// The recording as text; `Recording::parse` reads it back unchanged.
pub fn to_text(rec: &Recording, comment: &str) -> String {
    let mut out = String::new();
    for l in comment.lines() {
        let _ = writeln!(out, "# {l}");
    }
    let id = &rec.ident;
    let _ = writeln!(out, "vendorid {:04x}\nproductid {:04x}", id.vid, id.pid);
    for (k, v) in [
        ("vendor", &id.vendor),
        ("product", &id.product),
        ("serial", &id.serial),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "{k} {}", quote(v));
        }
    }
    for (i, s) in &rec.strings {
        let _ = writeln!(out, "string {i} {}", quote(s));
    }
    for chunk in rec.descriptor.chunks(16) {
        hex_line(&mut out, "descriptor", chunk);
    }
    for r in &rec.features {
        hex_line(&mut out, &format!("feature {:02x}", r[0]), r);
    }
    for r in &rec.inputs {
        hex_line(
            &mut out,
            &format!("input {:02x}", r.first().copied().unwrap_or(0)),
            r,
        );
    }
    for (c, a) in &rec.answers {
        let _ = writeln!(
            out,
            "answer {} {}",
            crate::recording::c_quote(c),
            crate::recording::c_quote(a)
        );
    }
    out
}

/// Read a live UPS: identity, string descriptors 1 to 32, the descriptor,
/// every Feature report it declares, and Input reports for `millis`.
pub fn capture(dev: &mut Hidraw, info: &UsbInfo, millis: u64) -> Result<Recording, String> {
    let descriptor = dev.descriptor().map_err(|e| format!("HIDIOCGRDESC: {e}"))?;
    let desc = Descriptor::parse(&descriptor).map_err(|e| e.to_string())?;
    let power = desc.is_power_device();
    let mut rec = Recording {
        ident: crate::device::usb::identity(info),
        descriptor,
        ..Recording::default()
    };
    for i in 1..=32u8 {
        if let Some(s) = dev.strings.get(i) {
            rec.strings.push((i, s));
        }
    }
    if !power {
        // A Megatec/Q1 unit: every protocol's queries through its bridge
        // (no instant command: those act).
        let i = info;
        let m = i.manufacturer.as_deref();
        let Some(b) = crate::qx::usbid::bridge(i.vid, i.pid, m, i.product.as_deref()) else {
            return Err("neither a HID Power Device nor a Megatec/Q1 bridge".into());
        };
        let mut link = crate::qx::bridge::BridgeLink::new(
            b,
            crate::device::qxio::DevWire(dev as &mut dyn crate::device::io::DeviceIo),
        );
        rec.answers = crate::qx::replay::record(&mut link).map_err(|e| e.to_string())?;
        return Ok(rec);
    }
    let ids = desc.report_ids(ReportType::Feature);
    for id in ids {
        let mut buf = vec![0u8; desc.report_len_any(id) + 1];
        buf[0] = id;
        if let Ok(n) = dev.get_feature(&mut buf) {
            buf.truncate(n.max(1));
            buf[0] = id;
            rec.features.push(buf);
        }
    }
    let end = std::time::Instant::now() + std::time::Duration::from_millis(millis);
    let mut buf = [0u8; 4097];
    while std::time::Instant::now() < end {
        match dev.read_input(&mut buf) {
            // Kept as hidraw delivers them, which is what `on_input` takes.
            Ok(Some(n)) if n > 0 => rec.inputs.push(buf[..n].to_vec()),
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn text_round_trips_through_the_reader() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/unknown-5131-2007");
        let mut rec = Recording::load(&dir).unwrap();
        rec.ident.vendor = Some("Odd \"Vendor\" \\ Inc".into());
        rec.strings.push((4, "PbAc".into()));
        let text = to_text(&rec, "recorded by a test");
        let mut back = Recording::default();
        back.parse(&text).unwrap();
        assert_eq!(back.ident.vendor, rec.ident.vendor);
        assert_eq!((back.ident.vid, back.ident.pid), (0x5131, 0x2007));
        assert_eq!(back.descriptor, rec.descriptor);
        assert_eq!(back.features, rec.features);
        assert_eq!(back.inputs, rec.inputs);
        assert_eq!(back.strings, rec.strings);
        let mega = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/phoenixtec-06da-0003-megatec-over-hid");
        let rec = Recording::load(&mega).unwrap();
        let mut back = Recording::default();
        back.parse(&to_text(&rec, "megatec")).unwrap();
        assert_eq!(back.answers, rec.answers);
        assert!(text.starts_with("# recorded by a test\n"));
    }
}
