//! Probing and polling: which protocol a unit speaks (each protocol in
//! nutdrv_qx's order claims the unit or not), the first read of every
//! item and the options that skip some, then the polls: a full walk of
//! the table every `pollfreq` or after a command, a quick status walk in
//! between, `ups.status` and `ups.alarm` built after each, and when the
//! data turns stale. One item's reading is [`super::item`]'s; the
//! battery estimates a full walk ends with are [`super::battery`]'s.

use super::engine::{sb, Qx, QxOptions, STALE_AFTER};
use super::error::{ProbeError, QxError, Snip};
use super::item::Set;
use super::link::{Link, LinkError};
use super::table::{flag, Claim, Protocol};
use super::tables::PROTOCOLS;
use crate::text::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Init,
    Quick,
    Full,
}

impl Qx {
    /// The protocol named by `protocol =` (case ignored, as NUT).
    pub fn protocol(name: &str) -> Option<&'static Protocol> {
        PROTOCOLS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Find the unit's protocol as nutdrv_qx does: each protocol in its
    /// order claims the unit or not (one try each; NUT tries three
    /// times). With `protocol =` only that one is tried.
    pub fn probe(io: &mut dyn Link, opts: &QxOptions) -> Result<Qx, ProbeError> {
        if let Some(p) = &opts.protocol {
            if Qx::protocol(p).is_none() {
                return Err(ProbeError::UnknownProtocol(p.clone()));
            }
        }
        let mut last = None;
        for p in PROTOCOLS.iter() {
            if opts
                .protocol
                .as_ref()
                .is_some_and(|n| !n.eq_ignore_ascii_case(p.name))
            {
                continue;
            }
            let mut qx = Qx::new(p, opts.clone());
            // NUT's driver core publishes this before any driver code.
            let _ = qx.store.set("device.type", "ups");
            match qx.claim(io) {
                Ok(()) => {
                    qx.initups();
                    return Ok(qx);
                }
                Err(QxError::Link(_, LinkError::Gone)) => return Err(ProbeError::Gone),
                Err(e) => last = Some(e),
            }
        }
        Err(ProbeError::NoProtocol(last))
    }

    fn claim(&mut self, io: &mut dyn Link) -> Result<(), QxError> {
        let mut get = |qx: &mut Qx, var: &str| -> Result<(), QxError> {
            let i = qx.find(var, 0).ok_or(QxError::Empty("item not in table"))?;
            qx.prev_cmd = "";
            qx.query(i, None, io)?;
            match qx.infoval(i)? {
                Set::Value => Ok(()),
                Set::Status => Err(QxError::Empty(qx.proto.items[i].var)),
            }
        };
        match self.proto.claim {
            Claim::Light => get(self, "input.voltage"),
            Claim::Full => {
                get(self, "input.voltage")?;
                if self.opts.novendor {
                    return Ok(());
                }
                get(self, "ups.firmware").map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
            Claim::VoltronicQs => {
                get(self, "ups.firmware.aux")?;
                get(self, "input.voltage").map_err(|e| {
                    self.store.delete("ups.firmware.aux");
                    e
                })
            }
            Claim::Bestups => {
                get(self, "input.voltage")?;
                get(self, "device.model").map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
            Claim::Mecer => {
                get(self, "input.voltage")?;
                let i = self
                    .find("ups.firmware.aux", 0)
                    .ok_or(QxError::Empty("ups.firmware.aux"))?;
                self.prev_cmd = "";
                let r = match self.query(i, None, io) {
                    // Refused with "(NAK": an (ACK/(NAK unit without QPI.
                    Err(QxError::Rejected(_)) => {
                        self.skip[i] = true;
                        Ok(())
                    }
                    Err(e) => Err(e),
                    Ok(()) => self.infoval(i).and_then(|s| match s {
                        Set::Value => Ok(()),
                        Set::Status => Err(QxError::Empty("ups.firmware.aux")),
                    }),
                };
                r.map_err(|e| {
                    self.store.delete("input.voltage");
                    e
                })
            }
        }
    }

    /// nutdrv_qx's blazer `initups`: options that skip items.
    fn initups(&mut self) {
        // q1 and voltronic-qs use the light variant: only `ignoresab`.
        let light = matches!(
            self.proto.name,
            "q1" | "voltronic-qs" | "voltronic-qs-hex" | "bestups"
        );
        for (i, it) in self.proto.items.iter().enumerate() {
            let c = it.command;
            if !light && self.opts.norating && c.eq_ignore_ascii_case("F\r") {
                self.skip[i] = true;
            }
            if !light
                && self.opts.novendor
                && (c.eq_ignore_ascii_case("I\r") || c.eq_ignore_ascii_case("FW?\r"))
            {
                self.skip[i] = true;
            }
            if self.opts.ignoresab && it.var == "ups.status" && it.from == 44 && it.to == 44 {
                self.skip[i] = true;
            }
        }
    }

    fn walk(&mut self, io: &mut dyn Link, mode: Walk, now: u64) -> Result<(), QxError> {
        if mode == Walk::Full {
            self.batt.chrg = -1.0;
            self.batt.runt = -1.0;
        }
        self.prev_cmd = "";
        self.prev.clear();
        for i in 0..self.proto.items.len() {
            if self.skip[i] {
                continue;
            }
            let it = &self.proto.items[i];
            match mode {
                Walk::Init => {
                    if it.has(flag::ABSENT) {
                        if !self.store.has(it.var) {
                            self.store
                                .set(it.var, it.dfl)
                                .map_err(|e| QxError::Store(it.var, e))?;
                            self.set_var(i);
                        }
                        continue;
                    }
                    let dup = it.var.starts_with("ups.alarm") || it.var.starts_with("ups.status");
                    if !dup && self.store.has(it.var) {
                        continue;
                    }
                }
                Walk::Quick => {
                    if !it.has(flag::QUICK_POLL) {
                        continue;
                    }
                }
                Walk::Full => {
                    if it.has(flag::ABSENT | flag::CMD | flag::SETVAR | flag::STATIC) {
                        continue;
                    }
                    if it.has(flag::SEMI_STATIC) && !self.changed {
                        continue;
                    }
                }
            }
            if it.has(flag::CMD) {
                if !self.cmds.contains(&it.var) {
                    self.cmds.push(it.var);
                }
                continue;
            }
            if it.has(flag::SETVAR) {
                continue;
            }
            let quick = it.has(flag::QUICK_POLL);
            if let Err(e) = self.query(i, None, io) {
                if quick || matches!(e, QxError::Link(_, LinkError::Gone)) {
                    return Err(e);
                }
                if mode == Walk::Init {
                    self.skip[i] = true;
                }
                self.last_error = Some(e);
                continue;
            }
            match self.infoval(i) {
                Err(e) if quick => return Err(e),
                Err(e) => self.last_error = Some(e),
                Ok(Set::Value) if mode == Walk::Init => self.set_var(i),
                Ok(_) => {}
            }
        }
        if mode == Walk::Full && (self.batt.runt == -1.0 || self.batt.chrg == -1.0) {
            if self.batt.runt_at.is_some() {
                self.estimate(now);
            } else {
                self.battery();
            }
        }
        Ok(())
    }

    /// First read of everything (nutdrv_qx's `initinfo`) and the first
    /// poll after it.
    pub fn init(&mut self, io: &mut dyn Link, now: u64) -> Result<(), QxError> {
        self.walk(io, Walk::Init, now)?;
        if self.init_battery() {
            self.init_runtime(now)?;
        }
        for (var, opt) in [
            ("ups.delay.start", self.opts.ondelay.clone()),
            ("ups.delay.shutdown", self.opts.offdelay.clone()),
        ] {
            if let (true, Some(v)) = (self.store.has(var), opt) {
                if self.setvar(var, &v, io).is_err() {
                    return Err(QxError::NotNumeric {
                        var: if var == "ups.delay.start" {
                            "ondelay"
                        } else {
                            "offdelay"
                        },
                        value: Snip::new(v.as_bytes()),
                    });
                }
            }
        }
        self.last_full = now;
        self.update(io, now)
    }

    /// One poll (nutdrv_qx's `updateinfo`): a full walk every `pollfreq`
    /// or after a command, else the quick status walk. On failure the
    /// previous values stay; [`Qx::stale`] says when to stop trusting them.
    pub fn update(&mut self, io: &mut dyn Link, now: u64) -> Result<(), QxError> {
        let full = now > self.last_full + self.opts.pollfreq_ms || self.changed;
        if full {
            self.status = 0;
            self.alarm.clear();
            self.alarm_active = false;
            if let Err(e) = self.walk(io, Walk::Full, now) {
                self.failures += 1;
                return Err(e);
            }
            self.last_full = now;
            self.changed = false;
            if self.status & sb::RB != 0 {
                self.alarm_set("Replace battery!");
            }
            if self.status & sb::FSD != 0 {
                self.alarm_set("Shutdown imminent!");
            }
            if self.alarm.is_empty() {
                self.store.delete("ups.alarm");
                self.alarm_active = false;
            } else {
                let a = self.alarm;
                let _ = self.store.set("ups.alarm", a.as_str());
                self.alarm_active = true;
            }
        } else if let Err(e) = self.walk(io, Walk::Quick, now) {
            self.failures += 1;
            return Err(e);
        }
        let mut t = Text::new();
        if self.alarm_active {
            let _ = t.push_str("ALARM ");
        }
        let _ = t.push_str(if self.status & sb::OL != 0 {
            "OL"
        } else {
            "OB"
        });
        for (w, bit) in sb::PUBLISHED {
            if self.status & bit != 0 {
                let _ = t.push_str(" ");
                let _ = t.push_str(w);
            }
        }
        self.store
            .set("ups.status", t.as_str())
            .map_err(|e| QxError::Store("ups.status", e))?;
        self.failures = 0;
        Ok(())
    }

    /// When the next poll is due after one at `now` (NUT's driver polls
    /// every 2 s; the walk itself decides full or quick).
    pub fn next_full(&self) -> u64 {
        self.last_full + self.opts.pollfreq_ms
    }

    /// Five polls in a row failed: the data is stale (nutdrv_qx).
    pub fn stale(&self) -> bool {
        self.failures >= STALE_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::tests::{started, Unit};

    #[test]
    fn probe_picks_the_protocol_nut_picks_for_each_sample_unit() {
        for (unit, want) in [
            ("megatec", "megatec"),
            ("megatec/old", "megatec/old"),
            ("mustek", "mustek"),
            ("voltronic-qs", "voltronic-qs"),
            ("mecer", "mecer"),
            ("q1", "q1"),
            ("zinto", "zinto"),
            // Hunnox units answer as zinto ones, which come first in
            // nutdrv_qx's order: NUT picks zinto too unless told.
            ("hunnox", "zinto"),
        ] {
            let mut u = Unit::new(unit);
            let qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
            assert_eq!(qx.proto.name, want, "unit {unit}, sent {:?}", u.sent);
        }
        let mut u = Unit::new("hunnox");
        let opts = QxOptions {
            protocol: Some("Hunnox".into()),
            ..Default::default()
        };
        assert_eq!(Qx::probe(&mut u, &opts).unwrap().proto.name, "hunnox");
        assert_eq!(u.sent, ["Q1\r", "FW?\r"]);
        // A bridge echoing unknown commands is not taken for an answer.
        let mut u = Unit::new("megatec");
        u.echo = true;
        assert_eq!(
            Qx::probe(&mut u, &QxOptions::default()).unwrap().proto.name,
            "megatec"
        );
        let mut u = Unit::new("none");
        assert!(matches!(
            Qx::probe(&mut u, &QxOptions::default()),
            Err(ProbeError::NoProtocol(Some(_)))
        ));
        let opts = QxOptions {
            protocol: Some("blazer".into()),
            ..Default::default()
        };
        assert_eq!(
            Qx::probe(&mut u, &opts).err(),
            Some(ProbeError::UnknownProtocol("blazer".into()))
        );
    }

    #[test]
    fn megatec_sample_publishes_what_nutdrv_qx_publishes() {
        let (qx, u) = started("megatec");
        let got = qx.sorted_vars();
        let want = [
            ("battery.charge", "37"),
            ("battery.voltage", "22.70"),
            ("battery.voltage.high", "26.00"),
            ("battery.voltage.low", "20.80"),
            ("battery.voltage.nominal", "24.0"),
            ("device.mfr", "NOT_A_LIVE_UPS"),
            ("device.model", "TESTING"),
            ("device.type", "ups"),
            ("input.current.nominal", "0.0"),
            ("input.frequency", "49.0"),
            ("input.frequency.nominal", "50"),
            ("input.voltage", "215.0"),
            ("input.voltage.fault", "195.0"),
            ("input.voltage.nominal", "230"),
            ("output.voltage", "230.0"),
            ("ups.beeper.status", "disabled"),
            ("ups.delay.shutdown", "30"),
            ("ups.delay.start", "180"),
            ("ups.firmware", "TESTING"),
            ("ups.load", "14"),
            ("ups.status", "OL"),
            ("ups.temperature", "30.0"),
            ("ups.type", "online"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(qx.store.is_rw("ups.delay.start") && !qx.store.is_rw("ups.load"));
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 0, 599940),
                ("ups.delay.shutdown", 12, 600)
            ]
        );
        assert_eq!(qx.cmds.len(), 10);
        // Probing sends what other protocols ask first (M twice, QS, D,
        // Q1 and ID, Q1 and QPI),
        // the claim Q1 and I; the first walk reads Q1, F and I once each
        // (items of one command share its answer); then the first poll.
        assert_eq!(
            u.sent,
            [
                "M\r", "M\r", "QS\r", "D\r", "Q1\r", "ID\r", "Q1\r", "QPI\r", "Q1\r", "I\r",
                "Q1\r", "F\r", "I\r", "Q1\r"
            ]
        );
    }

    #[test]
    fn malformed_answers_are_named_errors_and_stale_after_five() {
        let (mut qx, mut u) = started("megatec");
        let cases: [(&[u8], &str); 5] = [
            (
                b"(215.0 195.0\r",
                "Q1: answer of 13 bytes, at least 47 expected",
            ),
            (
                b"#215.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r",
                "Q1: answer starts with 0x23, '(' expected",
            ),
            (
                b"(215.0 195.0 230.0 014 49.0 22.7 30.0 0x000000\r",
                "status bit 39: 'x' is neither 0 nor 1",
            ),
            (b"", "Q1: answer of 0 bytes, at least 47 expected"),
            (
                b"(215.0 195.0 230.0 014 49.0 22.7 30.0 000\x00\x00\x00\x00\x00\r",
                "Q1: answer of 41 bytes, at least 47 expected",
            ),
        ];
        for (n, (a, msg)) in cases.iter().enumerate() {
            u.over = vec![("Q1\r", a.to_vec())];
            let e = qx.update(&mut u, 2000 + n as u64).unwrap_err();
            assert_eq!(e.to_string(), *msg);
            assert_eq!(qx.stale(), n == 4);
        }
        // A bad number in a non-status field is skipped, the poll goes on.
        u.over = vec![(
            "Q1\r",
            b"(2x5.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r".to_vec(),
        )];
        qx.update(&mut u, 3000).unwrap();
        assert!(!qx.stale());
        qx.update(&mut u, 40_000).unwrap();
        assert_eq!(
            qx.last_error.map(|e| e.to_string()),
            Some("input.voltage: '2x5.0' is not a number".into())
        );
        assert_eq!(
            qx.store.get("input.voltage"),
            Some("215.0"),
            "old value kept"
        );
        u.gone = true;
        assert_eq!(
            qx.update(&mut u, 41_000),
            Err(QxError::Link("Q1\r", LinkError::Gone))
        );
    }

    #[test]
    fn options_skip_items() {
        let mut u = Unit::new("megatec");
        let opts = QxOptions {
            norating: true,
            novendor: true,
            ignoresab: true,
            ..Default::default()
        };
        let mut qx = Qx::probe(&mut u, &opts).unwrap();
        qx.init(&mut u, 0).unwrap();
        assert_eq!(
            &u.sent[8..],
            ["Q1\r", "Q1\r", "Q1\r"],
            "claim, walk, poll: no I, no F"
        );
        assert!(!qx.store.has("device.mfr") && !qx.store.has("input.voltage.nominal"));
        u.over = vec![(
            "Q1\r",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 00000010\r".to_vec(),
        )];
        qx.update(&mut u, 1).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OL"));
    }
}
