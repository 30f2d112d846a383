//! SIGHUP: the configuration read again and applied as
//! [`setup::plan`] says: what can be at once, the rest logged as taking
//! effect at restart; the built-in monitor rebuilt when `upsmon.conf`
//! changed.

use super::setup::{Setup, UpsSpec};
use super::upsmon::Watch;
use super::{Daemon, MAX_SLOTS};
use crate::config::setup::{self, Args, Running, UsersPlan};
use crate::config::upsd_users;
use crate::config::upsmon_conf::UpsmonConf;
use crate::proto::ratelimit::LoginLimit;
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
        if new.serve != self.serving {
            log(format_args!(
                "reload: nut.conf's MODE changed ({}): takes effect at restart",
                new.mode.as_deref().unwrap_or("no nut.conf")
            ));
            // Only the monitor's settings can follow until then.
            if new.upsmon != self.upsmon_conf {
                if let Some(m) = &new.upsmon {
                    super::upsmon::check_shutdowncmd(m, "reload: ");
                }
                self.reload_monitor(new.upsmon);
            }
            log(format_args!("configuration reloaded"));
            return;
        }
        let mut bound: Vec<SocketAddr> = Vec::with_capacity(self.listeners.len());
        for l in &self.listeners {
            if let Ok(a) = l.local_addr() {
                bound.push(a);
            }
        }
        let served: Vec<&str> = self.upses.iter().map(|s| s.name.as_str()).collect();
        let plan = setup::plan(
            &Running {
                bound: &bound,
                slots: self.clients.max(),
                max_slots: MAX_SLOTS,
                configured: &self.configured,
                served: &served,
                login_limit: self.limiter.as_ref().map(|l| l.burst()),
                users: self.users.users.len(),
                ups_conf: self.ups_conf.as_ref(),
                upsmon: self.upsmon_conf.as_ref(),
            },
            &new,
        );
        self.reload_users(plan.users, new.users, args);
        if plan.new_login_limit {
            self.limiter = LoginLimit::new(new.login_failures);
        }
        self.admission.set_limits(new.limits);
        self.maxage_ms = new.maxage_ms;
        self.idle_ms = new.idle_ms;
        self.tracking.set_ttl(new.trackingdelay_ms);
        for note in &plan.at_restart {
            log(format_args!("reload: {note}"));
        }
        // Sections added now join what a later reload compares with; the
        // changed ones keep their old settings until restart.
        if let Some(is) = new.ups_conf {
            let was = self.ups_conf.get_or_insert_with(Default::default);
            for s in is.ups {
                if was.get(&s.name).is_none() {
                    was.ups.push(s);
                }
            }
        }
        let mut added: Vec<UpsSpec> = Vec::new();
        for (i, u) in new.upses.into_iter().enumerate() {
            if plan.added.contains(&i) {
                added.push(u);
            }
        }
        if let Err(e) = self.add_upses(added, now) {
            log(format_args!("reload: {e}"));
        }
        if let Some(m) = &new.upsmon {
            super::upsmon::check_shutdowncmd(m, "reload: ");
        }
        if plan.new_monitor {
            self.reload_monitor(new.upsmon);
        }
        log(format_args!("configuration reloaded"));
    }

    /// upsd.users at a reload, as the plan says: a missing file keeps the
    /// running users (a file moved away by mistake must not refuse every
    /// upsmon); a file without users applies, with a warning.
    fn reload_users(&mut self, plan: UsersPlan, users: crate::proto::Users, args: &Args) {
        let file = args.confdir.as_ref().map_or_else(
            || upsd_users::FILE.into(),
            |d| d.join(upsd_users::FILE).display().to_string(),
        );
        match plan {
            UsersPlan::KeepMissing { running } => {
                log(format_args!(
                    "reload: {file} is missing: keeping the {running} running user(s) \
                     (restore it, or leave it empty to refuse every login)"
                ));
                return;
            }
            UsersPlan::ApplyEmpty => log(format_args!(
                "reload: warning: {file} has no users: every login will now be refused"
            )),
            UsersPlan::Apply => {}
        }
        self.users = users;
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
        let mut helper = self.spare_helper.take();
        // The notification children run on under the new monitor (and
        // its bound counts them); without one they are ended.
        let mut running = None;
        if let Some(mut old) = self.watch.take() {
            for l in &mut old.links {
                l.down(self.poll.registry());
            }
            helper = helper.or(old.helper.take());
            running = Some(old);
        }
        if helper.is_some() && helpers_part(&self.upsmon_conf) != helpers_part(&conf) {
            log(format_args!(
                "reload: SHUTDOWNCMD and POWERDOWNFLAG are the privileged helper's: they change at restart"
            ));
        }
        self.watch = match &conf {
            Some(c) => match Watch::new(
                c,
                self.serving.then_some(&self.ports[..]),
                self.waker.clone(),
            ) {
                Ok(mut w) => {
                    w.helper = helper.take();
                    if let Some(old) = running.take() {
                        w.children = old.children;
                        w.bound = old.bound;
                    }
                    Some(w)
                }
                Err(e) => {
                    log(format_args!("reload: {e}: the monitor is off"));
                    None
                }
            },
            None => None,
        };
        self.upsmon_conf = conf;
        if let Some(mut old) = running {
            old.exit();
        }
        // Without a monitor to hold it, the helper stays for the devices.
        self.spare_helper = helper;
    }
}

/// What of `upsmon.conf` the privileged helper took at start: the
/// shutdown command and the power-down flag.
type HelpersPart<'a> = Option<(&'a Option<Vec<String>>, &'a Option<String>)>;

fn helpers_part(c: &Option<UpsmonConf>) -> HelpersPart<'_> {
    c.as_ref().map(|c| (&c.shutdowncmd, &c.powerdownflag))
}
