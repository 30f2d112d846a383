//! Client connections: the slots and their buffers, accepting (with the
//! per-turn budget and MAXCONN), reading and writing a connection's turn
//! (`pump`), closing. What a line means is [`super::answer`]'s.

use super::{Daemon, ACCEPT_BUDGET, CLIENT_BASE, RX, TX_SMALL, WRITE_BUDGET};
use crate::proto::admission::{Decision, Why};
use crate::proto::Session;
use crate::sys::log::{debug, log};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::IpAddr;

/// One client connection.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) peer: IpAddr,
    pub(super) seq: u64,
    pub(super) session: Session,
    /// Bytes received and not yet answered.
    pub(super) rx_len: usize,
    /// Reply bytes `tx_sent..tx_len` still to send.
    pub(super) tx_sent: usize,
    pub(super) tx_len: usize,
    /// Dropping the rest of a line that was too long.
    pub(super) discard: bool,
    /// LOGOUT: close once the reply is out.
    pub(super) closing: bool,
    /// In the busy queue.
    pub(super) queued: bool,
    /// The peer shut its side down (the event said so): read on to the
    /// end of file even after a short read.
    pub(super) read_closed: bool,
}

/// A connection slot; its buffers outlive connections.
pub(super) struct Slot {
    pub(super) conn: Option<Conn>,
    pub(super) rx: Box<[u8]>,
    pub(super) tx: Box<[u8]>,
}

/// What a connection does after an event.
pub(super) enum Next {
    Open,
    Close,
    /// Its budget for this turn is spent with work left: queued for the
    /// next turn (no readiness event will come for what is waiting).
    Busy,
}

impl Daemon {
    /// Accept every waiting connection.
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
        if self.slots.get(i).map_or(true, |s| s.conn.is_none()) {
            return;
        }
        match self.pump(i, now) {
            Next::Open => {}
            Next::Close => self.close(i),
            Next::Busy => {
                if let Some(c) = self.slots[i].conn.as_mut() {
                    if !c.queued {
                        c.queued = true;
                        self.busy.push_back(t);
                    }
                }
            }
        }
    }

    /// The peer of client `t` half-closed (or hung up): a one-shot
    /// `printf 'GET VAR ...\n' | nc -N` is closed once answered, not
    /// after the idle timeout.
    pub(super) fn read_closed(&mut self, t: Token) {
        if let Some(c) =
            t.0.checked_sub(CLIENT_BASE)
                .and_then(|i| self.slots.get_mut(i))
                .and_then(|s| s.conn.as_mut())
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
        } else if let Some(c) = self
            .slots
            .get_mut(t.0 - CLIENT_BASE)
            .and_then(|s| s.conn.as_mut())
        {
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
                        self.slots.len()
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
                            self.slots.len(),
                            e.source,
                            e.idle_ms / 1000
                        )),
                    }
                }
                self.close(e.id);
            }
            Decision::Admit(None) => {}
        }
        let Some(i) = self.free.pop() else {
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
            self.free.push(i);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = &mut self.slots[i];
        if slot.rx.is_empty() {
            slot.rx = vec![0; RX].into_boxed_slice();
            slot.tx = vec![0; TX_SMALL].into_boxed_slice();
        }
        slot.conn = Some(Conn {
            stream,
            peer,
            seq,
            session: Session::new(now, self.seeds.hash_one(seq)).with_idle_timeout(self.idle_ms),
            rx_len: 0,
            tx_sent: 0,
            tx_len: 0,
            discard: false,
            closing: false,
            queued: false,
            read_closed: false,
        });
        self.admission.opened(i, peer, now);
        debug(1, format_args!("connection from {peer} (slot {i})"));
    }

    pub(super) fn close(&mut self, i: usize) {
        let Some(mut c) = self.slots[i].conn.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.admission.closed(i);
        debug(1, format_args!("{} disconnected (slot {i})", c.peer));
        if let Some(u) = c.session.logged_in() {
            self.upses[u].numlogins = self.upses[u].numlogins.saturating_sub(1);
            self.logins.retain(|l| l.seq != c.seq);
        }
        // A grown reply buffer goes back to the small one: the next
        // client of this slot may never list anything.
        if self.slots[i].tx.len() > TX_SMALL {
            self.slots[i].tx = vec![0; TX_SMALL].into_boxed_slice();
        }
        self.free.push(i);
    }

    /// Move a connection along as far as it goes without blocking:
    /// answer, write, read, until the socket would block (mio's
    /// "draining readiness": no further event comes until then).
    pub(super) fn pump(&mut self, i: usize, now: u64) -> Next {
        // A read that filled less than the buffer emptied the socket; new
        // data will raise a fresh edge, so no second read is needed to see
        // WouldBlock (one syscall fewer per request).
        let mut drained = false;
        let mut written = 0;
        loop {
            if written >= WRITE_BUDGET {
                return Next::Busy;
            }
            self.answer(i, now);
            let slot = &mut self.slots[i];
            let Some(c) = slot.conn.as_mut() else {
                return Next::Close;
            };
            while c.tx_sent < c.tx_len {
                match c.stream.write(&slot.tx[c.tx_sent..c.tx_len]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        c.tx_sent += n;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            c.tx_sent = 0;
            c.tx_len = 0;
            if c.closing {
                return Next::Close;
            }
            // Lines left unanswered (the reply buffer filled) are
            // answered now that it is empty; only then is the socket done.
            if drained && !slot.rx[..c.rx_len].contains(&b'\n') {
                return Next::Open;
            }
            if c.rx_len == RX {
                // Full of lines that did not fit the reply buffer: answer
                // them now that it is empty.
                continue;
            }
            let room = RX - c.rx_len;
            match c.stream.read(&mut slot.rx[c.rx_len..]) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    c.rx_len += n;
                    drained = n < room && !c.read_closed;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }
}
