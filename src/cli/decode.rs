//! `hidupsd decode`: a recorded device through the same engine as a live
//! one, printed as `upsc` prints variables (sorted `name: value` lines), or
//! with `--explore` every field of every report.

use crate::hid::{report, Kind};
use crate::recording::{Recording, Replay};
use crate::ups::engine::Ups;
use crate::ups::options::{BindError, Options};
use crate::ups::path::PathName;
use std::io::{self, Write};
use std::path::Path;

/// `hidupsd decode [--explore] PATH`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut explore = false;
    let mut path = None;
    for a in args {
        match a.as_str() {
            "--explore" | "-x" => explore = true,
            s if s.starts_with('-') => {
                return Err(format!("decode: unknown option '{s}' (see hidupsd --help)"))
            }
            s if path.is_none() => path = Some(s),
            s => return Err(format!("decode: unexpected argument '{s}'")),
        }
    }
    let path = path.ok_or("decode: missing PATH (see hidupsd --help)")?;
    // A device node (as --help says): read the live UPS once.
    let live = std::fs::metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_char_device()
    });
    let ups = if live {
        decode_hidraw(Path::new(path), Options::default())?
    } else {
        let rec = Recording::load(Path::new(path)).map_err(|e| e.to_string())?;
        decode(&rec, Options::default())
            .map_err(|e| format!("{path}: {e}"))?
            .0
    };
    let mut out = std::io::stdout().lock();
    let r = if explore {
        print_explore(&ups, &mut out)
    } else {
        print_vars(&ups, &mut out)
    };
    // A closed pipe (`| head`) is not an error.
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Bind a recording and run what the driver runs at start: the INIT walk,
/// one full update, then the recorded interrupt reports in order.
pub fn decode(rec: &Recording, opts: Options) -> Result<(Ups, Replay), BindError> {
    let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), opts)?;
    let mut io = Replay::new(rec);
    ups.init(&mut io, 0);
    // Past the cache age and the full-walk period: everything is re-read.
    let t = ups.next_full() + 1;
    ups.update(&mut io, t);
    for r in &rec.inputs {
        ups.on_input(r, &mut io, t);
    }
    Ok((ups, io))
}

/// Read a live UPS once through its hidraw node: identity and descriptor
/// from the kernel, then the same start-up sequence as [`decode`].
pub fn decode_hidraw(path: &std::path::Path, opts: Options) -> Result<Ups, String> {
    use crate::device::io::DeviceIo;
    use crate::device::usb::identity;
    let mut f = open_ups(path)?;
    if !f.dev.has_strings() {
        eprintln!(
            "hidupsd: {}: no hiddev or usbfs node: variables made of USB strings are left out",
            path.display()
        );
    }
    let mut ups = Ups::new(&f.descriptor, identity(&f.info), opts)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    ups.init(&mut f.dev, 0);
    Ok(ups)
}

/// Open `/dev/hidrawN` for a one-shot command (`decode`, `record`,
/// `scan`): errors name the node, and a device that is not a USB HID
/// Power Device is one.
pub fn open_ups(
    path: &std::path::Path,
) -> Result<crate::device::io::Found<crate::sys::hidraw::Hidraw>, String> {
    let name = path.display();
    let node = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dev = crate::sys::hidraw::Hidraw::open(path).map_err(|e| format!("{name}: {e}"))?;
    let sysfs = crate::device::usb::UsbInfo::for_hidraw(node);
    crate::device::probe::identify(dev, node, sysfs)?
        .ok_or_else(|| format!("{name}: not a USB HID Power Device"))
}

/// Variables sorted by name, as `upsc` lists them.
pub fn sorted_vars(ups: &Ups) -> Vec<(String, String)> {
    let mut v: Vec<_> = ups
        .store
        .iter()
        .map(|v| (v.name.as_str().to_string(), v.value.as_str().to_string()))
        .collect();
    v.sort();
    v
}

pub fn print_vars(ups: &Ups, out: &mut dyn Write) -> io::Result<()> {
    for (k, v) in sorted_vars(ups) {
        writeln!(out, "{k}: {v}")?;
    }
    Ok(())
}

/// Every field: report id and kind, bit offset and size, usage path, raw
/// logical value and scaled value, with the ranges that produced them.
pub fn print_explore(ups: &Ups, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# subdriver: {} ({})", ups.sub.key, ups.sub.name)?;
    writeln!(out, "# commands: {}", ups.cmds.join(" "))?;
    writeln!(
        out,
        "# id   kind     offset size  path = logical (value) [logical min..max] unit exp"
    )?;
    for f in ups.desc.fields() {
        let buf = ups.report(f.report_id);
        let path = PathName(&f.path, ups.sub.usages);
        let shown = match (f.kind, report::get(buf, f)) {
            (Kind::Feature, Some(l)) | (Kind::Input, Some(l)) => {
                format!("{l} ({})", report::value(f, l))
            }
            _ => "-".to_string(),
        };
        writeln!(
            out,
            "0x{:02x} {:<8} {:>6} {:>4}  {} = {} [{}..{}{}] {:08x} {}",
            f.report_id,
            f.kind.as_str(),
            f.bit_offset,
            f.bit_size,
            path,
            shown,
            f.logical_min,
            f.logical_max,
            if f.logmax_assumed { " unsigned" } else { "" },
            f.unit,
            f.unit_exp
        )?;
    }
    Ok(())
}
