//! SIGTERM, SIGINT and SIGHUP as readable events in the loop's poll,
//! through a signalfd: no handler runs at an arbitrary point, and the
//! loop picks the signal up like any other event.
//!
//! Boundary: [`Signals::new`] blocks the signals in the calling thread,
//! so it must be called before any thread starts (threads inherit the
//! mask, and a signal not blocked in some thread would be delivered
//! there and kill the process). Children start with an empty mask
//! ([`super::exec::spawn`] resets it).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A signal the daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: exit cleanly.
    Stop,
    /// SIGHUP: read the configuration again.
    Reload,
}

pub struct Signals {
    fd: OwnedFd,
}

fn set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut s, sig);
        }
        s
    }
}

impl Signals {
    /// Block the signals and open a non-blocking signalfd for them.
    pub fn new() -> io::Result<Signals> {
        let s = set();
        // SAFETY: valid set; the old mask is not needed.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &s, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: valid set; a new descriptor is returned or -1.
        let fd = unsafe { libc::signalfd(-1, &s, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor owned by nobody else.
        Ok(Signals {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The next pending signal, if any.
    pub fn next(&self) -> Option<Signal> {
        loop {
            // SAFETY: plain data, filled by read().
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reading at most `size` bytes into `info`.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                return None;
            }
            match info.ssi_signo as i32 {
                libc::SIGTERM | libc::SIGINT => return Some(Signal::Stop),
                libc::SIGHUP => return Some(Signal::Reload),
                _ => continue,
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let s = set();
        // SAFETY: valid set. Unblocking lets a later signal act normally.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &s, std::ptr::null_mut()) };
    }
}
