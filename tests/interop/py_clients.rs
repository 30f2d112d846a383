//! PyNUTClient (NUT's own Python client), aionut (Home Assistant's) and
//! nut2-notl 2.1.3 (nut2 for Python 3.13) run their usual calls against
//! the real daemon: list, variables, commands, writable variables, a write
//! read back, and commands with a login; nut2-notl's lists twenty times
//! each, each under a second (its timeout is 5 s). Skipped, with a note,
//! where python3 lacks the packages, except in CI (CI=true), which
//! installs them from PyPI and fails without them.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};

fn have_clients() -> bool {
    Command::new("python3")
        .args(["-c", "import PyNUTClient.PyNUT, aionut, nut2"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn pynut_and_aionut_calls_succeed() {
    if !have_clients() {
        common::missing("python3 with PyNUTClient, aionut and nut2-notl==2.1.3 (pip install)");
        return;
    }
    let conf = format!(
        "[bk650]\n\tdriver = sim\n\tport = \"{}\"\n\tdesc = \"Back-UPS\"\n",
        common::fixture("apc-back-ups-bk650m2-ch").display()
    );
    let users = "[admin]\n\tpassword = \"s3cret\"\n\tactions = SET FSD\n\tinstcmds = ALL\n";
    let d = common::start("py", &conf, users);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/clients.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &d.port.to_string(), "bk650", "admin", "s3cret"])
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
}
