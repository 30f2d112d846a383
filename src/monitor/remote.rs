//! The client side of one remote `MONITOR ups@host` entry: the lines
//! upsmon sends to a NUT server and what their answers mean, as a pure
//! state machine.
//!
//! Read first: `docs/design/nut-protocol.md` §10 (what upsmon sends),
//! §12.1 and §12.2 (the poll) and §12.7 (FSD and the wait for
//! secondaries).
//!
//! Boundary: no sockets and no clock. The shell connects, hands every
//! received line to [`Conversation::line`], writes what the methods
//! append to its send buffer, and turns the [`Answer`]s into monitor
//! inputs. It also decides when to poll ([`Conversation::poll`]) and
//! when an unanswered request has waited too long (it then drops the
//! connection and starts a new [`Conversation`] at the next poll).
//!
//! Requests are pipelined: the login lines go out together, and each
//! answer is matched with the oldest request still unanswered, which is
//! how upsd (one reply per line, in order) and hidupsd answer. Only one
//! poll and one `GET NUMLOGINS` are outstanding at a time, so the queue
//! has a small fixed size; a full queue is an error, never a lost
//! request.

use crate::proto::lexer::{escape_into, tokenize};

/// Requests that can wait for an answer at once: the five login lines,
/// a status poll with its alarm, a NUMLOGINS and an FSD, and spare.
pub const MAX_PENDING: usize = 12;

/// A request sent, waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    Username,
    Password,
    Login,
    Primary,
    Master,
    Status,
    Alarm,
    NumLogins,
    Fsd,
}

/// What an answer meant, for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A poll succeeded: `ups.status`, and `ups.alarm` when the status
    /// has ALARM and the alarm could be read.
    Status {
        status: String,
        alarm: Option<String>,
    },
    /// A poll failed (`ERR DATA-STALE`, `ERR UNKNOWN-UPS`, ...; the
    /// error word), or its answer made no sense.
    PollFailed(String),
    /// The server refused a login line (`USERNAME`, `PASSWORD`, `LOGIN`,
    /// or both `PRIMARY` and `MASTER`): the request and the error word.
    /// Polling goes on, as with upsmon; the login does not count.
    Refused { request: &'static str, err: String },
    /// `GET NUMLOGINS`: logins other than this monitor's own (a failed
    /// query counts as 0, as upsmon does).
    OtherLogins(u32),
    /// The server accepted `FSD`.
    FsdSet,
    /// The server refused `FSD`: the error word.
    FsdRefused(String),
}

/// The send queue is full: the shell polled or asked faster than the
/// server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {MAX_PENDING} requests unanswered")
    }
}

/// One connection's conversation with the server of a `MONITOR` entry.
#[derive(Debug)]
pub struct Conversation {
    ups: String,
    primary: bool,
    pending: [Option<Req>; MAX_PENDING],
    head: usize,
    len: usize,
    /// `LOGIN` was accepted: NUMLOGINS counts this monitor.
    logged_in: bool,
    /// The status of a poll whose `ups.alarm` is still being read.
    held: Option<String>,
}

/// Append `word` to `out` as one protocol word: bare when it can be
/// (as upsmon sends names and passwords), else quoted and escaped.
fn push_word(out: &mut String, word: &str) {
    let bare = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'#'));
    if bare {
        out.push_str(word);
    } else {
        out.push('"');
        // A String sink cannot fail.
        let _ = escape_into(word, out);
        out.push('"');
    }
}

impl Conversation {
    /// A new connection is up: queue upsmon's login sequence (`USERNAME`,
    /// `PASSWORD`, `LOGIN`, and `PRIMARY` for a primary) into `out`.
    pub fn start(ups: &str, user: &str, password: &str, primary: bool, out: &mut String) -> Self {
        let mut c = Conversation {
            ups: ups.to_string(),
            primary,
            pending: [None; MAX_PENDING],
            head: 0,
            len: 0,
            logged_in: false,
            held: None,
        };
        // Fresh queue: these cannot overflow it.
        let _ = c.send(out, Req::Username, &["USERNAME", user]);
        let _ = c.send(out, Req::Password, &["PASSWORD", password]);
        let name = c.ups.clone();
        let _ = c.send(out, Req::Login, &["LOGIN", &name]);
        if primary {
            let _ = c.send(out, Req::Primary, &["PRIMARY", &name]);
        }
        c
    }

    /// Requests sent and not yet answered.
    pub fn unanswered(&self) -> usize {
        self.len
    }

    /// Whether a status poll is still unanswered (the shell then skips
    /// the next one instead of piling them up).
    pub fn polling(&self) -> bool {
        self.held.is_some() || self.waiting(Req::Status) || self.waiting(Req::Alarm)
    }

    /// Whether a `GET NUMLOGINS` is still unanswered.
    pub fn counting(&self) -> bool {
        self.waiting(Req::NumLogins)
    }

    /// Ask for `ups.status`.
    pub fn poll(&mut self, out: &mut String) -> Result<(), Full> {
        let name = self.ups.clone();
        self.send(out, Req::Status, &["GET", "VAR", &name, "ups.status"])
    }

    /// Ask how many clients are logged in to the UPS.
    pub fn count_logins(&mut self, out: &mut String) -> Result<(), Full> {
        let name = self.ups.clone();
        self.send(out, Req::NumLogins, &["GET", "NUMLOGINS", &name])
    }

    /// Ask the server to latch FSD on the UPS.
    pub fn fsd(&mut self, out: &mut String) -> Result<(), Full> {
        let name = self.ups.clone();
        self.send(out, Req::Fsd, &["FSD", &name])
    }

    fn waiting(&self, r: Req) -> bool {
        (0..self.len).any(|k| self.pending[(self.head + k) % MAX_PENDING] == Some(r))
    }

    fn send(&mut self, out: &mut String, r: Req, words: &[&str]) -> Result<(), Full> {
        if self.len == MAX_PENDING {
            return Err(Full);
        }
        for (k, w) in words.iter().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            push_word(out, w);
        }
        out.push('\n');
        self.pending[(self.head + self.len) % MAX_PENDING] = Some(r);
        self.len += 1;
        Ok(())
    }

    /// One line from the server (without its LF). Follow-up requests (the
    /// `MASTER` fallback, the alarm read) go into `out`. `None` when the
    /// line needs nothing from the shell; a line nobody asked for is
    /// ignored.
    pub fn line(&mut self, line: &[u8], out: &mut String) -> Option<Answer> {
        if self.len == 0 {
            return None;
        }
        let req = self.pending[self.head].take()?;
        self.head = (self.head + 1) % MAX_PENDING;
        self.len -= 1;
        let mut scratch = [0u8; 1024];
        let mut slots = [""; 8];
        let n = line.len().min(scratch.len());
        let words = match tokenize(&line[..n], &mut scratch[..n.max(1)], &mut slots) {
            Ok(t) => t.words,
            Err(_) => &[][..],
        };
        let err = match words {
            ["ERR", code, ..] => Some((*code).to_string()),
            ["ERR"] | [] => Some("no-answer".to_string()),
            _ => None,
        };
        let ok = words.first() == Some(&"OK");
        let refused = |request: &'static str, err: Option<String>| Answer::Refused {
            request,
            err: err.unwrap_or_else(|| "unexpected-answer".to_string()),
        };
        match req {
            Req::Username if !ok => Some(refused("USERNAME", err)),
            Req::Password if !ok => Some(refused("PASSWORD", err)),
            Req::Username | Req::Password => None,
            Req::Login if ok => {
                self.logged_in = true;
                None
            }
            Req::Login => Some(refused("LOGIN", err)),
            Req::Primary if ok => None,
            Req::Primary => {
                // NUT before 2.8.0 knows only MASTER.
                let name = self.ups.clone();
                match self.send(out, Req::Master, &["MASTER", &name]) {
                    Ok(()) => None,
                    Err(Full) => Some(refused("PRIMARY", err)),
                }
            }
            Req::Master if ok => None,
            Req::Master => Some(refused("PRIMARY/MASTER", err)),
            Req::Status => match self.value(words, "ups.status") {
                Some(s)
                    if s.split_ascii_whitespace()
                        .any(|w| w.eq_ignore_ascii_case("ALARM")) =>
                {
                    let name = self.ups.clone();
                    match self.send(out, Req::Alarm, &["GET", "VAR", &name, "ups.alarm"]) {
                        Ok(()) => {
                            self.held = Some(s.to_string());
                            None
                        }
                        Err(Full) => Some(Answer::Status {
                            status: s.to_string(),
                            alarm: None,
                        }),
                    }
                }
                // An empty status is no communication, as in upsmon.
                Some(s) if !s.trim().is_empty() => Some(Answer::Status {
                    status: s.to_string(),
                    alarm: None,
                }),
                _ => Some(Answer::PollFailed(
                    err.unwrap_or_else(|| "unexpected-answer".to_string()),
                )),
            },
            Req::Alarm => {
                let alarm = self.value(words, "ups.alarm").map(str::to_string);
                let status = self.held.take()?;
                Some(Answer::Status { status, alarm })
            }
            Req::NumLogins => {
                let n = match words {
                    ["NUMLOGINS", ups, n] if ups.eq_ignore_ascii_case(&self.ups) => {
                        n.parse::<u32>().unwrap_or(0)
                    }
                    _ => 0,
                };
                Some(Answer::OtherLogins(
                    n.saturating_sub(u32::from(self.logged_in)),
                ))
            }
            Req::Fsd if ok => Some(Answer::FsdSet),
            Req::Fsd => Some(Answer::FsdRefused(
                err.unwrap_or_else(|| "unexpected-answer".to_string()),
            )),
        }
    }

    /// The value of `VAR <ups> <var> "<value>"`.
    fn value<'w>(&self, words: &[&'w str], var: &str) -> Option<&'w str> {
        match words {
            ["VAR", ups, v, value] if ups.eq_ignore_ascii_case(&self.ups) && *v == var => {
                Some(value)
            }
            _ => None,
        }
    }

    /// Whether this conversation logged in as primary (for the log).
    pub fn primary(&self) -> bool {
        self.primary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(primary: bool) -> (Conversation, String) {
        let mut out = String::new();
        let c = Conversation::start("ups", "mon", "secret", primary, &mut out);
        (c, out)
    }

    #[test]
    fn login_sequence_is_upsmons() {
        let (c, out) = start(true);
        assert_eq!(
            out,
            "USERNAME mon\nPASSWORD secret\nLOGIN ups\nPRIMARY ups\n"
        );
        assert_eq!(c.unanswered(), 4);
        let (_, out) = start(false);
        assert_eq!(out, "USERNAME mon\nPASSWORD secret\nLOGIN ups\n");
    }

    #[test]
    fn odd_passwords_are_quoted() {
        let mut out = String::new();
        Conversation::start("ups", "mon", "a b\"c", false, &mut out);
        assert!(out.contains("PASSWORD \"a b\\\"c\"\n"), "{out}");
        let mut out = String::new();
        Conversation::start("ups", "mon", "", false, &mut out);
        assert!(out.contains("PASSWORD \"\"\n"), "{out}");
    }

    #[test]
    fn primary_falls_back_to_master() {
        let (mut c, _) = start(true);
        let mut out = String::new();
        for l in ["OK", "OK", "OK"] {
            assert_eq!(c.line(l.as_bytes(), &mut out), None);
        }
        assert_eq!(c.line(b"ERR UNKNOWN-COMMAND", &mut out), None);
        assert_eq!(out, "MASTER ups\n");
        assert_eq!(
            c.line(b"ERR ACCESS-DENIED", &mut out),
            Some(Answer::Refused {
                request: "PRIMARY/MASTER",
                err: "ACCESS-DENIED".into()
            })
        );
        assert_eq!(c.unanswered(), 0);
    }

    #[test]
    fn poll_reads_the_status_and_the_alarm_while_alarm() {
        let (mut c, _) = start(false);
        let mut out = String::new();
        for _ in 0..3 {
            c.line(b"OK", &mut out);
        }
        c.poll(&mut out).unwrap();
        assert_eq!(out, "GET VAR ups ups.status\n");
        assert!(c.polling());
        assert_eq!(
            c.line(b"VAR ups ups.status \"OB LB\"", &mut out),
            Some(Answer::Status {
                status: "OB LB".into(),
                alarm: None
            })
        );
        assert!(!c.polling());
        out.clear();
        c.poll(&mut out).unwrap();
        assert_eq!(c.line(b"VAR ups ups.status \"OL ALARM\"", &mut out), None);
        assert_eq!(out, "GET VAR ups ups.status\nGET VAR ups ups.alarm\n");
        assert!(c.polling());
        assert_eq!(
            c.line(b"VAR ups ups.alarm \"Replace \\\"battery\\\"\"", &mut out),
            Some(Answer::Status {
                status: "OL ALARM".into(),
                alarm: Some("Replace \"battery\"".into())
            })
        );
        // An alarm that cannot be read still gives the status.
        c.poll(&mut out).unwrap();
        c.line(b"VAR ups ups.status \"ALARM OL\"", &mut out);
        assert_eq!(
            c.line(b"ERR VAR-NOT-SUPPORTED", &mut out),
            Some(Answer::Status {
                status: "ALARM OL".into(),
                alarm: None
            })
        );
    }

    #[test]
    fn failed_and_strange_polls_are_no_communication() {
        let (mut c, _) = start(false);
        let mut out = String::new();
        for _ in 0..3 {
            c.line(b"OK", &mut out);
        }
        for (line, err) in [
            (&b"ERR DATA-STALE"[..], "DATA-STALE"),
            (b"VAR ups ups.status \"\"", "unexpected-answer"),
            (b"VAR other ups.status \"OL\"", "unexpected-answer"),
            (b"garbage \"unterminated", "no-answer"),
        ] {
            c.poll(&mut out).unwrap();
            assert_eq!(c.line(line, &mut out), Some(Answer::PollFailed(err.into())));
        }
    }

    #[test]
    fn login_refusals_are_reported_and_not_counted() {
        let (mut c, _) = start(true);
        let mut out = String::new();
        assert_eq!(c.line(b"OK", &mut out), None);
        assert_eq!(
            c.line(b"ERR INVALID-PASSWORD", &mut out),
            Some(Answer::Refused {
                request: "PASSWORD",
                err: "INVALID-PASSWORD".into()
            })
        );
        assert_eq!(
            c.line(b"ERR ACCESS-DENIED", &mut out),
            Some(Answer::Refused {
                request: "LOGIN",
                err: "ACCESS-DENIED".into()
            })
        );
        c.line(b"OK", &mut out);
        c.count_logins(&mut out).unwrap();
        // Not logged in: all three are others.
        assert_eq!(
            c.line(b"NUMLOGINS ups 3", &mut out),
            Some(Answer::OtherLogins(3))
        );
    }

    #[test]
    fn numlogins_leaves_out_this_monitor_and_fsd_is_acknowledged() {
        let (mut c, _) = start(true);
        let mut out = String::new();
        for _ in 0..4 {
            c.line(b"OK", &mut out);
        }
        out.clear();
        c.fsd(&mut out).unwrap();
        c.count_logins(&mut out).unwrap();
        assert_eq!(out, "FSD ups\nGET NUMLOGINS ups\n");
        assert!(c.counting());
        assert_eq!(c.line(b"OK FSD-SET", &mut out), Some(Answer::FsdSet));
        assert_eq!(
            c.line(b"NUMLOGINS ups 2", &mut out),
            Some(Answer::OtherLogins(1))
        );
        c.count_logins(&mut out).unwrap();
        assert_eq!(
            c.line(b"ERR UNKNOWN-UPS", &mut out),
            Some(Answer::OtherLogins(0))
        );
        c.fsd(&mut out).unwrap();
        assert_eq!(
            c.line(b"ERR ACCESS-DENIED", &mut out),
            Some(Answer::FsdRefused("ACCESS-DENIED".into()))
        );
    }

    #[test]
    fn the_queue_is_bounded_and_unasked_lines_are_ignored() {
        let (mut c, mut out) = start(false);
        while c.unanswered() < MAX_PENDING {
            c.poll(&mut out).unwrap();
        }
        assert_eq!(c.poll(&mut out), Err(Full));
        let (mut c, _) = start(false);
        for _ in 0..3 {
            c.line(b"OK", &mut out);
        }
        assert_eq!(c.line(b"VAR ups ups.status \"OL\"", &mut out), None);
    }
}
