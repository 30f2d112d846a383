//! The built-in upsmon's connections to other NUT servers, one per
//! remote `MONITOR ups@host` entry: the socket half of
//! [`crate::monitor::remote`].
//!
//! Boundary: this owns the sockets and buffers and says when a request
//! has waited too long; what is sent and what the answers mean is
//! [`Conversation`]'s, and what they mean for the shutdown is the
//! monitor's. Time comes in as the loop's milliseconds.
//!
//! Connecting (name lookup and TCP connect, each able to block for
//! seconds) happens on a short-lived thread per attempt, so a dead or
//! unreachable server never delays the clients or the other UPSes; the
//! socket comes back through the [`Inbox`] and the loop's waker. After that
//! the socket is non-blocking in the loop's poll like a client's.

use crate::monitor::remote::{Answer, Conversation};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a connect, or a request with no answer, may take (upsmon's
/// connect timeout).
pub const NET_TIMEOUT_MS: u64 = 10_000;
/// Remote `MONITOR` entries one daemon follows.
pub const MAX_LINKS: usize = 256;
/// Longest answer line kept; longer ones are cut (no answer upsmon
/// reads comes near it).
const RX_CAP: usize = 2048;

/// Where connect threads leave their outcomes for the loop, which takes
/// them all at once ([`take`]). A plain list rather than a channel: one
/// message type fewer for `chan` to be compiled for.
pub type Inbox = Arc<Mutex<Vec<Connected>>>;

/// The outcomes in `inbox`, oldest first, leaving it empty.
pub fn take(inbox: &Inbox) -> Vec<Connected> {
    std::mem::take(&mut *inbox.lock().unwrap_or_else(PoisonError::into_inner))
}

/// A connect attempt's outcome, from its thread.
pub struct Connected {
    pub link: usize,
    generation: u64,
    result: Result<std::net::TcpStream, String>,
}

enum State {
    Down,
    Connecting,
    Up {
        stream: TcpStream,
        conv: Conversation,
    },
}

/// One remote `MONITOR` entry's connection.
pub struct RemoteLink {
    /// Its `MONITOR` entry (index in `UpsmonConf::monitors`).
    pub entry: usize,
    pub host: String,
    pub port: u16,
    ups: String,
    user: String,
    password: String,
    primary: bool,
    state: State,
    /// Bumped whenever a connection ends, so that a late connect result
    /// for an abandoned attempt is dropped.
    generation: u64,
    rx: Box<[u8]>,
    rx_len: usize,
    /// Skipping the rest of a line longer than `RX_CAP`.
    discard: bool,
    tx: String,
    tx_sent: usize,
    /// When the server last answered, or the first request went out.
    progress_at: u64,
    /// When the monitor next polls this UPS.
    pub next_poll: u64,
    /// When `GET NUMLOGINS` is next sent, while a primary waits.
    pub next_count: u64,
    /// FSD was asked for and not yet sent (no connection then).
    fsd_wanted: bool,
    /// The last failure was logged; nothing more is logged until the
    /// link works again.
    pub failing: bool,
}

impl RemoteLink {
    pub fn new(
        entry: usize,
        host: &str,
        port: u16,
        ups: &str,
        user: &str,
        password: &str,
        primary: bool,
    ) -> RemoteLink {
        RemoteLink {
            entry,
            host: host.to_string(),
            port,
            ups: ups.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            primary,
            state: State::Down,
            generation: 0,
            rx: vec![0; RX_CAP].into_boxed_slice(),
            rx_len: 0,
            discard: false,
            tx: String::new(),
            tx_sent: 0,
            progress_at: 0,
            next_poll: 0,
            next_count: 0,
            fsd_wanted: false,
            failing: false,
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up { .. })
    }

    pub fn is_down(&self) -> bool {
        matches!(self.state, State::Down)
    }

    /// Start connecting on a thread; its result lands in `done`, and
    /// `waker` wakes the loop.
    pub fn connect(&mut self, link: usize, done: Inbox, waker: Arc<Waker>) -> Result<(), String> {
        let (host, port, generation) = (self.host.clone(), self.port, self.generation);
        let spawned = crate::device::spawn_named(
            format!("connect {link}"),
            Box::new(move || {
                let result = connect(&host, port);
                let c = Connected {
                    link,
                    generation,
                    result,
                };
                done.lock().unwrap_or_else(PoisonError::into_inner).push(c);
                // Nobody to wake once the monitor is gone (a reload).
                if Arc::strong_count(&done) > 1 {
                    let _ = waker.wake();
                }
            }),
        );
        match spawned {
            Ok(_) => {
                self.state = State::Connecting;
                Ok(())
            }
            Err(e) => Err(format!("cannot start a thread to connect: {e}")),
        }
    }

    /// A connect attempt finished: on success, log in and poll at once.
    /// `Ok(false)` for a result nobody waits for any more.
    pub fn attach(
        &mut self,
        c: Connected,
        registry: &Registry,
        token: Token,
        now: u64,
    ) -> Result<bool, String> {
        if c.generation != self.generation || !matches!(self.state, State::Connecting) {
            return Ok(false);
        }
        self.state = State::Down;
        let std_stream = c.result?;
        std_stream
            .set_nonblocking(true)
            .map_err(|e| super::failed("cannot make the socket non-blocking", e))?;
        let _ = std_stream.set_nodelay(true);
        let mut stream = TcpStream::from_std(std_stream);
        registry
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| super::failed("epoll", e))?;
        self.tx.clear();
        self.tx_sent = 0;
        self.rx_len = 0;
        self.discard = false;
        let mut conv = Conversation::start(
            &self.ups,
            &self.user,
            &self.password,
            self.primary,
            &mut self.tx,
        );
        // A poll goes with the login, as upsmon polls right after it.
        let _ = conv.poll(&mut self.tx);
        if self.fsd_wanted && conv.fsd(&mut self.tx).is_ok() {
            self.fsd_wanted = false;
        }
        self.progress_at = now;
        self.state = State::Up { stream, conv };
        self.flush().map_err(|e| super::failed("write", e))?;
        Ok(true)
    }

    /// Close the connection (no LOGOUT: as upsmon's exit, the server
    /// sees EOF and counts the login off).
    pub fn down(&mut self, registry: &Registry) {
        if let State::Up { stream, .. } = &mut self.state {
            let _ = registry.deregister(stream);
        }
        self.state = State::Down;
        self.generation += 1;
    }

    /// No answer for longer than [`NET_TIMEOUT_MS`].
    pub fn timed_out(&self, now: u64) -> bool {
        match &self.state {
            State::Up { conv, .. } => {
                conv.unanswered() > 0 && now.saturating_sub(self.progress_at) >= NET_TIMEOUT_MS
            }
            _ => false,
        }
    }

    /// When [`RemoteLink::timed_out`] would next become true.
    pub fn timeout_at(&self) -> Option<u64> {
        match &self.state {
            State::Up { conv, .. } if conv.unanswered() > 0 => {
                Some(self.progress_at + NET_TIMEOUT_MS)
            }
            _ => None,
        }
    }

    /// Ask for the status now, unless the last poll is unanswered.
    pub fn poll(&mut self, now: u64) -> Result<(), String> {
        self.request(now, |c, tx| if c.polling() { Ok(()) } else { c.poll(tx) })
    }

    /// Ask for the login count, unless the last count is unanswered.
    pub fn count_logins(&mut self, now: u64) -> Result<(), String> {
        self.request(now, |c, tx| {
            if c.counting() {
                Ok(())
            } else {
                c.count_logins(tx)
            }
        })
    }

    /// Send `FSD`, now or as soon as the connection is up.
    pub fn fsd(&mut self, now: u64) -> Result<(), String> {
        if !self.is_up() {
            self.fsd_wanted = true;
            return Ok(());
        }
        self.request(now, |c, tx| c.fsd(tx))
    }

    fn request(
        &mut self,
        now: u64,
        // A plain function: one copy of this for the three requests.
        f: fn(&mut Conversation, &mut String) -> Result<(), crate::monitor::remote::Full>,
    ) -> Result<(), String> {
        let State::Up { conv, .. } = &mut self.state else {
            return Ok(());
        };
        if conv.unanswered() == 0 {
            self.progress_at = now;
        }
        f(conv, &mut self.tx).map_err(|e| e.to_string())?;
        self.flush().map_err(|e| super::failed("write", e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let State::Up { stream, .. } = &mut self.state else {
            return Ok(());
        };
        while self.tx_sent < self.tx.len() {
            match stream.write(&self.tx.as_bytes()[self.tx_sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.tx_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.tx.clear();
        self.tx_sent = 0;
        Ok(())
    }

    /// The socket is ready: send what waits, read every answer until
    /// the socket would block, and hand each meaningful one to `each`.
    /// An error means the connection is gone (the caller calls
    /// [`RemoteLink::down`]).
    pub fn ready(&mut self, now: u64, each: &mut dyn FnMut(Answer)) -> Result<(), String> {
        self.flush().map_err(|e| super::failed("write", e))?;
        loop {
            let State::Up { stream, conv } = &mut self.state else {
                return Ok(());
            };
            let n = match stream.read(&mut self.rx[self.rx_len..]) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            self.rx_len += n;
            let mut start = 0;
            while let Some(lf) = memchr::memchr(b'\n', &self.rx[start..self.rx_len]) {
                let line = &self.rx[start..start + lf];
                start += lf + 1;
                if std::mem::take(&mut self.discard) {
                    continue;
                }
                self.progress_at = now;
                if let Some(r) = conv.line(line, &mut self.tx) {
                    each(r);
                }
            }
            self.rx.copy_within(start..self.rx_len, 0);
            self.rx_len -= start;
            if self.rx_len == RX_CAP {
                // A line longer than any answer: answer it as garbage
                // (the request it answers fails) and skip its rest.
                if let Some(r) = conv.line(b"", &mut self.tx) {
                    each(r);
                }
                self.rx_len = 0;
                self.discard = true;
            }
        }
        self.flush().map_err(|e| super::failed("write", e))
    }
}

/// Look `host` up and connect to the first address that answers, each
/// try bounded by [`NET_TIMEOUT_MS`].
fn connect(host: &str, port: u16) -> Result<std::net::TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, Duration::from_millis(NET_TIMEOUT_MS)) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    Err(last)
}
