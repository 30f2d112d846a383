//! One client connection's protocol state, as a pure state machine.
//!
//! Read first: `docs/design/nut-protocol.md` §4 and §5 (commands and
//! their check order), §6 (errors), §7 (rights) and §8 (UPS state).
//!
//! The server feeds each received line to [`Session::handle_line`] with
//! the current time, read access to the UPSes (the [`Upses`] trait), the
//! users and a reply buffer. The session writes the whole reply (possibly
//! nothing, as upsd after a parse error) and returns at most one
//! [`Action`] for the server to carry out: count a login, latch FSD, run a
//! command, set a variable, or close. It never touches a socket, a clock
//! or a device.
//!
//! The checks run in upsd's order, because clients see the first error:
//! the USERNAME/PASSWORD gate before argument counts, then per command
//! (§2): unknown UPS, driver state (`DRIVER-NOT-CONNECTED` before
//! `DATA-STALE`), rights and variable checks in the order upsd uses.
//!
//! Replies never allocate: `GET VAR` and `LIST VAR` sort and format on the
//! stack into the caller's buffer. A reply that does not fit is
//! [`Overflow::Full`] with no state changed, so the server may retry with
//! a bigger buffer.

use super::desc::{cmd_desc, var_desc, UNAVAILABLE};
use super::lexer::{plain_words, tokenize_bytes, LexError, MAX_ARGS};
use super::request::{parse, Invalid, Request};
use super::response::{
    ErrCode, List, Overflow, Reply, VarType, HELP, NETVER, SERVER_INFO, SERVER_VERSION,
};
use super::tracking::{IdGen, TrackingId, TrackingStatus};
use super::users::{Right, Users};
use crate::store::st;
use crate::store::{Store, Var};
use crate::text::Text;
use core::cmp::Ordering;
use std::net::IpAddr;

/// upsd drops a client that sent no complete line for 60 seconds.
pub const IDLE_TIMEOUT_MS: u64 = 60_000;

/// Whether a UPS's data can be served (upsd's `ups_available()`).
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// No device (never opened, or unplugged): `ERR DRIVER-NOT-CONNECTED`.
    DriverNotConnected,
    /// The device stopped answering: `ERR DATA-STALE`.
    Stale,
    Ready(Live<'a>),
}

/// The data of a UPS that can be served.
#[derive(Debug, Clone, Copy)]
pub struct Live<'a> {
    pub store: &'a Store,
    /// Instant commands the device offers.
    pub commands: &'a [&'static str],
    /// `RANGE` limits of writable numbers, in insertion order (usually
    /// none: usbhid-ups publishes no ranges).
    pub ranges: &'a [VarRange<'a>],
}

/// One allowed `[min, max]` of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarRange<'a> {
    pub var: &'a str,
    pub min: i32,
    pub max: i32,
}

/// What the protocol needs to know about one configured UPS.
#[derive(Debug, Clone, Copy)]
pub struct UpsView<'a> {
    /// The name from ups.conf (case preserved).
    pub name: &'a str,
    /// `desc` from ups.conf.
    pub desc: Option<&'a str>,
    /// Connections that did LOGIN on this UPS.
    pub numlogins: u32,
    /// The FSD latch (set by the FSD command, never cleared).
    pub fsd: bool,
    pub data: Data<'a>,
}

/// Read access to the server's UPSes.
pub trait Upses {
    /// How many UPSes are configured.
    fn count(&self) -> usize;
    /// The UPS at `index`, in ups.conf order.
    fn ups(&self, index: usize) -> Option<UpsView<'_>>;
    /// Find a UPS by name, case-insensitively as upsd does.
    fn find(&self, name: &[u8]) -> Option<(usize, UpsView<'_>)> {
        (0..self.count())
            .filter_map(|i| self.ups(i).map(|u| (i, u)))
            .find(|(_, u)| crate::store::eq_ci(u.name.as_bytes(), name))
    }
    /// Peer addresses of the connections logged in to UPS `index`, newest
    /// connection first.
    fn clients(&self, index: usize, each: &mut dyn FnMut(IpAddr));
    /// The result of a tracked request; `Unknown` for unknown or expired ids.
    fn tracking(&self, id: TrackingId) -> TrackingStatus;
}

/// What a request gets from its surroundings.
pub struct RequestEnv<'e, U: ?Sized> {
    pub upses: &'e U,
    pub users: &'e Users,
    /// Milliseconds on the server's monotonic clock.
    pub now: u64,
}

/// Something the server must do after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'b> {
    /// LOGOUT: close the connection once the reply is sent.
    Close,
    /// LOGIN succeeded: count one more login on UPS `ups` (and one less
    /// when this connection closes; see [`Session::logged_in`]).
    Login { ups: usize },
    /// Set the FSD latch of UPS `ups`.
    Fsd { ups: usize },
    /// Write a variable of UPS `ups`: the one at `var` in its store's
    /// list order ([`Store::at`]), as the session saw the store. The
    /// server carries this out at once, before its copy of the store can
    /// change. (A place, not the name: every reply moves this value.)
    SetVar {
        ups: usize,
        var: usize,
        value: &'b str,
        tracking: Option<TrackingId>,
    },
    /// Run instant command `cmd` (the device's own spelling) on UPS `ups`.
    InstCmd {
        ups: usize,
        cmd: &'static str,
        value: Option<&'b str>,
        tracking: Option<TrackingId>,
    },
}

impl Action<'_> {
    /// The error to send instead of the `OK` already written, if the
    /// server cannot start this action (upsd: the driver socket write
    /// failed).
    pub const fn failure(&self) -> Option<ErrCode> {
        match self {
            Action::SetVar { .. } => Some(ErrCode::SetFailed),
            Action::InstCmd { .. } => Some(ErrCode::InstcmdFailed),
            _ => None,
        }
    }

    /// The tracking id to record as `PENDING`, if any.
    pub const fn tracking(&self) -> Option<TrackingId> {
        match self {
            Action::SetVar { tracking, .. } | Action::InstCmd { tracking, .. } => *tracking,
            _ => None,
        }
    }
}

/// A USERNAME or PASSWORD as received.
#[derive(Clone, Copy)]
enum Cred {
    Unset,
    Set(Text),
    /// Longer than a [`Text`]: kept as "sent", but it never matches a user.
    Overlong,
}

/// Never print a password (a `Session` may end up in a debug log).
impl core::fmt::Debug for Cred {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Cred::Unset => "Unset",
            Cred::Set(_) => "Set(..)",
            Cred::Overlong => "Overlong",
        })
    }
}

impl Cred {
    fn new(s: &[u8]) -> Cred {
        Text::try_new(word(s)).map_or(Cred::Overlong, Cred::Set)
    }
    fn is_set(&self) -> bool {
        !matches!(self, Cred::Unset)
    }
    fn get(&self) -> Option<&str> {
        match self {
            Cred::Set(t) => Some(t.as_str()),
            _ => None,
        }
    }
}

/// Why a request failed inside the session.
enum Fail {
    /// Answer `ERR <code>` instead.
    Err(ErrCode),
    Overflow(Overflow),
}

impl From<ErrCode> for Fail {
    fn from(e: ErrCode) -> Self {
        Fail::Err(e)
    }
}

impl From<Overflow> for Fail {
    fn from(o: Overflow) -> Self {
        Fail::Overflow(o)
    }
}

type Handled<'b> = Result<Option<Action<'b>>, Fail>;

/// One connection.
#[derive(Debug, Clone)]
pub struct Session {
    username: Cred,
    password: Cred,
    /// The UPS this connection did LOGIN on.
    login: Option<usize>,
    tracking: bool,
    last_heard: u64,
    /// How long a silent connection is kept.
    idle_ms: u64,
    ids: IdGen,
    /// The server's rate limiter holds this peer back: credentials are
    /// refused unchecked (see [`Session::set_auth_limited`]).
    auth_limited: bool,
    /// Credentials were checked and matched no user since the server last
    /// asked ([`Session::take_auth_failure`]).
    auth_failed: bool,
}

impl Session {
    /// A new connection at time `now`; `seed` should be random (it makes
    /// this connection's tracking ids).
    pub fn new(now: u64, seed: u64) -> Self {
        Session {
            username: Cred::Unset,
            password: Cred::Unset,
            login: None,
            tracking: false,
            last_heard: now,
            idle_ms: IDLE_TIMEOUT_MS,
            ids: IdGen::new(seed),
            auth_limited: false,
            auth_failed: false,
        }
    }

    /// Whether the peer is rate-limited ([`super::ratelimit`]): while it
    /// is, every command that needs rights gets `ERR ACCESS-DENIED`
    /// without the credentials being compared, exactly as for a wrong
    /// password. The server sets this before each line.
    pub fn set_auth_limited(&mut self, limited: bool) {
        self.auth_limited = limited;
    }

    /// Did a command since the last call check the credentials and find
    /// no user with that name and password? (A known user lacking the
    /// right does not count; nor does a refusal while limited.) The
    /// server counts these per peer address.
    pub fn take_auth_failure(&mut self) -> bool {
        core::mem::take(&mut self.auth_failed)
    }

    /// Keep a silent connection this long instead of upsd's 60 s.
    pub fn with_idle_timeout(mut self, ms: u64) -> Self {
        self.idle_ms = ms;
        self
    }

    /// The UPS this connection logged in to: the server decrements that
    /// UPS's login count when the connection closes, and lists the
    /// connection in `LIST CLIENT`.
    pub fn logged_in(&self) -> Option<usize> {
        self.login
    }

    /// The USERNAME sent, for logs.
    pub fn username(&self) -> Option<&str> {
        self.username.get()
    }

    /// Did this connection turn TRACKING on?
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    /// When this connection will have been idle too long.
    pub fn idle_deadline(&self) -> u64 {
        self.last_heard.saturating_add(self.idle_ms)
    }

    /// Has this connection sent no complete line for longer than the idle
    /// timeout (60 s unless configured)?
    pub fn is_idle(&self, now: u64) -> bool {
        now > self.idle_deadline()
    }

    /// Handle one received line (its LF removed). `scratch` holds words
    /// that had escapes; a scratch as long as the line always suffices.
    pub fn handle_line<'b, U: Upses + ?Sized>(
        &mut self,
        line: &'b [u8],
        scratch: &'b mut [u8],
        env: &RequestEnv<'_, U>,
        out: &mut Reply<'_>,
    ) -> Result<Option<Action<'b>>, Overflow> {
        // Requests have a few words: a small array first (filling the
        // whole 32 costs more than splitting the line).
        let mut few: [&[u8]; 8] = [&[]; 8];
        if let Some(n) = plain_words(line, &mut few) {
            return self.handle(parse(&few[..n]), env, out);
        }
        let mut words: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
        match tokenize_bytes(line, scratch, &mut words) {
            Ok(t) => self.handle(parse(t.words), env, out),
            Err(e) => self.lex_error(e, env.now, out).map(|()| None),
        }
    }

    /// Answer a line that could not be tokenized. Also for the server when
    /// a line exceeds its buffer ([`LexError::LineTooLong`]).
    ///
    /// upsd sends nothing after its one parse error (`#` inside quotes).
    /// The other cases are where upsd would read on past the LF or cut a
    /// word; hidupsd refuses the line with `ERR INVALID-ARGUMENT`.
    pub fn lex_error(
        &mut self,
        e: LexError,
        now: u64,
        out: &mut Reply<'_>,
    ) -> Result<(), Overflow> {
        if e == LexError::HashInQuotes {
            return Ok(());
        }
        self.last_heard = now;
        out.err(ErrCode::InvalidArgument)
    }

    /// Handle one parsed line.
    pub fn handle<'b, U: Upses + ?Sized>(
        &mut self,
        req: Result<Request<'b>, Invalid>,
        env: &RequestEnv<'_, U>,
        out: &mut Reply<'_>,
    ) -> Result<Option<Action<'b>>, Overflow> {
        self.last_heard = env.now;
        let mark = out.len();
        let command = match &req {
            Ok(r) => Some(r.command()),
            Err(inv) => inv.command,
        };
        let r = match self.gate(command) {
            Err(e) => Err(Fail::Err(e)),
            Ok(()) => match req {
                Ok(req) => self.dispatch(req, env, out),
                Err(inv) => Err(Fail::Err(inv.err)),
            },
        };
        match r {
            Ok(action) => Ok(action),
            Err(f) => {
                out.truncate(mark);
                let code = match f {
                    Fail::Err(code) => code,
                    Fail::Overflow(Overflow::Full) => return Err(Overflow::Full),
                    // Only an echoed name can make a line this long.
                    Fail::Overflow(Overflow::LineTooLong) => ErrCode::InvalidArgument,
                };
                out.err(code).map(|()| None)
            }
        }
    }

    /// upsd's `FLAG_USER` check: both credentials sent, not yet verified.
    fn gate(&self, command: Option<super::request::Command>) -> Result<(), ErrCode> {
        if !command.is_some_and(|c| c.needs_credentials()) {
            return Ok(());
        }
        if !self.username.is_set() {
            return Err(ErrCode::UsernameRequired);
        }
        if !self.password.is_set() {
            return Err(ErrCode::PasswordRequired);
        }
        Ok(())
    }

    /// Do the credentials grant `right`? `ACCESS-DENIED` if not, or if
    /// the peer is rate-limited (then they are not even compared).
    fn allowed(&mut self, users: &Users, right: Right<'_>) -> Result<(), ErrCode> {
        if self.auth_limited {
            return Err(ErrCode::AccessDenied);
        }
        let user = match (self.username.get(), self.password.get()) {
            (Some(u), Some(p)) => users.authenticate(u, p),
            // Overlong (never matches a user): still a wrong credential.
            _ => None,
        };
        match user {
            Some(u) if u.has(right) => Ok(()),
            Some(_) => Err(ErrCode::AccessDenied),
            None => {
                self.auth_failed = true;
                Err(ErrCode::AccessDenied)
            }
        }
    }

    fn dispatch<'b, U: Upses + ?Sized>(
        &mut self,
        req: Request<'b>,
        env: &RequestEnv<'_, U>,
        out: &mut Reply<'_>,
    ) -> Handled<'b> {
        use Request as R;
        let upses = env.upses;
        match req {
            R::Ver => out.text(SERVER_INFO)?,
            R::NetVer | R::ProtVer => out.text(NETVER)?,
            R::Help => out.text(HELP)?,
            // No TLS: the answer of an SSL-capable upsd without a
            // certificate, so clients carry on in plain text at once.
            R::StartTls => return Err(ErrCode::FeatureNotConfigured.into()),
            R::Username(u) => {
                if self.username.is_set() {
                    return Err(ErrCode::AlreadySetUsername.into());
                }
                out.ok()?;
                self.username = Cred::new(u);
            }
            R::Password(p) => {
                if self.password.is_set() {
                    return Err(ErrCode::AlreadySetPassword.into());
                }
                out.ok()?;
                self.password = Cred::new(p);
            }
            R::Login { ups } => {
                if self.login.is_some() {
                    return Err(ErrCode::AlreadyLoggedIn.into());
                }
                let (i, _) = find(upses, ups)?;
                self.allowed(env.users, Right::Login)?;
                out.ok()?;
                self.login = Some(i);
                return Ok(Some(Action::Login { ups: i }));
            }
            R::Logout => {
                out.text("OK Goodbye")?;
                return Ok(Some(Action::Close));
            }
            R::Primary { ups } | R::Master { ups } => {
                find(upses, ups)?;
                self.allowed(env.users, Right::Primary)?;
                out.text(if matches!(req, R::Primary { .. }) {
                    "OK PRIMARY-GRANTED"
                } else {
                    "OK MASTER-GRANTED"
                })?;
            }
            R::Fsd { ups } => {
                let (i, _) = find(upses, ups)?;
                self.allowed(env.users, Right::Fsd)?;
                out.text("OK FSD-SET")?;
                return Ok(Some(Action::Fsd { ups: i }));
            }
            R::GetNumLogins { ups } => {
                let (_, u) = find(upses, ups)?;
                live(&u)?;
                out.numlogins(ups, u.numlogins)?;
            }
            R::GetUpsDesc { ups } => {
                let (_, u) = find(upses, ups)?;
                out.ups_desc(ups, u.desc)?;
            }
            R::GetVar { ups, var } => get_var(upses, ups, var, out)?,
            R::GetType { ups, var } => {
                let (_, u) = find(upses, ups)?;
                let data = live(&u)?;
                let v = find_var(data.store, var)?;
                out.var_type(ups, var, var_type(v, &data))?;
            }
            R::GetDesc { ups, var } => {
                let (_, u) = find(upses, ups)?;
                live(&u)?;
                out.desc(ups, var, var_desc(word(var)).unwrap_or(UNAVAILABLE))?;
            }
            R::GetCmdDesc { ups, cmd } => {
                let (_, u) = find(upses, ups)?;
                live(&u)?;
                out.cmd_desc(ups, cmd, cmd_desc(word(cmd)).unwrap_or(UNAVAILABLE))?;
            }
            R::GetTracking(None) => out.tracking_flag(self.tracking)?,
            R::GetTracking(Some(id)) => {
                if !self.tracking {
                    return Err(ErrCode::FeatureNotConfigured.into());
                }
                let status = TrackingId::parse(word(id))
                    .map_or(TrackingStatus::Unknown, |id| upses.tracking(id));
                out.tracking_status(status)?;
            }
            R::ListUps => {
                out.begin(&List::Ups)?;
                for u in (0..upses.count()).filter_map(|i| upses.ups(i)) {
                    out.ups(u.name, u.desc)?;
                }
                out.end(&List::Ups)?;
            }
            R::ListVar { ups } => list_vars(upses, ups, false, out)?,
            R::ListRw { ups } => list_vars(upses, ups, true, out)?,
            R::ListCmd { ups } => {
                let (_, u) = find(upses, ups)?;
                let data = live(&u)?;
                let list = List::Cmd(ups);
                out.begin(&list)?;
                let mut prev: Option<&str> = None;
                // Sorted case-insensitively without a buffer: repeatedly
                // take the smallest name after the previous one.
                while let Some(c) = data
                    .commands
                    .iter()
                    .copied()
                    .filter(|c| prev.map_or(true, |p| cmp_ci(c, p) == Ordering::Greater))
                    .min_by(|a, b| cmp_ci(a, b))
                {
                    out.cmd(ups, c)?;
                    prev = Some(c);
                }
                out.end(&list)?;
            }
            R::ListClient { ups } => {
                let (i, u) = find(upses, ups)?;
                let list = List::Client(ups);
                out.begin(&list)?;
                let mut res = Ok(());
                upses.clients(i, &mut |addr| {
                    if res.is_ok() {
                        res = out.client(u.name, addr);
                    }
                });
                res?;
                out.end(&list)?;
            }
            R::ListEnum { ups, var } => {
                let (_, u) = find(upses, ups)?;
                let data = live(&u)?;
                let v = find_var(data.store, var)?;
                let list = List::Enum(ups, var);
                out.begin(&list)?;
                let texts = enum_texts(v);
                for (k, value) in texts.clone().enumerate() {
                    // Like upsd, list each distinct value once.
                    if texts.clone().take(k).all(|e| e != value) {
                        out.enum_value(ups, var, value)?;
                    }
                }
                out.end(&list)?;
            }
            R::ListRange { ups, var } => {
                let (_, u) = find(upses, ups)?;
                let data = live(&u)?;
                let v = find_var(data.store, var)?;
                let list = List::Range(ups, var);
                out.begin(&list)?;
                for r in ranges_of(&data, v) {
                    out.range(ups, var, r.min, r.max)?;
                }
                out.end(&list)?;
            }
            R::SetVar { ups, var, value } => return self.set_var(env, ups, var, value, out),
            R::SetTracking(on) => {
                out.ok()?;
                self.tracking = on;
            }
            R::InstCmd { ups, cmd, value } => {
                let tracking = self.next_tracking_id();
                let (i, u) = find(upses, ups)?;
                let data = live(&u)?;
                // Unsupported wins over access denied here (not in SET).
                let known = data
                    .commands
                    .iter()
                    .copied()
                    .find(|c| crate::store::eq_ci(c.as_bytes(), cmd))
                    .ok_or(ErrCode::CmdNotSupported)?;
                self.allowed(env.users, Right::InstCmd(word(cmd)))?;
                out.ok_tracked(tracking)?;
                return Ok(Some(Action::InstCmd {
                    ups: i,
                    cmd: known,
                    value: value.map(word),
                    tracking,
                }));
            }
        }
        Ok(None)
    }

    /// upsd makes an id for every SET VAR/INSTCMD while tracking is on.
    fn next_tracking_id(&mut self) -> Option<TrackingId> {
        self.tracking.then(|| self.ids.next_id())
    }

    fn set_var<'b, U: Upses + ?Sized>(
        &mut self,
        env: &RequestEnv<'_, U>,
        ups: &[u8],
        var: &[u8],
        value: &'b [u8],
        out: &mut Reply<'_>,
    ) -> Handled<'b> {
        let value = word(value);
        let tracking = self.next_tracking_id();
        let (i, u) = find(env.upses, ups)?;
        let data = live(&u)?;
        self.allowed(env.users, Right::Set)?;
        let pos = data
            .store
            .position_ci(var)
            .ok_or(ErrCode::VarNotSupported)?;
        let v = data.store.at(pos).ok_or(ErrCode::VarNotSupported)?;
        if v.flags & st::RW == 0 {
            return Err(ErrCode::Readonly.into());
        }
        if v.flags & st::STRING != 0 {
            if v.len < 1 {
                return Err(ErrCode::SetFailed.into());
            }
            if value.len() > usize::from(v.len) {
                return Err(ErrCode::TooLong.into());
            }
        }
        let mut texts = enum_texts(v).peekable();
        if texts.peek().is_some() && !texts.any(|e| e == value) {
            return Err(ErrCode::InvalidValue.into());
        }
        let mut ranges = ranges_of(&data, v).peekable();
        if ranges.peek().is_some() {
            let n = atoi(value);
            if !ranges.any(|r| (i64::from(r.min)..=i64::from(r.max)).contains(&n)) {
                return Err(ErrCode::InvalidValue.into());
            }
        }
        out.ok_tracked(tracking)?;
        Ok(Some(Action::SetVar {
            ups: i,
            var: pos,
            value,
            tracking,
        }))
    }
}

fn find<'u, U: Upses + ?Sized>(upses: &'u U, name: &[u8]) -> Result<(usize, UpsView<'u>), ErrCode> {
    upses.find(name).ok_or(ErrCode::UnknownUps)
}

/// upsd's availability check.
fn live<'a>(u: &UpsView<'a>) -> Result<Live<'a>, ErrCode> {
    match u.data {
        Data::DriverNotConnected => Err(ErrCode::DriverNotConnected),
        Data::Stale => Err(ErrCode::DataStale),
        Data::Ready(l) => Ok(l),
    }
}

/// Variables are identified case-insensitively, as in upsd's state tree.
fn find_var<'a>(store: &'a Store, name: &[u8]) -> Result<&'a Var, ErrCode> {
    store.find_ci(name).ok_or(ErrCode::VarNotSupported)
}

/// A request word as text: words hold ASCII only (the lexer keeps no
/// other byte), so this never fails; it is for the rare paths that hand
/// a word on as a string (a password, a value to write).
fn word(w: &[u8]) -> &str {
    core::str::from_utf8(w).unwrap_or("")
}

/// The texts of a variable's enumerated values, in table order.
fn enum_texts(v: &Var) -> impl Iterator<Item = &'static str> + Clone {
    let rows = v.enums;
    (0..rows.map_or(0, |r| r.count())).map(move |i| rows.map_or("", |r| r.text(i)))
}

fn ranges_of<'a>(data: &Live<'a>, v: &'a Var) -> impl Iterator<Item = &'a VarRange<'a>> {
    data.ranges
        .iter()
        .filter(move |r| r.var.eq_ignore_ascii_case(v.name.as_str()))
}

fn var_type(v: &Var, data: &Live<'_>) -> VarType {
    VarType {
        rw: v.flags & st::RW != 0,
        enumerated: enum_texts(v).next().is_some(),
        range: ranges_of(data, v).next().is_some(),
        string: (v.flags & st::STRING != 0).then_some(u32::from(v.len)),
    }
}

/// Is the FSD latch shown on this variable?
fn fsd_shown(u: &UpsView<'_>, var: &[u8]) -> bool {
    u.fsd && var.eq_ignore_ascii_case(b"ups.status")
}

fn get_var<U: Upses + ?Sized>(
    upses: &U,
    ups: &[u8],
    var: &[u8],
    out: &mut Reply<'_>,
) -> Result<(), Fail> {
    // upsd answers server.* without looking the UPS up at all.
    if var.len() >= 7 && var[..7].eq_ignore_ascii_case(b"server.") {
        if var.eq_ignore_ascii_case(b"server.info") {
            out.var(ups, b"server.info", SERVER_INFO.as_bytes(), false)?;
        } else if var.eq_ignore_ascii_case(b"server.version") {
            out.var(ups, b"server.version", SERVER_VERSION.as_bytes(), false)?;
        } else {
            return Err(ErrCode::VarNotSupported.into());
        }
        return Ok(());
    }
    let (_, u) = find(upses, ups)?;
    let data = live(&u)?;
    let v = find_var(data.store, var)?;
    let fsd = fsd_shown(&u, var);
    out.var(ups, var, v.value.as_bytes(), fsd)?;
    Ok(())
}

/// `LIST VAR` or `LIST RW`: the store keeps its variables in the order
/// upsd's tree walk gives them (sorted case-insensitively), so they go
/// out as they are, into the one reply buffer.
fn list_vars<U: Upses + ?Sized>(
    upses: &U,
    ups: &[u8],
    rw: bool,
    out: &mut Reply<'_>,
) -> Result<(), Fail> {
    let (_, u) = find(upses, ups)?;
    let data = live(&u)?;
    let list = if rw { List::Rw(ups) } else { List::Var(ups) };
    out.begin(&list)?;
    for v in data.store.iter() {
        let name = v.name.as_bytes();
        if !rw {
            out.var(ups, name, v.value.as_bytes(), fsd_shown(&u, name))?;
        } else if v.flags & st::RW != 0 {
            out.rw(ups, name, v.value.as_bytes())?;
        }
    }
    out.end(&list)?;
    Ok(())
}

/// `strcasecmp` order.
fn cmp_ci(a: &str, b: &str) -> Ordering {
    crate::store::cmp_ci(a.as_bytes(), b.as_bytes())
}

/// C `atoi`, as upsd parses numbers.
fn atoi(s: &str) -> i64 {
    crate::text::atol(s).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::lexer::MAX_LINE;
    use crate::proto::users::{InstCmds, Rights, Upsmon, User};
    use crate::store::EnumRows;
    use crate::ups::table::{Doc, Lookup, Str};
    use std::net::{Ipv4Addr, Ipv6Addr};

    static SENSITIVITY: Lookup = Lookup {
        name: Doc::NONE,
        fun: None,
        nuf: None,
        rows: &[
            (0, Str::of("high")),
            (1, Str::of("medium")),
            (2, Str::of("low")),
            (3, Str::of("medium")),
        ],
    };

    enum St {
        Ready,
        Stale,
        Gone,
    }

    struct FakeUps {
        name: &'static str,
        desc: Option<&'static str>,
        store: Store,
        cmds: Vec<&'static str>,
        ranges: Vec<VarRange<'static>>,
        state: St,
        numlogins: u32,
        fsd: bool,
        clients: Vec<IpAddr>,
    }

    struct Fake {
        upses: Vec<FakeUps>,
        tracked: Vec<(TrackingId, TrackingStatus)>,
    }

    impl Upses for Fake {
        fn count(&self) -> usize {
            self.upses.len()
        }
        fn ups(&self, i: usize) -> Option<UpsView<'_>> {
            let u = self.upses.get(i)?;
            Some(UpsView {
                name: u.name,
                desc: u.desc,
                numlogins: u.numlogins,
                fsd: u.fsd,
                data: match u.state {
                    St::Ready => Data::Ready(Live {
                        store: &u.store,
                        commands: &u.cmds,
                        ranges: &u.ranges,
                    }),
                    St::Stale => Data::Stale,
                    St::Gone => Data::DriverNotConnected,
                },
            })
        }
        fn clients(&self, i: usize, each: &mut dyn FnMut(IpAddr)) {
            for &a in &self.upses[i].clients {
                each(a);
            }
        }
        fn tracking(&self, id: TrackingId) -> TrackingStatus {
            self.tracked
                .iter()
                .find(|(t, _)| *t == id)
                .map_or(TrackingStatus::Unknown, |&(_, s)| s)
        }
    }

    fn su700() -> FakeUps {
        let mut s = Store::new();
        let vars: &[(&str, &str, u8, u8)] = &[
            ("ups.status", "OL", 0, 0),
            ("battery.charge", "100", st::NUMBER, 0),
            ("ups.mfr", "American Power Conversion", st::STRING, 32),
            ("ups.model", "Back-UPS \"ES\" #1 \\ 700", st::STRING, 32),
            ("device.type", "ups", 0, 0),
            ("battery.charge.low", "10", st::RW | st::STRING, 10),
            ("ups.delay.shutdown", "20", st::RW | st::STRING, 10),
            ("input.sensitivity", "medium", st::RW, 0),
            ("ups.id", "rack1", st::RW | st::STRING, 8),
            ("ups.broken", "x", st::RW | st::STRING, 0),
            ("battery.runtime.low", "120", st::RW, 0),
            ("battery.runtime", "2400", 0, 0),
            ("UPS.Beeper.Status", "enabled", 0, 0),
        ];
        for &(n, v, flags, len) in vars {
            s.set(n, v).unwrap();
            let enums = (n == "input.sensitivity").then_some(&SENSITIVITY as EnumRows);
            s.set_meta(n, flags, len, enums);
        }
        FakeUps {
            name: "su700",
            desc: Some("Development box"),
            store: s,
            cmds: vec![
                "load.off",
                "test.battery.start.quick",
                "beeper.mute",
                "load.on",
                "Beeper.Disable",
                "shutdown.return",
                "load.off.delay",
            ],
            ranges: vec![
                VarRange {
                    var: "battery.runtime.low",
                    min: 60,
                    max: 300,
                },
                VarRange {
                    var: "battery.runtime.low",
                    min: 600,
                    max: 900,
                },
            ],
            state: St::Ready,
            numlogins: 0,
            fsd: false,
            clients: vec![],
        }
    }

    fn other(name: &'static str, desc: Option<&'static str>, state: St) -> FakeUps {
        FakeUps {
            name,
            desc,
            store: Store::new(),
            cmds: vec![],
            ranges: vec![],
            state,
            numlogins: 0,
            fsd: false,
            clients: vec![],
        }
    }

    fn user(name: &str, password: &str) -> User {
        User {
            name: name.into(),
            password: password.into(),
            ..User::default()
        }
    }

    fn users() -> Users {
        let with_set = Rights {
            set: true,
            ..Rights::default()
        };
        Users {
            users: vec![
                User {
                    upsmon: Upsmon::Primary,
                    ..user("monuser", "secret")
                },
                User {
                    upsmon: Upsmon::Secondary,
                    ..user("upsslave", "pw")
                },
                User {
                    actions: Rights {
                        set: true,
                        fsd: true,
                        ..Rights::default()
                    },
                    instcmds: InstCmds::List(vec!["load.off".into(), "beeper.mute".into()]),
                    ..user("admin", "adminpw")
                },
                User {
                    actions: with_set,
                    instcmds: InstCmds::All,
                    ..user("root", "rootpw")
                },
                User {
                    actions: with_set,
                    ..user("py", "my pass")
                },
                User {
                    upsmon: Upsmon::Primary,
                    ..user(&"u".repeat(200), "p")
                },
            ],
        }
    }

    /// What the server was asked to do, owned.
    #[derive(Debug, PartialEq)]
    enum Did {
        Close,
        Login(usize),
        Fsd(usize),
        Set(usize, String, String, Option<TrackingId>),
        Cmd(usize, &'static str, Option<String>, Option<TrackingId>),
    }

    /// A server around one session: splits input at LF, answers each
    /// line into its own buffer and applies the actions to the fake UPSes.
    struct T {
        s: Session,
        fake: Fake,
        users: Users,
        now: u64,
        did: Vec<Did>,
    }

    const SEED: u64 = 7;

    impl T {
        fn new() -> T {
            T {
                s: Session::new(0, SEED),
                fake: Fake {
                    upses: vec![
                        su700(),
                        other("stale", None, St::Stale),
                        other("gone", Some("Unplugged \"spare\""), St::Gone),
                    ],
                    tracked: vec![],
                },
                users: users(),
                now: 0,
                did: vec![],
            }
        }

        fn send(&mut self, input: &[u8]) -> String {
            let lines = input.strip_suffix(b"\n").expect("input ends with LF");
            let mut all = Vec::new();
            for line in lines.split(|&b| b == b'\n') {
                let mut buf = [0u8; 8192];
                let mut out = Reply::new(&mut buf);
                let mut scratch = [0u8; MAX_LINE];
                let env = RequestEnv {
                    upses: &self.fake,
                    users: &self.users,
                    now: self.now,
                };
                let action = self
                    .s
                    .handle_line(line, &mut scratch, &env, &mut out)
                    .unwrap();
                all.extend_from_slice(out.as_bytes());
                if let Some(a) = action {
                    self.apply(a);
                }
            }
            String::from_utf8(all).unwrap()
        }

        fn apply(&mut self, a: Action<'_>) {
            if let Some(id) = a.tracking() {
                self.fake.tracked.push((id, TrackingStatus::Pending));
            }
            self.did.push(match a {
                Action::Close => Did::Close,
                Action::Login { ups } => {
                    let u = &mut self.fake.upses[ups];
                    u.numlogins += 1;
                    u.clients.insert(0, IpAddr::V4(Ipv4Addr::LOCALHOST));
                    Did::Login(ups)
                }
                Action::Fsd { ups } => {
                    self.fake.upses[ups].fsd = true;
                    Did::Fsd(ups)
                }
                Action::SetVar {
                    ups,
                    var,
                    value,
                    tracking,
                } => {
                    let name = self.fake.upses[ups].store.at(var).unwrap().name;
                    Did::Set(ups, name.as_str().into(), value.into(), tracking)
                }
                Action::InstCmd {
                    ups,
                    cmd,
                    value,
                    tracking,
                } => Did::Cmd(ups, cmd, value.map(Into::into), tracking),
            });
        }

        #[track_caller]
        fn expect(&mut self, input: &str, want: &str) {
            let got = self.send(input.as_bytes());
            assert_eq!(got, want, "reply to {input:?}");
        }

        fn login(&mut self, user: &str, password: &str) {
            self.expect(&format!("USERNAME {user}\n"), "OK\n");
            self.expect(&format!("PASSWORD \"{password}\"\n"), "OK\n");
        }
    }

    /// `session!(name, [input => reply, ...])`, optionally after
    /// `login(user, password)`: exact bytes in, exact bytes out.
    macro_rules! session {
        ($name:ident, $(login($u:expr, $p:expr),)? [$($input:expr => $reply:expr),* $(,)?]) => {
            #[test]
            fn $name() {
                let mut t = T::new();
                $(t.login($u, $p);)?
                $(t.expect($input, $reply);)*
            }
        };
    }

    fn ver_line() -> String {
        format!(
            "Network UPS Tools upsd hidupsd-{} - https://www.networkupstools.org/\n",
            env!("CARGO_PKG_VERSION")
        )
    }

    fn first_id() -> TrackingId {
        IdGen::new(SEED).next_id()
    }

    const LIST_VAR: &str = "BEGIN LIST VAR su700
VAR su700 battery.charge \"100\"
VAR su700 battery.charge.low \"10\"
VAR su700 battery.runtime \"2400\"
VAR su700 battery.runtime.low \"120\"
VAR su700 device.type \"ups\"
VAR su700 input.sensitivity \"medium\"
VAR su700 UPS.Beeper.Status \"enabled\"
VAR su700 ups.broken \"x\"
VAR su700 ups.delay.shutdown \"20\"
VAR su700 ups.id \"rack1\"
VAR su700 ups.mfr \"American Power Conversion\"
VAR su700 ups.model \"Back-UPS \\\"ES\\\" \\#1 \\\\ 700\"
VAR su700 ups.status \"OL\"
END LIST VAR su700
";

    // upsc (section 10): LIST UPS, LIST VAR, GET VAR, LIST CLIENT, LOGOUT.

    session!(upsc_list_ups, [
        "LIST UPS\n" => "BEGIN LIST UPS\nUPS su700 \"Development box\"\n\
    UPS stale \"Description unavailable\"\nUPS gone \"Unplugged \\\"spare\\\"\"\nEND LIST UPS\n",
    ]);

    session!(upsc_list_var_sorted_case_insensitively_and_escaped, [
        "LIST VAR su700\n" => LIST_VAR,
    ]);

    session!(upsc_get_var, [
        "GET VAR su700 ups.status\n" => "VAR su700 ups.status \"OL\"\n",
        "GET VAR su700 ups.model\n" => "VAR su700 ups.model \"Back-UPS \\\"ES\\\" \\#1 \\\\ 700\"\n",
    ]);

    session!(names_are_echoed_as_typed, [
        "get var SU700 UPS.STATUS\n" => "VAR SU700 UPS.STATUS \"OL\"\n",
        "GET VAR su700 ups.beeper.status\n" => "VAR su700 ups.beeper.status \"enabled\"\n",
        "list enum Su700 INPUT.sensitivity\n" => "BEGIN LIST ENUM Su700 INPUT.sensitivity\n\
    ENUM Su700 INPUT.sensitivity \"high\"\nENUM Su700 INPUT.sensitivity \"medium\"\n\
    ENUM Su700 INPUT.sensitivity \"low\"\nEND LIST ENUM Su700 INPUT.sensitivity\n",
    ]);

    #[test]
    fn list_var_echoes_the_ups_but_prints_stored_names() {
        let mut t = T::new();
        let got = t.send(b"list var SU700\n");
        assert_eq!(got, LIST_VAR.replace("su700", "SU700"));
    }

    #[test]
    fn upsc_list_client_prints_the_configured_name() {
        let mut t = T::new();
        t.fake.upses[0].clients = vec![
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)),
        ];
        t.expect(
            "LIST CLIENT su700\n",
            "BEGIN LIST CLIENT su700\nCLIENT su700 ::1\nCLIENT su700 192.168.1.2\nEND LIST CLIENT su700\n",
        );
        t.expect(
            "LIST CLIENT SU700\n",
            "BEGIN LIST CLIENT SU700\nCLIENT su700 ::1\nCLIENT su700 192.168.1.2\nEND LIST CLIENT SU700\n",
        );
        // No availability check for LIST CLIENT.
        t.expect(
            "LIST CLIENT stale\n",
            "BEGIN LIST CLIENT stale\nEND LIST CLIENT stale\n",
        );
        t.expect(
            "LIST CLIENT gone\n",
            "BEGIN LIST CLIENT gone\nEND LIST CLIENT gone\n",
        );
    }

    #[test]
    fn upsc_with_tls_probe_and_logout() {
        let mut t = T::new();
        t.expect("STARTTLS\n", "ERR FEATURE-NOT-CONFIGURED\n");
        t.expect(
            "GET VAR su700 battery.charge\n",
            "VAR su700 battery.charge \"100\"\n",
        );
        t.expect("LOGOUT\n", "OK Goodbye\n");
        assert_eq!(t.did, [Did::Close]);
    }

    // upsmon (section 10).

    #[test]
    fn upsmon_primary_session() {
        let mut t = T::new();
        t.expect("STARTTLS\n", "ERR FEATURE-NOT-CONFIGURED\n");
        t.expect("USERNAME monuser\n", "OK\n");
        t.expect("PASSWORD secret\n", "OK\n");
        t.expect("LOGIN su700\n", "OK\n");
        assert_eq!(t.s.logged_in(), Some(0));
        t.expect("PRIMARY su700\n", "OK PRIMARY-GRANTED\n");
        t.expect(
            "GET VAR su700 ups.status\n",
            "VAR su700 ups.status \"OL\"\n",
        );
        t.expect(
            "GET VAR su700 ups.mode.buzzwords\n",
            "ERR VAR-NOT-SUPPORTED\n",
        );
        t.expect(
            "GET VAR su700 experimental.ups.mode.buzzwords\n",
            "ERR VAR-NOT-SUPPORTED\n",
        );
        t.expect("FSD su700\n", "OK FSD-SET\n");
        t.expect(
            "GET VAR su700 ups.status\n",
            "VAR su700 ups.status \"FSD OL\"\n",
        );
        t.expect("GET NUMLOGINS su700\n", "NUMLOGINS su700 1\n");
        t.expect("FSD su700\n", "OK FSD-SET\n");
        t.expect("LOGOUT\n", "OK Goodbye\n");
        assert_eq!(t.did, [Did::Login(0), Did::Fsd(0), Did::Fsd(0), Did::Close]);
    }

    #[test]
    fn fsd_latch_shows_in_list_var_but_not_list_rw() {
        let mut t = T::new();
        t.fake.upses[0].fsd = true;
        let got = t.send(b"LIST VAR su700\n");
        assert_eq!(got, LIST_VAR.replace("\"OL\"", "\"FSD OL\""));
        let got = t.send(b"LIST RW su700\n");
        assert!(!got.contains("FSD"), "{got}");
        t.expect(
            "GET VAR su700 UPS.Status\n",
            "VAR su700 UPS.Status \"FSD OL\"\n",
        );
    }

    session!(upsmon_2_7_sends_master, [
        "USERNAME monuser\n" => "OK\n",
        "PASSWORD secret\n" => "OK\n",
        "LOGIN su700\n" => "OK\n",
        "MASTER su700\n" => "OK MASTER-GRANTED\n",
    ]);

    session!(upsmon_secondary_may_login_only, login("upsslave", "pw"), [
        "LOGIN su700\n" => "OK\n",
        "PRIMARY su700\n" => "ERR ACCESS-DENIED\n",
        "MASTER su700\n" => "ERR ACCESS-DENIED\n",
        "FSD su700\n" => "ERR ACCESS-DENIED\n",
        "GET NUMLOGINS su700\n" => "NUMLOGINS su700 1\n",
    ]);

    // upscmd (section 10).

    session!(upscmd_list, [
        "LIST CMD su700\n" => "BEGIN LIST CMD su700\nCMD su700 Beeper.Disable\nCMD su700 beeper.mute\n\
    CMD su700 load.off\nCMD su700 load.off.delay\nCMD su700 load.on\nCMD su700 shutdown.return\n\
    CMD su700 test.battery.start.quick\nEND LIST CMD su700\n",
        "GET CMDDESC su700 load.off\n" => "CMDDESC su700 load.off \"Switch the load off now\"\n",
        "GET CMDDESC su700 Beeper.Disable\n" => "CMDDESC su700 Beeper.Disable \"Turn the audible alarm off\"\n",
        "GET CMDDESC su700 no.such\n" => "CMDDESC su700 no.such \"Description unavailable\"\n",
    ]);

    #[test]
    fn upscmd_runs_a_command() {
        let mut t = T::new();
        t.expect("USERNAME admin\n", "OK\n");
        t.expect("PASSWORD adminpw\n", "OK\n");
        t.expect("INSTCMD su700 load.off\n", "OK\n");
        t.expect("INSTCMD su700 BEEPER.MUTE\n", "OK\n");
        t.expect("LOGOUT\n", "OK Goodbye\n");
        assert_eq!(
            t.did,
            [
                Did::Cmd(0, "load.off", None, None),
                Did::Cmd(0, "beeper.mute", None, None),
                Did::Close
            ]
        );
    }

    #[test]
    fn upscmd_wait_mode_tracks_the_command() {
        let mut t = T::new();
        t.login("admin", "adminpw");
        t.expect("GET TRACKING\n", "OFF\n");
        t.expect("SET TRACKING ON\n", "OK\n");
        t.expect("GET TRACKING\n", "ON\n");
        let id = first_id();
        t.expect("INSTCMD su700 load.off\n", &format!("OK TRACKING {id}\n"));
        assert_eq!(t.did, [Did::Cmd(0, "load.off", None, Some(id))]);
        t.expect(&format!("GET TRACKING {id}\n"), "PENDING\n");
        t.fake.tracked[0].1 = TrackingStatus::Success;
        let lower = id.to_string().to_lowercase();
        t.expect(&format!("GET TRACKING {lower}\n"), "SUCCESS\n");
        t.fake.tracked[0].1 = TrackingStatus::Failed;
        t.expect(&format!("GET TRACKING {id}\n"), "ERR FAILED\n");
        t.expect(
            "GET TRACKING 00000000-0000-4000-8000-000000000000\n",
            "ERR UNKNOWN\n",
        );
        t.expect("GET TRACKING garbage\n", "ERR UNKNOWN\n");
        t.expect("SET TRACKING OFF\n", "OK\n");
        t.expect("GET TRACKING\n", "OFF\n");
        t.expect(
            &format!("GET TRACKING {id}\n"),
            "ERR FEATURE-NOT-CONFIGURED\n",
        );
        t.expect("INSTCMD su700 load.off\n", "OK\n");
    }

    #[test]
    fn instcmd_value_only_as_third_and_last_argument() {
        let mut t = T::new();
        t.login("root", "rootpw");
        t.expect("INSTCMD su700 load.off.delay 30\n", "OK\n");
        t.expect("INSTCMD su700 load.off.delay \"30\"\n", "OK\n");
        t.expect("INSTCMD su700 load.off.delay 30 40\n", "OK\n");
        let v = |s: Option<&str>| Did::Cmd(0, "load.off.delay", s.map(Into::into), None);
        assert_eq!(t.did, [v(Some("30")), v(Some("30")), v(None)]);
    }

    // upsrw (section 10).

    session!(upsrw_list_mode, [
        "LIST RW su700\n" => "BEGIN LIST RW su700\nRW su700 battery.charge.low \"10\"\n\
    RW su700 battery.runtime.low \"120\"\nRW su700 input.sensitivity \"medium\"\nRW su700 ups.broken \"x\"\n\
    RW su700 ups.delay.shutdown \"20\"\nRW su700 ups.id \"rack1\"\nEND LIST RW su700\n",
        "GET DESC su700 battery.charge.low\n" =>
            "DESC su700 battery.charge.low \"Charge below which the UPS reports low battery (percent)\"\n",
        "GET TYPE su700 battery.charge.low\n" => "TYPE su700 battery.charge.low RW STRING:10\n",
        "GET VAR su700 battery.charge.low\n" => "VAR su700 battery.charge.low \"10\"\n",
        "GET TYPE su700 input.sensitivity\n" => "TYPE su700 input.sensitivity RW ENUM NUMBER\n",
        "LIST ENUM su700 input.sensitivity\n" => "BEGIN LIST ENUM su700 input.sensitivity\n\
    ENUM su700 input.sensitivity \"high\"\nENUM su700 input.sensitivity \"medium\"\n\
    ENUM su700 input.sensitivity \"low\"\nEND LIST ENUM su700 input.sensitivity\n",
        "GET TYPE su700 battery.runtime.low\n" => "TYPE su700 battery.runtime.low RW RANGE NUMBER\n",
        "LIST RANGE su700 battery.runtime.low\n" => "BEGIN LIST RANGE su700 battery.runtime.low\n\
    RANGE su700 battery.runtime.low \"60\" \"300\"\nRANGE su700 battery.runtime.low \"600\" \"900\"\n\
    END LIST RANGE su700 battery.runtime.low\n",
        "GET TYPE su700 battery.charge\n" => "TYPE su700 battery.charge NUMBER\n",
        "GET TYPE su700 ups.mfr\n" => "TYPE su700 ups.mfr STRING:32\n",
        "GET TYPE su700 ups.status\n" => "TYPE su700 ups.status NUMBER\n",
        "LIST ENUM su700 battery.charge\n" => "BEGIN LIST ENUM su700 battery.charge\nEND LIST ENUM su700 battery.charge\n",
        "LIST RANGE su700 ups.id\n" => "BEGIN LIST RANGE su700 ups.id\nEND LIST RANGE su700 ups.id\n",
    ]);

    #[test]
    fn upsrw_sets_a_variable() {
        let mut t = T::new();
        t.expect("USERNAME admin\n", "OK\n");
        t.expect("PASSWORD adminpw\n", "OK\n");
        t.expect("SET VAR su700 battery.charge.low \"20\"\n", "OK\n");
        t.expect("SET VAR su700 ups.id \"a\\\"b \\\\c\"\n", "OK\n");
        t.expect("SET TRACKING ON\n", "OK\n");
        let id = first_id();
        t.expect(
            "SET VAR su700 Battery.Runtime.Low \"600\"\n",
            &format!("OK TRACKING {id}\n"),
        );
        t.expect(&format!("GET TRACKING {id}\n"), "PENDING\n");
        t.expect("LOGOUT\n", "OK Goodbye\n");
        let set = |var: &str, value: &str, id| Did::Set(0, var.into(), value.into(), id);
        assert_eq!(
            t.did,
            [
                set("battery.charge.low", "20", None),
                set("ups.id", "a\"b \\c", None),
                set("battery.runtime.low", "600", Some(id)),
                Did::Close
            ]
        );
    }

    // PyNUT, nut2 and others (section 10).

    #[test]
    fn pynut_session() {
        let mut t = T::new();
        t.expect("VER\n", &ver_line());
        t.expect("PROTVER\n", "1.3\n");
        t.expect("NETVER\n", "1.3\n");
        t.expect(
            "HELP\n",
            "Commands: HELP VER PROTVER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS\n",
        );
        t.expect("USERNAME py\n", "OK\n");
        // An unquoted password with a space is two words; PyNUT retries quoted.
        t.expect("PASSWORD my pass\n", "ERR INVALID-ARGUMENT\n");
        t.expect("PASSWORD \"my pass\"\n", "OK\n");
        t.expect("GET UPSDESC su700\n", "UPSDESC su700 \"Development box\"\n");
        t.expect("GET UPSDESC stale\n", "UPSDESC stale \"Unavailable\"\n");
        t.expect(
            "GET UPSDESC gone\n",
            "UPSDESC gone \"Unplugged \\\"spare\\\"\"\n",
        );
        t.expect("SET VAR su700 ups.delay.shutdown 30\n", "OK\n");
        t.expect("LOGIN su700\n", "ERR ACCESS-DENIED\n");
        t.expect("LIST CLIENTS su700\n", "ERR INVALID-ARGUMENT\n");
    }

    #[test]
    fn server_variables_need_no_ups() {
        let mut t = T::new();
        let info = ver_line();
        let info = info.trim_end();
        t.expect(
            "GET VAR nosuch server.info\n",
            &format!("VAR nosuch server.info \"{info}\"\n"),
        );
        t.expect(
            "GET VAR gone SERVER.INFO\n",
            &format!("VAR gone server.info \"{info}\"\n"),
        );
        t.expect(
            "GET VAR stale server.version\n",
            &format!(
                "VAR stale server.version \"hidupsd-{}\"\n",
                env!("CARGO_PKG_VERSION")
            ),
        );
        t.expect("GET VAR su700 server.nothing\n", "ERR VAR-NOT-SUPPORTED\n");
        t.expect("LIST VAR su700\n", LIST_VAR);
    }

    // The credentials gate and the rights.

    session!(gate_comes_before_argument_checks, [
        "LOGIN su700\n" => "ERR USERNAME-REQUIRED\n",
        "LOGIN\n" => "ERR USERNAME-REQUIRED\n",
        "PRIMARY su700\n" => "ERR USERNAME-REQUIRED\n",
        "MASTER\n" => "ERR USERNAME-REQUIRED\n",
        "FSD su700\n" => "ERR USERNAME-REQUIRED\n",
        "SET FOO\n" => "ERR USERNAME-REQUIRED\n",
        "SET TRACKING ON\n" => "ERR USERNAME-REQUIRED\n",
        "INSTCMD\n" => "ERR USERNAME-REQUIRED\n",
        "PASSWORD secret\n" => "OK\n",
        "LOGIN su700\n" => "ERR USERNAME-REQUIRED\n",
        "USERNAME nobody\n" => "OK\n",
        "LOGIN su700\n" => "ERR ACCESS-DENIED\n",
        "SET TRACKING ON\n" => "OK\n",
    ]);

    session!(password_required_after_username, [
        "USERNAME monuser\n" => "OK\n",
        "LOGIN su700\n" => "ERR PASSWORD-REQUIRED\n",
        "LOGIN\n" => "ERR PASSWORD-REQUIRED\n",
        "INSTCMD su700 load.off\n" => "ERR PASSWORD-REQUIRED\n",
        "PASSWORD secret\n" => "OK\n",
        "LOGIN\n" => "ERR INVALID-ARGUMENT\n",
        "LOGIN su700 stale\n" => "ERR INVALID-ARGUMENT\n",
        "PRIMARY\n" => "ERR INVALID-ARGUMENT\n",
        "FSD a b\n" => "ERR INVALID-ARGUMENT\n",
        "SET\n" => "ERR INVALID-ARGUMENT\n",
        "SET FOO bar\n" => "ERR INVALID-ARGUMENT\n",
        "SET VAR su700 ups.id\n" => "ERR INVALID-ARGUMENT\n",
        "SET TRACKING MAYBE\n" => "ERR INVALID-ARGUMENT\n",
        "INSTCMD su700\n" => "ERR INVALID-ARGUMENT\n",
    ]);

    session!(username_and_password_once_each, [
        "USERNAME\n" => "ERR INVALID-ARGUMENT\n",
        "USERNAME a b\n" => "ERR INVALID-ARGUMENT\n",
        "USERNAME \"\"\n" => "OK\n",
        "USERNAME monuser\n" => "ERR ALREADY-SET-USERNAME\n",
        "PASSWORD\n" => "ERR INVALID-ARGUMENT\n",
        "PASSWORD a=b\n" => "ERR INVALID-ARGUMENT\n",
        "PASSWORD x\n" => "OK\n",
        "PASSWORD secret\n" => "ERR ALREADY-SET-PASSWORD\n",
        "LOGIN su700\n" => "ERR ACCESS-DENIED\n",
    ]);

    session!(login_checks_in_order, login("monuser", "secret"), [
        "LOGIN nosuch\n" => "ERR UNKNOWN-UPS\n",
        "LOGIN stale\n" => "OK\n",
        "LOGIN su700\n" => "ERR ALREADY-LOGGED-IN\n",
        "LOGIN nosuch\n" => "ERR ALREADY-LOGGED-IN\n",
        "LOGIN\n" => "ERR INVALID-ARGUMENT\n",
        "PRIMARY gone\n" => "OK PRIMARY-GRANTED\n",
        "FSD gone\n" => "OK FSD-SET\n",
        "PRIMARY nosuch\n" => "ERR UNKNOWN-UPS\n",
        "FSD nosuch\n" => "ERR UNKNOWN-UPS\n",
    ]);

    session!(wrong_password_is_denied_everywhere, login("monuser", "Secret"), [
        "LOGIN su700\n" => "ERR ACCESS-DENIED\n",
        "PRIMARY su700\n" => "ERR ACCESS-DENIED\n",
        "MASTER su700\n" => "ERR ACCESS-DENIED\n",
        "FSD su700\n" => "ERR ACCESS-DENIED\n",
        "PRIMARY nosuch\n" => "ERR UNKNOWN-UPS\n",
    ]);

    session!(fsd_by_action, login("admin", "adminpw"), [
        "FSD su700\n" => "OK FSD-SET\n",
        "LOGIN su700\n" => "ERR ACCESS-DENIED\n",
        "PRIMARY su700\n" => "ERR ACCESS-DENIED\n",
        "GET VAR su700 ups.status\n" => "VAR su700 ups.status \"FSD OL\"\n",
    ]);

    #[test]
    fn overlong_credentials_never_match() {
        let mut t = T::new();
        let long = "u".repeat(200);
        t.expect(&format!("USERNAME {long}\n"), "OK\n");
        t.expect("PASSWORD p\n", "OK\n");
        t.expect(&format!("USERNAME {long}\n"), "ERR ALREADY-SET-USERNAME\n");
        t.expect("LOGIN su700\n", "ERR ACCESS-DENIED\n");
    }

    // Unknown UPS and availability, for every command that names a UPS.

    const READS: [&str; 11] = [
        "GET NUMLOGINS {}",
        "GET VAR {} ups.status",
        "GET TYPE {} ups.status",
        "GET DESC {} ups.status",
        "GET CMDDESC {} load.off",
        "LIST VAR {}",
        "LIST RW {}",
        "LIST CMD {}",
        "LIST ENUM {} ups.status",
        "LIST RANGE {} ups.status",
        "GET UPSDESC {}",
    ];

    #[test]
    fn unknown_ups_everywhere() {
        let mut t = T::new();
        for r in READS.iter().chain(&["LIST CLIENT {}"]) {
            t.expect(
                &format!("{}\n", r.replace("{}", "nosuch")),
                "ERR UNKNOWN-UPS\n",
            );
        }
        t.login("root", "rootpw");
        for r in [
            "SET VAR {} ups.id x",
            "INSTCMD {} load.off",
            "FSD {}",
            "PRIMARY {}",
            "LOGIN {}",
        ] {
            t.expect(
                &format!("{}\n", r.replace("{}", "nosuch")),
                "ERR UNKNOWN-UPS\n",
            );
        }
    }

    #[test]
    fn stale_and_disconnected_data() {
        let mut t = T::new();
        // All reads but UPSDESC check availability.
        for r in &READS[..10] {
            t.expect(
                &format!("{}\n", r.replace("{}", "stale")),
                "ERR DATA-STALE\n",
            );
            t.expect(
                &format!("{}\n", r.replace("{}", "gone")),
                "ERR DRIVER-NOT-CONNECTED\n",
            );
        }
        t.login("monuser", "secret");
        // Availability comes before rights in SET and INSTCMD.
        t.expect("SET VAR stale ups.id x\n", "ERR DATA-STALE\n");
        t.expect("INSTCMD gone load.off\n", "ERR DRIVER-NOT-CONNECTED\n");
        t.expect("LOGIN gone\n", "OK\n");
        t.expect("GET NUMLOGINS gone\n", "ERR DRIVER-NOT-CONNECTED\n");
    }

    session!(variable_not_supported, [
        "GET VAR su700 no.var\n" => "ERR VAR-NOT-SUPPORTED\n",
        "GET TYPE su700 no.var\n" => "ERR VAR-NOT-SUPPORTED\n",
        "LIST ENUM su700 no.var\n" => "ERR VAR-NOT-SUPPORTED\n",
        "LIST RANGE su700 no.var\n" => "ERR VAR-NOT-SUPPORTED\n",
        // DESC does not check that the variable exists.
        "GET DESC su700 no.var\n" => "DESC su700 no.var \"Description unavailable\"\n",
        "GET DESC su700 outlet.2.status\n" => "DESC su700 outlet.2.status \"Whether the outlet is on or off\"\n",
    ]);

    // SET VAR: access before support, then the value checks.

    session!(set_denied_before_unsupported, login("monuser", "secret"), [
        "SET VAR su700 no.var 1\n" => "ERR ACCESS-DENIED\n",
        "SET VAR su700 ups.id x\n" => "ERR ACCESS-DENIED\n",
        "SET TRACKING ON\n" => "OK\n",
    ]);

    session!(set_value_checks, login("admin", "adminpw"), [
        "SET VAR su700 no.var 1\n" => "ERR VAR-NOT-SUPPORTED\n",
        "SET VAR su700 ups.status OB\n" => "ERR READONLY\n",
        "SET VAR su700 ups.id 123456789\n" => "ERR TOO-LONG\n",
        "SET VAR su700 ups.id 12345678\n" => "OK\n",
        "SET VAR su700 ups.broken y\n" => "ERR SET-FAILED\n",
        "SET VAR su700 input.sensitivity HIGH\n" => "ERR INVALID-VALUE\n",
        "SET VAR su700 input.sensitivity high\n" => "OK\n",
        "SET VAR su700 battery.runtime.low 450\n" => "ERR INVALID-VALUE\n",
        "SET VAR su700 battery.runtime.low abc\n" => "ERR INVALID-VALUE\n",
        "SET VAR su700 battery.runtime.low 300x\n" => "OK\n",
        "SET VAR su700 battery.runtime.low \" -60\"\n" => "ERR INVALID-VALUE\n",
        "SET VAR su700 battery.runtime.low 900\n" => "OK\n",
        "SET VAR su700 battery.charge.low \"\"\n" => "OK\n",
    ]);

    // INSTCMD: unsupported before access.

    session!(instcmd_unsupported_before_denied, login("monuser", "secret"), [
        "INSTCMD su700 no.cmd\n" => "ERR CMD-NOT-SUPPORTED\n",
        "INSTCMD su700 load.off\n" => "ERR ACCESS-DENIED\n",
    ]);

    session!(instcmd_by_list, login("admin", "adminpw"), [
        "INSTCMD su700 load.on\n" => "ERR ACCESS-DENIED\n",
        "INSTCMD su700 Load.Off\n" => "OK\n",
        "INSTCMD stale load.off\n" => "ERR DATA-STALE\n",
    ]);

    // Lines that are not requests.

    session!(empty_and_unknown_lines, [
        "\n" => "ERR UNKNOWN-COMMAND\n",
        "   \t\n" => "ERR UNKNOWN-COMMAND\n",
        "# just a comment\n" => "ERR UNKNOWN-COMMAND\n",
        "FOO\n" => "ERR UNKNOWN-COMMAND\n",
        "ATTACH su700\n" => "ERR UNKNOWN-COMMAND\n",
        "DETACH su700\n" => "ERR UNKNOWN-COMMAND\n",
        "NUMATTACH su700\n" => "ERR UNKNOWN-COMMAND\n",
        "REQ su700 ups.status\n" => "ERR UNKNOWN-COMMAND\n",
        "GET\n" => "ERR INVALID-ARGUMENT\n",
        "GET FOO su700 x\n" => "ERR INVALID-ARGUMENT\n",
        "GET VAR su700\n" => "ERR INVALID-ARGUMENT\n",
        "LIST\n" => "ERR INVALID-ARGUMENT\n",
        "LIST VAR\n" => "ERR INVALID-ARGUMENT\n",
        "LIST ENUM su700\n" => "ERR INVALID-ARGUMENT\n",
        "VER 1\n" => "ERR INVALID-ARGUMENT\n",
        "NETVER x\n" => "ERR INVALID-ARGUMENT\n",
        "HELP x\n" => "ERR INVALID-ARGUMENT\n",
        "LOGOUT x\n" => "ERR INVALID-ARGUMENT\n",
        "STARTTLS x y\n" => "ERR FEATURE-NOT-CONFIGURED\n",
    ]);

    session!(parse_error_gets_no_reply, [
        "SET VAR su700 ups.id \"a#b\"\n" => "",
        "GET VAR su700 ups.status\n" => "VAR su700 ups.status \"OL\"\n",
    ]);

    session!(lines_upsd_would_continue_are_refused, [
        "GET VAR su700 \"ups.status\n" => "ERR INVALID-ARGUMENT\n",
        "GET VAR su700 ups.status\\\n" => "ERR INVALID-ARGUMENT\n",
        "GET VAR su700 ups.status\n" => "VAR su700 ups.status \"OL\"\n",
    ]);

    session!(pipelined_and_crlf_lines, [
        "VER\r\nNETVER\nGET VAR su700 ups.status\r\nGET VAR su700 # no var\n" =>
            &(ver_line() + "1.3\nVAR su700 ups.status \"OL\"\nERR INVALID-ARGUMENT\n"),
        "get var su700 \"ups.status\" # trailing comment\n" => "VAR su700 ups.status \"OL\"\n",
    ]);

    #[test]
    fn too_long_echo_is_refused() {
        let mut t = T::new();
        let var = "x".repeat(500);
        t.expect(&format!("GET DESC su700 {var}\n"), "ERR INVALID-ARGUMENT\n");
        let var = "x".repeat(100);
        t.expect(
            &format!("GET DESC su700 {var}\n"),
            &format!("DESC su700 {var} \"Description unavailable\"\n"),
        );
        let mut scratch = [0u8; 8];
        let mut buf = [0u8; 64];
        let mut out = Reply::new(&mut buf);
        let env = RequestEnv {
            upses: &t.fake,
            users: &t.users,
            now: 0,
        };
        t.s.lex_error(LexError::LineTooLong, 0, &mut out).unwrap();
        assert_eq!(out.as_bytes(), b"ERR INVALID-ARGUMENT\n");
        let words = ["w"; 40].join(" ");
        out.clear();
        t.s.handle_line(words.as_bytes(), &mut scratch, &env, &mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), b"ERR INVALID-ARGUMENT\n");
    }

    #[test]
    fn a_full_buffer_is_an_error_and_changes_nothing() {
        let mut t = T::new();
        let env = RequestEnv {
            upses: &t.fake,
            users: &t.users,
            now: 0,
        };
        let mut scratch = [0u8; 64];
        let mut buf = [0u8; LIST_VAR.len()];
        let mut out = Reply::new(&mut buf);
        assert_eq!(
            t.s.handle_line(b"LIST VAR su700", &mut scratch, &env, &mut out),
            Ok(None)
        );
        assert_eq!(out.as_bytes(), LIST_VAR.as_bytes());
        let mut buf = [0u8; LIST_VAR.len() - 1];
        let mut out = Reply::new(&mut buf);
        assert_eq!(
            t.s.handle_line(b"LIST VAR su700", &mut scratch, &env, &mut out),
            Err(Overflow::Full)
        );
        assert!(out.is_empty());
        let mut buf = [0u8; 2];
        let mut out = Reply::new(&mut buf);
        assert_eq!(
            t.s.handle_line(b"USERNAME monuser", &mut scratch, &env, &mut out),
            Err(Overflow::Full)
        );
        assert_eq!(t.s.username(), None);
        let mut big = [0u8; 16];
        let mut out = Reply::new(&mut big);
        t.s.handle_line(b"USERNAME monuser", &mut scratch, &env, &mut out)
            .unwrap();
        assert_eq!(
            (out.as_bytes(), t.s.username()),
            (&b"OK\n"[..], Some("monuser"))
        );
    }

    #[test]
    fn idle_deadline_follows_complete_lines() {
        let mut t = T::new();
        t.s = Session::new(1_000, SEED);
        assert_eq!(t.s.idle_deadline(), 61_000);
        assert!(!t.s.is_idle(61_000));
        assert!(t.s.is_idle(61_001));
        t.now = 50_000;
        t.expect("\n", "ERR UNKNOWN-COMMAND\n");
        assert_eq!(t.s.idle_deadline(), 110_000);
        // upsd does not count a line with a parse error.
        t.now = 70_000;
        t.expect("GET VAR u \"#\"\n", "");
        assert_eq!(t.s.idle_deadline(), 110_000);
        t.expect("GET VAR u \"x\n", "ERR INVALID-ARGUMENT\n");
        assert_eq!(t.s.idle_deadline(), 130_000);
        // IDLE_TIMEOUT in upsd.conf changes the 60 s.
        let s = Session::new(1_000, SEED).with_idle_timeout(300_000);
        assert_eq!(s.idle_deadline(), 301_000);
    }

    #[test]
    fn actions_carry_failure_codes_and_tracking() {
        let id = first_id();
        let set = Action::SetVar {
            ups: 0,
            var: 0,
            value: "1",
            tracking: Some(id),
        };
        let cmd = Action::InstCmd {
            ups: 0,
            cmd: "load.off",
            value: None,
            tracking: None,
        };
        assert_eq!(set.failure(), Some(ErrCode::SetFailed));
        assert_eq!(cmd.failure(), Some(ErrCode::InstcmdFailed));
        assert_eq!(Action::Fsd { ups: 0 }.failure(), None);
        assert_eq!((set.tracking(), cmd.tracking()), (Some(id), None));
    }

    #[test]
    fn debug_output_hides_credentials() {
        let mut t = T::new();
        t.login("monuser", "secret");
        let dbg = format!("{:?}", t.s);
        assert!(!dbg.contains("secret") && !dbg.contains("monuser"), "{dbg}");
        assert_eq!(t.s.username(), Some("monuser"));
    }

    #[test]
    fn wrong_credentials_are_reported_for_the_rate_limiter() {
        // A known user lacking the right: refused, not a wrong credential.
        let mut t = T::new();
        t.login("upsslave", "pw");
        assert_eq!(t.send(b"FSD su700\n"), "ERR ACCESS-DENIED\n");
        assert!(!t.s.take_auth_failure());
        // Unknown UPS: the credentials are never looked at.
        let mut t = T::new();
        t.send(b"USERNAME monuser\nPASSWORD wrong\n");
        assert_eq!(t.send(b"LOGIN nosuch\n"), "ERR UNKNOWN-UPS\n");
        assert!(!t.s.take_auth_failure());
        // Wrong password, unknown user, overlong password: each check
        // counts, and the flag is taken once.
        for (user, pass) in [("monuser", "wrong"), ("nobody", "secret")] {
            let mut t = T::new();
            t.send(format!("USERNAME {user}\nPASSWORD {pass}\n").as_bytes());
            for req in [
                "LOGIN su700\n",
                "PRIMARY su700\n",
                "FSD su700\n",
                "SET VAR su700 ups.id x\n",
                "INSTCMD su700 load.off\n",
            ] {
                assert_eq!(t.send(req.as_bytes()), "ERR ACCESS-DENIED\n", "{req}");
                assert!(t.s.take_auth_failure(), "{user} {req}");
                assert!(!t.s.take_auth_failure());
            }
            assert!(t.did.is_empty());
        }
        let mut t = T::new();
        t.send(format!("USERNAME monuser\nPASSWORD {}\n", "p".repeat(300)).as_bytes());
        assert_eq!(t.send(b"LOGIN su700\n"), "ERR ACCESS-DENIED\n");
        assert!(t.s.take_auth_failure());
    }

    #[test]
    fn a_limited_peer_is_refused_even_with_the_right_password() {
        let mut t = T::new();
        t.send(b"USERNAME monuser\nPASSWORD secret\n");
        t.s.set_auth_limited(true);
        for req in ["LOGIN su700\n", "PRIMARY su700\n", "FSD su700\n"] {
            assert_eq!(t.send(req.as_bytes()), "ERR ACCESS-DENIED\n", "{req}");
            // Not compared, so not counted again.
            assert!(!t.s.take_auth_failure());
        }
        // Reading needs no rights and is not limited.
        assert_eq!(
            t.send(b"GET VAR su700 ups.status\n"),
            "VAR su700 ups.status \"OL\"\n"
        );
        t.s.set_auth_limited(false);
        assert_eq!(t.send(b"LOGIN su700\n"), "OK\n");
        assert_eq!(t.did, vec![Did::Login(0)]);
    }

    #[test]
    fn atoi_as_c() {
        for (s, n) in [
            ("12", 12),
            ("  -7x", -7),
            ("+3", 3),
            ("", 0),
            ("x1", 0),
            ("99999999999999999999999", i64::MAX),
        ] {
            assert_eq!(atoi(s), n, "{s:?}");
        }
    }
}
