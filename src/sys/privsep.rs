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
//! It also opens device nodes the daemon's user may not open (a UPS
//! plugged in after start whose node no rule has given to the daemon's
//! group yet, or ever: procd runs no hotplug script for hidraw), on a
//! second socket pair: a request is a node's path, the answer the open
//! descriptor (`SCM_RIGHTS`) or why not. Only UPS nodes are opened; the
//! rules are `device::grant`'s. [`open_node`] is the daemon's side.
//!
//! [`spawn`] must run before any thread is started: the child of a fork
//! in a threaded process may only call async-signal-safe functions, and
//! the helper allocates.

use crate::device::grant::{self, Facts, Node};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// What upsmon writes into its power-down flag file.
pub const POWERDOWN_MAGIC: &[u8] = crate::config::upsmon_conf::FLAG_CONTENT;

/// The longest WALL notice the helper sends (longer ones are cut).
pub const MAX_WALL: usize = 1024;

/// The most WALL notices running at once.
const MAX_WALLS: usize = 8;

/// Requests to the helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperRequest {
    WriteFlag,
    Shutdown,
}

impl HelperRequest {
    fn byte(self) -> u8 {
        match self {
            HelperRequest::WriteFlag => b'F',
            HelperRequest::Shutdown => b'S',
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
    pub fn ask(&mut self, r: HelperRequest) -> io::Result<()> {
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
    let (open_ours, open_theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    // SAFETY: no other thread exists yet (documented precondition), so the
    // child may run ordinary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(ours);
        drop(open_ours);
        close_others(&[theirs.as_raw_fd(), open_theirs.as_raw_fd()]);
        serve(theirs, open_theirs, shutdowncmd.as_deref(), flag.as_deref());
        // SAFETY: leaving the child without running the parent's exit
        // handlers or destructors.
        unsafe { libc::_exit(0) };
    }
    drop(theirs);
    drop(open_theirs);
    ours.set_nonblocking(true)?;
    // A helper that never answers must not hold a probe thread for good.
    let tv = libc::timeval {
        tv_sec: 5,
        tv_usec: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a valid timeval.
    unsafe {
        libc::setsockopt(
            open_ours.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    // The newest helper's; an older one (a test's) is simply replaced.
    let slot = OPENER.get_or_init(|| Mutex::new(None));
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(open_ours);
    Ok(Helper { sock: ours, pid })
}

/// The daemon's end of the helper's open service, shared by the threads
/// that open devices (one request at a time).
static OPENER: OnceLock<Mutex<Option<OwnedFd>>> = OnceLock::new();

/// Ask the root helper to open `path` (a UPS's hidraw, hiddev or usbfs
/// node) read-write, non-blocking, close-on-exec. `None` when there is
/// no helper (not running under `-u`), for the caller to keep its own
/// error.
pub fn open_node(path: &Path) -> Option<io::Result<File>> {
    let slot = OPENER.get()?;
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    let sock = guard.as_ref()?;
    Some(ask_open(sock.as_fd(), path))
}

/// One request and its answer on the open socket.
fn ask_open(sock: std::os::fd::BorrowedFd<'_>, path: &Path) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    let req = path.as_os_str().as_bytes();
    if req.is_empty() || req.len() > grant::MAX_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a device node path",
        ));
    }
    send(sock.as_raw_fd(), req, MsgFlags::empty())?;
    let mut buf = [0u8; 256];
    let (n, fd) = recv_with_fd(sock.as_raw_fd(), &mut buf)?;
    let reply = &buf[..n];
    match (reply.first(), fd) {
        (Some(0), Some(fd)) => Ok(File::from(fd)),
        (Some(2), _) if n == 5 => Err(io::Error::from_raw_os_error(i32::from_le_bytes([
            reply[1], reply[2], reply[3], reply[4],
        ]))),
        (Some(1), _) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the privileged helper refused {}: {}",
                path.display(),
                String::from_utf8_lossy(&reply[1..])
            ),
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "no answer from the privileged helper",
        )),
    }
}

/// The helper's side of one open request: the answer to send, and the
/// descriptor to pass with it. `sys` and `dev` are where sysfs and the
/// device nodes are (`/sys`, `/dev`; a test's trees).
fn answer_open(req: &[u8], sys: &Path, dev: &Path) -> (Vec<u8>, Option<File>) {
    let refuse = |why: String| {
        let mut v = vec![1u8];
        v.extend_from_slice(why.as_bytes());
        (v, None)
    };
    let node = match Node::parse(req) {
        Ok(n) => n,
        Err(e) => return refuse(e.to_string()),
    };
    let path = dev.join(&node.path()["/dev/".len()..]);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            let mut v = vec![2u8];
            v.extend_from_slice(&e.raw_os_error().unwrap_or(libc::EIO).to_le_bytes());
            return (v, None);
        }
    };
    let facts = facts(node, sys, &file);
    match grant::decide(&facts) {
        Ok(()) => (vec![0u8], Some(file)),
        Err(e) => refuse(format!("{}: {e}", node.path())),
    }
}

/// `major:minor` of a `dev_t` as glibc and musl encode it.
fn dev_numbers(d: u64) -> (u32, u32) {
    let major = ((d >> 8) & 0xfff) | ((d >> 32) & !0xfff);
    let minor = (d & 0xff) | ((d >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// What sysfs says about `node`, and what was opened.
fn facts(node: Node, sys: &Path, opened: &File) -> Facts {
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let mut f = Facts::default();
    if let Ok(m) = opened.metadata() {
        f.char_device = m.file_type().is_char_device();
        f.opened_dev = dev_numbers(m.rdev());
    }
    let usb_device = match node {
        Node::Hidraw(n) => {
            let d = sys.join(format!("class/hidraw/hidraw{n}"));
            f.sysfs_dev = sysfs_dev(&d);
            f.descriptors
                .extend(std::fs::read(d.join("device/report_descriptor")).ok());
            None
        }
        Node::Hiddev(n) => {
            let d = sys.join(format!("class/usbmisc/hiddev{n}"));
            f.sysfs_dev = sysfs_dev(&d);
            // device: the USB interface; its parent, the USB device.
            std::fs::canonicalize(d.join("device"))
                .ok()
                .and_then(|i| i.parent().map(Path::to_path_buf))
        }
        Node::Usbfs { bus, dev } => {
            let num =
                |d: &Path, a: &str| read(d.join(a)).and_then(|s| s.trim().parse::<u16>().ok());
            let mut found = None;
            for e in entries(&sys.join("bus/usb/devices")) {
                let d = e.path();
                if num(&d, "busnum") == Some(bus) && num(&d, "devnum") == Some(dev) {
                    f.sysfs_dev = sysfs_dev(&d);
                    found = Some(d);
                    break;
                }
            }
            found.and_then(|d| std::fs::canonicalize(d).ok())
        }
    };
    if let Some(d) = usb_device {
        // Its interfaces (`1-1:1.0`), and their HID devices (`0003:...`).
        for intf in entries(&d) {
            if !intf.file_name().to_string_lossy().contains(':') {
                continue;
            }
            for hid in entries(&intf.path()) {
                if hid.file_name().to_string_lossy().starts_with("0003:") {
                    f.descriptors
                        .extend(std::fs::read(hid.path().join("report_descriptor")).ok());
                }
            }
        }
    }
    f
}

/// `major:minor` from the `dev` file of sysfs directory `d`.
#[inline(never)]
fn sysfs_dev(d: &Path) -> Option<(u32, u32)> {
    let s = std::fs::read_to_string(d.join("dev")).ok()?;
    grant::parse_dev(&s)
}

/// The entries of directory `d` that can be read (none if it cannot).
fn entries(d: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(d).into_iter().flatten().flatten()
}

/// Serve one request from `sock`; false when the daemon's end is gone.
fn serve_open(sock: std::os::fd::BorrowedFd<'_>, sys: &Path, dev: &Path) -> bool {
    let mut req = [0u8; grant::MAX_PATH + 1];
    let n = match recv(sock.as_raw_fd(), &mut req, MsgFlags::empty()) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let (reply, file) = answer_open(&req[..n], sys, dev);
    // Keyboards and the like are refused all the time: not news.
    if reply[0] == 1 {
        super::log::debug(
            1,
            format_args!(
                "privileged helper: refused {}",
                String::from_utf8_lossy(&reply[1..])
            ),
        );
    }
    send_with_fd(
        sock.as_raw_fd(),
        &reply,
        file.as_ref().map(|f| f.as_raw_fd()),
    )
    .is_ok()
}

// Descriptor passing (SCM_RIGHTS) straight on libc's sendmsg/recvmsg:
// nix's control-message types decode every kind of message there is,
// which is a few KB on a router's flash for the one kind used here.

/// Room for the control message of a few descriptors, aligned as
/// `cmsghdr` wants.
type CmsgSpace = [u64; 8];

/// Send `data`, with `fd` (if any) passed along.
fn send_with_fd(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<usize> {
    let mut space: CmsgSpace = [0; 8];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        let fd_len = std::mem::size_of::<RawFd>() as libc::c_uint;
        msg.msg_control = space.as_mut_ptr().cast();
        // SAFETY: arithmetic on sizes only.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(fd_len) } as _;
        // SAFETY: msg_control points at `space`, large enough for one
        // header and one descriptor (CMSG_SPACE), so the first header
        // exists and its data holds a RawFd.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(fd_len) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: msg points at live buffers for the length of the call.
    let n = unsafe { libc::sendmsg(sock, &msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Receive into `buf`, with the first descriptor passed along (any
/// others are closed); close-on-exec is set as they arrive.
fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space: CmsgSpace = [0; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of::<CmsgSpace>() as _;
    // SAFETY: msg points at live buffers for the length of the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fd = None;
    // SAFETY: the kernel filled `space` with well-formed headers up to
    // msg_controllen; CMSG_FIRSTHDR/NXTHDR stay inside it, and each
    // SCM_RIGHTS message's data is cmsg_len - CMSG_LEN(0) bytes of fds.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    // Owned at once: closed whatever happens next.
                    let owned = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    fd.get_or_insert(owned);
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        // Descriptors were lost on the way: an answer not to trust.
        return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
    }
    Ok((n as usize, fd))
}

/// Close every descriptor but stdio and `keep`: the helper holds no
/// listener, device or client socket.
fn close_others(keep: &[RawFd]) {
    let mut fds: Vec<RawFd> = Vec::new();
    match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => {
            for e in d.flatten() {
                if let Some(fd) = e.file_name().to_str().and_then(|n| n.parse().ok()) {
                    fds.push(fd);
                }
            }
        }
        Err(_) => fds.extend(3..1024),
    }
    for fd in fds {
        // The kernel log, where the log goes without syslog, stays.
        if fd > 2 && !keep.contains(&fd) && Some(fd) != super::log::fd() {
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

/// The helper's loop: one byte, one action, and open requests, until the
/// daemon's end closes.
fn serve(
    sock: UnixStream,
    open_sock: OwnedFd,
    shutdowncmd: Option<&str>,
    flag: Option<&std::path::Path>,
) {
    serve_with(sock, open_sock, shutdowncmd, flag, "wall")
}

/// [`serve`], with the program that sends WALL notices.
fn serve_with(
    mut sock: UnixStream,
    open_sock: OwnedFd,
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
    let mut walls: Vec<libc::pid_t> = Vec::new();
    let mut walls_full_said = false;
    let mut opens = true;
    loop {
        walls.retain(|&pid| matches!(super::exec::wait(pid, false), Ok(None)));
        let mut fds = [
            libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if opens { open_sock.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two valid pollfd entries (a negative fd is
        // ignored by the kernel).
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0
            && !serve_open(open_sock.as_fd(), Path::new("/sys"), Path::new("/dev"))
        {
            opens = false;
        }
        if fds[0].revents == 0 {
            continue;
        }
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
                    let argv = [super::exec::SHELL, "-c", cmd];
                    let input = super::exec::Input::Inherit;
                    match super::exec::spawn(&argv, &[], input, false, false).and_then(|pid| {
                        super::exec::wait(pid, true)?.ok_or(io::ErrorKind::WouldBlock.into())
                    }) {
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
                match super::exec::spawn_fed(wall, &wall_text(&raw), false) {
                    Ok(pid) => walls.push(pid),
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
mod tests {
    use super::*;

    fn descriptor(name: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        crate::recording::Recording::load(&dir).unwrap().descriptor
    }

    /// A sysfs and a /dev of our own: hidraw5 is a UPS whose node is
    /// /dev/null (1:3), hidraw6 a Megatec-over-HID device (/dev/zero),
    /// hidraw7 a UPS whose sysfs number is not its node's; hiddev0 and
    /// usbfs 001/004 belong to the UPS's USB device.
    fn trees(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
        let base =
            std::env::temp_dir().join(format!("hidupsd-privsep-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (sys, dev) = (base.join("sys"), base.join("dev"));
        let usbdev = sys.join("devices/usb1/1-1");
        let hid = usbdev.join("1-1:1.0/0003:051D:0002.0001");
        std::fs::create_dir_all(&hid).unwrap();
        std::fs::write(
            hid.join("report_descriptor"),
            descriptor("apc-back-ups-es-850g2"),
        )
        .unwrap();
        for (n, d, desc) in [
            (5, "1:3", "apc-back-ups-es-850g2"),
            (6, "1:5", "phoenixtec-06da-0003-megatec-over-hid"),
            (7, "243:7", "eaton-5sc-750"),
        ] {
            let c = sys.join(format!("class/hidraw/hidraw{n}"));
            std::fs::create_dir_all(c.join("device")).unwrap();
            std::fs::write(c.join("dev"), format!("{d}\n")).unwrap();
            std::fs::write(c.join("device/report_descriptor"), descriptor(desc)).unwrap();
        }
        let hd = sys.join("class/usbmisc/hiddev0");
        std::fs::create_dir_all(&hd).unwrap();
        std::fs::write(hd.join("dev"), "1:3\n").unwrap();
        std::os::unix::fs::symlink(usbdev.join("1-1:1.0"), hd.join("device")).unwrap();
        let devs = sys.join("bus/usb/devices");
        std::fs::create_dir_all(&devs).unwrap();
        std::fs::write(usbdev.join("busnum"), "1\n").unwrap();
        std::fs::write(usbdev.join("devnum"), "4\n").unwrap();
        std::fs::write(usbdev.join("dev"), "1:3\n").unwrap();
        std::os::unix::fs::symlink(&usbdev, devs.join("1-1")).unwrap();
        std::fs::create_dir_all(dev.join("usb")).unwrap();
        std::fs::create_dir_all(dev.join("bus/usb/001")).unwrap();
        for (name, to) in [
            ("hidraw5", "/dev/null"),
            ("hidraw6", "/dev/zero"),
            ("hidraw7", "/dev/null"),
            ("usb/hiddev0", "/dev/null"),
            ("bus/usb/001/004", "/dev/null"),
        ] {
            std::os::unix::fs::symlink(to, dev.join(name)).unwrap();
        }
        (base, sys, dev)
    }

    #[test]
    fn only_ups_nodes_are_opened() {
        let (base, sys, dev) = trees("answer");
        for (req, want) in [
            ("/dev/hidraw5", Ok(())),
            ("/dev/usb/hiddev0", Ok(())),
            ("/dev/bus/usb/001/004", Ok(())),
            ("/dev/hidraw6", Err("/dev/hidraw6: not a HID Power Device")),
            (
                "/dev/hidraw7",
                Err("/dev/hidraw7: the node is not the device sysfs names"),
            ),
            ("/dev/hidraw8", Err("errno 2")),
            ("/dev/bus/usb/001/005", Err("errno 2")),
            (
                "/etc/passwd",
                Err("not /dev/hidrawN, /dev/usb/hiddevN or /dev/bus/usb/BBB/DDD"),
            ),
        ] {
            let (reply, file) = answer_open(req.as_bytes(), &sys, &dev);
            let got = match reply[0] {
                0 => Ok(()),
                1 => Err(String::from_utf8_lossy(&reply[1..]).into_owned()),
                _ => Err(format!(
                    "errno {}",
                    i32::from_le_bytes([reply[1], reply[2], reply[3], reply[4]])
                )),
            };
            assert_eq!(got, want.map_err(str::to_string), "{req}");
            assert_eq!(file.is_some(), reply[0] == 0, "{req}");
        }
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn the_descriptor_comes_back_over_the_socket() {
        let (base, sys, dev) = trees("socket");
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let helper = std::thread::spawn(move || {
            let mut served = 0;
            while serve_open(theirs.as_fd(), &sys, &dev) {
                served += 1;
            }
            served
        });
        let f = ask_open(ours.as_fd(), Path::new("/dev/hidraw5")).unwrap();
        // The helper opened /dev/null for us: a character device 1:3.
        let m = f.metadata().unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(dev_numbers(m.rdev()), (1, 3));
        let e = ask_open(ours.as_fd(), Path::new("/dev/hidraw6")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("not a HID Power Device"), "{e}");
        let e = ask_open(ours.as_fd(), Path::new("/dev/hidraw9")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        let e = ask_open(ours.as_fd(), Path::new("/dev/hidraw0/../../etc/shadow")).unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
        drop(ours);
        assert_eq!(helper.join().unwrap(), 4);
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn device_numbers() {
        // makedev(243, 2) and makedev(189, 300) as glibc encodes them.
        assert_eq!(dev_numbers((243 << 8) | 2), (243, 2));
        assert_eq!(
            dev_numbers((189 << 8) | (300 & 0xff) | ((300 & !0xff) << 12)),
            (189, 300)
        );
    }
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
        // The open requests' socket: nobody asks on it here.
        let (opens, _no_opens) = UnixStream::pair().unwrap();
        let f = fake.to_str().unwrap().to_string();
        let helper =
            std::thread::spawn(move || serve_with(theirs, OwnedFd::from(opens), None, None, &f));
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
