//! Starting the real daemon for integration tests: a configuration
//! directory in a temporary folder, a free loopback port, and a guard that
//! kills the process when the test ends (or panics).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Daemon {
    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("hidupsd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send signal `sig` (`HUP`, `TERM`) to the daemon.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// SIGTERM, and wait (at most 10 s) for the daemon to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(t0.elapsed() < WAIT, "the daemon did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The USB IDs the installed udev rules (rules/70-hidupsd.rules) give
/// the group nut, in the rules' order.
pub fn udev_rule_ids() -> Vec<(u16, u16)> {
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/70-hidupsd.rules"),
    )
    .unwrap();
    let hex = |l: &str, key: &str| -> Option<u16> {
        let h = l.split(key).nth(1)?.get(..4)?;
        Some(u16::from_str_radix(h, 16).unwrap_or_else(|_| panic!("not hex: {l}")))
    };
    rules
        .lines()
        .filter_map(|l| {
            Some((
                hex(l, "ATTRS{idVendor}==\"")?,
                hex(l, "ATTRS{idProduct}==\"")?,
            ))
        })
        .collect()
}

/// Is this program on PATH?
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A tool or client a test needs is missing. In CI (CI=true) that is a
/// failure naming what to install, so that a failed install cannot pass
/// as a skipped test; elsewhere the test says so and goes on without it.
pub fn missing(what: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{what} is not installed; in CI (CI=true) that is a failure, not a skip");
    }
    println!("skipped: {what} is not installed");
}

/// What a stock upsmon prints, before exiting, when another upsmon runs
/// on this host (NUT's own service, or another test run's): upsmon 2.8.0
/// refuses a second instance whatever its NUT_ALTPIDPATH.
pub const OTHER_UPSMON: &str = "A previous upsmon instance is already running";

/// Held while a stock upsmon runs: tests of one binary run in parallel,
/// and upsmon allows one instance per host.
pub fn one_stock_upsmon() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the stock upsmon whose output is in `out` refused to start
/// because another upsmon runs on this host.
pub fn other_upsmon(out: &Path) -> bool {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .contains(OTHER_UPSMON)
}

/// Fails, saying why, when [`other_upsmon`]: the host's state, not
/// hidupsd, is what stops the test.
pub fn assert_no_other_upsmon(out: &Path) {
    assert!(
        !other_upsmon(out),
        "another upsmon is running on this host, so the stock upsmon would not start \
         (\"{OTHER_UPSMON}\"): stop it (systemctl stop nut-monitor, or let the other \
         test run end) and run this test again"
    );
}

/// The daemon's binary: cargo's path for an integration test; for an
/// example sharing this module (examples/notify_latency.rs), the one
/// built beside the example's directory (target/<profile>/hidupsd).
pub fn bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_hidupsd") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("hidupsd")
        }
    }
}

/// The configuration directory [`start`] uses for `tag` (removed when
/// the daemon's guard drops).
pub fn dir_for(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hidupsd-{tag}-{}", std::process::id()))
}

/// Start `hidupsd -c DIR` with `ups.conf` and `upsd.users` as given and a
/// LISTEN line on a free port; wait until it accepts.
pub fn start(tag: &str, ups_conf: &str, users: &str) -> Daemon {
    start_with(tag, ups_conf, users, &[])
}

/// As [`start`], with more files (name, content) in the directory.
pub fn start_with(tag: &str, ups_conf: &str, users: &str, files: &[(&str, &str)]) -> Daemon {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = dir_for(tag);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(dir.join("upsd.users"), users).unwrap();
    std::fs::write(dir.join("ups.conf"), ups_conf).unwrap();
    // `{PORT}` in a file stands for the port chosen here.
    for (name, text) in files {
        std::fs::write(dir.join(name), text.replace("{PORT}", &port.to_string())).unwrap();
    }
    // The log goes to a file: a pipe nobody reads would stall a chatty
    // daemon once full.
    let log = std::fs::File::create(dir.join("hidupsd.log")).unwrap();
    let child = Command::new(bin())
        .args(["-c", dir.to_str().unwrap()])
        .stderr(log)
        .spawn()
        .unwrap();
    let mut d = Daemon { child, port, dir };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(st) = d.child.try_wait().unwrap() {
            let e = std::fs::read_to_string(d.dir.join("hidupsd.log")).unwrap_or_default();
            panic!("daemon exited ({st}): {e}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

/// Run a program, returning stdout, and panicking with stderr on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let o = Command::new(program).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Run a program that must succeed; its standard error (where upsrw and
/// upscmd `-w` print the TRACKING result).
pub fn run_err(program: &str, args: &[&str]) -> String {
    let o = Command::new(program).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{program} {args:?} failed: {err}");
    err
}

/// Poll `f` every 100 ms for up to `secs` seconds until it returns true.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How long a test waits for the daemon before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw NUT protocol client.
pub struct Client(pub TcpStream);

impl Client {
    /// Connect, retrying until the daemon listens.
    pub fn connect(port: u16) -> Client {
        let t0 = Instant::now();
        loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(WAIT)).unwrap();
                s.set_nodelay(true).unwrap();
                return Client(s);
            }
            assert!(t0.elapsed() < WAIT, "the daemon never listened");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Send `req` and read one whole reply: one line, or a whole list.
    pub fn ask(&mut self, req: &str) -> String {
        self.0.write_all(req.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got);
            let done = text.ends_with('\n')
                && (!text.starts_with("BEGIN LIST") || text.contains("\nEND LIST"));
            if done {
                return text.into_owned();
            }
            let n = self
                .0
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{req:?}: {e} after {text:?}"));
            assert!(n > 0, "{req:?}: connection closed after {text:?}");
            got.extend_from_slice(&buf[..n]);
        }
    }

    /// Send `req` and read exactly as many bytes as `want` has.
    #[track_caller]
    pub fn expect(&mut self, req: &str, want: &str) {
        let got = self.try_read(req, want.len()).unwrap();
        assert_eq!(got, want, "reply to {req:?}");
    }

    /// Send `req` and read `n` bytes of reply, or the I/O error.
    pub fn try_read(&mut self, req: &str, n: usize) -> std::io::Result<String> {
        self.0.write_all(req.as_bytes())?;
        let mut got = vec![0u8; n];
        self.0.read_exact(&mut got)?;
        Ok(String::from_utf8_lossy(&got).into_owned())
    }

    /// Send a LIST request and return the reads that brought its reply,
    /// until the END line.
    pub fn list_reads(&mut self, req: &str) -> Vec<String> {
        self.0.write_all(req.as_bytes()).unwrap();
        let mut reads: Vec<String> = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while !reads.concat().contains("\nEND LIST ") {
            let n = self.0.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {reads:?}");
            reads.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        reads
    }

    /// Has the server closed the connection (after what it sent)?
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        matches!(self.0.read(&mut buf), Ok(0))
    }

    /// Ask until the reply satisfies `ok`.
    pub fn until(&mut self, req: &str, ok: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let r = self.ask(req);
            if ok(&r) {
                return r;
            }
            assert!(t0.elapsed() < WAIT, "{req:?}: still {r:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A fixture as one recording file's text (identity, descriptor,
/// reports), with `script` (`at` lines) appended.
pub fn recording(name: &str, script: &str) -> String {
    let f = fixture(name);
    let mut rec = std::fs::read_to_string(f.join("device.txt")).unwrap();
    for l in std::fs::read_to_string(f.join("descriptor.hex"))
        .unwrap()
        .lines()
    {
        rec += &format!("descriptor {l}\n");
    }
    rec += &std::fs::read_to_string(f.join("reports.txt")).unwrap();
    rec + script
}

/// A process killed when the test ends (or panics).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
