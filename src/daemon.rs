//! The daemon: one thread, one mio [`Poll`], owning every UPS, every
//! listening socket and every client connection, and serving the UPSes
//! over NUT's network protocol.
//!
//! Read first: `nut-protocol.md` §1.5 (connection lifecycle), §2 (what
//! the session answers) and §5.5 (the FSD latch); `anchors.md` §1.3 and
//! §4 for the loop's shape.
//!
//! Boundary: this module is the only place that reads the clock, and
//! besides `sys/` the only one that touches sockets. Everything it drives
//! is pure and gets the time as milliseconds on the loop's monotonic
//! clock: the engine ([`Ups`]) polls a device through a
//! [`Transport`](crate::ups::engine::Transport),
//! the [`Session`] answers request lines into a buffer and returns an
//! [`Action`], which is carried out here. Configuration is parsed by
//! [`crate::config`]; this module only decides what it means.
//!
//! The loop follows mio's `tcp_server` example, with fixed slots instead
//! of a map:
//! - tokens `0..MAX_LISTENERS` are listeners; client slot `i` is token
//!   `CLIENT_BASE + i`;
//! - a listener event accepts until `WouldBlock`; a client event runs
//!   `Daemon::pump`: answer every complete line, write the replies in
//!   one `write`, read until `WouldBlock`;
//! - after the events, whatever is due runs (`Daemon::tick`): UPS polls,
//!   the rest of a command that paused, idle clients; the poll timeout is
//!   the nearest such deadline.
//!
//! Memory: the slot array has MAXCONN entries from the start; a slot's
//! receive and send buffers are allocated the first time the slot is used
//! and kept for the next connection. Answering a request (`GET VAR`,
//! `LIST VAR`, ...) allocates nothing.
//!
//! Devices: for now only simulated UPSes (recordings replayed through
//! [`Replay`]) are polled; a `driver = usbhid-ups` section is listed and
//! answers `ERR DRIVER-NOT-CONNECTED`.

use crate::config::{self, ups_conf, upsd_conf, upsd_users, Role};
use crate::proto::{
    Action, Actions, Data, Env, ErrCode, InstCmds, LexError, Live, Overflow, Reply, Session,
    TrackingId, TrackingStatus, UpsView, Upses, Upsmon, User, Users, MAX_LINE, MAX_REPLY_LINE,
};
use crate::recording::{Recording, Replay};
use crate::store::MAX_VARS;
use crate::sys::net;
use crate::ups::command::{CmdError, Plan, Step};
use crate::ups::engine::{Options, Ups, WalkResult, WriteError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Listener tokens are `0..MAX_LISTENERS`.
const MAX_LISTENERS: usize = 64;
/// Client slot `i` has token `CLIENT_BASE + i`.
const CLIENT_BASE: usize = MAX_LISTENERS;
/// A request line of [`MAX_LINE`] bytes plus its LF.
const RX: usize = MAX_LINE + 1;
/// The longest `LIST VAR`: every variable a store holds on a line of the
/// longest length stock clients read, plus `BEGIN` and `END`.
const TX: usize = (MAX_VARS + 2) * MAX_REPLY_LINE;
/// Most client slots, whatever MAXCONN says (each slot costs memory up
/// front; upsd's default is the file descriptor limit).
const MAX_SLOTS: usize = 65_536;
/// TRACKING results kept at most (the oldest goes first).
const TRACKING_CAP: usize = 1024;

/// The daemon's command line (`hidupsd --simulate ... --listen ... -c DIR`).
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// `[NAME=]PATH` of recorded UPSes to serve.
    pub simulate: Vec<String>,
    /// `ADDR:PORT` to listen on, replacing upsd.conf's `LISTEN` lines.
    pub listen: Vec<String>,
    /// A NUT configuration directory (upsd.conf, upsd.users, ups.conf).
    pub confdir: Option<PathBuf>,
}

/// Where a UPS's data comes from.
enum Source {
    /// A recording, replayed.
    Sim(Box<Recording>),
    /// A USB device: not served yet.
    Absent,
}

/// One UPS to serve, as configured.
struct UpsSpec {
    name: String,
    desc: Option<String>,
    source: Source,
    opts: Options,
}

/// Everything the loop needs, read and checked before any socket opens.
pub struct Setup {
    upses: Vec<UpsSpec>,
    /// Addresses, and whether failing to bind one is fatal.
    listen: Vec<(SocketAddr, bool)>,
    maxconn: usize,
    trackingdelay_ms: u64,
    users: Users,
}

impl Setup {
    /// Read the configuration files and recordings `args` name. Errors
    /// name the file and line (`file:line: msg`).
    pub fn load(args: &Args) -> Result<Setup, String> {
        let mut upsd = upsd_conf::UpsdConf::default();
        let mut upsd_file = PathBuf::from(upsd_conf::FILE);
        let mut users = Users::default();
        let mut upses = Vec::new();
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
                let file = dir.join(ups_conf::FILE);
                for s in &c.ups {
                    upses.push(from_section(dir, &file, s)?);
                }
            }
        }
        for spec in &args.simulate {
            let (name, path) = split_simulate(spec)?;
            let rec = Recording::load(&path).map_err(|e| e.to_string())?;
            upses.push(UpsSpec {
                name,
                desc: None,
                source: Source::Sim(Box::new(rec)),
                opts: Options::default(),
            });
        }
        if upses.is_empty() {
            return Err("no UPS to serve: give --simulate PATH, or -c DIR with a ups.conf".into());
        }
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
            listen,
            maxconn: upsd.maxconn as usize,
            trackingdelay_ms: u64::from(upsd.trackingdelay) * 1000,
            users,
        })
    }
}

/// A `ups.conf` section: `driver = sim` replays `port` (relative to the
/// configuration directory, as NUT's dummy-ups reads it).
fn from_section(dir: &Path, file: &Path, s: &ups_conf::UpsSection) -> Result<UpsSpec, String> {
    let source = match &s.driver {
        ups_conf::Driver::Sim(p) => {
            let path = dir.join(p);
            let rec = Recording::load(&path)
                .map_err(|e| format!("{}:{}: [{}] port: {e}", file.display(), s.line, s.name))?;
            Source::Sim(Box::new(rec))
        }
        ups_conf::Driver::UsbHid => Source::Absent,
    };
    Ok(UpsSpec {
        name: s.name.clone(),
        desc: s.desc.clone(),
        source,
        opts: ups_conf::engine_options(s),
    })
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

fn log(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "hidupsd: {args}");
}

/// Milliseconds since the loop started, on the monotonic clock.
struct Clock(Instant);

impl Clock {
    fn now(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// A command waiting out a pause between two of its writes.
#[derive(Clone, Copy)]
struct Pending {
    cmd: &'static str,
    plan: Plan,
    /// Index of the next step.
    next: usize,
    /// When to run it.
    at: u64,
    tracking: Option<TrackingId>,
}

enum Device {
    Sim { ups: Box<Ups>, io: Replay },
    Absent,
}

/// One UPS as served.
struct Served {
    name: String,
    desc: Option<String>,
    dev: Device,
    /// The last poll read something.
    live: bool,
    numlogins: u32,
    /// Set by `FSD`, never cleared (§5.5).
    fsd: bool,
    next_update: u64,
    pending: Option<Pending>,
}

impl Served {
    /// Bind and start a UPS: the INIT walk, then the recorded interrupt
    /// reports as a device would send them.
    fn start(spec: UpsSpec, now: u64) -> Result<Served, String> {
        let dev = match spec.source {
            Source::Sim(rec) => {
                let mut ups = Ups::new(&rec.descriptor, rec.ident.clone(), spec.opts)
                    .map_err(|e| format!("{}: {e}", spec.name))?;
                let mut io = Replay::new(&rec);
                ups.init(&mut io, now);
                for r in &rec.inputs {
                    ups.on_input(r, &mut io, now);
                }
                Device::Sim {
                    ups: Box::new(ups),
                    io,
                }
            }
            Source::Absent => {
                log(format_args!(
                    "{}: USB devices are not served yet (DRIVER-NOT-CONNECTED)",
                    spec.name
                ));
                Device::Absent
            }
        };
        let next_update = match &dev {
            Device::Sim { ups, .. } => now + ups.opts.pollinterval_ms,
            Device::Absent => u64::MAX,
        };
        Ok(Served {
            name: spec.name,
            desc: spec.desc,
            dev,
            live: true,
            numlogins: 0,
            fsd: false,
            next_update,
            pending: None,
        })
    }

    fn view(&self) -> UpsView<'_> {
        UpsView {
            name: &self.name,
            desc: self.desc.as_deref(),
            numlogins: self.numlogins,
            fsd: self.fsd,
            data: match &self.dev {
                Device::Sim { ups, .. } if self.live => Data::Ready(Live {
                    store: &ups.store,
                    commands: &ups.cmds,
                    ranges: &[],
                }),
                Device::Sim { .. } => Data::Stale,
                Device::Absent => Data::DriverNotConnected,
            },
        }
    }

    /// The next time [`Served::tick`] has something to do.
    fn deadline(&self) -> u64 {
        match self.pending {
            Some(p) => p.at,
            None => self.next_update,
        }
    }

    /// Resume a paused command, or poll when due. No poll runs while a
    /// command is paused: NUT's driver sleeps through the pause too.
    fn tick(&mut self, now: u64, tracking: &mut Tracking) {
        if let Some(p) = self.pending {
            if p.at <= now {
                self.resume(now, tracking);
            }
            return;
        }
        if now < self.next_update {
            return;
        }
        let Device::Sim { ups, io } = &mut self.dev else {
            return;
        };
        let live = ups.update(io, now) == WalkResult::Ok;
        self.next_update = now + ups.opts.pollinterval_ms;
        if live != self.live {
            let what = if live {
                "answers again"
            } else {
                "stopped answering: data stale"
            };
            log(format_args!("{}: {what}", self.name));
            self.live = live;
        }
    }

    /// INSTCMD. `Err` only when the command cannot start (another one is
    /// paused); how it ended goes to the log and to TRACKING.
    fn instcmd(
        &mut self,
        cmd: &'static str,
        value: Option<&str>,
        id: Option<TrackingId>,
        now: u64,
        tracking: &mut Tracking,
    ) -> Result<(), ErrCode> {
        let Device::Sim { ups, .. } = &self.dev else {
            return Err(ErrCode::InstcmdFailed);
        };
        if self.pending.is_some() {
            log(format_args!(
                "{}: {cmd}: refused, another command is running",
                self.name
            ));
            return Err(ErrCode::InstcmdFailed);
        }
        match ups.plan_command(cmd, value) {
            Ok(plan) => {
                self.pending = Some(Pending {
                    cmd,
                    plan,
                    next: 0,
                    at: now,
                    tracking: id,
                });
                self.resume(now, tracking);
            }
            Err(e) => {
                log(format_args!("{}: {cmd}: {e:?}", self.name));
                let st = match e {
                    CmdError::Unknown => TrackingStatus::Unknown,
                    CmdError::NeedsValue | CmdError::BadValue => TrackingStatus::InvalidArgument,
                };
                tracking.finish(id, st);
            }
        }
        Ok(())
    }

    /// Run the pending command's steps up to its next pause or its end.
    fn resume(&mut self, now: u64, tracking: &mut Tracking) {
        let (Some(p), Device::Sim { ups, io }) = (self.pending.take(), &mut self.dev) else {
            return;
        };
        let mut result = Ok(());
        for (k, step) in p.plan.steps().enumerate().skip(p.next) {
            if let Step::PauseMs(ms) = step {
                self.pending = Some(Pending {
                    next: k + 1,
                    at: now + u64::from(ms),
                    ..p
                });
                return;
            }
            result = ups.run_step(step, io, now);
            if result.is_err() {
                break;
            }
        }
        report(&self.name, p.cmd, result, p.tracking, tracking);
    }

    /// SET VAR, carried out at once; the result goes to the log and TRACKING.
    fn setvar(
        &mut self,
        var: &str,
        value: &str,
        id: Option<TrackingId>,
        now: u64,
        tracking: &mut Tracking,
    ) -> Result<(), ErrCode> {
        let Device::Sim { ups, io } = &mut self.dev else {
            return Err(ErrCode::SetFailed);
        };
        let r = ups.setvar(var, value, io, now);
        report(&self.name, var, r, id, tracking);
        Ok(())
    }
}

/// Log how a write ended and record it for TRACKING, with the driver
/// result codes NUT's usbhid-ups would send.
fn report(
    ups: &str,
    what: &str,
    r: Result<(), WriteError>,
    id: Option<TrackingId>,
    tracking: &mut Tracking,
) {
    let st = match r {
        Ok(()) => TrackingStatus::Success,
        Err(WriteError::NotSupported | WriteError::ReadOnly) => TrackingStatus::Unknown,
        Err(WriteError::BadValue) => TrackingStatus::InvalidArgument,
        Err(WriteError::Io(_)) => TrackingStatus::Failed,
    };
    match r {
        Ok(()) => log(format_args!("{ups}: {what}: done")),
        Err(e) => log(format_args!("{ups}: {what}: failed ({e:?})")),
    }
    tracking.finish(id, st);
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
}

impl Upses for View<'_> {
    fn count(&self) -> usize {
        self.upses.len()
    }
    fn ups(&self, index: usize) -> Option<UpsView<'_>> {
        self.upses.get(index).map(Served::view)
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
}

/// The running server.
struct Daemon {
    poll: Poll,
    listeners: Vec<TcpListener>,
    slots: Vec<Slot>,
    /// Free slot indices.
    free: Vec<usize>,
    upses: Vec<Served>,
    logins: Vec<Login>,
    tracking: Tracking,
    users: Users,
    /// Words with escapes, rebuilt by the tokenizer.
    scratch: Box<[u8]>,
    /// Per-connection seeds for tracking ids.
    seeds: RandomState,
    next_seq: u64,
    /// "MAXCONN reached" was logged since a slot last freed up.
    full_logged: bool,
}

/// Bind the listeners, start the UPSes and serve until killed.
pub fn run(setup: Setup) -> Result<(), String> {
    let clock = Clock(Instant::now());
    let mut d = Daemon::new(setup, clock.now())?;
    let mut events = Events::with_capacity(256);
    let mut deadline = d.tick(clock.now());
    loop {
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
        for ev in events.iter() {
            match ev.token() {
                Token(t) if t < CLIENT_BASE => d.accept(t, now),
                Token(t) => {
                    let i = t - CLIENT_BASE;
                    if d.slots.get(i).is_some_and(|s| s.conn.is_some()) {
                        if let Next::Close = d.pump(i, now) {
                            d.close(i);
                        }
                    }
                }
            }
        }
        deadline = d.tick(clock.now());
    }
}

impl Daemon {
    fn new(setup: Setup, now: u64) -> Result<Daemon, String> {
        let poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
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
        let maxconn = setup.maxconn.min(MAX_SLOTS);
        if maxconn < setup.maxconn {
            log(format_args!(
                "warning: MAXCONN {} lowered to {maxconn}",
                setup.maxconn
            ));
        }
        // Clients, listeners, stdio and a few to spare.
        let want = (maxconn + listeners.len() + 16) as u64;
        match net::raise_fd_limit(want) {
            Ok(n) if n < want => log(format_args!(
                "warning: the open file limit is {n}: fewer than MAXCONN {maxconn} clients fit"
            )),
            Ok(_) => {}
            Err(e) => log(format_args!(
                "warning: cannot raise the open file limit: {e}"
            )),
        }
        let mut upses = Vec::with_capacity(setup.upses.len());
        for spec in setup.upses {
            let u = Served::start(spec, now)?;
            if let Device::Sim { ups, .. } = &u.dev {
                log(format_args!(
                    "{}: simulated {} ({} variables, {} commands)",
                    u.name,
                    ups.ident.product.as_deref().unwrap_or("UPS"),
                    ups.store.len(),
                    ups.cmds.len()
                ));
            }
            upses.push(u);
        }
        let slots = (0..maxconn)
            .map(|_| Slot {
                conn: None,
                rx: Box::default(),
                tx: Box::default(),
            })
            .collect();
        Ok(Daemon {
            poll,
            listeners,
            slots,
            free: (0..maxconn).rev().collect(),
            upses,
            logins: Vec::with_capacity(maxconn),
            tracking: Tracking::new(setup.trackingdelay_ms),
            users: setup.users,
            scratch: vec![0; MAX_LINE].into_boxed_slice(),
            seeds: RandomState::new(),
            next_seq: 0,
            full_logged: false,
        })
    }

    /// Accept every waiting connection.
    fn accept(&mut self, l: usize, now: u64) {
        loop {
            match self.listeners[l].accept() {
                Ok((stream, peer)) => self.admit(stream, peer.ip(), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: the connection stays queued
                    // until the next one arrives.
                    log(format_args!("accept: {e}"));
                    return;
                }
            }
        }
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
            slot.tx = vec![0; TX].into_boxed_slice();
        }
        slot.conn = Some(Conn {
            stream,
            peer,
            seq,
            session: Session::new(now, self.seeds.hash_one(seq)),
            rx_len: 0,
            tx_sent: 0,
            tx_len: 0,
            discard: false,
            closing: false,
        });
    }

    fn close(&mut self, i: usize) {
        let Some(mut c) = self.slots[i].conn.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        if let Some(u) = c.session.logged_in() {
            self.upses[u].numlogins = self.upses[u].numlogins.saturating_sub(1);
            self.logins.retain(|l| l.seq != c.seq);
        }
        self.free.push(i);
        self.full_logged = false;
    }

    /// Move a connection along as far as it goes without blocking:
    /// answer, write, read, until the socket would block (mio's
    /// "draining readiness": no further event comes until then).
    fn pump(&mut self, i: usize, now: u64) -> Next {
        loop {
            self.answer(i, now);
            let slot = &mut self.slots[i];
            let Some(c) = slot.conn.as_mut() else {
                return Next::Close;
            };
            while c.tx_sent < c.tx_len {
                match c.stream.write(&slot.tx[c.tx_sent..c.tx_len]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => c.tx_sent += n,
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
            if c.rx_len == RX {
                // Full of lines that did not fit the reply buffer: answer
                // them now that it is empty.
                continue;
            }
            match c.stream.read(&mut slot.rx[c.rx_len..]) {
                Ok(0) => return Next::Close,
                Ok(n) => c.rx_len += n,
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
            ..
        } = self;
        let slot = &mut slots[i];
        let Some(c) = slot.conn.as_mut() else {
            return;
        };
        let (rx, tx) = (&mut slot.rx[..], &mut slot.tx[..]);
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
            let mut out = Reply::new(&mut tx[c.tx_len..]);
            let view = View {
                upses,
                logins,
                tracking,
            };
            let env = Env {
                upses: &view,
                users,
                now,
            };
            match c.session.handle_line(line, scratch, &env, &mut out) {
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
                            } => upses[ups].setvar(var.as_str(), value, id, now, tracking),
                            Action::InstCmd {
                                ups,
                                cmd,
                                value,
                                tracking: id,
                            } => upses[ups].instcmd(cmd, value, id, now, tracking),
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
        if c.rx_len == RX && !c.closing {
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
            u.tick(now, &mut self.tracking);
            next = next.min(u.deadline());
        }
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
        next
    }
}
