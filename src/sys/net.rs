//! Listening TCP sockets made the way upsd makes them, which neither
//! `std` nor mio's `TcpListener::bind` can: IPv6 sockets are IPv6-only
//! (so `LISTEN *` can bind `0.0.0.0` and `::` on the same port) and the
//! accept queue is as long as the kernel allows (std and mio ask for 128).
//! Also the file descriptor limit, raised so MAXCONN clients fit, and
//! a host name resolved for `LISTEN`.
//!
//! No policy: which addresses to bind and what a failure means is the
//! daemon's business.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
    SockaddrStorage,
};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

/// A non-blocking, close-on-exec listener bound to `addr` with
/// `SO_REUSEADDR` (a restart can rebind while old connections linger).
pub fn listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket(family, SockType::Stream, flags, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    // -1: the kernel's maximum (net.core.somaxconn, 4096 since Linux 5.4).
    // A literal 1024 would be refused by nix on musl, whose SOMAXCONN is 128.
    listen(&fd, Backlog::MAXALLOWABLE)?;
    Ok(TcpListener::from(fd))
}

/// Raise the soft limit on open files towards `want` (never above the
/// hard limit, never lowered). Returns the soft limit now in force.
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    // rlim_t is 32 bits on 32-bit glibc targets (mips, armv7) and 64 bits
    // elsewhere: compare in rlim_t, report in u64.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let want = libc::rlim_t::try_from(want).unwrap_or(libc::rlim_t::MAX);
    if soft >= want {
        return Ok(widen(soft));
    }
    let new = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, new, hard)?;
    Ok(widen(new))
}

#[allow(clippy::useless_conversion)] // a no-op where rlim_t is u64
fn widen(n: libc::rlim_t) -> u64 {
    u64::from(n)
}

/// The first address of host name `host` (upsd's LISTEN takes the first);
/// `None` when it does not resolve. Blocking (the resolver).
pub fn resolve_first(host: &str, port: u16) -> Option<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpStream};

    #[test]
    fn v4_and_v6_any_share_a_port_and_accept() {
        let v4 = listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let port = v4.local_addr().unwrap().port();
        // IPV6_V6ONLY: [::]:port does not collide with 127.0.0.1:port.
        // (Skipped where the machine has no IPv6 at all.)
        if let Ok(v6) = listener(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
            assert_eq!(v6.local_addr().unwrap().port(), port);
        }
        let _c = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        // Non-blocking: the queued connection is there, the next is not.
        assert!(v4.accept().is_ok());
        let e = v4.accept().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
