//! What the daemon is to do, resolved from its command line and the
//! configuration directory before any socket opens: the UPSes to serve,
//! the listening addresses, the server's limits, the users, the built-in
//! monitor's `upsmon.conf`, and who to run as.
//!
//! Boundary: the files are read through each file module's `load`; what
//! needs the system or a device is asked of the caller through
//! [`Shell`]: making a UPS's data source (a simulated recording, or a USB
//! matcher), resolving a `LISTEN` host name, logging a warning. So the
//! order of errors and warnings is the files' order, and the resolution
//! itself can be tested with a fake shell. What a reload (SIGHUP) changes
//! at once and what waits for a restart is [`plan`]'s.

use super::upsmon_conf::{self, UpsmonConf};
use super::{nut_conf, ups_conf, upsd_conf, upsd_users, ConfigError};
use crate::proto::users::Users;
use crate::ups::options::Options;
use crate::ups::select;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Most listening addresses (the daemon's listener tokens are
/// `0..MAX_LISTENERS`).
pub const MAX_LISTENERS: usize = 64;

/// The daemon's command line (`hidupsd --simulate ... --listen ... -c DIR`).
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// `[NAME=]PATH` of recorded UPSes to serve.
    pub simulate: Vec<String>,
    /// Script files (`--script FILE`), each with the index in `simulate`
    /// of the UPS it drives.
    pub scripts: Vec<(usize, PathBuf)>,
    /// `ADDR:PORT` to listen on, replacing upsd.conf's `LISTEN` lines.
    pub listen: Vec<String>,
    /// A NUT configuration directory (upsd.conf, upsd.users, ups.conf).
    pub confdir: Option<PathBuf>,
    /// `-u USER`: who to run as once the sockets are open (else ups.conf's
    /// `user`, else upsmon.conf's RUN_AS_USER; else nobody changes).
    pub user: Option<String>,
}

/// Reconnection back-off, as ups.conf's `retrydelay` and `maxretry` set
/// it (the worker's schedule follows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    /// `retrydelay`: a fixed delay between attempts. Without it the delay
    /// doubles from 1 s up to 30 s.
    pub fixed_ms: Option<u64>,
    /// `maxretry`: timed attempts before only a hot-plugged device
    /// brings the UPS back. Without it attempts never stop.
    pub max_tries: Option<u32>,
}

impl Retry {
    /// The delay before the next attempt after `failures` failed ones.
    pub fn delay_ms(&self, failures: u32) -> u64 {
        self.fixed_ms
            .unwrap_or_else(|| (1000u64 << failures.min(5)).min(30_000))
    }
}

/// Whether and why USB devices are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Only simulated UPSes are served.
    Off,
    /// ups.conf has usbhid-ups sections: devices go to them.
    Configured,
    /// Nothing is configured: every UPS found is served.
    Adopt,
}

/// What the resolution asks of its caller: the parts that need the
/// system or a device, and the log.
pub trait Shell {
    /// Where a UPS's data comes from, as the caller builds it.
    type Source;
    /// A recording at `path` (its `scripts` loaded into it) to simulate.
    fn sim(
        &mut self,
        path: &Path,
        scripts: &[&Path],
        opts: &Options,
        retry: Retry,
    ) -> Result<Self::Source, String>;
    /// A `driver = usbhid-ups` section: the first USB UPS `matching` and
    /// `port` accept.
    fn usb(
        &mut self,
        matching: &ups_conf::Match,
        port: &str,
        retry: Retry,
    ) -> Result<Self::Source, String>;
    /// The first address of host name `host` (upsd takes the first).
    fn resolve(&mut self, host: &str, port: u16) -> Option<IpAddr>;
    /// A configuration warning, to be logged.
    fn warn(&mut self, w: &ConfigError);
}

/// One UPS to serve, as configured.
pub struct UpsSpec<S> {
    pub name: String,
    pub desc: Option<String>,
    pub source: S,
    pub opts: Options,
}

/// Everything the loop needs, read and checked before any socket opens.
pub struct Setup<S> {
    pub upses: Vec<UpsSpec<S>>,
    pub discovery: Discovery,
    /// Addresses, and whether failing to bind one is fatal.
    pub listen: Vec<(SocketAddr, bool)>,
    pub maxconn: usize,
    pub maxage_ms: u64,
    pub trackingdelay_ms: u64,
    pub idle_ms: u64,
    /// `LOGIN_FAILURES`: 0 for no limit.
    pub login_failures: u32,
    /// `MAXCONN_PER_SOURCE` and `MAXCONN_NETWORK`, for admission.
    pub limits: crate::proto::admission::Limits,
    pub users: Users,
    /// Whether `upsd.users` was there: a reload without it keeps the
    /// running users rather than remove them all.
    pub users_file: bool,
    /// `upsmon.conf`, when the configuration directory has one: the
    /// built-in monitor.
    pub upsmon: Option<UpsmonConf>,
    /// `ups.conf` as read (a reload compares its sections).
    pub ups_conf: Option<ups_conf::UpsConf>,
    /// Serve UPSes (listeners, devices); false for nut.conf's
    /// `MODE=netclient`: the monitor only.
    pub serve: bool,
    /// Where nut.conf set MODE (`file:line MODE=...`), for the log.
    pub mode: Option<String>,
    /// Who to run as after opening the sockets: user and group names.
    pub run_as: Option<(String, Option<String>)>,
}

/// Read the configuration files and recordings `args` name. Errors name
/// the file and line (`file:line: msg`). With no UPS configured at all,
/// every USB UPS found is served.
pub fn load<S: Shell>(args: &Args, shell: &mut S) -> Result<Setup<S::Source>, String> {
    let mut upsd = upsd_conf::UpsdConf::default();
    let mut upsd_file = PathBuf::from(upsd_conf::FILE);
    let mut users = Users::default();
    let mut users_file = false;
    let mut upses = Vec::new();
    let mut usb = false;
    let mut upsmon: Option<UpsmonConf> = None;
    let mut ups_file = None;
    let (mut user, mut group) = (None, None);
    let (mut serve, mut mode) = (true, None);
    if let Some(dir) = &args.confdir {
        if !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        // A missing file means its defaults: no users, no UPS.
        let have = |f: &str| dir.join(f).exists();
        // nut.conf's MODE, as NUT's service scripts read it: none starts
        // nothing, netclient only the monitor. Without the file, serve.
        if let Some(n) = nut_conf::load(dir)? {
            let file = dir.join(nut_conf::FILE);
            let plan = n.mode.plan(&file, n.line, have(upsmon_conf::FILE))?;
            serve = plan.serve;
            mode = Some(format!(
                "{}:{}: MODE={}",
                file.display(),
                n.line,
                n.mode.name()
            ));
        }
        if !serve {
            if let Some(opt) = [("--simulate", &args.simulate), ("--listen", &args.listen)]
                .iter()
                .find_map(|(o, v)| (!v.is_empty()).then_some(o))
            {
                return Err(format!(
                    "{}: this host only monitors, and {opt} would serve UPSes: \
                     set MODE=standalone or netserver to serve",
                    mode.as_deref().unwrap_or_default()
                ));
            }
        }
        // A monitor-only host reads neither the server's files nor
        // ups.conf: they are a server's (NUT's netclient starts upsmon
        // alone).
        if serve && have(upsd_conf::FILE) {
            upsd_file = dir.join(upsd_conf::FILE);
            upsd = upsd_conf::load(dir)?;
            warn_all(shell, &upsd.warnings);
        }
        if serve && have(upsd_users::FILE) {
            let u = upsd_users::load(dir)?;
            warn_all(shell, &u.warnings);
            if let Some(w) = upsd_users::world_readable(dir) {
                shell.warn(&w);
            }
            users = u.into_users();
            users_file = true;
        }
        if serve && have(ups_conf::FILE) {
            let c = ups_conf::load(dir)?;
            warn_all(shell, &c.warnings);
            user.clone_from(&c.globals.user);
            group.clone_from(&c.globals.group);
            let file = dir.join(ups_conf::FILE);
            for s in &c.ups {
                usb |= matches!(s.driver, ups_conf::Driver::UsbHid);
                upses.push(from_section(shell, dir, &file, &c.globals, s)?);
            }
            ups_file = Some(c);
        }
        if have(upsmon_conf::FILE) {
            // Without a MONITOR line (a distribution's stock file): no
            // monitor, said once; the UPSes are served all the same.
            match upsmon_conf::load_optional(dir)? {
                Some(m) => {
                    warn_all(shell, &m.warnings);
                    upsmon = Some(m);
                }
                // A monitor-only host with nothing to monitor would do
                // nothing at all: refused, as without upsmon.conf.
                None if !serve => {
                    return Err(format!(
                        "{}: {}: MODE=netclient runs the monitor only, and there is \
                         nothing to monitor",
                        dir.join(upsmon_conf::FILE).display(),
                        "no MONITOR line"
                    ))
                }
                None => shell.warn(&ConfigError::new(
                    &dir.join(upsmon_conf::FILE),
                    0,
                    upsmon_conf::NO_MONITOR,
                )),
            }
        }
    }
    for (i, spec) in args.simulate.iter().enumerate() {
        let (name, path) = split_simulate(spec)?;
        let mut scripts: Vec<&Path> = Vec::new();
        for (n, s) in &args.scripts {
            if *n == i {
                scripts.push(s);
            }
        }
        let opts = Options::default();
        let source = shell.sim(&path, &scripts, &opts, Retry::default())?;
        upses.push(UpsSpec {
            name,
            desc: None,
            source,
            opts,
        });
    }
    let discovery = if !serve {
        Discovery::Off
    } else if upses.is_empty() {
        Discovery::Adopt
    } else if usb {
        Discovery::Configured
    } else {
        Discovery::Off
    };
    for (i, u) in upses.iter().enumerate() {
        if upses[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&u.name))
        {
            return Err(format!(
                "two UPSes are called '{}' (names are case-insensitive): \
                 name one with --simulate NAME=PATH",
                u.name
            ));
        }
    }
    let listen = if !serve {
        Vec::new()
    } else if !args.listen.is_empty() {
        let mut v = Vec::new();
        for a in &args.listen {
            let addr = a.parse::<SocketAddr>().map_err(|_| {
                format!("--listen '{a}': expected ADDR:PORT (127.0.0.1:3493, [::1]:3493)")
            })?;
            v.push((addr, true));
        }
        v
    } else {
        listen_plan(shell, &upsd, &upsd_file)?
    };
    if listen.len() > MAX_LISTENERS {
        return Err(format!("more than {MAX_LISTENERS} listening addresses"));
    }
    Ok(Setup {
        upses,
        discovery,
        listen,
        maxconn: upsd.maxconn as usize,
        maxage_ms: u64::from(upsd.maxage) * 1000,
        trackingdelay_ms: u64::from(upsd.trackingdelay) * 1000,
        idle_ms: u64::from(upsd.idle_timeout) * 1000,
        login_failures: upsd.login_failures,
        limits: upsd.limits(),
        users,
        users_file,
        run_as: args
            .user
            .clone()
            .or(user)
            .or_else(|| upsmon.as_ref().and_then(|m| m.run_as_user.clone()))
            .map(|u| (u, group)),
        upsmon,
        ups_conf: ups_file,
        serve,
        mode,
    })
}

/// A `ups.conf` section: `driver = sim` simulates the recording at `port`
/// (relative to the configuration directory, as NUT's dummy-ups reads
/// it), its script included; `driver = usbhid-ups` waits for a USB
/// device its matching options accept.
fn from_section<S: Shell>(
    shell: &mut S,
    dir: &Path,
    file: &Path,
    globals: &ups_conf::Globals,
    s: &ups_conf::UpsSection,
) -> Result<UpsSpec<S::Source>, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}:{}: [{}] {e}", file.display(), s.line, s.name);
    let opts = ups_conf::engine_options(s);
    let source = match &s.driver {
        ups_conf::Driver::Sim(p) => {
            let path = dir.join(p);
            shell
                .sim(&path, &[], &opts, retry(globals, s))
                .map_err(|e| at(&format_args!("port: {e}")))?
        }
        ups_conf::Driver::UsbHid => {
            let source = shell
                .usb(&s.matching, &s.port, retry(globals, s))
                .map_err(|e| at(&e))?;
            if let Some(sd) = &opts.subdriver {
                if select::by_name(sd).is_none() {
                    return Err(at(&format_args!("subdriver: unknown subdriver '{sd}'")));
                }
            }
            source
        }
    };
    Ok(UpsSpec {
        name: s.name.clone(),
        desc: s.desc.clone(),
        source,
        opts,
    })
}

/// Reconnection back-off: `retrydelay` and `maxretry` when ups.conf sets
/// them (in the section or globally), else doubling delays without end.
/// upsdrvctl reads them for driver start-up; a daemon that outlives its
/// devices uses them for every reconnection.
pub fn retry(g: &ups_conf::Globals, s: &ups_conf::UpsSection) -> Retry {
    let set = |k: &str| s.raw.iter().chain(&g.raw).any(|(n, _)| n == k);
    Retry {
        fixed_ms: set("retrydelay").then(|| u64::from(s.retrydelay.max(1)) * 1000),
        max_tries: set("maxretry").then_some(s.maxretry.max(1)),
    }
}

/// `[NAME=]PATH`: without a name, the file or directory name with
/// anything but letters, digits, `.`, `_` and `-` replaced by `_`.
pub fn split_simulate(spec: &str) -> Result<(String, PathBuf), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some((name, path)) = spec.split_once('=') {
        if !name.contains('/') {
            if name.is_empty() || !name.chars().all(ok) {
                return Err(format!(
                    "--simulate '{spec}': a UPS name is letters, digits, '.', '_' and '-'"
                ));
            }
            return Ok((name.to_string(), PathBuf::from(path)));
        }
    }
    let path = PathBuf::from(spec);
    // The whole name, extension included, as the manual says: `ups.rec`
    // and `ups.txt` stay two UPSes.
    let name: String = path
        .file_name()
        .map(|b| {
            b.to_string_lossy()
                .chars()
                .map(|c| if ok(c) { c } else { '_' })
                .collect()
        })
        .unwrap_or_default();
    if name.is_empty() {
        return Err(format!(
            "--simulate '{spec}': cannot make a UPS name from it: use NAME=PATH"
        ));
    }
    Ok((name, path))
}

/// upsd.conf's listeners. Without `LISTEN`, the loopback defaults, each
/// optional; a loopback address may always fail (upsd tolerates that);
/// any other only with `ALLOW_NOT_ALL_LISTENERS`.
fn listen_plan<S: Shell>(
    shell: &mut S,
    c: &upsd_conf::UpsdConf,
    file: &Path,
) -> Result<Vec<(SocketAddr, bool)>, String> {
    if c.listen.is_empty() {
        return Ok(vec![
            ((Ipv4Addr::LOCALHOST, upsd_conf::DEFAULT_PORT).into(), false),
            ((Ipv6Addr::LOCALHOST, upsd_conf::DEFAULT_PORT).into(), false),
        ]);
    }
    let mut out = Vec::new();
    for l in &c.listen {
        // One address, or two for `*` (no list allocated per line).
        let addrs: [Option<IpAddr>; 2] = match &l.addr {
            upsd_conf::ListenAddr::Ip(ip) => [Some(*ip), None],
            upsd_conf::ListenAddr::Any => [
                Some(Ipv4Addr::UNSPECIFIED.into()),
                Some(Ipv6Addr::UNSPECIFIED.into()),
            ],
            upsd_conf::ListenAddr::Host(h) => {
                let first = shell.resolve(h, l.port).ok_or_else(|| {
                    format!(
                        "{}:{}: LISTEN: cannot resolve '{h}'",
                        file.display(),
                        l.line
                    )
                })?;
                [Some(first), None]
            }
        };
        for ip in addrs.into_iter().flatten() {
            let required = !c.allow_not_all_listeners && !ip.is_loopback();
            out.push((SocketAddr::new(ip, l.port), required));
        }
    }
    Ok(out)
}

/// What runs, as a reload compares it with the configuration read again.
#[derive(Debug, Clone, Copy)]
pub struct Running<'a> {
    /// Addresses listened on.
    pub bound: &'a [SocketAddr],
    /// Client slots (MAXCONN as capped at start), and the cap.
    pub slots: usize,
    pub max_slots: usize,
    /// The UPSes the configuration gave (not adopted ones).
    pub configured: &'a [String],
    /// Every UPS served, configured or adopted.
    pub served: &'a [&'a str],
    /// `LOGIN_FAILURES` in force (`None`: no limit).
    pub login_limit: Option<u32>,
    /// Users in force.
    pub users: usize,
    /// `ups.conf` as the running UPSes were started with.
    pub ups_conf: Option<&'a ups_conf::UpsConf>,
    pub upsmon: Option<&'a UpsmonConf>,
}

/// What a reload does. Users, MAXAGE, TRACKINGDELAY and IDLE_TIMEOUT
/// always apply at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    /// What becomes of the users.
    pub users: UsersPlan,
    /// `LOGIN_FAILURES` changed: a new limit (its counts start afresh).
    pub new_login_limit: bool,
    /// What waits for a restart, to be logged, in this order.
    pub at_restart: Vec<AtRestart>,
    /// The new configuration's UPSes to start (indices into its
    /// `upses`): those no UPS of that name is served for yet.
    pub added: Vec<usize>,
    /// `upsmon.conf` changed: rebuild the monitor.
    pub new_monitor: bool,
}

/// upsd.users at a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersPlan {
    /// The new users apply.
    Apply,
    /// The new file has no users: they apply (every login refused), said.
    ApplyEmpty,
    /// The file is gone: the `running` users stay (a file moved away by
    /// mistake must not refuse every upsmon), said.
    KeepMissing { running: usize },
}

/// A change that takes effect at restart only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtRestart {
    Listen,
    Maxconn,
    /// A UPS no longer in the configuration: served until restart.
    Removed(String),
    /// A running UPS's section changed (these options; none: global
    /// settings it takes): it keeps its settings until restart.
    Changed {
        name: String,
        options: Vec<String>,
    },
}

impl fmt::Display for AtRestart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtRestart::Listen => f.write_str("new LISTEN addresses take effect at restart"),
            AtRestart::Maxconn => f.write_str("MAXCONN takes effect at restart"),
            AtRestart::Removed(name) => {
                write!(f, "{name} is no longer configured: served until restart")
            }
            AtRestart::Changed { name, options } if options.is_empty() => write!(
                f,
                "{name}: changed (global settings it takes): takes effect at restart"
            ),
            AtRestart::Changed { name, options } => write!(
                f,
                "{name}: changed ({}): takes effect at restart",
                options.join(", ")
            ),
        }
    }
}

/// Compare what runs with `new`, the configuration read again.
pub fn plan<S>(running: &Running, new: &Setup<S>) -> ReloadPlan {
    let burst = (new.login_failures > 0).then_some(new.login_failures);
    let mut at_restart = Vec::new();
    if new.listen.iter().any(|(a, _)| !running.bound.contains(a)) {
        at_restart.push(AtRestart::Listen);
    }
    if new.maxconn.min(running.max_slots) != running.slots {
        at_restart.push(AtRestart::Maxconn);
    }
    for name in running.configured {
        if !new.upses.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
            at_restart.push(AtRestart::Removed(name.clone()));
        }
    }
    if let (Some(was), Some(is)) = (running.ups_conf, &new.ups_conf) {
        for (name, options) in was.changed_sections(is) {
            at_restart.push(AtRestart::Changed {
                name: name.to_string(),
                options,
            });
        }
    }
    let mut added = Vec::new();
    for (i, u) in new.upses.iter().enumerate() {
        if !running
            .served
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&u.name))
        {
            added.push(i);
        }
    }
    let users = if !new.users_file && running.users > 0 {
        UsersPlan::KeepMissing {
            running: running.users,
        }
    } else if new.users_file && new.users.users.is_empty() {
        UsersPlan::ApplyEmpty
    } else {
        UsersPlan::Apply
    };
    ReloadPlan {
        users,
        new_login_limit: running.login_limit != burst,
        at_restart,
        added,
        new_monitor: new.upsmon.as_ref() != running.upsmon,
    }
}

fn warn_all<S: Shell>(shell: &mut S, w: &[ConfigError]) {
    for e in w {
        shell.warn(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(upses: &[&str]) -> Setup<()> {
        Setup {
            upses: upses
                .iter()
                .map(|n| UpsSpec {
                    name: n.to_string(),
                    desc: None,
                    source: (),
                    opts: Options::default(),
                })
                .collect(),
            discovery: Discovery::Configured,
            listen: vec![("127.0.0.1:3493".parse().unwrap(), false)],
            maxconn: 100,
            maxage_ms: 15_000,
            trackingdelay_ms: 3_600_000,
            idle_ms: 0,
            login_failures: 10,
            limits: Default::default(),
            users: Users::default(),
            users_file: true,
            upsmon: None,
            ups_conf: None,
            serve: true,
            mode: None,
            run_as: None,
        }
    }

    #[test]
    fn a_reload_applies_what_it_can_and_names_the_rest() {
        let bound: Vec<SocketAddr> = vec!["127.0.0.1:3493".parse().unwrap()];
        let configured = vec!["ups1".to_string(), "gone".to_string()];
        let served = ["ups1", "gone", "apc-adopted"];
        let running = Running {
            bound: &bound,
            slots: 100,
            max_slots: 65_536,
            configured: &configured,
            served: &served,
            login_limit: Some(10),
            users: 0,
            ups_conf: None,
            upsmon: None,
        };
        // Same settings, one section gone, one new, an adopted name
        // reused by a section (served already: not started twice).
        let new = setup(&["UPS1", "new", "apc-adopted"]);
        assert_eq!(
            plan(&running, &new),
            ReloadPlan {
                users: UsersPlan::ApplyEmpty,
                new_login_limit: false,
                at_restart: vec![AtRestart::Removed("gone".into())],
                added: vec![1],
                new_monitor: false,
            }
        );
        assert_eq!(
            AtRestart::Removed("gone".into()).to_string(),
            "gone is no longer configured: served until restart"
        );
        // LISTEN and MAXCONN wait; LOGIN_FAILURES and upsmon.conf do not.
        let mut new = setup(&["ups1", "gone"]);
        new.listen.push(("[::1]:3493".parse().unwrap(), false));
        new.maxconn = 50;
        new.login_failures = 0;
        new.upsmon = Some(
            upsmon_conf::parse(
                Path::new("upsmon.conf"),
                b"MONITOR ups1@localhost 1 mon pass primary\n",
            )
            .unwrap(),
        );
        let p = plan(&running, &new);
        assert_eq!(p.at_restart, [AtRestart::Listen, AtRestart::Maxconn]);
        assert!(p.new_login_limit && p.new_monitor && p.added.is_empty());
        // MAXCONN above the cap compares as the cap.
        new.maxconn = 1_000_000;
        let capped = Running {
            slots: 65_536,
            ..running
        };
        assert!(!plan(&capped, &new).at_restart.contains(&AtRestart::Maxconn));
    }

    #[test]
    fn a_missing_users_file_keeps_the_running_users() {
        let none: [&str; 0] = [];
        let running = |users| Running {
            bound: &[],
            slots: 100,
            max_slots: 65_536,
            configured: &[],
            served: &none,
            login_limit: Some(10),
            users,
            ups_conf: None,
            upsmon: None,
        };
        let mut new = setup(&[]);
        new.users_file = false;
        assert_eq!(
            plan(&running(3), &new).users,
            UsersPlan::KeepMissing { running: 3 }
        );
        // Nothing to keep: the (empty) defaults apply.
        assert_eq!(plan(&running(0), &new).users, UsersPlan::Apply);
        new.users_file = true;
        assert_eq!(plan(&running(3), &new).users, UsersPlan::ApplyEmpty);
        new.users.users.push(Default::default());
        assert_eq!(plan(&running(3), &new).users, UsersPlan::Apply);
    }

    #[test]
    fn simulate_names_are_the_file_or_directory_name() {
        let name = |spec: &str| split_simulate(spec).map(|(n, p)| (n, p.display().to_string()));
        assert_eq!(
            name("tests/fixtures/eaton-5sc-750"),
            Ok((
                "eaton-5sc-750".into(),
                "tests/fixtures/eaton-5sc-750".into()
            ))
        );
        assert_eq!(
            name("/tmp/cut.rec"),
            Ok(("cut.rec".into(), "/tmp/cut.rec".into()))
        );
        assert_eq!(name("my ups.v2.txt").unwrap().0, "my_ups.v2.txt");
        assert_eq!(name("x=/tmp/cut.rec").unwrap().0, "x");
        assert!(name("/").is_err());
        assert!(name("a b=/tmp/x").is_err());
    }
}
