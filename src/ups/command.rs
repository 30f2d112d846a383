//! Instant commands as plans: which mapping entries to write, with which
//! values, in which order, and where NUT pauses between writes. Planning
//! is pure; the device layer runs the steps (it owns the clock, so it does
//! the 125 ms pause) through [`Ups::run_step`].
//!
//! Rules as usbhid-ups: `beeper.on`/`beeper.off` mean `beeper.enable` and
//! `beeper.disable`; a table entry wins; otherwise `load.on`/`load.off`
//! run the delayed commands with 0, and `shutdown.return` /
//! `shutdown.stayoff` are composed of `ups.start.auto`, `load.on.delay`,
//! a pause and `load.off.delay`.
//!
//! Read first: `docs/design/hid-decoding.md` §7.

use super::engine::Ups;

use super::transport::{Transport, WriteError};
use crate::text::Text;

/// One step of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write `value` (NUT text) through mapping entry `entry`.
    Write { entry: u16, value: Text },
    /// Set a writable variable (`ups.start.auto`).
    SetVar {
        name: &'static str,
        value: &'static str,
    },
    /// Wait before the next step.
    PauseMs(u16),
}

/// At most four steps (the composite shutdowns use four).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    steps: [Option<Step>; 4],
}

impl Plan {
    fn push(&mut self, s: Step) {
        if let Some(slot) = self.steps.iter_mut().find(|s| s.is_none()) {
            *slot = Some(s);
        }
    }
    pub fn steps(&self) -> impl Iterator<Item = Step> + '_ {
        self.steps.iter().flatten().copied()
    }
}

/// Why a command cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdError {
    /// The device has no such command.
    Unknown,
    /// The command needs a value and none was given.
    NeedsValue,
    /// The value does not fit a text buffer.
    BadValue,
}

impl CmdError {
    /// How the log names it (its `Debug` spelling, without `Debug`'s
    /// machinery in the binary).
    pub fn name(self) -> &'static str {
        match self {
            CmdError::Unknown => "Unknown",
            CmdError::NeedsValue => "NeedsValue",
            CmdError::BadValue => "BadValue",
        }
    }
}

const START_PAUSE_MS: u16 = 125;

impl Ups {
    /// Commands this device offers: table entries whose report could be
    /// read at start, plus the ones composed from them.
    pub fn advertise_commands(&mut self) {
        let has = |u: &Ups, n| u.entry(n, true).is_some();
        let (off, on) = (has(self, "load.off.delay"), has(self, "load.on.delay"));
        for (ok, name) in [
            (off, "load.off"),
            (on, "load.on"),
            (off && on, "shutdown.return"),
            (off && on, "shutdown.stayoff"),
        ] {
            if ok && !self.cmds.contains(&name) {
                self.cmds.push(name);
            }
        }
    }

    /// Plan command `name` with an optional argument.
    pub fn plan_command(&self, name: &str, arg: Option<&str>) -> Result<Plan, CmdError> {
        let name = match name {
            "beeper.on" => "beeper.enable",
            "beeper.off" => "beeper.disable",
            n => n,
        };
        let mut plan = Plan::default();
        if let Some(i) = self.entry(name, true) {
            let value = arg.or(self.sub.map[i].fmt()).ok_or(CmdError::NeedsValue)?;
            plan.push(self.write_step(i, value)?);
            return Ok(plan);
        }
        let delayed = |n: &str, v: &str| -> Result<Step, CmdError> {
            let i = self.entry(n, true).ok_or(CmdError::Unknown)?;
            self.write_step(i, v)
        };
        match name {
            "load.on" => plan.push(delayed("load.on.delay", arg.unwrap_or("0"))?),
            "load.off" => plan.push(delayed("load.off.delay", arg.unwrap_or("0"))?),
            "shutdown.return" | "shutdown.stayoff" => {
                let stay = name == "shutdown.stayoff";
                if self.store.has("ups.start.auto") {
                    plan.push(Step::SetVar {
                        name: "ups.start.auto",
                        value: if stay { "no" } else { "yes" },
                    });
                }
                let start = if stay {
                    "-1"
                } else {
                    self.delay("ups.delay.start", "load.on.delay")
                };
                plan.push(delayed("load.on.delay", start)?);
                plan.push(Step::PauseMs(START_PAUSE_MS));
                plan.push(delayed(
                    "load.off.delay",
                    self.delay("ups.delay.shutdown", "load.off.delay"),
                )?);
            }
            _ => return Err(CmdError::Unknown),
        }
        Ok(plan)
    }

    /// The published delay, else the command entry's default.
    fn delay(&self, var: &str, cmd: &str) -> &str {
        self.store
            .get(var)
            .or_else(|| self.entry(cmd, true).and_then(|i| self.sub.map[i].fmt()))
            .unwrap_or("0")
    }

    fn write_step(&self, i: usize, value: &str) -> Result<Step, CmdError> {
        let value = Text::try_new(value).ok_or(CmdError::BadValue)?;
        Ok(Step::Write {
            entry: i as u16,
            value,
        })
    }

    /// Run one step (the caller waits for `PauseMs`).
    pub fn run_step(
        &mut self,
        step: Step,
        io: &mut dyn Transport,
        now: u64,
    ) -> Result<(), WriteError> {
        match step {
            Step::Write { entry, value } => {
                self.write_entry(entry as usize, value.as_str(), io, now)
            }
            Step::SetVar { name, value } => self.setvar(name, value, io, now),
            Step::PauseMs(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::decode;
    use crate::recording::Recording;
    use crate::ups::options::Options;
    use std::path::Path;

    #[test]
    fn error_names_are_the_debug_spelling() {
        for e in [CmdError::Unknown, CmdError::NeedsValue, CmdError::BadValue] {
            assert_eq!(e.name(), format!("{e:?}"));
        }
    }

    fn load(name: &str) -> (Ups, crate::recording::Replay) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        decode::decode(&Recording::load(&dir).unwrap(), Options::default()).unwrap()
    }

    fn apc() -> (Ups, crate::recording::Replay) {
        load("apc-back-ups-bk650m2-ch")
    }

    #[test]
    fn shutdown_return_is_composed_and_writes_the_delays_in_order() {
        let (mut ups, mut io) = load("cps-or2200lcdrt2u");
        assert!(ups.cmds.contains(&"shutdown.return"));
        let plan = ups.plan_command("shutdown.return", None).unwrap();
        let steps: Vec<_> = plan.steps().collect();
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert_eq!(steps[1], Step::PauseMs(125));
        let on = ups.entry("load.on.delay", true).unwrap();
        let off = ups.entry("load.off.delay", true).unwrap();
        let start = Text::try_new("120").unwrap();
        let stop = Text::try_new("60").unwrap();
        assert_eq!(
            steps[0],
            Step::Write {
                entry: on as u16,
                value: start
            }
        );
        assert_eq!(
            steps[2],
            Step::Write {
                entry: off as u16,
                value: stop
            }
        );
        for s in steps {
            ups.run_step(s, &mut io, 100_000).unwrap();
        }
        // DelayBeforeStartup then DelayBeforeShutdown, each patched into
        // its own cached report; they read back as the timers.
        assert_eq!(io.writes.len(), 2);
        let f_on = ups.bound_field(on).unwrap().report_id;
        assert_eq!(io.writes[0][0], f_on);
        let t = ups.next_full() + 10;
        ups.update(&mut io, t);
        assert_eq!(ups.store.get("ups.timer.start"), Some("120"));
        assert_eq!(ups.store.get("ups.timer.shutdown"), Some("60"));
    }

    #[test]
    fn cyberpower_delays_that_are_not_whole_minutes_are_warned_about() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cps-or2200lcdrt2u");
        let opts = Options {
            offdelay: Some("45".into()),
            ondelay: Some("180".into()),
            ..Options::default()
        };
        let (ups, _) = decode::decode(&Recording::load(&dir).unwrap(), opts).unwrap();
        assert_eq!(
            ups.option_warnings(),
            ["offdelay = 45: CyberPower units count whole minutes and will use 0 s"]
        );
        assert_eq!(ups.store.get("ups.delay.shutdown"), Some("45"));
        assert_eq!(ups.store.get("ups.delay.start"), Some("180"));
        assert!(apc().0.option_warnings().is_empty());
    }

    #[test]
    fn overrides_win_and_defaults_only_fill_in() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apc-back-ups-bk650m2-ch");
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        let opts = Options {
            overrides: vec![kv("battery.charge.low", "33"), kv("ups.mfr", "Local name")],
            defaults: vec![kv("ups.location", "rack 3"), kv("battery.charge", "1")],
            ..Options::default()
        };
        let (mut ups, mut io) = decode::decode(&Recording::load(&dir).unwrap(), opts).unwrap();
        let t = ups.next_full() + 10;
        ups.update(&mut io, t);
        assert_eq!(ups.store.get("battery.charge.low"), Some("33"));
        assert_eq!(ups.store.get("ups.mfr"), Some("Local name"));
        assert_eq!(ups.store.get("ups.location"), Some("rack 3"));
        assert_eq!(ups.store.get("battery.charge"), Some("100"));
    }

    #[test]
    fn table_commands_setvar_and_errors() {
        let (mut ups, mut io) = apc();
        let p = ups.plan_command("beeper.off", None).unwrap();
        for s in p.steps() {
            ups.run_step(s, &mut io, 1).unwrap();
        }
        let last = io.writes.last().unwrap();
        assert_eq!(last[1], 1, "beeper.disable writes 1: {last:02x?}");
        assert_eq!(
            ups.plan_command("no.such.command", None),
            Err(CmdError::Unknown)
        );
        // battery.charge.low is writable: 40 % reaches the device and reads back.
        ups.setvar("battery.charge.low", "40", &mut io, 2).unwrap();
        let w = io.writes.last().unwrap().clone();
        assert!(w[1..].contains(&40), "{w:02x?}");
        let t = ups.next_full() + 10;
        ups.update(&mut io, t);
        assert_eq!(ups.store.get("battery.charge.low"), Some("40"));
        assert_eq!(
            ups.setvar("battery.charge", "5", &mut io, 3),
            Err(WriteError::ReadOnly)
        );
    }
}
