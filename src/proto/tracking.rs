//! TRACKING ids and results (`docs/design/nut-protocol.md` §9).
//!
//! An id names one forwarded `SET VAR` or `INSTCMD` so a client can ask
//! for its result later. Ids are UUIDv4, printed in upper case. They come
//! from a small generator each session seeds once (the server passes a
//! random seed), so this module reads no clock and no entropy source. The
//! table of results ([`Table`]) is kept by the server and given the time.

use core::fmt;

/// A tracking id: 16 bytes with the UUIDv4 version and variant bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackingId([u8; 16]);

/// Printed length of a [`TrackingId`].
pub const TRACKING_ID_LEN: usize = 36;

impl TrackingId {
    /// Make an id from random bytes, forcing the version 4 and RFC 4122
    /// variant bits as upsd does.
    pub const fn from_random(mut b: [u8; 16]) -> Self {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        TrackingId(b)
    }

    /// Parse the 36-character form, hex digits in either case (upsd
    /// compares ids case-insensitively). Version bits are not checked: an
    /// id this server never issued is simply unknown.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != TRACKING_ID_LEN {
            return None;
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0;
        for (i, &c) in s.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let v = (c as char).to_digit(16)? as u8;
            out[nibbles / 2] |= if nibbles % 2 == 0 { v << 4 } else { v };
            nibbles += 1;
        }
        Some(TrackingId(out))
    }

    pub const fn bytes(&self) -> [u8; 16] {
        self.0
    }

    /// The printed form, `XXXXXXXX-XXXX-4XXX-YXXX-XXXXXXXXXXXX`.
    pub fn text(&self) -> [u8; TRACKING_ID_LEN] {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [b'-'; TRACKING_ID_LEN];
        let mut at = 0;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            out[at] = HEX[(b >> 4) as usize];
            out[at + 1] = HEX[(b & 15) as usize];
            at += 2;
        }
        out
    }
}

impl fmt::Display for TrackingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.text();
        f.write_str(core::str::from_utf8(&t).unwrap_or(""))
    }
}

/// splitmix64's increment (2^64 / the golden ratio).
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's step from a state: a bijection that spreads every input
/// bit (also admission's hash of connection sources).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Issues tracking ids (splitmix64 over a seed the server chose at random).
#[derive(Debug, Clone)]
pub struct IdGen(u64);

impl IdGen {
    pub const fn new(seed: u64) -> Self {
        IdGen(seed)
    }

    fn next_u64(&mut self) -> u64 {
        let z = mix(self.0);
        self.0 = self.0.wrapping_add(GOLDEN);
        z
    }

    pub fn next_id(&mut self) -> TrackingId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        TrackingId::from_random(b)
    }
}

/// What `GET TRACKING <id>` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStatus {
    Pending,
    Success,
    /// Also the answer for ids that are unknown or expired.
    Unknown,
    InvalidArgument,
    Failed,
}

impl TrackingStatus {
    /// The whole reply line, without its LF.
    pub const fn as_str(self) -> &'static str {
        match self {
            TrackingStatus::Pending => "PENDING",
            TrackingStatus::Success => "SUCCESS",
            TrackingStatus::Unknown => "ERR UNKNOWN",
            TrackingStatus::InvalidArgument => "ERR INVALID-ARGUMENT",
            TrackingStatus::Failed => "ERR FAILED",
        }
    }

    /// Map a driver's `STAT_INSTCMD_*`/`STAT_SET_*` result as upsd does:
    /// 0 handled, 1 unknown, 2 invalid, 3 failed, 4 conversion failed.
    pub const fn from_driver(code: i32) -> Self {
        match code {
            0 => TrackingStatus::Success,
            2 | 4 => TrackingStatus::InvalidArgument,
            3 => TrackingStatus::Failed,
            _ => TrackingStatus::Unknown,
        }
    }
}

/// TRACKING results kept at most (the oldest goes first).
pub const TABLE_CAP: usize = 1024;

/// The server's TRACKING results: oldest first, each kept for
/// TRACKINGDELAY after it started, at most [`TABLE_CAP`] of them. Time is
/// the caller's milliseconds.
#[derive(Debug)]
pub struct Table {
    items: Vec<(TrackingId, TrackingStatus, u64)>,
    ttl_ms: u64,
}

impl Table {
    /// An empty table keeping results for `ttl_ms` (TRACKINGDELAY).
    pub fn new(ttl_ms: u64) -> Table {
        Table {
            items: Vec::with_capacity(TABLE_CAP),
            ttl_ms,
        }
    }

    /// A new TRACKINGDELAY (a reload); results already kept follow it.
    pub fn set_ttl(&mut self, ttl_ms: u64) {
        self.ttl_ms = ttl_ms;
    }

    /// Forget results older than the TTL.
    pub fn expire(&mut self, now: u64) {
        let ttl = self.ttl_ms;
        if self.items.first().is_some_and(|e| now - e.2 > ttl) {
            self.items.retain(|e| now - e.2 <= ttl);
        }
    }

    /// A forwarded request starts as `PENDING`; a full table drops its
    /// oldest result.
    pub fn start(&mut self, id: TrackingId, now: u64) {
        if self.items.len() == TABLE_CAP {
            self.items.remove(0);
        }
        self.items.push((id, TrackingStatus::Pending, now));
    }

    /// The request `id` ended (nothing happens for an id not kept).
    pub fn finish(&mut self, id: Option<TrackingId>, st: TrackingStatus) {
        if let Some(e) = self.items.iter_mut().find(|e| Some(e.0) == id) {
            e.1 = st;
        }
    }

    /// `UNKNOWN` for an id not kept (never issued, or expired).
    pub fn get(&self, id: TrackingId) -> TrackingStatus {
        self.items
            .iter()
            .find(|e| e.0 == id)
            .map_or(TrackingStatus::Unknown, |e| e.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_upper_case_with_version_and_variant() {
        let id = TrackingId::from_random([0xff; 16]);
        assert_eq!(id.to_string(), "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF");
        let id = TrackingId::from_random([0; 16]);
        assert_eq!(id.to_string(), "00000000-0000-4000-8000-000000000000");
        let mut g = IdGen::new(1);
        let a = g.next_id();
        let b = g.next_id();
        assert_ne!(a, b);
        let t = a.to_string();
        assert_eq!(t.len(), TRACKING_ID_LEN);
        assert_eq!(&t[14..15], "4");
        assert!(matches!(&t[19..20], "8" | "9" | "A" | "B"), "{t}");
    }

    #[test]
    fn ids_follow_splitmix64() {
        // splitmix64's published first outputs from seed 0: `mix` is its
        // step, and the generator steps the state after mixing it.
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
        let mut g = IdGen::new(0);
        let got = [g.next_u64(), g.next_u64(), g.next_u64()];
        assert_eq!(
            got,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn parse_is_case_insensitive_and_strict_about_shape() {
        let id = IdGen::new(42).next_id();
        let upper = id.to_string();
        assert_eq!(TrackingId::parse(&upper), Some(id));
        assert_eq!(TrackingId::parse(&upper.to_lowercase()), Some(id));
        assert_eq!(TrackingId::parse(&upper[1..]), None);
        assert_eq!(TrackingId::parse(&upper.replace('-', "x")), None);
        assert_eq!(
            TrackingId::parse("G0000000-0000-4000-8000-000000000000"),
            None
        );
    }

    #[test]
    fn driver_codes() {
        let got: Vec<_> = (-1..6)
            .map(|c| TrackingStatus::from_driver(c).as_str())
            .collect();
        assert_eq!(
            got,
            [
                "ERR UNKNOWN",
                "SUCCESS",
                "ERR UNKNOWN",
                "ERR INVALID-ARGUMENT",
                "ERR FAILED",
                "ERR INVALID-ARGUMENT",
                "ERR UNKNOWN"
            ]
        );
    }

    #[test]
    fn the_table_keeps_results_for_the_ttl_and_at_most_its_capacity() {
        let mut t = Table::new(1000);
        let mut g = IdGen::new(7);
        let (a, b) = (g.next_id(), g.next_id());
        assert_eq!(t.get(a), TrackingStatus::Unknown);
        t.start(a, 0);
        t.start(b, 500);
        assert_eq!(t.get(a), TrackingStatus::Pending);
        t.finish(Some(a), TrackingStatus::Success);
        t.finish(None, TrackingStatus::Failed);
        assert_eq!(
            (t.get(a), t.get(b)),
            (TrackingStatus::Success, TrackingStatus::Pending)
        );
        // Kept for the TTL after it started, then forgotten.
        t.expire(1000);
        assert_eq!(t.get(a), TrackingStatus::Success);
        t.expire(1001);
        assert_eq!(
            (t.get(a), t.get(b)),
            (TrackingStatus::Unknown, TrackingStatus::Pending)
        );
        // A reload's TRACKINGDELAY applies to what is kept.
        t.set_ttl(10_000);
        t.expire(2000);
        assert_eq!(t.get(b), TrackingStatus::Pending);
        // Full: the oldest goes first.
        let ids: Vec<TrackingId> = (0..TABLE_CAP).map(|_| g.next_id()).collect();
        for &id in &ids {
            t.start(id, 2000);
        }
        assert_eq!(t.get(b), TrackingStatus::Unknown);
        assert_eq!(t.get(ids[0]), TrackingStatus::Pending);
        assert_eq!(t.get(ids[TABLE_CAP - 1]), TrackingStatus::Pending);
    }
}
