//! Running the monitor's commands (`NOTIFYCMD`, `SHUTDOWNCMD`, `wall`)
//! without waiting for them: each is started and kept as a [`Child`]
//! until [`Children::reap`] sees it end (`waitpid(WNOHANG)` on our own
//! children only, no SIGCHLD handler).
//!
//! Boundary: what to run and when is decided by the caller; this only
//! starts processes and collects their exit.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};

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

/// Commands started and not yet reaped.
#[derive(Debug, Default)]
pub struct Children {
    running: Vec<(String, Child)>,
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
        let mut c = Command::new(SHELL);
        c.arg("-c").arg(line).arg(SHELL).args(args);
        c.envs(env.iter().copied());
        c.stdin(Stdio::null()).process_group(0);
        let child = c.spawn()?;
        self.running.push((what.to_string(), child));
        Ok(())
    }

    /// Start `program` with `input` on its standard input (`wall`). The
    /// input must fit the pipe (64 KiB on Linux) so that writing it never
    /// blocks.
    pub fn feed(&mut self, program: &str, input: &[u8]) -> io::Result<()> {
        let mut child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            // A program that exits without reading it gets EPIPE here
            // (SIGPIPE is ignored by Rust programs): harmless.
            let _ = stdin.write_all(input);
        }
        self.running.push((program.to_string(), child));
        Ok(())
    }

    /// Collect every child that has ended; `done` gets its name and how
    /// it ended. Never blocks.
    pub fn reap(&mut self, mut done: impl FnMut(&str, io::Result<ExitStatus>)) {
        self.running.retain_mut(|(what, c)| match c.try_wait() {
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
        let pgid = |c: &Child| -(c.id() as libc::pid_t);
        let (mut ours, others): (Vec<_>, Vec<_>) =
            self.running.drain(..).partition(|(what, _)| owned(what));
        self.running = others;
        // Ended already: nothing to signal, just collected.
        ours.retain_mut(|(_, c)| matches!(c.try_wait(), Ok(None)));
        for (_, c) in &ours {
            // SAFETY: kill with a process group id taken from our own
            // child, which is the group's leader (`process_group(0)`).
            unsafe { libc::kill(pgid(c), libc::SIGTERM) };
        }
        let n = ours.len();
        let end = std::time::Instant::now() + grace;
        while std::time::Instant::now() < end
            && ours
                .iter_mut()
                .any(|(_, c)| matches!(c.try_wait(), Ok(None)))
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for (_, c) in &mut ours {
            // The group too: a leader that ended on SIGTERM may leave its
            // children in the group.
            // SAFETY: as above.
            unsafe { libc::kill(pgid(c), libc::SIGKILL) };
            let _ = c.wait();
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

    #[test]
    fn feed_writes_standard_input() {
        let mut c = Children::default();
        c.feed("/bin/cat", b"hello\n").unwrap();
        assert_eq!(reap_all(&mut c), [("/bin/cat".to_string(), true)]);
        assert!(Children::default().feed("/nonexistent/wall", b"x").is_err());
    }
}
