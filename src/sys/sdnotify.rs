//! systemd's readiness protocol (`sd_notify`): datagrams such as
//! `READY=1` or `STATUS=...` to the socket named by `NOTIFY_SOCKET`,
//! and the watchdog interval from `WATCHDOG_USEC`.
//!
//! Boundary: sending only; when to say what is the loop's business.
//! Where `NOTIFY_SOCKET` is unset (OpenRC, procd, a terminal) every call
//! does nothing. The protocol is a few lines over a Unix datagram
//! socket, so no library is linked for it.

use std::os::unix::net::UnixDatagram;

/// The socket to tell, if the service manager gave one.
pub struct Notifier {
    sock: UnixDatagram,
    addr: Addr,
}

enum Addr {
    Path(std::path::PathBuf),
    /// Linux abstract socket (`@name`).
    Abstract(Vec<u8>),
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; `None` when unset or unusable.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()).to_vec();
        let addr = match bytes.first() {
            Some(b'@') => Addr::Abstract(bytes[1..].to_vec()),
            Some(b'/') => Addr::Path(name.into()),
            _ => return None,
        };
        let sock = UnixDatagram::unbound().ok()?;
        Some(Notifier { sock, addr })
    }

    /// Send one state string (`READY=1`, `STATUS=...`, `WATCHDOG=1`,
    /// `STOPPING=1`, `RELOADING=1`); failures are ignored, as
    /// `sd_notify` callers do: the manager may be gone.
    pub fn send(&self, state: &str) {
        let _ = match &self.addr {
            Addr::Path(p) => self.sock.send_to(state.as_bytes(), p),
            Addr::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                match std::os::unix::net::SocketAddr::from_abstract_name(name) {
                    Ok(a) => self.sock.send_to_addr(state.as_bytes(), &a),
                    Err(e) => Err(e),
                }
            }
        };
    }
}

/// The watchdog ping interval in ms (half of `WATCHDOG_USEC`), when the
/// unit asks for pings and they are meant for this process.
pub fn watchdog_ms() -> Option<u64> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| (usec / 2000).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_reach_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("hidupsd-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            sock: UnixDatagram::unbound().unwrap(),
            addr: Addr::Path(path.clone()),
        };
        n.send("READY=1\nSTATUS=serving 2 UPSes");
        let mut buf = [0u8; 128];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving 2 UPSes");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
