//! Where the daemon's messages go: standard error (foreground, and
//! procd/systemd, which collect it), or syslog (`-B`, `--syslog`), and
//! how much is said (`-D`, repeatable, as NUT's debug levels).
//!
//! Boundary: a process-wide sink set once at start; callers format,
//! this writes one line per message. syslog goes through the C library
//! (openlog/syslog), which every target system has: no crate, no socket
//! code of our own.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static SYSLOG: AtomicBool = AtomicBool::new(false);
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Send messages to syslog (facility daemon, ident `hidupsd`, with the
/// pid) from now on.
pub fn use_syslog() {
    // openlog keeps the pointer: a static string.
    static IDENT: &[u8] = b"hidupsd\0";
    // SAFETY: IDENT is NUL-terminated and lives for the whole program.
    unsafe {
        libc::openlog(
            IDENT.as_ptr().cast(),
            libc::LOG_PID | libc::LOG_NDELAY,
            libc::LOG_DAEMON,
        )
    };
    SYSLOG.store(true, Ordering::Relaxed);
}

/// The debug level: 0 logs events and errors only; each `-D` adds detail.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Log one message (an event or an error).
pub fn log(args: std::fmt::Arguments<'_>) {
    write(libc::LOG_NOTICE, args);
}

/// Log a message only from debug level `level` up.
pub fn debug(level: u8, args: std::fmt::Arguments<'_>) {
    if self::level() >= level {
        write(libc::LOG_DEBUG, args);
    }
}

fn write(priority: libc::c_int, args: std::fmt::Arguments<'_>) {
    if SYSLOG.load(Ordering::Relaxed) {
        let mut text = args.to_string().into_bytes();
        // A NUL inside would cut the message; none is expected.
        text.retain(|&b| b != 0);
        text.push(0);
        // SAFETY: "%s" with one NUL-terminated string argument.
        unsafe { libc::syslog(priority, b"%s\0".as_ptr().cast(), text.as_ptr()) };
    } else {
        let _ = writeln!(std::io::stderr().lock(), "hidupsd: {args}");
    }
}
