//! Connection admission as pure code: whether a new TCP connection gets
//! a slot, and which open connection is closed to make room for it.
//!
//! A flood of idle connections must never keep a monitoring client out:
//! a host whose upsmon cannot log in misses the power cut and the FSD,
//! and loses power uncleanly. So, instead of refusing newcomers when the
//! slots run out, as upsd does, the server closes the connection that has
//! been idle longest among those that did not LOGIN; a connection that
//! did LOGIN (an upsmon) is never closed to make room.
//!
//! - Each source may hold a bounded number of connections that have not
//!   logged in ([`Limits`]); a source is an IPv4 address, an IPv6 /64
//!   (one host usually holds a whole /64), or the loopback as a whole
//!   (`127.0.0.0/8` and `::1`, which any local program can pick from).
//!   A newcomer from a source at its limit makes room among that
//!   source's own connections, so a flooding source only competes with
//!   itself. Networks can be given their own per-source limit (a NAT
//!   gateway that stands for a whole site, say), 0 for none.
//! - When every slot is taken, the longest-idle connection that has not
//!   logged in, from any source, is closed; when every slot is a logged-
//!   in session, the newcomer is refused.
//!
//! "Idle longest" means: first a connection that has never sent a
//! complete request line, oldest accept first (every real client speaks
//! at once; a silent one is a dead probe or a flood), then the one whose
//! last line is oldest, the same clock as the idle timeout. So a burst of
//! silent connections churns among itself, and a client busy logging in
//! is the last to go. The order is kept in linked lists, so that every
//! operation is O(1) and a flood costs no scan of the table.
//!
//! Connection ids are the server's slot numbers, `0..capacity`. Nothing
//! here reads a clock or a socket: `now` is milliseconds on the server's
//! monotonic clock, as everywhere in `proto`.

use super::tracking::mix;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Connections that have not logged in that one source may hold
/// (`MAXCONN_PER_SOURCE`): well above what a host's readers (Home
/// Assistant, exporters, a web page, scripts) hold at once.
pub const DEFAULT_PER_SOURCE: u32 = 32;
/// A second eviction within this long of the last is part of the same
/// episode (not logged again).
pub const QUIET_MS: u64 = 60_000;

/// Where connections come from, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `127.0.0.0/8` and `::1` (also IPv4-mapped), all as one.
    Loopback,
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6(u64),
}

impl Source {
    pub fn of(addr: IpAddr) -> Source {
        match addr {
            IpAddr::V4(a) if a.is_loopback() => Source::Loopback,
            IpAddr::V4(a) => Source::V4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Source::of(IpAddr::V4(v4)),
                None if a.is_loopback() => Source::Loopback,
                None => Source::V6((u128::from(a) >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Loopback => f.write_str("loopback"),
            Source::V4(a) => write!(f, "{a}"),
            Source::V6(p) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*p) << 64)),
        }
    }
}

/// An address range: `addr/bits`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    /// `192.168.1.0/24`, `2001:db8::/48`, `10.0.0.1`, `::1`. Host bits
    /// must be zero (`192.168.1.1/24` is refused: which was meant?).
    pub fn parse(s: &str) -> Result<Net, String> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{s}' is not an address or address/bits"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            // Digits only: `parse` would take "+8".
            Some(b) => Some(b)
                .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|b| b.parse::<u8>().ok())
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
        };
        let net = Net { addr, bits };
        if net.mask(addr) != addr {
            return Err(format!(
                "'{s}' has bits set past /{bits}: write {}/{bits}",
                net.mask(addr)
            ));
        }
        Ok(net)
    }

    /// `a` with the bits past the prefix cleared.
    fn mask(&self, a: IpAddr) -> IpAddr {
        match a {
            IpAddr::V4(v) => {
                let m = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v) & m))
            }
            IpAddr::V6(v) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v) & m))
            }
        }
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        let a = match a {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(a, IpAddr::V4),
            a => a,
        };
        a.is_ipv4() == self.addr.is_ipv4() && self.mask(a) == self.addr
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

/// How many connections that have not logged in a source may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// For every source no network below names (0: no limit).
    pub per_source: u32,
    /// Networks with their own per-source limit; the longest prefix that
    /// contains the address wins.
    pub networks: Vec<(Net, u32)>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_source: DEFAULT_PER_SOURCE,
            networks: Vec::new(),
        }
    }
}

impl Limits {
    /// The limit for connections from `addr` (0: none). The loopback is
    /// one source: a network holding `127.0.0.1` or `::1` sets its limit
    /// whichever loopback address a client uses.
    pub fn of(&self, addr: IpAddr) -> u32 {
        let loopback = Source::of(addr) == Source::Loopback;
        let lo4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let lo6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        self.networks
            .iter()
            .filter(|(n, _)| n.contains(addr) || (loopback && (n.contains(lo4) || n.contains(lo6))))
            .max_by_key(|(n, _)| n.bits)
            .map_or(self.per_source, |&(_, l)| l)
    }
}

const NIL: u32 = u32::MAX;

/// Links of one list.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

const UNLINKED: Links = Links {
    prev: NIL,
    next: NIL,
};

#[derive(Debug, Clone, Copy)]
struct Rec {
    source: Source,
    /// Did LOGIN: in no list, never closed to make room.
    logged_in: bool,
    /// Last complete line, or the accept.
    active: u64,
    /// Sent a complete line: in the `spoke` lists, else the `silent` ones.
    spoke: bool,
    /// Among every connection that has not logged in, oldest first.
    all: Links,
    /// Among its source's.
    own: Links,
}

/// A list's ends.
#[derive(Debug, Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
}

const EMPTY: Ends = Ends {
    head: NIL,
    tail: NIL,
};

/// Connections that have not logged in: those that never spoke, then
/// those that did, each oldest first.
#[derive(Debug, Clone, Copy)]
struct Tiers {
    silent: Ends,
    spoke: Ends,
}

const NO_TIERS: Tiers = Tiers {
    silent: EMPTY,
    spoke: EMPTY,
};

impl Tiers {
    /// Who goes first.
    fn head(&self) -> u32 {
        match self.silent.head {
            NIL => self.spoke.head,
            h => h,
        }
    }

    fn ends(&mut self, spoke: bool) -> &mut Ends {
        if spoke {
            &mut self.spoke
        } else {
            &mut self.silent
        }
    }
}

/// One source's connections that have not logged in.
#[derive(Debug, Clone, Copy)]
struct Group {
    count: u32,
    tiers: Tiers,
}

/// Why a connection is closed to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The newcomer's source holds its limit of connections.
    SourceFull { limit: u32 },
    /// Every slot is taken.
    ServerFull,
}

/// Close connection `id` first, then admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evict {
    pub id: usize,
    pub why: Why,
    /// Its source.
    pub source: Source,
    /// Milliseconds since its last line.
    pub idle_ms: u64,
    /// The first eviction for a while ([`QUIET_MS`]): worth a log line.
    pub first: bool,
}

/// What to do with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Give it a slot, after closing the one named, if any.
    Admit(Option<Evict>),
    /// Every slot is a logged-in session: close the newcomer. `first` as
    /// for [`Evict`].
    Refuse { first: bool },
}

/// The groups' hasher: each word of a source is mixed into a state that
/// starts from a secret key, so a flood of chosen addresses cannot aim
/// at one bucket without knowing the key. (std's `RandomState` does the
/// same with SipHash, at about 2 KB more on a router's flash.)
#[derive(Debug, Clone, Copy)]
pub struct Keyed(u64);

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher(self.0)
    }
}

#[derive(Debug)]
pub struct KeyedHasher(u64);

impl Hasher for KeyedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, w: u64) {
        self.0 = mix(self.0 ^ w);
    }
    fn write_u32(&mut self, w: u32) {
        self.write_u64(u64::from(w));
    }
    fn write_u8(&mut self, w: u8) {
        self.write_u64(u64::from(w));
    }
    fn write_usize(&mut self, w: usize) {
        self.write_u64(w as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The open connections, as admission sees them.
#[derive(Debug, Clone)]
pub struct Admission {
    /// By connection id; made as ids are first used (memory follows the
    /// connections open, not the capacity).
    recs: Vec<Option<Rec>>,
    capacity: usize,
    all: Tiers,
    groups: HashMap<Source, Group, Keyed>,
    open: usize,
    limits: Limits,
    /// When the last eviction or refusal was decided.
    last_pressed: Option<u64>,
}

impl Admission {
    /// For `capacity` slots (ids `0..capacity`).
    pub fn new(capacity: usize, limits: Limits) -> Admission {
        Admission {
            recs: Vec::new(),
            capacity,
            all: NO_TIERS,
            groups: HashMap::with_hasher(Keyed(0)),
            open: 0,
            limits,
            last_pressed: None,
        }
    }

    /// New limits (a reload); open connections stay, a source above its
    /// new limit shrinks as newcomers arrive.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The same, hashing sources with `key` (random in the daemon: see
    /// [`Keyed`]). Before the first connection only.
    pub fn keyed(mut self, key: u64) -> Admission {
        debug_assert!(self.groups.is_empty());
        self.groups = HashMap::with_hasher(Keyed(key));
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Connections open.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Connections from `addr`'s source that have not logged in.
    pub fn held(&self, addr: IpAddr) -> u32 {
        self.groups.get(&Source::of(addr)).map_or(0, |g| g.count)
    }

    /// A connection from `addr` arrives at `now`: where does it go?
    /// The caller closes the evicted connection ([`Admission::closed`])
    /// before it records the newcomer ([`Admission::opened`]).
    pub fn decide(&mut self, addr: IpAddr, now: u64) -> Decision {
        let source = Source::of(addr);
        let limit = self.limits.of(addr);
        let victim = match self.groups.get(&source) {
            Some(g) if limit > 0 && g.count >= limit => {
                Some((g.tiers.head(), Why::SourceFull { limit }))
            }
            _ if self.open >= self.capacity => match self.all.head() {
                NIL => None,
                id => Some((id, Why::ServerFull)),
            },
            _ => return Decision::Admit(None),
        };
        let first = self
            .last_pressed
            .map_or(true, |t| now.saturating_sub(t) >= QUIET_MS);
        self.last_pressed = Some(now);
        match victim {
            None => Decision::Refuse { first },
            Some((id, why)) => {
                let r = self.recs[id as usize].expect("a listed connection is open");
                Decision::Admit(Some(Evict {
                    id: id as usize,
                    why,
                    source: r.source,
                    idle_ms: now.saturating_sub(r.active),
                    first,
                }))
            }
        }
    }

    /// Connection `id` from `addr` was accepted at `now`. An id already
    /// open is first closed (a slot the caller reused without saying).
    pub fn opened(&mut self, id: usize, addr: IpAddr, now: u64) {
        if id >= self.capacity {
            return;
        }
        if id >= self.recs.len() {
            self.recs.resize(id + 1, None);
        }
        self.closed(id);
        let source = Source::of(addr);
        self.recs[id] = Some(Rec {
            source,
            logged_in: false,
            active: now,
            spoke: false,
            all: UNLINKED,
            own: UNLINKED,
        });
        self.open += 1;
        self.link(id as u32);
    }

    /// Connection `id` sent a complete line at `now`.
    pub fn active(&mut self, id: usize, now: u64) {
        let Some(Some(r)) = self.recs.get_mut(id) else {
            return;
        };
        r.active = now;
        if !r.logged_in {
            self.unlink(id as u32);
            self.rec(id as u32).spoke = true;
            self.link(id as u32);
        }
    }

    /// Connection `id` did LOGIN: never closed to make room from now on,
    /// and no longer counted against its source.
    pub fn logged_in(&mut self, id: usize) {
        let Some(Some(r)) = self.recs.get(id) else {
            return;
        };
        if !r.logged_in {
            self.unlink(id as u32);
            if let Some(Some(r)) = self.recs.get_mut(id) {
                r.logged_in = true;
            }
        }
    }

    /// Connection `id` closed (for whatever reason).
    pub fn closed(&mut self, id: usize) {
        let Some(Some(r)) = self.recs.get(id) else {
            return;
        };
        if !r.logged_in {
            self.unlink(id as u32);
        }
        self.recs[id] = None;
        self.open -= 1;
        if self.open == 0 {
            // Nobody left (no list holds anyone): the table's memory goes.
            self.recs = Vec::new();
        }
    }

    fn rec(&mut self, id: u32) -> &mut Rec {
        self.recs[id as usize]
            .as_mut()
            .expect("a linked connection is open")
    }

    /// Append `id` (open, not logged in) at the young end of its tier,
    /// in both lists.
    fn link(&mut self, id: u32) {
        let Rec { source, spoke, .. } = *self.rec(id);
        let tail = self.all.ends(spoke).tail;
        self.rec(id).all = Links {
            prev: tail,
            next: NIL,
        };
        match tail {
            NIL => self.all.ends(spoke).head = id,
            t => self.rec(t).all.next = id,
        }
        self.all.ends(spoke).tail = id;
        let g = self.groups.entry(source).or_insert(Group {
            count: 0,
            tiers: NO_TIERS,
        });
        g.count += 1;
        let ends = g.tiers.ends(spoke);
        let tail = ends.tail;
        if tail == NIL {
            ends.head = id;
        }
        ends.tail = id;
        self.rec(id).own = Links {
            prev: tail,
            next: NIL,
        };
        if tail != NIL {
            self.rec(tail).own.next = id;
        }
    }

    /// Take `id` out of both lists.
    fn unlink(&mut self, id: u32) {
        let Rec {
            source,
            spoke,
            all,
            own,
            ..
        } = *self.rec(id);
        match all.prev {
            NIL => self.all.ends(spoke).head = all.next,
            p => self.rec(p).all.next = all.next,
        }
        match all.next {
            NIL => self.all.ends(spoke).tail = all.prev,
            n => self.rec(n).all.prev = all.prev,
        }
        if own.prev != NIL {
            self.rec(own.prev).own.next = own.next;
        }
        if own.next != NIL {
            self.rec(own.next).own.prev = own.prev;
        }
        let r = self.rec(id);
        r.all = UNLINKED;
        r.own = UNLINKED;
        if let Some(g) = self.groups.get_mut(&source) {
            let ends = g.tiers.ends(spoke);
            if own.prev == NIL {
                ends.head = own.next;
            }
            if own.next == NIL {
                ends.tail = own.prev;
            }
            g.count -= 1;
            if g.count == 0 {
                self.groups.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_hash_by_key_and_spread() {
        let v4 = |a: u32| Source::V4(Ipv4Addr::from(a));
        let (k1, k2) = (Keyed(1), Keyed(2));
        assert_eq!(k1.hash_one(v4(7)), k1.hash_one(v4(7)));
        assert_ne!(k1.hash_one(v4(7)), k2.hash_one(v4(7)));
        // Neighbouring addresses land in different buckets of a small
        // table (hashbrown takes the low bits).
        let mut low: Vec<u64> = (0..64).map(|a| k1.hash_one(v4(a)) & 1023).collect();
        low.sort_unstable();
        low.dedup();
        assert!(low.len() > 56, "{}", low.len());
        assert_ne!(k1.hash_one(Source::V6(5)), k1.hash_one(v4(5)));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limits(per_source: u32) -> Limits {
        Limits {
            per_source,
            networks: Vec::new(),
        }
    }

    /// Decide and carry out, as the server does; the id taken or `None`
    /// when refused, and the eviction.
    fn arrive(
        a: &mut Admission,
        free: &mut Vec<usize>,
        addr: &str,
        now: u64,
    ) -> (Option<usize>, Option<Evict>) {
        match a.decide(ip(addr), now) {
            Decision::Refuse { .. } => (None, None),
            Decision::Admit(ev) => {
                if let Some(e) = ev {
                    a.closed(e.id);
                    free.push(e.id);
                }
                let id = free.pop().expect("a free slot after the decision");
                a.opened(id, ip(addr), now);
                (Some(id), ev)
            }
        }
    }

    fn slots(n: usize) -> Vec<usize> {
        (0..n).rev().collect()
    }

    #[test]
    fn sources_group_loopback_and_ipv6_64() {
        assert_eq!(Source::of(ip("127.0.0.1")), Source::Loopback);
        assert_eq!(Source::of(ip("127.3.2.1")), Source::Loopback);
        assert_eq!(Source::of(ip("::1")), Source::Loopback);
        assert_eq!(Source::of(ip("::ffff:127.0.0.1")), Source::Loopback);
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.7")),
            Source::of(ip("192.0.2.7"))
        );
        assert_eq!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_ne!(Source::of(ip("192.0.2.1")), Source::of(ip("192.0.2.2")));
        assert_eq!(
            Source::of(ip("2001:db8:1:2::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(Source::of(ip("::1")).to_string(), "loopback");
    }

    #[test]
    fn networks_parse_and_match() {
        let n = Net::parse("192.168.1.0/24").unwrap();
        assert!(n.contains(ip("192.168.1.200")));
        assert!(n.contains(ip("::ffff:192.168.1.200")));
        assert!(!n.contains(ip("192.168.2.1")));
        assert!(!n.contains(ip("2001:db8::1")));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Net::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(Net::parse("10.0.0.1").unwrap().contains(ip("10.0.0.1")));
        assert!(!Net::parse("10.0.0.1").unwrap().contains(ip("10.0.0.2")));
        assert!(Net::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8:ffff::1")));
        assert_eq!(
            Net::parse("192.168.1.1/24").unwrap_err(),
            "'192.168.1.1/24' has bits set past /24: write 192.168.1.0/24"
        );
        assert_eq!(
            Net::parse("10.0.0.0/33").unwrap_err(),
            "'10.0.0.0/33': the prefix length must be 0 to 32"
        );
        assert_eq!(
            Net::parse("10.0.0.0/+8").unwrap_err(),
            "'10.0.0.0/+8': the prefix length must be 0 to 32"
        );
        assert_eq!(
            Net::parse("nas.local").unwrap_err(),
            "'nas.local' is not an address or address/bits"
        );
    }

    #[test]
    fn the_longest_network_wins_and_loopback_is_one() {
        let l = Limits {
            per_source: 32,
            networks: vec![
                (Net::parse("10.0.0.0/8").unwrap(), 64),
                (Net::parse("10.1.2.3").unwrap(), 0),
                (Net::parse("127.0.0.1").unwrap(), 100),
            ],
        };
        assert_eq!(l.of(ip("192.0.2.1")), 32);
        assert_eq!(l.of(ip("10.9.9.9")), 64);
        assert_eq!(l.of(ip("10.1.2.3")), 0);
        assert_eq!(l.of(ip("127.0.0.1")), 100);
        // The same source, whatever loopback address is used.
        assert_eq!(l.of(ip("::1")), 100);
        assert_eq!(l.of(ip("127.0.0.2")), 100);
        assert_eq!(limits(5).of(ip("::1")), 5);
    }

    #[test]
    fn a_source_at_its_limit_makes_room_among_its_own() {
        let mut a = Admission::new(10, limits(3));
        let mut free = slots(10);
        let mut ids = Vec::new();
        for t in 0..3 {
            let (id, ev) = arrive(&mut a, &mut free, "192.0.2.1", t);
            assert_eq!(ev, None);
            ids.push(id.unwrap());
        }
        let other = arrive(&mut a, &mut free, "192.0.2.2", 3).0.unwrap();
        // The source's second connection speaks: the first is its oldest.
        a.active(ids[1], 10);
        let (_, ev) = arrive(&mut a, &mut free, "192.0.2.1", 20);
        let ev = ev.unwrap();
        assert_eq!(ev.id, ids[0]);
        assert_eq!(ev.why, Why::SourceFull { limit: 3 });
        assert_eq!(ev.source, Source::of(ip("192.0.2.1")));
        assert_eq!(ev.idle_ms, 20);
        assert!(ev.first);
        assert_eq!(a.held(ip("192.0.2.1")), 3);
        // Then the third (silent since 2); then not the second, which
        // spoke, but the silent newcomer of 20.
        assert_eq!(
            arrive(&mut a, &mut free, "192.0.2.1", 21).1.unwrap().id,
            ids[2]
        );
        let (nc20, nc21) = (ids[0], ids[2]);
        let ev = arrive(&mut a, &mut free, "192.0.2.1", 22).1.unwrap();
        assert_eq!(ev.id, nc20);
        assert!(!ev.first, "the same episode");
        // Once every other one has spoken more recently, the second goes.
        a.active(nc21, 30);
        let nc22 = ev.id;
        a.active(nc22, 31);
        assert_eq!(
            arrive(&mut a, &mut free, "192.0.2.1", 40).1.unwrap().id,
            ids[1]
        );
        // The other source was never touched.
        assert_eq!(a.held(ip("192.0.2.2")), 1);
        assert!(a.recs[other].is_some());
        assert_eq!(a.open(), 4);
    }

    #[test]
    fn logged_in_sessions_are_never_closed_and_not_counted() {
        let mut a = Admission::new(4, limits(2));
        let mut free = slots(4);
        let up = arrive(&mut a, &mut free, "127.0.0.1", 0).0.unwrap();
        a.active(up, 1);
        a.logged_in(up);
        assert_eq!(a.held(ip("127.0.0.1")), 0);
        // The flood from the same address: it churns through two slots.
        let mut seen = Vec::new();
        for t in 10..100 {
            let (id, ev) = arrive(&mut a, &mut free, "127.0.0.1", t);
            assert!(id.is_some());
            if let Some(e) = ev {
                assert_ne!(e.id, up);
                seen.push(e.id);
            }
        }
        assert_eq!(seen.len(), 88);
        assert_eq!(a.open(), 3);
        assert!(a.recs[up].is_some_and(|r| r.logged_in));
        // Another upsmon from there connects and logs in: room is made.
        let (id, ev) = arrive(&mut a, &mut free, "::1", 200);
        assert!(ev.is_some_and(|e| e.id != up));
        a.logged_in(id.unwrap());
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn upsmon_logs_in_through_a_flood_from_its_own_address() {
        // The default limits; 1,100 silent connections from the loopback,
        // then upsmon from there, and the flood goes on while it logs in.
        let mut a = Admission::new(1024, Limits::default());
        let mut free = slots(1024);
        for t in 0..1100 {
            assert!(arrive(&mut a, &mut free, "127.0.0.1", t).0.is_some());
        }
        assert_eq!(a.held(ip("127.0.0.1")), DEFAULT_PER_SOURCE);
        let (up, ev) = arrive(&mut a, &mut free, "127.0.0.1", 2000);
        let up = up.unwrap();
        assert!(ev.is_some_and(|e| e.why == Why::SourceFull { limit: 32 }));
        // STARTTLS, USERNAME, PASSWORD: a line each, 500 more connections
        // in between.
        for (k, line_at) in [2001, 2002, 2003].into_iter().enumerate() {
            a.active(up, line_at);
            for t in 0..500 {
                let (_, ev) = arrive(&mut a, &mut free, "127.0.0.1", 3000 + k as u64 * 500 + t);
                assert_ne!(ev.unwrap().id, up, "upsmon closed before LOGIN");
            }
        }
        a.logged_in(up);
        for t in 0..2000 {
            let (_, ev) = arrive(&mut a, &mut free, "::1", 10_000 + t);
            assert!(ev.map_or(t == 0, |e| e.id != up));
        }
        // The rest of the slots stayed free for everybody else.
        assert_eq!(a.open(), DEFAULT_PER_SOURCE as usize + 1);
        assert_eq!(arrive(&mut a, &mut free, "192.0.2.1", 20_000).1, None);
    }

    #[test]
    fn a_full_server_closes_the_longest_idle_not_logged_in() {
        let mut a = Admission::new(4, limits(0));
        let mut free = slots(4);
        let ids: Vec<usize> = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
            .iter()
            .enumerate()
            .map(|(t, s)| arrive(&mut a, &mut free, s, t as u64).0.unwrap())
            .collect();
        a.logged_in(ids[0]);
        a.active(ids[1], 50);
        // Oldest not logged in: the third (since 2).
        let ev = arrive(&mut a, &mut free, "198.51.100.1", 60).1.unwrap();
        assert_eq!((ev.id, ev.why, ev.idle_ms), (ids[2], Why::ServerFull, 58));
        // Then the fourth (silent since 3), then the silent newcomer of
        // 60 rather than the second, which spoke.
        assert_eq!(
            arrive(&mut a, &mut free, "198.51.100.2", 61).1.unwrap().id,
            ids[3]
        );
        let nc60 = ids[2];
        assert_eq!(
            arrive(&mut a, &mut free, "198.51.100.3", 62).1.unwrap().id,
            nc60
        );
        assert_eq!(a.open(), 4);
    }

    #[test]
    fn every_slot_logged_in_refuses_the_newcomer() {
        let mut a = Admission::new(2, limits(1));
        let mut free = slots(2);
        for (t, s) in ["192.0.2.1", "192.0.2.2"].iter().enumerate() {
            let id = arrive(&mut a, &mut free, s, t as u64).0.unwrap();
            a.logged_in(id);
        }
        assert_eq!(
            a.decide(ip("192.0.2.3"), 10),
            Decision::Refuse { first: true }
        );
        assert_eq!(
            a.decide(ip("192.0.2.3"), 11),
            Decision::Refuse { first: false }
        );
        // A minute later it is news again.
        assert_eq!(
            a.decide(ip("192.0.2.3"), 11 + QUIET_MS),
            Decision::Refuse { first: true }
        );
        a.closed(0);
        assert_eq!(
            a.decide(ip("192.0.2.3"), 12 + QUIET_MS),
            Decision::Admit(None)
        );
    }

    #[test]
    fn no_limit_for_a_network_and_a_limit_of_zero() {
        let l = Limits {
            per_source: 1,
            networks: vec![(Net::parse("10.0.0.0/8").unwrap(), 0)],
        };
        let mut a = Admission::new(8, l);
        let mut free = slots(8);
        for t in 0..8 {
            assert_eq!(arrive(&mut a, &mut free, "10.0.0.1", t).1, None);
        }
        // Full: the oldest goes, even in the unlimited network.
        assert_eq!(
            arrive(&mut a, &mut free, "192.0.2.1", 9).1.unwrap().why,
            Why::ServerFull
        );
        // And the single-connection source makes room among its own.
        let ev = arrive(&mut a, &mut free, "192.0.2.1", 10).1.unwrap();
        assert_eq!(ev.why, Why::SourceFull { limit: 1 });
    }

    #[test]
    fn bookkeeping_survives_any_order_of_events() {
        // A small model run against the lists: counts and order agree.
        let mut a = Admission::new(16, limits(3));
        let mut free = slots(16);
        let addrs = [
            "127.0.0.1",
            "::1",
            "192.0.2.1",
            "2001:db8::1",
            "2001:db8::2",
            "192.0.2.9",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for t in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let open: Vec<usize> = (0..16)
                .filter(|&i| a.recs.get(i).is_some_and(Option::is_some))
                .collect();
            match x % 5 {
                0 | 1 => {
                    arrive(&mut a, &mut free, addrs[(x >> 8) as usize % addrs.len()], t);
                }
                2 if !open.is_empty() => a.active(open[(x >> 8) as usize % open.len()], t),
                3 if !open.is_empty() => a.logged_in(open[(x >> 8) as usize % open.len()]),
                4 if !open.is_empty() => {
                    let id = open[(x >> 8) as usize % open.len()];
                    a.closed(id);
                    free.push(id);
                }
                _ => {}
            }
            // Check: counts per source, the global list in activity order.
            let mut count: HashMap<Source, u32> = HashMap::new();
            for r in a.recs.iter().flatten().filter(|r| !r.logged_in) {
                *count.entry(r.source).or_default() += 1;
            }
            assert_eq!(a.groups.len(), count.len());
            for (s, n) in &count {
                assert_eq!(a.groups[s].count, *n);
            }
            let mut walked = 0;
            for spoke in [false, true] {
                let mut last = 0;
                let mut i = a.all.ends(spoke).head;
                while i != NIL {
                    let r = a.recs[i as usize].unwrap();
                    assert!(!r.logged_in && r.spoke == spoke && r.active >= last);
                    last = r.active;
                    walked += 1;
                    i = r.all.next;
                }
            }
            assert_eq!(walked, count.values().sum::<u32>());
            // Each source's lists hold its own, in order, as many as counted.
            for (s, g) in &mut a.groups.clone() {
                let mut n = 0;
                for spoke in [false, true] {
                    let mut last = 0;
                    let mut i = g.tiers.ends(spoke).head;
                    while i != NIL {
                        let r = a.recs[i as usize].unwrap();
                        assert!(r.source == *s && r.spoke == spoke && r.active >= last);
                        last = r.active;
                        n += 1;
                        i = r.own.next;
                    }
                }
                assert_eq!(n, g.count);
            }
            assert_eq!(a.open(), a.recs.iter().flatten().count());
            assert_eq!(a.open() + free.len(), 16);
        }
    }
}
