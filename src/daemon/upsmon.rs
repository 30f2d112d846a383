//! The built-in upsmon ([`Watch`]): a [`Monitor`] fed from the loop's
//! copies of this daemon's UPSes and from other servers' ([`super::links`]),
//! and the commands it asks for (power-down flag, SHUTDOWNCMD through the
//! privileged helper, NOTIFY).

use super::links::{self, Inbox, RemoteLink, MAX_LINKS, NET_TIMEOUT_MS};
use super::upses::Served;
use super::{Daemon, REMOTE_TOP};
use crate::config::upsmon_conf::{self, UpsmonConf};
use crate::config::Role;
use crate::monitor::bound::{Bound, Ended, Offer};
use crate::monitor::remote::Answer;
use crate::monitor::{self, Input, Monitor};
use crate::proto::Data;
use crate::sys::exec::Children;
use crate::sys::log::{error, log};
use crate::sys::privsep::{self, Helper, HelperRequest};
use mio::unix::SourceFd;
use mio::{Registry, Token, Waker};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
// What `POWERDOWNFLAG` holds, as upsmon writes it (no newline).
use privsep::POWERDOWN_MAGIC;

/// How often finished commands are looked for while some run.
const REAP_MS: u64 = 500;
/// How often a waiting primary asks another server for NUMLOGINS (as
/// upsmon).
const COUNT_MS: u64 = 250;

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
pub(super) struct Watch {
    pub(super) monitor: Monitor,
    pub(super) entries: Vec<Watched>,
    /// NOTIFYCMD and SHUTDOWNCMD as shell command lines.
    pub(super) notifycmd: Option<String>,
    pub(super) shutdowncmd: Option<String>,
    pub(super) powerdownflag: Option<PathBuf>,
    /// An [`monitor::Action::AwaitLogouts`] is pending: login counts are
    /// reported at every tick.
    pub(super) awaiting: bool,
    /// SHUTDOWNCMD has run: other servers are no longer polled.
    pub(super) done: bool,
    /// Actions from answers that arrived between ticks.
    pub(super) pending: monitor::Actions,
    /// The root helper that writes the flag and runs SHUTDOWNCMD, when
    /// this daemon runs as another user.
    pub(super) helper: Option<Helper>,
    pub(super) children: Children,
    /// Notification children (NOTIFYCMD, wall) running and waiting.
    pub(super) bound: Bound<Job>,
    /// Connections to other servers, for the remote entries.
    pub(super) links: Vec<RemoteLink>,
    pub(super) connected: Inbox,
    pub(super) waker: Arc<Waker>,
}

/// A notification delivered through a child process.
pub(super) enum Job {
    /// `wall` with this text.
    Wall(String),
    /// NOTIFYCMD: the shell line, the message, the environment.
    Exec {
        line: String,
        message: String,
        env: Vec<(&'static str, String)>,
    },
}

impl Job {
    fn what(&self) -> &'static str {
        match self {
            Job::Wall(_) => "wall",
            Job::Exec { .. } => "NOTIFYCMD",
        }
    }
}

/// One `MONITOR` entry.
pub(super) struct Watched {
    /// The UPS's name here; `None` for another host's UPS.
    pub(super) ups: Option<String>,
    /// The index in `Watch::links` of another host's UPS.
    pub(super) link: Option<usize>,
    pub(super) primary: bool,
    /// What the monitor was last told.
    pub(super) last: Seen,
}

/// A poll's outcome, as last given to the monitor.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
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
pub(super) fn is_local(m: &upsmon_conf::MonitorLine, ports: &[u16]) -> bool {
    m.is_loopback() && (!m.port_written() || ports.contains(&m.port))
}

/// Say, at start and at each reload, when SHUTDOWNCMD's program cannot
/// be found: the host would not shut down when it should.
pub(super) fn check_shutdowncmd(conf: &UpsmonConf, when: &str) {
    let path = crate::sys::exec::search_path();
    if let Some(w) = upsmon_conf::shutdowncmd_warning(conf, &path, &crate::sys::exec::is_executable)
    {
        log(format_args!("{when}warning: {}: {w}", upsmon_conf::FILE));
    }
}

pub(super) fn has_word(status: &str, word: &str) -> bool {
    status
        .split_ascii_whitespace()
        .any(|w| w.eq_ignore_ascii_case(word))
}

impl Watch {
    /// Build the monitor; remove a power-down flag left from the last
    /// shutdown, as upsmon does at start (a file that upsmon did not
    /// write is left alone, and POWERDOWNFLAG is then not used).
    /// `ports`: where this daemon listens; `None` when it serves nothing
    /// (nut.conf's MODE=netclient), and every entry is then on a server
    /// of its own, this host's included.
    pub(super) fn new(
        conf: &UpsmonConf,
        ports: Option<&[u16]>,
        waker: Arc<Waker>,
    ) -> Result<Watch, String> {
        let mut powerdownflag = conf.powerdownflag.as_deref();
        if let Some(flag) = powerdownflag {
            match std::fs::read(flag) {
                Ok(b) if b.starts_with(POWERDOWN_MAGIC) => match std::fs::remove_file(flag) {
                    Ok(()) => log(format_args!("removed the power-down flag {flag}")),
                    Err(e) => log(format_args!(
                        "cannot remove the power-down flag {flag}: {e}"
                    )),
                },
                Ok(_) => {
                    log(format_args!(
                        "{flag} exists and was not written by upsmon: POWERDOWNFLAG is not used"
                    ));
                    powerdownflag = None;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log(format_args!("cannot read the power-down flag {flag}: {e}")),
            }
        }
        let mut links = Vec::new();
        let mut entries = Vec::with_capacity(conf.monitors.len());
        for m in &conf.monitors {
            let primary = m.role == Role::Primary;
            let local = ports.is_some_and(|p| is_local(m, p));
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
                links.push(RemoteLink::new(
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
            monitor: Monitor::new(conf),
            entries,
            notifycmd: conf.notifycmd.as_deref().map(upsmon_conf::shell_command),
            shutdowncmd: conf.shutdowncmd.as_deref().map(upsmon_conf::shell_command),
            powerdownflag: powerdownflag.map(PathBuf::from),
            awaiting: false,
            done: false,
            pending: monitor::Actions::new(),
            helper: None,
            children: Children::default(),
            bound: Bound::default(),
            links,
            connected: Inbox::default(),
            waker,
        })
    }

    /// Tell the monitor what a poll of entry `i` found (`None`: the
    /// poll failed), if that differs from what it was last told.
    pub(super) fn seen(
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
    pub(super) fn link_failed(
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
    pub(super) fn reply(&mut self, l: usize, r: Answer, now: u64, acts: &mut monitor::Actions) {
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
    pub(super) fn link_ready(&mut self, l: usize, registry: &Registry, now: u64) {
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
    pub(super) fn links(
        &mut self,
        registry: &Registry,
        now: u64,
        acts: &mut monitor::Actions,
    ) -> u64 {
        for c in links::take(&self.connected) {
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
                    let (tx, waker) = (self.connected.clone(), self.waker.clone());
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
    pub(super) fn tick(
        &mut self,
        upses: &mut [Served],
        registry: &Registry,
        now: u64,
        maxage_ms: u64,
        booting: bool,
    ) -> u64 {
        let mut ended = 0;
        self.children.reap(|what, st| {
            ended += usize::from(what != "SHUTDOWNCMD");
            match st {
                Ok(st) if st.success() => {}
                Ok(st) => log(format_args!("{what}: {st}")),
                Err(e) => log(format_args!("{what}: {e}")),
            }
        });
        for _ in 0..ended {
            let e = self.bound.ended();
            self.after(e);
        }
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
            // At start, a UPS not seen yet may be being found: not lost.
            if booting && now_seen.is_none() && self.entries[i].last == Seen::Nothing {
                continue;
            }
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
    pub(super) fn logins(&mut self, upses: &[Served], now: u64) -> monitor::Actions {
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

    pub(super) fn act(
        &mut self,
        a: monitor::Action,
        upses: &mut [Served],
        registry: &Registry,
        now: u64,
    ) {
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
                    self.ask_helper(HelperRequest::WriteFlag, registry, now);
                }
            }
            monitor::Action::WritePowerdownFlag => {
                if let Some(flag) = &self.powerdownflag {
                    match std::fs::write(flag, POWERDOWN_MAGIC) {
                        Ok(()) => log(format_args!("wrote the power-down flag {}", flag.display())),
                        Err(e) => error(format_args!(
                            "cannot write the power-down flag {}: {e}",
                            flag.display()
                        )),
                    }
                }
            }
            monitor::Action::Shutdown => {
                self.awaiting = false;
                self.done = true;
                if self.helper.is_some() {
                    self.ask_helper(HelperRequest::Shutdown, registry, now);
                } else {
                    match &self.shutdowncmd {
                        Some(cmd) => {
                            log(format_args!("running SHUTDOWNCMD: {cmd}"));
                            if let Err(e) = self.children.shell("SHUTDOWNCMD", cmd, &[], &[]) {
                                error(format_args!("cannot run SHUTDOWNCMD: {e}"));
                            }
                        }
                        None => error(format_args!(
                            "the host should shut down now, but upsmon.conf has no SHUTDOWNCMD"
                        )),
                    }
                }
                // Then, as upsmon's exit, the logins end: a primary waiting
                // for this secondary to log out must not go on before this
                // host's shutdown has been started.
                for l in &mut self.links {
                    l.down(registry);
                }
            }
        }
    }

    /// The host slept for `ms`: SUSPEND_FINISHED, and every UPS's last
    /// status is forgotten (it is read afresh), so that readings from
    /// before the sleep cause no shutdown.
    pub(super) fn resumed(&mut self, ms: u64, now: u64) {
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
    pub(super) fn ask_helper(&mut self, r: HelperRequest, registry: &Registry, now: u64) {
        let Some(h) = &mut self.helper else {
            return;
        };
        if let Err(e) = h.ask(r) {
            error(format_args!(
                "the privileged helper is gone ({e}): shutdown impossible"
            ));
            self.helper_gone(registry, now);
        }
    }

    /// The helper's socket is readable: it exited (or wrote, which it
    /// never does).
    pub(super) fn helper_event(&mut self, registry: &Registry, now: u64) {
        if self.helper.as_mut().is_some_and(Helper::gone) {
            error(format_args!(
                "the privileged helper exited: shutdown impossible"
            ));
            self.helper_gone(registry, now);
        }
    }

    pub(super) fn helper_gone(&mut self, registry: &Registry, now: u64) {
        if let Some(h) = self.helper.take() {
            let _ = registry.deregister(&mut SourceFd(&h.fd()));
        }
        let acts = self.monitor.handle(Input::ParentGone, now);
        self.pending.extend(acts);
    }

    /// Deliver a notice: the log, `wall`, NOTIFYCMD (with the message as
    /// its argument, NOTIFYTYPE and UPSNAME in its environment).
    pub(super) fn notify(&mut self, n: &monitor::Notice) {
        if n.flags.syslog {
            log(format_args!("{}", n.message));
        }
        if n.flags.wall {
            // As root through the helper: wall as the daemon's user reaches
            // nobody where it is not set-group-ID tty (Debian bookworm).
            let sent = self
                .helper
                .as_mut()
                .is_some_and(|h| h.wall(&n.message).is_ok());
            if !sent {
                let mut text = n.message.clone();
                text.push('\n');
                self.offer(Job::Wall(text));
            }
        }
        if n.flags.exec {
            let Some(cmd) = &self.notifycmd else {
                return;
            };
            let line = format!("{cmd} \"$1\"");
            let mut env = vec![("NOTIFYTYPE", n.event.name().to_string())];
            if let Some(system) = n.ups.and_then(|i| self.monitor.system(i)) {
                env.push(("UPSNAME", system.to_string()));
            }
            self.offer(Job::Exec {
                line,
                message: n.message.clone(),
                env,
            });
        }
    }

    /// A notification child to start, within the bound
    /// ([`crate::monitor::bound`]): at most 8 at once, 64 waiting.
    fn offer(&mut self, job: Job) {
        match self.bound.offer(job) {
            Offer::Run(job) => self.start(job),
            Offer::Queued { say } => {
                if say {
                    log(format_args!(
                        "{} notification commands (NOTIFYCMD, wall) still running: \
                         further notices wait until one ends",
                        self.bound.running()
                    ));
                }
            }
            Offer::Dropped { oldest, say } => {
                if say {
                    log(format_args!(
                        "{} notices wait for notification commands that do not end: \
                         dropping the oldest ({})",
                        self.bound.queued(),
                        oldest.what()
                    ));
                }
            }
        }
    }

    /// Start a notification child the bound gave a slot; a failure frees
    /// the slot for the next.
    fn start(&mut self, job: Job) {
        let r = match &job {
            Job::Wall(text) => self.children.feed("wall", text.as_bytes()),
            Job::Exec { line, message, env } => {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                self.children.shell("NOTIFYCMD", line, &[message], &env)
            }
        };
        if let Err(e) = r {
            // No wall (a container, BusyBox without it): nothing to tell.
            if matches!(job, Job::Exec { .. }) {
                error(format_args!("cannot run NOTIFYCMD: {e}"));
            }
            let e = self.bound.start_failed();
            self.after(e);
        }
    }

    /// After a notification child ended: the next one, and a word when
    /// the backlog is gone.
    fn after(&mut self, e: Ended<Job>) {
        if let Some((delayed, dropped)) = e.calm {
            log(format_args!(
                "notification commands caught up: {delayed} notices were delayed, \
                 {dropped} dropped"
            ));
        }
        if let Some(job) = e.next {
            self.start(job);
        }
    }

    /// The daemon exits: end the notification commands it started and
    /// still runs (not SHUTDOWNCMD, which shuts the host down), with
    /// what they started.
    pub(super) fn exit(&mut self) {
        let waiting = self.bound.clear();
        let ended = self.children.terminate(
            |what| what != "SHUTDOWNCMD",
            std::time::Duration::from_millis(500),
        );
        if ended + waiting > 0 {
            log(format_args!(
                "exiting: ended {ended} notification command(s) still running; \
                 {waiting} waiting notice(s) not delivered"
            ));
        }
    }
}

impl Daemon {
    /// The daemon exits: nothing it started and still owns is left
    /// running ([`Watch::exit`]).
    pub(super) fn exit(&mut self) {
        if let Some(w) = &mut self.watch {
            w.exit();
        }
    }

    /// The host was suspended for `ms` (upsmon's view of a resume).
    pub(super) fn resumed(&mut self, ms: u64, now: u64) {
        if let Some(w) = &mut self.watch {
            w.resumed(ms, now);
        }
    }

    /// The privileged helper's socket is readable: it is gone.
    pub(super) fn helper_event(&mut self, now: u64) {
        if let Some(w) = &mut self.watch {
            w.helper_event(self.poll.registry(), now);
        }
        if self.spare_helper.as_mut().is_some_and(Helper::gone) {
            log(format_args!(
                "the privileged helper exited: device nodes not given to our group cannot be opened"
            ));
            if let Some(h) = self.spare_helper.take() {
                let _ = self.poll.registry().deregister(&mut SourceFd(&h.fd()));
            }
        }
    }

    /// Remote link `l`'s socket is ready.
    pub(super) fn link_ready(&mut self, l: usize, now: u64) {
        if let Some(w) = &mut self.watch {
            w.link_ready(l, self.poll.registry(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn entry(system: &str, host: &str, port: u16) -> upsmon_conf::MonitorLine {
        upsmon_conf::MonitorLine {
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
    pub(super) fn local_entries_are_loopback_without_a_foreign_port() {
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

    #[test]
    fn a_local_ups_is_not_lost_while_the_devices_present_at_start_are_looked_at() {
        // At boot the UPS is found half a second after the monitor first
        // looks: until the first look at the devices is over, a UPS not
        // seen yet is not lost (no COMMBAD, no WALL); after it, it is.
        use crate::config::setup::Retry;
        use crate::ups::options::Options;
        let conf = upsmon_conf::parse(
            std::path::Path::new("upsmon.conf"),
            b"MONITOR ups@localhost 1 u p primary\n",
        )
        .unwrap();
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let mut w = Watch::new(&conf, Some(&[3493]), waker).unwrap();
        let dev = super::super::upses::Backend::new(None, Options::default(), Retry::default());
        let mut upses = vec![Served::new("ups".into(), None, dev)];
        w.tick(&mut upses, poll.registry(), 100, 15_000, true);
        assert!(w.entries[0].last == Seen::Nothing);
        w.tick(&mut upses, poll.registry(), 600, 15_000, true);
        assert!(w.entries[0].last == Seen::Nothing);
        w.tick(&mut upses, poll.registry(), 700, 15_000, false);
        assert!(w.entries[0].last == Seen::Bad);
    }
}
