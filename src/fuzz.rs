//! Entry points shared by the cargo-fuzz targets (`tests/fuzz`) and the
//! corpus replay in the ordinary test suite. Each must return normally on
//! any input: a panic is a bug.

use crate::hid::{report, Descriptor, Kind};
use crate::recording::{Recording, Replay};
use crate::ups::engine::{Identity, Options, Ups};

/// Parse arbitrary bytes as a report descriptor and read every field of
/// zeroed and 0xFF-filled reports.
pub fn descriptor(data: &[u8]) {
    let Ok(d) = Descriptor::parse(data) else {
        return;
    };
    let mut buf = [0u8; 4097];
    for fill in [0x00, 0xFF] {
        buf.fill(fill);
        for f in d.fields() {
            let n = d.report_len(f.report_id, f.kind) + 1;
            if let Some(l) = report::get(&buf[..n], f) {
                let v = report::value(f, l);
                let _ = report::to_logical(f, v);
            }
        }
    }
    let _ = d.is_power_device();
    let _ = d.report_ids(Kind::Feature).count();
}

/// Input layout: VID (2 bytes LE), PID (2), descriptor length (2), the
/// descriptor, then reports as (kind byte: even = feature, odd = input;
/// length byte; bytes). Binds the device through the subdriver its ids
/// select, runs the start-up walks, a full update and every input report.
pub fn device(data: &[u8]) {
    if data.len() < 6 {
        return;
    }
    let vid = u16::from_le_bytes([data[0], data[1]]);
    let pid = u16::from_le_bytes([data[2], data[3]]);
    let dlen = u16::from_le_bytes([data[4], data[5]]) as usize;
    let Some(desc) = data.get(6..6 + dlen) else {
        return;
    };
    let mut rec = Recording {
        ident: Identity {
            vid,
            pid,
            ..Identity::default()
        },
        descriptor: desc.to_vec(),
        ..Recording::default()
    };
    let mut rest = &data[6 + dlen..];
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], rest[1] as usize);
        let Some(bytes) = rest.get(2..2 + len) else {
            break;
        };
        if !bytes.is_empty() {
            if kind & 1 == 0 {
                rec.features.push(bytes.to_vec());
            } else {
                rec.inputs.push(bytes.to_vec());
            }
        }
        rest = &rest[2 + len..];
    }
    let Ok(mut ups) = Ups::new(&rec.descriptor, rec.ident.clone(), Options::default()) else {
        return;
    };
    let mut io = Replay::new(&rec);
    ups.init(&mut io, 0);
    let t = ups.next_full() + 1;
    ups.update(&mut io, t);
    for r in &rec.inputs {
        ups.on_input(r, &mut io, t);
    }
    ups.update(&mut io, t + 1);
}

/// Serialise a recording into [`device`]'s input layout (corpus seeds).
pub fn encode_device(rec: &Recording) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&rec.ident.vid.to_le_bytes());
    v.extend_from_slice(&rec.ident.pid.to_le_bytes());
    v.extend_from_slice(&(rec.descriptor.len() as u16).to_le_bytes());
    v.extend_from_slice(&rec.descriptor);
    for (kind, reports) in [(0u8, &rec.features), (1u8, &rec.inputs)] {
        for r in reports {
            let n = r.len().min(255);
            v.push(kind);
            v.push(n as u8);
            v.extend_from_slice(&r[..n]);
        }
    }
    v
}
