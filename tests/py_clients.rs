//! PyNUTClient (NUT's own Python client) and aionut (Home Assistant's)
//! run their usual calls against the real daemon: list, variables,
//! commands, writable variables, a write and commands with a login.
//! Skipped, with a note, where python3 lacks the two packages (CI
//! installs them from PyPI).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_clients() -> bool {
    Command::new("python3")
        .args(["-c", "import PyNUTClient.PyNUT, aionut"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn pynut_and_aionut_calls_succeed() {
    if !have_clients() {
        println!("skipped: python3 with PyNUTClient and aionut is not installed");
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("hidupsd-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = root.join("tests/fixtures/apc-back-ups-bk650m2-ch");
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(
        dir.join("upsd.users"),
        "[admin]\n\tpassword = \"s3cret\"\n\tactions = SET FSD\n\tinstcmds = ALL\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ups.conf"),
        format!(
            "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n\tdesc = \"Back-UPS\"\n",
            fixture.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hidupsd"))
        .args(["-c", dir.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(st) = daemon.0.try_wait().unwrap() {
            let mut e = String::new();
            daemon
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut e)
                .unwrap();
            panic!("daemon exited ({st}): {e}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new("python3")
        .arg(root.join("tests/python/clients.py"))
        .args(["127.0.0.1", &port.to_string(), "bk650", "admin", "s3cret"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("all python client calls passed"));
    let _ = std::fs::remove_dir_all(&dir);
}
