//! The engine: one UPS's parsed descriptor bound to a subdriver's mapping
//! table, turning reports into NUT variables the way usbhid-ups does.
//!
//! Pure apart from the [`Transport`] it is handed (a recording, a
//! simulated UPS, or the hidraw worker) and the time passed in by the
//! caller. After [`Ups::new`] nothing on the decoding path allocates:
//! report buffers, bindings and the variable store are sized at set-up.
//!
//! Read first: `docs/design/hid-decoding.md` §4 (walks, first entry wins, events).

use super::conv::{ConvEnv, ConvState};
use super::generic;
use super::options::{BindError, Identity, Options};
use super::path;
use super::quirks;
use super::select;
use super::status;
use super::table::{hu, st, MapEntry, Subdriver};
use super::transport::{IoError, Transport, WriteError};
use crate::hid::{report, Descriptor, Field, ReportType};
use crate::store::{EnumRows, Store};
use crate::text::{atol, write_fixed, Text};

/// Which entries a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Init,
    Quick,
    Full,
}

/// What happened to a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkResult {
    Ok,
    /// The device went away mid-walk, or nothing at all could be read.
    Reconnect,
}

/// Per-entry binding, made once (NUT keeps it for the life of the driver).
#[derive(Debug, Clone, Copy, Default)]
struct Bind {
    field: Option<u16>,
    /// Another entry already published this name at INIT.
    disabled: bool,
}

/// One cached report per id, shared by all kinds (NUT's layout).
#[derive(Debug, Clone)]
struct Cache {
    buf: Vec<u8>,
    /// (start, len incl. id byte) per report id; len 0 = unused.
    span: [(u32, u16); 256],
    /// Time (ms) each report was last filled; `None` = never or invalidated.
    stamp: [Option<u64>; 256],
    /// Filled at least once, by a read or an interrupt report.
    read: [bool; 256],
}

impl Cache {
    fn new(desc: &Descriptor) -> Cache {
        let mut span = [(0u32, 0u16); 256];
        let mut used = [false; 256];
        for f in desc.fields() {
            used[f.report_id as usize] = true;
        }
        let mut total = 0usize;
        for id in 0..=255u8 {
            let n = desc.report_len_any(id);
            // Every id a field names gets at least its id byte, even when
            // its fields are 0 bits wide.
            if n > 0 || used[id as usize] {
                span[id as usize] = (total as u32, (n + 1) as u16);
                total += n + 1;
            }
        }
        let mut buf = vec![0u8; total];
        for (id, &(start, len)) in span.iter().enumerate() {
            if len > 0 {
                buf[start as usize] = id as u8;
            }
        }
        Cache {
            buf,
            span,
            stamp: [None; 256],
            read: [false; 256],
        }
    }

    fn get(&self, id: u8) -> &[u8] {
        let (s, n) = self.span[id as usize];
        &self.buf[s as usize..s as usize + n as usize]
    }

    fn get_mut(&mut self, id: u8) -> &mut [u8] {
        let (s, n) = self.span[id as usize];
        &mut self.buf[s as usize..s as usize + n as usize]
    }

    fn fresh(&self, id: u8, now: u64, age: u64) -> bool {
        self.stamp[id as usize].is_some_and(|t| t + age > now)
    }
}

/// One UPS.
pub struct Ups {
    pub desc: Descriptor,
    pub sub: &'static Subdriver,
    pub ident: Identity,
    pub opts: Options,
    binds: Vec<Bind>,
    pub store: Store,
    /// Commands advertised to clients.
    pub cmds: Vec<&'static str>,
    bits: u32,
    /// Alarm texts from mapping entries during the current full walk.
    alarm: Text,
    alarm_active: bool,
    conv: ConvState,
    cache: Cache,
    /// A write succeeded since the last full walk.
    written: bool,
    last_full: Option<u64>,
    /// Interrupt reports are used (not `pollonly`).
    pub interrupt_pipe: bool,
    prev_charge: Option<i64>,
    /// Buzzwords conversion functions added during this update.
    buzz: Text,
    /// A write a conversion function asked for (run after it returns).
    deferred: Option<(Text, Text)>,
    /// Reports the last walk read successfully.
    walk_reads: u32,
    /// The last INIT or FULL walk read something from the device.
    full_answered: bool,
    /// An interrupt report arrived since the device was opened.
    inputs_seen: bool,
    /// Generic table only: each entry's capacity basis as of the last
    /// INIT or FULL walk (quick polls and interrupt reports reuse it).
    basis: Vec<Option<generic::Basis>>,
}

impl Ups {
    /// What [`Ups::new`] does before binding the mapping entries: parse
    /// and check the descriptor, choose the subdriver, apply its
    /// descriptor fix-ups. Enough for a simulated device, which needs the
    /// fields and the usage tables but no bindings (the worker binds).
    pub fn prepare(
        descriptor: &[u8],
        ident: &Identity,
        opts: &Options,
    ) -> Result<(Descriptor, select::Choice), BindError> {
        let mut desc = Descriptor::parse(descriptor).map_err(BindError::Descriptor)?;
        if !desc.is_power_device() {
            return Err(BindError::NotPowerDevice {
                first_application: desc.applications().first().copied(),
            });
        }
        let choice = select::choose(ident, opts)?;
        if !opts.no_fixups {
            quirks::fix_descriptor(choice.sub.key, ident.vid, ident.pid, &mut desc);
        }
        Ok((desc, choice))
    }

    /// Parse and check a descriptor, choose the subdriver, apply its
    /// descriptor fix-ups and bind every mapping entry.
    pub fn new(descriptor: &[u8], ident: Identity, opts: Options) -> Result<Ups, BindError> {
        let (desc, choice) = Ups::prepare(descriptor, &ident, &opts)?;
        let sub = choice.sub;
        let kind = if opts.interruptonly {
            ReportType::Input
        } else {
            ReportType::Feature
        };
        let binds = sub
            .map
            .iter()
            .map(|e| {
                let p = path::resolve(e.path(), sub.usages);
                let found = p.as_ref().and_then(|p| desc.find(kind, p.nodes()));
                // The generic table also takes a value the device sends
                // only in an interrupt report (5131:2007's status bits).
                let input_only = || match &p {
                    Some(p) if generic::is(sub) && !e.is_cmd() => {
                        desc.find(ReportType::Input, p.nodes())
                    }
                    _ => None,
                };
                Bind {
                    field: found.or_else(input_only).map(|i| i as u16),
                    disabled: false,
                }
            })
            .collect();
        let cache = Cache::new(&desc);
        let interrupt_pipe = !opts.pollonly && !choice.pollonly;
        let mut opts = opts;
        opts.interruptonly |= choice.interruptonly;
        if opts.pollinterval_ms == 0 {
            opts.pollinterval_ms = 2000;
        }
        if opts.pollfreq_ms == 0 {
            opts.pollfreq_ms = if sub.key == "cps" { 12_000 } else { 30_000 };
        }
        Ok(Ups {
            desc,
            sub,
            ident,
            opts,
            binds,
            store: Store::new(),
            cmds: Vec::with_capacity(64),
            bits: 0,
            alarm: Text::new(),
            alarm_active: false,
            conv: ConvState::default(),
            cache,
            written: false,
            last_full: None,
            interrupt_pipe,
            prev_charge: None,
            buzz: Text::new(),
            deferred: None,
            walk_reads: 0,
            full_answered: false,
            inputs_seen: false,
            basis: vec![None; if generic::is(sub) { sub.map.len() } else { 0 }],
        })
    }

    /// How many values the last walk read from the device (0: it answered
    /// nothing, whatever the walk's result).
    pub fn walk_reads(&self) -> u32 {
        self.walk_reads
    }

    /// Status bits as decoded so far.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Publish identity, run the INIT walk and commit the status.
    pub fn init(&mut self, io: &mut dyn Transport, now: u64) -> WalkResult {
        self.publish_identity(io);
        // Published before the walk, so the walk leaves these names alone
        // (NUT disables mapping entries whose variable already exists).
        for (k, v) in &self.opts.overrides {
            let _ = self.store.set(k, v);
        }
        let r = self.walk(Walk::Init, io, now);
        // Unlike NUT, which publishes them before the walk too (so they
        // override as well), defaults only fill in what the device lacks.
        for (k, v) in &self.opts.defaults {
            if !self.store.has(k) {
                let _ = self.store.set(k, v);
            }
        }
        self.advertise_commands();
        self.apply_overrides();
        self.commit(false);
        self.last_full = Some(now);
        r
    }

    /// One scheduled update: a FULL walk when due (or after a write),
    /// else a QUICK one; then commit status (and alarms after a full walk).
    pub fn update(&mut self, io: &mut dyn Transport, now: u64) -> WalkResult {
        let full = self.written
            || self
                .last_full
                .map_or(true, |t| now > t + self.opts.pollfreq_ms);
        let r = self.walk(if full { Walk::Full } else { Walk::Quick }, io, now);
        if full {
            self.last_full = Some(now);
            self.written = false;
        }
        self.commit(full);
        r
    }

    /// Make the next update a FULL walk (after a reconnect: a unit whose
    /// quick polls go unanswered would otherwise wait a whole `pollfreq`
    /// for one).
    pub fn request_full(&mut self) {
        self.last_full = None;
    }

    /// When the next full walk is due (ms).
    pub fn next_full(&self) -> u64 {
        self.last_full.unwrap_or(0) + self.opts.pollfreq_ms
    }

    /// Whether an input report as read fits the descriptor: its report
    /// id is known and its length is the declared one. `Err` says what is
    /// wrong, for a log line; [`Ups::on_input`] copes either way (a short
    /// report's missing bytes keep their last values, a long one is cut).
    pub fn check_input(&self, report: &[u8]) -> Result<(), String> {
        let (id, data) = if self.desc.uses_report_ids {
            match report.split_first() {
                Some((&id, rest)) => (id, rest),
                None => return Err("an empty input report".into()),
            }
        } else {
            (0, report)
        };
        let want = self.desc.report_len(id, ReportType::Input);
        if want == 0 {
            return Err(format!(
                "input report id {id} ({} bytes): the descriptor has no such input report",
                report.len()
            ));
        }
        if data.len() != want {
            return Err(format!(
                "input report id {id}: {} data bytes where the descriptor says {want}",
                data.len()
            ));
        }
        Ok(())
    }

    /// Decode an interrupt (Input) report as it arrives, then commit the
    /// status so a power cut shows at once. Returns how many fields of the
    /// report fed a mapping entry.
    pub fn on_input(&mut self, report: &[u8], io: &mut dyn Transport, now: u64) -> usize {
        let (id, data) = if self.desc.uses_report_ids {
            match report.split_first() {
                Some((&id, rest)) => (id, rest),
                None => return 0,
            }
        } else {
            (0, report)
        };
        let expected = self.desc.report_len_any(id);
        if expected == 0 {
            return 0;
        }
        self.inputs_seen = true;
        let n = data.len().min(expected);
        let buf = self.cache.get_mut(id);
        buf[1..1 + n].copy_from_slice(&data[..n]);
        self.cache.stamp[id as usize] = Some(now);
        self.cache.read[id as usize] = true;
        let mut fed = 0;
        for fi in 0..self.desc.fields().len() {
            let f = self.desc.fields()[fi];
            if f.kind != ReportType::Input || f.report_id != id {
                continue;
            }
            // The Feature twin with the same path carries the mapping.
            let target = self
                .desc
                .find(ReportType::Feature, f.path.nodes())
                .unwrap_or(fi);
            // First non-ABSENT, non-command entry bound there (NUT would
            // also feed a command entry and publish a bogus variable).
            let entry = self.sub.map.iter().zip(&self.binds).position(|(e, b)| {
                b.field == Some(target as u16) && !b.disabled && !e.is_absent() && !e.is_cmd()
            });
            if let Some(ei) = entry {
                if self.feed(ei, &f, io, now, Walk::Quick) {
                    fed += 1;
                }
            }
        }
        if fed > 0 {
            self.commit(false);
        }
        fed
    }

    fn walk(&mut self, mode: Walk, io: &mut dyn Transport, now: u64) -> WalkResult {
        let (mut tried, mut ok) = (0u32, 0u32);
        // A request went unanswered for the kernel's whole timeout.
        let mut hung = false;
        self.buzz.clear();
        if mode == Walk::Full {
            self.alarm.clear();
        }
        for i in 0..self.sub.map.len() {
            let e = &self.sub.map[i];
            let b = self.binds[i];
            let Some(fi) = b.field else { continue };
            if b.disabled {
                continue;
            }
            if e.is_absent() {
                if mode == Walk::Init && !self.store.has(e.name()) {
                    let _ = self.store.set(e.name(), e.fmt().unwrap_or(""));
                    self.store.set_meta(e.name(), e.st, e.len, None);
                }
                continue;
            }
            let f = self.desc.fields()[fi as usize];
            // Bound to an Input-only field: interrupt reports feed it; a
            // GET_REPORT would answer the Feature layout of that id.
            if f.kind == ReportType::Input && !self.opts.interruptonly {
                continue;
            }
            if e.is_cmd() {
                if mode == Walk::Init
                    && self.refresh(f.report_id, io, now).is_ok()
                    && !self.cmds.contains(&e.name())
                {
                    self.cmds.push(e.name());
                }
                continue;
            }
            let special = e.is_bool() || e.is_alarm();
            match mode {
                Walk::Init => {
                    if !special && self.store.has(e.name()) {
                        self.binds[i].disabled = true;
                        continue;
                    }
                }
                Walk::Quick => {
                    if e.hu & hu::QUICK_POLL == 0 {
                        continue;
                    }
                }
                Walk::Full => {
                    if e.hu & hu::STATIC != 0 && self.interrupt_pipe {
                        continue;
                    }
                    if e.hu & hu::SEMI_STATIC != 0 && self.interrupt_pipe && !self.written {
                        continue;
                    }
                }
            }
            tried += 1;
            match self.refresh(f.report_id, io, now) {
                Ok(()) => {}
                Err(IoError::Skip) => continue,
                Err(IoError::Timeout) => {
                    hung = true;
                    break;
                }
                Err(IoError::Gone) => return WalkResult::Reconnect,
            }
            ok += 1;
            self.feed(i, &f, io, now, mode);
        }
        self.walk_reads = ok;
        if mode != Walk::Init && tried > 0 && ok == 0 {
            // Some units answer GET_REPORT for part of their reports only
            // and send their status on the interrupt pipe: a quick poll
            // whose requests were refused (a stall, an error: answers all
            // the same) is no lost device while the last full walk was
            // answered and interrupt reports come (the next full walk
            // decides). A request left unanswered past the kernel's
            // timeout is a hung unit, not a refusal: it is lost at once,
            // so that clients see its data stale (a success here would
            // count as a fresh update). `interruptonly` stays the explicit
            // setting.
            if mode == Walk::Quick && !hung && self.full_answered && self.inputs_seen {
                return WalkResult::Ok;
            }
            return WalkResult::Reconnect;
        }
        if mode != Walk::Quick {
            self.full_answered = ok > 0;
        }
        WalkResult::Ok
    }

    /// Make sure report `id` is in the cache and fresh.
    fn refresh(&mut self, id: u8, io: &mut dyn Transport, now: u64) -> Result<(), IoError> {
        if self.opts.interruptonly || self.cache.fresh(id, now, self.opts.pollinterval_ms) {
            return Ok(());
        }
        let buf = self.cache.get_mut(id);
        buf[0] = id;
        // A short answer is used as it is; the rest keeps older bytes.
        io.get_feature(buf)?;
        buf[0] = id;
        self.cache.stamp[id as usize] = Some(now);
        self.cache.read[id as usize] = true;
        Ok(())
    }

    /// Read field `f` (bound to entry `i`, or its Input twin) from the
    /// cache and publish it. Returns whether anything was published or fed
    /// to the status.
    fn feed(&mut self, i: usize, f: &Field, io: &mut dyn Transport, now: u64, mode: Walk) -> bool {
        let Some(v) = report::get_value(self.cache.get(f.report_id), f) else {
            return false;
        };
        if !generic::is(self.sub) {
            return self.process(i, v, io, now, mode);
        }
        if generic::not_available(self.cache.get(f.report_id), f) {
            self.store.delete(self.sub.map[i].name());
            return false;
        }
        let kind = generic::adjustment(f.path.last().unwrap_or(0));
        if kind == generic::Adjustment::Capacity && (mode != Walk::Quick || self.basis[i].is_none())
        {
            self.basis[i] = Some(self.capacity_basis(f, io, now));
        }
        let basis = self.basis[i].unwrap_or(generic::Basis::None);
        match generic::adjust(kind, v, f.unit, basis) {
            Some(v) => self.process(i, v, io, now, mode),
            None => {
                self.store.delete(self.sub.map[i].name());
                false
            }
        }
    }

    /// Generic table: how the capacity in field `f` counts, from the
    /// CapacityMode, FullChargeCapacity and DesignCapacity Feature fields
    /// of its collection.
    fn capacity_basis(&mut self, f: &Field, io: &mut dyn Transport, now: u64) -> generic::Basis {
        let mut sibling = |usage: u32, scaled: bool| -> Option<f64> {
            let mut p = f.path;
            p.pop();
            p.push(usage).ok()?;
            let s = self.desc.fields()[self.desc.find(ReportType::Feature, p.nodes())?];
            self.refresh(s.report_id, io, now).ok()?;
            let buf = self.cache.get(s.report_id);
            if generic::not_available(buf, &s) {
                return None;
            }
            if scaled {
                report::get_value(buf, &s)
            } else {
                report::get(buf, &s).map(|l| l as f64)
            }
        };
        let mode = sibling(generic::usage::CAPACITY_MODE, false).map(|m| m as i64);
        let full = sibling(generic::usage::FULL_CHARGE_CAPACITY, true);
        let design = sibling(generic::usage::DESIGN_CAPACITY, true);
        generic::basis(mode, f.unit, full, design)
    }

    /// Convert and publish one value for entry `i`. Returns whether
    /// anything was published or fed to the status.
    fn process(
        &mut self,
        i: usize,
        value: f64,
        io: &mut dyn Transport,
        now: u64,
        mode: Walk,
    ) -> bool {
        let e: &'static MapEntry = &self.sub.map[i];
        let mut out = Text::new();
        let converted = match e.lookup() {
            Some(l) => match l.fun {
                Some(func) => {
                    let mut env = Ctx {
                        ups: self,
                        io: &mut *io,
                        now,
                    };
                    let r = func.forward(value, &mut env, &mut out);
                    if let Some((name, v)) = self.deferred.take() {
                        let _ = self.setvar(name.as_str(), v.as_str(), io, now);
                    }
                    r
                }
                None => match l.rows.iter().find(|r| i64::from(r.0) == value as i64) {
                    Some(r) => out.push_str(r.1.get()).is_ok(),
                    None => false,
                },
            },
            None => format_value(e.fmt().unwrap_or("%.0f"), value, &mut out),
        };
        if !converted {
            return false;
        }
        if e.is_bool() {
            status::apply_token(&mut self.bits, out.as_str());
        } else if e.is_alarm() {
            if !self.alarm.is_empty() {
                let _ = self.alarm.push_str(" ");
            }
            let _ = self.alarm.push_str(out.as_str());
        } else {
            if self.store.set(e.name(), out.as_str()).is_err() {
                return false;
            }
            if mode == Walk::Init || !self.interrupt_pipe {
                let rw_enum = e.hu & hu::ENUM != 0 && e.st & st::RW != 0;
                let enums = if rw_enum { e.lookup() } else { None };
                self.store
                    .set_meta(e.name(), e.st, e.len, enums.map(|l| l as EnumRows));
            }
        }
        true
    }

    /// Warnings about the options for this device, for the log at start:
    /// CyberPower firmware counts delays in whole minutes, rounding down.
    pub fn option_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.sub.key != "cps" {
            return w;
        }
        for (name, v) in [
            ("ondelay", &self.opts.ondelay),
            ("offdelay", &self.opts.offdelay),
        ] {
            if let Some(secs) = v.as_deref().and_then(atol) {
                if secs % 60 != 0 {
                    w.push(format!(
                        "{name} = {secs}: CyberPower units count whole minutes and will use {} s",
                        secs / 60 * 60
                    ));
                }
            }
        }
        w
    }

    /// `lowbatt`, `ondelay`, `offdelay` replace published values.
    fn apply_overrides(&mut self) {
        let o = [
            ("battery.charge.low", &self.opts.lowbatt),
            ("ups.delay.start", &self.opts.ondelay),
            ("ups.delay.shutdown", &self.opts.offdelay),
        ];
        for (name, v) in o {
            if let Some(v) = v {
                if self.store.has(name) {
                    let _ = self.store.set(name, v);
                }
            }
        }
    }

    /// Turn the status bits into `ups.status` (and, after a full walk,
    /// `ups.alarm`).
    fn commit(&mut self, full: bool) {
        let charge = self.store.get("battery.charge").and_then(atol);
        let mut words = status::words(self.bits, self.opts.onlinedischarge, charge);
        // A battery.charge trend implies charging or discharging when the
        // UPS says neither (NUT's generic status commit).
        if let (Some(c), Some(p)) = (charge, self.prev_charge) {
            if c != p && (0..100).contains(&c) && p >= 0 {
                let rising = c > p;
                if !words.has("CHRG") && !words.has("DISCHRG") {
                    words.add(if rising { "CHRG" } else { "DISCHRG" });
                } else if words.has("DISCHRG") && rising {
                    words.add("CHRG");
                } else if words.has("CHRG") && !rising {
                    words.add("DISCHRG");
                }
            }
        }
        self.prev_charge = charge;
        if full {
            let mut alarm = self.alarm;
            status::alarms(self.bits, &mut alarm);
            self.alarm_active = !alarm.is_empty();
            if alarm.is_empty() {
                self.store.delete("ups.alarm");
            } else {
                let _ = self.store.set("ups.alarm", alarm.as_str());
            }
        }
        let mut text = Text::new();
        status::render(&words, self.alarm_active, &mut text);
        let _ = self.store.set("ups.status", text.as_str());
        match status::transfer_reason(self.bits) {
            Some(r) => {
                let _ = self.store.set("input.transfer.reason", r);
            }
            None => {
                self.store.delete("input.transfer.reason");
            }
        }
        let mut buzz = self.buzz;
        if let Some(b) = status::buzzwords(self.bits) {
            if !buzz.is_empty() {
                let _ = buzz.push_str(" ");
            }
            let _ = buzz.push_str(b);
        }
        if buzz.is_empty() {
            self.store.delete("experimental.ups.mode.buzzwords");
        } else {
            let _ = self
                .store
                .set("experimental.ups.mode.buzzwords", buzz.as_str());
        }
    }

    /// Read the scaled value at a NUT path (first Feature field under it).
    pub fn read_path(&mut self, p: &str, io: &mut dyn Transport, now: u64) -> Option<f64> {
        let path = path::resolve(p, self.sub.usages)?;
        let fi = self.desc.find(ReportType::Feature, path.nodes())?;
        let f = self.desc.fields()[fi];
        self.refresh(f.report_id, io, now).ok()?;
        report::get_value(self.cache.get(f.report_id), &f)
    }

    /// Whether report `id` was ever read or received: until then its
    /// cached bytes are zeros, not the device's.
    pub fn was_read(&self, id: u8) -> bool {
        self.cache.read[id as usize]
    }

    /// Raw cached bytes of a report (for `--explore` and tests).
    pub fn report(&self, id: u8) -> &[u8] {
        self.cache.get(id)
    }

    /// Fill a report into the cache without a transport (recordings).
    pub fn load_report(&mut self, id: u8, io: &mut dyn Transport, now: u64) -> Result<(), IoError> {
        self.refresh(id, io, now)
    }

    /// The conversion functions' sticky state (model family, scales).
    pub fn conv_state(&mut self) -> &mut ConvState {
        &mut self.conv
    }

    /// Write `value` (NUT text) to the field bound to entry `i`: convert,
    /// patch the cached report and send it. Invalidates the cache.
    pub fn write_entry(
        &mut self,
        i: usize,
        value: &str,
        io: &mut dyn Transport,
        now: u64,
    ) -> Result<(), WriteError> {
        let e: &'static MapEntry = &self.sub.map[i];
        let fi = self.binds[i].field.ok_or(WriteError::NotSupported)? as usize;
        let f = self.desc.fields()[fi];
        if f.flags & 0xFF == 0x01 {
            return Err(WriteError::ReadOnly);
        }
        let raw: f64 = match e.lookup() {
            Some(l) => match l.nuf {
                Some(func) => {
                    let mut env = Ctx { ups: self, io, now };
                    func.reverse(value, &mut env).ok_or(WriteError::BadValue)? as f64
                }
                None if l.fun.is_some() => return Err(WriteError::BadValue),
                None => {
                    l.rows
                        .iter()
                        .find(|r| r.1.get() == value)
                        .ok_or(WriteError::BadValue)?
                        .0 as f64
                }
            },
            None => atol(value).ok_or(WriteError::BadValue)? as f64,
        };
        let raw = if generic::is(self.sub)
            && generic::adjustment(f.path.last().unwrap_or(0)) == generic::Adjustment::Capacity
        {
            let basis = match self.basis[i] {
                Some(b) => b,
                None => self.capacity_basis(&f, io, now),
            };
            generic::from_percent(raw, basis).ok_or(WriteError::NotSupported)?
        } else {
            raw
        };
        let logical = report::to_logical(&f, raw);
        let _ = self.refresh(f.report_id, io, now);
        let buf = self.cache.get_mut(f.report_id);
        buf[0] = f.report_id;
        if !report::put(buf, &f, logical) {
            return Err(WriteError::NotSupported);
        }
        let buf = self.cache.get(f.report_id);
        io.set_feature(buf).map_err(WriteError::Io)?;
        self.cache.stamp = [None; 256];
        self.written = true;
        Ok(())
    }

    /// NUT's setvar: the first bound entry with that name must be
    /// writable; ABSENT entries only change the published value.
    pub fn setvar(
        &mut self,
        name: &str,
        value: &str,
        io: &mut dyn Transport,
        now: u64,
    ) -> Result<(), WriteError> {
        let i = self.entry(name, false).ok_or(WriteError::NotSupported)?;
        let e = &self.sub.map[i];
        if e.st & st::RW == 0 {
            return Err(WriteError::ReadOnly);
        }
        if e.is_absent() {
            self.store
                .set(name, value)
                .map_err(|_| WriteError::BadValue)?;
            return Ok(());
        }
        self.write_entry(i, value, io, now)?;
        self.read_back(i, io, now);
        Ok(())
    }

    /// Read a just-written variable from the device at once, so that
    /// clients see what the UPS took (`upsrw` reads back right after a
    /// write) rather than the old value until the next poll.
    fn read_back(&mut self, i: usize, io: &mut dyn Transport, now: u64) {
        let Some(fi) = self.binds[i].field else {
            return;
        };
        let f = self.desc.fields()[fi as usize];
        let e = &self.sub.map[i];
        if e.is_bool() || e.is_alarm() || self.refresh(f.report_id, io, now).is_err() {
            return;
        }
        self.feed(i, &f, io, now, Walk::Quick);
    }

    /// The field mapping entry `i` is bound to, if its path resolved.
    pub fn bound_field(&self, i: usize) -> Option<&crate::hid::Field> {
        self.binds
            .get(i)?
            .field
            .map(|f| &self.desc.fields()[f as usize])
    }

    /// Index of the first bound, enabled entry with this name.
    pub fn entry(&self, name: &str, cmd: bool) -> Option<usize> {
        self.sub
            .map
            .iter()
            .zip(&self.binds)
            .position(|(e, b)| e.name() == name && e.is_cmd() == cmd && b.field.is_some())
    }
}

/// The conversion functions' view of a device.
struct Ctx<'a> {
    ups: &'a mut Ups,
    io: &'a mut dyn Transport,
    now: u64,
}

impl ConvEnv for Ctx<'_> {
    fn vid_pid(&self) -> (u16, u16) {
        (self.ups.ident.vid, self.ups.ident.pid)
    }
    fn var(&self, name: &str) -> Option<&str> {
        self.ups.store.get(name)
    }
    fn set_var(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => {
                let _ = self.ups.store.set(name, v);
            }
            None => {
                self.ups.store.delete(name);
            }
        }
    }
    fn usb_string(&mut self, index: u8, out: &mut Text) -> bool {
        self.io.string(index, out)
    }
    fn read_path(&mut self, path: &str) -> Option<f64> {
        self.ups.read_path(path, self.io, self.now)
    }
    fn feature_report(&mut self, id: u8) -> Option<&[u8]> {
        if self.ups.desc.report_len_any(id) == 0 {
            return None;
        }
        // These functions want the report as it is now, not as cached.
        self.ups.cache.stamp[id as usize] = None;
        self.ups.refresh(id, self.io, self.now).ok()?;
        Some(self.ups.cache.get(id))
    }
    fn state(&mut self) -> &mut ConvState {
        &mut self.ups.conv
    }
    fn cached_report(&mut self, id: u8) -> Option<&[u8]> {
        (self.ups.desc.report_len_any(id) > 0).then(|| self.ups.cache.get(id))
    }
    fn status_bit(&self, token: &str) -> bool {
        status::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(token))
            .is_some_and(|i| self.ups.bits & (1 << i) != 0)
    }
    fn option(&self, name: &str) -> Option<&str> {
        self.ups
            .opts
            .raw
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn setvar(&mut self, name: &str, value: &str) {
        if let (Some(n), Some(v)) = (Text::try_new(name), Text::try_new(value)) {
            self.ups.deferred = Some((n, v));
        }
    }
    fn add_buzzword(&mut self, word: &str) {
        let b = &mut self.ups.buzz;
        if !b.as_str().split(' ').any(|w| w == word) {
            if !b.is_empty() {
                let _ = b.push_str(" ");
            }
            let _ = b.push_str(word);
        }
    }
}

/// printf-style formatting of a number: `%.Nf` (also `%0.Nf`, `%f`), or a
/// literal without `%` printed as it is. Returns false for anything else.
pub fn format_value(fmt: &str, v: f64, out: &mut Text) -> bool {
    let Some(spec) = fmt.strip_prefix('%') else {
        return out.push_str(fmt).is_ok();
    };
    let spec = spec.trim_start_matches('0');
    let prec = match spec {
        "f" => 6,
        _ => match spec.strip_prefix('.').and_then(|s| s.strip_suffix('f')) {
            Some(d) if !d.is_empty() => match d.parse::<usize>() {
                Ok(p) if p <= 9 => p,
                _ => return false,
            },
            Some(_) => 0,
            None => return false,
        },
    };
    write_fixed(out, v, prec).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_printf() {
        let f = |fmt: &str, v: f64| {
            let mut t = Text::new();
            assert!(format_value(fmt, v, &mut t));
            t.as_str().to_string()
        };
        assert_eq!(f("%.0f", 2.5), "2");
        assert_eq!(f("%.1f", 13.45), "13.4");
        assert_eq!(f("%0.1f", 230.0), "230.0");
        assert_eq!(f("%.2f", 0.125), "0.12");
        assert_eq!(f("30", 7.0), "30");
        assert!(!format_value("%d", 1.0, &mut Text::new()));
    }
}
