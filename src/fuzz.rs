//! Entry points shared by the cargo-fuzz targets (`tests/fuzz`) and the
//! corpus replay in the ordinary test suite. Each must return normally on
//! any input: a panic is a bug.

use crate::hid::{report, Descriptor, ReportType};
use crate::recording::{Recording, Replay};
use crate::ups::engine::Ups;
use crate::ups::options::{Identity, Options};

/// Parse arbitrary bytes as a report descriptor and read every field of
/// zeroed and 0xFF-filled reports.
pub fn descriptor(data: &[u8]) {
    let Ok(d) = Descriptor::parse(data) else {
        return;
    };
    let mut buf = [0u8; 4097];
    for fill in [0x00, 0xFF] {
        buf.fill(fill);
        for f in d.fields() {
            let n = d.report_len(f.report_id, f.kind) + 1;
            if let Some(l) = report::get(&buf[..n], f) {
                let v = report::value(f, l);
                let _ = report::to_logical(f, v);
            }
        }
    }
    let _ = d.is_power_device();
    let _ = d.report_ids(ReportType::Feature).len();
}

/// Input layout: VID (2 bytes LE), PID (2), descriptor length (2), the
/// descriptor, then reports as (kind byte: even = feature, odd = input;
/// length byte; bytes). Binds the device through the subdriver its ids
/// select, runs the start-up walks, a full update and every input report.
pub fn device(data: &[u8]) {
    if data.len() < 6 {
        return;
    }
    let vid = u16::from_le_bytes([data[0], data[1]]);
    let pid = u16::from_le_bytes([data[2], data[3]]);
    let dlen = u16::from_le_bytes([data[4], data[5]]) as usize;
    let Some(desc) = data.get(6..6 + dlen) else {
        return;
    };
    let mut rec = Recording {
        ident: Identity {
            vid,
            pid,
            ..Identity::default()
        },
        descriptor: desc.to_vec(),
        ..Recording::default()
    };
    let mut rest = &data[6 + dlen..];
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], rest[1] as usize);
        let Some(bytes) = rest.get(2..2 + len) else {
            break;
        };
        if !bytes.is_empty() {
            if kind & 1 == 0 {
                rec.features.push(bytes.to_vec());
            } else {
                rec.inputs.push(bytes.to_vec());
            }
        }
        rest = &rest[2 + len..];
    }
    let Ok(mut ups) = Ups::new(&rec.descriptor, rec.ident.clone(), Options::default()) else {
        return;
    };
    let mut io = Replay::new(&rec);
    ups.init(&mut io, 0);
    let t = ups.next_full() + 1;
    ups.update(&mut io, t);
    for r in &rec.inputs {
        ups.on_input(r, &mut io, t);
    }
    ups.update(&mut io, t + 1);
}

/// Serialise a recording into [`device`]'s input layout (corpus seeds).
pub fn encode_device(rec: &Recording) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&rec.ident.vid.to_le_bytes());
    v.extend_from_slice(&rec.ident.pid.to_le_bytes());
    v.extend_from_slice(&(rec.descriptor.len() as u16).to_le_bytes());
    v.extend_from_slice(&rec.descriptor);
    for (kind, reports) in [(0u8, &rec.features), (1u8, &rec.inputs)] {
        for r in reports {
            let n = r.len().min(255);
            v.push(kind);
            v.push(n as u8);
            v.extend_from_slice(&r[..n]);
        }
    }
    v
}

// ---------------------------------------------------------------------
// The network protocol: lines through the tokenizer, the request parser
// and a session's dispatch, against a fixed set of UPSes and users.

use crate::proto::{
    Action, Data, Live, Overflow, Reply, RequestEnv, Session, TrackingId, TrackingStatus, UpsView,
    Upses, VarRange, MAX_LINE, MAX_REPLY_LINE,
};
use crate::proto::{InstCmds, Right, Rights, Upsmon, User, Users};
use crate::store::{EnumRows, Store, MAX_VARS};
use crate::ups::table::{st, Doc, Lookup, Str};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

static FUZZ_SENSITIVITY: Lookup = Lookup {
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

enum FuzzState {
    Ready,
    Stale,
    Gone,
}

struct FuzzUps {
    name: &'static str,
    desc: Option<&'static str>,
    store: Store,
    cmds: &'static [&'static str],
    ranges: &'static [VarRange<'static>],
    state: FuzzState,
    numlogins: u32,
    fsd: bool,
    clients: Vec<IpAddr>,
}

struct FuzzServer {
    upses: Vec<FuzzUps>,
    tracked: Vec<(TrackingId, TrackingStatus)>,
}

impl Upses for FuzzServer {
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
                FuzzState::Ready => Data::Ready(Live {
                    store: &u.store,
                    commands: u.cmds,
                    ranges: u.ranges,
                }),
                FuzzState::Stale => Data::Stale,
                FuzzState::Gone => Data::DriverNotConnected,
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

fn fuzz_server() -> FuzzServer {
    let mut s = Store::new();
    let vars: &[(&str, &str, u8, u8)] = &[
        ("ups.status", "OL CHRG", 0, 0),
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
        ("ups.alarm", "Replace battery!", 0, 0),
        ("UPS.Beeper.Status", "enabled", 0, 0),
    ];
    for &(n, v, flags, len) in vars {
        let _ = s.set(n, v);
        let enums = (n == "input.sensitivity").then_some(&FUZZ_SENSITIVITY as EnumRows);
        s.set_meta(n, flags, len, enums);
    }
    // A full store of long names and values: LIST VAR overflows a reply
    // buffer smaller than the daemon's.
    let mut full = Store::new();
    let mut name = String::new();
    let mut value = String::new();
    for i in 0..MAX_VARS {
        use std::fmt::Write;
        name.clear();
        value.clear();
        let _ = write!(name, "x.{i:03}.{}", "n".repeat(100));
        let _ = write!(value, "{i} {}", "\"v#\\".repeat(30));
        let _ = full.set(&name, &value);
        full.set_meta(&name, st::RW | st::STRING, 128, None);
    }
    static RANGES: [VarRange<'static>; 2] = [
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
    ];
    let ups = |name, desc, store, cmds, ranges: &'static [VarRange<'static>], state| FuzzUps {
        name,
        desc,
        store,
        cmds,
        ranges,
        state,
        numlogins: 0,
        fsd: false,
        clients: Vec::new(),
    };
    FuzzServer {
        upses: vec![
            ups(
                "su700",
                Some("Development box"),
                s,
                &[
                    "load.off",
                    "test.battery.start.quick",
                    "beeper.mute",
                    "load.on",
                    "Beeper.Disable",
                    "shutdown.return",
                    "load.off.delay",
                ],
                &RANGES,
                FuzzState::Ready,
            ),
            ups("big", None, full, &[], &[], FuzzState::Ready),
            ups("stale", None, Store::new(), &[], &[], FuzzState::Stale),
            ups(
                "gone",
                Some("Unplugged \"spare\""),
                Store::new(),
                &[],
                &[],
                FuzzState::Gone,
            ),
        ],
        tracked: Vec::new(),
    }
}

fn fuzz_users() -> Users {
    let user = |name: &str, password: &str| User {
        name: name.into(),
        password: password.into(),
        ..User::default()
    };
    let set = Rights {
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
                actions: Rights {
                    login: true,
                    primary: true,
                    ..set
                },
                instcmds: InstCmds::All,
                ..user("root", "rootpw")
            },
            User {
                actions: set,
                ..user("py", "my pass")
            },
            User {
                upsmon: Upsmon::Primary,
                ..user(&"u".repeat(200), "p")
            },
        ],
    }
}

/// Every complete reply: nothing, or whole lines no longer than stock
/// clients read.
fn check_reply(reply: &[u8]) {
    if reply.is_empty() {
        return;
    }
    assert_eq!(reply.last(), Some(&b'\n'), "reply without a final LF");
    for line in reply[..reply.len() - 1].split(|&b| b == b'\n') {
        assert!(
            line.len() < MAX_REPLY_LINE,
            "reply line of {} bytes",
            line.len()
        );
    }
}

/// Split arbitrary bytes at LF (as the server does) and feed each line
/// to one [`Session`] with a server of four UPSes (ready, a full store,
/// stale, not connected) and six users, applying each action as the
/// daemon would (logins, FSD latch, pending tracking ids). A line longer
/// than the server's buffer is refused with `lex_error` as the daemon
/// does. Each line is first answered into a short buffer; on
/// [`Overflow::Full`] it is answered again into one the daemon's size.
/// Replies must be whole lines of at most 511 bytes. A line `#LIMIT`
/// toggles the login limit: while it is on, no privileged action may come
/// out and no credentials may be compared.
pub fn protocol(data: &[u8]) {
    let _ = protocol_replies(data);
}

/// [`protocol`], returning every reply in order (for the corpus test).
pub fn protocol_replies(data: &[u8]) -> Vec<u8> {
    thread_local! {
        // Built once per thread (a full store takes a while); the
        // mutable parts are reset for every input.
        static WORLD: std::cell::RefCell<Option<(FuzzServer, Users, Vec<u8>)>> =
            const { std::cell::RefCell::new(None) };
    }
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        let (server, users, big) = w.get_or_insert_with(|| {
            (
                fuzz_server(),
                fuzz_users(),
                vec![0u8; (MAX_VARS + 2) * MAX_REPLY_LINE],
            )
        });
        server.tracked.clear();
        for u in &mut server.upses {
            u.numlogins = 0;
            u.fsd = false;
            u.clients.clear();
        }
        run_session(data, server, users, big)
    })
}

fn run_session(data: &[u8], server: &mut FuzzServer, users: &Users, big: &mut [u8]) -> Vec<u8> {
    const SMALL: usize = 600;
    let mut transcript = Vec::new();
    let mut session = Session::new(0, 7).with_idle_timeout(5_000);
    let mut scratch = [0u8; MAX_LINE];
    let mut small = [0u8; SMALL];
    let mut now = 0u64;
    let mut limited = false;
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        // The last piece has no LF: the server would still be waiting.
        if lines.peek().is_none() {
            break;
        }
        now += 1000;
        // A comment line "#LIMIT" (still answered) toggles the server's
        // login limit for this peer, as the daemon sets it before a line.
        if line == b"#LIMIT" {
            limited = !limited;
        }
        session.set_auth_limited(limited);
        if line.len() > MAX_LINE {
            let mut out = Reply::new(&mut small);
            session
                .lex_error(crate::proto::LexError::LineTooLong, now, &mut out)
                .expect("an error fits any buffer");
            check_reply(out.as_bytes());
            transcript.extend_from_slice(out.as_bytes());
            continue;
        }
        let mut out = Reply::new(&mut small);
        let env = RequestEnv {
            upses: &*server,
            users,
            now,
        };
        let before = transcript.len();
        let action = match session.handle_line(line, &mut scratch, &env, &mut out) {
            Ok(a) => {
                check_reply(out.as_bytes());
                transcript.extend_from_slice(out.as_bytes());
                a.map(owned)
            }
            Err(Overflow::Full) => {
                let mut out = Reply::new(big);
                match session.handle_line(line, &mut scratch, &env, &mut out) {
                    Ok(a) => {
                        check_reply(out.as_bytes());
                        transcript.extend_from_slice(out.as_bytes());
                        a.map(owned)
                    }
                    Err(o) => panic!("reply does not fit the daemon's buffer: {o}"),
                }
            }
            Err(o) => panic!("handle_line: {o}"),
        };
        // Every line but upsd's parse error (`#` inside quotes, no reply
        // and, as in upsd, no refresh of the idle clock) is a sign of life.
        if transcript.len() > before {
            assert!(!session.is_idle(now));
        }
        let failed = session.take_auth_failure();
        if limited {
            // Refused unchecked: nothing privileged, nothing counted.
            assert!(!failed, "credentials compared while limited");
            assert!(
                !matches!(action, Some((Did::Login(_) | Did::Fsd(_) | Did::Other, _))),
                "a limited peer got a privileged action"
            );
        }
        if failed {
            assert!(action.is_none(), "an action despite wrong credentials");
        }
        let Some(action) = action else {
            continue;
        };
        if let Some(id) = action.1 {
            server.tracked.push((id, TrackingStatus::Pending));
        }
        match action.0 {
            Did::Close => break,
            Did::Login(i) => {
                let u = &mut server.upses[i];
                u.numlogins += 1;
                u.clients.insert(
                    0,
                    if u.numlogins % 2 == 0 {
                        IpAddr::V4(Ipv4Addr::LOCALHOST)
                    } else {
                        IpAddr::V6(Ipv6Addr::LOCALHOST)
                    },
                );
                assert_eq!(session.logged_in(), Some(i));
            }
            Did::Fsd(i) => server.upses[i].fsd = true,
            Did::Other => {}
        }
    }
    assert!(session.is_idle(now + 5_001));
    transcript
}

enum Did {
    Close,
    Login(usize),
    Fsd(usize),
    Other,
}

fn owned(a: Action<'_>) -> (Did, Option<TrackingId>) {
    let did = match a {
        Action::Close => Did::Close,
        Action::Login { ups } => Did::Login(ups),
        Action::Fsd { ups } => Did::Fsd(ups),
        Action::SetVar { .. } | Action::InstCmd { .. } => Did::Other,
    };
    (did, a.tracking())
}

// ---------------------------------------------------------------------
// Configuration files: each parser, then what the daemon reads of the
// result.

use crate::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
use std::path::Path;

/// `ups.conf`, then each section's engine options.
pub fn ups_conf(data: &[u8]) {
    let Ok(c) = ups_conf::parse(Path::new("ups.conf"), data) else {
        return;
    };
    for s in &c.ups {
        let _ = ups_conf::engine_options(s);
        assert!(c.get(&s.name).is_some());
    }
}

/// `upsd.conf`, then its listeners.
pub fn upsd_conf(data: &[u8]) {
    if let Ok(c) = upsd_conf::parse(Path::new("upsd.conf"), data) {
        assert!(!c.listeners().is_empty());
    }
}

/// `upsd.users`, then every right of every user.
pub fn upsd_users(data: &[u8]) {
    let Ok(u) = upsd_users::parse(Path::new("upsd.users"), data) else {
        return;
    };
    for user in &u.users {
        assert!(u.get(&user.name).is_some());
        for r in [Right::Login, Right::Primary, Right::Fsd, Right::Set] {
            let _ = user.has(r);
        }
        let _ = user.has(Right::InstCmd("load.off"));
    }
}

/// `upsmon.conf`, then every event's message and flags and the shell
/// command lines.
pub fn upsmon_conf(data: &[u8]) {
    let Ok(c) = upsmon_conf::parse(Path::new("upsmon.conf"), data) else {
        return;
    };
    assert!(!c.monitors.is_empty());
    for ev in upsmon_conf::Event::ALL {
        let _ = (c.message(ev), c.flags(ev));
    }
    let _ = c.total_power();
    for words in [&c.shutdowncmd, &c.notifycmd].into_iter().flatten() {
        let _ = upsmon_conf::shell_command(words);
    }
}
