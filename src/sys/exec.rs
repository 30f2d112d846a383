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
    fn feed_writes_standard_input() {
        let mut c = Children::default();
        c.feed("/bin/cat", b"hello\n").unwrap();
        assert_eq!(reap_all(&mut c), [("/bin/cat".to_string(), true)]);
        assert!(Children::default().feed("/nonexistent/wall", b"x").is_err());
    }
}
