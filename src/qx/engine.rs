//! One Megatec/Q1 unit as nutdrv_qx drives it: probe its protocol, read
//! its table's items (full walks every `pollfreq`, quick status walks in
//! between), publish NUT variables, status words and alarms, run instant
//! commands and SET VAR, and the shutdown sequence of killpower.
//!
//! Pure: the unit is reached through a [`Link`] (one command, one answer)
//! and the time is passed in. After [`Qx::new`] a poll allocates nothing:
//! answers go to fixed buffers, values to [`Text`]s, the store is sized
//! at set-up.
//!
//! The work is split by responsibility, each file adding to `impl Qx`:
//! - this file: the unit's state ([`Qx`], its options, status bits,
//!   battery figures) and what needs no I/O;
//! - [`super::poll`]: probing for the protocol, the first read and the
//!   polls (full and quick walks), staleness;
//! - [`super::item`]: one table item: its query, the answer checks and
//!   the NUT value, status word or alarm it becomes;
//! - [`super::battery`]: battery charge and runtime estimates where the
//!   unit gives none;
//! - [`super::command`]: instant commands, SET VAR, ranges and killpower;
//! - [`super::answer`], [`super::error`], [`super::link`]: answer
//!   parsing, the error types, the I/O trait.

use super::answer::Answer;
use super::table::{flag, Protocol};
use crate::store::Store;
use crate::text::Text;

// Paths used by the rest of the crate.
pub use super::error::{CmdError, ProbeError, QxError, Snip};
pub use super::link::{Link, LinkError};

/// nutdrv_qx's tries for a shutdown command, and polls that may fail
/// before the data is called stale (the fifth failure makes it stale).
pub(super) const MAXTRIES: u32 = 3;
pub(super) const STALE_AFTER: u32 = MAXTRIES + 2;

/// nutdrv_qx options that change what is read or sent.
#[derive(Debug, Clone)]
pub struct QxOptions {
    /// `protocol =`: skip probing.
    pub protocol: Option<String>,
    pub novendor: bool,
    pub norating: bool,
    /// Ignore the "shutdown active" status bit.
    pub ignoresab: bool,
    /// `ondelay`/`offdelay` in seconds, as configured.
    pub ondelay: Option<String>,
    pub offdelay: Option<String>,
    /// killpower leaves the load off (`shutdown.stayoff`).
    pub stayoff: bool,
    /// Full walk period (NUT's `pollfreq`, 30 s).
    pub pollfreq_ms: u64,
    /// Runtime estimation (`runtimecal = RH,LH,RL,LL`: runtime in seconds
    /// at two loads in percent), `chargetime` (seconds from empty to
    /// full, 43200) and `idleload` (percent, 10), as configured.
    pub runtimecal: Option<String>,
    pub chargetime: Option<String>,
    pub idleload: Option<String>,
}

impl Default for QxOptions {
    fn default() -> Self {
        QxOptions {
            protocol: None,
            novendor: false,
            norating: false,
            ignoresab: false,
            ondelay: None,
            offdelay: None,
            stayoff: false,
            pollfreq_ms: 30_000,
            runtimecal: None,
            chargetime: None,
            idleload: None,
        }
    }
}

/// Status bits, in nutdrv_qx's order.
pub(super) mod sb {
    pub const OL: u16 = 1;
    pub const LB: u16 = 1 << 1;
    pub const RB: u16 = 1 << 2;
    pub const CHRG: u16 = 1 << 3;
    pub const DISCHRG: u16 = 1 << 4;
    pub const BYPASS: u16 = 1 << 5;
    pub const CAL: u16 = 1 << 6;
    pub const OFF: u16 = 1 << 7;
    pub const OVER: u16 = 1 << 8;
    pub const TRIM: u16 = 1 << 9;
    pub const BOOST: u16 = 1 << 10;
    pub const FSD: u16 = 1 << 11;
    pub const NAMES: [(&str, u16); 12] = [
        ("OL", OL),
        ("LB", LB),
        ("RB", RB),
        ("CHRG", CHRG),
        ("DISCHRG", DISCHRG),
        ("BYPASS", BYPASS),
        ("CAL", CAL),
        ("OFF", OFF),
        ("OVER", OVER),
        ("TRIM", TRIM),
        ("BOOST", BOOST),
        ("FSD", FSD),
    ];
    /// Order of the words in `ups.status` (after OL or OB).
    pub const PUBLISHED: [(&str, u16); 11] = [
        ("DISCHRG", DISCHRG),
        ("CHRG", CHRG),
        ("LB", LB),
        ("OVER", OVER),
        ("RB", RB),
        ("TRIM", TRIM),
        ("BOOST", BOOST),
        ("BYPASS", BYPASS),
        ("OFF", OFF),
        ("CAL", CAL),
        ("FSD", FSD),
    ];
}

/// Battery charge guessed from the battery voltage (nutdrv_qx's
/// "guesstimation"; runtime is not calculated without `runtimecal`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Batt {
    pub(super) packs: f64,
    pub(super) high: f64,
    pub(super) low: f64,
    pub(super) nom: f64,
    /// Charge found in this full walk (-1: none yet).
    pub(super) chrg: f64,
    /// With `runtimecal`: runtime read this walk (-1: none), nominal at
    /// full load, estimated remaining at full load, load exponent; the
    /// recharge time (s); idle load (fraction) and the effective load.
    pub(super) runt: f64,
    pub(super) runt_nom: f64,
    pub(super) runt_est: f64,
    pub(super) runt_exp: f64,
    pub(super) chrg_time: f64,
    pub(super) load_low: f64,
    pub(super) load_eff: f64,
    /// Time (ms) of the last estimate; `None` without `runtimecal`.
    pub(super) runt_at: Option<u64>,
}

/// One Megatec/Q1 unit.
pub struct Qx {
    pub proto: &'static Protocol,
    pub opts: QxOptions,
    pub store: Store,
    /// Commands advertised to clients.
    pub cmds: Vec<&'static str>,
    pub(super) skip: Vec<bool>,
    pub(super) status: u16,
    pub(super) alarm: Text,
    pub(super) alarm_active: bool,
    /// A command or SET ran since the last full walk.
    pub(super) changed: bool,
    pub(super) last_full: u64,
    pub(super) failures: u32,
    pub(super) batt: Batt,
    pub(super) cur: Answer,
    /// Command and answer of the previous item in this walk, reused by
    /// the next item with the same command.
    pub(super) prev: Answer,
    pub(super) prev_cmd: &'static str,
    /// Last problem with an item that did not fail the poll.
    pub last_error: Option<QxError>,
    /// BestUPS Patriot Pro units report the bypass/boost/buck bit inverted.
    pub(super) inverted_bbb: bool,
}

impl Qx {
    /// The published variables sorted by name, as `upsc` lists them.
    pub fn sorted_vars(&self) -> Vec<(String, String)> {
        self.store.sorted_pairs()
    }

    /// A unit spoken to with `proto`; nothing is read yet.
    pub fn new(proto: &'static Protocol, opts: QxOptions) -> Qx {
        Qx {
            proto,
            opts,
            store: Store::new(),
            cmds: Vec::with_capacity(proto.items.len()),
            skip: proto.items.iter().map(|it| it.has(flag::SKIP)).collect(),
            status: 0,
            alarm: Text::new(),
            alarm_active: false,
            changed: false,
            last_full: 0,
            failures: 0,
            batt: Batt {
                packs: 1.0,
                high: -1.0,
                low: -1.0,
                nom: -1.0,
                chrg: -1.0,
                runt: -1.0,
                runt_nom: -1.0,
                runt_est: 0.0,
                runt_exp: 0.0,
                chrg_time: 43200.0,
                load_low: 0.1,
                load_eff: 1.0,
                runt_at: None,
            },
            cur: Answer::new(),
            prev: Answer::new(),
            prev_cmd: "",
            last_error: None,
            inverted_bbb: false,
        }
    }

    /// What nutdrv_qx publishes about itself and the USB device: its
    /// name, the protocol's version, the USB ids.
    pub fn set_identity(&mut self, usb: Option<(u16, u16)>) {
        let _ = self.store.set("driver.name", "nutdrv_qx");
        let _ = self.store.set("driver.version.data", self.proto.version);
        if let Some((vid, pid)) = usb {
            let mut t = Text::new();
            let _ = t.set_fmt(format_args!("{vid:04x}"));
            let _ = self.store.set("ups.vendorid", t.as_str());
            let _ = t.set_fmt(format_args!("{pid:04x}"));
            let _ = self.store.set("ups.productid", t.as_str());
        }
    }

    pub(super) fn find(&self, var: &str, with: u16) -> Option<usize> {
        self.proto.items.iter().enumerate().position(|(i, it)| {
            it.var.eq_ignore_ascii_case(var) && it.flags & with == with && !self.skip[i]
        })
    }
}

/// A unit for the tests of every part of the engine.
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::qx::tables::{PROTOCOLS, SAMPLES};

    /// A unit answering from NUT's `testing` table of one protocol; other
    /// commands get no answer (as a Megatec unit) or an echo (as some
    /// bridges do).
    pub struct Unit {
        pub proto: &'static str,
        pub echo: bool,
        pub sent: Vec<String>,
        /// Replaces the table's answer to a command.
        pub over: Vec<(&'static str, Vec<u8>)>,
        pub gone: bool,
    }

    impl Unit {
        pub fn new(proto: &'static str) -> Unit {
            Unit {
                proto,
                echo: false,
                sent: vec![],
                over: vec![],
                gone: false,
            }
        }
    }

    impl Link for Unit {
        fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError> {
            if self.gone {
                return Err(LinkError::Gone);
            }
            let c = String::from_utf8_lossy(cmd).to_string();
            self.sent.push(c.clone());
            let a: Vec<u8> = if let Some((_, a)) = self.over.iter().find(|(k, _)| *k == c) {
                a.clone()
            } else if let Some((_, _, a)) =
                SAMPLES.iter().find(|(p, k, _)| *p == self.proto && *k == c)
            {
                a.to_vec()
            } else if self.echo {
                cmd.to_vec()
            } else {
                vec![]
            };
            let n = a.len().min(answer.len());
            answer[..n].copy_from_slice(&a[..n]);
            Ok(n)
        }
    }

    pub fn started(proto: &'static str) -> (Qx, Unit) {
        let mut u = Unit::new(proto);
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).expect("probe");
        qx.init(&mut u, 1000).expect("init");
        (qx, u)
    }

    #[test]
    fn random_answers_never_panic() {
        let mut seed = 0x1234_5678_u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for p in PROTOCOLS.iter() {
            let mut u = Unit::new("none");
            let mut qx = Qx::new(p, QxOptions::default());
            for round in 0..300u64 {
                let len = (rnd() % 60) as usize;
                let mut a: Vec<u8> = (0..len)
                    .map(|_| b"(#01. 9\rx\0"[(rnd() % 10) as usize])
                    .collect();
                if round % 3 == 0 && !a.is_empty() {
                    a[0] = b'(';
                }
                u.over = p.items.iter().map(|it| (it.command, a.clone())).collect();
                let _ = qx.init(&mut u, round * 40_000);
                let _ = qx.update(&mut u, round * 40_000 + 1);
                let _ = qx.instcmd("shutdown.return", None, &mut u);
            }
        }
    }
}
