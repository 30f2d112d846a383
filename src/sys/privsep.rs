//! Privilege separation, as upsmon and OpenBSD's daemons do it: before
//! the daemon drops root, it forks a helper that keeps root and can do
//! exactly three things when asked: write the power-down flag, run the
//! configured SHUTDOWNCMD, and send a WALL notice to every terminal.
//! Everything else (sockets, devices, parsing what clients send,
//! NOTIFYCMD) runs as the unprivileged user. `wall` runs here because it
//! reaches the terminals only as root where it is not set-group-ID tty
//! (Debian bookworm's is not).
//!
//! Boundary: the helper's requests are single bytes on a socket pair,
//! the notice's text after its byte with a length; what the first two do
//! (the flag path and the command) is fixed when the helper is forked,
//! and a notice is one line of at most [`MAX_WALL`] bytes, control
//! characters replaced, so a compromised daemon can at most shut the host
//! down, which it could do anyway by raising FSD, or write a line to the
//! terminals. When the helper dies, the daemon's end of the socket reads
//! EOF: the monitor then says NOPARENT.
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

/// The longest WALL notice the helper sends (longer ones are cut).
pub const MAX_WALL: usize = 1024;

/// The most WALL notices running at once.
const MAX_WALLS: usize = 8;

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

    /// Have the helper send `text` with `wall`, as root. Never blocks: a
    /// notice that does not fit the socket now is an error (WouldBlock).
    pub fn wall(&mut self, text: &str) -> io::Result<()> {
        let m = wall_request(text);
        match self.sock.write(&m)? {
            n if n == m.len() => Ok(()),
            // A datagram-less stream could take part of it: the helper
            // would then wait for the rest; only a full socket does this.
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
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
        // The kernel log, where the log goes without syslog, stays.
        if fd > 2 && fd != keep && Some(fd) != super::log::fd() {
            // SAFETY: closing descriptors this process will not use again.
            unsafe { libc::close(fd) };
        }
    }
}

/// A WALL request: `W`, the length (2 bytes, big-endian), the text (cut
/// to [`MAX_WALL`] bytes).
fn wall_request(text: &str) -> Vec<u8> {
    let b = &text.as_bytes()[..text.len().min(MAX_WALL)];
    let mut m = Vec::with_capacity(3 + b.len());
    m.push(b'W');
    m.extend_from_slice(&(b.len() as u16).to_be_bytes());
    m.extend_from_slice(b);
    m
}

/// A notice as `wall` gets it: one line, control characters (terminal
/// escapes above all) replaced by `?`, a newline at the end.
fn wall_text(raw: &[u8]) -> Vec<u8> {
    let mut t: Vec<u8> = raw
        .iter()
        .map(|&c| if c < 0x20 || c == 0x7f { b'?' } else { c })
        .collect();
    t.push(b'\n');
    t
}

/// The helper's loop: one byte, one action, until the daemon's end closes.
fn serve(sock: UnixStream, shutdowncmd: Option<&str>, flag: Option<&std::path::Path>) {
    serve_with(sock, shutdowncmd, flag, "wall")
}

/// [`serve`], with the program that sends WALL notices.
fn serve_with(
    mut sock: UnixStream,
    shutdowncmd: Option<&str>,
    flag: Option<&std::path::Path>,
    wall: &str,
) {
    let say =
        |args: std::fmt::Arguments<'_>| super::log::log(format_args!("privileged helper: {args}"));
    let fail = |args: std::fmt::Arguments<'_>| {
        super::log::error(format_args!("privileged helper: {args}"))
    };
    let mut b = [0u8; 1];
    // WALL notices still running (reaped at each request): a terminal
    // that blocks wall must not hold up a shutdown.
    let mut walls: Vec<std::process::Child> = Vec::new();
    let mut walls_full_said = false;
    loop {
        walls.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
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
                    Err(e) => fail(format_args!(
                        "cannot write the power-down flag {}: {e}",
                        f.display()
                    )),
                },
                None => say(format_args!("no POWERDOWNFLAG configured")),
            },
            b'S' => match shutdowncmd {
                Some(cmd) => {
                    say(format_args!("running SHUTDOWNCMD: {cmd}"));
                    match std::process::Command::new("/bin/sh")
                        .args(["-c", cmd])
                        .status()
                    {
                        Ok(st) if st.success() => {}
                        Ok(st) => fail(format_args!("SHUTDOWNCMD: {st}")),
                        Err(e) => fail(format_args!("cannot run SHUTDOWNCMD: {e}")),
                    }
                }
                None => fail(format_args!(
                    "the host should shut down now, but upsmon.conf has no SHUTDOWNCMD"
                )),
            },
            b'W' => {
                let mut len = [0u8; 2];
                if sock.read_exact(&mut len).is_err() {
                    return;
                }
                let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
                if sock.read_exact(&mut raw).is_err() {
                    return;
                }
                raw.truncate(MAX_WALL);
                // Bounded as the daemon's own notification commands are.
                if walls.len() >= MAX_WALLS {
                    if !walls_full_said {
                        walls_full_said = true;
                        say(format_args!(
                            "{MAX_WALLS} wall notices still running: dropping further ones"
                        ));
                    }
                    continue;
                }
                walls_full_said = false;
                match std::process::Command::new(wall)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                {
                    Ok(mut c) => {
                        if let Some(mut i) = c.stdin.take() {
                            let _ = i.write_all(&wall_text(&raw));
                        }
                        walls.push(c);
                    }
                    // No wall (a container, BusyBox without it): nothing to tell.
                    Err(e) => super::log::debug(1, format_args!("privileged helper: {wall}: {e}")),
                }
            }
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

#[cfg(test)]
mod wall_tests {
    use super::*;

    #[test]
    fn wall_notices_go_through_the_helper_as_one_clean_line() {
        let dir = std::env::temp_dir().join(format!("hidupsd-wall-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("got");
        // A stand-in for wall: what it reads, appended to a file.
        let fake = dir.join("wall");
        std::fs::write(&fake, format!("#!/bin/sh\ncat >> {}\n", out.display())).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let f = fake.to_str().unwrap().to_string();
        let helper = std::thread::spawn(move || serve_with(theirs, None, None, &f));
        let mut h = Helper { sock: ours, pid: 0 };
        h.wall("UPS ups@localhost on battery").unwrap();
        // An escape sequence and a second line do not reach the terminals.
        h.wall("evil\x1b[2Jtext\nsecond").unwrap();
        h.wall(&"x".repeat(3 * MAX_WALL)).unwrap();
        drop(h);
        helper.join().unwrap();
        // Each notice is its own wall, so they may land in any order.
        let x = "x".repeat(MAX_WALL);
        let mut want = vec!["UPS ups@localhost on battery", "evil?[2Jtext?second", &x];
        want.sort();
        let t0 = std::time::Instant::now();
        loop {
            let got = std::fs::read_to_string(&out).unwrap_or_default();
            let mut lines: Vec<&str> = got.lines().collect();
            lines.sort();
            if got.ends_with('\n') && lines == want {
                break;
            }
            assert!(t0.elapsed().as_secs() < 10, "{got:?}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
