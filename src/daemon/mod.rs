//! The daemon: one thread, one mio [`Poll`], owning every listening
//! socket and every client connection, and serving the UPSes over NUT's
//! network protocol. It never waits on a device: each UPS, USB or
//! simulated ([`crate::device::sim`]), has its own worker thread
//! ([`crate::device::worker`]), and the loop reads a copy of its data.
//!
//! Read first: `nut-protocol.md` §1.5 (connection lifecycle), §2 (what
//! the session answers), §5.4 (staleness) and §5.5 (the FSD latch);
//! `anchors.md` §1.3 and §4 for the loop's shape.
//!
//! Boundary: besides `sys/` and the workers, this module is the only
//! place that reads the clock and touches sockets. Everything it drives
//! is pure and gets the time as milliseconds on the daemon's monotonic
//! clock: the [`Session`] answers request lines into a buffer and returns
//! an [`Action`], which is carried out here (a SET VAR or INSTCMD is
//! handed to the UPS's worker). Configuration is parsed by
//! [`crate::config`]; this module only decides what it means.
//!
//! The loop follows mio's `tcp_server` example, with fixed slots instead
//! of a map:
//! - tokens `0..MAX_LISTENERS` are listeners; client slot `i` is token
//!   `CLIENT_BASE + i`; [`WAKE`] is the workers' waker and [`UEVENTS`]
//!   the kernel's hot-plug socket;
//! - a listener event accepts until `WouldBlock`; a client event runs
//!   `Daemon::pump`: answer every complete line, write the replies in
//!   one `write`, read until `WouldBlock`;
//! - a wake-up drains the workers' reports (devices found, commands
//!   done) and refreshes the loop's copy of each UPS that changed;
//! - after the events, whatever is due runs (`Daemon::tick`): MAXAGE
//!   staleness, idle clients, the hidraw rescan when there are no
//!   uevents, the built-in upsmon ([`Watch`], with `upsmon.conf`); the
//!   poll timeout is the nearest such deadline.
//!
//! Simulated UPSes (`--simulate`, ups.conf's `driver = sim`) start their
//! worker at once on a [`Sim`] device; they take no part in discovery.
//!
//! Devices. USB UPSes are looked for when ups.conf has `driver =
//! usbhid-ups` sections, or when nothing at all is configured (then
//! every UPS found is served, named by [`naming::stable_name`]). Two
//! paths find them:
//! - kernel uevents on a netlink socket ([`Uevents`], no udevd needed),
//!   registered in the poll: `add` probes the node, `remove` tells its
//!   worker; the directory is scanned once at start, after subscribing so
//!   that nothing is missed in between;
//! - without netlink (a container, a seccomp policy), a rescan of
//!   `/sys/class/hidraw` every 2 s, new nodes probed and vanished ones
//!   removed.
//!
//! A probe (a short-lived thread: opening a node and reading its
//! descriptor are blocking ioctls) sends back what it found; the loop
//! only decides: a UPS it served before takes its device back (a replug
//! keeps its name), else the first free ups.conf section whose matcher
//! accepts it gets it, else (nothing configured) it is adopted.
//!
//! Memory: the slot array has MAXCONN entries from the start; a slot's
//! receive and send buffers are allocated the first time the slot is used
//! and kept for the next connection. Answering a request (`GET VAR`,
//! `LIST VAR`, ...) allocates nothing, and neither does refreshing a
//! UPS's copy (`clone_from`).

mod links;

use crate::config::upsmon_conf::{self, UpsmonConf};
use crate::config::{self, ups_conf, upsd_conf, upsd_users, Role};
use crate::device::io::{Dev, Found, Opener};
use crate::device::matcher::Matcher;
use crate::device::naming;
use crate::device::probe::Probed;
use crate::device::sched::Retry;
use crate::device::shared::{Mirror, Msg, Notify, Report};
use crate::device::sim::Sim;
use crate::device::worker::{self, Config, Handle};
use crate::monitor::remote::Reply as Answer;
use crate::monitor::{self, Input, Monitor};
use crate::proto::ratelimit::{self, Counted, RateLimiter};
use crate::proto::{
    Action, Actions, Data, Env, ErrCode, InstCmds, LexError, Live, Overflow, Reply, Session,
    TrackingId, TrackingStatus, UpsView, Upses, Upsmon, User, Users, MAX_LINE, MAX_REPLY_LINE,
};
use crate::recording::Recording;
use crate::store::MAX_VARS;
use crate::sys::clock::{self, Clock};
use crate::sys::exec::Children;
use crate::sys::hotplug::{self, Uevents};
use crate::sys::log::{debug, log};
use crate::sys::net;
use crate::sys::privsep::{self, Helper, Request};
use crate::sys::sdnotify;
use crate::sys::signals::{Signal, Signals};
use crate::text::Text;
use crate::ups::options::Options;
use crate::ups::select;
use links::{Connected, Link, MAX_LINKS, NET_TIMEOUT_MS};
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Listener tokens are `0..MAX_LISTENERS`.
const MAX_LISTENERS: usize = 64;
/// Client slot `i` has token `CLIENT_BASE + i`.
const CLIENT_BASE: usize = MAX_LISTENERS;
/// A worker or probe has something for the loop.
pub const WAKE: Token = Token(usize::MAX);
/// Kernel uevents (hidraw nodes added and removed).
pub const UEVENTS: Token = Token(usize::MAX - 1);
/// SIGTERM, SIGINT, SIGHUP (a signalfd).
const SIGNALS: Token = Token(usize::MAX - 2);
/// The privileged helper's socket: readable when it is gone.
const HELPER: Token = Token(usize::MAX - 3);
/// A request line of [`MAX_LINE`] bytes plus its LF.
const RX: usize = MAX_LINE + 1;
/// The longest `LIST VAR`: every variable a store holds on a line of the
/// longest length stock clients read, plus `BEGIN` and `END`.
const TX: usize = (MAX_VARS + 2) * MAX_REPLY_LINE;
/// A slot's first reply buffer: enough for every answer but the long
/// lists; it grows to [`TX`] the first time a reply does not fit, so an
/// idle connection costs a few KB, not a whole LIST VAR.
const TX_SMALL: usize = 4096;
/// Reply bytes written to one client per turn: a client that sends
/// without reading (loopback buffers hold megabytes) gets its share and
/// waits for the next turn, behind everyone else.
const WRITE_BUDGET: usize = 16 * 1024;
/// Connections accepted per turn of a listener, so that a flood of new
/// connections does not hold up the clients already served.
const ACCEPT_BUDGET: usize = 64;
/// Most client slots, whatever MAXCONN says (each slot costs memory up
/// front; upsd's default is the file descriptor limit).
const MAX_SLOTS: usize = 65_536;
/// TRACKING results kept at most (the oldest goes first).
const TRACKING_CAP: usize = 1024;
/// How often `/sys/class/hidraw` is rescanned when uevents are not to be
/// had.
const RESCAN_MS: u64 = 2000;
/// How long the start waits at most for simulated UPSes' first data.
const FIRST_DATA_MS: u64 = 5000;
/// A suspend shorter than this is not treated as one (upsmon's 5 s).
const SLEEP_MS: u64 = 5000;
/// How often the service manager's STATUS line is brought up to date.
const STATUS_MS: u64 = 5000;

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

/// Where a UPS's data comes from.
enum Source {
    /// A recording, served by a simulated device.
    Sim(Box<Sim>, Retry),
    /// A `driver = usbhid-ups` section: the first USB UPS its matcher
    /// accepts.
    Usb { matcher: Matcher, retry: Retry },
}

/// One UPS to serve, as configured.
struct UpsSpec {
    name: String,
    desc: Option<String>,
    source: Source,
    opts: Options,
}

/// Whether and why USB devices are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    /// Only simulated UPSes are served.
    Off,
    /// ups.conf has usbhid-ups sections: devices go to them.
    Configured,
    /// Nothing is configured: every UPS found is served.
    Adopt,
}

/// A device handed to the daemon directly rather than found on hidraw
/// (tests drive a worker with a scripted device this way).
pub struct DeviceSpec {
    pub name: String,
    pub found: Found<Dev>,
    /// Finds the device again after a fault.
    pub opener: Opener<Dev>,
    pub opts: Options,
    pub retry: Retry,
}

/// Everything the loop needs, read and checked before any socket opens.
pub struct Setup {
    upses: Vec<UpsSpec>,
    devices: Vec<DeviceSpec>,
    discovery: Discovery,
    /// Addresses, and whether failing to bind one is fatal.
    listen: Vec<(SocketAddr, bool)>,
    maxconn: usize,
    maxage_ms: u64,
    trackingdelay_ms: u64,
    idle_ms: u64,
    /// `LOGIN_FAILURES`: 0 for no limit.
    login_failures: u32,
    users: Users,
    /// `upsmon.conf`, when the configuration directory has one: the
    /// built-in monitor ([`Watch`]).
    upsmon: Option<UpsmonConf>,
    /// Who to run as after opening the sockets: user and group names.
    run_as: Option<(String, Option<String>)>,
}

impl Setup {
    /// Read the configuration files and recordings `args` name. Errors
    /// name the file and line (`file:line: msg`). With no UPS configured
    /// at all, every USB UPS found is served.
    pub fn load(args: &Args) -> Result<Setup, String> {
        let mut upsd = upsd_conf::UpsdConf::default();
        let mut upsd_file = PathBuf::from(upsd_conf::FILE);
        let mut users = Users::default();
        let mut upses = Vec::new();
        let mut upsmon: Option<UpsmonConf> = None;
        let (mut user, mut group) = (None, None);
        if let Some(dir) = &args.confdir {
            if !dir.is_dir() {
                return Err(format!("{}: not a directory", dir.display()));
            }
            // A missing file means its defaults: no users, no UPS.
            let have = |f: &str| dir.join(f).exists();
            if have(upsd_conf::FILE) {
                upsd_file = dir.join(upsd_conf::FILE);
                upsd = upsd_conf::load(dir).map_err(|e| e.to_string())?;
                warn_all(&upsd.warnings);
            }
            if have(upsd_users::FILE) {
                let u = upsd_users::load(dir).map_err(|e| e.to_string())?;
                warn_all(&u.warnings);
                users = proto_users(&u);
            }
            if have(ups_conf::FILE) {
                let c = ups_conf::load(dir).map_err(|e| e.to_string())?;
                warn_all(&c.warnings);
                user.clone_from(&c.globals.user);
                group.clone_from(&c.globals.group);
                let file = dir.join(ups_conf::FILE);
                for s in &c.ups {
                    upses.push(from_section(dir, &file, &c.globals, s)?);
                }
            }
            if have(upsmon_conf::FILE) {
                let m = upsmon_conf::load(dir).map_err(|e| e.to_string())?;
                warn_all(&m.warnings);
                upsmon = Some(m);
            }
        }
        for (i, spec) in args.simulate.iter().enumerate() {
            let (name, path) = split_simulate(spec)?;
            let mut rec = Recording::load(&path).map_err(|e| e.to_string())?;
            for (_, file) in args.scripts.iter().filter(|s| s.0 == i) {
                rec.load_script(file).map_err(|e| e.to_string())?;
            }
            let opts = Options::default();
            let sim = Sim::load(rec, &opts, &path.display().to_string())?;
            upses.push(UpsSpec {
                name,
                desc: None,
                source: Source::Sim(Box::new(sim), Retry::default()),
                opts,
            });
        }
        let discovery = if upses.is_empty() {
            Discovery::Adopt
        } else if upses.iter().any(|u| matches!(u.source, Source::Usb { .. })) {
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
        let listen = if !args.listen.is_empty() {
            let mut v = Vec::new();
            for a in &args.listen {
                let addr = a.parse::<SocketAddr>().map_err(|_| {
                    format!("--listen '{a}': expected ADDR:PORT (127.0.0.1:3493, [::1]:3493)")
                })?;
                v.push((addr, true));
            }
            v
        } else {
            resolve(&upsd, &upsd_file)?
        };
        if listen.len() > MAX_LISTENERS {
            return Err(format!("more than {MAX_LISTENERS} listening addresses"));
        }
        Ok(Setup {
            upses,
            devices: Vec::new(),
            discovery,
            listen,
            maxconn: upsd.maxconn as usize,
            maxage_ms: u64::from(upsd.maxage) * 1000,
            trackingdelay_ms: u64::from(upsd.trackingdelay) * 1000,
            idle_ms: u64::from(upsd.idle_timeout) * 1000,
            login_failures: upsd.login_failures,
            users,
            run_as: args
                .user
                .clone()
                .or(user)
                .or_else(|| upsmon.as_ref().and_then(|m| m.run_as_user.clone()))
                .map(|u| (u, group)),
            upsmon,
        })
    }

    /// Serve `d` too, under its name. A daemon handed devices this way
    /// does not adopt others it finds.
    pub fn add_device(&mut self, d: DeviceSpec) -> Result<(), String> {
        let taken = |n: &str| {
            self.upses.iter().any(|u| u.name.eq_ignore_ascii_case(n))
                || self.devices.iter().any(|u| u.name.eq_ignore_ascii_case(n))
        };
        if taken(&d.name) {
            return Err(format!("two UPSes are called '{}'", d.name));
        }
        if self.discovery == Discovery::Adopt {
            self.discovery = Discovery::Off;
        }
        self.devices.push(d);
        Ok(())
    }
}

/// A `ups.conf` section: `driver = sim` simulates the recording at `port`
/// (relative to the configuration directory, as NUT's dummy-ups reads
/// it), its script included; `driver =
/// usbhid-ups` waits for a USB device its matching options accept.
fn from_section(
    dir: &Path,
    file: &Path,
    globals: &ups_conf::Globals,
    s: &ups_conf::UpsSection,
) -> Result<UpsSpec, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}:{}: [{}] {e}", file.display(), s.line, s.name);
    let opts = ups_conf::engine_options(s);
    let source = match &s.driver {
        ups_conf::Driver::Sim(p) => {
            let path = dir.join(p);
            let port = |e: &dyn std::fmt::Display| at(&format_args!("port: {e}"));
            let rec = Recording::load(&path).map_err(|e| port(&e))?;
            let sim = Sim::load(rec, &opts, &path.display().to_string()).map_err(|e| port(&e))?;
            Source::Sim(Box::new(sim), retry(globals, s))
        }
        ups_conf::Driver::UsbHid => {
            let matcher = Matcher::new(&s.matching, &s.port).map_err(|e| at(&e))?;
            if let Some(sd) = &opts.subdriver {
                if select::by_name(sd).is_none() {
                    return Err(at(&format_args!("subdriver: unknown subdriver '{sd}'")));
                }
            }
            Source::Usb {
                matcher,
                retry: retry(globals, s),
            }
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
fn retry(g: &ups_conf::Globals, s: &ups_conf::UpsSection) -> Retry {
    let set = |k: &str| s.raw.iter().chain(&g.raw).any(|(n, _)| n == k);
    Retry {
        fixed_ms: set("retrydelay").then(|| u64::from(s.retrydelay.max(1)) * 1000),
        max_tries: set("maxretry").then_some(s.maxretry.max(1)),
    }
}

/// `[NAME=]PATH`: without a name, the file or directory name with
/// anything but letters, digits, `.`, `_` and `-` replaced by `_`.
fn split_simulate(spec: &str) -> Result<(String, PathBuf), String> {
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
    let base = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    let name: String = base
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
fn resolve(c: &upsd_conf::UpsdConf, file: &Path) -> Result<Vec<(SocketAddr, bool)>, String> {
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
                // upsd takes the first address of the name.
                let first = (h.as_str(), l.port)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        format!(
                            "{}:{}: LISTEN: cannot resolve '{h}'",
                            file.display(),
                            l.line
                        )
                    })?;
                vec![first.ip()]
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

fn warn_all(w: &[config::ConfigError]) {
    for e in w {
        log(format_args!("warning: {e}"));
    }
}

/// A UPS's device as the loop knows it: what may be bound to it, the
/// worker that serves it, and a copy of its data. USB and simulated UPSes
/// alike; a simulated one has neither a matcher nor a USB identity, so no
/// device found on hidraw is ever its.
struct Backend {
    /// The ups.conf section's matcher; `None` for a simulated UPS, one
    /// adopted without configuration, or one handed in ([`DeviceSpec`]).
    matcher: Option<Matcher>,
    opts: Options,
    retry: Retry,
    /// The USB device bound to it, once one is.
    info: Option<crate::device::usb::UsbInfo>,
    /// The hidraw node it is open on, as its worker last said (a
    /// simulated UPS: its recording's path).
    node: Option<String>,
    worker: Option<Handle<Dev>>,
    mirror: Mirror,
    /// Stale for want of an update within MAXAGE (logged when it
    /// changes, as upsd does: a worker stuck in a device call cannot).
    aged: bool,
}

impl Backend {
    fn new(matcher: Option<Matcher>, opts: Options, retry: Retry) -> Backend {
        Backend {
            matcher,
            opts,
            retry,
            info: None,
            node: None,
            worker: None,
            mirror: Mirror::default(),
            aged: false,
        }
    }

    /// MAXAGE for this UPS. upsd counts the driver's answers to its
    /// pings; here an update is the only sign of life, so a poll interval
    /// longer than MAXAGE must not make the UPS stale between two polls.
    fn maxage(&self, maxage_ms: u64) -> u64 {
        maxage_ms.max(2 * self.opts.pollinterval_ms)
    }

    /// Time of the last update, if the data is otherwise good.
    fn last_good(&self) -> Option<u64> {
        let m = &self.mirror;
        let t = self.worker.as_ref()?.link().last_update_ms()?;
        (m.seen() && m.live && !m.gone).then_some(t)
    }

    /// Log MAXAGE staleness as it starts and ends; returns when it would
    /// start.
    fn check_age(&mut self, name: &str, now: u64, maxage_ms: u64) -> u64 {
        let limit = self.maxage(maxage_ms);
        let t = self.last_good();
        let aged = t.is_some_and(|t| now.saturating_sub(t) > limit);
        if aged != self.aged {
            self.aged = aged;
            if aged {
                log(format_args!(
                    "{name}: data is stale: no update for {} s (MAXAGE)",
                    limit / 1000
                ));
            } else {
                log(format_args!("{name}: data is no longer stale"));
            }
        }
        match t {
            Some(t) if !aged => t + limit + 1,
            _ => u64::MAX,
        }
    }

    /// Is this the device this UPS was bound to, and not in use by it
    /// elsewhere? (Two units may share a bogus serial number.)
    fn owns(&self, f: &Found<Dev>) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| crate::device::usb::same_device(i, &f.info))
            && self.node.as_ref().map_or(true, |n| *n == f.node)
    }

    /// Unbound, or its device was unplugged: a section that may take a
    /// new device.
    fn free(&self) -> bool {
        self.worker.is_none() || (self.node.is_none() && self.mirror.gone)
    }

    fn data(&self, now: u64, maxage_ms: u64) -> Data<'_> {
        let (Some(w), m) = (&self.worker, &self.mirror) else {
            return Data::DriverNotConnected;
        };
        let Some(t) = w.link().last_update_ms() else {
            return Data::DriverNotConnected;
        };
        if m.gone || !m.seen() {
            return Data::DriverNotConnected;
        }
        // MAXAGE: a worker stuck in a device call stops updating.
        if !m.live || now.saturating_sub(t) > self.maxage(maxage_ms) {
            return Data::Stale;
        }
        Data::Ready(Live {
            store: &m.store,
            commands: &m.cmds,
            ranges: &[],
        })
    }
}

/// One UPS as served.
struct Served {
    name: String,
    desc: Option<String>,
    dev: Backend,
    numlogins: u32,
    /// Set by `FSD`, never cleared (§5.5).
    fsd: bool,
}

impl Served {
    fn new(name: String, desc: Option<String>, dev: Backend) -> Served {
        Served {
            name,
            desc,
            dev,
            numlogins: 0,
            fsd: false,
        }
    }

    fn view(&self, now: u64, maxage_ms: u64) -> UpsView<'_> {
        UpsView {
            name: &self.name,
            desc: self.desc.as_deref(),
            numlogins: self.numlogins,
            fsd: self.fsd,
            data: self.dev.data(now, maxage_ms),
        }
    }

    /// INSTCMD: the worker plans and runs it; the result comes back as a
    /// report (TRACKING) and goes to the log. `Err` only when there is no
    /// worker to take it.
    fn instcmd(
        &mut self,
        cmd: &'static str,
        value: Option<&str>,
        id: Option<TrackingId>,
    ) -> Result<(), ErrCode> {
        let value = match value {
            Some(v) => Some(Text::try_new(v).ok_or(ErrCode::InstcmdFailed)?),
            None => None,
        };
        self.dev
            .send(Msg::InstCmd {
                cmd,
                value,
                tracking: id,
            })
            .then_some(())
            .ok_or(ErrCode::InstcmdFailed)
    }

    /// SET VAR, handed to the worker like INSTCMD.
    fn setvar(&mut self, var: &str, value: &str, id: Option<TrackingId>) -> Result<(), ErrCode> {
        let (Some(var), Some(value)) = (Text::try_new(var), Text::try_new(value)) else {
            return Err(ErrCode::SetFailed);
        };
        self.dev
            .send(Msg::SetVar {
                var,
                value,
                tracking: id,
            })
            .then_some(())
            .ok_or(ErrCode::SetFailed)
    }
}

impl Backend {
    /// Hand a message to the worker; false without one.
    fn send(&self, m: Msg<Dev>) -> bool {
        self.worker.as_ref().is_some_and(|w| w.send(m))
    }
}

/// TRACKING results: oldest first, kept for TRACKINGDELAY.
struct Tracking {
    items: Vec<(TrackingId, TrackingStatus, u64)>,
    ttl_ms: u64,
}

impl Tracking {
    fn new(ttl_ms: u64) -> Tracking {
        Tracking {
            items: Vec::with_capacity(TRACKING_CAP),
            ttl_ms,
        }
    }

    fn expire(&mut self, now: u64) {
        let ttl = self.ttl_ms;
        if self.items.first().is_some_and(|e| now - e.2 > ttl) {
            self.items.retain(|e| now - e.2 <= ttl);
        }
    }

    /// A forwarded request starts as `PENDING`.
    fn start(&mut self, id: TrackingId, now: u64) {
        if self.items.len() == TRACKING_CAP {
            self.items.remove(0);
        }
        self.items.push((id, TrackingStatus::Pending, now));
    }

    fn finish(&mut self, id: Option<TrackingId>, st: TrackingStatus) {
        if let Some(e) = self.items.iter_mut().find(|e| Some(e.0) == id) {
            e.1 = st;
        }
    }

    fn get(&self, id: TrackingId) -> TrackingStatus {
        self.items
            .iter()
            .find(|e| e.0 == id)
            .map_or(TrackingStatus::Unknown, |e| e.1)
    }
}

/// A connection that did LOGIN.
struct Login {
    /// Accept order: `LIST CLIENT` shows the newest connection first.
    seq: u64,
    addr: IpAddr,
    ups: usize,
}

/// The protocol's view of the daemon's UPSes.
struct View<'a> {
    upses: &'a [Served],
    /// Sorted by `seq`.
    logins: &'a [Login],
    tracking: &'a Tracking,
    now: u64,
    maxage_ms: u64,
}

impl Upses for View<'_> {
    fn count(&self) -> usize {
        self.upses.len()
    }
    fn ups(&self, index: usize) -> Option<UpsView<'_>> {
        self.upses
            .get(index)
            .map(|u| u.view(self.now, self.maxage_ms))
    }
    fn clients(&self, index: usize, each: &mut dyn FnMut(IpAddr)) {
        for l in self.logins.iter().rev().filter(|l| l.ups == index) {
            each(l.addr);
        }
    }
    fn tracking(&self, id: TrackingId) -> TrackingStatus {
        self.tracking.get(id)
    }
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    peer: IpAddr,
    seq: u64,
    session: Session,
    /// Bytes received and not yet answered.
    rx_len: usize,
    /// Reply bytes `tx_sent..tx_len` still to send.
    tx_sent: usize,
    tx_len: usize,
    /// Dropping the rest of a line that was too long.
    discard: bool,
    /// LOGOUT: close once the reply is out.
    closing: bool,
    /// In the busy queue.
    queued: bool,
}

/// A connection slot; its buffers outlive connections.
struct Slot {
    conn: Option<Conn>,
    rx: Box<[u8]>,
    tx: Box<[u8]>,
}

/// What a connection does after an event.
enum Next {
    Open,
    Close,
    /// Its budget for this turn is spent with work left: queued for the
    /// next turn (no readiness event will come for what is waiting).
    Busy,
}

/// Finding hidraw nodes as they come and go.
struct Hotplug {
    mode: Discovery,
    /// Kernel uevents; `None` when netlink is not to be had (then
    /// `/sys/class/hidraw` is rescanned every [`RESCAN_MS`]).
    uevents: Option<Uevents>,
    /// Nodes probed and not removed since (UPSes or not).
    known: Vec<String>,
    /// Next rescan, without uevents.
    rescan_at: u64,
}

/// What `POWERDOWNFLAG` holds, as upsmon writes it (no newline).
use privsep::POWERDOWN_MAGIC;
/// How often finished commands are looked for while some run.
const REAP_MS: u64 = 500;
/// How often a waiting primary asks another server for NUMLOGINS (as
/// upsmon).
const COUNT_MS: u64 = 250;
/// Link `l`'s socket is token `REMOTE_TOP - l`.
const REMOTE_TOP: usize = usize::MAX - 4;

/// The built-in upsmon, from `upsmon.conf` in the configuration
/// directory: a [`Monitor`] fed from the loop's copies of this daemon's
/// UPSes, and the commands it asks for.
///
/// Each `MONITOR` entry for this host (`ups@localhost`, `@127.0.0.1`,
/// `@::1` or a bare `ups`, with no port or a port this daemon listens
/// on) is matched to the served UPS of that name whenever it is looked
/// at, so a UPS adopted later is found. It is fed what a stock upsmon
/// would read: `ups.status` with the FSD latch in front, `ups.alarm`
/// while ALARM is in it, and a failed poll while the UPS is stale, not
/// connected or unknown. Inputs go in as they change rather than every
/// POLLFREQ, so a decoded status change is acted on at once.
///
/// Every other entry is another server's UPS ([`links`]): this daemon
/// logs in to it as upsmon does and polls it every POLLFREQ (or
/// POLLFREQALERT); a lost connection is retried at the next poll, a
/// refused login is logged and polling goes on, as with upsmon.
///
/// Differences from upsmon: SHUTDOWNEXIT is not applied (the daemon keeps
/// serving the UPSes, for the secondaries and the late killpower; its
/// connections to other servers are closed at shutdown, which is what
/// ends their primaries' wait); SYSLOG notices go to the daemon's log.
struct Watch {
    monitor: Monitor,
    entries: Vec<Watched>,
    /// NOTIFYCMD and SHUTDOWNCMD as shell command lines.
    notifycmd: Option<String>,
    shutdowncmd: Option<String>,
    powerdownflag: Option<PathBuf>,
    /// An [`monitor::Action::AwaitLogouts`] is pending: login counts are
    /// reported at every tick.
    awaiting: bool,
    /// SHUTDOWNCMD has run: other servers are no longer polled.
    done: bool,
    /// Actions from answers that arrived between ticks.
    pending: monitor::Actions,
    /// The root helper that writes the flag and runs SHUTDOWNCMD, when
    /// this daemon runs as another user.
    helper: Option<Helper>,
    children: Children,
    /// Connections to other servers, for the remote entries.
    links: Vec<Link>,
    connected: (Sender<Connected>, Receiver<Connected>),
    waker: Arc<Waker>,
}

/// One `MONITOR` entry.
struct Watched {
    /// The UPS's name here; `None` for another host's UPS.
    ups: Option<String>,
    /// The index in `Watch::links` of another host's UPS.
    link: Option<usize>,
    primary: bool,
    /// What the monitor was last told.
    last: Seen,
}

/// A poll's outcome, as last given to the monitor.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Bad,
    Status {
        fsd: bool,
        status: String,
        alarm: Option<String>,
    },
}

/// Whether a `MONITOR` entry names a UPS of this daemon: a loopback
/// host, and no port written or one this daemon listens on (another
/// port on this host is another server, a stock upsd say).
fn is_local(m: &upsmon_conf::Monitor, ports: &[u16]) -> bool {
    let h = &m.host;
    let loopback = h.eq_ignore_ascii_case("localhost") || h == "127.0.0.1" || h == "::1";
    loopback && (!port_written(&m.system) || ports.contains(&m.port))
}

/// Whether `ups@host:port` (or `@[v6]:port`) gives a port.
fn port_written(system: &str) -> bool {
    let Some((_, host)) = system.split_once('@') else {
        return false;
    };
    match host.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => host.matches(':').count() == 1,
    }
}

fn has_word(status: &str, word: &str) -> bool {
    status
        .split_ascii_whitespace()
        .any(|w| w.eq_ignore_ascii_case(word))
}

impl Watch {
    /// Build the monitor; remove a power-down flag left from the last
    /// shutdown, as upsmon does at start (a file that upsmon did not
    /// write is left alone, and POWERDOWNFLAG is then not used).
    fn new(mut conf: UpsmonConf, ports: &[u16], waker: Arc<Waker>) -> Result<Watch, String> {
        if let Some(flag) = conf.powerdownflag.clone() {
            match std::fs::read(&flag) {
                Ok(b) if b.starts_with(POWERDOWN_MAGIC) => match std::fs::remove_file(&flag) {
                    Ok(()) => log(format_args!("removed the power-down flag {flag}")),
                    Err(e) => log(format_args!(
                        "cannot remove the power-down flag {flag}: {e}"
                    )),
                },
                Ok(_) => {
                    log(format_args!(
                        "{flag} exists and was not written by upsmon: POWERDOWNFLAG is not used"
                    ));
                    conf.powerdownflag = None;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log(format_args!("cannot read the power-down flag {flag}: {e}")),
            }
        }
        let mut links = Vec::new();
        let mut entries = Vec::with_capacity(conf.monitors.len());
        for m in &conf.monitors {
            let primary = m.role == Role::Primary;
            let local = is_local(m, ports);
            let link = if local {
                None
            } else {
                if links.len() == MAX_LINKS {
                    return Err(format!(
                        "{}:{}: MONITOR {}: more than {MAX_LINKS} UPSes on other servers",
                        upsmon_conf::FILE,
                        m.line,
                        m.system
                    ));
                }
                links.push(Link::new(
                    entries.len(),
                    &m.host,
                    m.port,
                    &m.ups,
                    &m.user,
                    &m.password,
                    primary,
                ));
                Some(links.len() - 1)
            };
            entries.push(Watched {
                ups: local.then(|| m.ups.clone()),
                link,
                primary,
                last: Seen::Nothing,
            });
        }
        Ok(Watch {
            monitor: Monitor::new(&conf),
            entries,
            notifycmd: conf.notifycmd.as_deref().map(upsmon_conf::shell_command),
            shutdowncmd: conf.shutdowncmd.as_deref().map(upsmon_conf::shell_command),
            powerdownflag: conf.powerdownflag.map(PathBuf::from),
            awaiting: false,
            done: false,
            pending: monitor::Actions::new(),
            helper: None,
            children: Children::default(),
            links,
            connected: std::sync::mpsc::channel(),
            waker,
        })
    }

    /// Tell the monitor what a poll of entry `i` found (`None`: the
    /// poll failed), if that differs from what it was last told.
    fn seen(
        &mut self,
        i: usize,
        now_seen: Option<(bool, &str, Option<&str>)>,
        now: u64,
        acts: &mut monitor::Actions,
    ) {
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        match now_seen {
            None if e.last != Seen::Bad => {
                e.last = Seen::Bad;
                acts.extend(self.monitor.handle(Input::CommBad(i), now));
            }
            Some((fsd, status, alarm))
                if !matches!(&e.last, Seen::Status { fsd: f, status: s, alarm: a }
                    if *f == fsd && s == status && a.as_deref() == alarm) =>
            {
                let shown = if fsd {
                    format!("FSD {status}")
                } else {
                    status.to_string()
                };
                e.last = Seen::Status {
                    fsd,
                    status: status.to_string(),
                    alarm: alarm.map(str::to_string),
                };
                acts.extend(self.monitor.handle(
                    Input::Status {
                        ups: i,
                        status: &shown,
                        alarm,
                    },
                    now,
                ));
            }
            _ => {}
        }
    }

    /// A link's connection failed or broke: log it once, count a failed
    /// poll; the next poll reconnects.
    fn link_failed(
        &mut self,
        l: usize,
        why: &str,
        registry: &Registry,
        now: u64,
        acts: &mut monitor::Actions,
    ) {
        let i = self.links[l].entry;
        let link = &mut self.links[l];
        link.down(registry);
        if !link.failing {
            link.failing = true;
            let system = self.monitor.system(i).unwrap_or("?");
            log(format_args!("{system}: {why}"));
        }
        self.seen(i, None, now, acts);
    }

    /// A link's answer.
    fn reply(&mut self, l: usize, r: Answer, now: u64, acts: &mut monitor::Actions) {
        let i = self.links[l].entry;
        let system = self.monitor.system(i).unwrap_or("?").to_string();
        match r {
            Answer::Status { status, alarm } => {
                if std::mem::take(&mut self.links[l].failing) {
                    log(format_args!("{system}: polling again"));
                }
                self.seen(i, Some((false, &status, alarm.as_deref())), now, acts);
            }
            Answer::PollFailed(err) => {
                if !self.links[l].failing {
                    self.links[l].failing = true;
                    log(format_args!("{system}: poll failed: {err}"));
                }
                self.seen(i, None, now, acts);
            }
            Answer::Refused { request, err } => {
                log(format_args!("{system}: {request} refused: {err}"))
            }
            Answer::OtherLogins(n) => {
                if self.awaiting {
                    acts.extend(self.monitor.handle(Input::OtherLogins(i, n), now));
                }
            }
            Answer::FsdSet => log(format_args!("{system}: forced shutdown (FSD) set")),
            Answer::FsdRefused(err) => log(format_args!("{system}: FSD refused: {err}")),
        }
    }

    /// Link `l`'s socket is ready.
    fn link_ready(&mut self, l: usize, registry: &Registry, now: u64) {
        let mut replies = Vec::new();
        let Some(link) = self.links.get_mut(l) else {
            return;
        };
        let r = link.ready(now, &mut |r| replies.push(r));
        let mut acts = monitor::Actions::new();
        for reply in replies {
            self.reply(l, reply, now, &mut acts);
        }
        if let Err(why) = r {
            self.link_failed(l, &why, registry, now, &mut acts);
        }
        self.pending.extend(acts);
    }

    /// Poll the other servers whose time has come, connect where there
    /// is no connection, count logins while a primary waits, and give up
    /// on unanswered requests; returns the next time this is needed.
    fn links(&mut self, registry: &Registry, now: u64, acts: &mut monitor::Actions) -> u64 {
        while let Ok(c) = self.connected.1.try_recv() {
            let l = c.link;
            let Some(link) = self.links.get_mut(l) else {
                continue;
            };
            match link.attach(c, registry, Token(REMOTE_TOP - l), now) {
                Ok(_) => {}
                Err(why) => self.link_failed(l, &why, registry, now, acts),
            }
        }
        let mut next = u64::MAX;
        if self.done {
            return next;
        }
        let interval = self.monitor.poll_interval_ms();
        for l in 0..self.links.len() {
            if self.links[l].timed_out(now) {
                let why = format!("no answer for {} s", NET_TIMEOUT_MS / 1000);
                self.link_failed(l, &why, registry, now, acts);
            }
            let link = &mut self.links[l];
            if link.next_poll <= now {
                link.next_poll = now + interval;
                if link.is_up() {
                    if let Err(why) = link.poll(now) {
                        self.link_failed(l, &why, registry, now, acts);
                    }
                } else if link.is_down() {
                    let (tx, waker) = (self.connected.0.clone(), self.waker.clone());
                    if let Err(why) = link.connect(l, tx, waker) {
                        self.link_failed(l, &why, registry, now, acts);
                    }
                }
            }
            let i = self.links[l].entry;
            if self.awaiting && self.entries.get(i).is_some_and(|e| e.primary) {
                let link = &mut self.links[l];
                if !link.is_up() {
                    // As a failed GET NUMLOGINS.
                    acts.extend(self.monitor.handle(Input::OtherLogins(i, 0), now));
                } else if link.next_count <= now {
                    link.next_count = now + COUNT_MS;
                    if let Err(why) = link.count_logins(now) {
                        self.link_failed(l, &why, registry, now, acts);
                    }
                }
                next = next.min(self.links[l].next_count);
            }
            let link = &self.links[l];
            next = next.min(link.next_poll);
            if let Some(t) = link.timeout_at() {
                next = next.min(t);
            }
        }
        next
    }

    /// Feed the monitor what changed, the time and (while it waits for
    /// the secondaries) the login counts, and carry out what it asks;
    /// returns when it next wants to be called.
    fn run(&mut self, upses: &mut [Served], registry: &Registry, now: u64, maxage_ms: u64) -> u64 {
        self.children.reap(|what, st| match st {
            Ok(st) if st.success() => {}
            Ok(st) => log(format_args!("{what}: {st}")),
            Err(e) => log(format_args!("{what}: {e}")),
        });
        let mut acts = std::mem::take(&mut self.pending);
        for i in 0..self.entries.len() {
            let Some(name) = &self.entries[i].ups else {
                continue;
            };
            let served = upses.iter().find(|s| s.name.eq_ignore_ascii_case(name));
            let now_seen = served.and_then(|s| match s.dev.data(now, maxage_ms) {
                Data::Ready(live) => {
                    let status = live.store.get("ups.status")?;
                    let alarm = if has_word(status, "ALARM") {
                        live.store.get("ups.alarm")
                    } else {
                        None
                    };
                    Some((s.fsd, status, alarm))
                }
                _ => None,
            });
            self.seen(i, now_seen, now, &mut acts);
        }
        let mut next_link = self.links(registry, now, &mut acts);
        if self.monitor.poll_at().is_some_and(|t| t <= now) {
            acts.extend(self.monitor.handle(Input::Tick, now));
        }
        if self.awaiting {
            acts.extend(self.logins(upses, now));
        }
        while !acts.is_empty() {
            let waiting = self.awaiting;
            for a in std::mem::take(&mut acts) {
                self.act(a, upses, registry, now);
            }
            if self.awaiting && !waiting {
                // Counted at once: the wait ends as soon as nobody is left.
                acts = self.logins(upses, now);
                next_link = next_link.min(self.links(registry, now, &mut acts));
            }
        }
        let mut next = self.monitor.poll_at().unwrap_or(u64::MAX).min(next_link);
        if self.children.pending() > 0 {
            next = next.min(now + REAP_MS);
        }
        next
    }

    /// How many clients are logged in to each UPS this monitor is primary
    /// for (the built-in monitor has no login of its own); a UPS not
    /// served here counts 0, as a failed `GET NUMLOGINS`.
    fn logins(&mut self, upses: &[Served], now: u64) -> monitor::Actions {
        let mut acts = monitor::Actions::new();
        for (i, e) in self.entries.iter().enumerate() {
            // Another server's count comes with its GET NUMLOGINS answer.
            if !e.primary || e.link.is_some() {
                continue;
            }
            let n = e.ups.as_ref().map_or(0, |name| {
                upses
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(name))
                    .map_or(0, |s| s.numlogins)
            });
            acts.extend(self.monitor.handle(Input::OtherLogins(i, n), now));
        }
        acts
    }

    fn act(&mut self, a: monitor::Action, upses: &mut [Served], registry: &Registry, now: u64) {
        match a {
            monitor::Action::Notify(n) => self.notify(&n),
            monitor::Action::SetFsd(i) if self.entries.get(i).is_some_and(|e| e.link.is_some()) => {
                let l = self.entries[i].link.unwrap_or(0);
                if let Err(why) = self.links[l].fsd(now) {
                    let mut acts = monitor::Actions::new();
                    self.link_failed(l, &why, registry, now, &mut acts);
                    self.pending.extend(acts);
                }
            }
            monitor::Action::SetFsd(i) => {
                let system = self.monitor.system(i).unwrap_or("?");
                let ups = self.entries.get(i).and_then(|e| e.ups.as_ref());
                match ups.and_then(|n| upses.iter_mut().find(|s| s.name.eq_ignore_ascii_case(n))) {
                    Some(s) => {
                        if !s.fsd {
                            s.fsd = true;
                            log(format_args!(
                                "{}: forced shutdown (FSD) set by the monitor ({system})",
                                s.name
                            ));
                        }
                    }
                    None => log(format_args!(
                        "cannot set FSD on {system}: not a UPS served here"
                    )),
                }
            }
            monitor::Action::AwaitLogouts { .. } => self.awaiting = true,
            monitor::Action::FinalDelay { .. } => {}
            monitor::Action::WritePowerdownFlag if self.helper.is_some() => {
                if self.powerdownflag.is_some() {
                    self.ask_helper(Request::WriteFlag, registry, now);
                }
            }
            monitor::Action::WritePowerdownFlag => {
                if let Some(flag) = &self.powerdownflag {
                    match std::fs::write(flag, POWERDOWN_MAGIC) {
                        Ok(()) => log(format_args!("wrote the power-down flag {}", flag.display())),
                        Err(e) => log(format_args!(
                            "cannot write the power-down flag {}: {e}",
                            flag.display()
                        )),
                    }
                }
            }
            monitor::Action::Shutdown => {
                self.awaiting = false;
                // As upsmon's exit: the other servers see the logins end.
                self.done = true;
                for l in &mut self.links {
                    l.down(registry);
                }
                if self.helper.is_some() {
                    self.ask_helper(Request::Shutdown, registry, now);
                    return;
                }
                match &self.shutdowncmd {
                    Some(cmd) => {
                        log(format_args!("running SHUTDOWNCMD: {cmd}"));
                        if let Err(e) = self.children.shell("SHUTDOWNCMD", cmd, &[], &[]) {
                            log(format_args!("cannot run SHUTDOWNCMD: {e}"));
                        }
                    }
                    None => log(format_args!(
                        "the host should shut down now, but upsmon.conf has no SHUTDOWNCMD"
                    )),
                }
            }
        }
    }

    /// The host slept for `ms`: SUSPEND_FINISHED, and every UPS's last
    /// status is forgotten (it is read afresh), so that readings from
    /// before the sleep cause no shutdown.
    fn resumed(&mut self, ms: u64, now: u64) {
        log(format_args!("the host was suspended for {} s", ms / 1000));
        for e in &mut self.entries {
            e.last = Seen::Nothing;
        }
        let acts = self.monitor.handle(Input::Resume, now);
        self.pending.extend(acts);
        // Other servers are asked at once.
        for l in &mut self.links {
            l.next_poll = now;
        }
    }

    /// Hand a request to the privileged helper; a helper that is gone
    /// is NOPARENT, as upsmon's lost parent.
    fn ask_helper(&mut self, r: Request, registry: &Registry, now: u64) {
        let Some(h) = &mut self.helper else {
            return;
        };
        if let Err(e) = h.ask(r) {
            log(format_args!(
                "the privileged helper is gone ({e}): shutdown impossible"
            ));
            self.helper_gone(registry, now);
        }
    }

    /// The helper's socket is readable: it exited (or wrote, which it
    /// never does).
    fn helper_event(&mut self, registry: &Registry, now: u64) {
        if self.helper.as_mut().is_some_and(Helper::gone) {
            log(format_args!(
                "the privileged helper exited: shutdown impossible"
            ));
            self.helper_gone(registry, now);
        }
    }

    fn helper_gone(&mut self, registry: &Registry, now: u64) {
        if let Some(h) = self.helper.take() {
            let _ = registry.deregister(&mut SourceFd(&h.fd()));
        }
        let acts = self.monitor.handle(Input::ParentGone, now);
        self.pending.extend(acts);
    }

    /// Deliver a notice: the log, `wall`, NOTIFYCMD (with the message as
    /// its argument, NOTIFYTYPE and UPSNAME in its environment).
    fn notify(&mut self, n: &monitor::Notice) {
        if n.flags.syslog {
            log(format_args!("{}", n.message));
        }
        if n.flags.wall {
            let mut text = n.message.clone();
            text.push('\n');
            // No wall (a container, BusyBox without it): nothing to tell.
            let _ = self.children.feed("wall", text.as_bytes());
        }
        if n.flags.exec {
            let Some(cmd) = &self.notifycmd else {
                return;
            };
            let line = format!("{cmd} \"$1\"");
            let mut env = vec![("NOTIFYTYPE", n.event.name())];
            if let Some(system) = n.ups.and_then(|i| self.monitor.system(i)) {
                env.push(("UPSNAME", system));
            }
            if let Err(e) = self.children.shell("NOTIFYCMD", &line, &[&n.message], &env) {
                log(format_args!("cannot run NOTIFYCMD: {e}"));
            }
        }
    }
}

/// The running server.
struct Daemon {
    poll: Poll,
    clock: Clock,
    listeners: Vec<TcpListener>,
    slots: Vec<Slot>,
    /// Free slot indices.
    free: Vec<usize>,
    upses: Vec<Served>,
    logins: Vec<Login>,
    tracking: Tracking,
    users: Users,
    maxage_ms: u64,
    idle_ms: u64,
    /// Words with escapes, rebuilt by the tokenizer.
    scratch: Box<[u8]>,
    /// Per-connection seeds for tracking ids.
    seeds: RandomState,
    next_seq: u64,
    /// "MAXCONN reached" was logged since a slot last freed up.
    full_logged: bool,
    /// Listeners and clients whose last turn ended with work left
    /// (each at most once: `Conn::queued`, `listener_queued`).
    busy: std::collections::VecDeque<Token>,
    listener_queued: Vec<bool>,
    /// Workers and probes report here and wake the loop.
    notify: Notify<Dev>,
    reports: Receiver<Report<Dev>>,
    hotplug: Hotplug,
    /// Failed logins per address (`None`: `LOGIN_FAILURES 0`); whether
    /// any failure was seen yet; whether "table full" was logged.
    limiter: Option<Logins>,
    /// The built-in upsmon, with `upsmon.conf`.
    watch: Option<Watch>,
    /// What the monitor was built from (a reload rebuilds it on change).
    upsmon_conf: Option<UpsmonConf>,
    /// Names of the UPSes the configuration gave (not adopted ones).
    configured: Vec<String>,
    /// Ports listened on (which `MONITOR` entries are this daemon's).
    ports: Vec<u16>,
    waker: Arc<Waker>,
}

/// Bind the listeners, drop privileges, start the UPSes and serve until
/// SIGTERM or SIGINT; SIGHUP reads the configuration again (`args` says
/// where from). Tells the service manager how it goes (sd_notify).
pub fn run(setup: Setup, args: &Args) -> Result<(), String> {
    // Before any thread starts: the signal mask, and the fork of the
    // privileged helper (see `sys::privsep`).
    let account = match &setup.run_as {
        Some((user, group)) => switch_to(user, group.as_deref())?,
        None => {
            if clock::euid() == 0 {
                log(format_args!(
                    "warning: running as root; -u USER (or RUN_AS_USER) runs as that user once the sockets are open"
                ));
            }
            None
        }
    };
    let helper = match (&account, &setup.upsmon) {
        (Some(_), Some(m)) if m.shutdowncmd.is_some() || m.powerdownflag.is_some() => {
            let cmd = m.shutdowncmd.as_deref().map(upsmon_conf::shell_command);
            let flag = m.powerdownflag.as_ref().map(PathBuf::from);
            let h = privsep::spawn(cmd, flag)
                .map_err(|e| format!("cannot start the privileged helper: {e}"))?;
            crate::sys::log::debug(1, format_args!("privileged helper: pid {}", h.pid()));
            Some(h)
        }
        _ => None,
    };
    // After the fork: the helper must not inherit the blocked signals.
    let signals = Signals::new().map_err(|e| format!("signalfd: {e}"))?;
    let clock = Clock::start();
    let mut d = Daemon::new(setup, clock, account, helper)?;
    d.poll
        .registry()
        .register(&mut SourceFd(&signals.fd()), SIGNALS, Interest::READABLE)
        .map_err(|e| format!("epoll: {e}"))?;
    let manager = sdnotify::Notifier::from_env();
    let watchdog = sdnotify::watchdog_ms();
    let mut status = d.summary();
    if let Some(m) = &manager {
        m.send(&format!("READY=1\nSTATUS={status}"));
    }
    let mut slept = clock::slept_ms();
    let mut ping_at = clock.now();
    let mut status_at = clock.now() + STATUS_MS;
    let mut events = Events::with_capacity(256);
    let mut deadline = d.tick(clock.now());
    loop {
        if let Some(w) = watchdog {
            let now = clock.now();
            if ping_at <= now {
                if let Some(m) = &manager {
                    m.send("WATCHDOG=1");
                }
                ping_at = now + w;
            }
            deadline = deadline.min(ping_at);
        }
        if manager.is_some() {
            let now = clock.now();
            if status_at <= now {
                let s = d.summary();
                if s != status {
                    if let Some(m) = &manager {
                        m.send(&format!("STATUS={s}"));
                    }
                    status = s;
                }
                status_at = now + STATUS_MS;
            }
            deadline = deadline.min(status_at);
        }
        let wait = deadline.saturating_sub(clock.now());
        // A deadline of u64::MAX (nothing scheduled) waits for events only.
        let timeout = (deadline != u64::MAX).then(|| Duration::from_millis(wait));
        if let Err(e) = d.poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        let now = clock.now();
        // The monotonic clock stops while the host sleeps; the boot-time
        // clock does not: a grown difference is a suspend just ended.
        let s = clock::slept_ms();
        if s > slept + SLEEP_MS {
            if let Some(w) = &mut d.watch {
                w.resumed(s - slept, now);
            }
        }
        slept = s;
        for ev in events.iter() {
            match ev.token() {
                WAKE => d.wake(),
                UEVENTS => d.uevents(),
                SIGNALS => {
                    while let Some(sig) = signals.next() {
                        match sig {
                            Signal::Stop => {
                                log(format_args!("signal received: exiting"));
                                if let Some(m) = &manager {
                                    m.send("STOPPING=1");
                                }
                                return Ok(());
                            }
                            Signal::Reload => {
                                if let Some(m) = &manager {
                                    m.send("RELOADING=1");
                                }
                                d.reload(args, now);
                                if let Some(m) = &manager {
                                    m.send("READY=1");
                                }
                            }
                        }
                    }
                }
                HELPER => {
                    if let Some(w) = &mut d.watch {
                        w.helper_event(d.poll.registry(), now);
                    }
                }
                Token(t) if t <= REMOTE_TOP && t > REMOTE_TOP - MAX_LINKS => {
                    if let Some(w) = &mut d.watch {
                        w.link_ready(REMOTE_TOP - t, d.poll.registry(), now);
                    }
                }
                Token(t) => d.serve(Token(t), now),
            }
        }
        // Then those whose turn ended with work left, once each.
        for _ in 0..d.busy.len() {
            if let Some(t) = d.busy.pop_front() {
                d.dequeued(t);
                d.serve(t, now);
            }
        }
        deadline = d.tick(clock.now());
        if !d.busy.is_empty() {
            // Work waits: look for events without sleeping.
            deadline = 0;
        }
    }
}

/// The login limit (`LOGIN_FAILURES`) as the loop uses it: the table,
/// and what was already said about it.
struct Logins {
    table: RateLimiter,
    /// No failure yet: nobody can be limited, no lookup per line.
    failed_once: bool,
    /// "Table full" was logged.
    full_said: bool,
}

impl Logins {
    /// For `LOGIN_FAILURES n` (0: no limit).
    fn new(n: u32) -> Option<Logins> {
        (n > 0).then(|| Logins {
            table: RateLimiter::new(n, ratelimit::DEFAULT_REFILL_MS),
            failed_once: false,
            full_said: false,
        })
    }

    fn limited(&self, peer: IpAddr, now: u64) -> bool {
        self.failed_once && self.table.is_limited(peer, now)
    }

    /// Count a wrong login by `peer`; log when it becomes limited.
    fn failed(&mut self, peer: IpAddr, now: u64) {
        self.failed_once = true;
        match self.table.failure(peer, now) {
            Ok(Counted::NowLimited) => log(format_args!(
                "{peer}: too many failed logins: refused for {} s",
                self.table.retry_after(peer, now).div_ceil(1000)
            )),
            Ok(Counted::Counted) => {}
            Err(e) if !self.full_said => {
                self.full_said = true;
                log(format_args!("{e}"));
            }
            Err(_) => {}
        }
    }
}

/// Look up who to run as; `None` when that is who runs already, or when
/// not running as root (nothing can change then: said once).
fn switch_to(user: &str, group: Option<&str>) -> Result<Option<privsep::Account>, String> {
    let a = privsep::account(user, group)?;
    let euid = clock::euid();
    if a.uid == euid {
        return Ok(None);
    }
    if euid != 0 {
        log(format_args!(
            "warning: not running as root: cannot switch to user {user}; staying uid {euid}"
        ));
        return Ok(None);
    }
    Ok(Some(a))
}

impl Daemon {
    fn new(
        setup: Setup,
        clock: Clock,
        account: Option<privsep::Account>,
        helper: Option<Helper>,
    ) -> Result<Daemon, String> {
        let now = clock.now();
        let poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
        let waker = Waker::new(poll.registry(), WAKE).map_err(|e| format!("eventfd: {e}"))?;
        let waker = Arc::new(waker);
        let (notify, reports) = Notify::new(waker.clone());
        let mut listeners = Vec::new();
        for (addr, required) in setup.listen {
            match net::listener(addr) {
                Ok(l) => {
                    let mut l = TcpListener::from_std(l);
                    let token = Token(listeners.len());
                    poll.registry()
                        .register(&mut l, token, Interest::READABLE)
                        .map_err(|e| format!("epoll: {e}"))?;
                    log(format_args!("listening on {addr}"));
                    listeners.push(l);
                }
                Err(e) if required => return Err(format!("cannot listen on {addr}: {e}")),
                Err(e) => log(format_args!("not listening on {addr}: {e}")),
            }
        }
        if listeners.is_empty() {
            return Err("no address to listen on could be bound".into());
        }
        let ports: Vec<u16> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
            .collect();
        // The monitor first: it removes a stale power-down flag, which
        // may need root.
        let upsmon_conf = setup.upsmon.clone();
        let mut watch = match setup.upsmon {
            Some(conf) => Some(Watch::new(conf, &ports, waker.clone())?),
            None => None,
        };
        let configured = setup.upses.iter().map(|u| u.name.clone()).collect();
        if let Some(mut h) = helper {
            match &mut watch {
                Some(w) => {
                    poll.registry()
                        .register(&mut SourceFd(&h.fd()), HELPER, Interest::READABLE)
                        .map_err(|e| format!("epoll: {e}"))?;
                    w.helper = Some(h);
                }
                None => drop(h.gone()),
            }
        }
        let maxconn = setup.maxconn.min(MAX_SLOTS);
        if maxconn < setup.maxconn {
            log(format_args!(
                "warning: MAXCONN {} lowered to {maxconn}",
                setup.maxconn
            ));
        }
        // Clients, listeners, stdio, devices and a few to spare.
        let want = (maxconn + listeners.len() + 64) as u64;
        match net::raise_fd_limit(want) {
            Ok(n) if n < want => log(format_args!(
                "warning: the open file limit is {n}: fewer than MAXCONN {maxconn} clients fit"
            )),
            Ok(_) => {}
            Err(e) => log(format_args!(
                "warning: cannot raise the open file limit: {e}"
            )),
        }
        // Listeners bound, limits raised, stale flag removed: root is no
        // longer needed (devices opened from now on need the udev rules'
        // group).
        if let Some(a) = &account {
            privsep::become_user(a)?;
            log(format_args!(
                "running as user {} (uid {}, gid {})",
                a.name, a.uid, a.gid
            ));
        }
        let mut upses = Vec::with_capacity(setup.upses.len() + setup.devices.len());
        // Simulated UPSes start once the loop can hear their workers.
        let mut sims = Vec::new();
        for spec in setup.upses {
            let (matcher, retry) = match spec.source {
                Source::Sim(sim, retry) => {
                    sims.push((upses.len(), sim));
                    (None, retry)
                }
                // Without a device until one is found
                // (DRIVER-NOT-CONNECTED meanwhile).
                Source::Usb { matcher, retry } => (Some(matcher), retry),
            };
            let dev = Backend::new(matcher, spec.opts, retry);
            upses.push(Served::new(spec.name, spec.desc, dev));
        }
        let slots = (0..maxconn)
            .map(|_| Slot {
                conn: None,
                rx: Box::default(),
                tx: Box::default(),
            })
            .collect();
        let mut d = Daemon {
            poll,
            clock,
            listeners,
            slots,
            free: (0..maxconn).rev().collect(),
            upses,
            logins: Vec::with_capacity(maxconn),
            tracking: Tracking::new(setup.trackingdelay_ms),
            users: setup.users,
            maxage_ms: setup.maxage_ms,
            idle_ms: setup.idle_ms,
            scratch: vec![0; MAX_LINE].into_boxed_slice(),
            seeds: RandomState::new(),
            next_seq: 0,
            full_logged: false,
            busy: std::collections::VecDeque::with_capacity(maxconn + MAX_LISTENERS),
            listener_queued: vec![false; MAX_LISTENERS],
            notify,
            reports,
            hotplug: Hotplug {
                mode: setup.discovery,
                uevents: None,
                known: Vec::new(),
                rescan_at: u64::MAX,
            },
            limiter: Logins::new(setup.login_failures),
            watch,
            upsmon_conf,
            configured,
            ports,
            waker,
        };
        let mut starting = Vec::with_capacity(sims.len());
        for (i, sim) in sims {
            let name = &d.upses[i].name;
            let fail = |e: io::Error| format!("{name}: cannot start the simulation: {e}");
            let ups = sim.start(name).map_err(fail)?;
            let found = ups.found().map_err(fail)?;
            d.upses[i].dev.node = Some(found.node.clone());
            d.spawn(i, found.boxed(), ups.opener());
            starting.push(i);
        }
        d.await_first_data(starting);
        for spec in setup.devices {
            let i = d.upses.len();
            let mut dev = Backend::new(None, spec.opts, spec.retry);
            dev.info = Some(spec.found.info.clone());
            dev.node = Some(spec.found.node.clone());
            d.upses.push(Served::new(spec.name, None, dev));
            d.spawn(i, spec.found, spec.opener);
        }
        d.start_discovery(now);
        Ok(d)
    }

    /// Start the UPSes of `specs` (simulated ones at once, USB ones when
    /// found); used at a reload for sections ups.conf gained.
    fn add_upses(&mut self, specs: Vec<UpsSpec>, now: u64) -> Result<(), String> {
        let mut usb = false;
        for spec in specs {
            let i = self.upses.len();
            self.configured.push(spec.name.clone());
            match spec.source {
                Source::Sim(sim, retry) => {
                    self.upses.push(Served::new(
                        spec.name,
                        spec.desc,
                        Backend::new(None, spec.opts, retry),
                    ));
                    let name = &self.upses[i].name;
                    let fail = |e: io::Error| format!("{name}: cannot start the simulation: {e}");
                    let ups = sim.start(name).map_err(fail)?;
                    let found = ups.found().map_err(fail)?;
                    self.upses[i].dev.node = Some(found.node.clone());
                    self.spawn(i, found.boxed(), ups.opener());
                }
                Source::Usb { matcher, retry } => {
                    usb = true;
                    self.upses.push(Served::new(
                        spec.name,
                        spec.desc,
                        Backend::new(Some(matcher), spec.opts, retry),
                    ));
                }
            }
            log(format_args!("{}: added", self.upses[i].name));
        }
        if usb {
            match self.hotplug.mode {
                Discovery::Off => {
                    self.hotplug.mode = Discovery::Configured;
                    self.start_discovery(now);
                }
                mode => {
                    // Adopted UPSes stay; new ones go to the sections.
                    if mode == Discovery::Adopt {
                        self.hotplug.mode = Discovery::Configured;
                    }
                    for node in self.hotplug.known.clone() {
                        self.probe(node);
                    }
                }
            }
        }
        Ok(())
    }

    /// SIGHUP: read the configuration again. A configuration that does
    /// not load leaves the running one as it is, and says why. Otherwise
    /// users, MAXAGE, TRACKINGDELAY and IDLE_TIMEOUT apply at once, new
    /// ups.conf sections start, and upsmon.conf, if it changed, rebuilds
    /// the monitor (unless a shutdown is under way). Devices and
    /// connected clients are kept; what needs a restart (LISTEN, MAXCONN,
    /// a changed or removed UPS section, a new SHUTDOWNCMD for the
    /// privileged helper) is logged.
    fn reload(&mut self, args: &Args, now: u64) {
        let new = match Setup::load(args) {
            Ok(s) => s,
            Err(e) => {
                log(format_args!(
                    "reload: {e}: keeping the running configuration"
                ));
                return;
            }
        };
        self.users = new.users;
        let burst = (new.login_failures > 0).then_some(new.login_failures);
        if self.limiter.as_ref().map(|l| l.table.burst()) != burst {
            self.limiter = Logins::new(new.login_failures);
        }
        self.maxage_ms = new.maxage_ms;
        self.idle_ms = new.idle_ms;
        self.tracking.ttl_ms = new.trackingdelay_ms;
        let bound: Vec<SocketAddr> = self
            .listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        if new.listen.iter().any(|(a, _)| !bound.contains(a)) {
            log(format_args!(
                "reload: new LISTEN addresses take effect at restart"
            ));
        }
        if new.maxconn.min(MAX_SLOTS) != self.slots.len() {
            log(format_args!("reload: MAXCONN takes effect at restart"));
        }
        for name in &self.configured {
            if !new.upses.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
                log(format_args!(
                    "reload: {name} is no longer configured: served until restart"
                ));
            }
        }
        let added: Vec<UpsSpec> = new
            .upses
            .into_iter()
            .filter(|u| {
                !self
                    .upses
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(&u.name))
            })
            .collect();
        if let Err(e) = self.add_upses(added, now) {
            log(format_args!("reload: {e}"));
        }
        if new.upsmon != self.upsmon_conf {
            self.reload_monitor(new.upsmon);
        }
        log(format_args!("configuration reloaded"));
    }

    fn reload_monitor(&mut self, conf: Option<UpsmonConf>) {
        if self
            .watch
            .as_ref()
            .is_some_and(|w| w.monitor.shutting_down())
        {
            log(format_args!(
                "reload: a shutdown is under way: upsmon.conf is not reloaded"
            ));
            return;
        }
        let mut helper = None;
        if let Some(mut old) = self.watch.take() {
            for l in &mut old.links {
                l.down(self.poll.registry());
            }
            helper = old.helper.take();
        }
        if helper.is_some() {
            let (was, is) = (&self.upsmon_conf, &conf);
            let same =
                |f: &dyn Fn(&UpsmonConf) -> String| was.as_ref().map(f) == is.as_ref().map(f);
            if !same(&|c| format!("{:?}{:?}", c.shutdowncmd, c.powerdownflag)) {
                log(format_args!(
                    "reload: SHUTDOWNCMD and POWERDOWNFLAG are the privileged helper's: they change at restart"
                ));
            }
        }
        self.upsmon_conf = conf.clone();
        self.watch = match conf {
            Some(c) => match Watch::new(c, &self.ports, self.waker.clone()) {
                Ok(mut w) => {
                    w.helper = helper;
                    Some(w)
                }
                Err(e) => {
                    log(format_args!("reload: {e}: the monitor is off"));
                    None
                }
            },
            None => None,
        };
    }

    /// One line for the service manager: each UPS with its status, and
    /// the number of clients.
    fn summary(&self) -> String {
        let now = self.clock.now();
        let mut s = String::new();
        for (k, u) in self.upses.iter().enumerate() {
            s.push_str(if k == 0 { "" } else { ", " });
            s.push_str(&u.name);
            s.push(' ');
            match u.dev.data(now, self.maxage_ms) {
                Data::Ready(live) => s.push_str(live.store.get("ups.status").unwrap_or("?")),
                Data::Stale => s.push_str("stale"),
                _ => s.push_str("not connected"),
            }
        }
        if self.upses.is_empty() {
            s.push_str("no UPS yet");
        }
        let clients = self.slots.len() - self.free.len();
        s.push_str(&format!("; {clients} client(s)"));
        s
    }

    /// Wait, a bounded time, until the workers of UPSes `ups` have
    /// published once (a worker says [`Report::Attached`] after its first
    /// publication). Used for simulated UPSes, which answer at once: a
    /// client that asks right after start gets data, not
    /// DRIVER-NOT-CONNECTED. Connections made meanwhile wait in the
    /// listen backlog.
    fn await_first_data(&mut self, mut ups: Vec<usize>) {
        let end = std::time::Instant::now() + Duration::from_millis(FIRST_DATA_MS);
        while !ups.is_empty() {
            let left = end.saturating_duration_since(std::time::Instant::now());
            let Ok(r) = self.reports.recv_timeout(left) else {
                break;
            };
            if let Report::Attached { ups: i, .. } = &r {
                ups.retain(|u| u != i);
            }
            self.report(r);
        }
        self.refresh();
    }

    /// Subscribe to uevents (else plan rescans), then probe every hidraw
    /// node present. Subscribing first: a node that appears in between
    /// is probed twice rather than missed.
    fn start_discovery(&mut self, now: u64) {
        let h = &mut self.hotplug;
        match h.mode {
            Discovery::Off => return,
            Discovery::Configured => {}
            Discovery::Adopt => log(format_args!(
                "no UPS configured: serving every USB UPS found"
            )),
        }
        match Uevents::open() {
            Ok(u) => match self.poll.registry().register(
                &mut SourceFd(&u.fd()),
                UEVENTS,
                Interest::READABLE,
            ) {
                Ok(()) => h.uevents = Some(u),
                Err(e) => log(format_args!("epoll: {e}")),
            },
            Err(e) => log(format_args!(
                "no kernel uevents ({e}): rescanning {} every {} s",
                hotplug::CLASS,
                RESCAN_MS / 1000
            )),
        }
        if h.uevents.is_none() {
            h.rescan_at = now + RESCAN_MS;
        }
        for node in hotplug::scan(Path::new(hotplug::CLASS)) {
            self.hotplug.known.push(node.clone());
            self.probe(node);
        }
    }

    /// Look at a node on a thread of its own: opening it and reading its
    /// descriptor block.
    fn probe(&self, node: String) {
        let notify = self.notify.clone();
        let r = std::thread::Builder::new()
            .name(format!("probe {node}"))
            .spawn(move || match crate::device::probe::probe(&node) {
                Probed::Ups(f) => notify.send(Report::Found(Box::new(f.boxed()))),
                Probed::NotUps => debug(1, format_args!("{node}: not a UPS")),
                Probed::Failed(e) => log(format_args!("{e}")),
            });
        if let Err(e) = r {
            log(format_args!("cannot start a thread: {e}"));
        }
    }

    /// Kernel uevents: probe what was added, tell the worker of what was
    /// removed.
    fn uevents(&mut self) {
        let Some(u) = &self.hotplug.uevents else {
            return;
        };
        let mut evs = Vec::new();
        u.drain(|e| evs.push(e));
        for e in evs {
            match e {
                // Probed even when known: a remove may have been lost
                // (netlink drops messages when its buffer overflows).
                hotplug::Event::Add(node) => {
                    if !self.hotplug.known.contains(&node) {
                        self.hotplug.known.push(node.clone());
                    }
                    self.probe(node);
                }
                hotplug::Event::Remove(node) => self.removed(&node),
            }
        }
    }

    /// Without uevents: what appeared and vanished since the last scan.
    fn rescan(&mut self) {
        let now = hotplug::scan(Path::new(hotplug::CLASS));
        let gone: Vec<String> = self
            .hotplug
            .known
            .iter()
            .filter(|n| !now.contains(n))
            .cloned()
            .collect();
        for node in gone {
            self.removed(&node);
        }
        for node in now {
            if !self.hotplug.known.contains(&node) {
                self.hotplug.known.push(node.clone());
                self.probe(node);
            }
        }
    }

    fn removed(&mut self, node: &str) {
        self.hotplug.known.retain(|n| n != node);
        for s in &mut self.upses {
            let u = &mut s.dev;
            // A simulated UPS has no USB identity: its node is a path,
            // and no hidraw node is it.
            if u.info.is_some() && u.node.as_deref() == Some(node) {
                u.node = None;
                u.send(Msg::Removed(node.to_string()));
            }
        }
    }

    /// Workers and probes have news: take their reports, then copy the
    /// data of every UPS that changed.
    fn wake(&mut self) {
        while let Ok(r) = self.reports.try_recv() {
            self.report(r);
        }
        self.refresh();
    }

    fn report(&mut self, r: Report<Dev>) {
        match r {
            Report::Found(f) => self.found(f),
            Report::Attached { ups, node } => {
                if let Some(s) = self.upses.get_mut(ups) {
                    s.dev.node = Some(node);
                }
            }
            Report::Done { tracking, status } => self.tracking.finish(Some(tracking), status),
        }
    }

    /// Copy the data of every UPS whose worker published since.
    fn refresh(&mut self) {
        for s in &mut self.upses {
            let u = &mut s.dev;
            if let Some(w) = &u.worker {
                u.mirror.refresh(w.link());
            }
        }
    }

    /// A probe found a UPS on a node: decide whose it is.
    fn found(&mut self, f: Box<Found<Dev>>) {
        // A UPS served before takes its device back, under its name
        // (replugged; or the same node seen twice, and the worker drops
        // the spare).
        // Units that share a serial number are all candidates: the one
        // last seen on this port is it (the names must not swap when
        // twins come back in another order).
        let owners = || (0..self.upses.len()).filter(|&i| self.upses[i].dev.owns(&f));
        let same_port = |i: &usize| {
            self.upses[*i]
                .dev
                .info
                .as_ref()
                .is_some_and(|i| i.port == f.info.port)
        };
        if let Some(i) = owners().find(same_port).or_else(|| owners().next()) {
            let u = &mut self.upses[i].dev;
            u.node = Some(f.node.clone());
            u.send(Msg::Attach(f));
            return;
        }
        match self.hotplug.mode {
            Discovery::Off => {}
            Discovery::Configured => {
                // The first section whose matcher accepts it and that has
                // no device: never bound first, then unplugged ones.
                let accepts = |s: &Served| {
                    s.dev
                        .matcher
                        .as_ref()
                        .is_some_and(|m| m.matches(&f.node, &f.info))
                };
                let pick = |unbound: bool| {
                    self.upses.iter().position(|s| {
                        accepts(s) && s.dev.free() && s.dev.worker.is_none() == unbound
                    })
                };
                match pick(true).or_else(|| pick(false)) {
                    Some(i) => self.bind(i, f),
                    None => log(format_args!(
                        "{}: UPS {:04x}:{:04x} ({}) matches no free ups.conf section: not served",
                        f.node,
                        f.info.vid,
                        f.info.pid,
                        f.info.product.as_deref().unwrap_or("no product string")
                    )),
                }
            }
            Discovery::Adopt => {
                let ident = crate::device::usb::identity(&f.info);
                let key =
                    select::choose(&ident, &Options::default()).map_or("generic", |c| c.sub.key);
                let taken = |n: &str| self.upses.iter().any(|s| s.name.eq_ignore_ascii_case(n));
                let mut name = naming::stable_name(key, &f.info);
                if taken(&name) {
                    // Another unit with the same serial number: the port
                    // tells them apart.
                    let mut by_port = f.info.clone();
                    by_port.serial = None;
                    name = naming::stable_name(key, &by_port);
                }
                if taken(&name) {
                    log(format_args!(
                        "{}: a UPS called {name} is served already: not served",
                        f.node
                    ));
                    return;
                }
                let i = self.upses.len();
                let dev = Backend::new(None, Options::default(), Retry::default());
                // LIST UPS shows the product, as a ups.conf desc would.
                let desc = f.info.product.clone();
                self.upses.push(Served::new(name, desc, dev));
                self.bind(i, f);
            }
        }
    }

    /// Give UPS `i` the device `f`: start its worker, or hand the device
    /// to the worker it has.
    fn bind(&mut self, i: usize, f: Box<Found<Dev>>) {
        let u = &mut self.upses[i].dev;
        u.info = Some(f.info.clone());
        u.node = Some(f.node.clone());
        if u.worker.is_some() {
            u.send(Msg::Attach(f));
            return;
        }
        let opener: Opener<Dev> = Box::new(|want: &crate::device::usb::UsbInfo| {
            crate::device::probe::reopen(want).map(Found::boxed)
        });
        self.spawn(i, *f, opener);
    }

    fn spawn(&mut self, i: usize, f: Found<Dev>, opener: Opener<Dev>) {
        let s = &mut self.upses[i];
        let u = &mut s.dev;
        let cfg = Config {
            name: s.name.clone(),
            index: i,
            opts: u.opts.clone(),
            retry: u.retry,
        };
        match worker::spawn(cfg, f, opener, self.notify.clone(), self.clock) {
            Ok(h) => u.worker = Some(h),
            Err(e) => log(format_args!("{}: cannot start a thread: {e}", s.name)),
        }
    }

    /// Accept every waiting connection.
    /// A listener's or a client's turn: accept, or answer and move its
    /// bytes, within a budget; whoever has work left queues for the next
    /// turn.
    fn serve(&mut self, t: Token, now: u64) {
        if t.0 < CLIENT_BASE {
            if t.0 >= self.listeners.len() {
                return;
            }
            if !self.accept(t.0, now) && !self.listener_queued[t.0] {
                self.listener_queued[t.0] = true;
                self.busy.push_back(t);
            }
            return;
        }
        let i = t.0 - CLIENT_BASE;
        if self.slots.get(i).map_or(true, |s| s.conn.is_none()) {
            return;
        }
        match self.pump(i, now) {
            Next::Open => {}
            Next::Close => self.close(i),
            Next::Busy => {
                if let Some(c) = self.slots[i].conn.as_mut() {
                    if !c.queued {
                        c.queued = true;
                        self.busy.push_back(t);
                    }
                }
            }
        }
    }

    /// `t` left the busy queue: its flag says so.
    fn dequeued(&mut self, t: Token) {
        if t.0 < CLIENT_BASE {
            if let Some(q) = self.listener_queued.get_mut(t.0) {
                *q = false;
            }
        } else if let Some(c) = self
            .slots
            .get_mut(t.0 - CLIENT_BASE)
            .and_then(|s| s.conn.as_mut())
        {
            c.queued = false;
        }
    }

    /// Accept new connections, at most [`ACCEPT_BUDGET`]; `true` when
    /// the listener has no more waiting.
    fn accept(&mut self, l: usize, now: u64) -> bool {
        for _ in 0..ACCEPT_BUDGET {
            match self.listeners[l].accept() {
                Ok((stream, peer)) => self.admit(stream, peer.ip(), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: the connection stays queued
                    // until the next one arrives.
                    log(format_args!("accept: {e}"));
                    return true;
                }
            }
        }
        false
    }

    fn admit(&mut self, mut stream: TcpStream, peer: IpAddr, now: u64) {
        let Some(i) = self.free.pop() else {
            // upsd has no reply for this either: it stops polling its
            // listeners, and the client sees nothing. Closing at once
            // tells it sooner.
            if !self.full_logged {
                log(format_args!(
                    "MAXCONN ({}) reached: closing new connections",
                    self.slots.len()
                ));
                self.full_logged = true;
            }
            return;
        };
        // Replies go out whole, one write each: no need to wait for more.
        let _ = stream.set_nodelay(true);
        let token = Token(CLIENT_BASE + i);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log(format_args!("epoll: {e}"));
            self.free.push(i);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = &mut self.slots[i];
        if slot.rx.is_empty() {
            slot.rx = vec![0; RX].into_boxed_slice();
            slot.tx = vec![0; TX_SMALL].into_boxed_slice();
        }
        slot.conn = Some(Conn {
            stream,
            peer,
            seq,
            session: Session::new(now, self.seeds.hash_one(seq)).with_idle_timeout(self.idle_ms),
            rx_len: 0,
            tx_sent: 0,
            tx_len: 0,
            discard: false,
            closing: false,
            queued: false,
        });
        debug(1, format_args!("connection from {peer} (slot {i})"));
    }

    fn close(&mut self, i: usize) {
        let Some(mut c) = self.slots[i].conn.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        debug(1, format_args!("{} disconnected (slot {i})", c.peer));
        if let Some(u) = c.session.logged_in() {
            self.upses[u].numlogins = self.upses[u].numlogins.saturating_sub(1);
            self.logins.retain(|l| l.seq != c.seq);
        }
        // A grown reply buffer goes back to the small one: the next
        // client of this slot may never list anything.
        if self.slots[i].tx.len() > TX_SMALL {
            self.slots[i].tx = vec![0; TX_SMALL].into_boxed_slice();
        }
        self.free.push(i);
        self.full_logged = false;
    }

    /// Move a connection along as far as it goes without blocking:
    /// answer, write, read, until the socket would block (mio's
    /// "draining readiness": no further event comes until then).
    fn pump(&mut self, i: usize, now: u64) -> Next {
        // A read that filled less than the buffer emptied the socket; new
        // data will raise a fresh edge, so no second read is needed to see
        // WouldBlock (one syscall fewer per request).
        let mut drained = false;
        let mut written = 0;
        loop {
            if written >= WRITE_BUDGET {
                return Next::Busy;
            }
            self.answer(i, now);
            let slot = &mut self.slots[i];
            let Some(c) = slot.conn.as_mut() else {
                return Next::Close;
            };
            while c.tx_sent < c.tx_len {
                match c.stream.write(&slot.tx[c.tx_sent..c.tx_len]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        c.tx_sent += n;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            c.tx_sent = 0;
            c.tx_len = 0;
            if c.closing {
                return Next::Close;
            }
            // Lines left unanswered (the reply buffer filled) are
            // answered now that it is empty; only then is the socket done.
            if drained && !slot.rx[..c.rx_len].contains(&b'\n') {
                return Next::Open;
            }
            if c.rx_len == RX {
                // Full of lines that did not fit the reply buffer: answer
                // them now that it is empty.
                continue;
            }
            let room = RX - c.rx_len;
            match c.stream.read(&mut slot.rx[c.rx_len..]) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    c.rx_len += n;
                    drained = n < room;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    /// Answer every complete line received that fits the send buffer, and
    /// carry out what each asks for.
    fn answer(&mut self, i: usize, now: u64) {
        let Daemon {
            slots,
            upses,
            logins,
            tracking,
            users,
            scratch,
            maxage_ms,
            limiter,
            ..
        } = self;
        let slot = &mut slots[i];
        let Some(c) = slot.conn.as_mut() else {
            return;
        };
        let (rx, tx) = (&mut slot.rx[..], &mut slot.tx[..]);
        let (mut grow, small) = (false, tx.len() < TX);
        if c.discard {
            match rx[..c.rx_len].iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    rx.copy_within(lf + 1..c.rx_len, 0);
                    c.rx_len -= lf + 1;
                    c.discard = false;
                }
                None => c.rx_len = 0,
            }
        }
        let mut start = 0;
        while !c.closing {
            let Some(lf) = rx[start..c.rx_len].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &rx[start..start + lf];
            if crate::sys::log::level() >= 2 {
                let text = String::from_utf8_lossy(line);
                // Never a password in the log.
                let shown = match text.get(..9) {
                    Some(w) if w.eq_ignore_ascii_case("PASSWORD ") => "PASSWORD ...",
                    _ => text.trim_end(),
                };
                debug(2, format_args!("{}: {shown}", c.peer));
            }
            let mut out = Reply::new(&mut tx[c.tx_len..]);
            let view = View {
                upses,
                logins,
                tracking,
                now,
                maxage_ms: *maxage_ms,
            };
            let env = Env {
                upses: &view,
                users,
                now,
            };
            // Every line: a reload may replace or remove the limiter.
            let limited = limiter.as_ref().is_some_and(|l| l.limited(c.peer, now));
            c.session.set_auth_limited(limited);
            let r = c.session.handle_line(line, scratch, &env, &mut out);
            if let (true, Some(l)) = (c.session.take_auth_failure(), limiter.as_mut()) {
                l.failed(c.peer, now);
            }
            match r {
                Ok(action) => {
                    if let Some(a) = action {
                        if let Some(id) = a.tracking() {
                            tracking.start(id, now);
                        }
                        let r = match a {
                            Action::Close => {
                                c.closing = true;
                                Ok(())
                            }
                            Action::Login { ups } => {
                                upses[ups].numlogins += 1;
                                let at = logins.partition_point(|l| l.seq < c.seq);
                                logins.insert(
                                    at,
                                    Login {
                                        seq: c.seq,
                                        addr: c.peer,
                                        ups,
                                    },
                                );
                                Ok(())
                            }
                            Action::Fsd { ups } => {
                                let u = &mut upses[ups];
                                u.fsd = true;
                                log(format_args!(
                                    "{}: forced shutdown (FSD) set by {}@{}",
                                    u.name,
                                    c.session.username().unwrap_or("?"),
                                    c.peer
                                ));
                                Ok(())
                            }
                            Action::SetVar {
                                ups,
                                var,
                                value,
                                tracking: id,
                            } => upses[ups].setvar(var.as_str(), value, id),
                            Action::InstCmd {
                                ups,
                                cmd,
                                value,
                                tracking: id,
                            } => upses[ups].instcmd(cmd, value, id),
                        };
                        if let Err(code) = r {
                            tracking.finish(a.tracking(), TrackingStatus::Failed);
                            out.clear();
                            let _ = out.err(code);
                        }
                    }
                    c.tx_len += out.len();
                    start += lf + 1;
                }
                // Room comes back once the pending bytes are sent.
                Err(Overflow::Full) if c.tx_len > c.tx_sent => break,
                // The small buffer: grow it to the largest reply and
                // answer the line again (a reply that does not fit
                // changes nothing in the session).
                Err(Overflow::Full) if small => {
                    grow = true;
                    break;
                }
                Err(_) => {
                    // Larger than the whole buffer (a reply upsd would
                    // have cut): refuse rather than send half a list.
                    out.clear();
                    let _ = out.err(ErrCode::TooLong);
                    c.tx_len += out.len();
                    start += lf + 1;
                }
            }
        }
        rx.copy_within(start..c.rx_len, 0);
        c.rx_len -= start;
        if grow {
            slot.tx = vec![0; TX].into_boxed_slice();
            return self.answer(i, now);
        }
        // (A full buffer of lines waiting for reply room is not one.)
        if c.rx_len == RX && !c.closing && !rx.contains(&b'\n') {
            // A full buffer without a LF: refuse the line, skip its rest.
            let mut out = Reply::new(&mut tx[c.tx_len..]);
            if c.session
                .lex_error(LexError::LineTooLong, now, &mut out)
                .is_ok()
            {
                c.tx_len += out.len();
                c.rx_len = 0;
                c.discard = true;
            }
        }
    }

    /// Run what is due; returns the next deadline.
    fn tick(&mut self, now: u64) -> u64 {
        self.tracking.expire(now);
        let mut next = u64::MAX;
        for u in &mut self.upses {
            next = next.min(u.dev.check_age(&u.name, now, self.maxage_ms));
        }
        if self.hotplug.rescan_at <= now {
            self.rescan();
            self.hotplug.rescan_at = now + RESCAN_MS;
        }
        next = next.min(self.hotplug.rescan_at);
        for i in 0..self.slots.len() {
            let Some(c) = &self.slots[i].conn else {
                continue;
            };
            if c.session.is_idle(now) {
                // upsd drops idle clients silently.
                self.close(i);
            } else {
                next = next.min(c.session.idle_deadline() + 1);
            }
        }
        // Last: logouts of idle clients count for a primary's wait.
        if let Some(w) = &mut self.watch {
            next = next.min(w.run(&mut self.upses, self.poll.registry(), now, self.maxage_ms));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(system: &str, host: &str, port: u16) -> upsmon_conf::Monitor {
        upsmon_conf::Monitor {
            line: 1,
            system: system.into(),
            ups: "ups".into(),
            host: host.into(),
            port,
            powervalue: 1,
            user: "u".into(),
            password: "p".into(),
            role: Role::Secondary,
        }
    }

    #[test]
    fn local_entries_are_loopback_without_a_foreign_port() {
        let ours = [3493, 40000];
        for (system, host, port, local) in [
            ("ups", "localhost", 3493, true),
            ("ups@localhost", "localhost", 3493, true),
            ("ups@127.0.0.1", "127.0.0.1", 3493, true),
            ("ups@127.0.0.1:40000", "127.0.0.1", 40000, true),
            ("ups@[::1]:40000", "::1", 40000, true),
            // Another server on this host (a stock upsd) and other hosts.
            ("ups@127.0.0.1:3494", "127.0.0.1", 3494, false),
            ("ups@[::1]:3494", "::1", 3494, false),
            ("ups@nas", "nas", 3493, false),
            ("ups@192.168.1.2:3493", "192.168.1.2", 3493, false),
        ] {
            assert_eq!(
                is_local(&entry(system, host, port), &ours),
                local,
                "{system}"
            );
        }
        // No port written: local whatever this daemon listens on.
        assert!(is_local(
            &entry("ups@localhost", "localhost", 3493),
            &[40000]
        ));
        assert!(!is_local(
            &entry("ups@localhost:3493", "localhost", 3493),
            &[40000]
        ));
    }
}
