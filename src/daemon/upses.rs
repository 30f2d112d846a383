//! The loop's view of each UPS: its device ([`Backend`]: what may be
//! bound to it, its worker, the loop's copy of its data, MAXAGE
//! staleness), the served UPS ([`Served`]: name, description, logins,
//! SET VAR and INSTCMD handed to the worker), and the protocol's view of
//! them all ([`View`], the session's [`Upses`]).

use crate::config::setup::Retry;
use crate::device::io::Dev;
use crate::device::matcher::Matcher;
use crate::device::shared::{Mirror, Msg};
use crate::device::worker::Handle;
use crate::proto::tracking::Table;
use crate::proto::{Data, ErrCode, Live, TrackingId, TrackingStatus, UpsView, Upses};
use crate::sys::log::log;
use crate::text::Text;
use crate::ups::options::Options;
use std::net::IpAddr;

/// How long a configured UPS may wait for its device before the log
/// says so: the scan at start and its probes take well under this.
pub(super) const WAITING_MS: u64 = 5_000;

/// A UPS's device as the loop knows it: what may be bound to it, the
/// worker that serves it, and a copy of its data. USB and simulated UPSes
/// alike; a simulated one has neither a matcher nor a USB identity, so no
/// device found on hidraw is ever its.
pub(super) struct Backend {
    /// The ups.conf section's matcher; `None` for a simulated UPS, one
    /// adopted without configuration, or one handed in ([`DeviceSpec`]).
    pub(super) matcher: Option<Matcher>,
    pub(super) opts: Options,
    pub(super) retry: Retry,
    /// The USB device bound to it, once one is.
    pub(super) info: Option<crate::device::usb::UsbInfo>,
    /// The hidraw node it is open on, as its worker last said (a
    /// simulated UPS: its recording's path).
    pub(super) node: Option<String>,
    pub(super) worker: Option<Handle<Dev>>,
    pub(super) mirror: Mirror,
    /// Stale for want of an update within MAXAGE (logged when it
    /// changes, as upsd does: a worker stuck in a device call cannot).
    pub(super) aged: bool,
    /// When to say, once, that a configured UPS is still waiting for a
    /// device its section accepts (`u64::MAX`: said, or not to say).
    pub(super) waiting_at: u64,
}

impl Backend {
    pub(super) fn new(matcher: Option<Matcher>, opts: Options, retry: Retry) -> Backend {
        Backend {
            matcher,
            opts,
            retry,
            info: None,
            node: None,
            worker: None,
            mirror: Mirror::default(),
            aged: false,
            waiting_at: u64::MAX,
        }
    }

    /// A configured UPS without a device: say so once, [`WAITING_MS`]
    /// after it was configured (DRIVER-NOT-CONNECTED is all clients see).
    /// Returns when it would be said.
    pub(super) fn check_waiting(&mut self, name: &str, now: u64) -> u64 {
        let Some(m) = &self.matcher else {
            return u64::MAX;
        };
        if self.worker.is_some() {
            self.waiting_at = u64::MAX;
        }
        if self.waiting_at > now {
            return self.waiting_at;
        }
        self.waiting_at = u64::MAX;
        log(format_args!(
            "{name}: no USB UPS found that its ups.conf section accepts ({}): waiting for one \
             (clients get DRIVER-NOT-CONNECTED until then)",
            m.what
        ));
        u64::MAX
    }

    /// MAXAGE for this UPS. upsd counts the driver's answers to its
    /// pings; here an update is the only sign of life, so a poll interval
    /// longer than MAXAGE must not make the UPS stale between two polls.
    pub(super) fn maxage(&self, maxage_ms: u64) -> u64 {
        maxage_ms.max(2 * self.opts.pollinterval_ms)
    }

    /// Time of the last update, if the data is otherwise good.
    pub(super) fn last_good(&self) -> Option<u64> {
        let m = &self.mirror;
        let t = self.worker.as_ref()?.link().last_update_ms()?;
        (m.seen() && m.live && !m.gone).then_some(t)
    }

    /// Log MAXAGE staleness as it starts and ends; returns when it would
    /// start.
    pub(super) fn check_age(&mut self, name: &str, now: u64, maxage_ms: u64) -> u64 {
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

    /// Unbound, or its device was unplugged: a section that may take a
    /// new device.
    pub(super) fn free(&self) -> bool {
        self.worker.is_none() || (self.node.is_none() && self.mirror.gone)
    }

    pub(super) fn data(&self, now: u64, maxage_ms: u64) -> Data<'_> {
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
            ranges: &m.ranges,
        })
    }
}

/// One UPS as served.
pub(super) struct Served {
    pub(super) name: String,
    pub(super) desc: Option<String>,
    pub(super) dev: Backend,
    pub(super) numlogins: u32,
    /// Set by `FSD`, never cleared (§5.5).
    pub(super) fsd: bool,
}

impl Served {
    pub(super) fn new(name: String, desc: Option<String>, dev: Backend) -> Served {
        Served {
            name,
            desc,
            dev,
            numlogins: 0,
            fsd: false,
        }
    }

    pub(super) fn view(&self, now: u64, maxage_ms: u64) -> UpsView<'_> {
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
    pub(super) fn instcmd(
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
    pub(super) fn setvar(
        &mut self,
        var: &str,
        value: &str,
        id: Option<TrackingId>,
    ) -> Result<(), ErrCode> {
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
    pub(super) fn send(&self, m: Msg<Dev>) -> bool {
        self.worker.as_ref().is_some_and(|w| w.send(m))
    }
}

/// A connection that did LOGIN.
pub(super) struct Login {
    /// Accept order: `LIST CLIENT` shows the newest connection first.
    pub(super) seq: u64,
    pub(super) addr: IpAddr,
    pub(super) ups: usize,
}

/// The protocol's view of the daemon's UPSes.
pub(super) struct View<'a> {
    pub(super) upses: &'a [Served],
    /// Sorted by `seq`.
    pub(super) logins: &'a [Login],
    pub(super) tracking: &'a Table,
    pub(super) now: u64,
    pub(super) maxage_ms: u64,
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
    /// Names first: only the UPS asked for is looked at further.
    fn find(&self, name: &[u8]) -> Option<(usize, UpsView<'_>)> {
        let i = self
            .upses
            .iter()
            .position(|u| crate::store::eq_ci(u.name.as_bytes(), name))?;
        Some((i, self.upses[i].view(self.now, self.maxage_ms)))
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
