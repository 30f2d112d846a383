//! `ups.conf`: the UPSes hidupsd serves and their driver options.
//!
//! Read this with NUT's `ups.conf(5)`, `nutupsdrv(8)` and `usbhid-ups(8)`
//! at hand. The file is optional global settings, then one `[name]`
//! section per UPS. Each line is `name = value` or a lone flag `name`:
//! ```text
//! maxretry = 3
//! [eaton]
//!     driver = usbhid-ups
//!     port = auto
//!     vendorid = 0463
//!     desc = "Rack UPS"
//!     pollonly
//! ```
//! hidupsd replaces NUT's `usbhid-ups` driver, so a section says
//! `driver = usbhid-ups` (a NUT configuration works as it is) or
//! `driver = sim` with `port = PATH` naming a recorded UPS (a fixture
//! directory or a recording file) to serve a simulated one. Any other
//! driver is refused.
//!
//! Differences from NUT, all in the direction of refusing what NUT would
//! misread: an unknown option is an error everywhere (NUT's drivers stop
//! on unknown options, upsdrvctl ignores unknown globals); a line that is
//! neither `name = value` nor a lone flag is an error (NUT ignores it); a
//! value followed by more words is an error (NUT keeps the first word, so
//! `desc = My UPS` is `My`); an option set twice is an error (NUT keeps
//! the last); a flag given a value is accepted only when the value says
//! yes (NUT turns the flag on whatever the value, `pollonly = no`
//! included). Option names are matched case-insensitively, as usbhid-ups
//! does.

pub use super::ups_options::{option, OptionDef, OptionForm, Scope, NOT_ON_HIDRAW, OPTIONS};
use super::{lex, parse_int, parse_u32, read, section_header, uint_what, ConfigError};
use crate::ups::options::Options;
use crate::ups::status::OnlineDischarge;
use std::path::{Path, PathBuf};

/// The file's name in the configuration directory.
pub const FILE: &str = "ups.conf";

/// Default seconds between quick polls (`pollinterval`).
pub const DEFAULT_POLLINTERVAL: u32 = 2;
/// Default start-up attempts (`maxretry`).
pub const DEFAULT_MAXRETRY: u32 = 1;
/// Default seconds between start-up attempts (`retrydelay`).
pub const DEFAULT_RETRYDELAY: u32 = 5;
/// Default seconds to wait for a driver to start (`maxstartdelay`).
pub const DEFAULT_MAXSTARTDELAY: u32 = 75;

// ---------------------------------------------------------------------
// Stage 1: records.

/// One `name = value` or flag line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub line: usize,
    pub key: String,
    /// `None` for a lone flag.
    pub value: Option<String>,
}

/// A `[name]` section as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// Line of the `[name]` header.
    pub line: usize,
    pub name: String,
    pub settings: Vec<Setting>,
}

/// The file as records, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    /// Settings before the first section.
    pub globals: Vec<Setting>,
    pub sections: Vec<RawSection>,
}

/// Stage 1: split the file into settings and sections. Checks the line
/// forms only.
pub fn records(file: &Path, text: &[u8]) -> Result<Records, ConfigError> {
    let mut out = Records::default();
    for l in super::lex_file(file, text)? {
        let err = |msg: String| ConfigError::new(file, l.line, msg);
        if let Some(name) = section_header(&l.words).map_err(err)? {
            out.sections.push(RawSection {
                line: l.line,
                name: name.to_string(),
                settings: Vec::new(),
            });
            continue;
        }
        let setting = setting(&l).map_err(err)?;
        match out.sections.last_mut() {
            Some(s) => s.settings.push(setting),
            None => out.globals.push(setting),
        }
    }
    Ok(out)
}

fn setting(l: &lex::Line) -> Result<Setting, String> {
    let w = &l.words;
    let key = w[0].as_str();
    if key == "=" {
        return Err("a line cannot start with '=': write 'name = value'".into());
    }
    match (w.get(1).map(String::as_str), w.len()) {
        (None, _) => Ok(Setting {
            line: l.line,
            key: key.to_string(),
            value: None,
        }),
        (Some("="), 2) => Err(format!(
            "'{key} =' has no value: write '{key} = VALUE' (\"\" for an empty one)"
        )),
        (Some("="), 3) => Ok(Setting {
            line: l.line,
            key: key.to_string(),
            value: Some(w[2].clone()),
        }),
        (Some("="), _) => Err(format!(
            "unexpected '{}' after the value of '{key}': quote values that contain spaces \
             ({key} = \"{} {}\")",
            w[3], w[2], w[3]
        )),
        (Some(second), _) => Err(format!(
            "expected '{key} = value' or a lone flag '{key}', got '{key} {second}'"
        )),
    }
}

// ---------------------------------------------------------------------
// Stage 2: typed configuration.

/// What serves a UPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// `driver = usbhid-ups`: a USB HID UPS read through hidraw.
    UsbHid,
    /// `driver = sim`, `port = PATH`: a recorded UPS replayed.
    Sim(PathBuf),
}

/// USB matching options: extended regular expressions matched against
/// the whole value (`vendorid`/`productid` as 4 lower-case hex digits,
/// `bus`/`device`/`busport` as 3 decimal digits), kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    pub vendorid: Option<String>,
    pub productid: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub bus: Option<String>,
    pub device: Option<String>,
    pub busport: Option<String>,
}

/// Settings before the first section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub chroot: Option<String>,
    pub driverpath: Option<String>,
    pub statepath: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub nowait: bool,
    pub maxstartdelay: u32,
    pub maxretry: u32,
    pub retrydelay: u32,
    /// Seconds; `None` when not set (then [`DEFAULT_POLLINTERVAL`]).
    pub pollinterval: Option<u32>,
    pub synchronous: Option<String>,
    pub reconnect_max_tries: Option<i64>,
    pub reconnect_report_freq: Option<i64>,
    pub debug_min: Option<u32>,
    /// Every global setting as written (`""` for a flag), in file order.
    pub raw: Vec<(String, String)>,
}

impl Default for Globals {
    fn default() -> Globals {
        Globals {
            chroot: None,
            driverpath: None,
            statepath: None,
            user: None,
            group: None,
            nowait: false,
            maxstartdelay: DEFAULT_MAXSTARTDELAY,
            maxretry: DEFAULT_MAXRETRY,
            retrydelay: DEFAULT_RETRYDELAY,
            pollinterval: None,
            synchronous: None,
            reconnect_max_tries: None,
            reconnect_report_freq: None,
            debug_min: None,
            raw: Vec::new(),
        }
    }
}

/// One `[name]` section, validated, with globals applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsSection {
    pub name: String,
    /// Line of the `[name]` header.
    pub line: usize,
    pub driver: Driver,
    /// As written; `auto` when not given.
    pub port: String,
    pub desc: Option<String>,
    pub matching: Match,
    pub subdriver: Option<String>,
    /// Seconds between quick polls (section, else global, else 2).
    pub pollinterval: u32,
    /// Seconds between full updates; `None` for the driver's default
    /// (30, or 12 with the CPS subdriver).
    pub pollfreq: Option<u32>,
    pub pollonly: bool,
    pub interruptonly: bool,
    /// Bytes per interrupt read; `None` for up to 512.
    pub interruptsize: Option<u32>,
    /// `onlinedischarge_onbattery`, or its old names `onlinedischarge`
    /// and `onlinedischarge_battery`: report OL+DISCHRG as OB.
    pub onlinedischarge_onbattery: bool,
    /// `onlinedischarge_calibration`: report OL+DISCHRG as CAL.
    pub onlinedischarge_calibration: bool,
    /// Published `ups.delay.shutdown` override, seconds.
    pub offdelay: Option<i64>,
    /// Published `ups.delay.start` override, seconds.
    pub ondelay: Option<i64>,
    /// Published `battery.charge.low` override, percent.
    pub lowbatt: Option<u32>,
    pub disable_fix_report_desc: bool,
    pub maxreport: bool,
    pub explore: bool,
    pub ignorelb: bool,
    pub allow_killpower: bool,
    pub sdorder: i64,
    pub sdcommands: Option<String>,
    pub waitbeforereconnect: Option<u32>,
    /// Start-up attempts (section, else global, else 1).
    pub maxretry: u32,
    /// Seconds between attempts (section, else global, else 5).
    pub retrydelay: u32,
    /// Section, else global.
    pub user: Option<String>,
    pub group: Option<String>,
    /// `override.<var> = value`: (var, value), in file order.
    pub overrides: Vec<(String, String)>,
    /// `default.<var> = value`: (var, value), in file order.
    pub defaults: Vec<(String, String)>,
    /// Every option of the section (`driver`, `port` and `desc`
    /// included) with its canonical name and value (`""` for a flag), in
    /// file order.
    pub raw: Vec<(String, String)>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsConf {
    pub globals: Globals,
    /// In file order. May be empty (upsd refuses that unless
    /// `ALLOW_NO_DEVICE` is set in upsd.conf).
    pub ups: Vec<UpsSection>,
    /// Settings accepted but ignored or deprecated, for the caller to log.
    pub warnings: Vec<ConfigError>,
}

impl UpsConf {
    /// The UPS called `name`, case-insensitively (as upsd looks it up).
    pub fn get(&self, name: &str) -> Option<&UpsSection> {
        self.ups.iter().find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The sections of `self` that `new` (a reloaded file) still has but
    /// with different settings, each with the options that differ (added,
    /// removed or changed, by name; empty when only global settings it
    /// takes changed), in file order. A reload logs them: a running UPS
    /// keeps its settings until restart.
    pub fn changed_sections<'a>(&'a self, new: &UpsConf) -> Vec<(&'a str, Vec<String>)> {
        let mut out = Vec::new();
        for old in &self.ups {
            let Some(now) = new.get(&old.name) else {
                continue;
            };
            // `raw` and the five fields a section takes from the globals:
            // every other field is read from `raw` alone, so these equal
            // mean the sections are equal but for name and line. (The
            // whole comparison was twice the code on a router; debug
            // builds, tests among them, check against it.)
            let same = old.raw == now.raw
                && old.pollinterval == now.pollinterval
                && old.maxretry == now.maxretry
                && old.retrydelay == now.retrydelay
                && old.user == now.user
                && old.group == now.group;
            #[cfg(debug_assertions)]
            {
                let whole = UpsSection {
                    name: old.name.clone(),
                    line: old.line,
                    ..now.clone()
                } == *old;
                assert_eq!(same, whole, "[{}]", old.name);
            }
            if same {
                continue;
            }
            let mut names: Vec<String> = Vec::new();
            for (a, b) in [(&old.raw, &now.raw), (&now.raw, &old.raw)] {
                for (k, v) in a.iter() {
                    if !b.iter().any(|(k2, v2)| k2 == k && v2 == v) && !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            out.push((old.name.as_str(), names));
        }
        out
    }
}

/// Read `dir/ups.conf`.
pub fn load(dir: &Path) -> Result<UpsConf, ConfigError> {
    let (path, bytes) = read(dir, FILE)?;
    parse(&path, &bytes)
}

/// Parse the text of `ups.conf`; `file` is used in messages.
pub fn parse(file: &Path, text: &[u8]) -> Result<UpsConf, ConfigError> {
    let rec = records(file, text)?;
    let mut conf = UpsConf::default();
    let mut v = Validator {
        file,
        section: None,
        warnings: Vec::new(),
    };
    conf.globals = v.globals(&rec.globals)?;
    for (i, s) in rec.sections.iter().enumerate() {
        if let Some(first) = rec.sections[..i]
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&s.name))
        {
            return Err(ConfigError::new(
                file,
                s.line,
                format!(
                    "duplicate section [{}] (first at line {}; UPS names are case-insensitive)",
                    s.name, first.line
                ),
            ));
        }
        v.section = Some(&s.name);
        conf.ups.push(v.section(s, &conf.globals)?);
    }
    conf.warnings = v.warnings;
    Ok(conf)
}

/// The engine options for one UPS.
pub fn engine_options(s: &UpsSection) -> Options {
    Options {
        subdriver: if s.explore {
            Some("explore".to_string())
        } else {
            s.subdriver.clone()
        },
        productid_set: s.matching.productid.is_some(),
        pollonly: s.pollonly,
        interruptonly: s.interruptonly,
        onlinedischarge: OnlineDischarge {
            calibration: s.onlinedischarge_calibration,
            onbattery: s.onlinedischarge_onbattery,
        },
        no_fixups: s.disable_fix_report_desc,
        lowbatt: s.lowbatt.map(|v| v.to_string()),
        raw: s.raw.clone(),
        ondelay: s.ondelay.map(|v| v.to_string()),
        offdelay: s.offdelay.map(|v| v.to_string()),
        pollinterval_ms: u64::from(s.pollinterval) * 1000,
        pollfreq_ms: s.pollfreq.map_or(0, |f| u64::from(f) * 1000),
        overrides: s.overrides.clone(),
        defaults: s.defaults.clone(),
    }
}

struct Validator<'a> {
    file: &'a Path,
    section: Option<&'a str>,
    warnings: Vec<ConfigError>,
}

/// A setting whose definition is known.
struct Opt<'a> {
    set: &'a Setting,
    name: &'static str,
    kind: OptionForm,
}

impl Opt<'_> {
    /// The value for `raw`: `""` for a flag, even one written `= yes`.
    fn raw(&self) -> (String, String) {
        let v = match self.kind {
            OptionForm::Flag => "",
            _ => self.set.value.as_deref().unwrap_or(""),
        };
        (self.name.to_string(), v.to_string())
    }
}

impl<'a> Validator<'a> {
    fn err(&self, line: usize, key: &str, msg: impl std::fmt::Display) -> ConfigError {
        self.err_dyn(line, key, &msg)
    }

    // One copy of the formatting for every kind of message.
    fn err_dyn(&self, line: usize, key: &str, msg: &dyn std::fmt::Display) -> ConfigError {
        let msg = match self.section {
            Some(s) => format!("[{s}] {key}: {msg}"),
            None => format!("{key}: {msg}"),
        };
        ConfigError::new(self.file, line, msg)
    }

    fn warn(&mut self, line: usize, key: &str, msg: impl std::fmt::Display) {
        let w = self.err_dyn(line, key, &msg);
        self.warnings.push(w);
    }

    /// Look `set` up, check its scope, form and uniqueness. `None` for
    /// `override.`/`default.` settings, handled by the caller.
    fn check(&self, set: &'a Setting, earlier: &[Setting]) -> Result<Option<Opt<'a>>, ConfigError> {
        let key = set.key.as_str();
        let line = set.line;
        if let Some(first) = earlier.iter().find(|e| e.key.eq_ignore_ascii_case(key)) {
            return Err(self.err(
                line,
                key,
                format_args!("set twice (first at line {})", first.line),
            ));
        }
        if prefixed(key, "override.").is_some() || prefixed(key, "default.").is_some() {
            if self.section.is_none() {
                return Err(self.err(
                    line,
                    key,
                    "must be inside a [name] section; this line comes before the first one",
                ));
            }
            return Ok(None);
        }
        let Some(d) = option(key) else {
            return Err(self.err(
                line,
                key,
                if self.section.is_some() {
                    "unknown option (not a usbhid-ups, USB matching or driver option)"
                } else {
                    "unknown global option"
                },
            ));
        };
        match (d.scope, self.section) {
            (Scope::Global, Some(_)) => {
                return Err(self.err(
                    line,
                    key,
                    "is a global setting: move it above the first [section]",
                ))
            }
            (Scope::Section, None) => {
                return Err(self.err(
                    line,
                    key,
                    "must be inside a [name] section; this line comes before the first one",
                ))
            }
            _ => {}
        }
        match (d.kind, &set.value) {
            (OptionForm::Value, None) => {
                return Err(self.err(
                    line,
                    key,
                    format_args!("needs a value: write '{} = VALUE'", d.name),
                ))
            }
            (OptionForm::Flag, Some(v)) if super::parse_bool(v) != Some(true) => {
                return Err(self.err(
                    line,
                    key,
                    format_args!(
                        "is a flag and takes no value; NUT turns it on whatever the value \
                         ('{v}' included): write '{}' alone to turn it on, or remove the line",
                        d.name
                    ),
                ))
            }
            _ => {}
        }
        Ok(Some(Opt {
            set,
            name: d.name,
            kind: d.kind,
        }))
    }

    fn value(&self, o: &Opt<'a>) -> &'a str {
        o.set.value.as_deref().unwrap_or("")
    }

    fn u32(&self, o: &Opt, unit: &str, min: u32) -> Result<u32, ConfigError> {
        let v = self.value(o);
        parse_u32(v, min).ok_or_else(|| {
            self.err(
                o.set.line,
                &o.set.key,
                format_args!("expected {}, got '{v}'", uint_what(unit, min)),
            )
        })
    }

    fn int(&self, o: &Opt, what: &str) -> Result<i64, ConfigError> {
        let v = self.value(o);
        parse_int(v)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| {
                self.err(
                    o.set.line,
                    &o.set.key,
                    format_args!("expected {what}, got '{v}'"),
                )
            })
    }

    fn synchronous(&self, o: &Opt) -> Result<String, ConfigError> {
        let v = self.value(o);
        ["auto", "yes", "no"]
            .iter()
            .find(|s| s.eq_ignore_ascii_case(v))
            .map(|s| s.to_string())
            .ok_or_else(|| {
                self.err(
                    o.set.line,
                    &o.set.key,
                    format_args!("expected auto, yes or no, got '{v}'"),
                )
            })
    }

    fn globals(&mut self, settings: &'a [Setting]) -> Result<Globals, ConfigError> {
        let mut g = Globals::default();
        for (i, set) in settings.iter().enumerate() {
            let Some(o) = self.check(set, &settings[..i])? else {
                unreachable!("override/default rejected outside sections")
            };
            let s = || Some(self.value(&o).to_string());
            match o.name {
                "chroot" => g.chroot = s(),
                "driverpath" => g.driverpath = s(),
                "statepath" => g.statepath = s(),
                "user" => g.user = s(),
                "group" => g.group = s(),
                "nowait" => g.nowait = true,
                "maxstartdelay" => g.maxstartdelay = self.u32(&o, "seconds", 0)?,
                "maxretry" => g.maxretry = self.u32(&o, "attempts", 0)?,
                "retrydelay" => g.retrydelay = self.u32(&o, "seconds", 0)?,
                "pollinterval" => g.pollinterval = Some(self.u32(&o, "seconds", 1)?),
                "synchronous" => g.synchronous = Some(self.synchronous(&o)?),
                "reconnect_max_tries" => {
                    g.reconnect_max_tries = Some(self.int(&o, "a whole number (-1: forever)")?)
                }
                "reconnect_report_freq" => {
                    g.reconnect_report_freq = Some(self.int(&o, "a whole number")?)
                }
                "debug_min" => g.debug_min = Some(self.u32(&o, "levels", 0)?),
                _ => {
                    if let Some((_, why)) = NOT_ON_HIDRAW.iter().find(|(n, _)| *n == o.name) {
                        self.warn(set.line, &set.key, format_args!("ignored: {why}"));
                    }
                }
            }
            g.raw.push(o.raw());
        }
        Ok(g)
    }

    fn section(&mut self, s: &'a RawSection, g: &Globals) -> Result<UpsSection, ConfigError> {
        let name = s.name.as_str();
        let file = self.file;
        let hdr = |msg: String| ConfigError::new(file, s.line, format!("[{name}]: {msg}"));
        if name.eq_ignore_ascii_case("default") {
            return Err(hdr("the section name 'default' is reserved by NUT".into()));
        }
        if let Some(c) = name.chars().find(|c| matches!(c, '@' | ':' | '/')) {
            return Err(hdr(format!(
                "a UPS name cannot contain '{c}' (clients address a UPS as name@host:port)"
            )));
        }
        let mut u = UpsSection {
            name: name.to_string(),
            line: s.line,
            driver: Driver::UsbHid,
            port: "auto".to_string(),
            desc: None,
            matching: Match::default(),
            subdriver: None,
            pollinterval: g.pollinterval.unwrap_or(DEFAULT_POLLINTERVAL),
            pollfreq: None,
            pollonly: false,
            interruptonly: false,
            interruptsize: None,
            onlinedischarge_onbattery: false,
            onlinedischarge_calibration: false,
            offdelay: None,
            ondelay: None,
            lowbatt: None,
            disable_fix_report_desc: false,
            maxreport: false,
            explore: false,
            ignorelb: false,
            allow_killpower: false,
            sdorder: 0,
            sdcommands: None,
            waitbeforereconnect: None,
            maxretry: g.maxretry,
            retrydelay: g.retrydelay,
            user: g.user.clone(),
            group: g.group.clone(),
            overrides: Vec::new(),
            defaults: Vec::new(),
            raw: Vec::new(),
        };
        let mut driver: Option<(&Setting, &str)> = None;
        let mut port: Option<&Setting> = None;
        for (i, set) in s.settings.iter().enumerate() {
            let Some(o) = self.check(set, &s.settings[..i])? else {
                self.var_setting(set, &mut u)?;
                continue;
            };
            let v = self.value(&o);
            let own = || Some(v.to_string());
            // Checked for every option, including those whose value is
            // still validated and kept below.
            if let Some((_, why)) = NOT_ON_HIDRAW.iter().find(|(n, _)| *n == o.name) {
                self.warn(set.line, &set.key, format_args!("ignored: {why}"));
            }
            match o.name {
                "driver" => driver = Some((set, v)),
                "port" => {
                    port = Some(set);
                    u.port = v.to_string();
                }
                "desc" => u.desc = own(),
                "vendorid" => u.matching.vendorid = own(),
                "productid" => u.matching.productid = own(),
                "vendor" => u.matching.vendor = own(),
                "product" => u.matching.product = own(),
                "serial" => u.matching.serial = own(),
                "bus" => u.matching.bus = own(),
                "device" => u.matching.device = own(),
                "busport" => u.matching.busport = own(),
                "subdriver" => {
                    if v.is_empty() {
                        return Err(self.err(set.line, &set.key, "empty subdriver name"));
                    }
                    u.subdriver = own();
                }
                "pollinterval" => u.pollinterval = self.u32(&o, "seconds", 1)?,
                "pollfreq" => u.pollfreq = Some(self.u32(&o, "seconds", 1)?),
                "pollonly" => u.pollonly = true,
                "interruptonly" => u.interruptonly = true,
                "interruptsize" => u.interruptsize = Some(self.u32(&o, "bytes", 1)?),
                "onlinedischarge" => {
                    u.onlinedischarge_onbattery = true;
                    self.warn(
                        set.line,
                        &set.key,
                        "deprecated: write onlinedischarge_onbattery",
                    );
                }
                "onlinedischarge_onbattery" | "onlinedischarge_battery" => {
                    u.onlinedischarge_onbattery = true
                }
                "onlinedischarge_calibration" => u.onlinedischarge_calibration = true,
                "offdelay" => u.offdelay = Some(self.int(&o, "a whole number of seconds")?),
                "ondelay" => u.ondelay = Some(self.int(&o, "a whole number of seconds")?),
                "lowbatt" => {
                    let p = parse_u32(v, 0).filter(|&p| p <= 100);
                    u.lowbatt = Some(p.ok_or_else(|| {
                        self.err(
                            set.line,
                            &set.key,
                            format_args!("expected a percentage from 0 to 100, got '{v}'"),
                        )
                    })?);
                }
                "disable_fix_report_desc" => u.disable_fix_report_desc = true,
                "maxreport" => u.maxreport = true,
                "explore" => u.explore = true,
                "ignorelb" => u.ignorelb = true,
                "allow_killpower" => u.allow_killpower = true,
                "sdorder" => u.sdorder = self.int(&o, "a whole number (-1: never)")?,
                "sdcommands" => u.sdcommands = own(),
                "waitbeforereconnect" => u.waitbeforereconnect = Some(self.u32(&o, "seconds", 0)?),
                "maxretry" => u.maxretry = self.u32(&o, "attempts", 0)?,
                "retrydelay" => u.retrydelay = self.u32(&o, "seconds", 0)?,
                "maxstartdelay" => {
                    self.u32(&o, "seconds", 0)?;
                }
                "user" => u.user = own(),
                "group" => u.group = own(),
                "synchronous" => {
                    self.synchronous(&o)?;
                }
                "reconnect_max_tries" => {
                    self.int(&o, "a whole number (-1: forever)")?;
                }
                "reconnect_report_freq" => {
                    self.int(&o, "a whole number")?;
                }
                "debug_min" => {
                    self.u32(&o, "levels", 0)?;
                }
                "winhid" => self.warn(
                    set.line,
                    &set.key,
                    "ignored: the Windows HID backend does not apply here",
                ),
                // Read by the engine or the subdrivers from `raw` (the
                // libusb-only ones were warned about above).
                _ => {}
            }
            u.raw.push(o.raw());
        }
        let Some((dset, d)) = driver else {
            return Err(hdr("no 'driver' line: write 'driver = usbhid-ups'".into()));
        };
        match d {
            // nutdrv_qx (and its predecessor blazer_usb) serve Megatec/Q1
            // units behind USB bridges: found and matched the same way.
            "usbhid-ups" | "nutdrv_qx" | "blazer_usb" => {
                if !u.port.eq_ignore_ascii_case("auto") {
                    let line = port.map_or(s.line, |p| p.line);
                    self.warn(
                        line,
                        "port",
                        format_args!(
                            "'{}' is ignored: a USB HID UPS is found by vendorid, productid, \
                             serial and the other matching options",
                            u.port
                        ),
                    );
                }
                let missing_ids = u.matching.vendorid.is_none() || u.matching.productid.is_none();
                if let Some(sub) = s
                    .settings
                    .iter()
                    .find(|x| x.key.eq_ignore_ascii_case("subdriver"))
                {
                    if missing_ids {
                        return Err(self.err(
                            sub.line,
                            &sub.key,
                            "needs vendorid and productid in the same section",
                        ));
                    }
                }
                if let Some(x) = s
                    .settings
                    .iter()
                    .find(|x| x.key.eq_ignore_ascii_case("explore"))
                {
                    if u.subdriver.is_some() {
                        return Err(self.err(
                            x.line,
                            &x.key,
                            "cannot be combined with subdriver (explore selects its own)",
                        ));
                    }
                    if u.matching.vendorid.is_none() {
                        return Err(self.err(x.line, &x.key, "needs vendorid in the same section"));
                    }
                }
            }
            "sim" => {
                if port.is_none() || u.port.is_empty() || u.port.eq_ignore_ascii_case("auto") {
                    let line = port.map_or(dset.line, |p| p.line);
                    return Err(self.err(
                        line,
                        "port",
                        "driver = sim needs 'port = PATH' naming a recorded UPS \
                         (a fixture directory or a recording file)",
                    ));
                }
                u.driver = Driver::Sim(PathBuf::from(&u.port));
            }
            other => {
                return Err(self.err(
                    dset.line,
                    &dset.key,
                    format_args!(
                        "'{other}' is not supported: hidupsd serves USB HID UPSes \
                         (driver = usbhid-ups) and Megatec/Q1 units on USB (driver = nutdrv_qx)"
                    ),
                ))
            }
        }
        Ok(u)
    }

    /// `override.<var>` and `default.<var>`.
    fn var_setting(&self, set: &Setting, u: &mut UpsSection) -> Result<(), ConfigError> {
        let (prefix, var, list) = match prefixed(&set.key, "override.") {
            Some(var) => ("override.", var, &mut u.overrides),
            None => (
                "default.",
                prefixed(&set.key, "default.").unwrap_or(""),
                &mut u.defaults,
            ),
        };
        if var.is_empty() {
            return Err(self.err(
                set.line,
                &set.key,
                format_args!("missing variable name: write '{prefix}<variable> = VALUE'"),
            ));
        }
        let Some(value) = &set.value else {
            return Err(self.err(
                set.line,
                &set.key,
                format_args!("needs a value: write '{prefix}{var} = VALUE'"),
            ));
        };
        list.push((var.to_string(), value.clone()));
        u.raw.push((format!("{prefix}{var}"), value.clone()));
        Ok(())
    }
}

/// `key` without `prefix`, matched case-insensitively.
fn prefixed<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    (key.len() >= prefix.len()
        && key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
    .then(|| &key[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> UpsConf {
        parse(Path::new("ups.conf"), text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> String {
        parse(Path::new("ups.conf"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The ArchWiki's minimal USB setup.
    #[test]
    fn archwiki_minimal() {
        let c = conf("[upsname]\n    driver = usbhid-ups\n    port = auto\n");
        assert_eq!(c.globals, Globals::default());
        assert_eq!(c.warnings, vec![]);
        assert_eq!(
            c.ups,
            vec![UpsSection {
                name: "upsname".into(),
                line: 1,
                driver: Driver::UsbHid,
                port: "auto".into(),
                desc: None,
                matching: Match::default(),
                subdriver: None,
                pollinterval: 2,
                pollfreq: None,
                pollonly: false,
                interruptonly: false,
                interruptsize: None,
                onlinedischarge_onbattery: false,
                onlinedischarge_calibration: false,
                offdelay: None,
                ondelay: None,
                lowbatt: None,
                disable_fix_report_desc: false,
                maxreport: false,
                explore: false,
                ignorelb: false,
                allow_killpower: false,
                sdorder: 0,
                sdcommands: None,
                waitbeforereconnect: None,
                maxretry: 1,
                retrydelay: 5,
                user: None,
                group: None,
                overrides: vec![],
                defaults: vec![],
                raw: raw(&[("driver", "usbhid-ups"), ("port", "auto")]),
            }]
        );
        let o = engine_options(&c.ups[0]);
        assert_eq!(o.subdriver, None);
        assert!(!o.productid_set);
        assert_eq!(o.pollinterval_ms, 2000);
        assert_eq!(o.pollfreq_ms, 0, "0 lets the engine pick 30 s (CPS: 12 s)");
        assert_eq!(o.raw, raw(&[("driver", "usbhid-ups"), ("port", "auto")]));
    }

    /// The ArchWiki's CyberPower advice: a global maxretry and quoted values.
    #[test]
    fn archwiki_cyberpower_maxretry() {
        let c = conf("maxretry = 5\n\n[cyberpower]\n        driver = \"usbhid-ups\"\n        port = \"auto\"\n");
        assert_eq!(c.globals.maxretry, 5);
        assert_eq!(c.globals.raw, raw(&[("maxretry", "5")]));
        assert_eq!(c.ups[0].name, "cyberpower");
        assert_eq!(c.ups[0].line, 3);
        assert_eq!(c.ups[0].maxretry, 5);
        assert_eq!(c.ups[0].retrydelay, 5);
        assert_eq!(c.ups[0].driver, Driver::UsbHid);
    }

    /// usbhid-ups(8): two UPSes told apart by vendorid.
    #[test]
    fn man_page_two_upses() {
        let c = conf(
            "[mge]\n        driver = usbhid-ups\n        port = auto\n        vendorid = 0463\n\
             [tripplite]\n        driver = usbhid-ups\n        port = auto\n        vendorid = 09ae\n",
        );
        assert_eq!(c.ups.len(), 2);
        assert_eq!(c.ups[0].matching.vendorid.as_deref(), Some("0463"));
        assert_eq!(c.ups[1].matching.vendorid.as_deref(), Some("09ae"));
        assert_eq!(c.ups[1].line, 5);
        assert_eq!(
            c.get("TrippLite").map(|u| u.name.as_str()),
            Some("tripplite")
        );
        assert_eq!(c.get("nope"), None);
    }

    #[test]
    fn every_typed_option() {
        let c = conf(
            r#"# globals
pollinterval = 5
user = nut
group = nut
retrydelay = 10
[rack]
  driver = usbhid-ups
  port = auto
  desc = "Rack \"A\" UPS"
  vendorid = 0463
  productid = "ffff"
  vendor = "EATON.*"
  product = ".*5E.*"
  serial = "G1[0-9]+"
  bus = 00[1-2]
  device = 004
  busport = 1
  subdriver = mge
  pollinterval = 3
  pollfreq = 60
  pollonly
  interruptonly
  interruptsize = 8
  onlinedischarge_onbattery
  onlinedischarge_calibration
  offdelay = 120
  ondelay = -1
  lowbatt = 25
  disable_fix_report_desc
  maxreport
  ignorelb
  allow_killpower
  sdorder = -1
  sdcommands = "shutdown.return,load.off"
  waitbeforereconnect = 30
  maxretry = 4
  user = ups
  lbrb_log_delay_sec = 3
  override.battery.charge.low = 30
  default.input.voltage.nominal = 230
"#,
        );
        let u = &c.ups[0];
        assert_eq!(c.globals.pollinterval, Some(5));
        assert_eq!(c.globals.retrydelay, 10);
        assert_eq!(u.desc.as_deref(), Some("Rack \"A\" UPS"));
        assert_eq!(
            u.matching,
            Match {
                vendorid: Some("0463".into()),
                productid: Some("ffff".into()),
                vendor: Some("EATON.*".into()),
                product: Some(".*5E.*".into()),
                serial: Some("G1[0-9]+".into()),
                bus: Some("00[1-2]".into()),
                device: Some("004".into()),
                busport: Some("1".into()),
            }
        );
        assert_eq!(u.subdriver.as_deref(), Some("mge"));
        assert_eq!(u.pollinterval, 3);
        assert_eq!(u.pollfreq, Some(60));
        assert!(u.pollonly && u.interruptonly);
        assert_eq!(u.interruptsize, Some(8));
        assert!(u.onlinedischarge_onbattery && u.onlinedischarge_calibration);
        assert_eq!(u.offdelay, Some(120));
        assert_eq!(u.ondelay, Some(-1));
        assert_eq!(u.lowbatt, Some(25));
        assert!(u.disable_fix_report_desc && u.maxreport && u.ignorelb && u.allow_killpower);
        assert!(!u.explore);
        assert_eq!(u.sdorder, -1);
        assert_eq!(u.sdcommands.as_deref(), Some("shutdown.return,load.off"));
        assert_eq!(u.waitbeforereconnect, Some(30));
        assert_eq!(u.maxretry, 4);
        assert_eq!(u.retrydelay, 10, "from the global");
        assert_eq!(u.user.as_deref(), Some("ups"));
        assert_eq!(u.group.as_deref(), Some("nut"), "from the global");
        assert_eq!(u.overrides, raw(&[("battery.charge.low", "30")]));
        assert_eq!(u.defaults, raw(&[("input.voltage.nominal", "230")]));
        assert_eq!(u.raw.len(), 34);
        assert_eq!(u.raw[2], ("desc".to_string(), "Rack \"A\" UPS".to_string()));
        assert_eq!(u.raw[14], ("pollonly".to_string(), String::new()));
        assert_eq!(
            u.raw[31],
            ("lbrb_log_delay_sec".to_string(), "3".to_string())
        );
        assert_eq!(
            u.raw[32],
            ("override.battery.charge.low".to_string(), "30".to_string())
        );

        let o = engine_options(u);
        assert_eq!(o.subdriver.as_deref(), Some("mge"));
        assert!(o.productid_set);
        assert!(o.pollonly && o.interruptonly && o.no_fixups);
        assert_eq!(
            o.onlinedischarge,
            OnlineDischarge {
                calibration: true,
                onbattery: true
            }
        );
        assert_eq!(o.lowbatt.as_deref(), Some("25"));
        assert_eq!(o.ondelay.as_deref(), Some("-1"));
        assert_eq!(o.offdelay.as_deref(), Some("120"));
        assert_eq!(o.pollinterval_ms, 3000);
        assert_eq!(o.pollfreq_ms, 60_000);
        assert_eq!(o.raw, u.raw);
    }

    #[test]
    fn globals() {
        let c = conf(
            "chroot = /var/empty\ndriverpath = /lib/nut\nstatepath = /run/nut\nuser = nut\n\
             group = nut\nnowait\nmaxstartdelay = 45\nmaxretry = 3\nretrydelay = 1\n\
             pollinterval = 10\nsynchronous = AUTO\nreconnect_max_tries = -1\n\
             reconnect_report_freq = 10\ndebug_min = 2\nLIBUSB_DEBUG = 1\n",
        );
        let g = &c.globals;
        assert_eq!(g.chroot.as_deref(), Some("/var/empty"));
        assert_eq!(g.driverpath.as_deref(), Some("/lib/nut"));
        assert_eq!(g.statepath.as_deref(), Some("/run/nut"));
        assert_eq!(g.user.as_deref(), Some("nut"));
        assert_eq!(g.group.as_deref(), Some("nut"));
        assert!(g.nowait);
        assert_eq!(g.maxstartdelay, 45);
        assert_eq!(g.maxretry, 3);
        assert_eq!(g.retrydelay, 1);
        assert_eq!(g.pollinterval, Some(10));
        assert_eq!(g.synchronous.as_deref(), Some("auto"));
        assert_eq!(g.reconnect_max_tries, Some(-1));
        assert_eq!(g.reconnect_report_freq, Some(10));
        assert_eq!(g.debug_min, Some(2));
        assert_eq!(g.raw.len(), 15);
        assert_eq!(g.raw[5], ("nowait".to_string(), String::new()));
        assert_eq!(g.raw[14], ("LIBUSB_DEBUG".to_string(), "1".to_string()));
        assert_eq!(c.ups, vec![]);
    }

    #[test]
    fn global_pollinterval_applies_to_sections() {
        let c = conf("pollinterval = 7\n[a]\ndriver = usbhid-ups\n[b]\ndriver = usbhid-ups\npollinterval = 1\n");
        assert_eq!(c.ups[0].pollinterval, 7);
        assert_eq!(c.ups[1].pollinterval, 1);
        assert_eq!(engine_options(&c.ups[0]).pollinterval_ms, 7000);
        // A missing port defaults to auto.
        assert_eq!(c.ups[0].port, "auto");
    }

    #[test]
    fn sim_driver() {
        let c =
            conf("[lab]\ndriver = sim\nport = \"tests/fixtures/apc back-ups\"\ndesc = Simulated\n");
        assert_eq!(
            c.ups[0].driver,
            Driver::Sim(PathBuf::from("tests/fixtures/apc back-ups"))
        );
        assert_eq!(c.ups[0].port, "tests/fixtures/apc back-ups");
        assert_eq!(c.ups[0].desc.as_deref(), Some("Simulated"));
        assert_eq!(c.warnings, vec![]);
    }

    #[test]
    fn option_names_are_case_insensitive() {
        let c =
            conf("[u]\nDriver = usbhid-ups\nPollOnly\nVendorID = 051d\nOverride.ups.mfr = APC\n");
        assert!(c.ups[0].pollonly);
        assert_eq!(c.ups[0].matching.vendorid.as_deref(), Some("051d"));
        assert_eq!(c.ups[0].overrides, raw(&[("ups.mfr", "APC")]));
        assert_eq!(
            c.ups[0].raw,
            raw(&[
                ("driver", "usbhid-ups"),
                ("pollonly", ""),
                ("vendorid", "051d"),
                ("override.ups.mfr", "APC")
            ])
        );
    }

    #[test]
    fn changed_sections_are_named_with_their_options() {
        let old = conf(
            "pollinterval = 2\n[a]\ndriver = usbhid-ups\nport = auto\noffdelay = 20\n\
             [b]\ndriver = usbhid-ups\nport = auto\n[c]\ndriver = usbhid-ups\nport = auto\n\
             [gone]\ndriver = usbhid-ups\nport = auto\n",
        );
        // a: offdelay changed, serial added; b: only moved down a line and
        // renamed in case; c: a global it takes changed; new: not in old.
        let new = conf(
            "pollinterval = 5\n\n[a]\ndriver = usbhid-ups\nport = auto\noffdelay = 120\n\
             serial = X1\n[B]\ndriver = usbhid-ups\nport = auto\npollinterval = 2\n\
             [c]\ndriver = usbhid-ups\nport = auto\n[new]\ndriver = usbhid-ups\nport = auto\n",
        );
        assert_eq!(
            old.changed_sections(&new),
            vec![
                ("a", vec!["offdelay".to_string(), "serial".to_string()]),
                ("b", vec!["pollinterval".to_string()]),
                ("c", vec![]),
            ]
        );
        assert_eq!(old.changed_sections(&old.clone()), vec![]);
        // The same file with lines moved about is no change.
        let moved = conf(
            "# comment\npollinterval = 2\n[a]\ndriver = usbhid-ups\nport = auto\noffdelay = 20\n\
             [b]\ndriver = usbhid-ups\nport = auto\n[c]\ndriver = usbhid-ups\nport = auto\n",
        );
        assert_eq!(old.changed_sections(&moved), vec![]);
        // A global no section takes is no change to them; one they take is.
        let at = |globals: &str| conf(&format!("{globals}[a]\ndriver = usbhid-ups\n"));
        let was = at("chroot = /a\nuser = nut\n");
        assert_eq!(
            was.changed_sections(&at("chroot = /b\nuser = nut\n")),
            vec![]
        );
        assert_eq!(
            was.changed_sections(&at("chroot = /a\nuser = ups\n")),
            vec![("a", vec![])]
        );
        assert_eq!(
            was.changed_sections(&at("chroot = /a\nuser = nut\nmaxretry = 3\n")),
            vec![("a", vec![])]
        );
    }

    #[test]
    fn flags_with_a_yes_value() {
        let c = conf(
            "[u]\ndriver = usbhid-ups\npollonly = yes\nmaxreport = true\nusb_set_altinterface\n",
        );
        assert!(c.ups[0].pollonly && c.ups[0].maxreport);
        assert_eq!(c.ups[0].raw[1], ("pollonly".to_string(), String::new()));
        assert_eq!(
            c.ups[0].raw[3],
            ("usb_set_altinterface".to_string(), String::new())
        );
        let c = conf("[u]\ndriver = usbhid-ups\nusb_set_altinterface = 1\n");
        assert_eq!(
            c.ups[0].raw[1],
            ("usb_set_altinterface".to_string(), "1".to_string())
        );
    }

    #[test]
    fn onlinedischarge_spellings() {
        let c = conf("[u]\ndriver = usbhid-ups\nonlinedischarge\n");
        assert!(c.ups[0].onlinedischarge_onbattery);
        assert!(engine_options(&c.ups[0]).onlinedischarge.onbattery);
        assert_eq!(
            c.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["ups.conf:3: [u] onlinedischarge: deprecated: write onlinedischarge_onbattery"]
        );
        // The man page's spelling, which usbhid-ups itself rejects.
        let c = conf("[u]\ndriver = usbhid-ups\nonlinedischarge_battery\n");
        assert!(c.ups[0].onlinedischarge_onbattery);
        assert_eq!(c.warnings, vec![]);
    }

    #[test]
    fn explore_selects_the_explore_subdriver() {
        let c = conf("[u]\ndriver = usbhid-ups\nvendorid = 1234\nexplore\n");
        assert!(c.ups[0].explore);
        assert_eq!(
            engine_options(&c.ups[0]).subdriver.as_deref(),
            Some("explore")
        );
        assert!(!engine_options(&c.ups[0]).productid_set);
    }

    #[test]
    fn every_option_refused_on_hidraw_is_a_known_option() {
        for (name, why) in NOT_ON_HIDRAW {
            assert!(option(name).is_some(), "{name}");
            assert!(!why.is_empty());
        }
    }

    #[test]
    fn warnings() {
        let c =
            conf("[u]\ndriver = usbhid-ups\nport = /dev/usb/hiddev0\nwinhid\nusb_hid_ep_in = 1\n");
        assert_eq!(
            c.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "ups.conf:4: [u] winhid: ignored: the Windows HID backend does not apply here",
                "ups.conf:5: [u] usb_hid_ep_in: ignored: the kernel's usbhid driver owns the \
                 interrupt endpoints",
                "ups.conf:3: [u] port: '/dev/usb/hiddev0' is ignored: a USB HID UPS is found by \
                 vendorid, productid, serial and the other matching options",
            ]
        );
        assert_eq!(
            conf("[u]\ndriver = usbhid-ups\nport = AUTO\n").warnings,
            vec![]
        );
        // Options whose value is still checked warn too, as the manual says.
        let c = conf(
            "[u]\ndriver = usbhid-ups\ninterruptsize = 8\nmaxreport\nwaitbeforereconnect = 5\n",
        );
        assert_eq!(
            c.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "ups.conf:3: [u] interruptsize: ignored: hidraw delivers whole input reports",
                "ups.conf:4: [u] maxreport: ignored: the kernel sizes Feature reports from the \
                 descriptor",
                "ups.conf:5: [u] waitbeforereconnect: ignored: hidupsd reconnects with its own \
                 back-off (retrydelay sets it)",
            ]
        );
        // Every option the manual lists as warned about does warn.
        for (name, _) in NOT_ON_HIDRAW {
            let line = match option(name).unwrap().kind {
                OptionForm::Flag => name.to_string(),
                _ => format!("{name} = 1"),
            };
            let c = conf(&format!("[u]\ndriver = usbhid-ups\n{line}\n"));
            assert_eq!(c.warnings.len(), 1, "{name}: {:?}", c.warnings);
        }
        let c = conf("LIBUSB_DEBUG = 3\n");
        assert_eq!(
            c.warnings[0].to_string(),
            "ups.conf:1: LIBUSB_DEBUG: ignored: hidupsd does not use libusb"
        );
    }

    #[test]
    fn records_stage() {
        let r = records(Path::new("ups.conf"), b"maxretry=3\n[a]\nx\ny = \"\"\n").unwrap();
        assert_eq!(
            r,
            Records {
                globals: vec![Setting {
                    line: 1,
                    key: "maxretry".into(),
                    value: Some("3".into())
                }],
                sections: vec![RawSection {
                    line: 2,
                    name: "a".into(),
                    settings: vec![
                        Setting {
                            line: 3,
                            key: "x".into(),
                            value: None
                        },
                        Setting {
                            line: 4,
                            key: "y".into(),
                            value: Some(String::new())
                        },
                    ]
                }]
            }
        );
    }

    #[test]
    fn load_reads_the_directory() {
        let dir = std::env::temp_dir().join(format!("hidupsd-ups-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ups.conf"), "[x]\ndriver = usbhid-ups\n").unwrap();
        let c = load(&dir).unwrap();
        assert_eq!(c.ups[0].name, "x");
        std::fs::remove_file(dir.join("ups.conf")).unwrap();
        let e = load(&dir).unwrap_err();
        assert_eq!(e.file, dir.join("ups.conf"));
        assert_eq!(e.line, 0);
        assert!(e.msg.starts_with("cannot read: "), "{}", e.msg);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "[u]\ndriver = blazer_ser\nport = /dev/ttyS0\n",
                "ups.conf:2: [u] driver: 'blazer_ser' is not supported: hidupsd serves USB HID UPSes (driver = usbhid-ups) and Megatec/Q1 units on USB (driver = nutdrv_qx)",
            ),
            (
                "[u]\nport = auto\n",
                "ups.conf:1: [u]: no 'driver' line: write 'driver = usbhid-ups'",
            ),
            (
                "[u]\ndriver = sim\n",
                "ups.conf:2: [u] port: driver = sim needs 'port = PATH' naming a recorded UPS (a fixture directory or a recording file)",
            ),
            (
                "[u]\ndriver = sim\nport = auto\n",
                "ups.conf:3: [u] port: driver = sim needs 'port = PATH' naming a recorded UPS (a fixture directory or a recording file)",
            ),
            (
                "[u]\ndriver = usbhid-ups\nfrobnicate = 1\n",
                "ups.conf:3: [u] frobnicate: unknown option (not a usbhid-ups, USB matching or driver option)",
            ),
            ("frobnicate = 1\n", "ups.conf:1: frobnicate: unknown global option"),
            (
                "driver = usbhid-ups\n",
                "ups.conf:1: driver: must be inside a [name] section; this line comes before the first one",
            ),
            (
                "override.ups.mfr = x\n",
                "ups.conf:1: override.ups.mfr: must be inside a [name] section; this line comes before the first one",
            ),
            (
                "[u]\ndriver = usbhid-ups\nchroot = /x\n",
                "ups.conf:3: [u] chroot: is a global setting: move it above the first [section]",
            ),
            (
                "[u]\ndriver = usbhid-ups\nlowbatt\n",
                "ups.conf:3: [u] lowbatt: needs a value: write 'lowbatt = VALUE'",
            ),
            (
                "[u]\ndriver = usbhid-ups\npollonly = no\n",
                "ups.conf:3: [u] pollonly: is a flag and takes no value; NUT turns it on whatever the value ('no' included): write 'pollonly' alone to turn it on, or remove the line",
            ),
            (
                "[u]\ndriver = usbhid-ups\nport = auto\nPort = auto\n",
                "ups.conf:4: [u] Port: set twice (first at line 3)",
            ),
            (
                "[u]\ndriver = usbhid-ups\n[U]\ndriver = usbhid-ups\n",
                "ups.conf:3: duplicate section [U] (first at line 1; UPS names are case-insensitive)",
            ),
            (
                "[default]\ndriver = usbhid-ups\n",
                "ups.conf:1: [default]: the section name 'default' is reserved by NUT",
            ),
            (
                "[a@b]\ndriver = usbhid-ups\n",
                "ups.conf:1: [a@b]: a UPS name cannot contain '@' (clients address a UPS as name@host:port)",
            ),
            (
                "[u]\ndriver =\n",
                "ups.conf:2: 'driver =' has no value: write 'driver = VALUE' (\"\" for an empty one)",
            ),
            (
                "[u]\ndriver = usbhid-ups\ndesc = My UPS\n",
                "ups.conf:3: unexpected 'UPS' after the value of 'desc': quote values that contain spaces (desc = \"My UPS\")",
            ),
            (
                "[u]\ndriver usbhid-ups\n",
                "ups.conf:2: expected 'driver = value' or a lone flag 'driver', got 'driver usbhid-ups'",
            ),
            ("= x\n", "ups.conf:1: a line cannot start with '=': write 'name = value'"),
            ("[my ups]\n", "ups.conf:1: section names cannot contain spaces: write '[name]'"),
            ("[]\n", "ups.conf:1: empty section name '[]'"),
            (
                "[u]\ndriver = usbhid-ups\npollfreq = 0\n",
                "ups.conf:3: [u] pollfreq: expected a whole number of seconds, at least 1, got '0'",
            ),
            (
                "pollinterval = 2s\n",
                "ups.conf:1: pollinterval: expected a whole number of seconds, at least 1, got '2s'",
            ),
            (
                "maxretry = -1\n",
                "ups.conf:1: maxretry: expected a whole number of attempts, got '-1'",
            ),
            (
                "[u]\ndriver = usbhid-ups\ninterruptsize = 0\n",
                "ups.conf:3: [u] interruptsize: expected a whole number of bytes, at least 1, got '0'",
            ),
            (
                "[u]\ndriver = usbhid-ups\nlowbatt = 101\n",
                "ups.conf:3: [u] lowbatt: expected a percentage from 0 to 100, got '101'",
            ),
            (
                "[u]\ndriver = usbhid-ups\noffdelay = soon\n",
                "ups.conf:3: [u] offdelay: expected a whole number of seconds, got 'soon'",
            ),
            (
                "[u]\ndriver = usbhid-ups\nsdorder = first\n",
                "ups.conf:3: [u] sdorder: expected a whole number (-1: never), got 'first'",
            ),
            (
                "synchronous = maybe\n",
                "ups.conf:1: synchronous: expected auto, yes or no, got 'maybe'",
            ),
            (
                "[u]\ndriver = usbhid-ups\nvendorid = 051d\nsubdriver = apc\n",
                "ups.conf:4: [u] subdriver: needs vendorid and productid in the same section",
            ),
            (
                "[u]\ndriver = usbhid-ups\nsubdriver = \"\"\n",
                "ups.conf:3: [u] subdriver: empty subdriver name",
            ),
            (
                "[u]\ndriver = usbhid-ups\nexplore\n",
                "ups.conf:3: [u] explore: needs vendorid in the same section",
            ),
            (
                "[u]\ndriver = usbhid-ups\nvendorid = 1\nproductid = 2\nsubdriver = mge\nexplore\n",
                "ups.conf:6: [u] explore: cannot be combined with subdriver (explore selects its own)",
            ),
            (
                "[u]\ndriver = usbhid-ups\noverride. = 1\n",
                "ups.conf:3: [u] override.: missing variable name: write 'override.<variable> = VALUE'",
            ),
            (
                "[u]\ndriver = usbhid-ups\ndefault.ups.mfr\n",
                "ups.conf:3: [u] default.ups.mfr: needs a value: write 'default.ups.mfr = VALUE'",
            ),
            (
                "[u]\ndriver = usbhid-ups\ndesc = \"a # b\"\n",
                "ups.conf:3: unescaped '#' inside quotes: write \\# for a literal #, or close the quote before the comment",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), *want, "for {text:?}");
        }
    }
}
