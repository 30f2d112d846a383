//! Failed logins per source address, as pure code: a token bucket per
//! address in a table of fixed capacity, with the time passed in.
//!
//! A PASSWORD can be sent once per connection, so guessing passwords
//! means one connection per guess; what is limited is how many wrong
//! credentials one address may present. Each address (IPv4, or the /64
//! of an IPv6 address, which one host usually holds whole) starts with
//! [`RateLimiter::burst`] tokens; each failed check takes one, and one
//! comes back every `refill_ms`. With no token left the address is
//! limited: the server refuses its credentials unchecked, with the same
//! `ERR ACCESS-DENIED` a wrong password gets, so a guess made while
//! limited is wasted and the limit is not visible to the guesser.
//!
//! Capacity is fixed ([`CAPACITY`] addresses). An entry whose bucket has
//! filled up again is the same as no entry and is reused. When every entry
//! is still draining, further addresses share one overflow bucket of the
//! same size, and [`RateLimiter::failure`] says so ([`TableFull`]) for the
//! server to log: nothing is dropped silently, and an attacker who spreads
//! guesses over many addresses is still limited, as one.
//!
//! No clock is read here: `now` is milliseconds on the server's monotonic
//! clock, as everywhere in `proto`.

use core::fmt;
use std::net::IpAddr;

/// Addresses tracked at once.
pub const CAPACITY: usize = 256;
/// Failed checks an address may make in a row before it is limited.
pub const DEFAULT_BURST: u32 = 10;
/// One more failed check allowed every this many milliseconds (10 a
/// minute once the burst is spent).
pub const DEFAULT_REFILL_MS: u64 = 6_000;

/// Every entry was in use: the failure was counted in the shared bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

impl fmt::Display for TableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "login rate-limit table full ({CAPACITY} addresses): \
             further addresses share one bucket"
        )
    }
}

/// What a recorded failure did to the address's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Tokens are left.
    Counted,
    /// That was the last token: the address is limited from now on (log
    /// this, once).
    NowLimited,
}

/// The key an address is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    V4(u32),
    /// The upper 64 bits.
    V6(u64),
}

impl Key {
    fn of(addr: IpAddr) -> Key {
        match addr {
            IpAddr::V4(a) => Key::V4(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Key::V4(u32::from(v4)),
                None => Key::V6((u128::from(a) >> 64) as u64),
            },
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
struct Entry {
    key: Key,
    bucket: Bucket,
}

/// The failed-login table.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    entries: [Option<Entry>; CAPACITY],
    shared: Bucket,
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
        let burst = burst.max(1);
        let refill_ms = refill_ms.max(1);
        RateLimiter {
            entries: [None; CAPACITY],
            shared: Bucket {
                level: u64::from(burst) * refill_ms,
                at: 0,
            },
            burst,
            refill_ms,
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

    /// The bucket `addr` is counted in at `now`, if any failure of it is
    /// still remembered: its own, or the shared one while the table is
    /// full of addresses still draining.
    fn bucket(&self, key: Key, now: u64) -> Option<&Bucket> {
        match self.slot(key) {
            Some(i) => self.entries[i].as_ref().map(|e| &e.bucket),
            // The shared bucket only matters once it has been drawn on
            // (checked first: it saves scanning the table for a free
            // entry on every line of every unknown address).
            None if self.level(&self.shared, now) < self.full_level()
                && self.free_slot(now).is_none() =>
            {
                Some(&self.shared)
            }
            None => None,
        }
    }

    /// An empty entry, or one whose bucket has filled up again.
    fn free_slot(&self, now: u64) -> Option<usize> {
        let full = self.full_level();
        self.entries.iter().position(|e| match e {
            None => true,
            Some(e) => self.level(&e.bucket, now) >= full,
        })
    }

    /// Is `addr` limited at `now`? Then the server must refuse its
    /// credentials without checking them.
    pub fn is_limited(&self, addr: IpAddr, now: u64) -> bool {
        self.bucket(Key::of(addr), now)
            .is_some_and(|b| self.level(b, now) < self.refill_ms)
    }

    /// Milliseconds until `addr` may try again (0: not limited).
    pub fn retry_after(&self, addr: IpAddr, now: u64) -> u64 {
        self.bucket(Key::of(addr), now)
            .map_or(0, |b| self.refill_ms.saturating_sub(self.level(b, now)))
    }

    /// Count a failed credential check by `addr` at `now`. `Err` when the
    /// table was full and the failure went to the shared bucket (which is
    /// still applied: the address is limited with everyone in it).
    pub fn failure(&mut self, addr: IpAddr, now: u64) -> Result<Counted, TableFull> {
        let key = Key::of(addr);
        let full = self.full_level();
        let (i, shared) = match self.slot(key) {
            Some(i) => (Some(i), false),
            None => match self.free_slot(now) {
                Some(i) => {
                    self.entries[i] = Some(Entry {
                        key,
                        bucket: Bucket {
                            level: full,
                            at: now,
                        },
                    });
                    (Some(i), false)
                }
                None => (None, true),
            },
        };
        let refill = self.refill_ms;
        let level_now = |b: &Bucket| b.level.saturating_add(now.saturating_sub(b.at)).min(full);
        let b = match i {
            Some(i) => match &mut self.entries[i] {
                Some(e) => &mut e.bucket,
                None => unreachable!("slot {i} was just found or filled"),
            },
            None => &mut self.shared,
        };
        let before = level_now(b);
        b.level = before.saturating_sub(refill);
        b.at = now.max(b.at);
        let counted = if before >= refill && b.level < refill {
            Counted::NowLimited
        } else {
            Counted::Counted
        };
        if shared {
            Err(TableFull)
        } else {
            Ok(counted)
        }
    }

    /// Addresses with failures still remembered at `now`.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitEvent {
    /// `peer` used its last try: refused for `retry_after_ms`.
    NowLimited { peer: IpAddr, retry_after_ms: u64 },
    /// The table filled up (said once).
    Full(TableFull),
}

impl fmt::Display for LimitEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitEvent::NowLimited {
                peer,
                retry_after_ms,
            } => write!(
                f,
                "{peer}: too many failed logins: refused for {} s",
                retry_after_ms.div_ceil(1000)
            ),
            LimitEvent::Full(e) => e.fmt(f),
        }
    }
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

    /// Are `peer`'s credentials refused unchecked now?
    pub fn limited(&self, peer: IpAddr, now: u64) -> bool {
        self.failed_once && self.table.is_limited(peer, now)
    }

    /// Count a wrong login by `peer`.
    pub fn failed(&mut self, peer: IpAddr, now: u64) -> Option<LimitEvent> {
        self.failed_once = true;
        match self.table.failure(peer, now) {
            Ok(Counted::NowLimited) => Some(LimitEvent::NowLimited {
                peer,
                retry_after_ms: self.table.retry_after(peer, now),
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
        assert!(!r.is_limited(a, 0));
        assert_eq!(r.failure(a, 0), Ok(Counted::Counted));
        assert_eq!(r.failure(a, 10), Ok(Counted::Counted));
        assert!(!r.is_limited(a, 20));
        assert_eq!(r.failure(a, 20), Ok(Counted::NowLimited));
        assert!(r.is_limited(a, 20));
        // 20 ms of the 1000 have passed since the last token was taken.
        assert_eq!(r.retry_after(a, 20), 1000 - 20);
        assert!(r.is_limited(a, 999));
        // One token back after a full refill period.
        assert!(!r.is_limited(a, 1000));
        assert_eq!(r.retry_after(a, 1000), 0);
        assert_eq!(r.failure(a, 1000), Ok(Counted::NowLimited));
        assert!(r.is_limited(a, 1001));
        // Other addresses are not affected.
        assert!(!r.is_limited(v4(2), 1001));
    }

    #[test]
    fn failures_while_limited_keep_it_limited_without_going_below_zero() {
        let mut r = RateLimiter::new(1, 1000);
        let a = v4(1);
        assert_eq!(r.failure(a, 0), Ok(Counted::NowLimited));
        // Recorded anyway (the server does not check while limited, but
        // the limiter must not underflow if it is called).
        // The half token refilled by then is taken again.
        assert_eq!(r.failure(a, 500), Ok(Counted::Counted));
        assert!(r.is_limited(a, 1000));
        assert!(r.is_limited(a, 1499));
        assert!(!r.is_limited(a, 1500));
    }

    #[test]
    fn refilled_completely_is_forgotten() {
        let mut r = RateLimiter::new(2, 100);
        r.failure(v4(1), 0).unwrap();
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
        r.failure(a, 0).unwrap();
        assert!(r.is_limited(same64, 1));
        assert!(!r.is_limited(other64, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        r.failure(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 0)
            .unwrap();
        assert!(r.is_limited(mapped, 1));
        assert!(!r.is_limited(IpAddr::V6(Ipv6Addr::LOCALHOST), 1));
    }

    #[test]
    fn a_full_table_shares_one_bucket_and_says_so() {
        let mut r = RateLimiter::new(2, 1000);
        for n in 0..CAPACITY as u32 {
            assert_eq!(r.failure(v4(n), 0), Ok(Counted::Counted));
        }
        assert_eq!(r.tracked(0), CAPACITY);
        // Newcomers share the overflow bucket: two failures in all, not
        // two each.
        let (x, y) = (v4(100_000), v4(100_001));
        assert!(!r.is_limited(x, 1));
        assert_eq!(r.failure(x, 1), Err(TableFull));
        assert_eq!(r.failure(y, 2), Err(TableFull));
        assert!(r.is_limited(x, 3) && r.is_limited(y, 3));
        assert!(r.is_limited(v4(100_002), 3));
        // Tracked addresses keep their own buckets.
        assert!(!r.is_limited(v4(5), 3));
        // Once the entries refill, newcomers get their own entries again.
        assert!(!r.is_limited(x, 2000));
        assert_eq!(r.failure(x, 2000), Ok(Counted::Counted));
        assert_eq!(r.tracked(2000), 1);
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let mut r = RateLimiter::new(1, 1000);
        let a = v4(1);
        r.failure(a, 5000).unwrap();
        assert!(r.is_limited(a, 4000));
        assert!(r.is_limited(a, 5999));
        assert!(!r.is_limited(a, 6000));
    }

    #[test]
    fn degenerate_parameters_are_raised_to_one() {
        let mut r = RateLimiter::new(0, 0);
        assert_eq!(r.burst(), 1);
        assert_eq!(r.failure(v4(1), 0), Ok(Counted::NowLimited));
        assert!(!r.is_limited(v4(1), 1));
    }

    #[test]
    fn the_login_limit_says_each_thing_once() {
        assert!(LoginLimit::new(0).is_none());
        let mut l = LoginLimit::new(2).unwrap();
        assert_eq!(l.burst(), 2);
        let a = v4(1);
        assert!(!l.limited(a, 0));
        assert_eq!(l.failed(a, 0), None);
        let e = l.failed(a, 1000).unwrap();
        assert_eq!(
            e,
            LimitEvent::NowLimited {
                peer: a,
                retry_after_ms: DEFAULT_REFILL_MS - 1000
            }
        );
        assert_eq!(
            e.to_string(),
            "10.0.0.1: too many failed logins: refused for 5 s"
        );
        assert!(l.limited(a, 1000) && !l.limited(v4(2), 1000));
        // Every entry draining: the table is full, said once only.
        let mut full = 0;
        for n in 2..(CAPACITY as u32 + 10) {
            if let Some(LimitEvent::Full(_)) = l.failed(v4(n), 1000) {
                full += 1;
            }
        }
        assert_eq!(full, 1);
    }
}
