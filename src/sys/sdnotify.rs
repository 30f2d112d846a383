//! systemd's readiness protocol (`sd_notify`): datagrams such as
//! `READY=1` or `STATUS=...` to the socket named by `NOTIFY_SOCKET`,
//! and the watchdog interval from `WATCHDOG_USEC`.
//!
//! Boundary: sending only; when to say what is the loop's business.
//! Where `NOTIFY_SOCKET` is unset (OpenRC, procd, a terminal) every call
//! does nothing. The `sd-notify` crate sends the states (its size and
//! the choice: docs/crates.md); a Linux abstract socket (`@name`), which
//! the crate does not reach, is sent to here, and the watchdog interval
//! is read here.

use sd_notify::NotifyState;
use std::os::unix::net::UnixDatagram;

/// The socket to tell, if the service manager gave one.
pub struct Notifier {
    /// `@name`: the abstract socket's name and a socket to send from.
    abstract_name: Option<(Vec<u8>, UnixDatagram)>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; `None` when unset or unusable.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str());
        match bytes.first() {
            Some(b'@') => Some(Notifier {
                abstract_name: Some((bytes[1..].to_vec(), UnixDatagram::unbound().ok()?)),
            }),
            Some(b'/') => Some(Notifier {
                abstract_name: None,
            }),
            _ => None,
        }
    }

    /// Send one state string (`READY=1`, `STATUS=...`, `WATCHDOG=1`,
    /// `STOPPING=1`, `RELOADING=1`, several joined by newlines);
    /// failures are ignored, as `sd_notify` callers do: the manager may
    /// be gone.
    pub fn send(&self, state: &str) {
        let _ = match &self.abstract_name {
            None => sd_notify::notify(false, &[NotifyState::Custom(state)]),
            Some((name, sock)) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|a| sock.send_to_addr(state.as_bytes(), &a).map(drop))
            }
        };
    }
}

/// The watchdog ping interval in ms (half of `WATCHDOG_USEC`), when the
/// unit asks for pings and they are meant for this process. Read here,
/// as libsystemd reads it: the crate's 0.4 version also demands
/// `WATCHDOG_PID`, which libsystemd takes as optional.
pub fn watchdog_ms() -> Option<u64> {
    // Through i64's parser, which the binary has anyway (u64's is one
    // more on flash); a negative value is refused as before.
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<i64>().ok()?;
    let usec = u64::try_from(usec).ok()?;
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
    fn states_reach_a_path_socket_and_an_abstract_one() {
        // One test: NOTIFY_SOCKET is the process's environment.
        let dir = std::env::temp_dir().join(format!("hidupsd-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        let n = Notifier::from_env().unwrap();
        n.send("READY=1\nSTATUS=serving 2 UPSes");
        let mut buf = [0u8; 128];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving 2 UPSes\n");
        let name = format!("hidupsd-sdnotify-test-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
        };
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        std::env::set_var("NOTIFY_SOCKET", format!("@{name}"));
        Notifier::from_env().unwrap().send("WATCHDOG=1");
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        std::env::set_var("NOTIFY_SOCKET", "relative");
        assert!(Notifier::from_env().is_none());
        std::env::remove_var("NOTIFY_SOCKET");
        assert!(Notifier::from_env().is_none());
        // The watchdog, for this process only.
        std::env::set_var("WATCHDOG_USEC", "30000000");
        std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
        assert_eq!(watchdog_ms(), Some(15_000));
        std::env::set_var("WATCHDOG_PID", "1");
        assert_eq!(watchdog_ms(), None);
        std::env::remove_var("WATCHDOG_PID");
        assert_eq!(watchdog_ms(), Some(15_000));
        std::env::remove_var("WATCHDOG_USEC");
        std::env::remove_var("WATCHDOG_PID");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
