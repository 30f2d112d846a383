//! Scenario tests for the shutdown monitor (`hidupsd::monitor`), one file
//! per case in `tests/scenarios/`, in the manner of keyd's `t/*.t`.
//!
//! A file is an `upsmon.conf` (read by the real parser), a line `---`,
//! then a timeline. Times are `0`, `1500ms`, `30s`, `2m` or `1h`.
//! Inputs:
//! ```text
//! t=30s ups1 OB DISCHRG          # a poll: ups.status of MONITOR ups1
//! t=31s ups1 ALARM OB | Overheat # ... and ups.alarm after '|'
//! t=40s commbad ups1             # a failed poll
//! t=45s commok ups1              # a good poll, status unchanged
//! t=50s logins ups1 2            # other clients logged in to ups1
//! t=60s userfsd | parentgone | suspend | resume | tick
//! t=70s timejump 20s
//! ```
//! Expected actions, in order (placed anywhere; sorted by time):
//! ```text
//! expect t=30s NOTIFY ONBATT ups1
//! expect t=120s SETFSD ups1
//! expect t=120s AWAIT_LOGOUTS until=135s
//! expect t=135s FINALDELAY until=140s
//! expect t=140s POWERDOWNFLAG
//! expect t=140s SHUTDOWN
//! end t=10m                      # keep the clock running until then
//! show messages                  # NOTIFY lines with "message" and flags
//! ```
//! Between inputs the runner calls `Tick` at every `poll_at` deadline,
//! as the daemon's loop does, up to the last time in the file. On a
//! mismatch it prints both lists and the first difference.

use hidupsd::config::upsmon_conf::{parse, NotifyFlags, UpsmonConf};
use hidupsd::monitor::{Action, Input, Monitor};
use std::path::{Path, PathBuf};

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios! {
    ol_ob_lb_shutdown,
    power_returns_before_lb,
    fsd_from_remote_primary,
    secondary_oblb_waits_hostsync,
    commbad_on_battery_deadtime,
    commbad_online_no_shutdown,
    minsupplies_1_of_2,
    minsupplies_2_of_2,
    hostsync_timeout_primary,
    replbatt_repeats,
    nocomm_repeats,
    status_events,
    off_duration,
    oblb_duration,
    notify_messages_and_flags,
    user_fsd_and_noparent,
    suspend_and_resume,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

#[test]
fn every_scenario_file_is_listed() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".txt").map(str::to_string))
        .collect();
    files.sort();
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    names.sort();
    assert_eq!(files, names, "tests/scenarios/*.txt and scenarios! differ");
}

fn parse_time(s: &str) -> u64 {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = num.parse().unwrap_or_else(|_| panic!("bad time {s:?}"));
    n * match unit {
        "" if n == 0 => 0,
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => panic!("bad time {s:?}: write 0, 1500ms, 30s, 2m or 1h"),
    }
}

fn show_time(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `t=<time>` at the start of `s`, and the rest.
fn at(s: &str) -> (u64, &str) {
    let s = s
        .strip_prefix("t=")
        .unwrap_or_else(|| panic!("expected t=<time> in {s:?}"));
    let (t, rest) = s.split_once(' ').unwrap_or((s, ""));
    (parse_time(t), rest.trim())
}

enum Step {
    Status(usize, String, Option<String>),
    CommOk(usize),
    CommBad(usize),
    Logins(usize, u32),
    UserFsd,
    ParentGone,
    Suspend,
    Resume,
    TimeJump(i64),
    Tick,
}

impl Step {
    fn input(&self) -> Input<'_> {
        match self {
            Step::Status(u, s, a) => Input::Status {
                ups: *u,
                status: s,
                alarm: a.as_deref(),
            },
            Step::CommOk(u) => Input::CommOk(*u),
            Step::CommBad(u) => Input::CommBad(*u),
            Step::Logins(u, n) => Input::OtherLogins(*u, *n),
            Step::UserFsd => Input::UserFsd,
            Step::ParentGone => Input::ParentGone,
            Step::Suspend => Input::Suspend,
            Step::Resume => Input::Resume,
            Step::TimeJump(ms) => Input::TimeJump { by_ms: *ms },
            Step::Tick => Input::Tick,
        }
    }
}

struct Scenario {
    conf: UpsmonConf,
    steps: Vec<(u64, Step)>,
    expected: Vec<(u64, String)>,
    end: u64,
    messages: bool,
}

fn ups_index(conf: &UpsmonConf, name: &str) -> usize {
    conf.monitors
        .iter()
        .position(|m| m.ups == name || m.system == name)
        .unwrap_or_else(|| panic!("no MONITOR for {name:?}"))
}

fn load(name: &str) -> Scenario {
    let path = dir().join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, timeline) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{}: no '---' line", path.display()));
    let conf =
        parse(Path::new("upsmon.conf"), head.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut s = Scenario {
        conf,
        steps: Vec::new(),
        expected: Vec::new(),
        end: 0,
        messages: false,
    };
    for line in timeline.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "show messages" {
            s.messages = true;
        } else if let Some(rest) = line.strip_prefix("end ") {
            s.end = s.end.max(at(rest).0);
        } else if let Some(rest) = line.strip_prefix("expect ") {
            let (t, what) = at(rest);
            // Normalise the times inside (until=2m -> until=120s).
            let what: Vec<String> = what
                .split(' ')
                .map(|w| match w.strip_prefix("until=") {
                    Some(u) => format!("until={}", show_time(parse_time(u))),
                    None => w.to_string(),
                })
                .collect();
            s.expected.push((t, what.join(" ")));
            s.end = s.end.max(t);
        } else {
            let (t, what) = at(line);
            if let Some((last, _)) = s.steps.last() {
                assert!(t >= *last, "{name}: inputs out of order at {line:?}");
            }
            s.end = s.end.max(t);
            let words: Vec<&str> = what.split_whitespace().collect();
            let ups = |i: usize| ups_index(&s.conf, words[i]);
            let step = match words[0] {
                "commbad" => Step::CommBad(ups(1)),
                "commok" => Step::CommOk(ups(1)),
                "logins" => Step::Logins(ups(1), words[2].parse().unwrap()),
                "userfsd" => Step::UserFsd,
                "parentgone" => Step::ParentGone,
                "suspend" => Step::Suspend,
                "resume" => Step::Resume,
                "timejump" => Step::TimeJump(parse_time(words[1]) as i64),
                "tick" => Step::Tick,
                _ => {
                    let rest = what[words[0].len()..].trim();
                    let (status, alarm) = match rest.split_once('|') {
                        Some((st, a)) => (st.trim(), Some(a.trim().to_string())),
                        None => (rest, None),
                    };
                    Step::Status(ups(0), status.to_string(), alarm)
                }
            };
            s.steps.push((t, step));
        }
    }
    // Actions come out in time order; expectations may be written anywhere.
    s.expected.sort_by_key(|(t, _)| *t);
    s
}

fn flags(f: NotifyFlags) -> String {
    let mut v = Vec::new();
    for (on, name) in [(f.syslog, "SYSLOG"), (f.wall, "WALL"), (f.exec, "EXEC")] {
        if on {
            v.push(name);
        }
    }
    v.join("+")
}

fn show(s: &Scenario, a: &Action) -> String {
    let ups = |i: usize| s.conf.monitors[i].ups.clone();
    match a {
        Action::Notify(n) => {
            let mut out = format!("NOTIFY {}", n.event.name());
            if let Some(i) = n.ups {
                out += &format!(" {}", ups(i));
            }
            if s.messages {
                out += &format!(" {:?} {}", n.message, flags(n.flags));
            }
            out
        }
        Action::SetFsd(i) => format!("SETFSD {}", ups(*i)),
        Action::AwaitLogouts { until_ms } => {
            format!("AWAIT_LOGOUTS until={}", show_time(*until_ms))
        }
        Action::FinalDelay { until_ms } => format!("FINALDELAY until={}", show_time(*until_ms)),
        Action::WritePowerdownFlag => "POWERDOWNFLAG".into(),
        Action::Shutdown => "SHUTDOWN".into(),
    }
}

/// Feed the timeline, ticking at every deadline in between.
fn play(s: &Scenario) -> Vec<String> {
    let mut m = Monitor::new(&s.conf);
    let mut got = Vec::new();
    let mut last: Option<u64> = None;
    let mut ticks = 0;
    let mut feed = |m: &mut Monitor, input: Input, t: u64| {
        for a in m.handle(input, t) {
            got.push(format!("t={} {}", show_time(t), show(s, &a)));
        }
    };
    for (t, step) in s
        .steps
        .iter()
        .map(|(t, st)| (*t, Some(st)))
        .chain([(s.end, None)])
    {
        while let Some(d) = m.poll_at().filter(|d| *d <= t) {
            assert!(
                last.map_or(true, |l| d > l),
                "poll_at() = {d} is not after the last call at {last:?}"
            );
            ticks += 1;
            assert!(ticks < 100_000, "poll_at() keeps asking");
            feed(&mut m, Input::Tick, d);
            last = Some(d);
        }
        if let Some(step) = step {
            feed(&mut m, step.input(), t);
            last = Some(t);
        }
    }
    got
}

fn run(name: &str) {
    let s = load(name);
    let expected: Vec<String> = s
        .expected
        .iter()
        .map(|(t, w)| format!("t={} {w}", show_time(*t)))
        .collect();
    let got = play(&s);
    if got != expected {
        let first = expected
            .iter()
            .zip(&got)
            .position(|(e, g)| e != g)
            .unwrap_or(expected.len().min(got.len()));
        panic!(
            "\n\n==================== scenario {name} ====================\n\
             expected:\n  {}\n\ngot:\n  {}\n\nfirst difference at action {}:\n  \
             expected: {}\n  got:      {}\n\n",
            expected.join("\n  "),
            got.join("\n  "),
            first + 1,
            expected.get(first).map_or("(nothing)", String::as_str),
            got.get(first).map_or("(nothing)", String::as_str),
        );
    }
}
