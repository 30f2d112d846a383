//! SIGHUP: the configuration read again and applied, what can be at
//! once, the rest logged as taking effect at restart; the built-in
//! monitor rebuilt when `upsmon.conf` changed.

use super::answer::Logins;
use super::setup::{Setup, UpsSpec};
use super::upsmon::Watch;
use super::{Daemon, MAX_SLOTS};
use crate::config::setup::Args;
use crate::config::upsmon_conf::UpsmonConf;
use crate::sys::log::log;
use std::net::SocketAddr;

impl Daemon {
    /// SIGHUP: read the configuration again. A configuration that does
    /// not load leaves the running one as it is, and says why. Otherwise
    /// users, MAXAGE, TRACKINGDELAY and IDLE_TIMEOUT apply at once, new
    /// ups.conf sections start, and upsmon.conf, if it changed, rebuilds
    /// the monitor (unless a shutdown is under way). Devices and
    /// connected clients are kept; what needs a restart (LISTEN, MAXCONN,
    /// a changed or removed UPS section, a new SHUTDOWNCMD for the
    /// privileged helper) is logged.
    pub(super) fn reload(&mut self, args: &Args, now: u64) {
        let new = match Setup::load(args) {
            Ok(s) => s.conf,
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
        self.tracking.set_ttl(new.trackingdelay_ms);
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

    pub(super) fn reload_monitor(&mut self, conf: Option<UpsmonConf>) {
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
}
