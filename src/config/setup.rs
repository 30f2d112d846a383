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
//! itself can be tested with a fake shell.

use super::upsmon_conf::{self, UpsmonConf};
use super::{nut_conf, ups_conf, upsd_conf, upsd_users, ConfigError, Role};
use crate::proto::users::{Actions, InstCmds, Upsmon, User, Users};
use crate::ups::options::Options;
use crate::ups::select;
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
        if let Some(n) = nut_conf::load(dir).map_err(|e| e.to_string())? {
            let file = dir.join(nut_conf::FILE);
            let plan = n
                .mode
                .plan(&file, n.line, have(upsmon_conf::FILE))
                .map_err(|e| e.to_string())?;
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
            upsd = upsd_conf::load(dir).map_err(|e| e.to_string())?;
            warn_all(shell, &upsd.warnings);
        }
        if serve && have(upsd_users::FILE) {
            let u = upsd_users::load(dir).map_err(|e| e.to_string())?;
            warn_all(shell, &u.warnings);
            if let Some(w) = upsd_users::world_readable(dir) {
                shell.warn(&w);
            }
            users = proto_users(&u);
            users_file = true;
        }
        if serve && have(ups_conf::FILE) {
            let c = ups_conf::load(dir).map_err(|e| e.to_string())?;
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
            match upsmon_conf::load_optional(dir).map_err(|e| e.to_string())? {
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
        let scripts: Vec<&Path> = args
            .scripts
            .iter()
            .filter(|s| s.0 == i)
            .map(|s| s.1.as_path())
            .collect();
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
        let addrs: Vec<IpAddr> = match &l.addr {
            upsd_conf::ListenAddr::Ip(ip) => vec![*ip],
            upsd_conf::ListenAddr::Any => {
                vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()]
            }
            upsd_conf::ListenAddr::Host(h) => {
                let first = shell.resolve(h, l.port).ok_or_else(|| {
                    format!(
                        "{}:{}: LISTEN: cannot resolve '{h}'",
                        file.display(),
                        l.line
                    )
                })?;
                vec![first]
            }
        };
        for ip in addrs {
            let required = !c.allow_not_all_listeners && !ip.is_loopback();
            out.push((SocketAddr::new(ip, l.port), required));
        }
    }
    Ok(out)
}

/// upsd.users as the protocol's rights.
fn proto_users(u: &upsd_users::Users) -> Users {
    Users {
        users: u
            .users
            .iter()
            .map(|u| User {
                name: u.name.clone(),
                password: u.password.clone(),
                actions: Actions {
                    set: u.actions.set,
                    fsd: u.actions.fsd,
                    login: u.actions.login,
                    primary: u.actions.primary || u.actions.master,
                },
                instcmds: if u.instcmds.all {
                    InstCmds::All
                } else {
                    InstCmds::List(u.instcmds.names.clone())
                },
                upsmon: match u.upsmon {
                    Some(Role::Primary) => Upsmon::Primary,
                    Some(Role::Secondary) => Upsmon::Secondary,
                    None => Upsmon::None,
                },
            })
            .collect(),
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
