//! A small multi-producer, single-consumer queue between threads, with
//! the part of `std::sync::mpsc`'s interface the daemon uses: `send`,
//! `try_recv`, `recv_timeout`, and disconnection seen from both ends.
//!
//! Why not `std::sync::mpsc`: since Rust 1.67 it is crossbeam's channel,
//! about 5 KB of machine code per message type on a router CPU (21 KB for
//! the daemon's four); the few messages per second here need no lock-free
//! queue. One mutex and one condition variable per channel.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvTimeoutError, TryRecvError};

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
}

struct Chan<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A thread that panicked holding the lock left the queue whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending end; clone it for more producers.
pub struct Sender<T>(Arc<Chan<T>>);

/// The receiving end.
pub struct Receiver<T>(Arc<Chan<T>>);

/// A new channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver: true,
        }),
        ready: Condvar::new(),
    });
    (Sender(c.clone()), Receiver(c))
}

impl<T> Sender<T> {
    /// Queue `t`; gives it back when the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), T> {
        let mut s = self.0.lock();
        if !s.receiver {
            return Err(t);
        }
        s.queue.push_back(t);
        drop(s);
        self.0.ready.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders -= 1;
        let last = s.senders == 0;
        drop(s);
        if last {
            self.0.ready.notify_one();
        }
    }
}

impl<T> Receiver<T> {
    /// The next message, if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = self.0.lock();
        match s.queue.pop_front() {
            Some(t) => Ok(t),
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next message, waiting at most `timeout` for one.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let end = Instant::now().checked_add(timeout);
        let mut s = self.0.lock();
        loop {
            if let Some(t) = s.queue.pop_front() {
                return Ok(t);
            }
            if s.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = match end {
                Some(end) => end.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            s = match self.0.ready.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.receiver = false;
        // Nobody will take them: drop the queued messages now.
        s.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_disconnection_from_both_ends() {
        let (tx, rx) = channel();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(2));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(tx);
        tx2.send(3).unwrap();
        drop(tx2);
        // Queued messages are still delivered after the last sender left.
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Disconnected)
        );
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(4), Err(4));
    }

    #[test]
    fn recv_timeout_wakes_for_a_message_or_the_last_sender() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send("hello").unwrap();
            std::thread::sleep(Duration::from_millis(50));
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("hello"));
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }
}
