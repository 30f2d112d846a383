//! `hidupsd decode`: a recorded device through the same engine as a live
//! one, printed as `upsc` prints variables (sorted `name: value` lines), or
//! with `--explore` every field of every report.

use crate::hid::{report, ReportType};
use crate::recording::{Recording, Replay};
use crate::text::Shortest;
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
    let rec = if live {
        None
    } else {
        Some(Recording::load(Path::new(path)).map_err(|e| e.to_string())?)
    };
    let mut out = std::io::stdout().lock();
    // A Megatec/Q1 unit: nutdrv_qx's engine, on its recorded answers or
    // through its bridge.
    let qx = match &rec {
        Some(rec) => {
            let power =
                crate::hid::Descriptor::parse(&rec.descriptor).is_ok_and(|d| d.is_power_device());
            (!power && !rec.answers.is_empty())
                .then(|| decode_qx(rec, &crate::qx::QxOptions::default()))
        }
        None => decode_qx_live(Path::new(path))?.map(Ok),
    };
    let mut text = Vec::new();
    let r = match qx {
        Some(_) if explore => {
            return Err(format!(
                "{path}: --explore: a Megatec/Q1 unit has no HID fields"
            ));
        }
        Some(qx) => {
            let qx = qx.map_err(|e| format!("{path}: {e}"))?;
            write_vars(qx.sorted_vars(), &mut text)
        }
        None => {
            let opts = Options::default();
            let (mut ups, mut io) = match &rec {
                None => (decode_hidraw(Path::new(path), opts)?, None),
                Some(rec) => {
                    let (ups, io) = decode(rec, opts).map_err(|e| format!("{path}: {e}"))?;
                    (ups, Some(io))
                }
            };
            if explore {
                // Every recorded Feature report, not only those the table
                // reads (ones read already are left as the walks and
                // inputs left them).
                if let Some(io) = io.as_mut() {
                    let ids = ups.desc.report_ids(ReportType::Feature);
                    let t = ups.next_full();
                    for id in ids {
                        if !ups.was_read(id) {
                            let _ = ups.load_report(id, io, t);
                        }
                    }
                }
                print_explore(&ups, &mut text)
            } else {
                print_vars(&ups, &mut text)
            }
        }
    };
    // Gathered, then written in one go (standard output as a `dyn Write`
    // would bring its vectored-write paths to the binary).
    let r = r.and_then(|()| out.write_all(&text));
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

/// A recorded Megatec/Q1 unit (`answer` lines) through the same engine
/// as a live one: probe, first read and poll, then a full poll.
pub fn decode_qx(rec: &Recording, opts: &crate::qx::QxOptions) -> Result<crate::qx::Qx, String> {
    use crate::qx::{replay::Answers, Qx};
    if rec.answers.is_empty() {
        return Err("no Megatec/Q1 answers in the recording".into());
    }
    let mut io = Answers::new(&rec.answers);
    let mut qx = Qx::probe(&mut io, opts).map_err(|e| e.to_string())?;
    qx.set_identity(Some((rec.ident.vid, rec.ident.pid)));
    qx.init(&mut io, 0).map_err(|e| e.to_string())?;
    let t = qx.next_full() + 1;
    qx.update(&mut io, t).map_err(|e| e.to_string())?;
    Ok(qx)
}

/// A live node that is a Megatec/Q1 unit, read once (probe, first read
/// and poll); `None` for a Power Device.
pub fn decode_qx_live(path: &std::path::Path) -> Result<Option<crate::qx::Qx>, String> {
    use crate::device::qxunit::{serve, QxUnit};
    let mut f = open_ups(path)?;
    let opts = Options::default();
    let crate::qx::usbid::Serve::Megatec(b) = serve(&f.descriptor, &f.info, &opts) else {
        return Ok(None);
    };
    let u = QxUnit::start(&mut f.dev, b, &f.info, &opts, 0)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(u.qx))
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
    crate::device::probe::identify(dev, node, sysfs)?.ok_or_else(|| {
        format!("{name}: neither a USB HID Power Device nor a Megatec/Q1 unit that answers")
    })
}

/// Variables sorted by name, as `upsc` lists them.
pub fn sorted_vars(ups: &Ups) -> Vec<(String, String)> {
    ups.store.sorted_pairs()
}

pub fn print_vars(ups: &Ups, out: &mut dyn Write) -> io::Result<()> {
    write_vars(sorted_vars(ups), out)
}

/// `name: value` lines, as `upsc` prints them (a HID UPS's variables or
/// a Megatec/Q1 unit's).
fn write_vars(vars: Vec<(String, String)>, out: &mut dyn Write) -> io::Result<()> {
    for (k, v) in vars {
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
            // Never read: the bytes are the cache's zeros, not the device's.
            (ReportType::Feature | ReportType::Input, _) if !ups.was_read(f.report_id) => {
                "not read".to_string()
            }
            (ReportType::Feature, Some(l)) | (ReportType::Input, Some(l)) => {
                format!("{l} ({})", Shortest(report::value(f, l)))
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
