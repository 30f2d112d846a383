//! Client connections: the table of open connections, accepting (with the
//! per-turn budget and MAXCONN), reading and writing a connection's turn
//! (`pump`), the idle timeout, closing. What a line means is
//! [`super::answer`]'s.
//!
//! Memory follows the connections open, not MAXCONN: a connection's state
//! is allocated when it is accepted and freed when it closes, and MAXCONN
//! is only a limit. Bytes are read into and replies written from two
//! buffers the loop shares; a connection holds bytes of its own only
//! while it has some in flight (a line not yet complete, replies its peer
//! has not taken yet), so an idle client costs its `Conn` alone.
//!
//! Idle clients are found through a deadline queue
//! ([`crate::proto::timers`]), never by looking at every connection.

use super::{Daemon, ACCEPT_BUDGET, CLIENT_BASE, WRITE_BUDGET};
use crate::proto::admission::{Decision, Why};
use crate::proto::framing;
use crate::proto::timers::Deadlines;
use crate::proto::Session;
use crate::sys::log::{debug, log};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::io::{self, Read, Write};
use std::net::IpAddr;

/// One client connection.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) peer: IpAddr,
    pub(super) seq: u64,
    pub(super) session: Session,
    /// Bytes received and not yet answered (a line still incomplete, or
    /// lines waiting for room to answer them). Empty holds no memory.
    pub(super) unread: Vec<u8>,
    /// Reply bytes the peer has not taken yet. Empty holds no memory.
    pub(super) unsent: Vec<u8>,
    /// `unsent` is the rest of a list whose BEGIN line went out alone:
    /// it waits until this time (ms; 0: not held). Clients that read the
    /// socket again before looking at what they hold (nut2-notl) would
    /// otherwise wait for their whole timeout.
    pub(super) hold_until: u64,
    /// Dropping the rest of a line that was too long.
    pub(super) discard: bool,
    /// LOGOUT: close once the reply is out.
    pub(super) closing: bool,
    /// In the busy queue.
    pub(super) queued: bool,
    /// The peer shut its side down (the event said so): read on to the
    /// end of file even after a short read.
    pub(super) read_closed: bool,
    /// When admission was last told this connection sent a line.
    pub(super) told_active: Option<u64>,
}

/// The open connections by slot (slot `i` is token `CLIENT_BASE + i`).
/// Slots are made as connections need them, up to MAXCONN.
pub(super) struct Clients {
    slots: Vec<Option<Box<Conn>>>,
    /// Slots made and free now.
    free: Vec<usize>,
    open: usize,
    max: usize,
    /// When each connection's idle timeout would fire.
    pub(super) deadlines: Deadlines,
    /// When the rest of each held list may go (`Conn::hold_until`).
    holds: Deadlines,
}

impl Clients {
    pub(super) fn new(max: usize) -> Clients {
        Clients {
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            max,
            deadlines: Deadlines::new(),
            holds: Deadlines::new(),
        }
    }

    /// MAXCONN.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    pub(super) fn open(&self) -> usize {
        self.open
    }

    /// A slot for a new connection; `None` at MAXCONN.
    fn take_slot(&mut self) -> Option<usize> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        if self.slots.len() < self.max {
            self.slots.push(None);
            return Some(self.slots.len() - 1);
        }
        None
    }

    pub(super) fn get(&self, i: usize) -> Option<&Conn> {
        self.slots.get(i)?.as_deref()
    }

    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut Conn> {
        self.slots.get_mut(i)?.as_deref_mut()
    }

    fn remove(&mut self, i: usize) -> Option<Box<Conn>> {
        let c = self.slots.get_mut(i)?.take()?;
        self.open -= 1;
        if self.open == 0 {
            // Everybody gone: the table's memory goes too.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.deadlines = Deadlines::new();
            self.holds = Deadlines::new();
        } else {
            self.free.push(i);
            let slots = &self.slots;
            self.deadlines.compact(self.open, |e| {
                slots
                    .get(e.slot as usize)
                    .and_then(|s| s.as_ref())
                    .is_some_and(|c| c.seq == e.seq)
            });
        }
        Some(c)
    }
}

/// What a connection does after an event.
pub(super) enum Next {
    Open,
    Close,
    /// Its budget for this turn is spent with work left: queued for the
    /// next turn (no readiness event will come for what is waiting).
    Busy,
    /// A list's BEGIN line is out; the rest waits until this time (ms).
    Held(u64),
}

/// How long the rest of a list waits after its BEGIN line (ms, on a
/// millisecond clock: at least 1 ms). A client reading the socket again
/// before looking at what it holds (nut2-notl) then has the BEGIN line
/// alone in its first read: measured on loopback, with no wait a third
/// of its LISTs waited its whole timeout, with 0.1 ms none in 200 on an
/// idle machine; with 2 ms, 2 runs in 8 of the Python client test still
/// stalled once on a heavily loaded 2-core machine (the client was not
/// scheduled in time to read the BEGIN line alone). 10 ms leaves room
/// for that and is still a quarter of upsd's median LIST (44 ms).
const LIST_GAP_MS: u64 = 10;

impl Daemon {
    /// A listener's or a client's turn: accept, or answer and move its
    /// bytes, within a budget; whoever has work left queues for the next
    /// turn.
    pub(super) fn serve(&mut self, t: Token, now: u64) {
        if t.0 < CLIENT_BASE {
            if t.0 >= self.listeners.len() {
                return;
            }
            if !self.accept(t.0, now) && !self.listener_queued[t.0] {
                self.listener_queued[t.0] = true;
                self.busy.push_back(t);
            }
            return;
        }
        let i = t.0 - CLIENT_BASE;
        if self.clients.get(i).is_none() {
            return;
        }
        match self.pump(i, now) {
            Next::Open => {}
            Next::Close => self.close(i),
            Next::Busy => self.requeue(t),
            Next::Held(at) => {
                if let Some(seq) = self.clients.get(i).map(|c| c.seq) {
                    self.clients.holds.arm(at, i, seq);
                }
            }
        }
    }

    /// Give the connections whose held list is due their turn; returns
    /// the next such time. An entry of a connection closed meanwhile
    /// (another sequence number in its slot) is dropped.
    pub(super) fn release_held(&mut self, now: u64) -> u64 {
        while let Some(e) = self.clients.holds.pop_due(now) {
            let i = e.slot as usize;
            if self.clients.get(i).is_some_and(|c| c.seq == e.seq) {
                self.requeue(Token(CLIENT_BASE + i));
            }
        }
        self.clients.holds.next().unwrap_or(u64::MAX)
    }

    /// Give client `t` another turn in the busy queue (once).
    pub(super) fn requeue(&mut self, t: Token) {
        let Some(i) = t.0.checked_sub(CLIENT_BASE) else {
            return;
        };
        if let Some(c) = self.clients.get_mut(i) {
            if !c.queued {
                c.queued = true;
                self.busy.push_back(t);
            }
        }
    }

    /// A listener or client socket is ready; `read_closed` when the
    /// event says the peer shut its side down.
    pub(super) fn ready(&mut self, t: Token, read_closed: bool, now: u64) {
        if read_closed {
            self.read_closed(t);
        }
        self.serve(t, now);
    }

    /// The peer of client `t` half-closed (or hung up): a one-shot
    /// `printf 'GET VAR ...\n' | nc -N` is closed once answered, not
    /// after the idle timeout.
    pub(super) fn read_closed(&mut self, t: Token) {
        if let Some(c) =
            t.0.checked_sub(CLIENT_BASE)
                .and_then(|i| self.clients.get_mut(i))
        {
            c.read_closed = true;
        }
    }

    /// `t` left the busy queue: its flag says so.
    pub(super) fn dequeued(&mut self, t: Token) {
        if t.0 < CLIENT_BASE {
            if let Some(q) = self.listener_queued.get_mut(t.0) {
                *q = false;
            }
        } else if let Some(c) = self.clients.get_mut(t.0 - CLIENT_BASE) {
            c.queued = false;
        }
    }

    /// Accept new connections, at most [`ACCEPT_BUDGET`]; `true` when
    /// the listener has no more waiting.
    pub(super) fn accept(&mut self, l: usize, now: u64) -> bool {
        for _ in 0..ACCEPT_BUDGET {
            match self.listeners[l].accept() {
                Ok((stream, peer)) => self.admit(stream, peer.ip(), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: the connection stays queued
                    // until the next one arrives.
                    log(format_args!("accept: {e}"));
                    return true;
                }
            }
        }
        false
    }

    pub(super) fn admit(&mut self, mut stream: TcpStream, peer: IpAddr, now: u64) {
        // Room is made by closing the longest-idle connection that has
        // not logged in (see `proto::admission`); only when every slot is
        // a logged-in session is the newcomer closed at once.
        match self.admission.decide(peer, now) {
            Decision::Refuse { first } => {
                if first {
                    log(format_args!(
                        "MAXCONN ({}) reached and every connection is logged in: \
                         closing new connections",
                        self.clients.max()
                    ));
                }
                return;
            }
            Decision::Admit(Some(e)) => {
                if e.first {
                    match e.why {
                        Why::SourceFull { limit } => log(format_args!(
                            "{}: {limit} connections that have not logged in \
                             (MAXCONN_PER_SOURCE {limit}): closing its longest-idle \
                             ones to make room",
                            e.source
                        )),
                        Why::ServerFull => log(format_args!(
                            "MAXCONN ({}) reached: closing the longest-idle connections \
                             that have not logged in to make room (the first from {}, \
                             idle {} s)",
                            self.clients.max(),
                            e.source,
                            e.idle_ms / 1000
                        )),
                    }
                }
                self.close(e.id);
            }
            Decision::Admit(None) => {}
        }
        let Some(i) = self.clients.take_slot() else {
            // Admission counts the same slots: not reached.
            log(format_args!("no free slot for {peer}: closed"));
            return;
        };
        // Replies go out whole, one write each: no need to wait for more.
        let _ = stream.set_nodelay(true);
        let token = Token(CLIENT_BASE + i);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log(format_args!("epoll: {e}"));
            self.clients.free.push(i);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let session = Session::new(now, seed(self.seeds, seq)).with_idle_timeout(self.idle_ms);
        self.clients
            .deadlines
            .arm(session.idle_deadline().saturating_add(1), i, seq);
        self.clients.slots[i] = Some(Box::new(Conn {
            stream,
            peer,
            seq,
            session,
            unread: Vec::new(),
            unsent: Vec::new(),
            hold_until: 0,
            discard: false,
            closing: false,
            queued: false,
            read_closed: false,
            told_active: None,
        }));
        self.clients.open += 1;
        self.admission.opened(i, peer, now);
        debug(1, format_args!("connection from {peer} (slot {i})"));
    }

    pub(super) fn close(&mut self, i: usize) {
        let Some(mut c) = self.clients.remove(i) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.admission.closed(i);
        debug(1, format_args!("{} disconnected (slot {i})", c.peer));
        if let Some(u) = c.session.logged_in() {
            self.upses[u].numlogins = self.upses[u].numlogins.saturating_sub(1);
            self.logins.retain(|l| l.seq != c.seq);
        }
    }

    /// Close the connections whose idle timeout has come (upsd drops them
    /// silently) and look again at those heard from since their deadline
    /// was set; returns the next deadline. Costs nothing per connection
    /// that is not due.
    pub(super) fn expire_idle(&mut self, now: u64) -> u64 {
        while let Some(e) = self.clients.deadlines.pop_due(now) {
            let i = e.slot as usize;
            let Some(c) = self.clients.get(i).filter(|c| c.seq == e.seq) else {
                continue; // a connection already closed
            };
            if c.session.is_idle(now) {
                self.close(i);
            } else {
                let at = c.session.idle_deadline().saturating_add(1);
                self.clients.deadlines.arm(at, i, e.seq);
            }
        }
        self.clients.deadlines.next().unwrap_or(u64::MAX)
    }

    /// Move a connection along as far as it goes without blocking:
    /// write what waits, read, answer, write, until the socket would
    /// block (mio's "draining readiness": no further event comes until
    /// then) or the turn's budget is spent.
    pub(super) fn pump(&mut self, i: usize, now: u64) -> Next {
        // A read that filled less than the buffer emptied the socket; new
        // data will raise a fresh edge, so no second read is needed to see
        // WouldBlock (one syscall fewer per request).
        let mut drained = false;
        let mut written = 0;
        loop {
            let Some(c) = self.clients.get_mut(i) else {
                return Next::Close;
            };
            // Replies the peer did not take last time go first.
            if !c.unsent.is_empty() {
                if c.hold_until > now {
                    // The rest of a list, due later (the tick requeues).
                    return Next::Open;
                }
                c.hold_until = 0;
                match send(&mut c.stream, &c.unsent) {
                    Sent::All(n) => {
                        written += n;
                        c.unsent = Vec::new();
                    }
                    Sent::Part(n) => {
                        c.unsent.drain(..n);
                        return Next::Open;
                    }
                    Sent::Closed => return Next::Close,
                }
            }
            if c.closing {
                return Next::Close;
            }
            if written >= WRITE_BUDGET {
                return Next::Busy;
            }
            // Input: what is left from before, then the socket, unless
            // a line is already waiting.
            let rx = &mut self.rx[..];
            let mut len = c.unread.len();
            rx[..len].copy_from_slice(&c.unread);
            if !framing::has_line(&rx[..len]) {
                if drained {
                    return Next::Open;
                }
                let room = rx.len() - len;
                match c.stream.read(&mut rx[len..]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        len += n;
                        drained = n < room && !c.read_closed;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Next::Close,
                }
                // The rest of a refused line, up to its LF.
                len = framing::skip_refused(rx, len, &mut c.discard);
            }
            let (used, tx_len, split) = self.answer(i, len, now);
            let (rx, tx) = (&self.rx[..], &self.tx[..]);
            let Some(c) = self.clients.get_mut(i) else {
                return Next::Close;
            };
            // Keep what is left, without holding memory when nothing is.
            let rest = &rx[used..len];
            if rest.is_empty() {
                if !c.unread.is_empty() {
                    c.unread = Vec::new();
                }
            } else {
                c.unread.clear();
                c.unread.extend_from_slice(rest);
            }
            if split > 0 && split < tx_len {
                // A list: its BEGIN line alone, the rest after a gap.
                match send(&mut c.stream, &tx[..split]) {
                    Sent::All(_) => {
                        c.unsent.extend_from_slice(&tx[split..tx_len]);
                        c.hold_until = now + LIST_GAP_MS;
                        return Next::Held(c.hold_until);
                    }
                    Sent::Part(n) => {
                        c.unsent.extend_from_slice(&tx[n..tx_len]);
                        return Next::Open;
                    }
                    Sent::Closed => return Next::Close,
                }
            }
            if tx_len > 0 {
                match send(&mut c.stream, &tx[..tx_len]) {
                    Sent::All(n) => written += n,
                    Sent::Part(n) => {
                        c.unsent.extend_from_slice(&tx[n..tx_len]);
                        return Next::Open;
                    }
                    Sent::Closed => return Next::Close,
                }
            }
        }
    }
}

/// What a non-blocking write did.
enum Sent {
    All(usize),
    /// Only this much went: the socket is full.
    Part(usize),
    Closed,
}

fn send(s: &mut TcpStream, buf: &[u8]) -> Sent {
    let mut at = 0;
    while at < buf.len() {
        match s.write(&buf[at..]) {
            Ok(0) => return Sent::Closed,
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Sent::Part(at),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Sent::Closed,
        }
    }
    Sent::All(at)
}

/// Connection `seq`'s seed for its tracking ids: the splitmix64 stream
/// from the daemon's random `key` (distinct for every connection, and
/// unguessable without the key), with no hasher on a router's flash.
fn seed(key: u64, seq: u64) -> u64 {
    use crate::proto::tracking::{mix, GOLDEN};
    mix(key.wrapping_add(seq.wrapping_mul(GOLDEN)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_differ_per_connection_and_per_key() {
        let a: Vec<u64> = (0..1000).map(|s| super::seed(7, s)).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), a.len());
        assert_ne!(super::seed(7, 0), super::seed(8, 0));
    }
}
