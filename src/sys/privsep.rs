//! Privilege separation, as upsmon and OpenBSD's daemons do it: before
//! the daemon drops root, it forks a helper that keeps root and can do
//! exactly two things when asked: write the power-down flag, and run the
//! configured SHUTDOWNCMD. Everything else (sockets, devices, parsing
//! what clients send, NOTIFYCMD) runs as the unprivileged user.
//!
//! Boundary: the helper's requests are single bytes on a socket pair;
//! what they do (the flag path and the command) is fixed when the helper
//! is forked, so a compromised daemon can at most shut the host down,
//! which it could do anyway by raising FSD. When the helper dies, the
//! daemon's end of the socket reads EOF: the monitor then says NOPARENT.
//!
//! [`spawn`] must run before any thread is started: the child of a fork
//! in a threaded process may only call async-signal-safe functions, and
//! the helper allocates.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// What upsmon writes into its power-down flag file.
pub const POWERDOWN_MAGIC: &[u8] = b"upsmon-shutdown-file";

/// Requests to the helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    WriteFlag,
    Shutdown,
}

impl Request {
    fn byte(self) -> u8 {
        match self {
            Request::WriteFlag => b'F',
            Request::Shutdown => b'S',
        }
    }
}

/// The daemon's end of the privileged helper.
pub struct Helper {
    sock: UnixStream,
    pid: libc::pid_t,
}

impl Helper {
    /// Ask the helper; never blocks (a byte always fits the socket).
    pub fn ask(&mut self, r: Request) -> io::Result<()> {
        self.sock.write_all(&[r.byte()])
    }

    /// The socket, for the loop's poll: readable means the helper is gone.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Whether the helper is gone (EOF or an error on its socket).
    pub fn gone(&mut self) -> bool {
        let mut b = [0u8; 16];
        match self.sock.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted
            }
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }
}

/// Fork the helper. `shutdowncmd` is a shell command line; `flag` the
/// POWERDOWNFLAG path. Call before any thread starts (see the module
/// documentation).
pub fn spawn(shutdowncmd: Option<String>, flag: Option<PathBuf>) -> io::Result<Helper> {
    let (ours, theirs) = UnixStream::pair()?;
    // SAFETY: no other thread exists yet (documented precondition), so the
    // child may run ordinary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(ours);
        close_others(theirs.as_raw_fd());
        serve(theirs, shutdowncmd.as_deref(), flag.as_deref());
        // SAFETY: leaving the child without running the parent's exit
        // handlers or destructors.
        unsafe { libc::_exit(0) };
    }
    drop(theirs);
    ours.set_nonblocking(true)?;
    Ok(Helper { sock: ours, pid })
}

/// Close every descriptor but stdio and `keep`: the helper holds no
/// listener, device or client socket.
fn close_others(keep: RawFd) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (3..1024).collect(),
    };
    for fd in fds {
        if fd > 2 && fd != keep {
            // SAFETY: closing descriptors this process will not use again.
            unsafe { libc::close(fd) };
        }
    }
}

/// The helper's loop: one byte, one action, until the daemon's end closes.
fn serve(mut sock: UnixStream, shutdowncmd: Option<&str>, flag: Option<&std::path::Path>) {
    let say =
        |args: std::fmt::Arguments<'_>| super::log::log(format_args!("privileged helper: {args}"));
    let mut b = [0u8; 1];
    loop {
        match sock.read(&mut b) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        match b[0] {
            b'F' => match flag {
                Some(f) => match std::fs::write(f, POWERDOWN_MAGIC) {
                    Ok(()) => say(format_args!("wrote the power-down flag {}", f.display())),
                    Err(e) => say(format_args!(
                        "cannot write the power-down flag {}: {e}",
                        f.display()
                    )),
                },
                None => say(format_args!("no POWERDOWNFLAG configured")),
            },
            b'S' => match shutdowncmd {
                Some(cmd) => {
                    say(format_args!("running SHUTDOWNCMD: {cmd}"));
                    let argv = [super::exec::SHELL, "-c", cmd];
                    let input = super::exec::Input::Inherit;
                    match super::exec::spawn(&argv, &[], input, false, false).and_then(|pid| {
                        super::exec::wait(pid, true)?.ok_or(io::ErrorKind::WouldBlock.into())
                    }) {
                        Ok(st) if st.success() => {}
                        Ok(st) => say(format_args!("SHUTDOWNCMD: {st}")),
                        Err(e) => say(format_args!("cannot run SHUTDOWNCMD: {e}")),
                    }
                }
                None => say(format_args!(
                    "the host should shut down now, but upsmon.conf has no SHUTDOWNCMD"
                )),
            },
            other => say(format_args!("unknown request {other:#04x} ignored")),
        }
    }
}

/// A user to switch to: ids and name, looked up while /etc/passwd is
/// still readable.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// Look `user` up, with `group` (a group name) replacing its primary group.
pub fn account(user: &str, group: Option<&str>) -> Result<Account, String> {
    let c = CString::new(user).map_err(|_| format!("user '{user}': bad name"))?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; it
    // is read at once, before any other passwd call (one thread here).
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(format!("user '{user}' does not exist"));
    }
    // SAFETY: non-null result of getpwnam.
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if let Some(g) = group {
        let cg = CString::new(g).map_err(|_| format!("group '{g}': bad name"))?;
        // SAFETY: as above, for the group database.
        let gr = unsafe { libc::getgrnam(cg.as_ptr()) };
        if gr.is_null() {
            return Err(format!("group '{g}' does not exist"));
        }
        // SAFETY: non-null result of getgrnam.
        gid = unsafe { (*gr).gr_gid };
    }
    Ok(Account {
        name: user.to_string(),
        uid,
        gid,
    })
}

/// Become `a` for good: its supplementary groups (the udev rules' group
/// among them), its group, its user. Every thread must be started after
/// this (set*id changes only the calling thread at the kernel level; the
/// C library broadcasts it, and started-later threads inherit it anyway).
pub fn become_user(a: &Account) -> Result<(), String> {
    let name = CString::new(a.name.as_str()).map_err(|_| "bad user name".to_string())?;
    let fail = |what: &str| {
        format!(
            "cannot switch to user {}: {what}: {}",
            a.name,
            io::Error::last_os_error()
        )
    };
    // SAFETY: plain system calls with valid arguments.
    unsafe {
        if libc::initgroups(name.as_ptr(), a.gid) != 0 {
            return Err(fail("initgroups"));
        }
        if libc::setgid(a.gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(a.uid) != 0 {
            return Err(fail("setuid"));
        }
        // Root must not be regainable.
        if a.uid != 0 && libc::setuid(0) == 0 {
            return Err(format!(
                "cannot switch to user {}: root could be regained",
                a.name
            ));
        }
    }
    Ok(())
}
