//! Start-up: the account to run as, the privileged helper forked before
//! any thread, the signal mask, then the listeners, the fd limit, the
//! drop of privileges, and the UPSes (simulated ones started at once, and
//! their first data awaited).

use super::clients::Clients;
use super::discovery::Hotplug;
use super::setup::{Setup, Source, UpsSpec};
use super::upses::{Backend, Served, WAITING_MS};
use super::upsmon::Watch;
use super::{Daemon, FIRST_DATA_MS, HELPER, MAX_SLOTS, RX, SIGNALS, TX, WAKE};
use crate::config::setup::{Discovery, MAX_LISTENERS};
use crate::config::upsmon_conf;
use crate::device::shared::{Notify, Report};
use crate::proto::admission::Admission;
use crate::proto::ratelimit::LoginLimit;
use crate::proto::tracking::Table;
use crate::proto::MAX_LINE;
use crate::sys::clock::{self, Clock};
use crate::sys::log::log;
use crate::sys::net;
use crate::sys::privsep::{self, Helper};
use crate::sys::signals::Signals;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token, Waker};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything before the loop: who to run as, the privileged helper
/// (forked before any thread starts), the signal mask, then the daemon
/// with its listeners and UPSes ([`Daemon::new`]).
pub(super) fn start(setup: Setup) -> Result<(Daemon, Signals), String> {
    // Before any thread starts: the signal mask, and the fork of the
    // privileged helper (see `sys::privsep`).
    let account = match &setup.conf.run_as {
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
    // Whenever root is given up: the helper also opens the device nodes
    // of UPSes plugged in later that no rule gave to our group, and sends
    // WALL notices as root.
    let helper = match &account {
        Some(_) => {
            let m = setup.conf.upsmon.as_ref();
            let cmd = m
                .and_then(|m| m.shutdowncmd.as_deref())
                .map(upsmon_conf::shell_command);
            let flag = m.and_then(|m| m.powerdownflag.as_ref()).map(PathBuf::from);
            let h = privsep::spawn(cmd, flag)
                .map_err(|e| super::failed("cannot start the privileged helper", e))?;
            crate::sys::log::debug(1, format_args!("privileged helper: pid {}", h.pid()));
            Some(h)
        }
        None => None,
    };
    if let Some(m) = &setup.conf.upsmon {
        super::upsmon::check_shutdowncmd(m, "");
    }
    // After the fork: the helper must not inherit the blocked signals.
    let signals = Signals::new().map_err(|e| super::failed("signalfd", e))?;
    let clock = Clock::start();
    let d = Daemon::new(setup, clock, account, helper)?;
    d.poll
        .registry()
        .register(&mut SourceFd(&signals.fd()), SIGNALS, Interest::READABLE)
        .map_err(|e| super::failed("epoll", e))?;
    Ok((d, signals))
}

/// Look up who to run as; `None` when that is who runs already, or when
/// not running as root (nothing can change then: said once).
pub(super) fn switch_to(
    user: &str,
    group: Option<&str>,
) -> Result<Option<privsep::Account>, String> {
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
    pub(super) fn new(
        setup: Setup,
        clock: Clock,
        account: Option<privsep::Account>,
        helper: Option<Helper>,
    ) -> Result<Daemon, String> {
        let Setup {
            conf: setup,
            devices,
        } = setup;
        let now = clock.now();
        let poll = Poll::new().map_err(|e| super::failed("epoll", e))?;
        let waker = Waker::new(poll.registry(), WAKE).map_err(|e| super::failed("eventfd", e))?;
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
                        .map_err(|e| super::failed("epoll", e))?;
                    log(format_args!("listening on {addr}"));
                    listeners.push(l);
                }
                Err(e) if required => return Err(format!("cannot listen on {addr}: {e}")),
                Err(e) => log(format_args!("not listening on {addr}: {e}")),
            }
        }
        if listeners.is_empty() && setup.serve {
            return Err("no address to listen on could be bound".into());
        }
        if let (false, Some(mode)) = (setup.serve, &setup.mode) {
            log(format_args!(
                "{mode}: monitoring only (upsmon.conf): no listener, no UPS of its own"
            ));
        }
        // Loops rather than filtering iterators collected: each collect
        // of a filter is its own few hundred bytes of machine code.
        let mut ports = Vec::with_capacity(listeners.len());
        for l in &listeners {
            if let Ok(a) = l.local_addr() {
                ports.push(a.port());
            }
        }
        // The monitor first: it removes a stale power-down flag, which
        // may need root.
        let upsmon_conf = setup.upsmon;
        let mut watch = match &upsmon_conf {
            Some(conf) => Some(Watch::new(
                conf,
                setup.serve.then_some(&ports[..]),
                waker.clone(),
            )?),
            None => None,
        };
        let configured = setup.upses.iter().map(|u| u.name.clone()).collect();
        let ups_conf = setup.ups_conf;
        // The helper's end: the monitor's (NOPARENT when it goes), else
        // kept aside for the device opens and a monitor a reload adds.
        let mut spare_helper = None;
        if let Some(h) = helper {
            poll.registry()
                .register(&mut SourceFd(&h.fd()), HELPER, Interest::READABLE)
                .map_err(|e| super::failed("epoll", e))?;
            match &mut watch {
                Some(w) => w.helper = Some(h),
                None => spare_helper = Some(h),
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
        let mut upses = Vec::with_capacity(setup.upses.len() + devices.len());
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
            let mut dev = Backend::new(matcher, spec.opts, retry);
            dev.waiting_at = now + WAITING_MS;
            upses.push(Served::new(spec.name, spec.desc, dev));
        }
        let mut d = Daemon {
            poll,
            clock,
            listeners,
            clients: Clients::new(maxconn),
            rx: vec![0; RX].into_boxed_slice(),
            tx: vec![0; TX].into_boxed_slice(),
            admission: Admission::new(maxconn, setup.limits).keyed(crate::sys::random_u64()),
            upses,
            ages_at: 0,
            logins: Vec::new(),
            tracking: Table::new(setup.trackingdelay_ms),
            users: setup.users,
            maxage_ms: setup.maxage_ms,
            idle_ms: setup.idle_ms,
            scratch: vec![0; MAX_LINE].into_boxed_slice(),
            seeds: crate::sys::random_u64(),
            next_seq: 0,
            busy: VecDeque::new(),
            boot: super::discovery::Boot {
                probes: 0,
                until: now + super::discovery::BOOT_MS,
            },
            listener_queued: vec![false; MAX_LISTENERS],
            notify,
            reports,
            hotplug: Hotplug {
                mode: setup.discovery,
                uevents: None,
                known: Vec::new(),
                rescan_at: u64::MAX,
            },
            limiter: LoginLimit::new(setup.login_failures),
            watch,
            upsmon_conf,
            configured,
            ups_conf,
            serving: setup.serve,
            spare_helper,
            ports,
            waker,
        };
        let mut starting = Vec::with_capacity(sims.len());
        for (i, sim) in sims {
            d.start_sim(i, sim)?;
            starting.push(i);
        }
        d.await_first_data(starting);
        for spec in devices {
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
    pub(super) fn add_upses(&mut self, specs: Vec<UpsSpec>, now: u64) -> Result<(), String> {
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
                    self.start_sim(i, sim)?;
                }
                Source::Usb { matcher, retry } => {
                    usb = true;
                    let mut dev = Backend::new(Some(matcher), spec.opts, retry);
                    dev.waiting_at = now + WAITING_MS;
                    self.upses.push(Served::new(spec.name, spec.desc, dev));
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
                        self.probe(node, false);
                    }
                }
            }
        }
        Ok(())
    }

    /// Start simulated UPS `i`'s script and its worker.
    #[inline(never)]
    fn start_sim(&mut self, i: usize, sim: Box<crate::device::sim::Sim>) -> Result<(), String> {
        let name = &self.upses[i].name;
        let fail = |e: io::Error| format!("{name}: cannot start the simulation: {e}");
        let ups = sim.start(name).map_err(fail)?;
        let found = ups.found().map_err(fail)?;
        self.upses[i].dev.node = Some(found.node.clone());
        self.spawn(i, found.boxed(), ups.opener());
        Ok(())
    }

    /// Wait, a bounded time, until the workers of UPSes `ups` have
    /// published once (a worker says [`Report::Attached`] after its first
    /// publication). Used for simulated UPSes, which answer at once: a
    /// client that asks right after start gets data, not
    /// DRIVER-NOT-CONNECTED. Connections made meanwhile wait in the
    /// listen backlog.
    pub(super) fn await_first_data(&mut self, mut ups: Vec<usize>) {
        let end = self.clock.now() + FIRST_DATA_MS;
        while !ups.is_empty() {
            let left = Duration::from_millis(end.saturating_sub(self.clock.now()));
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
}
