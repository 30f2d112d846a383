//! The daemon: one thread, one mio [`Poll`], owning every listening
//! socket and every client connection, and serving the UPSes over NUT's
//! network protocol. It never waits on a device: each UPS, USB or
//! simulated ([`crate::device::sim`]), has its own worker thread
//! ([`crate::device::worker`]), and the loop reads a copy of its data.
//!
//! Read first: `docs/design/nut-protocol.md` §3 (connection
//! lifecycle), §4 and §5 (what the session answers), §8.2 (staleness)
//! and §8.3 (the FSD latch); `docs/design/architecture.md` for the layers.
//!
//! Boundary: besides `sys/` and the workers, this module is the only
//! place that reads the clock and touches sockets. Everything it drives
//! is pure and gets the time as milliseconds on the daemon's monotonic
//! clock: the `Session` answers request lines into a buffer and returns
//! an `Action`, which is carried out here (a SET VAR or INSTCMD is
//! handed to the UPS's worker). Configuration is parsed by
//! [`crate::config`]; this module only decides what it means.
//!
//! The loop follows mio's `tcp_server` example, with a table of
//! connections made as they come (`clients`), and one call per event
//! into the file that owns it:
//! - tokens `0..MAX_LISTENERS` are listeners; client slot `i` is token
//!   `CLIENT_BASE + i`; [`WAKE`] is the workers' waker and [`UEVENTS`]
//!   the kernel's hot-plug socket;
//! - a listener event accepts until `WouldBlock`; a client event runs
//!   `Daemon::pump` (`clients`): answer every complete line
//!   (`answer`), write the replies in one `write`, read until
//!   `WouldBlock`;
//! - a wake-up drains the workers' reports (devices found, commands
//!   done) and refreshes the loop's copy of each UPS that changed
//!   (`discovery`, `upses`);
//! - after the events, whatever is due runs (`Daemon::tick`): MAXAGE
//!   staleness, idle clients, the hidraw rescan when there are no
//!   uevents, the built-in upsmon (`upsmon`, with `upsmon.conf`); the
//!   poll timeout is the nearest such deadline;
//! - signals: SIGHUP reloads (`reload`), SIGTERM and SIGINT stop; the
//!   service manager hears how it goes (`service`).
//!
//! Start-up (privileges, listeners, the UPSes) is `start`'s; what the
//! configuration means was resolved before, by [`crate::config::setup`]
//! (`setup` supplies the devices).
//!
//! Simulated UPSes (`--simulate`, ups.conf's `driver = sim`) start their
//! worker at once on a `Sim` device; they take no part in discovery.
//!
//! Devices. USB UPSes are looked for when ups.conf has `driver =
//! usbhid-ups` sections, or when nothing at all is configured (then
//! every UPS found is served, named by `naming::stable_name`). Two
//! paths find them:
//! - kernel uevents on a netlink socket (`Uevents`, no udevd needed),
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
//! Memory follows the connections open, not MAXCONN: a connection's
//! state is allocated when it is accepted and freed when it goes; the
//! loop reads and answers through one pair of buffers, and a connection
//! holds bytes of its own only while some are in flight, so an idle
//! client costs a few hundred bytes. Idle timeouts wait in a deadline
//! queue (`proto::timers`): a pass of the loop looks at no connection
//! that is not due. Answering a request (`GET VAR`, `LIST VAR`, ...)
//! allocates nothing, and neither does refreshing a UPS's copy
//! (`clone_from`).

mod answer;
mod clients;
mod discovery;
mod links;
mod reload;
mod service;
mod setup;
mod start;
mod upses;
mod upsmon;

pub use setup::{DeviceSpec, Setup};

use crate::chan::Receiver;
use crate::config::setup::{Args, MAX_LISTENERS};
use crate::config::upsmon_conf::UpsmonConf;
use crate::device::io::Dev;
use crate::device::shared::{Notify, Report};
use crate::proto::admission::Admission;
use crate::proto::ratelimit::LoginLimit;
use crate::proto::tracking::Table;
use crate::proto::{Users, MAX_LINE, MAX_REPLY_LINE};
use crate::store::MAX_VARS;
use crate::sys::clock::Clock;
use clients::Clients;
use discovery::Hotplug;
use links::MAX_LINKS;
use mio::net::TcpListener;
use mio::{Events, Poll, Token, Waker};
use service::{Service, Suspend};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use upses::{Login, Served};
use upsmon::Watch;

// Tokens: listeners are `0..MAX_LISTENERS`.
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
/// Link `l`'s socket (a remote `MONITOR` entry) is token `REMOTE_TOP - l`.
const REMOTE_TOP: usize = usize::MAX - 4;

/// The loop's receive buffer: several request lines of [`MAX_LINE`]
/// bytes, so a client that sends many at once is read in few calls.
const RX: usize = 4 * (MAX_LINE + 1);
/// The loop's send buffer, enough for the longest `LIST VAR`: every
/// variable a store holds on a line of the longest length stock clients
/// read, plus `BEGIN` and `END`.
const TX: usize = (MAX_VARS + 2) * MAX_REPLY_LINE;
/// Reply bytes written to one client per turn: a client that sends
/// without reading (loopback buffers hold megabytes) gets its share and
/// waits for the next turn, behind everyone else.
const WRITE_BUDGET: usize = 16 * 1024;
/// Connections accepted per turn of a listener, so that a flood of new
/// connections does not hold up the clients already served.
const ACCEPT_BUDGET: usize = 64;
/// Most client connections, whatever MAXCONN says (upsd's default is
/// the file descriptor limit).
const MAX_SLOTS: usize = 65_536;
/// How often `/sys/class/hidraw` is rescanned when uevents are not to be
/// had.
const RESCAN_MS: u64 = 2000;
/// How long the start waits at most for simulated UPSes' first data.
const FIRST_DATA_MS: u64 = 5000;
/// A suspend shorter than this is not treated as one (upsmon's 5 s).
const SLEEP_MS: u64 = 5000;
/// How often the service manager's STATUS line is brought up to date.
const STATUS_MS: u64 = 5000;

/// The running server.
struct Daemon {
    poll: Poll,
    clock: Clock,
    listeners: Vec<TcpListener>,
    clients: Clients,
    /// Bytes read from a client, before they are answered (shared: a
    /// connection keeps only what it leaves unanswered).
    rx: Box<[u8]>,
    /// Replies to a client, before they are written (shared: a connection
    /// keeps only what its peer does not take at once).
    tx: Box<[u8]>,
    /// Which connection gets a slot and which makes room (issue 14).
    admission: Admission,
    upses: Vec<Served>,
    /// When a UPS's data may next run out of MAXAGE (0: look now).
    ages_at: u64,
    logins: Vec<Login>,
    tracking: Table,
    users: Users,
    maxage_ms: u64,
    idle_ms: u64,
    /// Words with escapes, rebuilt by the tokenizer.
    scratch: Box<[u8]>,
    /// The key of the per-connection seeds for tracking ids
    /// (`clients::seed`), random at start.
    seeds: u64,
    next_seq: u64,
    /// Listeners and clients whose last turn ended with work left
    /// (each at most once: `Conn::queued`, `listener_queued`).
    busy: VecDeque<Token>,
    listener_queued: Vec<bool>,
    /// The first look at the devices present at start.
    boot: discovery::Boot,
    /// Workers and probes report here and wake the loop.
    notify: Notify<Dev>,
    reports: Receiver<Report<Dev>>,
    hotplug: Hotplug,
    /// Failed logins per address (`None`: `LOGIN_FAILURES 0`); whether
    /// any failure was seen yet; whether "table full" was logged.
    limiter: Option<LoginLimit>,
    /// The built-in upsmon, with `upsmon.conf`.
    watch: Option<Watch>,
    /// What the monitor was built from (a reload rebuilds it on change).
    upsmon_conf: Option<UpsmonConf>,
    /// Names of the UPSes the configuration gave (not adopted ones).
    configured: Vec<String>,
    /// ups.conf as the running UPSes were configured from it.
    ups_conf: Option<crate::config::ups_conf::UpsConf>,
    /// Serving UPSes at all (false: nut.conf's MODE=netclient).
    serving: bool,
    /// The privileged helper while no monitor holds it (it opens device
    /// nodes for the probes too).
    spare_helper: Option<crate::sys::privsep::Helper>,
    /// Ports listened on (which `MONITOR` entries are this daemon's).
    ports: Vec<u16>,
    waker: Arc<Waker>,
}

/// `what: error`, the text of a failed system call: one copy of the
/// formatting for every such error the daemon returns.
#[inline(never)]
fn failed(what: &str, e: io::Error) -> String {
    format!("{what}: {e}")
}

/// Bind the listeners, drop privileges, start the UPSes and serve until
/// SIGTERM or SIGINT; SIGHUP reads the configuration again (`args` says
/// where from). Tells the service manager how it goes (sd_notify).
pub fn run(setup: Setup, args: &Args) -> Result<(), String> {
    let (mut d, signals) = start::start(setup)?;
    let clock = d.clock;
    let mut service = Service::start(&d);
    let mut suspend = Suspend::new();
    let mut events = Events::with_capacity(256);
    let mut now = clock.now();
    let mut deadline = d.tick(now);
    loop {
        deadline = deadline.min(service.due(&d, &clock));
        // The time read after the last poll: a pass takes microseconds,
        // and one clock read per pass is enough.
        let wait = deadline.saturating_sub(now);
        // A deadline of u64::MAX (nothing scheduled) waits for events only.
        let timeout = (deadline != u64::MAX).then(|| Duration::from_millis(wait));
        if let Err(e) = d.poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        now = clock.now();
        // Anything but a client may change a UPS's data or its age.
        let mut other = false;
        if let Some(ms) = suspend.resumed(now, events.is_empty()) {
            d.resumed(ms, now);
            other = true;
        }
        for ev in events.iter() {
            other |= ev.token().0 >= REMOTE_TOP - MAX_LINKS;
            match ev.token() {
                WAKE => d.wake(),
                UEVENTS => d.uevents(),
                SIGNALS => {
                    if d.signals(&signals, &service, args, now).is_break() {
                        return Ok(());
                    }
                }
                HELPER => d.helper_event(now),
                Token(t) if t <= REMOTE_TOP && t > REMOTE_TOP - MAX_LINKS => {
                    d.link_ready(REMOTE_TOP - t, now)
                }
                t => d.ready(t, ev.is_read_closed(), now),
            }
        }
        // Then those whose turn ended with work left, once each.
        for _ in 0..d.busy.len() {
            if let Some(t) = d.busy.pop_front() {
                d.dequeued(t);
                d.serve(t, now);
            }
        }
        if other {
            d.ages_at = 0;
        }
        deadline = d.tick(now);
        if !d.busy.is_empty() {
            // Work waits: look for events without sleeping.
            deadline = 0;
        }
    }
}

impl Daemon {
    /// Run what is due; returns the next deadline.
    fn tick(&mut self, now: u64) -> u64 {
        self.tracking.expire(now);
        // MAXAGE and the wait for a device: looked at when one may have
        // run out, or when a worker reported (not at every request).
        if now >= self.ages_at {
            self.ages_at = u64::MAX;
            for u in &mut self.upses {
                let at = u.dev.check_age(&u.name, now, self.maxage_ms);
                // A stale worker that recovers with the same data wakes
                // nobody: look again in a second to say it is back.
                let at = if u.dev.aged { at.min(now + 1000) } else { at };
                let at = at.min(u.dev.check_waiting(&u.name, now));
                self.ages_at = self.ages_at.min(at);
            }
        }
        let mut next = self.ages_at;
        // Lists whose BEGIN line went out alone: the rest is due.
        next = next.min(self.release_held(now));
        if self.hotplug.rescan_at <= now {
            self.rescan();
            self.hotplug.rescan_at = now + RESCAN_MS;
        }
        next = next.min(self.hotplug.rescan_at);
        // upsd drops idle clients silently.
        next = next.min(self.expire_idle(now));
        // Last: logouts of idle clients count for a primary's wait.
        let booting = self.booting(now);
        if let Some(w) = &mut self.watch {
            let at = w.tick(
                &mut self.upses,
                self.poll.registry(),
                now,
                self.maxage_ms,
                booting,
            );
            next = next.min(at);
        }
        if booting {
            next = next.min(self.boot.until);
        }
        next
    }
}
