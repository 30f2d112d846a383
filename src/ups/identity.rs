//! The identity variables usbhid-ups publishes before its first walk:
//! `ups.mfr`, `ups.model`, `ups.serial` (per-subdriver rules over the USB
//! strings), `ups.vendorid`/`ups.productid`, `device.type`, and the
//! `driver.*` description. MGE/Eaton model names come from the model
//! table, which also sets the model family some conversions depend on.
//!
//! Read first: `docs/design/hid-decoding.md` §8.

use super::engine::Ups;
use super::options::Identity;

use super::tables::mge_models::{MgeModel, MGE_MODELS};
use super::transport::Transport;
use crate::text::Text;
use core::fmt::Write;

/// Published as `driver.name`.
pub const DRIVER_NAME: &str = "hidupsd";
/// Published as `driver.version.internal`.
pub const DRIVER_INTERNAL: &str = "0.73";

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Default manufacturer name when the USB vendor string is missing.
fn mfr_fallback(key: &str) -> Option<&'static str> {
    Some(match key {
        "mge" => "Eaton",
        "apc" => "APC",
        "arduino" => "Arduino",
        "belkin" => "Belkin",
        "cps" => "CPS",
        "delta_ups" => "Delta",
        "ecoflow" => "EcoFlow",
        "ever" => "Ever",
        "idowell" => "iDowell",
        "legrand" => "Legrand",
        "liebert" => "Liebert",
        "openups" => "openUPS",
        "powercom" => "PowerCOM",
        "powervar" => "Powervar",
        "salicru" => "Salicru",
        _ => return None,
    })
}

/// Read the USB string whose index is the value at `path`.
fn string_at(ups: &mut Ups, io: &mut dyn Transport, path: &str, out: &mut Text) -> bool {
    match ups.read_path(path, io, 0) {
        Some(v) if (1.0..=255.0).contains(&v) => io.string(v as u8, out) && !out.is_empty(),
        _ => false,
    }
}

/// MGE/Eaton: the model table turns (USB product, iModel) into a family
/// and a name.
fn mge_model(ups: &mut Ups, io: &mut dyn Transport, product: &str) -> String {
    let mut imodel = Text::new();
    if !string_at(ups, io, "UPS.PowerSummary.iModel", &mut imodel) {
        match ups.read_path("UPS.Flow.[4].ConfigApparentPower", io, 0) {
            Some(v) => {
                let _ = write!(imodel, "{}", v as i64);
            }
            None => return product.to_string(),
        }
    }
    let key = if product.is_empty() {
        "unknown"
    } else {
        product
    };
    let row: Option<&MgeModel> = MGE_MODELS
        .iter()
        .find(|m| m.iproduct.get() == key && m.imodel.get() == imodel.as_str());
    ups.conv_state().mge_family = row.map_or(0x200, |m| m.family);
    match row.and_then(|m| m.name.opt()) {
        Some(n) => n.to_string(),
        None => format!("{product} {}", imodel.as_str()),
    }
}

impl Ups {
    /// Publish the identity variables (at the INIT walk). Defined here,
    /// as part of the engine's type, so the engine calls it without
    /// importing this module: the dependency goes one way.
    pub(super) fn publish_identity(&mut self, io: &mut dyn Transport) {
        publish(self, io);
    }
}

/// Publish identity and driver variables.
fn publish(ups: &mut Ups, io: &mut dyn Transport) {
    let key = ups.sub.key;
    // Taken for the duration, not cloned (its strings are only read here;
    // conversion functions see the ids, which stay).
    let (vid, pid) = (ups.ident.vid, ups.ident.pid);
    let id = std::mem::replace(
        &mut ups.ident,
        Identity {
            vid,
            pid,
            ..Identity::default()
        },
    );
    let product = nonempty(&id.product);
    let mfr = match key {
        "belkin" => id
            .vendor
            .as_deref()
            .map(str::trim_start)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        _ => nonempty(&id.vendor).map(str::to_string),
    }
    .or_else(|| mfr_fallback(key).map(str::to_string));
    let mut firmware = None;
    let mut firmware_aux = None;
    let model: Option<String> = match key {
        "apc" => Some(match product {
            Some(p) => {
                let (model, fw) = match p.find(" FW:") {
                    Some(i) => (&p[..i], Some(&p[i + 4..])),
                    None => (p, None),
                };
                if let Some(fw) = fw {
                    match fw.find(" USB FW:") {
                        Some(j) => {
                            firmware = Some(fw[..j].to_string());
                            firmware_aux = Some(fw[j + 8..].to_string());
                        }
                        None => firmware = Some(fw.to_string()),
                    }
                }
                model.to_string()
            }
            None => "unknown".to_string(),
        }),
        "belkin" => Some(product.unwrap_or("unknown").to_string()),
        "delta_ups" => {
            let mut t = Text::new();
            if string_at(ups, io, "UPS.DeltaCustom.[1].DeltaModelName", &mut t) {
                Some(t.as_str().to_string())
            } else {
                product.map(str::to_string)
            }
        }
        "mge" if id.vid != 0x047c => Some(mge_model(ups, io, product.unwrap_or(""))),
        _ => product.map(str::to_string),
    };
    let serial = match nonempty(&id.serial) {
        Some(s) => Some(s.to_string()),
        None if key == "belkin" => {
            let mut t = Text::new();
            string_at(ups, io, "UPS.PowerSummary.iSerialNumber", &mut t)
                .then(|| t.as_str().to_string())
        }
        None => None,
    };
    let s = &mut ups.store;
    let _ = s.set("device.type", "ups");
    for (name, v) in [
        ("ups.mfr", &mfr),
        ("ups.model", &model),
        ("ups.serial", &serial),
    ] {
        if let Some(v) = v {
            let _ = s.set(name, v);
        }
    }
    if let Some(f) = &firmware {
        let _ = s.set("ups.firmware", f);
    }
    if let Some(f) = &firmware_aux {
        let _ = s.set("ups.firmware.aux", f);
    }
    let mut t = Text::new();
    let _ = t.set_fmt(format_args!("{:04x}", id.vid));
    let _ = s.set("ups.vendorid", t.as_str());
    let _ = t.set_fmt(format_args!("{:04x}", id.pid));
    let _ = s.set("ups.productid", t.as_str());
    for (name, v) in [
        ("device.mfr", &mfr),
        ("device.model", &model),
        ("device.serial", &serial),
    ] {
        if let Some(v) = v {
            let _ = s.set(name, v);
        }
    }
    let _ = s.set("driver.name", DRIVER_NAME);
    let _ = s.set("driver.version", env!("CARGO_PKG_VERSION"));
    let _ = s.set("driver.version.internal", DRIVER_INTERNAL);
    let _ = s.set("driver.version.data", ups.sub.name);
    ups.ident = id;
}
