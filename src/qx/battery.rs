//! Battery charge and runtime where the unit gives none, as nutdrv_qx
//! works them out: low and high voltages and the number of packs guessed
//! from the nominal voltage, the charge from the battery voltage, and
//! with `runtimecal` a runtime estimate that grows on line and shrinks on
//! battery. Called by [`super::poll`] at the first read and after each
//! full walk; the figures live in the engine's battery state.

use super::answer::strtod;
use super::engine::{sb, Qx};
use super::error::QxError;
use crate::text::{atol, parse_f64, Text};
use crate::ups::engine::format_value;

impl Qx {
    /// nutdrv_qx's runtime estimate after a full walk: the remaining
    /// full-load runtime grows while on line (by the charge time) and
    /// shrinks on battery (by the effective load), is capped by what the
    /// battery voltage says, and gives `battery.charge` and
    /// `battery.runtime` where the unit gives none.
    pub(super) fn estimate(&mut self, now: u64) {
        let Some(then) = self.batt.runt_at else {
            return;
        };
        let b = &mut self.batt;
        let secs = now.saturating_sub(then) as f64 / 1000.0;
        if self.status & sb::OL != 0 {
            b.runt_est = (b.runt_est + b.runt_nom * secs / b.chrg_time).min(b.runt_nom);
        } else {
            b.runt_est = (b.runt_est - b.load_eff * secs).max(0.0);
        }
        if let Some(v) = self.store.get("battery.voltage").map(strtod) {
            let act = b.packs * v;
            if act > 0.0 && b.low > 0.0 && b.high > b.low {
                let vbc = ((act - b.low) / (b.high - b.low)).clamp(0.0, 1.0);
                if vbc < b.runt_est / b.runt_nom {
                    b.runt_est = vbc * b.runt_nom;
                }
            }
        }
        let (est, nom, chrg, runt) = (b.runt_est, b.runt_nom, b.chrg, b.runt);
        let mut t = Text::new();
        if chrg == -1.0 {
            format_value("%.0f", 100.0 * est / nom, &mut t);
            let _ = self.store.set("battery.charge", t.as_str());
        }
        if runt == -1.0 && self.load() {
            t.clear();
            format_value("%.0f", est / self.batt.load_eff, &mut t);
            let _ = self.store.set("battery.runtime", t.as_str());
        }
        self.batt.runt_at = Some(now);
    }

    /// The effective load for the estimate, from `ups.load`.
    fn load(&mut self) -> bool {
        let Some(l) = self.store.get("ups.load").map(strtod) else {
            return false;
        };
        let b = &mut self.batt;
        b.load_eff = libm::pow(l / 100.0, b.runt_exp).max(b.load_low);
        true
    }

    /// The runtime estimate's set-up (end of nutdrv_qx's battery set-up).
    pub(super) fn init_runtime(&mut self, now: u64) -> Result<(), QxError> {
        let Some(rc) = self.opts.runtimecal.as_deref() else {
            return Ok(());
        };
        let form = QxError::Config("runtimecal", "four numbers expected: RH,LH,RL,LL");
        let mut v = [0.0; 4];
        let mut n = 0;
        for x in rc.split(',') {
            let x = parse_f64(x.trim()).ok_or(form)?;
            if let Some(d) = v.get_mut(n) {
                *d = x;
            }
            n += 1;
        }
        if n != 4 {
            return Err(form);
        }
        let [rh, lh, rl, ll] = v;
        if rl < rh || rh <= 0.0 {
            return Err(QxError::Config("runtimecal", "runtime out of range"));
        }
        if lh > 100.0 || ll > lh || ll <= 0.0 {
            return Err(QxError::Config("runtimecal", "load out of range"));
        }
        let b = &mut self.batt;
        b.runt_exp = libm::log(rl / rh) / libm::log(lh / ll);
        b.runt_nom = rh * libm::pow(lh / 100.0, b.runt_exp);
        if !self.store.has("battery.charge") && b.nom != -1.0 {
            b.low = b.nom;
            b.high = 1.15 * b.nom;
            b.chrg = -1.0;
            if !self.battery() {
                return Err(QxError::Config(
                    "runtimecal",
                    "initial battery charge undetermined",
                ));
            }
        }
        let charge = self
            .store
            .get("battery.charge")
            .map(strtod)
            .ok_or(QxError::Config(
                "runtimecal",
                "initial battery charge undetermined",
            ))?;
        self.batt.runt_est = self.batt.runt_nom * charge / 100.0;
        if let Some(c) = &self.opts.chargetime {
            let c = atol(c).unwrap_or(0);
            if c <= 0 {
                return Err(QxError::Config("chargetime", "out of range [1..s]"));
            }
            self.batt.chrg_time = c as f64;
        }
        if let Some(l) = &self.opts.idleload {
            let l = strtod(l) / 100.0;
            if l <= 0.0 || l > 1.0 {
                return Err(QxError::Config("idleload", "out of range [0..100]"));
            }
            self.batt.load_low = l;
        }
        self.batt.runt_at = Some(now);
        Ok(())
    }

    /// Battery charge from the battery voltage, once per full walk.
    pub(super) fn battery(&mut self) -> bool {
        let Some(v) = self.store.get("battery.voltage") else {
            return false;
        };
        let act = self.batt.packs * strtod(v);
        let b = self.batt;
        if b.chrg == -1.0 && b.low > 0.0 && b.high > b.low {
            let c = (100.0 * (act - b.low) / (b.high - b.low)).clamp(0.0, 100.0);
            self.batt.chrg = c;
            let mut t = Text::new();
            format_value("%.0f", c, &mut t);
            let _ = self.store.set("battery.charge", t.as_str());
        }
        true
    }

    /// nutdrv_qx's battery set-up: guessed low and high voltages and the
    /// number of battery packs, from the nominal voltage.
    /// False when the unit gives both charge and runtime (nothing to do).
    pub(super) fn init_battery(&mut self) -> bool {
        if self.store.has("battery.charge") && self.store.has("battery.runtime") {
            return false;
        }
        let num = |qx: &Qx, v: &str| qx.store.get(v).map(strtod);
        if let Some(h) = num(self, "battery.voltage.high") {
            self.batt.high = h;
        }
        if let Some(l) = num(self, "battery.voltage.low") {
            self.batt.low = l;
        }
        if let Some(n) = num(self, "battery.voltage.nominal") {
            self.batt.nom = n;
        }
        let nom = self.batt.nom;
        if nom != -1.0 && (self.batt.low == -1.0 || self.batt.high == -1.0) {
            self.batt.low = 104.0 * nom / 120.0;
            self.batt.high = 130.0 * nom / 120.0;
            for (var, v) in [
                ("battery.voltage.low", self.batt.low),
                ("battery.voltage.high", self.batt.high),
            ] {
                let mut t = Text::new();
                format_value("%.2f", v, &mut t);
                let _ = self.store.set(var, t.as_str());
            }
        }
        let packs = self
            .store
            .get("battery.packs")
            .filter(|v| v.bytes().all(|c| b"0123456789 .".contains(&c)))
            .map(strtod);
        if let Some(p) = packs {
            self.batt.packs = p;
        } else if self.battery() && nom != -1.0 {
            let act = self.store.get("battery.voltage").map_or(0.0, strtod);
            const PACKS: [f64; 17] = [
                120.0, 100.0, 80.0, 60.0, 48.0, 36.0, 30.0, 24.0, 18.0, 12.0, 8.0, 6.0, 4.0, 3.0,
                2.0, 1.0, 0.5,
            ];
            for p in PACKS {
                if p * act > 1.2 * nom {
                    continue;
                }
                if p * act >= 0.8 * nom {
                    self.batt.packs = p;
                }
                break;
            }
        }
        self.battery();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::tests::Unit;
    use crate::qx::engine::QxOptions;

    #[test]
    fn runtimecal_estimates_runtime_as_nutdrv_qx() {
        let mut u = Unit::new("megatec");
        let opts = QxOptions {
            runtimecal: Some("240,100,720,50".into()),
            ..Default::default()
        };
        let mut qx = Qx::probe(&mut u, &opts).unwrap();
        qx.init(&mut u, 1000).unwrap();
        assert!(
            !qx.store.has("battery.runtime"),
            "first estimate at the first full poll"
        );
        qx.update(&mut u, 32_000).unwrap();
        assert_eq!(qx.store.get("battery.charge"), Some("37"));
        assert_eq!(qx.store.get("battery.runtime"), Some("877"));
        // On battery for 60 s at the idle load (10 %): 6 s of full-load
        // runtime gone, 60 s of runtime at this load.
        u.over.push((
            "Q1\r",
            b"(000.0 195.0 230.0 014 49.0 22.7 30.0 10000000\r".to_vec(),
        ));
        qx.update(&mut u, 92_000).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OB"));
        assert_eq!(qx.store.get("battery.runtime"), Some("817"));
        for (rc, msg) in [
            ("240,100", "runtimecal: four numbers expected: RH,LH,RL,LL"),
            (
                "240,100,720,50,1",
                "runtimecal: four numbers expected: RH,LH,RL,LL",
            ),
            (
                "240,x,720,50",
                "runtimecal: four numbers expected: RH,LH,RL,LL",
            ),
            ("720,100,240,50", "runtimecal: runtime out of range"),
            ("240,100,720,150", "runtimecal: load out of range"),
        ] {
            let mut u = Unit::new("megatec");
            let opts = QxOptions {
                runtimecal: Some(rc.into()),
                ..Default::default()
            };
            let mut qx = Qx::probe(&mut u, &opts).unwrap();
            assert_eq!(qx.init(&mut u, 0).unwrap_err().to_string(), msg);
        }
    }
}
