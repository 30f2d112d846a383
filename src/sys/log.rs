//! Where the daemon's messages go: standard error (foreground, and
//! procd/systemd, which collect it), or syslog (`-B`, `--syslog`), and
//! how much is said (`-D`, repeatable, as NUT's debug levels).
//!
//! Boundary: a process-wide sink set once at start; callers format, this
//! writes each message as one line in one write (a pipe or the kernel
//! log keeps a write whole, so lines from threads and from the forked
//! helper never mix). Each message has a severity, carried where the
//! sink can carry it: the syslog priority, a `<N>` prefix the journal
//! reads when standard error is systemd's journal stream, the kernel
//! log's own prefix. syslog goes through the C library (openlog/syslog):
//! no crate (docs/crates.md). Without a syslog socket the kernel log
//! (`/dev/kmsg`, read by `dmesg`) takes the messages, and the first says
//! so; without that either, standard error stays, and [`try_syslog`]
//! says why to its caller.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// How bad a message is; the syslog levels hidupsd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed that the user must fix (a shutdown that cannot
    /// run, a flag that cannot be written).
    Error,
    /// Works, but not as configured or not as well as it could.
    Warning,
    /// An event: power, connections, devices, reloads.
    Notice,
    /// Detail asked for with `-D`.
    Debug,
}

impl Level {
    fn syslog(self) -> libc::c_int {
        match self {
            Level::Error => libc::LOG_ERR,
            Level::Warning => libc::LOG_WARNING,
            Level::Notice => libc::LOG_NOTICE,
            Level::Debug => libc::LOG_DEBUG,
        }
    }

    /// The level of a message written the old way, as one text: a
    /// `warning:` or `error:` word in front (after any `name: ` parts)
    /// says it.
    pub fn of(text: &str) -> Level {
        let mut rest = text;
        loop {
            if rest.starts_with("warning: ") {
                return Level::Warning;
            }
            if rest.starts_with("error: ") {
                return Level::Error;
            }
            match rest.split_once(": ") {
                // Only short `name: ` parts (a UPS, a file, a peer).
                Some((head, tail)) if !head.contains(' ') => rest = tail,
                _ => return Level::Notice,
            }
        }
    }
}

const STDERR: u8 = 0;
const SYSLOG: u8 = 1;
const KMSG: u8 = 2;

static SINK: AtomicU8 = AtomicU8::new(STDERR);
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// The kernel log, opened once (as root: it stays writable after the
/// daemon drops privileges).
static KMSG_FILE: OnceLock<std::fs::File> = OnceLock::new();
/// Standard error is systemd's journal stream: prefix `<N>`.
static JOURNAL: OnceLock<bool> = OnceLock::new();

/// The longest line written; a longer message is cut, and ends in
/// `[...]` to say so. A pipe keeps a write of up to 4096 bytes whole.
pub const MAX_LINE: usize = 4096;

/// One line under construction, on the stack.
struct Line {
    buf: [u8; MAX_LINE],
    len: usize,
    cut: bool,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; MAX_LINE],
            len: 0,
            cut: false,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// End the line: `[...]` if it was cut, then `\n` (room is kept).
    fn finish(&mut self) {
        const MORE: &[u8] = b"[...]";
        if self.cut {
            let at = self.len.min(MAX_LINE - 1 - MORE.len());
            self.buf[at..at + MORE.len()].copy_from_slice(MORE);
            self.len = at + MORE.len();
        }
        self.buf[self.len] = b'\n';
        self.len += 1;
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // One byte stays free for the newline.
        let room = MAX_LINE - 1 - self.len;
        let b = s.as_bytes();
        let n = b.len().min(room);
        if n < b.len() {
            self.cut = true;
        }
        // A NUL would end the text for syslog(3); none is expected.
        for (d, &c) in self.buf[self.len..self.len + n].iter_mut().zip(b) {
            *d = if c == 0 { b'?' } else { c };
        }
        self.len += n;
        Ok(())
    }
}

/// A message's own text, not yet a line.
fn body(args: fmt::Arguments<'_>) -> Line {
    let mut l = Line::new();
    let _ = l.write_fmt(args);
    l
}

/// The line for sink `sink`, newline included: the prefix the sink reads
/// the level from, the program name, the message.
fn format(sink: u8, journal: bool, level: Level, body: &Line) -> Line {
    let mut l = Line::new();
    let _ = match sink {
        KMSG => write!(
            l,
            "<{}>hidupsd[{}]: ",
            libc::LOG_DAEMON | level.syslog(),
            std::process::id()
        ),
        SYSLOG => Ok(()),
        _ if journal => write!(l, "<{}>hidupsd: ", level.syslog()),
        _ => l.write_str("hidupsd: "),
    };
    // Bytes of valid UTF-8 (cut, at worst, inside the last character:
    // the sinks take bytes).
    let b = body.as_bytes();
    let n = b.len().min(MAX_LINE - 1 - l.len);
    l.buf[l.len..l.len + n].copy_from_slice(&b[..n]);
    l.len += n;
    l.cut = body.cut || n < b.len();
    l.finish();
    l
}

/// Send messages to syslog (facility daemon, ident `hidupsd`, with the
/// pid) from now on, or, where no syslog daemon listens on `/dev/log`,
/// to the kernel log, the first message saying so (`Ok(Some(note))`: the
/// same note, for the terminal). Call it while still root (the kernel
/// log is root's) and, for `-B`, before detaching: `Err` says, for the
/// terminal, that neither is there and standard error stays the log.
pub fn try_syslog() -> Result<Option<String>, String> {
    match choose(Path::new("/dev/log"), Path::new("/dev/kmsg")) {
        Chosen::Syslog => {
            open_syslog();
            SINK.store(SYSLOG, Ordering::Relaxed);
            Ok(None)
        }
        Chosen::Kmsg(file, why) => {
            let _ = KMSG_FILE.set(file);
            SINK.store(KMSG, Ordering::Relaxed);
            write(Level::Warning, format_args!("{why}"));
            Ok(Some(why))
        }
        Chosen::Neither(why) => Err(why),
    }
}

/// Where messages can go instead of standard error.
enum Chosen {
    Syslog,
    /// The kernel log, and the warning to write there first.
    Kmsg(std::fs::File, String),
    Neither(String),
}

fn choose(dev_log: &Path, kmsg: &Path) -> Chosen {
    let why = match syslog_listens(dev_log) {
        Ok(()) => return Chosen::Syslog,
        Err(e) => e,
    };
    match std::fs::OpenOptions::new().write(true).open(kmsg) {
        Ok(f) => Chosen::Kmsg(
            f,
            format!(
                "warning: no syslog ({}: {why}): messages go to the kernel log (dmesg)",
                dev_log.display()
            ),
        ),
        Err(e) => Chosen::Neither(format!(
            "no syslog ({}: {why}) and no kernel log ({}: {e}): \
             messages go to standard error",
            dev_log.display(),
            kmsg.display()
        )),
    }
}

/// Whether a syslog daemon takes messages at `path` (datagram, as most
/// do, or stream, as some do; the C library tries both too).
fn syslog_listens(path: &Path) -> Result<(), std::io::Error> {
    use std::os::unix::net::{UnixDatagram, UnixStream};
    let d = UnixDatagram::unbound()?;
    match d.connect(path) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => UnixStream::connect(path).map(drop),
        Err(e) => Err(e),
    }
}

fn open_syslog() {
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
}

/// The descriptor a forked helper must keep open to go on logging (the
/// kernel log's), if any.
pub fn fd() -> Option<RawFd> {
    KMSG_FILE.get().map(|f| f.as_raw_fd())
}

/// The debug level: 0 logs events and errors only; each `-D` adds detail.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Log one message; its level from its text ([`Level::of`]).
pub fn log(args: fmt::Arguments<'_>) {
    let b = body(args);
    let level = Level::of(core::str::from_utf8(b.as_bytes()).unwrap_or(""));
    emit(level, &b);
}

/// An error the user must see.
pub fn error(args: fmt::Arguments<'_>) {
    write(Level::Error, args);
}

/// A warning, written `warning: ...`.
pub fn warning(args: fmt::Arguments<'_>) {
    write(Level::Warning, format_args!("warning: {args}"));
}

/// Log a message only from debug level `level` up.
pub fn debug(level: u8, args: fmt::Arguments<'_>) {
    if self::level() >= level {
        write(Level::Debug, args);
    }
}

fn journal() -> bool {
    *JOURNAL.get_or_init(|| {
        let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Ok(st) = nix::sys::stat::fstat(2) else {
            return false;
        };
        v.to_str() == Some(&format!("{}:{}", st.st_dev, st.st_ino))
    })
}

fn write(level: Level, args: fmt::Arguments<'_>) {
    emit(level, &body(args));
}

fn emit(level: Level, body: &Line) {
    let sink = SINK.load(Ordering::Relaxed);
    let line = format(sink, sink == STDERR && journal(), level, body);
    put(sink, level, line.as_bytes());
}

/// Hand one formatted line to the sink in one call.
fn put(sink: u8, level: Level, line: &[u8]) {
    match sink {
        SYSLOG => {
            let mut text = [0u8; MAX_LINE + 1];
            // The newline goes; syslog adds its own framing.
            let body = &line[..line.len() - 1];
            text[..body.len()].copy_from_slice(body);
            // SAFETY: "%s" with one NUL-terminated string argument.
            unsafe { libc::syslog(level.syslog(), b"%s\0".as_ptr().cast(), text.as_ptr()) };
        }
        KMSG => {
            if let Some(mut f) = KMSG_FILE.get() {
                put_to(&mut f, line);
            }
        }
        _ => put_to(&mut std::io::stderr(), line),
    }
}

/// The line in one write: a pipe (up to 4096 bytes) and the kernel log
/// keep it whole whoever else writes there.
fn put_to(out: &mut dyn Write, line: &[u8]) {
    let _ = out.write_all(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sink: u8, journal: bool, level: Level, args: fmt::Arguments<'_>) -> String {
        String::from_utf8(
            format(sink, journal, level, &body(args))
                .as_bytes()
                .to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn levels_come_from_the_text_of_old_style_messages() {
        assert_eq!(Level::of("warning: MAXCONN 9 lowered to 5"), Level::Warning);
        assert_eq!(Level::of("ups1: warning: odd"), Level::Warning);
        assert_eq!(Level::of("error: x"), Level::Error);
        assert_eq!(Level::of("ups1: on battery"), Level::Notice);
        // A `warning:` deep in a sentence is not the message's level.
        assert_eq!(Level::of("reload: the file says warning: x"), Level::Notice);
        assert_eq!(Level::of(""), Level::Notice);
    }

    #[test]
    fn each_sink_gets_its_prefix_and_one_line() {
        let a = format_args!("ups1: {} on battery", "now");
        assert_eq!(
            text(STDERR, false, Level::Notice, a),
            "hidupsd: ups1: now on battery\n"
        );
        assert_eq!(
            text(
                STDERR,
                true,
                Level::Error,
                format_args!("cannot run SHUTDOWNCMD")
            ),
            "<3>hidupsd: cannot run SHUTDOWNCMD\n"
        );
        assert_eq!(
            text(STDERR, true, Level::Warning, format_args!("w")),
            "<4>hidupsd: w\n"
        );
        let k = text(KMSG, false, Level::Debug, format_args!("d"));
        assert_eq!(k, format!("<31>hidupsd[{}]: d\n", std::process::id()));
        assert_eq!(
            text(SYSLOG, false, Level::Notice, format_args!("x\0y")),
            "x?y\n"
        );
    }

    #[test]
    fn a_long_message_is_cut_and_says_so() {
        let long = "x".repeat(3 * MAX_LINE);
        let t = text(STDERR, false, Level::Notice, format_args!("{long}"));
        assert_eq!(t.len(), MAX_LINE);
        assert!(t.ends_with("x[...]\n"), "{}", &t[t.len() - 20..]);
        let fits = "y".repeat(MAX_LINE - "hidupsd: ".len() - 1);
        let t = text(STDERR, false, Level::Notice, format_args!("{fits}"));
        assert_eq!(t.len(), MAX_LINE);
        assert!(t.ends_with("y\n"));
    }

    #[test]
    fn lines_from_many_threads_stay_whole() {
        // Eight writers on one pipe, no lock between them (as the daemon
        // and its forked helper share standard error): each line is one
        // write, so none is split by another's, up to the longest.
        let (r, w) = nix::unistd::pipe().unwrap();
        let w = std::fs::File::from(w);
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut s).unwrap();
            s
        });
        let long = "z".repeat(2 * MAX_LINE);
        std::thread::scope(|sc| {
            for t in 0..8 {
                let (w, long) = (&w, &long);
                sc.spawn(move || {
                    for i in 0..300usize {
                        let n = (i * 37) % (MAX_LINE + 100);
                        let b = body(format_args!("thread {t} line {i}: {}", &long[..n]));
                        put_to(
                            &mut &*w,
                            format(STDERR, false, Level::Notice, &b).as_bytes(),
                        );
                    }
                });
            }
        });
        drop(w);
        let got = reader.join().unwrap();
        let lines: Vec<_> = got.lines().collect();
        assert_eq!(lines.len(), 8 * 300);
        for l in lines {
            let rest = l
                .strip_prefix("hidupsd: thread ")
                .unwrap_or_else(|| panic!("{l:.80}"));
            let (_, zs) = rest.split_once(": ").unwrap();
            let zs = zs.strip_suffix("[...]").unwrap_or(zs);
            assert!(zs.bytes().all(|b| b == b'z'), "mixed: {l:.80}");
            assert!(l.len() < MAX_LINE, "{}", l.len());
        }
    }

    #[test]
    fn without_a_syslog_socket_the_kernel_log_takes_the_messages() {
        let dir = std::env::temp_dir().join(format!("hidupsd-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kmsg = dir.join("kmsg");
        std::fs::write(&kmsg, "").unwrap();
        // Neither: the caller is told why.
        let Chosen::Neither(e) = choose(&dir.join("no-log"), &dir.join("no-kmsg")) else {
            panic!("a sink from nothing");
        };
        assert!(e.contains("no-log") && e.contains("no-kmsg"), "{e}");
        // No socket, a kernel log: it takes the lines, the first saying
        // why (as try_syslog writes them, without touching the global
        // sink other tests log through).
        let Chosen::Kmsg(f, why) = choose(&dir.join("no-log"), &kmsg) else {
            panic!("the kernel log was not chosen");
        };
        for (level, b) in [
            (Level::Warning, body(format_args!("{why}"))),
            (
                Level::Error,
                body(format_args!("cannot run SHUTDOWNCMD: {}", "boom")),
            ),
        ] {
            (&f).write_all(format(KMSG, false, level, &b).as_bytes())
                .unwrap();
        }
        let got = std::fs::read_to_string(&kmsg).unwrap();
        let pid = std::process::id();
        let lines: Vec<_> = got.lines().collect();
        assert_eq!(lines.len(), 2, "{got}");
        assert!(
            lines[0].starts_with(&format!("<28>hidupsd[{pid}]: warning: no syslog (")),
            "{got}"
        );
        assert!(lines[0].ends_with("messages go to the kernel log (dmesg)"));
        assert_eq!(
            lines[1],
            format!("<27>hidupsd[{pid}]: cannot run SHUTDOWNCMD: boom")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_listening_socket_is_found() {
        let dir = std::env::temp_dir().join(format!("hidupsd-log2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log");
        let _d = std::os::unix::net::UnixDatagram::bind(&p).unwrap();
        assert!(syslog_listens(&p).is_ok());
        let s = dir.join("stream");
        let _l = std::os::unix::net::UnixListener::bind(&s).unwrap();
        assert!(syslog_listens(&s).is_ok());
        assert!(syslog_listens(&dir.join("none")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
