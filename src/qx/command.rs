//! What a client asks the unit to do: instant commands (with
//! nutdrv_qx's delay encoding of the Megatec shutdown and test commands),
//! SET VAR on the writable variables and their ranges for `LIST RANGE`,
//! and killpower's shutdown sequence. A command that went through makes
//! the next poll a full one ([`super::poll`]).

use super::answer::{lossy, strtod, template};
use super::engine::{Qx, MAXTRIES};
use super::error::{CmdError, QxError};
use super::link::Link;
use super::table::{flag, Item, Pre};
use crate::text::{atol, Fixed, Text};
use core::fmt::Write;

impl Qx {
    /// Ranges of writable variables, for `LIST RANGE`.
    pub fn ranges(&self) -> impl Iterator<Item = (&'static str, i64, i64)> + '_ {
        self.proto
            .items
            .iter()
            .enumerate()
            // As nutdrv_qx publishes them: a read item's, or a
            // server-side one's (a SET rule's own range only checks).
            .filter(|(i, it)| {
                it.has(flag::RANGE)
                    && (!it.has(flag::SETVAR) || it.has(flag::ABSENT))
                    && !self.skip[*i]
                    && self.store.has(it.var)
            })
            .flat_map(|(_, it)| it.ranges.iter().map(|&(a, b)| (it.var, a, b)))
    }

    /// Send the command's bytes; on success `self.cur` holds the answer.
    fn send(&mut self, i: usize, cmd: &str, io: &mut dyn Link) -> Result<(), CmdError> {
        let it = &self.proto.items[i];
        self.query(i, Some(cmd), io).map_err(CmdError::Failed)?;
        let v = self.value(i);
        let accepted = self.proto.accepted.as_bytes();
        if !v.is_empty() && (accepted.is_empty() || !v.eq_ignore_ascii_case(accepted)) {
            return Err(CmdError::Refused(lossy(v)));
        }
        let _ = it;
        self.changed = true;
        Ok(())
    }

    /// Run an instant command (`extra`: INSTCMD's value, e.g. a battery
    /// test's seconds).
    pub fn instcmd(
        &mut self,
        name: &str,
        extra: Option<&str>,
        io: &mut dyn Link,
    ) -> Result<(), CmdError> {
        let i = self.find(name, flag::CMD).ok_or(CmdError::Unknown)?;
        let it = self.proto.items[i];
        let value = extra.unwrap_or(it.dfl);
        let mut cmd = Text::new();
        match it.pre {
            Pre::BlazerCommand => self.blazer_command(&it, value, &mut cmd)?,
            Pre::MecerTestBattery => self.mecer_test(&it, value, &mut cmd)?,
            _ => cmd
                .push_str(it.command)
                .map_err(|_| CmdError::BadValue("command too long"))?,
        }
        self.send(i, cmd.as_str(), io)
    }

    /// nutdrv_qx's delay encoding of Megatec shutdown and test commands:
    /// `Sn` with n in minutes (`.2`..`.9` for tenths below one), `Rmmmm`
    /// minutes until the load comes back, `Tnn` minutes of test.
    fn blazer_command(&self, it: &Item, value: &str, out: &mut Text) -> Result<(), CmdError> {
        let delay = |v: &str| self.store.get(v).and_then(atol).unwrap_or(0);
        let neg = CmdError::BadValue("ups.delay.shutdown is negative");
        let mut buf = Text::new();
        let short = |t: &mut Text, off: i64| {
            if off < 60 {
                write!(t, ".{}", off / 6)
            } else {
                write!(t, "{:02}", off / 60)
            }
        };
        match it.var {
            "shutdown.return" => {
                let off = delay("ups.delay.shutdown");
                let on = delay("ups.delay.start") / 60;
                if off < 0 {
                    return Err(neg);
                }
                let r = if on <= 0 {
                    short(&mut buf, off)
                } else if off < 60 {
                    write!(buf, ".{}R{:04}", off / 6, on)
                } else {
                    write!(buf, "{:02}R{:04}", off / 60, on)
                };
                r.map_err(|_| CmdError::BadValue("delay too long"))?;
                template(it.command, Some(buf.as_str()), None, out)
            }
            "shutdown.stayoff" => {
                let off = delay("ups.delay.shutdown");
                if off < 0 {
                    return Err(neg);
                }
                short(&mut buf, off).map_err(|_| CmdError::BadValue("delay too long"))?;
                template(it.command, Some(buf.as_str()), None, out)
            }
            "test.battery.start" => {
                let d = if value.is_empty() {
                    600
                } else {
                    atol(value).unwrap_or(0)
                };
                if !(60..=5940).contains(&d) {
                    return Err(CmdError::BadValue(
                        "battery test time out of range [60..5940] seconds",
                    ));
                }
                template(it.command, None, Some(d / 60), out)
            }
            _ => Err(CmdError::Unknown),
        }
    }

    fn mecer_test(&self, it: &Item, value: &str, out: &mut Text) -> Result<(), CmdError> {
        let p98 = self
            .store
            .get("ups.firmware.aux")
            .is_some_and(|p| p.eq_ignore_ascii_case("Voltronic Power P98"));
        let min = if p98 { 12 } else { 60 };
        if !value.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CmdError::BadValue("battery test time is not a number"));
        }
        let t = if value.is_empty() {
            600
        } else {
            atol(value).unwrap_or(0)
        };
        if t < min || t > 5940 {
            return Err(CmdError::BadValue("battery test time out of range"));
        }
        let mut buf = Text::new();
        let _ = if t < 60 {
            write!(buf, ".{}", t / 6)
        } else {
            write!(buf, "{:02}", t / 60)
        };
        template(it.command, Some(buf.as_str()), None, out)
    }

    /// SET VAR: check the value against the item's range, bring it to a
    /// settable step and store it (the delays are server-side values).
    pub fn setvar(&mut self, name: &str, val: &str, io: &mut dyn Link) -> Result<(), CmdError> {
        let i = self.find(name, flag::SETVAR).ok_or(CmdError::Unknown)?;
        let it = self.proto.items[i];
        if val.is_empty() {
            return Err(CmdError::BadValue("no value given"));
        }
        if self
            .store
            .get(it.var)
            .is_some_and(|v| v.eq_ignore_ascii_case(val))
        {
            return Ok(());
        }
        if it.has(flag::RANGE) {
            if !val.bytes().all(|c| b"0123456789 .".contains(&c)) {
                return Err(CmdError::BadValue("not a number"));
            }
            let v = atol(val).unwrap_or(0);
            if !it.ranges.iter().any(|&(lo, hi)| lo <= v && v <= hi) {
                return Err(CmdError::BadValue("value out of range"));
            }
        }
        let mut value = Text::new();
        value
            .push_str(val)
            .map_err(|_| CmdError::BadValue("value too long"))?;
        if it.pre == Pre::BlazerSetvar {
            let mut n = atol(val).unwrap_or(0);
            if n < 0 {
                return Err(CmdError::BadValue("delay is negative"));
            }
            if it.var == "ups.delay.start" {
                n -= n % 60;
            } else if n < 60 {
                n -= n % 6;
            } else {
                n -= n % 60;
            }
            let _ = value.set_fmt(format_args!("{n}"));
        }
        if it.has(flag::ABSENT) {
            return self
                .store
                .set(it.var, value.as_str())
                .map(|_| ())
                .map_err(|e| CmdError::Failed(QxError::Store(it.var, e)));
        }
        let mut c = Text::new();
        if it.pre == Pre::BestupsSetvar {
            // `BP%.0f\r`: the value as a whole number.
            let at = it.command.find("%.0f").ok_or(CmdError::Unknown)?;
            let v = strtod(value.as_str());
            c.set_fmt(format_args!(
                "{}{}{}",
                &it.command[..at],
                Fixed(v, 0),
                &it.command[at + 4..]
            ))
            .map_err(|_| CmdError::BadValue("value too long"))?;
        } else {
            let cmd = if it.pre == Pre::None {
                it.command
            } else {
                value.as_str()
            };
            c.push_str(cmd)
                .map_err(|_| CmdError::BadValue("value too long"))?;
        }
        self.send(i, c.as_str(), io)
    }

    /// nutdrv_qx's `shutdown`: delays from the options, a pending
    /// shutdown cancelled, then `shutdown.return` (or `shutdown.stayoff`)
    /// tried up to three times.
    pub fn shutdown(&mut self, io: &mut dyn Link) -> Result<(), CmdError> {
        for (var, opt) in [
            ("ups.delay.start", self.opts.ondelay.clone()),
            ("ups.delay.shutdown", self.opts.offdelay.clone()),
        ] {
            let i = self.find(var, 0).ok_or(CmdError::Unknown)?;
            let dfl = self.proto.items[i].dfl;
            self.store
                .set(var, dfl)
                .map_err(|e| CmdError::Failed(QxError::Store(var, e)))?;
            self.set_var(i);
            if let Some(v) = opt {
                self.setvar(var, &v, io)?;
            }
        }
        if self.find("shutdown.stop", flag::CMD).is_some() {
            for _ in 0..MAXTRIES {
                if self.instcmd("shutdown.stop", None, io).is_ok() {
                    break;
                }
            }
        }
        let cmd = if self.opts.stayoff {
            "shutdown.stayoff"
        } else {
            "shutdown.return"
        };
        let mut last = CmdError::Unknown;
        for _ in 0..MAXTRIES {
            match self.instcmd(cmd, None, io) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::tests::started;
    use crate::qx::error::Snip;

    #[test]
    fn commands_use_nuts_delay_encoding() {
        let (mut qx, mut u) = started("megatec");
        u.sent.clear();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        qx.instcmd("shutdown.stayoff", None, &mut u).unwrap();
        qx.instcmd("test.battery.start", Some("120"), &mut u)
            .unwrap();
        qx.instcmd("test.battery.start", None, &mut u).unwrap();
        qx.instcmd("beeper.toggle", None, &mut u).unwrap();
        qx.setvar("ups.delay.shutdown", "125", &mut u).unwrap();
        assert_eq!(qx.store.get("ups.delay.shutdown"), Some("120"));
        qx.setvar("ups.delay.start", "0", &mut u).unwrap();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        qx.setvar("ups.delay.shutdown", "40", &mut u).unwrap();
        qx.setvar("ups.delay.start", "61", &mut u).unwrap();
        qx.instcmd("shutdown.return", None, &mut u).unwrap();
        assert_eq!(
            u.sent,
            [
                "S.5R0003\r",
                "S.5R0000\r",
                "T02\r",
                "T10\r",
                "Q\r",
                "S02\r",
                "S.6R0001\r"
            ]
        );
        assert_eq!(qx.store.get("ups.delay.start"), Some("60"));
        assert_eq!(
            qx.setvar("ups.delay.shutdown", "601", &mut u),
            Err(CmdError::BadValue("value out of range"))
        );
        assert_eq!(
            qx.setvar("ups.delay.shutdown", "-5", &mut u),
            Err(CmdError::BadValue("not a number"))
        );
        assert!(qx
            .instcmd("test.battery.start", Some("30"), &mut u)
            .is_err());
        assert_eq!(
            qx.instcmd("outlet.1.off", None, &mut u),
            Err(CmdError::Unknown)
        );
        // A bridge echoing the command back: refused.
        u.echo = true;
        assert_eq!(
            qx.instcmd("load.off", None, &mut u),
            Err(CmdError::Refused(Snip::new(b"S00R0000")))
        );
        // A command changes data: the next poll is a full one.
        u.echo = false;
        u.sent.clear();
        qx.instcmd("beeper.toggle", None, &mut u).unwrap();
        qx.update(&mut u, 2000).unwrap();
        assert!(!qx.changed);
    }

    #[test]
    fn mecer_commands_need_ack() {
        let (mut qx, mut u) = started("mecer");
        assert_eq!(qx.instcmd("beeper.toggle", None, &mut u), Ok(()));
        assert!(matches!(
            qx.instcmd("load.on", None, &mut u),
            Err(CmdError::Failed(QxError::Rejected(_)))
        ));
        // P98 units take tests from 12 s, in tenths of minutes.
        u.sent.clear();
        let _ = qx.instcmd("test.battery.start", Some("18"), &mut u);
        assert_eq!(u.sent, ["T.3\r"]);
    }

    #[test]
    fn killpower_sequence() {
        let (mut qx, mut u) = started("megatec");
        qx.opts.offdelay = Some("90".into());
        u.sent.clear();
        qx.shutdown(&mut u).unwrap();
        assert_eq!(u.sent, ["C\r", "S01R0003\r"]);
        qx.opts.stayoff = true;
        u.sent.clear();
        qx.shutdown(&mut u).unwrap();
        assert_eq!(u.sent, ["C\r", "S01R0000\r"]);
        // The shutdown echoed back every time: three tries, then the refusal.
        u.echo = true;
        u.sent.clear();
        assert!(matches!(qx.shutdown(&mut u), Err(CmdError::Refused(_))));
        assert_eq!(u.sent, ["C\r", "S01R0000\r", "S01R0000\r", "S01R0000\r"]);
    }
}
