//! Finding USB UPSes and giving each to the UPS it belongs to: uevents
//! (or rescans of `/sys/class/hidraw`), probe threads, the workers'
//! reports, and the assignment of a found device (reattach, bind to a
//! configured section, or adopt) and the start of its worker.

use super::upses::{Backend, Served};
use super::{Daemon, RESCAN_MS, UEVENTS};
use crate::config::setup::{Discovery, Retry};
use crate::device::assign::{assign, Assignment, Candidate, Refusal};
use crate::device::io::{Dev, Found, Opener};
use crate::device::probe::Probed;
use crate::device::shared::{Msg, Report};
use crate::device::worker::{self, Config};
use crate::sys::hotplug::{self, Uevents};
use crate::sys::log::{debug, log};
use crate::ups::options::Options;
use mio::unix::SourceFd;
use mio::Interest;
use std::path::Path;

/// The first look at the devices present at start: until it is over, a
/// local UPS not seen yet is not judged lost (no false "communications
/// lost" at boot, half a second before the UPS is found).
pub(super) struct Boot {
    /// Probes of nodes present at start still running.
    pub(super) probes: usize,
    /// The look is over by then whatever happens (ms): a UPS whose
    /// device does not answer is then lost, as it is.
    pub(super) until: u64,
}

/// The longest the monitor waits for the first look at the devices.
pub(super) const BOOT_MS: u64 = 15_000;

impl Daemon {
    /// Whether the first look at the devices present at start is still
    /// going on: probes running, or a UPS whose worker started and has
    /// not published yet.
    pub(super) fn booting(&self, now: u64) -> bool {
        crate::monitor::boot::booting(
            now,
            self.boot.until,
            self.boot.probes,
            self.upses
                .iter()
                .map(|s| (s.dev.worker.is_some(), s.dev.mirror.seen())),
        )
    }
}

/// Finding hidraw nodes as they come and go.
pub(super) struct Hotplug {
    pub(super) mode: Discovery,
    /// Kernel uevents; `None` when netlink is not to be had (then
    /// `/sys/class/hidraw` is rescanned every [`RESCAN_MS`]).
    pub(super) uevents: Option<Uevents>,
    /// Nodes probed and not removed since (UPSes or not).
    pub(super) known: Vec<String>,
    /// Next rescan, without uevents.
    pub(super) rescan_at: u64,
}

impl Daemon {
    /// Subscribe to uevents (else plan rescans), then probe every hidraw
    /// node present. Subscribing first: a node that appears in between
    /// is probed twice rather than missed.
    pub(super) fn start_discovery(&mut self, now: u64) {
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
            self.boot.probes += 1;
            self.probe(node, true);
        }
    }

    /// Look at a node on a thread of its own: opening it and reading its
    /// descriptor block.
    /// `at_start`: one of the nodes present at start, whose end the
    /// monitor waits for ([`Boot`]).
    pub(super) fn probe(&self, node: String, at_start: bool) {
        let notify = self.notify.clone();
        let name = format!("probe {node}");
        let r = crate::device::spawn_named(
            name,
            Box::new(move || {
                match crate::device::probe::probe(&node) {
                    Probed::Ups(f) => notify.send(Report::Found(Box::new(f.boxed()))),
                    Probed::NotUps => debug(1, format_args!("{node}: not a UPS")),
                    Probed::Failed(e) => log(format_args!("{e}")),
                }
                if at_start {
                    notify.send(Report::Probed);
                }
            }),
        );
        if let Err(e) = r {
            if at_start {
                self.notify.send(Report::Probed);
            }
            log(format_args!("cannot start a thread: {e}"));
        }
    }

    /// Kernel uevents: probe what was added, tell the worker of what was
    /// removed.
    pub(super) fn uevents(&mut self) {
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
                    self.probe(node, false);
                }
                hotplug::Event::Remove(node) => self.removed(&node),
            }
        }
    }

    /// Without uevents: what appeared and vanished since the last scan.
    pub(super) fn rescan(&mut self) {
        let now = hotplug::scan(Path::new(hotplug::CLASS));
        let mut gone = Vec::new();
        for n in &self.hotplug.known {
            if !now.contains(n) {
                gone.push(n.clone());
            }
        }
        for node in gone {
            self.removed(&node);
        }
        for node in now {
            if !self.hotplug.known.contains(&node) {
                self.hotplug.known.push(node.clone());
                self.probe(node, false);
            }
        }
    }

    pub(super) fn removed(&mut self, node: &str) {
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
    pub(super) fn wake(&mut self) {
        while let Ok(r) = self.reports.try_recv() {
            self.report(r);
        }
        self.refresh();
    }

    pub(super) fn report(&mut self, r: Report<Dev>) {
        match r {
            Report::Found(f) => self.found(f),
            Report::Probed => self.boot.probes = self.boot.probes.saturating_sub(1),
            Report::Attached { ups, node } => {
                if let Some(s) = self.upses.get_mut(ups) {
                    s.dev.node = Some(node);
                }
            }
            Report::Done { tracking, status } => self.tracking.finish(Some(tracking), status),
        }
    }

    /// Copy the data of every UPS whose worker published since.
    pub(super) fn refresh(&mut self) {
        for s in &mut self.upses {
            let u = &mut s.dev;
            if let Some(w) = &u.worker {
                u.mirror.refresh(w.link());
            }
        }
    }

    /// A probe found a UPS on a node: decide whose it is.
    pub(super) fn found(&mut self, f: Box<Found<Dev>>) {
        let upses: Vec<Candidate> = self
            .upses
            .iter()
            .map(|s| Candidate {
                name: &s.name,
                info: s.dev.info.as_ref(),
                node: s.dev.node.as_deref(),
                matcher: s.dev.matcher.as_ref(),
                bound: s.dev.worker.is_some(),
                free: s.dev.free(),
            })
            .collect();
        // An adopted UPS is named after its subdriver: the Megatec/Q1
        // engine's, or the HID table's.
        let key = || crate::device::qxunit::subdriver_key(&f.descriptor, &f.info);
        match assign(&upses, &f.node, &f.info, self.hotplug.mode, key) {
            Assignment::Reattach(i) => {
                // The worker drops a spare (the same node seen twice).
                let u = &mut self.upses[i].dev;
                u.node = Some(f.node.clone());
                u.send(Msg::Attach(f));
            }
            Assignment::Bind(i) => self.bind(i, f),
            Assignment::Adopt { name, desc } => {
                let i = self.upses.len();
                let dev = Backend::new(None, Options::default(), Retry::default());
                self.upses.push(Served::new(name, desc, dev));
                self.bind(i, f);
            }
            Assignment::Refuse(Refusal::Off) => {}
            Assignment::Refuse(Refusal::NoFreeSection) => log(format_args!(
                "{}: UPS {:04x}:{:04x} ({}) matches no free ups.conf section: not served",
                f.node,
                f.info.vid,
                f.info.pid,
                f.info.product.as_deref().unwrap_or("no product string")
            )),
            Assignment::Refuse(Refusal::NameTaken(name)) => log(format_args!(
                "{}: a UPS called {name} is served already: not served",
                f.node
            )),
        }
    }

    /// Give UPS `i` the device `f`: start its worker, or hand the device
    /// to the worker it has.
    pub(super) fn bind(&mut self, i: usize, f: Box<Found<Dev>>) {
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

    pub(super) fn spawn(&mut self, i: usize, f: Found<Dev>, opener: Opener<Dev>) {
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
}
