//! The server's connection timers as a deadline queue, so that a pass of
//! the loop costs nothing per idle or empty connection slot.
//!
//! Each open connection has at most one entry: the time its idle timeout
//! would fire, as it was when the entry was made. A request does not touch
//! the queue. When an entry falls due the server looks at the connection:
//! idle too long, it is closed; heard from since, its entry is made again
//! for its new deadline. So a busy connection costs one queue operation per
//! idle timeout (60 s), and finding the next deadline costs nothing.
//!
//! Entries carry the connection's sequence number besides its slot, so an
//! entry left by a closed connection is told from one of the connection
//! that reuses the slot: the server skips it when it falls due. Such
//! leftovers are bounded: [`Deadlines::compact`] drops them when they
//! outnumber the live entries.
//!
//! Nothing here reads a clock: times are the server's milliseconds.

use core::cmp::Reverse;
use std::collections::BinaryHeap;

/// One deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    /// When it falls due. Compared first: the queue gives the earliest.
    pub at: u64,
    /// The connection's sequence number (unique while the server runs).
    pub seq: u64,
    /// Its slot.
    pub slot: u32,
}

/// Deadlines, earliest first.
#[derive(Debug, Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl Deadlines {
    pub fn new() -> Self {
        Deadlines::default()
    }

    /// Connection `seq` in `slot` falls due at `at`.
    pub fn arm(&mut self, at: u64, slot: usize, seq: u64) {
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        self.heap.push(Reverse(Deadline { at, seq, slot }));
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.0.at)
    }

    /// Take the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Deadline> {
        if self.heap.peek()?.0.at > now {
            return None;
        }
        self.heap.pop().map(|e| e.0)
    }

    /// Entries held, leftovers of closed connections included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drop the leftovers of closed connections once they outnumber the
    /// `live` connections (with some slack, so this runs rarely); `keep`
    /// says whether an entry's connection is still open. Returns whether
    /// it ran. The memory kept follows the connections open, not the
    /// connections ever made.
    pub fn compact(&mut self, live: usize, keep: impl FnMut(&Deadline) -> bool) -> bool {
        if self.heap.len() <= 2 * live + 64 {
            return false;
        }
        let mut keep = keep;
        self.heap.retain(|e| keep(&e.0));
        if self.heap.capacity() > 4 * self.heap.len() + 64 {
            self.heap.shrink_to_fit();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_only_when_due() {
        let mut d = Deadlines::new();
        assert_eq!(d.next(), None);
        assert_eq!(d.pop_due(u64::MAX), None);
        d.arm(300, 2, 12);
        d.arm(100, 0, 10);
        d.arm(200, 1, 11);
        assert_eq!(d.next(), Some(100));
        assert_eq!(d.pop_due(99), None);
        let e = d.pop_due(100).unwrap();
        assert_eq!((e.at, e.slot, e.seq), (100, 0, 10));
        assert_eq!(d.next(), Some(200));
        assert_eq!(d.pop_due(250).map(|e| e.seq), Some(11));
        assert_eq!(d.pop_due(250), None);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn same_time_all_come_out() {
        let mut d = Deadlines::new();
        for s in 0..5 {
            d.arm(7, s, s as u64);
        }
        let mut got: Vec<u32> = core::iter::from_fn(|| d.pop_due(7))
            .map(|e| e.slot)
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(d.is_empty());
    }

    /// The server's use: re-arm a connection heard from since, close one
    /// that was not; a slot's old entry is told from its new tenant's.
    #[test]
    fn lazy_rearm_and_leftovers() {
        const IDLE: u64 = 60_000;
        // (seq, last heard) per slot.
        let mut slots: Vec<Option<(u64, u64)>> = vec![Some((1, 0)), Some((2, 0))];
        let mut d = Deadlines::new();
        d.arm(IDLE + 1, 0, 1);
        d.arm(IDLE + 1, 1, 2);
        // Slot 0 speaks at 30 s; slot 1 closes and is reused by seq 3 at 40 s.
        slots[0] = Some((1, 30_000));
        slots[1] = Some((3, 40_000));
        d.arm(40_000 + IDLE + 1, 1, 3);
        let mut closed = Vec::new();
        let now = IDLE + 1;
        while let Some(e) = d.pop_due(now) {
            match slots[e.slot as usize] {
                Some((seq, heard)) if seq == e.seq => {
                    if now > heard + IDLE {
                        closed.push(seq);
                        slots[e.slot as usize] = None;
                    } else {
                        d.arm(heard + IDLE + 1, e.slot as usize, seq);
                    }
                }
                _ => {} // a leftover of seq 2
            }
        }
        assert!(closed.is_empty());
        assert_eq!(d.next(), Some(30_000 + IDLE + 1));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn compaction_keeps_live_entries_only() {
        let mut d = Deadlines::new();
        for seq in 0..1000u64 {
            d.arm(seq, (seq % 10) as usize, seq);
        }
        // Ten connections are still open: the last seq of each slot.
        let live = |e: &Deadline| e.seq >= 990;
        assert!(!d.compact(1000, live));
        assert!(d.compact(10, live));
        assert_eq!(d.len(), 10);
        assert_eq!(d.next(), Some(990));
        assert!(!d.compact(10, live));
    }
}
