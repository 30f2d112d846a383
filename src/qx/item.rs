//! One item of a protocol's table, as nutdrv_qx reads it: send its
//! command (or reuse the previous item's answer in a walk), check the
//! answer (refusal, length, leading byte), cut out the item's field and
//! turn it into a NUT value, a status word or an alarm (`ups_infoval_set`
//! and the protocols' conversion rules). Which items a walk reads and
//! when is [`super::poll`]'s business; the text conversions themselves
//! are in [`super::answer`].

use super::answer::{
    ascii_text, bestups_id, lossy, qs_hex, qs_hex_value, strtod, template, ANSWER_CAP,
    BESTUPS_VOLTAGES,
};
use super::engine::{sb, Qx};
use super::error::{QxError, Snip};
use super::link::Link;
use super::table::{flag, Pre, PreAnswer};
use crate::store::StoreError;
use crate::text::{atol, Text};
use crate::ups::engine::format_value;
use crate::ups::table::st;

/// What a processed value became.
pub(super) enum Set {
    /// A status word or alarm was noted (not a variable).
    Status,
    Value,
}

impl Qx {
    /// Send `cmd` (or the item's command) and check the answer; the value
    /// is then `self.value(i)`. Reuses the previous item's answer in a walk.
    pub(super) fn query(
        &mut self,
        i: usize,
        cmd: Option<&str>,
        io: &mut dyn Link,
    ) -> Result<(), QxError> {
        let it = &self.proto.items[i];
        let reuse = cmd.is_none()
            && !self.prev_cmd.is_empty()
            && !self.prev.cstr().is_empty()
            && self.prev_cmd.eq_ignore_ascii_case(it.command);
        if reuse {
            let n = self.prev.cstr().len();
            self.cur.buf[..n].copy_from_slice(&self.prev.buf[..n]);
            self.cur.len = n;
        } else {
            let bytes = cmd.unwrap_or(it.command).as_bytes();
            self.cur.buf.fill(0);
            let r = io.command(bytes, &mut self.cur.buf[..ANSWER_CAP - 1]);
            match r {
                Ok(n) => {
                    self.cur.len = n.min(ANSWER_CAP - 1);
                    let ok = match it.answer {
                        PreAnswer::QsHex => qs_hex(&mut self.cur),
                        PreAnswer::BestupsId => bestups_id(&mut self.cur),
                        PreAnswer::None => true,
                    };
                    if self.cur.len > 0 && !ok {
                        let got = Snip::new(&self.cur.buf[..self.cur.len]);
                        self.cur.clear();
                        return Err(QxError::Protocol {
                            var: if it.answer == PreAnswer::QsHex {
                                "QS answer"
                            } else {
                                "ID answer"
                            },
                            value: got,
                        });
                    }
                }
                Err(e) => {
                    self.cur.clear();
                    if cmd.is_none() {
                        self.remember(it.command);
                    }
                    return Err(QxError::Link(it.command, e));
                }
            }
        }
        if cmd.is_none() {
            self.remember(it.command);
        }
        self.check(i)
    }

    fn remember(&mut self, cmd: &'static str) {
        let n = self.cur.cstr().len();
        self.prev.buf[..n].copy_from_slice(&self.cur.buf[..n]);
        self.prev.len = n;
        self.prev_cmd = cmd;
    }

    /// nutdrv_qx's answer checks: refusal, length, leading byte.
    fn check(&self, i: usize) -> Result<(), QxError> {
        let it = &self.proto.items[i];
        let a = self.cur.cstr();
        let rej = self.proto.rejected.as_bytes();
        if !rej.is_empty() && a.eq_ignore_ascii_case(rej) {
            return Err(QxError::Rejected(it.command));
        }
        if it.answer_len > 0 && self.cur.len < it.answer_len as usize {
            return Err(QxError::Short {
                cmd: it.command,
                got: self.cur.len,
                want: it.answer_len,
            });
        }
        if it.leading != 0 && self.cur.buf[0] != it.leading {
            return Err(QxError::Leading {
                cmd: it.command,
                got: self.cur.buf[0],
                want: it.leading,
            });
        }
        Ok(())
    }

    /// The item's field of the current answer.
    pub(super) fn value(&self, i: usize) -> &[u8] {
        let it = &self.proto.items[i];
        let a = self.cur.cstr();
        let from = it.from as usize;
        if from >= a.len() {
            return &[];
        }
        let end = if it.to != 0 {
            (it.to as usize + 1).min(a.len())
        } else {
            a.iter().position(|&c| c == b'\r').unwrap_or(a.len())
        };
        if end < from {
            // A negative precision in NUT's printf: the rest of the string.
            return &a[from..];
        }
        &a[from..end]
    }

    /// nutdrv_qx's `ups_infoval_set`: turn the field into a NUT value,
    /// a status word or an alarm.
    pub(super) fn infoval(&mut self, i: usize) -> Result<Set, QxError> {
        let it = &self.proto.items[i];
        let raw = self.value(i);
        // The field as printable text, as most rules read it (once here,
        // not in each rule).
        let text = ascii_text(raw);
        let text = text.as_ref().map_err(|_| QxError::Empty(it.var));
        let mut value = Text::new();
        match it.pre {
            Pre::StatusBits => {
                let c = match raw {
                    [c @ (b'0' | b'1'), ..] => *c == b'1',
                    _ => {
                        return Err(QxError::StatusChar {
                            pos: it.from,
                            value: lossy(raw),
                        })
                    }
                };
                let word = self.status_bit(it.from, c)?;
                if it.var.starts_with("ups.status") {
                    if !word.is_empty() {
                        self.update_status(word);
                    }
                    return Ok(Set::Status);
                }
                if it.var.starts_with("ups.alarm") {
                    if !word.is_empty() {
                        self.alarm_set(word);
                    }
                    return Ok(Set::Status);
                }
                let _ = value.push_str(word);
            }
            Pre::VoltronicQsProtocol | Pre::P98Protocol => {
                let (want, shown) = if it.pre == Pre::P98Protocol {
                    ("PI98", "Voltronic Power P98")
                } else {
                    ("V", "")
                };
                if !raw.eq_ignore_ascii_case(want.as_bytes()) {
                    return Err(QxError::Protocol {
                        var: it.var,
                        value: lossy(raw),
                    });
                }
                let v = text?;
                let s = if shown.is_empty() { v.as_str() } else { shown };
                template(it.dfl, Some(s), None, &mut value)
                    .map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
            }
            Pre::QsHexProtocol => {
                let v = text?;
                let t = v.as_str();
                if !t.eq_ignore_ascii_case("P") && !t.eq_ignore_ascii_case("T") {
                    return Err(QxError::Protocol {
                        var: it.var,
                        value: lossy(raw),
                    });
                }
                template(it.dfl, Some(t), None, &mut value)
                    .map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
                if t.eq_ignore_ascii_case("T") {
                    // 'T' units also give ratings and a quick test.
                    for (j, other) in self.proto.items.iter().enumerate() {
                        if matches!(
                            other.var,
                            "test.battery.start.quick"
                                | "output.frequency.nominal"
                                | "battery.voltage.nominal"
                                | "output.voltage.nominal"
                        ) {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsBbb => {
                let mut c = match raw {
                    [c @ (b'0' | b'1'), ..] => *c == b'1',
                    _ => {
                        return Err(QxError::StatusChar {
                            pos: it.from,
                            value: lossy(raw),
                        })
                    }
                };
                // Not reliable off line, during a test or a shutdown.
                if self.status & sb::OL == 0 || self.status & (sb::CAL | sb::FSD) != 0 {
                    c = false;
                } else if self.inverted_bbb {
                    c = !c;
                }
                let word = self.status_bit(it.from, c)?;
                if !word.is_empty() {
                    self.update_status(word);
                }
                return Ok(Set::Status);
            }
            Pre::BestupsMfr | Pre::BestupsModel => {
                let code = text?;
                let c = code.as_str();
                let best = ["AX1", "FOR", "FTC", "PR2", "PRO"].contains(&c);
                if it.pre == Pre::BestupsMfr {
                    let m = if best {
                        "Best Power"
                    } else if ["325", "520", "620"].contains(&c) {
                        "Sola Australia"
                    } else {
                        "Unknown"
                    };
                    let _ = value.push_str(m);
                } else {
                    let _ = match c {
                        "AX1" => value.push_str("Axxium Rackmount"),
                        "FOR" => value.push_str("Fortress"),
                        "FTC" => value.push_str("Fortress Telecom"),
                        "PR2" => value.push_str("Patriot Pro II"),
                        "PRO" => value.push_str("Patriot Pro"),
                        "320" | "325" | "520" | "525" | "620" => {
                            value.set_fmt(format_args!("Sola {c}"))
                        }
                        // NUT prints a literal "Unknown (%s)" here (its
                        // format is "%s"): the code is what it meant.
                        _ => value.set_fmt(format_args!("Unknown ({c})")),
                    };
                    self.inverted_bbb = c == "PR2" || c == "PRO";
                    for (j, other) in self.proto.items.iter().enumerate() {
                        let runtime = other.var == "battery.runtime" && c != "PRO" && c != "320";
                        let packs = other.var == "battery.packs"
                            && !other.has(flag::SETVAR)
                            && (c == "AX1" || c == "620");
                        if runtime || packs {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsRuntime => {
                let text = text?;
                if !raw.iter().all(|c| b"0123456789 .".contains(c)) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                format_value(it.dfl, strtod(text.as_str()) * 60.0, &mut value);
            }
            Pre::BestupsPacks | Pre::BestupsPins => {
                let digits: &[u8] = if it.pre == Pre::BestupsPacks {
                    b"0123456789 "
                } else {
                    b"0123456789"
                };
                if !raw.iter().all(|c| digits.contains(c)) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let text = text?;
                let n = atol(text.as_str()).unwrap_or(0);
                let _ = value.set_fmt(format_args!("{n}"));
                if it.pre == Pre::BestupsPacks {
                    // The unit can set it too.
                    for (j, other) in self.proto.items.iter().enumerate() {
                        if other.var == "battery.packs" && other.has(flag::SETVAR) {
                            self.skip[j] = false;
                        }
                    }
                }
            }
            Pre::BestupsVoltage => {
                if !raw.iter().all(u8::is_ascii_digit) || raw.is_empty() {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let text = text?;
                let mut i = atol(text.as_str()).unwrap_or(-1);
                if !(0..=9).contains(&i) {
                    return Err(QxError::NotNumeric {
                        var: it.var,
                        value: Snip::new(raw),
                    });
                }
                let nominal = self
                    .store
                    .get("input.voltage.nominal")
                    .or_else(|| self.store.get("output.voltage.nominal"))
                    .ok_or(QxError::Empty("input.voltage.nominal"))?;
                if atol(nominal).unwrap_or(0) > 160 {
                    i += 10;
                }
                let row = BESTUPS_VOLTAGES[i as usize];
                let v = match it.var {
                    "input.transfer.low" | "input.transfer.boost.low" => row[0],
                    "input.transfer.boost.high" => row[1],
                    "input.voltage.nominal" | "output.voltage.nominal" => row[2],
                    "input.transfer.trim.low" => row[3],
                    _ => row[4],
                };
                let _ = value.set_fmt(format_args!("{v}"));
            }
            Pre::BestupsSetvar => return Err(QxError::Empty(it.var)),
            Pre::QsHexVoltage
            | Pre::QsHexLoad
            | Pre::QsHexFrequency
            | Pre::QsHexBatteryVoltage
            | Pre::QsHexRatings => {
                qs_hex_value(it, raw, text?, &mut value)?;
            }
            Pre::None | Pre::BlazerCommand | Pre::BlazerSetvar | Pre::MecerTestBattery => {
                let mut t = raw;
                if it.has(flag::TRIM) {
                    while let [b' ' | b'#', rest @ ..] = t {
                        t = rest;
                    }
                    while let [rest @ .., b' ' | b'#'] = t {
                        t = rest;
                    }
                }
                let text =
                    ascii_text(t).map_err(|_| QxError::Store(it.var, StoreError::TooLong))?;
                if it.dfl.eq_ignore_ascii_case("%s") {
                    value = text;
                } else {
                    if !t.iter().all(|c| b"0123456789 .".contains(c)) {
                        return Err(QxError::NotNumeric {
                            var: it.var,
                            value: Snip::new(text.as_str().as_bytes()),
                        });
                    }
                    if !format_value(it.dfl, strtod(text.as_str()), &mut value) {
                        return Err(QxError::NotNumeric {
                            var: it.var,
                            value: Snip::new(text.as_str().as_bytes()),
                        });
                    }
                }
            }
        }
        if it.has(flag::NONUT) {
            return Ok(Set::Value);
        }
        if value.is_empty() {
            return Err(QxError::Empty(it.var));
        }
        self.store
            .set(it.var, value.as_str())
            .map_err(|e| QxError::Store(it.var, e))?;
        if it.var == "battery.charge" {
            self.batt.chrg = atol(value.as_str()).unwrap_or(0) as f64;
        }
        Ok(Set::Value)
    }

    /// nutdrv_qx's blazer status bits (positions 38 to 45 of Q1).
    fn status_bit(&self, pos: u8, one: bool) -> Result<&'static str, QxError> {
        Ok(match (pos, one) {
            (38, true) => "!OL",
            (38, false) => "OL",
            (39, true) => "LB",
            (39, false) => "!LB",
            (40, false) => "",
            (40, true) => {
                let get = |v: &str| self.store.get(v).map_or(0.0, strtod);
                let (vi, vo) = (get("input.voltage"), get("output.voltage"));
                if vo < 0.5 * vi || vo >= 1.5 * vi {
                    let t = |v: &str| Snip::new(self.store.get(v).unwrap_or("").as_bytes());
                    return Err(QxError::VoltageRatio {
                        input: t("input.voltage"),
                        output: t("output.voltage"),
                    });
                }
                if vo < 0.95 * vi {
                    "TRIM"
                } else if vo < 1.05 * vi {
                    "BYPASS"
                } else {
                    "BOOST"
                }
            }
            (41, true) => "UPS selftest failed!",
            (41, false) => "",
            (42, true) => "offline / line interactive",
            (42, false) => "online",
            (43, true) => "CAL",
            (43, false) => "!CAL",
            (44, true) => "FSD",
            (44, false) => "!FSD",
            (45, true) => "enabled",
            (45, false) => "disabled",
            _ => {
                return Err(QxError::StatusChar {
                    pos,
                    value: Snip::default(),
                })
            }
        })
    }

    fn update_status(&mut self, word: &str) {
        let (clear, w) = match word.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, word),
        };
        if let Some(&(_, bit)) = sb::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)) {
            if clear {
                self.status &= !bit;
            } else {
                self.status |= bit;
            }
        }
    }

    pub(super) fn alarm_set(&mut self, text: &str) {
        // Overflow keeps what fits, as NUT's fixed buffer does.
        if !self.alarm.is_empty() {
            let _ = self.alarm.push_str(" ");
        }
        let _ = self.alarm.push_str(text);
    }

    /// Publish a server-side item's flags.
    pub(super) fn set_var(&mut self, i: usize) {
        let it = &self.proto.items[i];
        if !it.has(flag::NONUT) {
            self.store
                .set_meta(it.var, if it.rw { st::RW } else { 0 }, 0, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::tests::{started, Unit};
    use crate::qx::engine::QxOptions;
    use crate::qx::error::CmdError;
    use crate::qx::tables::SAMPLES;

    #[test]
    fn other_samples_publish_their_protocol_fields() {
        let (qx, _) = started("voltronic-qs");
        assert_eq!(qx.store.get("ups.firmware.aux"), Some("PM-V"));
        assert_eq!(qx.store.get("output.frequency"), Some("49.0"));
        assert_eq!(qx.store.get("output.voltage.nominal"), Some("220"));
        assert_eq!(qx.store.get("battery.voltage.nominal"), Some("12.0"));
        // 22.7 V on a 12 V nominal battery: two packs in series? No: NUT's
        // pack guess only divides, so 22.7 V > 1.2 * 12 keeps looking
        // down to 0.5 packs.
        assert_eq!(qx.store.get("battery.voltage.low"), Some("10.40"));
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 60, 599940),
                ("ups.delay.shutdown", 12, 540)
            ]
        );
        let (qx, _) = started("mecer");
        assert_eq!(
            qx.store.get("ups.firmware.aux"),
            Some("Voltronic Power P98")
        );
        let (qx, _) = started("q1");
        assert_eq!(qx.store.get("input.voltage"), Some("215.0"));
        assert!(!qx.store.has("device.mfr"));
    }

    #[test]
    fn voltronic_qs_hex_refines_its_binary_answer() {
        let (mut qx, mut u) = started("voltronic-qs-hex");
        assert_eq!(qx.proto.name, "voltronic-qs-hex");
        let got = qx.sorted_vars();
        let want = [
            ("battery.voltage", "13.53"),
            ("device.type", "ups"),
            ("input.voltage", "112.2"),
            ("output.frequency", "59.8"),
            ("output.voltage", "112.2"),
            ("ups.beeper.status", "enabled"),
            ("ups.delay.shutdown", "30"),
            ("ups.delay.start", "180"),
            ("ups.firmware.aux", "PM-P"),
            ("ups.load", "3"),
            ("ups.status", "OL"),
            ("ups.type", "offline / line interactive"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(qx.cmds.len(), 6, "no quick test on a 'P' unit");
        // "N\r" is the refusal.
        assert!(matches!(
            qx.instcmd("shutdown.stayoff", None, &mut u),
            Err(CmdError::Failed(QxError::Rejected(_)))
        ));
        // A 'T' unit: an eleventh token with the rating bits (50 Hz, 12 V,
        // 230 V), and the quick test.
        let mut u = Unit::new("voltronic-qs-hex");
        u.over.push(("M\r", b"T\r".to_vec()));
        let mut qs = SAMPLES
            .iter()
            .find(|(p, c, _)| *p == "voltronic-qs-hex" && *c == "QS\r")
            .unwrap()
            .2
            .to_vec();
        qs.pop();
        qs.extend_from_slice(b" \x0b\r");
        u.over.push(("QS\r", qs));
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
        qx.init(&mut u, 0).unwrap();
        for (k, v) in [
            ("ups.firmware.aux", "PM-T"),
            ("output.frequency.nominal", "50.0"),
            ("battery.voltage.nominal", "12.0"),
            ("output.voltage.nominal", "230.0"),
            ("battery.voltage.low", "10.40"),
            ("battery.charge", "100"),
        ] {
            assert_eq!(qx.store.get(k), Some(v), "{k}");
        }
        assert!(qx.cmds.contains(&"test.battery.start.quick"));
        // Too few tokens: refused, named.
        u.over = vec![("QS\r", b"#\x6C\x01 \x35\r".to_vec())];
        assert!(matches!(
            qx.update(&mut u, 1),
            Err(QxError::Protocol { .. })
        ));
    }

    #[test]
    fn status_bits_alarms_and_the_full_poll() {
        let (mut qx, mut u) = started("megatec");
        // On battery, low, self-test failed, test running, shutdown active.
        u.over.push((
            "Q1\r",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 11011110\r".to_vec(),
        ));
        qx.update(&mut u, 3000).unwrap();
        assert_eq!(qx.store.get("ups.status"), Some("OB LB CAL FSD"));
        assert!(!qx.store.has("ups.alarm"), "alarms wait for the full poll");
        assert_eq!(qx.store.get("ups.type"), Some("online"), "static");
        qx.update(&mut u, 32_000).unwrap();
        assert_eq!(
            qx.store.get("ups.alarm"),
            Some("UPS selftest failed! Shutdown imminent!")
        );
        assert_eq!(qx.store.get("ups.status"), Some("ALARM OB LB CAL FSD"));
        assert_eq!(qx.store.get("ups.beeper.status"), Some("disabled"));
        // Bypass/boost/buck by the output/input ratio.
        // (A quick poll reads the status only, so the ratio uses the
        // voltages of the last full poll, and the word stays until the next.)
        for (n, (out, word)) in ["230.0", "215.0", "200.0"]
            .iter()
            .zip(["BOOST", "BYPASS", "TRIM"])
            .enumerate()
        {
            let a = format!("(215.0 195.0 {out} 014 49.0 22.7 30.0 00100001\r");
            u.over = vec![("Q1\r", a.into_bytes())];
            qx.update(&mut u, 70_000 + 40_000 * n as u64).unwrap();
            assert_eq!(
                qx.store.get("ups.status"),
                Some(format!("OL {word}").as_str())
            );
            assert_eq!(qx.store.get("ups.beeper.status"), Some("enabled"));
            assert!(!qx.store.has("ups.alarm"));
        }
        // Output at twice the input: NUT fails the poll.
        u.over = vec![(
            "Q1\r",
            b"(115.0 195.0 230.0 014 49.0 22.7 30.0 00100000\r".to_vec(),
        )];
        assert!(matches!(
            qx.update(&mut u, 200_000),
            Err(QxError::VoltageRatio { .. })
        ));
    }

    #[test]
    fn bestups_sample_publishes_what_nutdrv_qx_publishes() {
        let (mut qx, mut u) = started("bestups");
        assert_eq!(qx.proto.name, "bestups");
        for (k, v) in [
            ("device.mfr", "Best Power"),
            ("device.model", "Fortress"),
            ("ups.power.nominal", "750"),
            ("input.voltage.nominal", "120"),
            ("battery.voltage.low", "20.0"),
            ("battery.voltage.high", "27.6"),
            ("battery.runtime", "900"),
            ("battery.charge", "36"),
            ("input.transfer.low", "96"),
            ("input.transfer.boost.high", "109"),
            ("input.transfer.trim.low", "130"),
            ("input.transfer.high", "146"),
            ("ups.status", "OL BOOST"),
            ("ups.type", "online"),
        ] {
            assert_eq!(qx.store.get(k), Some(v), "{k}");
        }
        assert!(!qx.store.has("battery.packs"), "Fortress units have no BP?");
        assert!(!qx.store.has("pins_shutdown_mode"), "not a NUT variable");
        assert_eq!(
            qx.ranges().collect::<Vec<_>>(),
            [
                ("ups.delay.start", 60, 599940),
                ("ups.delay.shutdown", 12, 5940)
            ]
        );
        // Off line the bypass/boost/buck bit is ignored.
        u.over.push((
            "Q1\r",
            b"(000.0 195.0 230.0 014 49.0 22.7 30.0 10100000\r".to_vec(),
        ));
        qx.update(&mut u, 40_000).unwrap(); // a full poll: a quick one keeps the last full one's words, as NUT
        assert_eq!(qx.store.get("ups.status"), Some("OB"));
        // An Axxium (AX1) has battery packs, settable 0 to 5.
        let mut u = Unit::new("bestups");
        u.over
            .push(("ID\r", b"AX1,1500,120,120,20.0,27.6\r".to_vec()));
        let mut qx = Qx::probe(&mut u, &QxOptions::default()).unwrap();
        qx.init(&mut u, 0).unwrap();
        assert_eq!(qx.store.get("ups.power.nominal"), Some("1500"));
        assert_eq!(qx.store.get("battery.packs"), Some("2"));
        assert!(qx.store.is_rw("battery.packs"));
        u.sent.clear();
        qx.setvar("battery.packs", "1", &mut u).unwrap();
        assert_eq!(u.sent, ["BP1\r"]);
        assert!(qx.setvar("battery.packs", "7", &mut u).is_err());
    }
}
