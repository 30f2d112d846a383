//! Running the monitor's commands (`NOTIFYCMD`, `SHUTDOWNCMD`, `wall`)
//! without waiting for them: each is started ([`spawn`]) and its pid kept
//! until [`Children::reap`] sees it end (`waitpid(WNOHANG)` on our own
//! children only, no SIGCHLD handler).
//!
//! Boundary: what to run and when is decided by the caller; this only
//! starts processes and collects their exit.

use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// The shell every command line goes through, as upsmon's `system()`.
pub const SHELL: &str = "/bin/sh";

/// Whether `path` is a file someone may run (what the shell's lookup
/// needs; who may run it is the shell's business).
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `PATH` the shell looks programs up in: ours, else the usual one.
pub fn search_path() -> String {
    std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
}

/// A child's standard input.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    /// The daemon's own.
    Inherit,
    /// `/dev/null`.
    Null,
    /// This descriptor (the read end of a pipe).
    Fd(RawFd),
}

/// Start `argv[0]` (searched in `PATH` when it has no `/`) with `argv`,
/// the daemon's environment with `env` added (replacing variables of the
/// same names), the given standard input, standard output on `/dev/null`
/// when `quiet`, in a process group of its own when `own_group`. The child
/// starts as `std::process::Command` would start it: an empty signal mask
/// (the loop blocks the signals it reads from a signalfd) and SIGPIPE back
/// to its default action (Rust programs ignore it).
///
/// Why not `std::process::Command`: it is about 25 KB of a router build
/// (its environment map is a `BTreeMap`); `posix_spawnp` does the same in
/// one call, and reports a failed exec as an error as `Command` does.
pub fn spawn(
    argv: &[&str],
    env: &[(&str, &str)],
    stdin: Input,
    quiet: bool,
    own_group: bool,
) -> io::Result<libc::pid_t> {
    // The text, not the error itself: `NulError`'s `Debug` (which a boxed
    // error carries) would bring the `Debug` machinery to the binary.
    let nul = |e: std::ffi::NulError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let mut args: Vec<CString> = Vec::with_capacity(argv.len());
    for a in argv {
        args.push(CString::new(*a).map_err(nul)?);
    }
    if args.is_empty() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut vars: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        if env
            .iter()
            .any(|(n, _)| k.as_encoded_bytes() == n.as_bytes())
        {
            continue;
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        vars.push(CString::new(kv).map_err(nul)?);
    }
    for (k, v) in env {
        vars.push(CString::new(format!("{k}={v}")).map_err(nul)?);
    }
    let argp = pointers(&args);
    let envp = pointers(&vars);
    let null = b"/dev/null\0".as_ptr() as *const libc::c_char;
    let mut pid: libc::pid_t = 0;
    // SAFETY: the attribute and file-action objects are initialised before
    // use and destroyed after; every pointer handed to posix_spawnp (the
    // path, argv, envp and their strings) lives until it returns, and the
    // arrays end with a null pointer.
    let rc = unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut at: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut fa);
        libc::posix_spawnattr_init(&mut at);
        match stdin {
            Input::Inherit => {}
            Input::Null => {
                libc::posix_spawn_file_actions_addopen(&mut fa, 0, null, libc::O_RDONLY, 0);
            }
            Input::Fd(fd) => {
                libc::posix_spawn_file_actions_adddup2(&mut fa, fd, 0);
            }
        }
        if quiet {
            libc::posix_spawn_file_actions_addopen(&mut fa, 1, null, libc::O_WRONLY, 0);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        let mut dfl: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut dfl);
        libc::sigaddset(&mut dfl, libc::SIGPIPE);
        libc::posix_spawnattr_setsigmask(&mut at, &empty);
        libc::posix_spawnattr_setsigdefault(&mut at, &dfl);
        let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        if own_group {
            flags |= libc::POSIX_SPAWN_SETPGROUP;
            libc::posix_spawnattr_setpgroup(&mut at, 0);
        }
        libc::posix_spawnattr_setflags(&mut at, flags as libc::c_short);
        let rc = libc::posix_spawnp(
            &mut pid,
            args[0].as_ptr(),
            &fa,
            &at,
            argp.as_ptr(),
            envp.as_ptr(),
        );
        libc::posix_spawn_file_actions_destroy(&mut fa);
        libc::posix_spawnattr_destroy(&mut at);
        rc
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(pid)
}

/// The null-terminated array of pointers `posix_spawnp` takes, for
/// `strings` (which must outlive it).
fn pointers(strings: &[CString]) -> Vec<*mut libc::c_char> {
    let mut v = Vec::with_capacity(strings.len() + 1);
    for s in strings {
        v.push(s.as_ptr() as *mut libc::c_char);
    }
    v.push(std::ptr::null_mut());
    v
}

/// Start `program` with `input` on its standard input through a pipe
/// (which `input` must fit, 64 KiB on Linux, so that writing never
/// blocks) and standard output on `/dev/null`.
pub fn spawn_fed(program: &str, input: &[u8], own_group: bool) -> io::Result<libc::pid_t> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, owned from here on.
    let (theirs, ours) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    let pid = spawn(
        &[program],
        &[],
        Input::Fd(theirs.as_raw_fd()),
        true,
        own_group,
    )?;
    drop(theirs);
    // A program that exits without reading it gets EPIPE here (SIGPIPE
    // is ignored by Rust programs): harmless.
    let _ = std::fs::File::from(ours).write_all(input);
    Ok(pid)
}

/// How child `pid` ended, if it has (`wait`: block until it does).
pub fn wait(pid: libc::pid_t, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut status: libc::c_int = 0;
    loop {
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: waitpid on our own child, writing into a local.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Commands started and not yet reaped.
#[derive(Debug, Default)]
pub struct Children {
    running: Vec<(String, libc::pid_t)>,
}

impl Children {
    /// Start `sh -c LINE [ARG...]` (in the shell, `$1`... are the
    /// arguments) with `env` added to the environment, in a process group
    /// of its own, standard input from /dev/null. `what` names it in
    /// [`Children::reap`]'s reports.
    pub fn shell(
        &mut self,
        what: &str,
        line: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> io::Result<()> {
        let mut argv = vec![SHELL, "-c", line, SHELL];
        argv.extend_from_slice(args);
        let pid = spawn(&argv, env, Input::Null, false, true)?;
        self.running.push((what.to_string(), pid));
        Ok(())
    }

    /// Start `program` with `input` on its standard input (`wall`). The
    /// input must fit the pipe (64 KiB on Linux) so that writing it never
    /// blocks.
    pub fn feed(&mut self, program: &str, input: &[u8]) -> io::Result<()> {
        let pid = spawn_fed(program, input, true)?;
        self.running.push((program.to_string(), pid));
        Ok(())
    }

    /// Collect every child that has ended; `done` gets its name and how
    /// it ended. Never blocks.
    pub fn reap(&mut self, mut done: impl FnMut(&str, io::Result<ExitStatus>)) {
        self.running.retain(|(what, pid)| match wait(*pid, false) {
            Ok(None) => true,
            Ok(Some(st)) => {
                done(what, Ok(st));
                false
            }
            Err(e) => {
                done(what, Err(e));
                false
            }
        });
    }

    /// Children still running (or ended and not yet reaped).
    pub fn pending(&self) -> usize {
        self.running.len()
    }

    /// Children named `what` still running.
    pub fn pending_named(&self, what: &str) -> usize {
        self.running.iter().filter(|(w, _)| w == what).count()
    }

    /// End the children `owned` says are ours to end (NOTIFYCMD, wall;
    /// not SHUTDOWNCMD, which is what shuts the host down): SIGTERM to
    /// each one's process group (what it started too), SIGKILL to what
    /// is left after `grace`, then reap them. Returns how many were
    /// running.
    pub fn terminate(&mut self, owned: impl Fn(&str) -> bool, grace: std::time::Duration) -> usize {
        let (mut ours, others): (Vec<_>, Vec<_>) =
            self.running.drain(..).partition(|(what, _)| owned(what));
        self.running = others;
        // Ended already: nothing to signal, just collected.
        ours.retain(|(_, pid)| matches!(wait(*pid, false), Ok(None)));
        for (_, pid) in &ours {
            // SAFETY: kill with a process group id taken from our own
            // child, which is the group's leader (spawned with its own
            // group); it is not reaped yet, so the id is still its.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
        }
        let n = ours.len();
        let mut ended = vec![false; n];
        let end = std::time::Instant::now() + grace;
        while std::time::Instant::now() < end && ended.contains(&false) {
            for (k, (_, pid)) in ours.iter().enumerate() {
                ended[k] = ended[k] || !matches!(wait(*pid, false), Ok(None));
            }
            if ended.contains(&false) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        for (k, (_, pid)) in ours.iter().enumerate() {
            // The group too: a leader that ended on SIGTERM may leave its
            // children in the group.
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            if !ended[k] {
                let _ = wait(*pid, true);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn reap_all(c: &mut Children) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while c.pending() > 0 && Instant::now() < end {
            c.reap(|w, st| out.push((w.to_string(), st.is_ok_and(|s| s.success()))));
            std::thread::sleep(Duration::from_millis(10));
        }
        out
    }

    #[test]
    fn shell_passes_arguments_and_environment() {
        let dir = std::env::temp_dir().join(format!("hidupsd-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let mut c = Children::default();
        c.shell(
            "notify",
            &format!(
                "printf '%s|%s|%s' \"$NOTIFYTYPE\" \"$UPSNAME\" \"$1\" > {}",
                out.display()
            ),
            &["it's \"quoted\" $HOME"],
            &[("NOTIFYTYPE", "ONBATT"), ("UPSNAME", "ups@localhost")],
        )
        .unwrap();
        c.shell("false", "exit 3", &[], &[]).unwrap();
        let mut got = reap_all(&mut c);
        got.sort();
        assert_eq!(
            got,
            [("false".to_string(), false), ("notify".to_string(), true)]
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "ONBATT|ups@localhost|it's \"quoted\" $HOME"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_nul_byte_is_refused_before_anything_starts() {
        for (argv, env) in [
            (&["/bin/true", "a\0b"][..], &[][..]),
            (&["/bin/true"][..], &[("NAME", "a\0b")][..]),
        ] {
            let e = spawn(argv, env, Input::Null, true, false).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("nul byte"), "{e}");
        }
        let e = spawn(&[], &[], Input::Null, true, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn terminate_ends_our_children_and_what_they_started_but_not_shutdowncmd() {
        let dir = std::env::temp_dir().join(format!("hidupsd-exec-t-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Children::default();
        // A NOTIFYCMD that hangs in a grandchild, one that ignores
        // SIGTERM, and a SHUTDOWNCMD.
        let pids: Vec<std::path::PathBuf> = (0..3).map(|i| dir.join(format!("pid{i}"))).collect();
        c.shell(
            "NOTIFYCMD",
            &format!("sleep 100 & echo $! > {}; wait", pids[0].display()),
            &[],
            &[],
        )
        .unwrap();
        c.shell(
            "NOTIFYCMD",
            &format!(
                "trap '' TERM; echo $$ > {}; while :; do sleep 0.05; done",
                pids[1].display()
            ),
            &[],
            &[],
        )
        .unwrap();
        c.shell(
            "SHUTDOWNCMD",
            &format!("echo $$ > {}; sleep 2", pids[2].display()),
            &[],
            &[],
        )
        .unwrap();
        let read = |p: &std::path::Path| -> i32 {
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(s) = std::fs::read_to_string(p) {
                    if let Ok(n) = s.trim().parse() {
                        return n;
                    }
                }
                assert!(Instant::now() < end, "{} never written", p.display());
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let p: Vec<i32> = pids.iter().map(|f| read(f)).collect();
        assert!(p.iter().all(|&p| alive(p)));
        assert_eq!(c.pending_named("NOTIFYCMD"), 2);
        let n = c.terminate(|w| w != "SHUTDOWNCMD", Duration::from_millis(300));
        assert_eq!(n, 2);
        assert_eq!(c.pending(), 1);
        // The grandchild sleep was in its parent's group: gone too (it
        // may linger as a zombie of init for a moment).
        let gone = |pid: i32| {
            let end = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < end {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                if stat.contains(") Z ") {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            !alive(pid)
        };
        assert!(gone(p[0]), "the hanging grandchild is left");
        assert!(gone(p[1]), "the TERM-ignoring child is left");
        assert!(alive(p[2]), "SHUTDOWNCMD must be left alone");
        reap_all(&mut c);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// As `std::process::Command` starts them: no signal blocked (the
    /// loop blocks the ones it reads) and SIGPIPE not ignored.
    #[test]
    fn child_signal_mask_empty_and_sigpipe_default() {
        let dir = std::env::temp_dir().join(format!("hidupsd-exec-sig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("status");
        // SAFETY: blocks SIGUSR2 in this test's thread, whose mask the
        // child would inherit without the reset.
        unsafe {
            let mut s: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut s);
            libc::sigaddset(&mut s, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &s, std::ptr::null_mut());
        }
        // `exec`: grep starts with the shell's mask as spawned (a shell
        // that forks may block signals around the fork).
        let line = format!(
            "exec grep -E '^Sig(Blk|Ign)' /proc/self/status > {}",
            out.display()
        );
        let pid = spawn(&[SHELL, "-c", &line], &[], Input::Null, false, false).unwrap();
        assert!(wait(pid, true).unwrap().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let mask = |name: &str| {
            let l = text.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk:"), 0, "{text}");
        assert_eq!(mask("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn feed_writes_standard_input() {
        let mut c = Children::default();
        c.feed("/bin/cat", b"hello\n").unwrap();
        assert_eq!(reap_all(&mut c), [("/bin/cat".to_string(), true)]);
        assert!(Children::default().feed("/nonexistent/wall", b"x").is_err());
    }
}
