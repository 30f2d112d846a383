//! One request line, answered: cut from the receive buffer, logged at
//! debug level (passwords masked), handed to the connection's
//! [`Session`], and the session's [`Action`] applied to the server: the
//! login table, the FSD latch, SET VAR and INSTCMD forwarded to the
//! worker with their TRACKING entry, the failed-login limit
//! ([`crate::proto::ratelimit::LoginLimit`], its events logged). Lines
//! are cut as [`crate::proto::framing`] says.

use super::upses::{Login, View};
use super::Daemon;
use crate::proto::framing::{self, Line};
use crate::proto::{Action, ErrCode, LexError, Overflow, Reply, RequestEnv, TrackingStatus};
use crate::sys::log::{debug, log};

/// How often admission hears that a busy connection is still busy: its
/// order is kept to the second, not relinked on every request.
const ACTIVE_EVERY_MS: u64 = 1000;

impl Daemon {
    /// Answer the complete lines among the `len` bytes received for
    /// connection `i` (in the loop's receive buffer) into the loop's send
    /// buffer, and carry out what each asks for, until the replies fill
    /// the buffer or the connection is closing. Returns how many bytes
    /// were used, how many reply bytes were written and, when the last
    /// reply is a list, where its BEGIN line ends (0: no list; a list
    /// ends the batch, see `LIST_GAP_MS` in [`super::clients`]). A tail
    /// longer than any request with no LF is refused, and the rest of
    /// that line skipped.
    pub(super) fn answer(&mut self, i: usize, len: usize, now: u64) -> (usize, usize, usize) {
        let Daemon {
            clients,
            rx,
            tx,
            upses,
            logins,
            tracking,
            users,
            scratch,
            maxage_ms,
            limiter,
            admission,
            ..
        } = self;
        let Some(c) = clients.get_mut(i) else {
            return (len, 0, 0);
        };
        let rx = &rx[..len];
        let mut tx_len = 0;
        let mut start = 0;
        let mut split = 0;
        while !c.closing && split == 0 {
            let Some((line, next)) = framing::next_line(rx, start) else {
                break;
            };
            let mut out = Reply::new(&mut tx[tx_len..]);
            let Line::Request(line) = line else {
                // Longer than any request: refused, as one that arrives
                // without its LF.
                if c.session
                    .lex_error(LexError::LineTooLong, now, &mut out)
                    .is_err()
                {
                    return (start, tx_len, 0);
                }
                tx_len += out.len();
                start = next;
                continue;
            };
            if crate::sys::log::level() >= 2 {
                let text = String::from_utf8_lossy(line);
                // Never a password in the log.
                let shown = match text.get(..9) {
                    Some(w) if w.eq_ignore_ascii_case("PASSWORD ") => "PASSWORD ...",
                    _ => text.trim_end(),
                };
                debug(2, format_args!("{}: {shown}", c.peer));
            }
            let view = View {
                upses,
                logins,
                tracking,
                now,
                maxage_ms: *maxage_ms,
            };
            let env = RequestEnv {
                upses: &view,
                users,
                now,
            };
            // Every line: a reload may replace or remove the limiter.
            let limited = limiter
                .as_ref()
                .is_some_and(|l| l.limited(c.peer, c.session.username(), users, now));
            c.session.set_auth_limited(limited);
            let r = c.session.handle_line(line, scratch, &env, &mut out);
            if let (true, Some(l)) = (c.session.take_auth_failure(), limiter.as_mut()) {
                if let Some(e) = l.failed(c.peer, c.session.username(), users, now) {
                    log(format_args!("{e}"));
                }
            }
            match r {
                Ok(action) => {
                    if let Some(a) = action {
                        if let Some(id) = a.tracking() {
                            tracking.start(id, now);
                        }
                        let r = match a {
                            Action::Close => {
                                c.closing = true;
                                Ok(())
                            }
                            Action::Login { ups } => {
                                admission.logged_in(i);
                                upses[ups].numlogins += 1;
                                let at = logins.partition_point(|l| l.seq < c.seq);
                                logins.insert(
                                    at,
                                    Login {
                                        seq: c.seq,
                                        addr: c.peer,
                                        ups,
                                    },
                                );
                                Ok(())
                            }
                            Action::Fsd { ups } => {
                                let u = &mut upses[ups];
                                u.fsd = true;
                                log(format_args!(
                                    "{}: forced shutdown (FSD) set by {}@{}",
                                    u.name,
                                    c.session.username().unwrap_or("?"),
                                    c.peer
                                ));
                                Ok(())
                            }
                            Action::SetVar {
                                ups,
                                var,
                                value,
                                tracking: id,
                            } => {
                                let u = &mut upses[ups];
                                match u.dev.mirror.store.at(var).map(|v| v.name) {
                                    Some(name) => u.setvar(name.as_str(), value, id),
                                    None => Err(ErrCode::SetFailed),
                                }
                            }
                            Action::InstCmd {
                                ups,
                                cmd,
                                value,
                                tracking: id,
                            } => upses[ups].instcmd(cmd, value, id),
                        };
                        if let Err(code) = r {
                            tracking.finish(a.tracking(), TrackingStatus::Failed);
                            out.clear();
                            let _ = out.err(code);
                        }
                    }
                    let reply = out.as_bytes();
                    if reply.starts_with(b"BEGIN LIST ") {
                        split = tx_len + memchr::memchr(b'\n', reply).map_or(0, |n| n + 1);
                    }
                    tx_len += out.len();
                    start = next;
                }
                // Room comes back once these replies are sent.
                Err(Overflow::Full) if tx_len > 0 => return (start, tx_len, 0),
                Err(_) => {
                    // Larger than the whole buffer (a reply upsd would
                    // have cut): refuse rather than send half a list.
                    out.clear();
                    let _ = out.err(ErrCode::TooLong);
                    tx_len += out.len();
                    start = next;
                }
            }
        }
        if start > 0 && c.told_active.map_or(true, |t| now >= t + ACTIVE_EVERY_MS) {
            // Complete lines: no longer the idlest (admission's order), to
            // the second; at once the first time (a connection that never
            // spoke goes first).
            admission.active(i, now);
            c.told_active = Some(now);
        }
        if c.closing {
            return (len, tx_len, split);
        }
        if split > 0 {
            return (start, tx_len, split);
        }
        if framing::overlong_tail(rx, start) {
            // A line longer than any request: refuse it, skip its rest.
            let mut out = Reply::new(&mut tx[tx_len..]);
            if c.session
                .lex_error(LexError::LineTooLong, now, &mut out)
                .is_ok()
            {
                tx_len += out.len();
                c.discard = true;
                return (len, tx_len, 0);
            }
        }
        (start, tx_len, 0)
    }
}
