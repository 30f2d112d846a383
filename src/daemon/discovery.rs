//! Finding USB UPSes and giving each to the UPS it belongs to: uevents
//! (or rescans of `/sys/class/hidraw`), probe threads, the workers'
//! reports, and the assignment of a found device (reattach, bind to a
//! configured section, or adopt) and the start of its worker.

use super::upses::{Backend, Served};
use super::{Daemon, RESCAN_MS, UEVENTS};
use crate::config::setup::{Discovery, Retry};
use crate::device::io::{Dev, Found, Opener};
use crate::device::naming;
use crate::device::probe::Probed;
use crate::device::shared::{Msg, Report};
use crate::device::worker::{self, Config};
use crate::sys::hotplug::{self, Uevents};
use crate::sys::log::{debug, log};
use crate::ups::options::Options;
use crate::ups::select;
use mio::unix::SourceFd;
use mio::Interest;
use std::path::Path;

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
            self.probe(node);
        }
    }

    /// Look at a node on a thread of its own: opening it and reading its
    /// descriptor block.
    pub(super) fn probe(&self, node: String) {
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
                    self.probe(node);
                }
                hotplug::Event::Remove(node) => self.removed(&node),
            }
        }
    }

    /// Without uevents: what appeared and vanished since the last scan.
    pub(super) fn rescan(&mut self) {
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
