//! Failed logins per source address and user name, as pure code: a
//! token bucket per (source, user) in a table of fixed capacity, with the
//! time passed in.
//!
//! A PASSWORD can be sent once per connection, so guessing passwords
//! means one connection per guess; what is limited is how many wrong
//! credentials one source may present for one user name. A source is an
//! IPv4 address, the /64 of an IPv6 address (one host usually holds it
//! whole), or the loopback as a whole ([`Source`]). Each (source, user)
//! starts with [`RateLimiter::burst`] tokens; each failed check takes
//! one, and one comes back every `refill_ms`. With no token left the pair
//! is limited: the server refuses those credentials unchecked, with the
//! same `ERR ACCESS-DENIED` a wrong password gets, so a guess made while
//! limited is wasted and the limit is not visible to the guesser.
//!
//! Counting per user name as well as per source is what keeps a broken
//! script from locking out the host's upsmon or an administrator: every
//! local client shares 127.0.0.1, and a NAT gateway's clients share its
//! address. A guesser still gets `burst` tries per user, then one per
//! `refill_ms`. Names that are not users of `upsd.users` share one
//! bucket per source (the caller passes `None`), so inventing names
//! neither fills the table nor buys guesses: such a name can never log
//! in anyway.
//!
//! Capacity is fixed ([`CAPACITY`] pairs). An entry whose bucket has
//! filled up again is the same as no entry and is reused. When every
//! entry is still draining, the one closest to full is forgotten to make
//! room and [`RateLimiter::failure`] says so ([`TableFull`]) for the
//! server to log: the drained entries, those of real guessing, stay, and
//! nobody who never failed is ever limited.
//!
//! No clock is read here: `now` is milliseconds on the server's monotonic
//! clock, as everywhere in `proto`.

use super::admission::Source;
use super::users::Users;
use core::fmt;
use std::net::IpAddr;

/// (source, user) pairs tracked at once.
pub const CAPACITY: usize = 256;
/// Failed checks a pair may make in a row before it is limited.
pub const DEFAULT_BURST: u32 = 10;
/// One more failed check allowed every this many milliseconds (10 a
/// minute once the burst is spent).
pub const DEFAULT_REFILL_MS: u64 = 6_000;

/// Every entry was draining: the one closest to full was forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

impl fmt::Display for TableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "login rate-limit table full ({CAPACITY} address and user pairs): \
             forgetting those with the fewest recent failures"
        )
    }
}

/// What a recorded failure did to the pair's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Tokens are left.
    Counted,
    /// That was the last token: the pair is limited from now on (log
    /// this, once).
    NowLimited,
}

/// The key a failure is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    source: Source,
    /// FNV-1a of a user's name; `None` for names that are no user.
    user: Option<u64>,
}

impl Key {
    fn of(addr: IpAddr, user: Option<&str>) -> Key {
        Key {
            source: Source::of(addr),
            user: user.map(|u| {
                u.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                })
            }),
        }
    }
}

/// A token bucket; tokens are kept in units of 1/`refill_ms` token so
/// that refilling is exact integer arithmetic.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens × refill_ms.
    level: u64,
    /// When `level` was last brought up to date.
    at: u64,
}

#[derive(Debug, Clone, Copy)]
struct KeyedBucket {
    key: Key,
    bucket: Bucket,
}

/// The failed-login table.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    entries: [Option<KeyedBucket>; CAPACITY],
    burst: u32,
    refill_ms: u64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_BURST, DEFAULT_REFILL_MS)
    }
}

impl RateLimiter {
    /// `burst` failures in a row (at least 1), then one per `refill_ms`
    /// (at least 1).
    pub fn new(burst: u32, refill_ms: u64) -> Self {
        RateLimiter {
            entries: [None; CAPACITY],
            burst: burst.max(1),
            refill_ms: refill_ms.max(1),
        }
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn full_level(&self) -> u64 {
        u64::from(self.burst) * self.refill_ms
    }

    /// The bucket's level at `now` (never above full; time going
    /// backwards adds nothing).
    fn level(&self, b: &Bucket, now: u64) -> u64 {
        b.level
            .saturating_add(now.saturating_sub(b.at))
            .min(self.full_level())
    }

    fn slot(&self, key: Key) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.is_some_and(|e| e.key == key))
    }

    /// An empty entry, one whose bucket has filled up again, or else the
    /// fullest (`true`: it was still draining and is forgotten).
    fn free_slot(&self, now: u64) -> (usize, bool) {
        let full = self.full_level();
        let mut best = (0, 0);
        for (i, e) in self.entries.iter().enumerate() {
            let level = match e {
                None => return (i, false),
                Some(e) => self.level(&e.bucket, now),
            };
            if level >= full {
                return (i, false);
            }
            if level > best.1 {
                best = (i, level);
            }
        }
        (best.0, true)
    }

    /// Is `user` (`None`: a name that is no user) limited from `addr` at
    /// `now`? Then the server must refuse the credentials unchecked.
    pub fn is_limited(&self, addr: IpAddr, user: Option<&str>, now: u64) -> bool {
        self.slot(Key::of(addr, user)).is_some_and(|i| {
            self.entries[i].is_some_and(|e| self.level(&e.bucket, now) < self.refill_ms)
        })
    }

    /// Milliseconds until `user` may try again from `addr` (0: not
    /// limited).
    pub fn retry_after(&self, addr: IpAddr, user: Option<&str>, now: u64) -> u64 {
        self.slot(Key::of(addr, user))
            .and_then(|i| self.entries[i])
            .map_or(0, |e| {
                self.refill_ms.saturating_sub(self.level(&e.bucket, now))
            })
    }

    /// Count a failed credential check for `user` (`None`: a name that is
    /// no user) by `addr` at `now`. `Err` when the table was full and
    /// another pair was forgotten to make room (the failure is counted).
    pub fn failure(
        &mut self,
        addr: IpAddr,
        user: Option<&str>,
        now: u64,
    ) -> Result<Counted, TableFull> {
        let key = Key::of(addr, user);
        let full = self.full_level();
        let (i, evicted) = match self.slot(key) {
            Some(i) => (i, false),
            None => {
                let (i, evicted) = self.free_slot(now);
                self.entries[i] = Some(KeyedBucket {
                    key,
                    bucket: Bucket {
                        level: full,
                        at: now,
                    },
                });
                (i, evicted)
            }
        };
        let refill = self.refill_ms;
        let level_now = |b: &Bucket| b.level.saturating_add(now.saturating_sub(b.at)).min(full);
        let Some(e) = &mut self.entries[i] else {
            unreachable!("slot {i} was just found or filled")
        };
        let b = &mut e.bucket;
        let before = level_now(b);
        b.level = before.saturating_sub(refill);
        b.at = now.max(b.at);
        let counted = if before >= refill && b.level < refill {
            Counted::NowLimited
        } else {
            Counted::Counted
        };
        if evicted {
            Err(TableFull)
        } else {
            Ok(counted)
        }
    }

    /// Pairs with failures still remembered at `now`.
    pub fn tracked(&self, now: u64) -> usize {
        let full = self.full_level();
        self.entries
            .iter()
            .flatten()
            .filter(|e| self.level(&e.bucket, now) < full)
            .count()
    }
}

/// The server's login limit (`LOGIN_FAILURES`): the table, and what was
/// already said about it. The server logs the [`LimitEvent`]s it returns.
#[derive(Debug)]
pub struct LoginLimit {
    table: RateLimiter,
    /// No failure yet: nobody can be limited, no lookup per line.
    failed_once: bool,
    /// "Table full" was said.
    full_said: bool,
}

/// Something about the limit worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitEvent {
    /// `peer` used its last try for `user` (`None`: names that are no
    /// user): refused for `retry_after_ms`.
    NowLimited {
        peer: IpAddr,
        user: Option<String>,
        retry_after_ms: u64,
    },
    /// The table filled up (said once).
    Full(TableFull),
}

impl fmt::Display for LimitEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitEvent::NowLimited {
                peer,
                user,
                retry_after_ms,
            } => {
                write!(f, "{peer}: too many failed logins ")?;
                match user {
                    Some(n) => write!(f, "as {n}")?,
                    None => f.write_str("with unknown user names")?,
                }
                write!(f, ": refused for {} s", retry_after_ms.div_ceil(1000))
            }
            LimitEvent::Full(e) => e.fmt(f),
        }
    }
}

/// Is `name` a user of upsd.users?
fn is_user(users: &Users, name: &str) -> bool {
    users.users.iter().any(|u| u.name == name)
}

impl LoginLimit {
    /// For `LOGIN_FAILURES n` (0: no limit).
    pub fn new(n: u32) -> Option<LoginLimit> {
        (n > 0).then(|| LoginLimit {
            table: RateLimiter::new(n, DEFAULT_REFILL_MS),
            failed_once: false,
            full_said: false,
        })
    }

    /// Failures allowed before the limit (`LOGIN_FAILURES`).
    pub fn burst(&self) -> u32 {
        self.table.burst()
    }

    /// Are `user`'s credentials from `peer` to be refused unchecked?
    /// Counted per user name, names that are no user together.
    pub fn limited(&self, peer: IpAddr, user: Option<&str>, users: &Users, now: u64) -> bool {
        let Some(name) = user.filter(|_| self.failed_once) else {
            return false;
        };
        // A user is only ever counted under its name, so the name's own
        // entry decides; the users are searched only when the source's
        // shared count for unknown names is spent.
        self.table.is_limited(peer, Some(name), now)
            || (self.table.is_limited(peer, None, now) && !is_user(users, name))
    }

    /// Count a wrong login for `user` by `peer`.
    pub fn failed(
        &mut self,
        peer: IpAddr,
        user: Option<&str>,
        users: &Users,
        now: u64,
    ) -> Option<LimitEvent> {
        self.failed_once = true;
        let key = user.filter(|n| is_user(users, n));
        match self.table.failure(peer, key, now) {
            Ok(Counted::NowLimited) => Some(LimitEvent::NowLimited {
                peer,
                user: key.map(str::to_string),
                retry_after_ms: self.table.retry_after(peer, key, now),
            }),
            Ok(Counted::Counted) => None,
            Err(e) if !self.full_said => {
                self.full_said = true;
                Some(LimitEvent::Full(e))
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn burst_then_one_per_refill() {
        let mut r = RateLimiter::new(3, 1000);
        let a = v4(1);
        assert!(!r.is_limited(a, None, 0));
        assert_eq!(r.failure(a, None, 0), Ok(Counted::Counted));
        assert_eq!(r.failure(a, None, 10), Ok(Counted::Counted));
        assert!(!r.is_limited(a, None, 20));
        assert_eq!(r.failure(a, None, 20), Ok(Counted::NowLimited));
        assert!(r.is_limited(a, None, 20));
        // 20 ms of the 1000 have passed since the last token was taken.
        assert_eq!(r.retry_after(a, None, 20), 1000 - 20);
        assert!(r.is_limited(a, None, 999));
        // One token back after a full refill period.
        assert!(!r.is_limited(a, None, 1000));
        assert_eq!(r.retry_after(a, None, 1000), 0);
        assert_eq!(r.failure(a, None, 1000), Ok(Counted::NowLimited));
        assert!(r.is_limited(a, None, 1001));
        // Other addresses are not affected.
        assert!(!r.is_limited(v4(2), None, 1001));
    }

    #[test]
    fn failures_while_limited_keep_it_limited_without_going_below_zero() {
        let mut r = RateLimiter::new(1, 1000);
        let a = v4(1);
        assert_eq!(r.failure(a, None, 0), Ok(Counted::NowLimited));
        // Recorded anyway (the server does not check while limited, but
        // the limiter must not underflow if it is called).
        // The half token refilled by then is taken again.
        assert_eq!(r.failure(a, None, 500), Ok(Counted::Counted));
        assert!(r.is_limited(a, None, 1000));
        assert!(r.is_limited(a, None, 1499));
        assert!(!r.is_limited(a, None, 1500));
    }

    #[test]
    fn refilled_completely_is_forgotten() {
        let mut r = RateLimiter::new(2, 100);
        r.failure(v4(1), None, 0).unwrap();
        assert_eq!(r.tracked(0), 1);
        assert_eq!(r.tracked(99), 1);
        assert_eq!(r.tracked(100), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let mut r = RateLimiter::new(1, 1000);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        r.failure(a, None, 0).unwrap();
        assert!(r.is_limited(same64, None, 1));
        assert!(!r.is_limited(other64, None, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        r.failure(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), None, 0)
            .unwrap();
        assert!(r.is_limited(mapped, None, 1));
        assert!(!r.is_limited(IpAddr::V6(Ipv6Addr::LOCALHOST), None, 1));
    }

    #[test]
    fn a_full_table_forgets_the_fullest_and_says_so() {
        let mut r = RateLimiter::new(2, 1000);
        // One pair drained: limited.
        let guessed = v4(0);
        r.failure(guessed, Some("admin"), 0).unwrap();
        assert_eq!(
            r.failure(guessed, Some("admin"), 0),
            Ok(Counted::NowLimited)
        );
        for n in 1..CAPACITY as u32 {
            assert_eq!(r.failure(v4(n), None, 1), Ok(Counted::Counted));
        }
        assert_eq!(r.tracked(1), CAPACITY);
        // A newcomer makes room by forgetting one with a token left, not
        // the drained pair.
        let x = v4(100_000);
        assert_eq!(r.failure(x, None, 2), Err(TableFull));
        assert_eq!(r.tracked(2), CAPACITY);
        assert!(r.is_limited(guessed, Some("admin"), 2));
        // Nobody who never failed is limited, table full or not.
        assert!(!r.is_limited(v4(100_001), Some("upsmon"), 3));
        assert!(!r.is_limited(guessed, Some("upsmon"), 3));
        // Once the entries refill, newcomers take them without a word.
        assert_eq!(r.failure(v4(100_002), None, 5000), Ok(Counted::Counted));
    }

    #[test]
    fn failures_count_per_user_so_a_bad_script_locks_out_nobody_else() {
        let mut r = RateLimiter::new(10, 6000);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for t in 0..9 {
            assert_eq!(r.failure(lo, Some("script"), t), Ok(Counted::Counted));
        }
        assert_eq!(r.failure(lo, Some("script"), 9), Ok(Counted::NowLimited));
        assert!(r.is_limited(lo, Some("script"), 10));
        // The script's user from anywhere on the loopback, ::1 included.
        assert!(r.is_limited(IpAddr::V6(Ipv6Addr::LOCALHOST), Some("script"), 10));
        assert!(r.is_limited("127.0.0.2".parse().unwrap(), Some("script"), 10));
        // upsmon and the admin on the same host are not.
        assert!(!r.is_limited(lo, Some("upsmon"), 10));
        assert!(!r.is_limited(lo, Some("admin"), 10));
        assert!(!r.is_limited(lo, None, 10));
        // The script's user from another host is not either.
        assert!(!r.is_limited(v4(1), Some("script"), 10));
        // Ten ms of refill since the first failure.
        assert_eq!(r.retry_after(lo, Some("script"), 10), 6000 - 10);
    }

    #[test]
    fn names_that_are_no_user_share_one_bucket_per_source() {
        let mut r = RateLimiter::new(3, 1000);
        let a = v4(7);
        // A sprayer inventing names: three failures in all, one entry.
        assert_eq!(r.failure(a, None, 0), Ok(Counted::Counted));
        assert_eq!(r.failure(a, None, 0), Ok(Counted::Counted));
        assert_eq!(r.failure(a, None, 0), Ok(Counted::NowLimited));
        assert_eq!(r.tracked(0), 1);
        assert!(r.is_limited(a, None, 1));
        // Real users from there are still counted on their own.
        assert!(!r.is_limited(a, Some("upsmon"), 1));
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let mut r = RateLimiter::new(1, 1000);
        let a = v4(1);
        r.failure(a, None, 5000).unwrap();
        assert!(r.is_limited(a, None, 4000));
        assert!(r.is_limited(a, None, 5999));
        assert!(!r.is_limited(a, None, 6000));
    }

    #[test]
    fn degenerate_parameters_are_raised_to_one() {
        let mut r = RateLimiter::new(0, 0);
        assert_eq!(r.burst(), 1);
        assert_eq!(r.failure(v4(1), None, 0), Ok(Counted::NowLimited));
        assert!(!r.is_limited(v4(1), None, 1));
    }

    #[test]
    fn the_login_limit_says_each_thing_once() {
        assert!(LoginLimit::new(0).is_none());
        let mut l = LoginLimit::new(2).unwrap();
        assert_eq!(l.burst(), 2);
        let users = Users {
            users: vec![crate::proto::users::User {
                name: "mon".into(),
                ..Default::default()
            }],
        };
        let a = v4(1);
        assert!(!l.limited(a, Some("mon"), &users, 0));
        assert_eq!(l.failed(a, Some("mon"), &users, 0), None);
        let e = l.failed(a, Some("mon"), &users, 1000).unwrap();
        assert_eq!(
            e,
            LimitEvent::NowLimited {
                peer: a,
                user: Some("mon".into()),
                retry_after_ms: DEFAULT_REFILL_MS - 1000
            }
        );
        assert_eq!(
            e.to_string(),
            "10.0.0.1: too many failed logins as mon: refused for 5 s"
        );
        assert!(l.limited(a, Some("mon"), &users, 1000));
        assert!(!l.limited(v4(2), Some("mon"), &users, 1000));
        // Names that are no user share one count per source.
        assert_eq!(l.failed(a, Some("x"), &users, 1000), None);
        let e = l.failed(a, Some("y"), &users, 1000).unwrap();
        assert_eq!(
            e.to_string(),
            "10.0.0.1: too many failed logins with unknown user names: refused for 6 s"
        );
        assert!(l.limited(a, Some("z"), &users, 1000));
        // Every entry draining: the table is full, said once only.
        let mut full = 0;
        for n in 2..(CAPACITY as u32 + 10) {
            if let Some(LimitEvent::Full(_)) = l.failed(v4(n), Some("mon"), &users, 1000) {
                full += 1;
            }
        }
        assert_eq!(full, 1);
    }
}
