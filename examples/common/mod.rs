//! Pieces shared by the programs that run the real daemon and measure
//! it (`hostile`, `soak`, `footprint`): not an example of its own
//! (cargo builds `examples/*.rs` and `examples/*/main.rs` only).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

/// The daemon dies with this program (the release profile aborts on a
/// panic, so no destructor would kill it).
pub fn die_with_parent(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// Send `req`, read one reply line (or a whole list); None on error.
pub fn ask(s: &mut TcpStream, req: &str) -> Option<String> {
    s.write_all(req.as_bytes()).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\n")
            && (!got.starts_with(b"BEGIN LIST") || got.windows(9).any(|w| w == b"END LIST "))
        {
            return Some(String::from_utf8_lossy(&got).into_owned());
        }
    }
}

/// A number from `/proc/PID/status` (`VmHWM:`, `VmRSS:`, in kB); 0 when
/// the process or the line is gone.
pub fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of `pid`.
pub fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
