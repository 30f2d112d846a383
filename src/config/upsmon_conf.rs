//! `upsmon.conf`: what to monitor, when to shut down and whom to tell.
//!
//! Read this with NUT's `upsmon.conf(5)` at hand. One directive per line,
//! keyword first, arguments after white space (no `=`):
//! ```text
//! MONITOR myups@localhost 1 upsmon secret primary
//! MINSUPPLIES 1
//! SHUTDOWNCMD "/sbin/shutdown -h +0"
//! NOTIFYFLAG ONBATT SYSLOG+WALL+EXEC
//! NOTIFYMSG ONBATT "UPS %s is on battery"
//! ```
//! Keywords are case-sensitive, as in NUT, except `DEBUG_MIN`; notify
//! type names are matched case-insensitively, notify flags exactly.
//!
//! Differences from NUT: an unknown directive is an error (NUT logs and
//! ignores it), a directive given twice is an error (NUT keeps the last),
//! a duplicate `MONITOR` is an error (NUT ignores it), a `MONITOR` type
//! other than primary/secondary (or master/slave) is an error (NUT takes
//! it as secondary), a `NOTIFYMSG` with a `%` conversion other than `%s`
//! is an error, and `IGNORE` cannot be combined with other notify flags.
//! hidupsd has no TLS: `CERTPATH`, `CERTFILE`, `CERTIDENT`, `CERTHOST`,
//! and `CERTVERIFY 1`/`FORCESSL 1` are refused (`0` is accepted).
//!
//! A file without `MONITOR` lines is what distributions install (Debian's
//! nut-client and NUT's sample set the defaults and leave MONITOR
//! commented out): [`parse`] refuses it, for the commands that need a
//! monitor, while the daemon reads it with [`parse_optional`] as "no
//! monitor" and serves its UPSes ([`NO_MONITOR`] is the line to log).

use super::{parse_int, parse_u32, read, unknown_keyword, ConfigError, Directive, Role};
use std::path::Path;

/// The file's name in the configuration directory.
pub const FILE: &str = "upsmon.conf";

pub const DEFAULT_MINSUPPLIES: u32 = 1;
pub const DEFAULT_POLLFREQ: u32 = 5;
pub const DEFAULT_POLLFREQALERT: u32 = 5;
pub const DEFAULT_HOSTSYNC: u32 = 15;
pub const DEFAULT_DEADTIME: u32 = 15;
pub const DEFAULT_FINALDELAY: u32 = 5;
pub const DEFAULT_RBWARNTIME: u32 = 43200;
pub const DEFAULT_NOCOMMWARNTIME: u32 = 300;
pub const DEFAULT_OFFDURATION: i64 = 30;
pub const DEFAULT_OVERDURATION: i64 = -1;
pub const DEFAULT_OBLBDURATION: u32 = 0;
pub const DEFAULT_POLLFAIL_LOG_THROTTLE_MAX: i64 = -1;
/// Port of a `MONITOR` system without `:port`.
pub const DEFAULT_PORT: u16 = 3493;

/// Every keyword this file knows (one string, not a table of pointers
/// each with its relocation on flash).
const KEYWORDS: &str = "MONITOR MINSUPPLIES SHUTDOWNCMD NOTIFYCMD NOTIFYMSG NOTIFYFLAG POLLFREQ \
     POLLFREQALERT HOSTSYNC DEADTIME FINALDELAY RBWARNTIME NOCOMMWARNTIME \
     POWERDOWNFLAG OFFDURATION OVERDURATION OBLBDURATION ALARMCRITICAL SHUTDOWNEXIT \
     POLLFAIL_LOG_THROTTLE_MAX RUN_AS_USER CERTPATH CERTFILE CERTIDENT CERTHOST \
     CERTVERIFY FORCESSL DEBUG_MIN";

/// A notify type (`NOTIFYMSG`/`NOTIFYFLAG` first argument), in NUT's
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    Online,
    OnBatt,
    LowBatt,
    Fsd,
    CommOk,
    CommBad,
    Shutdown,
    ShutdownHostsync,
    ReplBatt,
    NoComm,
    NoParent,
    Cal,
    NotCal,
    Off,
    NotOff,
    Bypass,
    NotBypass,
    Eco,
    NotEco,
    Alarm,
    NotAlarm,
    Over,
    NotOver,
    Trim,
    NotTrim,
    Boost,
    NotBoost,
    Other,
    NotOther,
    SuspendStarting,
    SuspendFinished,
    SuspendTimejumpUnexpected,
}

/// `NAME<TAB>default message` lines, in `Event as usize` order (one
/// string, not 64 pointers each with its relocation on flash).
#[rustfmt::skip]
const EVENTS: &str = "\
ONLINE\tUPS %s on line power\n\
ONBATT\tUPS %s on battery\n\
LOWBATT\tUPS %s battery is low\n\
FSD\tUPS %s: forced shutdown in progress\n\
COMMOK\tCommunications with UPS %s established\n\
COMMBAD\tCommunications with UPS %s lost\n\
SHUTDOWN\tAuto logout and shutdown proceeding\n\
SHUTDOWN_HOSTSYNC\tShutdown initiated; primary system is waiting for secondaries to log out or time out\n\
REPLBATT\tUPS %s battery needs to be replaced\n\
NOCOMM\tUPS %s is unavailable\n\
NOPARENT\tupsmon parent process died - shutdown impossible\n\
CAL\tUPS %s: calibration in progress\n\
NOTCAL\tUPS %s: calibration finished\n\
OFF\tUPS %s: administratively OFF or asleep\n\
NOTOFF\tUPS %s: no longer administratively OFF or asleep\n\
BYPASS\tUPS %s: on bypass (powered, not protecting)\n\
NOTBYPASS\tUPS %s: no longer on bypass\n\
ECO\tUPS %s: in ECO mode (as defined by vendor)\n\
NOTECO\tUPS %s: no longer in ECO mode\n\
ALARM\tUPS %s: one or more active alarms: [%s]\n\
NOTALARM\tUPS %s is no longer in an alarm state (no active alarms)\n\
OVER\tUPS %s: overloaded\n\
NOTOVER\tUPS %s: no longer overloaded\n\
TRIM\tUPS %s: trimming incoming voltage\n\
NOTTRIM\tUPS %s: no longer trimming incoming voltage\n\
BOOST\tUPS %s: boosting incoming voltage\n\
NOTBOOST\tUPS %s: no longer boosting incoming voltage\n\
OTHER\tUPS %s: has at least one unclassified status token: [%s]\n\
NOTOTHER\tUPS %s has no unclassified status tokens anymore\n\
SUSPEND_STARTING\tOS is entering sleep/suspend/hibernate mode\n\
SUSPEND_FINISHED\tOS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown\n\
SUSPEND_TIMEJUMP_UNEXPECTED\tUnexpected clock change by %s, treating as wake up from sleep";

impl Event {
    pub const COUNT: usize = 32;
    pub const ALL: [Event; Event::COUNT] = [
        Event::Online,
        Event::OnBatt,
        Event::LowBatt,
        Event::Fsd,
        Event::CommOk,
        Event::CommBad,
        Event::Shutdown,
        Event::ShutdownHostsync,
        Event::ReplBatt,
        Event::NoComm,
        Event::NoParent,
        Event::Cal,
        Event::NotCal,
        Event::Off,
        Event::NotOff,
        Event::Bypass,
        Event::NotBypass,
        Event::Eco,
        Event::NotEco,
        Event::Alarm,
        Event::NotAlarm,
        Event::Over,
        Event::NotOver,
        Event::Trim,
        Event::NotTrim,
        Event::Boost,
        Event::NotBoost,
        Event::Other,
        Event::NotOther,
        Event::SuspendStarting,
        Event::SuspendFinished,
        Event::SuspendTimejumpUnexpected,
    ];

    /// NUT's name (`ONBATT`).
    pub fn name(self) -> &'static str {
        self.entry().0
    }

    /// NUT's stock message; `%s` is the `MONITOR` system (for ALARM and
    /// OTHER, the second `%s` is the alarm or token text).
    pub fn default_message(self) -> &'static str {
        self.entry().1
    }

    fn entry(self) -> (&'static str, &'static str) {
        EVENTS
            .split('\n')
            .nth(self as usize)
            .and_then(|l| l.split_once('\t'))
            .unwrap_or(("", ""))
    }

    /// By name, case-insensitively.
    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL
            .iter()
            .copied()
            .find(|e| e.name().eq_ignore_ascii_case(s))
    }

    /// How many `%s` a message may hold.
    pub fn max_args(self) -> usize {
        match self {
            Event::Alarm | Event::Other => 2,
            _ => 1,
        }
    }
}

/// `NOTIFYFLAG` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyFlags {
    pub syslog: bool,
    pub wall: bool,
    pub exec: bool,
    pub ignore: bool,
}

impl NotifyFlags {
    /// `SYSLOG+WALL`, NUT's default for every event.
    pub const DEFAULT: NotifyFlags = NotifyFlags {
        syslog: true,
        wall: true,
        exec: false,
        ignore: false,
    };
}

impl Default for NotifyFlags {
    fn default() -> NotifyFlags {
        NotifyFlags::DEFAULT
    }
}

/// `SHUTDOWNEXIT`: what upsmon does after running `SHUTDOWNCMD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownExit {
    /// `yes` or `0` (the default): exit at once.
    Immediately,
    /// `no` or a negative number: keep running.
    Never,
    /// A positive number: exit after this many seconds, staying logged in
    /// meanwhile.
    After(u32),
}

/// One `MONITOR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorLine {
    pub line: usize,
    /// `ups[@host[:port]]` as written: the `%s` of notify messages.
    pub system: String,
    pub ups: String,
    /// `localhost` when not given; an IPv6 address without its brackets.
    pub host: String,
    pub port: u16,
    /// How many of this host's power supplies the UPS feeds; 0 = monitor only.
    pub powervalue: u32,
    pub user: String,
    pub password: String,
    pub role: Role,
}

impl MonitorLine {
    /// Whether the entry names this host (`localhost`, `127.0.0.1`, `::1`,
    /// or no host at all).
    pub fn is_loopback(&self) -> bool {
        let h = &self.host;
        h.eq_ignore_ascii_case("localhost") || h == "127.0.0.1" || h == "::1"
    }

    /// Whether `system` gives a port (`ups@host:port`, `ups@[v6]:port`).
    pub fn port_written(&self) -> bool {
        let Some((_, host)) = self.system.split_once('@') else {
            return false;
        };
        match host.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => host.matches(':').count() == 1,
        }
    }

    /// Where a client on this host reaches the entry's server: as
    /// written, except that an entry for this host without a port is
    /// this host's server wherever upsd.conf's `listen` puts it (its
    /// first LISTEN on a loopback or wildcard address, else its first
    /// LISTEN), not necessarily on 3493.
    pub fn connect_to(&self, listen: &[super::upsd_conf::Listen]) -> (String, u16) {
        use super::upsd_conf::ListenAddr;
        if !self.is_loopback() || self.port_written() || listen.is_empty() {
            return (self.host.clone(), self.port);
        }
        let near = |l: &&super::upsd_conf::Listen| match &l.addr {
            ListenAddr::Any => true,
            ListenAddr::Ip(ip) => ip.is_loopback() || ip.is_unspecified(),
            ListenAddr::Host(h) => h.eq_ignore_ascii_case("localhost"),
        };
        let l = listen.iter().find(near).unwrap_or(&listen[0]);
        let host = match &l.addr {
            ListenAddr::Any => self.host.clone(),
            ListenAddr::Ip(ip) if ip.is_unspecified() => self.host.clone(),
            ListenAddr::Ip(ip) => ip.to_string(),
            ListenAddr::Host(h) => h.clone(),
        };
        (host, l.port)
    }
}

/// The whole file, with NUT's defaults for what is not set. Times are in
/// seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsmonConf {
    /// In file order; at least one.
    pub monitors: Vec<MonitorLine>,
    pub minsupplies: u32,
    /// Words of `SHUTDOWNCMD`; see [`shell_command`].
    pub shutdowncmd: Option<Vec<String>>,
    /// Words of `NOTIFYCMD`: program, then arguments; the message is
    /// passed after them.
    pub notifycmd: Option<Vec<String>>,
    /// `NOTIFYMSG` lines, in file order; see [`UpsmonConf::message`].
    pub notifymsg: Vec<(Event, String)>,
    /// `NOTIFYFLAG` lines, in file order; see [`UpsmonConf::flags`].
    pub notifyflag: Vec<(Event, NotifyFlags)>,
    pub pollfreq: u32,
    pub pollfreqalert: u32,
    pub hostsync: u32,
    pub deadtime: u32,
    pub finaldelay: u32,
    pub rbwarntime: u32,
    pub nocommwarntime: u32,
    pub powerdownflag: Option<String>,
    /// Negative: OFF never counts as "not fed".
    pub offduration: i64,
    /// Negative: OVER with lost communication is never critical.
    pub overduration: i64,
    pub oblbduration: u32,
    pub alarmcritical: bool,
    pub shutdownexit: ShutdownExit,
    /// Negative: never throttle; 0: log start and end only.
    pub pollfail_log_throttle_max: i64,
    pub run_as_user: Option<String>,
    pub debug_min: Option<u32>,
    /// Nothing is ignored with a warning in this file yet; kept for
    /// symmetry with the other files.
    pub warnings: Vec<ConfigError>,
}

impl UpsmonConf {
    /// The message for `ev`: its `NOTIFYMSG`, else NUT's stock text.
    pub fn message(&self, ev: Event) -> &str {
        self.notifymsg
            .iter()
            .find(|(e, _)| *e == ev)
            .map_or(ev.default_message(), |(_, m)| m.as_str())
    }

    /// The flags for `ev`: its `NOTIFYFLAG`, else `SYSLOG+WALL`.
    pub fn flags(&self, ev: Event) -> NotifyFlags {
        self.notifyflag
            .iter()
            .find(|(e, _)| *e == ev)
            .map_or(NotifyFlags::DEFAULT, |(_, f)| *f)
    }

    /// Sum of the power values of all monitored UPSes.
    pub fn total_power(&self) -> u64 {
        self.monitors.iter().map(|m| u64::from(m.powervalue)).sum()
    }
}

/// The shell command line for `SHUTDOWNCMD` words, as upsmon builds it:
/// the first word as written (it may hold a whole command line), each
/// later word single-quoted.
pub fn shell_command(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i == 0 {
            out.push_str(w);
        } else {
            out.push_str(" '");
            out.push_str(&w.replace('\'', "'\\''"));
            out.push('\'');
        }
    }
    out
}

/// The program a shell command line starts, when it can be told without
/// running the shell: the first word, past `exec`/`command`; `None` for
/// a shell builtin or a line with quoting, expansions or redirections
/// in its first word (nothing to check then).
pub fn command_program(line: &str) -> Option<&str> {
    const BUILTINS: &[&str] = &[
        ":", ".", "true", "false", "echo", "printf", "test", "[", "eval", "exit", "kill", "cd",
        "set", "trap", "wait", "if", "for", "while", "case", "{", "(",
    ];
    let mut words = line.split_ascii_whitespace();
    let mut w = words.next()?;
    while w == "exec" || w == "command" {
        w = words.next()?;
        // Their options (`command -p`).
        while w.starts_with('-') {
            w = words.next()?;
        }
    }
    let special = |c: char| "$`'\"\\;|&<>(){}*?[~=".contains(c);
    if BUILTINS.contains(&w) || w.contains(special) {
        return None;
    }
    Some(w)
}

/// Where `program` would be found: itself when it names a path, else
/// the first directory of `path` (a `PATH` value) that has it. `is_exec`
/// says whether a file exists and may be run (the caller's file-system
/// check; this function is pure).
pub fn find_program(
    program: &str,
    path: &str,
    is_exec: &dyn Fn(&Path) -> bool,
) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_exec(p).then(|| p.to_path_buf());
    }
    path.split(':')
        .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(program))
        .find(|p| is_exec(p))
}

/// A warning when `SHUTDOWNCMD`'s program cannot be found (as `PATH`
/// gives it to the shell), for the caller to log at start and on reload:
/// a host that cannot run it would not power off. NUT's examples use
/// `/usr/sbin/nutshutdown`, which belongs to NUT's upsmon package.
pub fn shutdowncmd_warning(
    c: &UpsmonConf,
    path: &str,
    is_exec: &dyn Fn(&Path) -> bool,
) -> Option<String> {
    let line = shell_command(c.shutdowncmd.as_deref()?);
    let prog = command_program(&line)?;
    if find_program(prog, path, is_exec).is_some() {
        return None;
    }
    let hint = if prog.ends_with("/nutshutdown") || prog == "nutshutdown" {
        " (nutshutdown comes with NUT's upsmon package; with hidupsd, \
         SHUTDOWNCMD is the system's own, such as \"/sbin/shutdown -h +0\" or /sbin/poweroff)"
    } else {
        ""
    };
    Some(format!(
        "SHUTDOWNCMD: '{prog}' is not an executable program here{hint}: \
         the host would not shut down when the UPS is critical"
    ))
}

/// Read `dir/upsmon.conf`.
pub fn load(dir: &Path) -> Result<UpsmonConf, ConfigError> {
    let (path, bytes) = read(dir, FILE)?;
    parse(&path, &bytes)
}

/// What the daemon logs, after the file's name, when `upsmon.conf` has
/// no `MONITOR` line.
pub const NO_MONITOR: &str = "no MONITOR line: no UPS is monitored and hidupsd will not \
     shut this host down (the UPSes are served all the same)";

/// Read `dir/upsmon.conf` as the daemon does ([`parse_optional`]).
pub fn load_optional(dir: &Path) -> Result<Option<UpsmonConf>, ConfigError> {
    let (path, bytes) = read(dir, FILE)?;
    parse_optional(&path, &bytes)
}

/// Parse `upsmon.conf` as the daemon does: `None` when the file has no
/// `MONITOR` line (the rest is still checked: an error is an error).
pub fn parse_optional(file: &Path, text: &[u8]) -> Result<Option<UpsmonConf>, ConfigError> {
    let parsed = parse_directives(file, text)?;
    if parsed.0.monitors.is_empty() {
        return Ok(None);
    }
    check_power(file, parsed).map(Some)
}

/// Parse the text of `upsmon.conf`; `file` is used in messages. A file
/// without a `MONITOR` line is an error here.
pub fn parse(file: &Path, text: &[u8]) -> Result<UpsmonConf, ConfigError> {
    let parsed = parse_directives(file, text)?;
    if parsed.0.monitors.is_empty() {
        return Err(ConfigError::new(
            file,
            0,
            "no MONITOR line: write 'MONITOR <ups>@localhost 1 <user> <password> primary'",
        ));
    }
    check_power(file, parsed)
}

/// What upsmon writes into its power-down flag file; a file at
/// POWERDOWNFLAG that does not start with it is not upsmon's.
pub const FLAG_CONTENT: &[u8] = b"upsmon-shutdown-file";

/// What the late power kill (`hidupsd killpower`, NUT's `upsmon -K`)
/// finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerKill {
    /// No upsmon.conf, or one without POWERDOWNFLAG: nothing to look for.
    NoFlagConfigured,
    /// No file at POWERDOWNFLAG: no power failure shut this host down.
    NoFlag(String),
    /// A file there that upsmon did not write (empty, or anything else):
    /// left alone, as the daemon leaves it at start.
    NotUpsmons(String),
    /// The flag upsmon writes: cut the power.
    Kill(String),
}

/// Decide the power kill from upsmon.conf's text (`None`: no file) and
/// the flag file's contents (`flag` reads it; `None`: no such file). A
/// file without MONITOR lines (Debian's stock one has POWERDOWNFLAG and
/// no MONITOR) monitors nothing but may still name the flag; any other
/// error in the file is an error.
pub fn power_kill(
    file: &Path,
    text: Option<&[u8]>,
    flag: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<PowerKill, ConfigError> {
    let Some(text) = text else {
        return Ok(PowerKill::NoFlagConfigured);
    };
    let Some(path) = parse_directives(file, text)?.0.powerdownflag else {
        return Ok(PowerKill::NoFlagConfigured);
    };
    Ok(match flag(&path) {
        None => PowerKill::NoFlag(path),
        Some(b) if b.starts_with(FLAG_CONTENT) => PowerKill::Kill(path),
        Some(_) => PowerKill::NotUpsmons(path),
    })
}

/// Every directive, checked one by one; and the line of MINSUPPLIES.
fn parse_directives(file: &Path, text: &[u8]) -> Result<(UpsmonConf, Option<usize>), ConfigError> {
    let mut c = UpsmonConf {
        monitors: Vec::new(),
        minsupplies: DEFAULT_MINSUPPLIES,
        shutdowncmd: None,
        notifycmd: None,
        notifymsg: Vec::new(),
        notifyflag: Vec::new(),
        pollfreq: DEFAULT_POLLFREQ,
        pollfreqalert: DEFAULT_POLLFREQALERT,
        hostsync: DEFAULT_HOSTSYNC,
        deadtime: DEFAULT_DEADTIME,
        finaldelay: DEFAULT_FINALDELAY,
        rbwarntime: DEFAULT_RBWARNTIME,
        nocommwarntime: DEFAULT_NOCOMMWARNTIME,
        powerdownflag: None,
        offduration: DEFAULT_OFFDURATION,
        overduration: DEFAULT_OVERDURATION,
        oblbduration: DEFAULT_OBLBDURATION,
        alarmcritical: true,
        shutdownexit: ShutdownExit::Immediately,
        pollfail_log_throttle_max: DEFAULT_POLLFAIL_LOG_THROTTLE_MAX,
        run_as_user: None,
        debug_min: None,
        warnings: Vec::new(),
    };
    // First line of each single-valued directive, by keyword.
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    let mut minsupplies_line = None;
    // First line of each NOTIFYMSG / NOTIFYFLAG event.
    let mut msg_lines = [None; Event::COUNT];
    let mut flag_lines = [None; Event::COUNT];
    let lines = super::lex_file(file, text)?;
    for line in &lines {
        let d = Directive { file, line };
        let name = d.name();
        if name.eq_ignore_ascii_case("DEBUG_MIN") {
            once(&d, "DEBUG_MIN", &mut seen)?;
            c.debug_min = Some(d.u32("DEBUG_MIN <level>", "levels", 0)?);
            continue;
        }
        let Some(keyword) = KEYWORDS.split(' ').find(|k| *k == name) else {
            return Err(d.plain(unknown_keyword(name, KEYWORDS, FILE)));
        };
        if !matches!(keyword, "MONITOR" | "NOTIFYMSG" | "NOTIFYFLAG") {
            once(&d, keyword, &mut seen)?;
        }
        // A number of seconds, at least `min`: one parse for them all.
        let seconds = match keyword {
            "POLLFREQ" => Some((&mut c.pollfreq, 1)),
            "POLLFREQALERT" => Some((&mut c.pollfreqalert, 1)),
            "HOSTSYNC" => Some((&mut c.hostsync, 0)),
            "DEADTIME" => Some((&mut c.deadtime, 0)),
            "FINALDELAY" => Some((&mut c.finaldelay, 0)),
            "RBWARNTIME" => Some((&mut c.rbwarntime, 0)),
            "NOCOMMWARNTIME" => Some((&mut c.nocommwarntime, 0)),
            "OBLBDURATION" => Some((&mut c.oblbduration, 0)),
            _ => None,
        };
        if let Some((field, min)) = seconds {
            *field = d.u32(&format!("{keyword} <seconds>"), "seconds", min)?;
            continue;
        }
        // Seconds, negative for never.
        let signed = match keyword {
            "OFFDURATION" => Some(&mut c.offduration),
            "OVERDURATION" => Some(&mut c.overduration),
            _ => None,
        };
        if let Some(field) = signed {
            *field = d.int(
                &format!("{keyword} <seconds>"),
                "a whole number of seconds (negative: never)",
            )?;
            continue;
        }
        match keyword {
            "MONITOR" => {
                let m = monitor(&d)?;
                if let Some(first) = c.monitors.iter().find(|o| {
                    o.ups == m.ups && o.host.eq_ignore_ascii_case(&m.host) && o.port == m.port
                }) {
                    return Err(d.err(format_args!(
                        "{} is already monitored (line {})",
                        m.system, first.line
                    )));
                }
                c.monitors.push(m);
            }
            "MINSUPPLIES" => {
                c.minsupplies = d.u32("MINSUPPLIES <count>", "power supplies", 0)?;
                minsupplies_line = Some(line.line);
            }
            "SHUTDOWNCMD" => {
                c.shutdowncmd = Some(d.some("SHUTDOWNCMD \"<command>\"")?.to_vec());
            }
            "NOTIFYCMD" => {
                c.notifycmd = Some(d.some("NOTIFYCMD <program> [<args>...]")?.to_vec());
            }
            "NOTIFYMSG" => {
                let a = d.exact(2, "NOTIFYMSG <type> \"<message>\"")?;
                let ev = event(&d, &a[0])?;
                once_event(&d, ev, &mut msg_lines)?;
                check_format(&d, ev, &a[1])?;
                c.notifymsg.push((ev, a[1].clone()));
            }
            "NOTIFYFLAG" => {
                let a = d.exact(2, "NOTIFYFLAG <type> <flag>[+<flag>...]")?;
                let ev = event(&d, &a[0])?;
                once_event(&d, ev, &mut flag_lines)?;
                c.notifyflag.push((ev, notify_flags(&d, &a[1])?));
            }
            "POWERDOWNFLAG" => {
                c.powerdownflag = Some(d.one("POWERDOWNFLAG <file>")?.to_string());
            }
            "ALARMCRITICAL" => c.alarmcritical = d.bool("ALARMCRITICAL <0|1>")?,
            "SHUTDOWNEXIT" => c.shutdownexit = shutdownexit(&d)?,
            "POLLFAIL_LOG_THROTTLE_MAX" => {
                c.pollfail_log_throttle_max = d.int(
                    "POLLFAIL_LOG_THROTTLE_MAX <count>",
                    "a whole number (-1: no throttling)",
                )?;
            }
            "RUN_AS_USER" => c.run_as_user = Some(d.one("RUN_AS_USER <user>")?.to_string()),
            "CERTVERIFY" | "FORCESSL" => {
                if d.bool(&format!("{keyword} 0"))? {
                    return Err(d.err(NO_TLS));
                }
            }
            // CERTPATH, CERTFILE, CERTIDENT, CERTHOST (the numbers are above)
            _ => return Err(d.err(NO_TLS)),
        }
    }
    Ok((c, minsupplies_line))
}

/// The power values must reach MINSUPPLIES.
fn check_power(
    file: &Path,
    (c, minsupplies_line): (UpsmonConf, Option<usize>),
) -> Result<UpsmonConf, ConfigError> {
    if c.total_power() < u64::from(c.minsupplies) {
        let msg = format!(
            "MINSUPPLIES: the MONITOR power values add up to {}, fewer than MINSUPPLIES {}{}; \
             lower MINSUPPLIES (0 monitors without ever shutting down) or raise a power value",
            c.total_power(),
            c.minsupplies,
            if minsupplies_line.is_none() {
                " (the default)"
            } else {
                ""
            },
        );
        return Err(ConfigError::new(file, minsupplies_line.unwrap_or(0), msg));
    }
    Ok(c)
}

const NO_TLS: &str = "TLS is not built into hidupsd: remove the certificate settings";

fn once(
    d: &Directive,
    keyword: &'static str,
    seen: &mut Vec<(&'static str, usize)>,
) -> Result<(), ConfigError> {
    let mut slot = seen.iter().find(|(k, _)| *k == keyword).map(|(_, l)| *l);
    d.once(&mut slot)?;
    seen.push((keyword, d.line.line));
    Ok(())
}

fn once_event(
    d: &Directive,
    ev: Event,
    lines: &mut [Option<usize>; Event::COUNT],
) -> Result<(), ConfigError> {
    if let Some(first) = lines[ev as usize] {
        return Err(d.err(format_args!(
            "{} is set twice (first at line {first})",
            ev.name()
        )));
    }
    lines[ev as usize] = Some(d.line.line);
    Ok(())
}

fn event(d: &Directive, s: &str) -> Result<Event, ConfigError> {
    Event::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        d.err(format_args!(
            "unknown notify type '{s}' (expected one of {})",
            names.join(", ")
        ))
    })
}

fn check_format(d: &Directive, ev: Event, msg: &str) -> Result<(), ConfigError> {
    let mut args = 0;
    let mut it = msg.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        match it.next() {
            Some('%') => {}
            Some('s') => args += 1,
            _ => {
                return Err(d.err(format_args!(
                    "only %s (the UPS) and %% may follow '%' in a message: \"{msg}\""
                )))
            }
        }
    }
    if args > ev.max_args() {
        return Err(d.err(format_args!(
            "the {} message takes at most {} %s, got {args}",
            ev.name(),
            ev.max_args()
        )));
    }
    Ok(())
}

fn notify_flags(d: &Directive, s: &str) -> Result<NotifyFlags, ConfigError> {
    let mut f = NotifyFlags {
        syslog: false,
        wall: false,
        exec: false,
        ignore: false,
    };
    for word in s.split('+') {
        match word {
            "SYSLOG" => f.syslog = true,
            "WALL" => f.wall = true,
            "EXEC" => f.exec = true,
            "IGNORE" => f.ignore = true,
            _ => {
                return Err(d.err(format_args!(
                    "unknown flag '{word}' in '{s}' (expected SYSLOG, WALL, EXEC or IGNORE, \
                     joined with '+')"
                )))
            }
        }
    }
    if f.ignore && (f.syslog || f.wall || f.exec) {
        return Err(d.err(format_args!(
            "IGNORE cannot be combined with other flags: '{s}'"
        )));
    }
    Ok(f)
}

fn shutdownexit(d: &Directive) -> Result<ShutdownExit, ConfigError> {
    let v = d.one("SHUTDOWNEXIT <yes|no|seconds>")?;
    if let Some(n) = parse_int(v).filter(|n| i32::try_from(*n).is_ok()) {
        return Ok(match n {
            0 => ShutdownExit::Immediately,
            n if n < 0 => ShutdownExit::Never,
            n => ShutdownExit::After(n as u32),
        });
    }
    match super::parse_bool(v) {
        Some(true) => Ok(ShutdownExit::Immediately),
        Some(false) => Ok(ShutdownExit::Never),
        None => Err(d.err(format_args!(
            "expected yes, no or a number of seconds, got '{v}'"
        ))),
    }
}

fn monitor(d: &Directive) -> Result<MonitorLine, ConfigError> {
    const USAGE: &str = "MONITOR <ups>@<host> <powervalue> <user> <password> <primary|secondary>";
    let args = d.args();
    if args.len() == 4 && args[0] != "=" && Role::parse(&args[3]).is_some() {
        return Err(d.err(format_args!(
            "the old form without a user name is not accepted: write '{USAGE}'"
        )));
    }
    let a = d.exact(5, USAGE)?;
    let (ups, host, port) = split_system(&a[0]).map_err(|m| d.err(m))?;
    let powervalue = parse_u32(&a[1], 0).ok_or_else(|| {
        d.err(format_args!(
            "expected a power value (a whole number, 0 to only monitor), got '{}'",
            a[1]
        ))
    })?;
    if a[2].is_empty() || a[3].is_empty() {
        return Err(d.err(format_args!("empty user name or password: write '{USAGE}'")));
    }
    let role = Role::parse(&a[4]).ok_or_else(|| {
        d.err(format_args!(
            "expected primary or secondary (or the legacy master or slave), got '{}'",
            a[4]
        ))
    })?;
    Ok(MonitorLine {
        line: d.line.line,
        system: a[0].clone(),
        ups,
        host,
        port,
        powervalue,
        user: a[2].clone(),
        password: a[3].clone(),
        role,
    })
}

/// `ups[@host[:port]]`, with `[v6addr]` for IPv6 hosts.
fn split_system(s: &str) -> Result<(String, String, u16), String> {
    let Some((ups, hostport)) = s.split_once('@') else {
        if s.contains(':') {
            return Err(format!(
                "'{s}' has a port but no host: write 'ups@localhost:port'"
            ));
        }
        if s.is_empty() {
            return Err("empty UPS name".into());
        }
        return Ok((s.to_string(), "localhost".to_string(), DEFAULT_PORT));
    };
    if ups.is_empty() {
        return Err(format!("'{s}' has no UPS name before '@'"));
    }
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some((h, after)) = rest.split_once(']') else {
            return Err(format!("'{s}': missing ']' after the IPv6 address"));
        };
        match after {
            "" => (h, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err(format!("'{s}': expected ':port' after ']'")),
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) if p.contains(':') || h.is_empty() => {
                return Err(format!(
                    "'{s}': write an IPv6 address in brackets: ups@[::1]:3493"
                ))
            }
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("'{s}' has no host after '@'"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => parse_u32(p, 1)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("'{s}': expected a port from 1 to 65535, got '{p}'"))?,
    };
    Ok((ups.to_string(), host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_or_local_monitor_reaches_this_hosts_listen_port() {
        use crate::config::upsd_conf;
        let listen = |text: &str| {
            upsd_conf::parse(Path::new("upsd.conf"), text.as_bytes())
                .unwrap()
                .listen
        };
        let mon = |sys: &str| {
            parse(
                Path::new("upsmon.conf"),
                format!("MONITOR {sys} 1 m p primary\n").as_bytes(),
            )
            .unwrap()
            .monitors
            .remove(0)
        };
        let to = |sys: &str, l: &str| {
            let (h, p) = mon(sys).connect_to(&listen(l));
            format!("{h} {p}")
        };
        let l = "LISTEN 192.168.1.2 3500\nLISTEN 127.0.0.1 3494\n";
        assert_eq!(to("ups", l), "127.0.0.1 3494");
        assert_eq!(to("ups@localhost", l), "127.0.0.1 3494");
        assert_eq!(to("ups@[::1]", l), "127.0.0.1 3494");
        assert_eq!(to("ups@localhost", "LISTEN ::1 3495\n"), "::1 3495");
        assert_eq!(to("ups", "LISTEN * 3496\n"), "localhost 3496");
        assert_eq!(
            to("ups@127.0.0.1", "LISTEN 0.0.0.0 3497\n"),
            "127.0.0.1 3497"
        );
        // Only a LAN address: that is where this host's server is.
        assert_eq!(to("ups", "LISTEN 192.168.1.2 3500\n"), "192.168.1.2 3500");
        // A port written, another host, or no LISTEN: as written.
        assert_eq!(to("ups@localhost:3493", l), "localhost 3493");
        assert_eq!(to("ups@127.0.0.1:3600", l), "127.0.0.1 3600");
        assert_eq!(to("ups@nas", l), "nas 3493");
        assert_eq!(to("ups", ""), "localhost 3493");
        assert!(mon("ups@[::1]:3600").port_written());
        assert!(!mon("ups@[::1]").port_written());
        assert!(!mon("ups").port_written() && mon("ups").is_loopback());
    }

    #[test]
    fn power_kill_reads_the_flag_as_the_daemon_does() {
        let f = Path::new("upsmon.conf");
        let none = |_: &str| None;
        let magic = |_: &str| Some(b"upsmon-shutdown-file\n".to_vec());
        assert_eq!(power_kill(f, None, &magic), Ok(PowerKill::NoFlagConfigured));
        assert_eq!(
            power_kill(f, Some(MON.as_bytes()), &magic),
            Ok(PowerKill::NoFlagConfigured)
        );
        // Debian's stock file: settings, POWERDOWNFLAG, no MONITOR.
        let debian = b"MINSUPPLIES 1\nSHUTDOWNCMD \"/sbin/shutdown -h +0\"\nPOLLFREQ 5\n\
                       POWERDOWNFLAG /etc/killpower\nFINALDELAY 5\n";
        assert!(parse(f, debian).is_err());
        assert_eq!(
            power_kill(f, Some(debian), &none),
            Ok(PowerKill::NoFlag("/etc/killpower".into()))
        );
        assert_eq!(
            power_kill(f, Some(debian), &magic),
            Ok(PowerKill::Kill("/etc/killpower".into()))
        );
        for junk in [&b""[..], b"\n", b"hello", b"upsmon-shutdown"] {
            let junk = junk.to_vec();
            assert_eq!(
                power_kill(f, Some(debian), &move |_: &str| Some(junk.clone())),
                Ok(PowerKill::NotUpsmons("/etc/killpower".into()))
            );
        }
        // A broken file is still an error.
        let e = power_kill(f, Some(b"POWERDOWNFLAG /a\nBOGUS 1\n"), &none).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn shutdowncmd_program_is_checked_where_it_can_be() {
        for (line, want) in [
            ("/sbin/poweroff", Some("/sbin/poweroff")),
            ("/sbin/shutdown -h +0", Some("/sbin/shutdown")),
            ("  exec poweroff -f", Some("poweroff")),
            ("command -p halt", Some("halt")),
            ("echo bye > /dev/console", None),
            ("\"/opt/my tool\" now", None),
            ("$HOME/bin/off", None),
            ("X=1 poweroff", None),
            ("", None),
        ] {
            assert_eq!(command_program(line), want, "{line:?}");
        }
        let have = |p: &Path| {
            ["/sbin/poweroff", "/usr/bin/systemctl", "./here"].contains(&p.to_str().unwrap())
        };
        let path = "/usr/local/bin:/usr/bin::/sbin";
        assert_eq!(
            find_program("systemctl", path, &have),
            Some("/usr/bin/systemctl".into())
        );
        assert_eq!(
            find_program("poweroff", path, &have),
            Some("/sbin/poweroff".into())
        );
        assert_eq!(find_program("here", path, &have), Some("./here".into()));
        assert_eq!(
            find_program("/sbin/poweroff", "", &have),
            Some("/sbin/poweroff".into())
        );
        assert_eq!(find_program("/usr/sbin/poweroff", path, &have), None);
        assert_eq!(find_program("halt", path, &have), None);

        let conf = |cmd: &str| {
            parse(
                Path::new("upsmon.conf"),
                format!("MONITOR u@localhost 1 m p primary\nSHUTDOWNCMD {cmd}\n").as_bytes(),
            )
            .unwrap()
        };
        let w = shutdowncmd_warning(&conf("/usr/sbin/nutshutdown"), path, &have).unwrap();
        assert!(
            w.starts_with("SHUTDOWNCMD: '/usr/sbin/nutshutdown' is not an executable program here (nutshutdown comes with NUT's upsmon package"),
            "{w}"
        );
        let w = shutdowncmd_warning(&conf("\"halt -p\""), path, &have).unwrap();
        assert_eq!(
            w,
            "SHUTDOWNCMD: 'halt' is not an executable program here: the host would not shut \
             down when the UPS is critical"
        );
        assert_eq!(
            shutdowncmd_warning(&conf("\"systemctl poweroff\""), path, &have),
            None
        );
        assert_eq!(
            shutdowncmd_warning(&conf("/sbin/poweroff"), path, &have),
            None
        );
        let none = parse(Path::new("upsmon.conf"), b"MONITOR u 1 m p secondary\n").unwrap();
        assert_eq!(shutdowncmd_warning(&none, path, &have), None);
    }

    fn conf(text: &str) -> UpsmonConf {
        parse(Path::new("upsmon.conf"), text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> String {
        parse(Path::new("upsmon.conf"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    const MON: &str = "MONITOR ups@localhost 1 mon pw primary\n";

    /// The ArchWiki's single line: everything else is NUT's default.
    #[test]
    fn archwiki_monitor_line() {
        let c = conf("MONITOR upsname@localhost 1 upsduser password primary\n");
        assert_eq!(
            c.monitors,
            vec![MonitorLine {
                line: 1,
                system: "upsname@localhost".into(),
                ups: "upsname".into(),
                host: "localhost".into(),
                port: 3493,
                powervalue: 1,
                user: "upsduser".into(),
                password: "password".into(),
                role: Role::Primary,
            }]
        );
        assert_eq!(c.minsupplies, 1);
        assert_eq!(c.shutdowncmd, None);
        assert_eq!(c.notifycmd, None);
        assert_eq!(c.notifymsg, vec![]);
        assert_eq!(c.notifyflag, vec![]);
        assert_eq!(
            (
                c.pollfreq,
                c.pollfreqalert,
                c.hostsync,
                c.deadtime,
                c.finaldelay
            ),
            (5, 5, 15, 15, 5)
        );
        assert_eq!((c.rbwarntime, c.nocommwarntime), (43200, 300));
        assert_eq!(c.powerdownflag, None);
        assert_eq!((c.offduration, c.overduration, c.oblbduration), (30, -1, 0));
        assert!(c.alarmcritical);
        assert_eq!(c.shutdownexit, ShutdownExit::Immediately);
        assert_eq!(c.pollfail_log_throttle_max, -1);
        assert_eq!(c.run_as_user, None);
        assert_eq!(c.debug_min, None);
        assert_eq!(c.warnings, vec![]);
        assert_eq!(c.message(Event::OnBatt), "UPS %s on battery");
        assert_eq!(c.flags(Event::OnBatt), NotifyFlags::DEFAULT);
    }

    /// A distribution-style file setting every directive.
    #[test]
    fn every_directive() {
        let c = conf(
            r#"RUN_AS_USER nut
MONITOR myups@localhost 1 upsmon "pass word" master
MONITOR other@nas.lan:3494 2 upsmon pass2 slave
MONITOR v6@[fe80::1]:3495 0 upsmon pass3 secondary
MINSUPPLIES 2
SHUTDOWNCMD "/sbin/shutdown -h +0"
NOTIFYCMD /usr/sbin/upssched --quiet
POLLFREQ 10
POLLFREQALERT 2
HOSTSYNC 20
DEADTIME 30
POWERDOWNFLAG /etc/killpower
NOTIFYMSG ONLINE "UPS %s back on mains, 100%% fine"
NOTIFYMSG alarm "%s alarms: %s"
NOTIFYFLAG ONLINE SYSLOG+WALL+EXEC
NOTIFYFLAG ONBATT EXEC
NOTIFYFLAG LOWBATT IGNORE
RBWARNTIME 3600
NOCOMMWARNTIME 600
FINALDELAY 0
OFFDURATION -1
OVERDURATION 60
OBLBDURATION 10
ALARMCRITICAL 0
SHUTDOWNEXIT 30
POLLFAIL_LOG_THROTTLE_MAX 100
CERTVERIFY 0
FORCESSL 0
DEBUG_MIN 2
"#,
        );
        assert_eq!(c.monitors.len(), 3);
        assert_eq!(c.monitors[0].password, "pass word");
        assert_eq!(c.monitors[0].role, Role::Primary);
        assert_eq!(
            c.monitors[1],
            MonitorLine {
                line: 3,
                system: "other@nas.lan:3494".into(),
                ups: "other".into(),
                host: "nas.lan".into(),
                port: 3494,
                powervalue: 2,
                user: "upsmon".into(),
                password: "pass2".into(),
                role: Role::Secondary,
            }
        );
        assert_eq!(
            (
                c.monitors[2].host.as_str(),
                c.monitors[2].port,
                c.monitors[2].powervalue
            ),
            ("fe80::1", 3495, 0)
        );
        assert_eq!(c.total_power(), 3);
        assert_eq!(c.minsupplies, 2);
        assert_eq!(
            c.shutdowncmd,
            Some(vec!["/sbin/shutdown -h +0".to_string()])
        );
        assert_eq!(
            c.notifycmd,
            Some(vec![
                "/usr/sbin/upssched".to_string(),
                "--quiet".to_string()
            ])
        );
        assert_eq!(
            (
                c.pollfreq,
                c.pollfreqalert,
                c.hostsync,
                c.deadtime,
                c.finaldelay
            ),
            (10, 2, 20, 30, 0)
        );
        assert_eq!(c.powerdownflag.as_deref(), Some("/etc/killpower"));
        assert_eq!(c.message(Event::Online), "UPS %s back on mains, 100%% fine");
        assert_eq!(c.message(Event::Alarm), "%s alarms: %s");
        assert_eq!(c.message(Event::OnBatt), "UPS %s on battery");
        assert_eq!(
            c.flags(Event::Online),
            NotifyFlags {
                syslog: true,
                wall: true,
                exec: true,
                ignore: false
            }
        );
        assert_eq!(
            c.flags(Event::OnBatt),
            NotifyFlags {
                syslog: false,
                wall: false,
                exec: true,
                ignore: false
            }
        );
        assert_eq!(
            c.flags(Event::LowBatt),
            NotifyFlags {
                syslog: false,
                wall: false,
                exec: false,
                ignore: true
            }
        );
        assert_eq!(c.flags(Event::Fsd), NotifyFlags::DEFAULT);
        assert_eq!((c.rbwarntime, c.nocommwarntime), (3600, 600));
        assert_eq!(
            (c.offduration, c.overduration, c.oblbduration),
            (-1, 60, 10)
        );
        assert!(!c.alarmcritical);
        assert_eq!(c.shutdownexit, ShutdownExit::After(30));
        assert_eq!(c.pollfail_log_throttle_max, 100);
        assert_eq!(c.run_as_user.as_deref(), Some("nut"));
        assert_eq!(c.debug_min, Some(2));
    }

    #[test]
    fn monitor_systems() {
        let sys = |s: &str| split_system(s);
        assert_eq!(sys("ups"), Ok(("ups".into(), "localhost".into(), 3493)));
        assert_eq!(sys("ups@h"), Ok(("ups".into(), "h".into(), 3493)));
        assert_eq!(
            sys("ups@10.0.0.2:1234"),
            Ok(("ups".into(), "10.0.0.2".into(), 1234))
        );
        assert_eq!(
            sys("ups@[::1]:3494"),
            Ok(("ups".into(), "::1".into(), 3494))
        );
        assert_eq!(
            sys("ups@[fe80::1]"),
            Ok(("ups".into(), "fe80::1".into(), 3493))
        );
        assert_eq!(
            sys("ups:3493"),
            Err("'ups:3493' has a port but no host: write 'ups@localhost:port'".into())
        );
        assert_eq!(sys("@h"), Err("'@h' has no UPS name before '@'".into()));
        assert_eq!(sys("ups@"), Err("'ups@' has no host after '@'".into()));
        assert_eq!(sys(""), Err("empty UPS name".into()));
        assert_eq!(
            sys("ups@::1"),
            Err("'ups@::1': write an IPv6 address in brackets: ups@[::1]:3493".into())
        );
        assert_eq!(
            sys("ups@[::1"),
            Err("'ups@[::1': missing ']' after the IPv6 address".into())
        );
        assert_eq!(
            sys("ups@[::1]3493"),
            Err("'ups@[::1]3493': expected ':port' after ']'".into())
        );
        assert_eq!(
            sys("ups@h:0"),
            Err("'ups@h:0': expected a port from 1 to 65535, got '0'".into())
        );
        assert_eq!(
            sys("ups@h:http"),
            Err("'ups@h:http': expected a port from 1 to 65535, got 'http'".into())
        );
    }

    #[test]
    fn shutdownexit_forms() {
        let x = |v: &str| conf(&format!("{MON}SHUTDOWNEXIT {v}\n")).shutdownexit;
        assert_eq!(x("yes"), ShutdownExit::Immediately);
        assert_eq!(x("0"), ShutdownExit::Immediately);
        assert_eq!(x("no"), ShutdownExit::Never);
        assert_eq!(x("-5"), ShutdownExit::Never);
        assert_eq!(x("1"), ShutdownExit::After(1));
        assert_eq!(x("ON"), ShutdownExit::Immediately);
    }

    #[test]
    fn shutdown_command_line() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shell_command(&w(&["/sbin/shutdown -h +0"])),
            "/sbin/shutdown -h +0"
        );
        assert_eq!(
            shell_command(&w(&["/usr/bin/systemctl", "poweroff", "it's time"])),
            "/usr/bin/systemctl 'poweroff' 'it'\\''s time'"
        );
        assert_eq!(shell_command(&[]), "");
    }

    #[test]
    fn events() {
        assert_eq!(Event::ALL.len(), Event::COUNT);
        // One line per event, each with a name and a message.
        assert_eq!(EVENTS.split('\n').count(), Event::COUNT);
        for (i, e) in Event::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
            assert!(!e.name().is_empty() && !e.default_message().is_empty());
            assert_eq!(Event::parse(e.name()), Some(*e));
            assert_eq!(Event::parse(&e.name().to_ascii_lowercase()), Some(*e));
        }
        assert_eq!(Event::parse("ONBAT"), None);
        assert_eq!(Event::ShutdownHostsync.name(), "SHUTDOWN_HOSTSYNC");
        assert_eq!(
            Event::SuspendTimejumpUnexpected.name(),
            "SUSPEND_TIMEJUMP_UNEXPECTED"
        );
        assert_eq!(
            Event::Fsd.default_message(),
            "UPS %s: forced shutdown in progress"
        );
        assert_eq!(
            Event::Alarm.default_message(),
            "UPS %s: one or more active alarms: [%s]"
        );
        assert_eq!(Event::Alarm.max_args(), 2);
        assert_eq!(Event::NotAlarm.max_args(), 1);
        // Every stock message passes the check applied to NOTIFYMSG.
        for e in Event::ALL {
            let text = format!("{MON}NOTIFYMSG {} \"{}\"\n", e.name(), e.default_message());
            assert_eq!(conf(&text).message(e), e.default_message());
        }
    }

    #[test]
    fn without_monitor_lines_the_daemon_has_no_monitor() {
        let f = Path::new("upsmon.conf");
        // Debian's nut-client file (and NUT's sample): defaults, no MONITOR.
        let debian = "# MONITOR myups@localhost 1 upsmon pass primary\nMINSUPPLIES 1\n\
                      SHUTDOWNCMD \"/sbin/shutdown -h +0\"\nPOLLFREQ 5\nPOLLFREQALERT 5\n\
                      HOSTSYNC 15\nDEADTIME 15\nPOWERDOWNFLAG /etc/killpower\n\
                      RBWARNTIME 43200\nNOCOMMWARNTIME 300\nFINALDELAY 5\n";
        for text in ["", "# all comments\n\n   # here too\n", debian] {
            assert_eq!(parse_optional(f, text.as_bytes()), Ok(None), "{text:?}");
            assert!(parse(f, text.as_bytes()).is_err());
        }
        // Errors are still errors.
        assert_eq!(
            parse_optional(f, b"POLLFREQ 0\n").unwrap_err().to_string(),
            "upsmon.conf:1: POLLFREQ: expected a whole number of seconds, at least 1, got '0'"
        );
        assert_eq!(
            parse_optional(f, b"MONITOR ups@localhost 0 mon pw primary\n")
                .unwrap_err()
                .line,
            0
        );
        // With a MONITOR line, the same as parse.
        assert_eq!(
            parse_optional(f, MON.as_bytes()).unwrap(),
            Some(parse(f, MON.as_bytes()).unwrap())
        );
        assert!(NO_MONITOR.starts_with("no MONITOR line"));
    }

    #[test]
    fn load_reads_the_directory() {
        let dir = std::env::temp_dir().join(format!("hidupsd-upsmon-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("upsmon.conf"), MON).unwrap();
        assert_eq!(load(&dir).unwrap().monitors[0].ups, "ups");
        std::fs::remove_file(dir.join("upsmon.conf")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn errors() {
        let no_tls = "TLS is not built into hidupsd: remove the certificate settings";
        let cases: Vec<(String, String)> = vec![
            (
                "# nothing\nPOLLFREQ 5\n".into(),
                "upsmon.conf: no MONITOR line: write 'MONITOR <ups>@localhost 1 <user> <password> primary'".into(),
            ),
            (
                "MONITOR ups@localhost 0 mon pw primary\n".into(),
                "upsmon.conf: MINSUPPLIES: the MONITOR power values add up to 0, fewer than MINSUPPLIES 1 (the default); lower MINSUPPLIES (0 monitors without ever shutting down) or raise a power value".into(),
            ),
            (
                format!("{MON}MINSUPPLIES 2\n"),
                "upsmon.conf:2: MINSUPPLIES: the MONITOR power values add up to 1, fewer than MINSUPPLIES 2; lower MINSUPPLIES (0 monitors without ever shutting down) or raise a power value".into(),
            ),
            (
                "MONITOR ups@localhost 1 pw primary\n".into(),
                "upsmon.conf:1: MONITOR: the old form without a user name is not accepted: write 'MONITOR <ups>@<host> <powervalue> <user> <password> <primary|secondary>'".into(),
            ),
            (
                "MONITOR ups@localhost 1 mon pw\n".into(),
                "upsmon.conf:1: MONITOR: expected 5 values, got 4: write 'MONITOR <ups>@<host> <powervalue> <user> <password> <primary|secondary>'".into(),
            ),
            (
                "MONITOR ups@localhost 1 mon pw primary extra\n".into(),
                "upsmon.conf:1: MONITOR: unexpected 'extra' after the value (quote values that contain spaces): write 'MONITOR <ups>@<host> <powervalue> <user> <password> <primary|secondary>'".into(),
            ),
            (
                "MONITOR ups@localhost one mon pw primary\n".into(),
                "upsmon.conf:1: MONITOR: expected a power value (a whole number, 0 to only monitor), got 'one'".into(),
            ),
            (
                "MONITOR ups@localhost 1 mon pw boss\n".into(),
                "upsmon.conf:1: MONITOR: expected primary or secondary (or the legacy master or slave), got 'boss'".into(),
            ),
            (
                "MONITOR ups@localhost 1 \"\" pw primary\n".into(),
                "upsmon.conf:1: MONITOR: empty user name or password: write 'MONITOR <ups>@<host> <powervalue> <user> <password> <primary|secondary>'".into(),
            ),
            (
                "MONITOR ups:3493 1 mon pw primary\n".into(),
                "upsmon.conf:1: MONITOR: 'ups:3493' has a port but no host: write 'ups@localhost:port'".into(),
            ),
            (
                format!("{MON}MONITOR ups@LOCALHOST:3493 1 mon pw secondary\n"),
                "upsmon.conf:2: MONITOR: ups@LOCALHOST:3493 is already monitored (line 1)".into(),
            ),
            (
                format!("{MON}monitor x@y 1 a b primary\n"),
                "upsmon.conf:2: unknown directive 'monitor': upsmon.conf keywords are case-sensitive, write 'MONITOR'".into(),
            ),
            (
                format!("{MON}SHUTDOWN_CMD x\n"),
                "upsmon.conf:2: unknown directive 'SHUTDOWN_CMD' in upsmon.conf".into(),
            ),
            (
                format!("{MON}POLLFREQ 5\nPOLLFREQ 10\n"),
                "upsmon.conf:3: POLLFREQ: set twice (first at line 2)".into(),
            ),
            (
                format!("{MON}POLLFREQ 0\n"),
                "upsmon.conf:2: POLLFREQ: expected a whole number of seconds, at least 1, got '0'".into(),
            ),
            (
                format!("{MON}DEADTIME = 15\n"),
                "upsmon.conf:2: DEADTIME: this file takes no '=' between keyword and value: write 'DEADTIME <seconds>'".into(),
            ),
            (
                format!("{MON}HOSTSYNC\n"),
                "upsmon.conf:2: HOSTSYNC: missing value: write 'HOSTSYNC <seconds>'".into(),
            ),
            (
                format!("{MON}OFFDURATION soon\n"),
                "upsmon.conf:2: OFFDURATION: expected a whole number of seconds (negative: never), got 'soon'".into(),
            ),
            (
                format!("{MON}OBLBDURATION -1\n"),
                "upsmon.conf:2: OBLBDURATION: expected a whole number of seconds, got '-1'".into(),
            ),
            (
                format!("{MON}ALARMCRITICAL 2\n"),
                "upsmon.conf:2: ALARMCRITICAL: expected a boolean (yes/no, true/false, on/off, 1/0), got '2'".into(),
            ),
            (
                format!("{MON}SHUTDOWNEXIT later\n"),
                "upsmon.conf:2: SHUTDOWNEXIT: expected yes, no or a number of seconds, got 'later'".into(),
            ),
            (
                format!("{MON}SHUTDOWNCMD\n"),
                "upsmon.conf:2: SHUTDOWNCMD: missing value: write 'SHUTDOWNCMD \"<command>\"'".into(),
            ),
            (
                format!("{MON}SHUTDOWNCMD \"\"\n"),
                "upsmon.conf:2: SHUTDOWNCMD: missing value: write 'SHUTDOWNCMD \"<command>\"'".into(),
            ),
            (
                format!("{MON}NOTIFYMSG ONBATT On battery\n"),
                "upsmon.conf:2: NOTIFYMSG: unexpected 'battery' after the value (quote values that contain spaces): write 'NOTIFYMSG <type> \"<message>\"'".into(),
            ),
            (
                format!("{MON}NOTIFYMSG ONBATT \"%d on battery\"\n"),
                "upsmon.conf:2: NOTIFYMSG: only %s (the UPS) and %% may follow '%' in a message: \"%d on battery\"".into(),
            ),
            (
                format!("{MON}NOTIFYMSG ONBATT \"%s %s\"\n"),
                "upsmon.conf:2: NOTIFYMSG: the ONBATT message takes at most 1 %s, got 2".into(),
            ),
            (
                format!("{MON}NOTIFYMSG ONBATT \"100%\"\n"),
                "upsmon.conf:2: NOTIFYMSG: only %s (the UPS) and %% may follow '%' in a message: \"100%\"".into(),
            ),
            (
                format!("{MON}NOTIFYMSG ONBATT \"a\"\nNOTIFYMSG onbatt \"b\"\n"),
                "upsmon.conf:3: NOTIFYMSG: ONBATT is set twice (first at line 2)".into(),
            ),
            (
                format!("{MON}NOTIFYFLAG ONBAT SYSLOG\n"),
                format!(
                    "upsmon.conf:2: NOTIFYFLAG: unknown notify type 'ONBAT' (expected one of {})",
                    Event::ALL.map(|e| e.name()).join(", ")
                ),
            ),
            (
                format!("{MON}NOTIFYFLAG ONBATT SYSLOG+wall\n"),
                "upsmon.conf:2: NOTIFYFLAG: unknown flag 'wall' in 'SYSLOG+wall' (expected SYSLOG, WALL, EXEC or IGNORE, joined with '+')".into(),
            ),
            (
                format!("{MON}NOTIFYFLAG ONBATT SYSLOG+\n"),
                "upsmon.conf:2: NOTIFYFLAG: unknown flag '' in 'SYSLOG+' (expected SYSLOG, WALL, EXEC or IGNORE, joined with '+')".into(),
            ),
            (
                format!("{MON}NOTIFYFLAG ONBATT SYSLOG + WALL\n"),
                "upsmon.conf:2: NOTIFYFLAG: unexpected '+' after the value (quote values that contain spaces): write 'NOTIFYFLAG <type> <flag>[+<flag>...]'".into(),
            ),
            (
                format!("{MON}NOTIFYFLAG ONBATT IGNORE+SYSLOG\n"),
                "upsmon.conf:2: NOTIFYFLAG: IGNORE cannot be combined with other flags: 'IGNORE+SYSLOG'".into(),
            ),
            (
                format!("{MON}NOTIFYFLAG FSD WALL\nNOTIFYFLAG FSD EXEC\n"),
                "upsmon.conf:3: NOTIFYFLAG: FSD is set twice (first at line 2)".into(),
            ),
            (
                format!("{MON}CERTPATH /etc/nut/certs\n"),
                format!("upsmon.conf:2: CERTPATH: {no_tls}"),
            ),
            (
                format!("{MON}CERTIDENT \"my name\" pw\n"),
                format!("upsmon.conf:2: CERTIDENT: {no_tls}"),
            ),
            (
                format!("{MON}CERTHOST localhost \"nut server\" 1 1\n"),
                format!("upsmon.conf:2: CERTHOST: {no_tls}"),
            ),
            (format!("{MON}FORCESSL 1\n"), format!("upsmon.conf:2: FORCESSL: {no_tls}")),
            (format!("{MON}CERTVERIFY yes\n"), format!("upsmon.conf:2: CERTVERIFY: {no_tls}")),
            (
                format!("{MON}RUN_AS_USER\n"),
                "upsmon.conf:2: RUN_AS_USER: missing value: write 'RUN_AS_USER <user>'".into(),
            ),
            (
                format!("{MON}POWERDOWNFLAG /etc/kill power\n"),
                "upsmon.conf:2: POWERDOWNFLAG: unexpected 'power' after the value (quote values that contain spaces): write 'POWERDOWNFLAG <file>'".into(),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(&text), want, "for {text:?}");
        }
    }
}
