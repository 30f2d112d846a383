//! The bound on notification children (`NOTIFYCMD`, `wall`), as pure
//! bookkeeping: how many may run at once, which notice waits, which is
//! dropped, and when to say so.
//!
//! upsmon forks a child per notice without limit: a NOTIFYCMD that hangs
//! while the power flaps piles up processes for as long as it lasts. Here
//! at most `max_running` run at once; further notices wait in a queue of
//! `max_queued`, started in order as children end; when the queue is
//! full the oldest waiting notice is dropped, since the newest say most
//! about the present (a SHUTDOWN outranks the ONBATT before it).
//!
//! Each episode (from the first notice delayed until the queue is empty
//! again) is reported once when it starts delaying, once when it starts
//! dropping, and once when it ends, with its counts: a log line per notice
//! would be a flood of its own.
//!
//! Boundary: no processes here. The shell starts what [`Offer::Run`]
//! and [`Ended::next`] hand it, tells [`Bound::ended`] when a child ends,
//! and logs what the `say` flags ask.

use std::collections::VecDeque;

/// Notification children running at once.
pub const MAX_RUNNING: usize = 8;
/// Notices waiting for a child to end.
pub const MAX_QUEUED: usize = 64;

/// What to do with a notice offered.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<T> {
    /// Start it now (it counts as running).
    Run(T),
    /// It waits. `say`: the first delay of this episode.
    Queued { say: bool },
    /// It waits, and the oldest waiting notice was dropped to make room.
    /// `say`: the first drop of this episode.
    Dropped { oldest: T, say: bool },
}

/// What follows the end of a child.
#[derive(Debug, PartialEq, Eq)]
pub struct Ended<T> {
    /// Start this one now (it counts as running).
    pub next: Option<T>,
    /// The episode is over: `(delayed, dropped)` notices in it.
    pub calm: Option<(u64, u64)>,
}

/// Running and waiting notification children.
#[derive(Debug)]
pub struct Bound<T> {
    max_running: usize,
    max_queued: usize,
    running: usize,
    queue: VecDeque<T>,
    /// Counts of the episode under way (both 0: none).
    delayed: u64,
    dropped: u64,
}

impl<T> Default for Bound<T> {
    fn default() -> Self {
        Bound::new(MAX_RUNNING, MAX_QUEUED)
    }
}

impl<T> Bound<T> {
    /// At least one running and one waiting.
    pub fn new(max_running: usize, max_queued: usize) -> Bound<T> {
        let max_queued = max_queued.max(1);
        Bound {
            max_running: max_running.max(1),
            max_queued,
            running: 0,
            queue: VecDeque::with_capacity(max_queued),
            delayed: 0,
            dropped: 0,
        }
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn max_running(&self) -> usize {
        self.max_running
    }

    /// A notice to deliver through a child.
    pub fn offer(&mut self, item: T) -> Offer<T> {
        // Behind what waits already, even if a slot is free (order kept).
        if self.running < self.max_running && self.queue.is_empty() {
            self.running += 1;
            return Offer::Run(item);
        }
        self.delayed += 1;
        if self.queue.len() == self.max_queued {
            let oldest = self.queue.pop_front().expect("a full queue has a front");
            self.queue.push_back(item);
            self.dropped += 1;
            return Offer::Dropped {
                oldest,
                say: self.dropped == 1,
            };
        }
        self.queue.push_back(item);
        Offer::Queued {
            say: self.delayed == 1,
        }
    }

    /// A child handed out by [`Offer::Run`] or [`Ended::next`] could not
    /// be started: its slot is free again (what waits is returned as by
    /// [`Bound::ended`]).
    pub fn start_failed(&mut self) -> Ended<T> {
        self.ended()
    }

    /// A child ended (or was never started): start the next waiting one.
    pub fn ended(&mut self) -> Ended<T> {
        self.running = self.running.saturating_sub(1);
        let next = if self.running < self.max_running {
            self.queue.pop_front()
        } else {
            None
        };
        if next.is_some() {
            self.running += 1;
        }
        let calm = (self.queue.is_empty() && self.delayed > 0).then(|| {
            let c = (self.delayed, self.dropped);
            self.delayed = 0;
            self.dropped = 0;
            c
        });
        Ended { next, calm }
    }

    /// Forget what waits (the daemon exits): how many were waiting.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_up_to_the_bound_then_queues_in_order() {
        let mut b = Bound::new(2, 3);
        assert_eq!(b.offer(1), Offer::Run(1));
        assert_eq!(b.offer(2), Offer::Run(2));
        assert_eq!(b.offer(3), Offer::Queued { say: true });
        assert_eq!(b.offer(4), Offer::Queued { say: false });
        assert_eq!((b.running(), b.queued()), (2, 2));
        assert_eq!(
            b.ended(),
            Ended {
                next: Some(3),
                calm: None
            }
        );
        // A slot is free only after the queue empties: 5 waits behind 4.
        assert_eq!(b.offer(5), Offer::Queued { say: false });
        assert_eq!(
            b.ended(),
            Ended {
                next: Some(4),
                calm: None
            }
        );
        assert_eq!(
            b.ended(),
            Ended {
                next: Some(5),
                calm: Some((3, 0))
            }
        );
        assert_eq!(
            b.ended(),
            Ended {
                next: None,
                calm: None
            }
        );
        assert_eq!(b.ended().next, None);
        assert_eq!((b.running(), b.queued()), (0, 0));
        // A new episode is said again.
        assert_eq!(b.offer(6), Offer::Run(6));
        assert_eq!(b.offer(7), Offer::Run(7));
        assert_eq!(b.offer(8), Offer::Queued { say: true });
    }

    #[test]
    fn a_hanging_command_while_power_flaps_drops_the_oldest_once_said() {
        // 50 s of flapping, two notices a second, children that never end.
        let mut b = Bound::new(MAX_RUNNING, MAX_QUEUED);
        let (mut run, mut said_delay, mut said_drop, mut dropped) = (0, 0, 0, Vec::new());
        for n in 0..100u32 {
            match b.offer(n) {
                Offer::Run(_) => run += 1,
                Offer::Queued { say } => said_delay += u32::from(say),
                Offer::Dropped { oldest, say } => {
                    said_drop += u32::from(say);
                    dropped.push(oldest);
                }
            }
        }
        assert_eq!(run, MAX_RUNNING);
        assert_eq!(b.running(), MAX_RUNNING);
        assert_eq!(b.queued(), MAX_QUEUED);
        assert_eq!((said_delay, said_drop), (1, 1));
        let n_dropped = 100 - MAX_RUNNING - MAX_QUEUED;
        // The oldest waiting ones went, in order; the newest wait.
        assert_eq!(
            dropped,
            (MAX_RUNNING as u32..(MAX_RUNNING + n_dropped) as u32).collect::<Vec<_>>()
        );
        assert_eq!(b.clear(), MAX_QUEUED);
    }

    #[test]
    fn a_child_that_cannot_start_frees_its_slot() {
        let mut b = Bound::new(1, 1);
        assert_eq!(b.offer('a'), Offer::Run('a'));
        assert_eq!(b.offer('b'), Offer::Queued { say: true });
        assert_eq!(
            b.start_failed(),
            Ended {
                next: Some('b'),
                calm: Some((1, 0))
            }
        );
        assert_eq!(b.running(), 1);
    }
}
