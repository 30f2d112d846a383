//! `hidupsd decode`: a recorded device through the same engine as a live
//! one, printed as `upsc` prints variables (sorted `name: value` lines), or
//! with `--explore` every field of every report.

use crate::hid::{report, Kind};
use crate::recording::{Recording, Replay};
use crate::ups::engine::{BindError, Options, Ups};
use crate::ups::path::PathName;
use std::io::{self, Write};

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
    use crate::sys::hidraw::{Hidraw, BUS_USB};
    let name = path.display();
    let mut dev = Hidraw::open(path).map_err(|e| format!("{name}: {e}"))?;
    let info = dev
        .info()
        .map_err(|e| format!("{name}: HIDIOCGRAWINFO: {e}"))?;
    if info.bustype != BUS_USB {
        return Err(format!(
            "{name}: not a USB device (bus {:#x})",
            info.bustype
        ));
    }
    let desc = dev
        .descriptor()
        .map_err(|e| format!("{name}: HIDIOCGRDESC: {e}"))?;
    // sysfs has the USB strings; HIDIOCGRAWNAME is "<manufacturer> <product>".
    let usb = crate::sys::usb::UsbInfo::for_hidraw(&path.to_string_lossy());
    let ident = match &usb {
        Some(u) => crate::ups::engine::Identity {
            vid: u.vid,
            pid: u.pid,
            vendor: u.manufacturer.clone(),
            product: u.product.clone(),
            serial: u.serial.clone(),
        },
        None => crate::ups::engine::Identity {
            vid: info.vendor as u16,
            pid: info.product as u16,
            vendor: None,
            product: dev.name(),
            serial: dev.uniq().filter(|s| !s.is_empty()),
        },
    };
    if let Some(u) = &usb {
        dev.strings = crate::sys::usb::Strings::open(u);
        if matches!(dev.strings, crate::sys::usb::Strings::None) {
            eprintln!("hidupsd: {name}: no hiddev or usbfs node: variables made of USB strings are left out");
        }
    }
    let mut ups = Ups::new(&desc, ident, opts).map_err(|e| format!("{name}: {e}"))?;
    ups.init(&mut dev, 0);
    Ok(ups)
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
