//! upsmon's decisions as a pure state machine: when to notify, when a UPS
//! is critical, and when and how to shut the host down.
//!
//! Read first: `docs/design/nut-protocol.md` §12 (upsmon's behaviour)
//! and §11.5 (`upsmon.conf`), with NUT's `upsmon.conf(5)` at hand. The
//! shell polls the monitored UPSes and feeds what it learns to [`Monitor::handle`], with
//! the time; the monitor answers with [`Action`]s and says through
//! [`Monitor::poll_at`] when it next wants to be called, whatever happens
//! in between (a [`Input::Tick`] then). This replaces upsmon's
//! `sleep()`-and-`time()` loop, and lets the tests play a whole power
//! cut in microseconds.
//!
//! Boundary: no clock, no I/O, no threads. The shell polls (every
//! [`Monitor::poll_interval_ms`]), reads `ups.status`, counts logins,
//! sends `FSD`, writes the flag file, delivers notices and runs
//! `SHUTDOWNCMD`; this module only decides.
//!
//! What is decided, as NUT does:
//! - notify events at the transitions upsmon sends them: ONLINE, ONBATT,
//!   LOWBATT, FSD, COMMOK, COMMBAD, NOCOMM (repeated), REPLBATT
//!   (repeated), CAL/NOTCAL, OFF/NOTOFF, BYPASS/NOTBYPASS, ECO/NOTECO,
//!   ALARM/NOTALARM, OVER/NOTOVER, TRIM/NOTTRIM, BOOST/NOTBOOST,
//!   OTHER/NOTOTHER, NOPARENT, SUSPEND_*, SHUTDOWN, SHUTDOWN_HOSTSYNC;
//! - criticality (`is_ups_critical()`): FSD; lost communication after
//!   CAL, BYPASS, OFF, ALARM (ALARMCRITICAL) or OVER (OVERDURATION); OFF
//!   for OFFDURATION; OB+LB (not while calibrating, after OBLBDURATION,
//!   and for a secondary only once the primary had HOSTSYNC to set FSD);
//!   a UPS last seen on battery and lost for DEADTIME counts as LB;
//! - MINSUPPLIES against the summed power values of the UPSes that are
//!   not critical (one never heard from counts as healthy);
//! - the shutdown: as primary set FSD on every primary UPS and wait for
//!   the secondaries to log out (at most HOSTSYNC), then, as every
//!   upsmon, notify SHUTDOWN, wait FINALDELAY, write POWERDOWNFLAG (as a
//!   primary) and run SHUTDOWNCMD, once.
//!
//! Deliberate differences from upsmon:
//! - every timer fires exactly when its time has come (`≥`, in ms),
//!   where upsmon tests whole seconds with `>` at its next poll, up to a
//!   poll later;
//! - DEADTIME counts from the first failed poll ([`Input::CommBad`]),
//!   not from the last good one, so a shell that reports only changes
//!   gets the same answer as one that reports every poll (at most one
//!   POLLFREQ later than upsmon);
//! - a UPS never reached counts as lost since monitoring started, so
//!   NOCOMM first comes NOCOMMWARNTIME after start (upsmon sends it at its
//!   second poll, a known annoyance, NUT issue #789);
//! - status words are matched as words, case-insensitively (upsmon clears
//!   LB, FSD, CAL, OFF… by substring, so `OVERHEAT` kept OVER set);
//!   ECO comes from the `ECO` word only (upsmon's buzzword test is
//!   inverted and takes any buzzword as ECO);
//! - POWERDOWNFLAG is written only by a primary, as `upsmon.conf(5)`
//!   documents (upsmon's code writes it on any shutdown);
//! - FSD is announced when [`Action::SetFsd`] is given (upsmon waits for
//!   the server's `OK`; the shell logs a refusal);
//! - the ALARM text is remembered per UPS (upsmon keeps one for all), and
//!   SUSPEND_TIMEJUMP_UNEXPECTED's `%s` is the jump (upsmon prints the
//!   empty UPS name there);
//! - the poll interval follows the states that ask for POLLFREQALERT
//!   while any of them lasts (upsmon goes back to POLLFREQ at any OL).

pub mod boot;
pub mod bound;
mod notify;
pub mod remote;

pub use notify::{format_message, Notice, MAX_MESSAGE};

use crate::config::upsmon_conf::{Event, UpsmonConf};
use crate::config::Role;
use notify::Notifier;

/// What the shell tells the monitor. `usize` is the index of the UPS in
/// `UpsmonConf::monitors`; an index out of range is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A successful poll: the `ups.status` value (with the `FSD` the
    /// server puts in front when its latch is set) and, when it was read,
    /// `ups.alarm` (upsmon reads it while `ALARM` is in the status).
    /// Implies [`Input::CommOk`]. An empty status counts as a failed poll,
    /// as in upsmon.
    Status {
        ups: usize,
        status: &'a str,
        alarm: Option<&'a str>,
    },
    /// A successful poll whose status is the last one given.
    CommOk(usize),
    /// A failed poll: no connection, login refused, `ERR DATA-STALE`,
    /// `ERR DRIVER-NOT-CONNECTED`...
    CommBad(usize),
    /// How many clients other than this monitor are logged in to a UPS
    /// this monitor is primary for (`GET NUMLOGINS` minus this monitor's
    /// own login, if it has one); a failed query counts as 0. Looked at
    /// only while [`Action::AwaitLogouts`] is pending, and only reports
    /// made after that action count.
    OtherLogins(usize, u32),
    /// `upsmon -c fsd`: shut down now, as if power had failed.
    UserFsd,
    /// The privileged helper is gone: shutdown impossible (NOPARENT, at
    /// most every 120 s).
    ParentGone,
    /// The host is about to sleep: SUSPEND_STARTING; polls are ignored
    /// until [`Input::Resume`].
    Suspend,
    /// The host woke up: SUSPEND_FINISHED, and every UPS's status is
    /// forgotten so that readings from before the sleep cause no
    /// shutdown.
    Resume,
    /// The shell saw its loop overrun by this much (or time go
    /// backwards): SUSPEND_TIMEJUMP_UNEXPECTED, then as [`Input::Resume`].
    TimeJump { by_ms: i64 },
    /// Time passed; called at [`Monitor::poll_at`].
    Tick,
}

impl<'a> Input<'a> {
    /// A [`Input::Status`] without `ups.alarm`.
    pub fn status(ups: usize, status: &'a str) -> Input<'a> {
        Input::Status {
            ups,
            status,
            alarm: None,
        }
    }
}

/// What the monitor asks the shell to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Log to syslog, `wall` and/or run `NOTIFYCMD`, as `flags` say.
    Notify(Notice),
    /// As primary: send `FSD <ups>` so the server latches it and the
    /// secondaries see it.
    SetFsd(usize),
    /// As primary: secondaries have until then to log out; report their
    /// count with [`Input::OtherLogins`] for every UPS this monitor is
    /// primary for (upsmon asks every 250 ms).
    AwaitLogouts { until_ms: u64 },
    /// SHUTDOWN has been notified; the command follows at `until_ms`
    /// (FINALDELAY), to give the notices time to go out.
    FinalDelay { until_ms: u64 },
    /// Write `POWERDOWNFLAG` (content `upsmon-shutdown-file`) so the late
    /// shutdown script turns the UPS off. Only when configured, only as a
    /// primary, right before [`Action::Shutdown`].
    WritePowerdownFlag,
    /// Run `SHUTDOWNCMD`; then stay or exit as `SHUTDOWNEXIT` says. Given
    /// once: the monitor does nothing more afterwards.
    Shutdown,
}

/// A small list: one input rarely yields more than a handful.
pub type Actions = Vec<Action>;

/// How a UPS was last heard from (upsmon's `commstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comm {
    /// No poll yet.
    Unknown,
    Ok,
    Bad,
}

/// Status flags remembered between polls (upsmon's `ST_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    online: bool,
    onbatt: bool,
    lowbatt: bool,
    fsd: bool,
    replbatt: bool,
    cal: bool,
    off: bool,
    bypass: bool,
    eco: bool,
    alarm: bool,
    over: bool,
    trim: bool,
    boost: bool,
}

/// One of the [`Flags`], for walking them in a table.
type FlagOf = fn(&mut Flags) -> &mut bool;

/// One `MONITOR` entry and what is known about it.
#[derive(Debug, Clone)]
struct Ups {
    system: String,
    power: u32,
    primary: bool,
    comm: Comm,
    /// While `Bad`: since when (DEADTIME and NOCOMM count from here).
    lost_since: u64,
    last_nocomm: Option<u64>,
    /// OL or OB seen since start (upsmon's `linestate != -1`): the first
    /// OL is not announced.
    line_seen: bool,
    f: Flags,
    /// FSD announced and FSD still in the status (upsmon's
    /// `lastfsdnotify`), so our own `FSD` does not announce it twice.
    fsd_notified: bool,
    last_replbatt: Option<u64>,
    off_since: u64,
    over_since: u64,
    /// The `ups.alarm` text last announced.
    alarm_text: String,
    /// Unknown status words, in status order.
    others: Vec<String>,
    /// While OB+LB (not calibrating): since when, for OBLBDURATION.
    oblb_since: Option<u64>,
    /// While OB+LB (not calibrating): the last moment it was known not
    /// to be, for a secondary's HOSTSYNC (upsmon's `lastnoncrit`).
    noncrit_at: Option<u64>,
}

/// Configured times, in ms.
#[derive(Debug, Clone, Copy)]
struct Times {
    pollfreq: u64,
    pollfreqalert: u64,
    deadtime: u64,
    hostsync: u64,
    finaldelay: u64,
    rbwarn: u64,
    nocommwarn: u64,
    /// `None`: never (a negative setting).
    offduration: Option<u64>,
    overduration: Option<u64>,
    oblbduration: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Watching,
    /// Primary: FSD set, waiting for secondaries (HOSTSYNC).
    AwaitLogouts {
        until: u64,
        /// Latest report per UPS since the wait began.
        others: Vec<Option<u32>>,
        announced: bool,
    },
    /// SHUTDOWN notified, waiting FINALDELAY.
    FinalDelay {
        until: u64,
    },
    /// SHUTDOWNCMD given.
    Done,
}

/// NUT's interval between NOPARENT notices.
const NOPARENT_EVERY_MS: u64 = 120_000;

fn ms(secs: u32) -> u64 {
    u64::from(secs) * 1000
}

/// A duration setting where negative means never.
fn ms_or_never(secs: i64) -> Option<u64> {
    u64::try_from(secs).ok().map(|s| s.saturating_mul(1000))
}

/// upsmon's decision logic for one `upsmon.conf`.
#[derive(Debug, Clone)]
pub struct Monitor {
    ups: Vec<Ups>,
    notifier: Notifier,
    times: Times,
    minsupplies: u64,
    alarmcritical: bool,
    powerdownflag: bool,
    phase: Phase,
    /// The time of the first input: a UPS never reached is lost since.
    start: Option<u64>,
    /// The latest time given; time never goes backwards here.
    now: u64,
    suspended: bool,
    last_noparent: Option<u64>,
}

impl Monitor {
    pub fn new(conf: &UpsmonConf) -> Monitor {
        let ups = conf
            .monitors
            .iter()
            .map(|m| Ups {
                system: m.system.clone(),
                power: m.powervalue,
                primary: m.role == Role::Primary,
                comm: Comm::Unknown,
                lost_since: 0,
                last_nocomm: None,
                line_seen: false,
                f: Flags::default(),
                fsd_notified: false,
                last_replbatt: None,
                off_since: 0,
                over_since: 0,
                alarm_text: String::new(),
                others: Vec::new(),
                oblb_since: None,
                noncrit_at: None,
            })
            .collect();
        Monitor {
            ups,
            notifier: Notifier::new(conf),
            times: Times {
                pollfreq: ms(conf.pollfreq),
                pollfreqalert: ms(conf.pollfreqalert),
                deadtime: ms(conf.deadtime),
                hostsync: ms(conf.hostsync),
                finaldelay: ms(conf.finaldelay),
                rbwarn: ms(conf.rbwarntime),
                nocommwarn: ms(conf.nocommwarntime),
                offduration: ms_or_never(conf.offduration),
                overduration: ms_or_never(conf.overduration),
                oblbduration: ms(conf.oblbduration),
            },
            minsupplies: u64::from(conf.minsupplies),
            alarmcritical: conf.alarmcritical,
            powerdownflag: conf.powerdownflag.is_some(),
            phase: Phase::Watching,
            start: None,
            now: 0,
            suspended: false,
            last_noparent: None,
        }
    }

    /// Feed one input at `now_ms` (any monotonic clock, in ms; an
    /// earlier time than before is taken as the latest one).
    pub fn handle(&mut self, input: Input<'_>, now_ms: u64) -> Actions {
        let now = now_ms.max(self.now);
        self.now = now;
        let start = *self.start.get_or_insert(now);
        let mut out = Actions::new();
        let watching = self.phase == Phase::Watching;
        let polls = watching && !self.suspended;
        match input {
            Input::Status { ups, status, alarm } if polls && ups < self.ups.len() => {
                if status.split_ascii_whitespace().next().is_none() {
                    self.comm_bad(ups, now, start, &mut out);
                } else {
                    self.status(ups, status, alarm, now, &mut out);
                }
            }
            Input::CommOk(ups) if polls && ups < self.ups.len() => self.alive(ups, &mut out),
            Input::CommBad(ups) if polls && ups < self.ups.len() => {
                self.comm_bad(ups, now, start, &mut out)
            }
            Input::OtherLogins(ups, n) => self.other_logins(ups, n, &mut out),
            Input::UserFsd if polls => self.force_shutdown(now, &mut out),
            Input::ParentGone
                if watching
                    && self
                        .last_noparent
                        .map_or(true, |t| now >= t + NOPARENT_EVERY_MS) =>
            {
                self.last_noparent = Some(now);
                self.notify(&mut out, Event::NoParent, None, None);
            }
            Input::Suspend if polls => {
                self.notify(&mut out, Event::SuspendStarting, None, None);
                self.suspended = true;
            }
            Input::Resume if watching => self.wake(now, &mut out),
            Input::TimeJump { by_ms } if watching => {
                let text = jump_text(by_ms);
                self.notify(
                    &mut out,
                    Event::SuspendTimejumpUnexpected,
                    None,
                    Some(&text),
                );
                self.wake(now, &mut out);
            }
            _ => {}
        }
        self.advance(now, &mut out);
        out
    }

    /// When the monitor next needs a [`Input::Tick`] even if nothing else
    /// happens; `None` when only inputs can change anything. Always later
    /// than the last time given to [`Monitor::handle`].
    pub fn poll_at(&self) -> Option<u64> {
        let now = self.now;
        let later = |t: u64| (t > now).then_some(t);
        match &self.phase {
            Phase::AwaitLogouts { until, .. } => return later(*until),
            Phase::FinalDelay { until } => return later(*until),
            Phase::Done => return None,
            Phase::Watching if self.suspended => return None,
            Phase::Watching => {}
        }
        let t = &self.times;
        let mut next: Option<u64> = None;
        let mut consider = |d: u64| earliest(&mut next, d, now);
        for u in &self.ups {
            if u.comm == Comm::Bad {
                if t.nocommwarn > 0 {
                    consider(nocomm_due(u, t.nocommwarn));
                }
                if u.f.onbatt && !u.f.lowbatt {
                    consider(u.lost_since.saturating_add(t.deadtime));
                }
                if u.f.over {
                    if let Some(d) = t.overduration {
                        consider(u.over_since.saturating_add(d));
                    }
                }
            }
            if u.comm == Comm::Ok && u.f.replbatt && t.rbwarn > 0 {
                if let Some(last) = u.last_replbatt {
                    consider(last.saturating_add(t.rbwarn));
                }
            }
            if u.f.off {
                if let Some(d) = t.offduration {
                    consider(u.off_since.saturating_add(d));
                }
            }
            if let Some(since) = u.oblb_since {
                consider(since.saturating_add(t.oblbduration));
            }
            if !u.primary {
                if let Some(at) = u.noncrit_at {
                    consider(at.saturating_add(t.hostsync));
                }
            }
        }
        next
    }

    /// How long the shell should wait between polls: POLLFREQALERT while
    /// a UPS is on battery, off, on bypass, in alarm or overloaded (when
    /// OVERDURATION is set), shorter while an OBLBDURATION runs; else
    /// POLLFREQ.
    pub fn poll_interval_ms(&self) -> u64 {
        let t = &self.times;
        let alert = self.ups.iter().any(|u| {
            u.f.onbatt
                || u.f.off
                || u.f.bypass
                || u.f.alarm
                || (u.f.over && t.overduration.is_some())
        });
        let oblb_wait = t.oblbduration > 0
            && self.ups.iter().any(|u| {
                u.oblb_since
                    .is_some_and(|s| self.now < s.saturating_add(t.oblbduration))
            });
        if oblb_wait {
            // As upsmon: often enough to see the OBLBDURATION end.
            gcd(t.pollfreqalert, t.oblbduration).max(1000)
        } else if alert {
            t.pollfreqalert
        } else {
            t.pollfreq
        }
    }

    /// The `MONITOR` system name of a UPS (`ups@host[:port]` as written),
    /// for `NOTIFYCMD`'s `UPSNAME`.
    pub fn system(&self, ups: usize) -> Option<&str> {
        self.ups.get(ups).map(|u| u.system.as_str())
    }

    /// Whether the shutdown has begun (it cannot be called off).
    pub fn shutting_down(&self) -> bool {
        self.phase != Phase::Watching
    }

    fn notify(&self, out: &mut Actions, event: Event, ups: Option<usize>, extra: Option<&str>) {
        let ups = ups.map(|i| (i, self.ups[i].system.as_str()));
        if let Some(n) = self.notifier.notice(event, ups, extra) {
            out.push(Action::Notify(n));
        }
    }

    /// A good poll: COMMOK after a loss (not at first contact).
    fn alive(&mut self, i: usize, out: &mut Actions) {
        if self.ups[i].comm == Comm::Bad {
            self.notify(out, Event::CommOk, Some(i), None);
        }
        self.ups[i].comm = Comm::Ok;
    }

    /// A failed poll: COMMBAD the first time, then NOCOMM by
    /// [`Monitor::timers`] (or here at every failure when NOCOMMWARNTIME
    /// is 0).
    fn comm_bad(&mut self, i: usize, now: u64, start: u64, out: &mut Actions) {
        let u = &mut self.ups[i];
        match u.comm {
            Comm::Ok | Comm::Unknown => {
                u.lost_since = if u.comm == Comm::Ok { now } else { start };
                u.comm = Comm::Bad;
                self.notify(out, Event::CommBad, Some(i), None);
            }
            Comm::Bad => {
                if self.times.nocommwarn == 0 && u.last_nocomm != Some(now) {
                    u.last_nocomm = Some(now);
                    self.notify(out, Event::NoComm, Some(i), None);
                }
            }
        }
    }

    /// upsmon's `parse_status()`: announce what appeared and what went.
    fn status(&mut self, i: usize, status: &str, alarm: Option<&str>, now: u64, out: &mut Actions) {
        self.alive(i, out);
        let has = |word: &str| {
            status
                .split_ascii_whitespace()
                .any(|w| w.eq_ignore_ascii_case(word))
        };
        {
            let u = &mut self.ups[i];
            if !has("LB") {
                u.f.lowbatt = false;
            }
            if !has("FSD") {
                // A new FSD may be announced again.
                u.f.fsd = false;
                u.fsd_notified = false;
            }
            u.f.replbatt = has("RB");
        }
        // What went, in upsmon's order.
        let gone: [(&str, FlagOf, Event); 8] = [
            ("CAL", |f| &mut f.cal, Event::NotCal),
            ("OFF", |f| &mut f.off, Event::NotOff),
            ("BYPASS", |f| &mut f.bypass, Event::NotBypass),
            ("ALARM", |f| &mut f.alarm, Event::NotAlarm),
            ("OVER", |f| &mut f.over, Event::NotOver),
            ("TRIM", |f| &mut f.trim, Event::NotTrim),
            ("BOOST", |f| &mut f.boost, Event::NotBoost),
            ("ECO", |f| &mut f.eco, Event::NotEco),
        ];
        for (word, flag, event) in gone {
            let set = flag(&mut self.ups[i].f);
            if *set && !has(word) {
                *set = false;
                self.notify(out, event, Some(i), None);
            }
        }
        // What came, in status order.
        let mut others: Vec<String> = Vec::new();
        for word in status.split_ascii_whitespace() {
            let known = |w: &str| word.eq_ignore_ascii_case(w);
            let u = &mut self.ups[i];
            let appeared = |flag: &mut bool| !std::mem::replace(flag, true);
            let event = if known("OL") {
                let announce = !u.f.online && u.line_seen;
                u.f.online = true;
                u.f.onbatt = false;
                u.line_seen = true;
                announce.then_some(Event::Online)
            } else if known("OB") {
                u.line_seen = true;
                u.f.online = false;
                appeared(&mut u.f.onbatt).then_some(Event::OnBatt)
            } else if known("LB") {
                appeared(&mut u.f.lowbatt).then_some(Event::LowBatt)
            } else if known("RB") {
                let due = u
                    .last_replbatt
                    .map_or(true, |t| now >= t + self.times.rbwarn.max(1));
                if due {
                    u.last_replbatt = Some(now);
                }
                due.then_some(Event::ReplBatt)
            } else if known("CAL") {
                appeared(&mut u.f.cal).then_some(Event::Cal)
            } else if known("OFF") {
                if !u.f.off {
                    u.off_since = now;
                }
                appeared(&mut u.f.off).then_some(Event::Off)
            } else if known("BYPASS") {
                appeared(&mut u.f.bypass).then_some(Event::Bypass)
            } else if known("ECO") {
                appeared(&mut u.f.eco).then_some(Event::Eco)
            } else if known("ALARM") {
                self.alarm(i, alarm, out);
                None
            } else if known("OVER") {
                if !u.f.over {
                    u.over_since = now;
                }
                appeared(&mut u.f.over).then_some(Event::Over)
            } else if known("TRIM") {
                appeared(&mut u.f.trim).then_some(Event::Trim)
            } else if known("BOOST") {
                appeared(&mut u.f.boost).then_some(Event::Boost)
            } else if known("FSD") {
                u.f.fsd = true;
                (!std::mem::replace(&mut u.fsd_notified, true)).then_some(Event::Fsd)
            } else if known("HB") || known("CHRG") || known("DISCHRG") {
                None
            } else {
                if !others.iter().any(|o| o == word) {
                    others.push(word.to_string());
                }
                None
            };
            if let Some(e) = event {
                self.notify(out, e, Some(i), None);
            }
        }
        let u = &mut self.ups[i];
        let changed =
            others.len() != u.others.len() || others.iter().any(|w| !u.others.contains(w));
        if changed {
            u.others = others;
            if self.ups[i].others.is_empty() {
                self.notify(out, Event::NotOther, Some(i), None);
            } else {
                let text = self.ups[i].others.join(" ");
                self.notify(out, Event::Other, Some(i), Some(&text));
            }
        }
        self.track_oblb(i, now, now);
    }

    /// ALARM in the status: announce it with `ups.alarm` ("n/a" when not
    /// read), and again whenever that text changes.
    fn alarm(&mut self, i: usize, text: Option<&str>, out: &mut Actions) {
        let u = &mut self.ups[i];
        if !u.f.alarm {
            u.f.alarm = true;
            u.alarm_text = text.unwrap_or("").to_string();
            self.notify(out, Event::Alarm, Some(i), Some(text.unwrap_or("n/a")));
        } else if let Some(t) = text.filter(|t| *t != u.alarm_text) {
            u.alarm_text = t.to_string();
            self.notify(out, Event::Alarm, Some(i), Some(t));
        }
    }

    /// Start or stop the OB+LB clocks after the flags changed.
    /// `noncrit_at` is the last moment the UPS was known not to be OB+LB.
    fn track_oblb(&mut self, i: usize, now: u64, noncrit_at: u64) {
        let u = &mut self.ups[i];
        if u.f.onbatt && u.f.lowbatt && !u.f.cal {
            if u.oblb_since.is_none() {
                u.oblb_since = Some(now);
                u.noncrit_at = Some(noncrit_at);
            }
        } else {
            u.oblb_since = None;
            u.noncrit_at = None;
        }
    }

    /// Back from sleep: readings from before are worthless. upsmon
    /// clears every status flag and restarts the lost-UPS clocks.
    fn wake(&mut self, now: u64, out: &mut Actions) {
        self.notify(out, Event::SuspendFinished, None, None);
        self.suspended = false;
        for u in &mut self.ups {
            u.f = Flags::default();
            u.oblb_since = None;
            u.noncrit_at = None;
            if u.comm == Comm::Bad {
                u.lost_since = now;
            }
        }
    }

    fn other_logins(&mut self, ups: usize, n: u32, out: &mut Actions) {
        let Phase::AwaitLogouts {
            others, announced, ..
        } = &mut self.phase
        else {
            return;
        };
        if ups >= others.len() || !self.ups[ups].primary {
            return;
        }
        let first = others[ups].replace(n).is_none();
        // upsmon announces the wait once, when its first count finds
        // secondaries still there.
        if first && n > 0 && !*announced {
            *announced = true;
            self.notify(out, Event::ShutdownHostsync, None, None);
        }
    }

    /// Move on with whatever time allows.
    fn advance(&mut self, now: u64, out: &mut Actions) {
        if self.suspended {
            return;
        }
        if self.phase == Phase::Watching {
            self.timers(now, out);
            let healthy: u64 = (0..self.ups.len())
                .filter(|&i| !self.critical(i, now))
                .map(|i| u64::from(self.ups[i].power))
                .sum();
            if healthy < self.minsupplies {
                self.force_shutdown(now, out);
            }
        }
        if let Phase::AwaitLogouts { until, others, .. } = &self.phase {
            let all_gone = self
                .ups
                .iter()
                .zip(others)
                .all(|(u, n)| !u.primary || *n == Some(0));
            if all_gone || now >= *until {
                self.begin_shutdown(now, out);
            }
        }
        if let Phase::FinalDelay { until } = self.phase {
            if now >= until {
                self.finish(out);
            }
        }
    }

    /// Repeated notices and DEADTIME, per UPS.
    fn timers(&mut self, now: u64, out: &mut Actions) {
        let t = self.times;
        for i in 0..self.ups.len() {
            let u = &mut self.ups[i];
            if u.comm == Comm::Bad {
                if t.nocommwarn > 0 && now >= nocomm_due(u, t.nocommwarn) {
                    u.last_nocomm = Some(now);
                    self.notify(out, Event::NoComm, Some(i), None);
                }
                let u = &mut self.ups[i];
                if u.f.onbatt && !u.f.lowbatt && now >= u.lost_since.saturating_add(t.deadtime) {
                    // "Promoting dead UPS": last seen on battery, so by now
                    // the battery may well be low. No LOWBATT notice: the
                    // UPS did not say so.
                    u.f.lowbatt = true;
                    let lost = u.lost_since;
                    self.track_oblb(i, now, lost);
                }
            }
            let u = &mut self.ups[i];
            if u.comm == Comm::Ok
                && u.f.replbatt
                && t.rbwarn > 0
                && u.last_replbatt.is_some_and(|l| now >= l + t.rbwarn)
            {
                u.last_replbatt = Some(now);
                self.notify(out, Event::ReplBatt, Some(i), None);
            }
        }
    }

    /// upsmon's `is_ups_critical()`, in its order.
    fn critical(&self, i: usize, now: u64) -> bool {
        let u = &self.ups[i];
        let t = &self.times;
        let f = &u.f;
        let lasted = |since: u64, d: u64| now >= since.saturating_add(d);
        if f.fsd {
            return true;
        }
        if u.comm == Comm::Bad {
            // Last seen in a state where a silent UPS may well be dead.
            if f.over && t.overduration.is_some_and(|d| lasted(u.over_since, d)) {
                return true;
            }
            if (f.alarm && self.alarmcritical) || f.cal || f.bypass {
                return true;
            }
            if f.off && t.offduration.is_some() {
                return true;
            }
        }
        if f.off && t.offduration.is_some_and(|d| lasted(u.off_since, d)) {
            // Off for OFFDURATION: the load is not fed.
            return true;
        }
        if !(f.onbatt && f.lowbatt) || f.cal {
            return false;
        }
        if t.oblbduration > 0 && !u.oblb_since.is_some_and(|s| lasted(s, t.oblbduration)) {
            return false;
        }
        if u.primary {
            return true;
        }
        // A secondary gives the primary HOSTSYNC to set FSD, so that an
        // OB+LB blip the primary missed shuts nothing down.
        lasted(u.noncrit_at.unwrap_or(now), t.hostsync)
    }

    /// upsmon's `forceshutdown()`: as primary, FSD on every primary UPS
    /// and wait for the secondaries; else shut down now.
    fn force_shutdown(&mut self, now: u64, out: &mut Actions) {
        let mut primary = false;
        for i in 0..self.ups.len() {
            if !self.ups[i].primary {
                continue;
            }
            primary = true;
            out.push(Action::SetFsd(i));
            if !std::mem::replace(&mut self.ups[i].fsd_notified, true) {
                self.notify(out, Event::Fsd, Some(i), None);
            }
        }
        if primary && self.times.hostsync > 0 {
            let until = now.saturating_add(self.times.hostsync);
            self.phase = Phase::AwaitLogouts {
                until,
                others: vec![None; self.ups.len()],
                announced: false,
            };
            out.push(Action::AwaitLogouts { until_ms: until });
        } else {
            self.begin_shutdown(now, out);
        }
    }

    /// upsmon's `doshutdown()` up to FINALDELAY.
    fn begin_shutdown(&mut self, now: u64, out: &mut Actions) {
        self.notify(out, Event::Shutdown, None, None);
        if self.times.finaldelay > 0 {
            let until = now.saturating_add(self.times.finaldelay);
            self.phase = Phase::FinalDelay { until };
            out.push(Action::FinalDelay { until_ms: until });
        } else {
            self.finish(out);
        }
    }

    fn finish(&mut self, out: &mut Actions) {
        if self.powerdownflag && self.ups.iter().any(|u| u.primary) {
            out.push(Action::WritePowerdownFlag);
        }
        out.push(Action::Shutdown);
        self.phase = Phase::Done;
    }
}

/// Keep in `next` the earliest of the deadlines after `now`. Out of line:
/// `poll_at` weighs seven deadlines per UPS, each a 64-bit compare that
/// is long on 32-bit routers.
#[inline(never)]
fn earliest(next: &mut Option<u64>, d: u64, now: u64) {
    if d > now {
        *next = Some(next.map_or(d, |n| n.min(d)));
    }
}

/// When the next NOCOMM is due for a lost UPS: NOCOMMWARNTIME after it
/// was lost, and NOCOMMWARNTIME after the last one.
fn nocomm_due(u: &Ups, every: u64) -> u64 {
    let first = u.lost_since.saturating_add(every);
    u.last_nocomm
        .map_or(first, |l| first.max(l.saturating_add(every)))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// upsmon's wording of a time jump: `20.000000 seconds`.
fn jump_text(by_ms: i64) -> String {
    let sign = if by_ms < 0 { "-" } else { "" };
    let abs = by_ms.unsigned_abs();
    format!("{sign}{}.{:03}000 seconds", abs / 1000, abs % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::upsmon_conf::{parse, NotifyFlags};
    use std::path::Path;

    fn monitor(text: &str) -> Monitor {
        Monitor::new(&parse(Path::new("upsmon.conf"), text.as_bytes()).unwrap())
    }

    const PRIMARY: &str = "MONITOR ups@localhost 1 mon pw primary\n";

    fn notices(actions: &[Action]) -> Vec<(Event, String, NotifyFlags)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Notify(n) => Some((n.event, n.message.clone(), n.flags)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn notifymsg_fills_in_the_monitor_system() {
        let mut m = monitor(&format!(
            "{PRIMARY}NOTIFYMSG ONBATT \"%s: mains gone (100%% load)\"\n"
        ));
        m.handle(Input::status(0, "OL"), 0);
        let got = m.handle(Input::status(0, "OB DISCHRG"), 1000);
        assert_eq!(
            notices(&got),
            [(
                Event::OnBatt,
                "ups@localhost: mains gone (100% load)".to_string(),
                NotifyFlags::DEFAULT
            )]
        );
    }

    #[test]
    fn notifyflag_ignore_drops_the_notice_but_not_the_decision() {
        let mut m = monitor(&format!(
            "{PRIMARY}HOSTSYNC 0\nFINALDELAY 0\nNOTIFYFLAG LOWBATT IGNORE\n\
             NOTIFYFLAG SHUTDOWN EXEC\nNOTIFYFLAG FSD SYSLOG\n"
        ));
        m.handle(Input::status(0, "OB"), 0);
        let got = m.handle(Input::status(0, "OB LB"), 1000);
        let exec_only = NotifyFlags {
            syslog: false,
            wall: false,
            exec: true,
            ignore: false,
        };
        let syslog_only = NotifyFlags {
            syslog: true,
            wall: false,
            exec: false,
            ignore: false,
        };
        assert_eq!(
            got,
            [
                Action::SetFsd(0),
                Action::Notify(Notice {
                    event: Event::Fsd,
                    ups: Some(0),
                    message: "UPS ups@localhost: forced shutdown in progress".into(),
                    flags: syslog_only,
                }),
                Action::Notify(Notice {
                    event: Event::Shutdown,
                    ups: None,
                    message: "Auto logout and shutdown proceeding".into(),
                    flags: exec_only,
                }),
                Action::Shutdown,
            ]
        );
        assert_eq!(m.poll_at(), None);
        assert!(m.shutting_down());
    }

    #[test]
    fn first_ol_is_quiet_first_ob_is_not() {
        let mut m = monitor(PRIMARY);
        assert_eq!(m.handle(Input::status(0, "OL CHRG"), 0), []);
        let mut m = monitor(PRIMARY);
        let got = m.handle(Input::status(0, "OB DISCHRG"), 0);
        assert_eq!(notices(&got)[0].0, Event::OnBatt);
        let got = m.handle(Input::status(0, "OL CHRG"), 5000);
        assert_eq!(notices(&got)[0].0, Event::Online);
    }

    #[test]
    fn alarm_text_changes_are_announced() {
        let mut m = monitor(PRIMARY);
        let alarm = |a| Input::Status {
            ups: 0,
            status: "ALARM OL",
            alarm: a,
        };
        let got = m.handle(alarm(None), 0);
        assert_eq!(
            notices(&got)[0].1,
            "UPS ups@localhost: one or more active alarms: [n/a]"
        );
        let got = m.handle(alarm(Some("Overheat")), 5000);
        assert_eq!(
            notices(&got)[0].1,
            "UPS ups@localhost: one or more active alarms: [Overheat]"
        );
        assert_eq!(m.handle(alarm(Some("Overheat")), 10_000), []);
        let got = m.handle(Input::status(0, "OL"), 15_000);
        assert_eq!(notices(&got)[0].0, Event::NotAlarm);
    }

    #[test]
    fn poll_interval_follows_alert_states() {
        let mut m = monitor(&format!("{PRIMARY}POLLFREQ 10\nPOLLFREQALERT 2\n"));
        assert_eq!(m.poll_interval_ms(), 10_000);
        m.handle(Input::status(0, "OB"), 0);
        assert_eq!(m.poll_interval_ms(), 2000);
        m.handle(Input::status(0, "OL"), 1);
        assert_eq!(m.poll_interval_ms(), 10_000);
        let mut m = monitor(&format!("{PRIMARY}POLLFREQALERT 4\nOBLBDURATION 6\n"));
        m.handle(Input::status(0, "OB LB"), 0);
        assert_eq!(m.poll_interval_ms(), 2000);
    }

    #[test]
    fn out_of_range_and_late_inputs_are_ignored() {
        let mut m = monitor(PRIMARY);
        assert_eq!(m.handle(Input::status(7, "OB LB"), 0), []);
        assert_eq!(m.handle(Input::CommBad(7), 0), []);
        assert_eq!(m.system(0), Some("ups@localhost"));
        assert_eq!(m.system(1), None);
        // Time never runs backwards inside the monitor.
        m.handle(Input::Tick, 10_000);
        m.handle(Input::CommBad(0), 5000);
        // Never reached: lost since the first input (t=0), so NOCOMM at 300 s.
        assert_eq!(m.poll_at(), Some(300_000));
    }

    #[test]
    fn zero_repeat_times_repeat_at_each_poll_without_deadlines() {
        let mut m = monitor(&format!("{PRIMARY}RBWARNTIME 0\nNOCOMMWARNTIME 0\n"));
        let events = |a: Actions| notices(&a).into_iter().map(|n| n.0).collect::<Vec<_>>();
        assert_eq!(
            events(m.handle(Input::status(0, "OL RB"), 0)),
            [Event::ReplBatt]
        );
        // Twice at the same instant is once.
        assert_eq!(events(m.handle(Input::status(0, "OL RB"), 0)), []);
        assert_eq!(
            events(m.handle(Input::status(0, "OL RB"), 5000)),
            [Event::ReplBatt]
        );
        assert_eq!(m.poll_at(), None);
        // An empty status is a failed poll, as in upsmon.
        assert_eq!(
            events(m.handle(Input::status(0, " "), 6000)),
            [Event::CommBad]
        );
        assert_eq!(events(m.handle(Input::CommBad(0), 11_000)), [Event::NoComm]);
        assert_eq!(events(m.handle(Input::CommBad(0), 16_000)), [Event::NoComm]);
        assert_eq!(m.poll_at(), None);
    }

    #[test]
    fn time_jump_wording() {
        assert_eq!(jump_text(20_000), "20.000000 seconds");
        assert_eq!(jump_text(-1500), "-1.500000 seconds");
    }
}
