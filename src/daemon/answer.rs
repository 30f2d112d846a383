//! One request line, answered: cut from the receive buffer, logged at
//! debug level (passwords masked), handed to the connection's
//! [`Session`], and the session's [`Action`] applied to the server: the
//! login table, the FSD latch, SET VAR and INSTCMD forwarded to the
//! worker with their TRACKING entry, the failed-login limit.

use super::upses::{Login, View};
use super::{Daemon, RX, TX};
use crate::proto::ratelimit::{self, Counted, RateLimiter};
use crate::proto::{Action, Env, ErrCode, LexError, Overflow, Reply, TrackingStatus, Users};
use crate::sys::log::{debug, log};
use std::net::IpAddr;

/// The login limit (`LOGIN_FAILURES`) as the loop uses it: the table,
/// and what was already said about it.
pub(super) struct Logins {
    pub(super) table: RateLimiter,
    /// No failure yet: nobody can be limited, no lookup per line.
    pub(super) failed_once: bool,
    /// "Table full" was logged.
    pub(super) full_said: bool,
}

impl Logins {
    /// For `LOGIN_FAILURES n` (0: no limit).
    pub(super) fn new(n: u32) -> Option<Logins> {
        (n > 0).then(|| Logins {
            table: RateLimiter::new(n, ratelimit::DEFAULT_REFILL_MS),
            failed_once: false,
            full_said: false,
        })
    }

    /// Are `user`'s credentials from `peer` to be refused unchecked?
    /// Counted per user name, names that are no user together.
    pub(super) fn limited(
        &self,
        peer: IpAddr,
        user: Option<&str>,
        users: &Users,
        now: u64,
    ) -> bool {
        let Some(name) = user.filter(|_| self.failed_once) else {
            return false;
        };
        // A user is only ever counted under its name, so the name's own
        // entry decides; the users are searched only when the source's
        // shared count for unknown names is spent.
        self.table.is_limited(peer, Some(name), now)
            || (self.table.is_limited(peer, None, now) && !is_user(users, name))
    }

    /// Count a wrong login for `user` by `peer`; log when that pair
    /// becomes limited.
    pub(super) fn failed(&mut self, peer: IpAddr, user: Option<&str>, users: &Users, now: u64) {
        self.failed_once = true;
        let key = user.filter(|n| is_user(users, n));
        match self.table.failure(peer, key, now) {
            Ok(Counted::NowLimited) => log(format_args!(
                "{peer}: too many failed logins {}: refused for {} s",
                match key {
                    Some(n) => format!("as {n}"),
                    None => "with unknown user names".to_string(),
                },
                self.table.retry_after(peer, key, now).div_ceil(1000)
            )),
            Ok(Counted::Counted) => {}
            Err(e) if !self.full_said => {
                self.full_said = true;
                log(format_args!("{e}"));
            }
            Err(_) => {}
        }
    }
}

/// Is `name` a user of upsd.users?
fn is_user(users: &Users, name: &str) -> bool {
    users.users.iter().any(|u| u.name == name)
}

impl Daemon {
    /// Answer every complete line received that fits the send buffer, and
    /// carry out what each asks for.
    pub(super) fn answer(&mut self, i: usize, now: u64) {
        let Daemon {
            slots,
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
        let slot = &mut slots[i];
        let Some(c) = slot.conn.as_mut() else {
            return;
        };
        let (rx, tx) = (&mut slot.rx[..], &mut slot.tx[..]);
        let (mut grow, small) = (false, tx.len() < TX);
        if c.discard {
            match rx[..c.rx_len].iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    rx.copy_within(lf + 1..c.rx_len, 0);
                    c.rx_len -= lf + 1;
                    c.discard = false;
                }
                None => c.rx_len = 0,
            }
        }
        let mut start = 0;
        while !c.closing {
            let Some(lf) = rx[start..c.rx_len].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &rx[start..start + lf];
            if crate::sys::log::level() >= 2 {
                let text = String::from_utf8_lossy(line);
                // Never a password in the log.
                let shown = match text.get(..9) {
                    Some(w) if w.eq_ignore_ascii_case("PASSWORD ") => "PASSWORD ...",
                    _ => text.trim_end(),
                };
                debug(2, format_args!("{}: {shown}", c.peer));
            }
            let mut out = Reply::new(&mut tx[c.tx_len..]);
            let view = View {
                upses,
                logins,
                tracking,
                now,
                maxage_ms: *maxage_ms,
            };
            let env = Env {
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
                l.failed(c.peer, c.session.username(), users, now);
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
                            } => upses[ups].setvar(var.as_str(), value, id),
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
                    c.tx_len += out.len();
                    start += lf + 1;
                }
                // Room comes back once the pending bytes are sent.
                Err(Overflow::Full) if c.tx_len > c.tx_sent => break,
                // The small buffer: grow it to the largest reply and
                // answer the line again (a reply that does not fit
                // changes nothing in the session).
                Err(Overflow::Full) if small => {
                    grow = true;
                    break;
                }
                Err(_) => {
                    // Larger than the whole buffer (a reply upsd would
                    // have cut): refuse rather than send half a list.
                    out.clear();
                    let _ = out.err(ErrCode::TooLong);
                    c.tx_len += out.len();
                    start += lf + 1;
                }
            }
        }
        if start > 0 {
            // Complete lines: no longer the idlest (admission's order).
            admission.active(i, now);
        }
        rx.copy_within(start..c.rx_len, 0);
        c.rx_len -= start;
        if grow {
            slot.tx = vec![0; TX].into_boxed_slice();
            return self.answer(i, now);
        }
        // (A full buffer of lines waiting for reply room is not one.)
        if c.rx_len == RX && !c.closing && !rx.contains(&b'\n') {
            // A full buffer without a LF: refuse the line, skip its rest.
            let mut out = Reply::new(&mut tx[c.tx_len..]);
            if c.session
                .lex_error(LexError::LineTooLong, now, &mut out)
                .is_ok()
            {
                c.tx_len += out.len();
                c.rx_len = 0;
                c.discard = true;
            }
        }
    }
}
