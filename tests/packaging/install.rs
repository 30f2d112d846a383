//! `make install` (and install-systemd, install-upsc, uninstall) into a
//! temporary DESTDIR: exactly the expected files, with their modes, and
//! the service files naming the installed binary.
//!
//! The Makefile installs target/release/hidupsd; here it installs the
//! binary cargo built for this test run (`BIN=`), so the test never
//! builds a release binary itself and never passes without installing a
//! real one.

use crate::{root, tempdir};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary to install: the one cargo built with this test.
fn binary() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_hidupsd"));
    assert!(bin.is_file(), "{} not built", bin.display());
    bin
}

/// Where `make install` remembers its directories for a DESTDIR: next to
/// it, not in the checkout's target/ (tests run in parallel).
fn memo(dest: &Path) -> PathBuf {
    dest.with_extension("memo")
}

fn make(bin: &Path, dest: &Path, args: &[&str]) {
    let out = make_output(bin, dest, args);
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_output(bin: &Path, dest: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("make");
    // Only what this test passes: not the directories of the caller's
    // environment, nor the flags of a `make test` around it.
    for v in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "PREFIX",
        "DESTDIR",
        "SBINDIR",
        "BINDIR",
        "MANDIR",
        "UDEVDIR",
        "SYSTEMDUNITDIR",
        "SYSTEMDSHUTDOWNDIR",
        "INSTALL_MEMO",
    ] {
        cmd.env_remove(v);
    }
    cmd.arg("-s")
        .args(args)
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("BIN={}", bin.display()))
        .arg(format!("INSTALL_MEMO={}", memo(dest).display()))
        .current_dir(root())
        .output()
        .expect("cannot run make (is it installed?)")
}

/// Every file and symlink under `dir`, as "mode path" or "link path ->
/// target", sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = format!("/{}", p.strip_prefix(base).unwrap().display());
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&p).unwrap();
                out.push(format!("link {rel} -> {}", to.display()));
            } else if meta.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(format!("{:o} {rel}", meta.permissions().mode() & 0o7777));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The man pages in man/, as installed under `mandir`.
fn man_pages(mandir: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(root().join("man")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if let Some((_, sect)) = name.rsplit_once('.') {
            if ["5", "7", "8"].contains(&sect) {
                v.push(format!("644 {mandir}/man{sect}/{name}"));
            }
        }
    }
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn install_gives_exactly_these_files() {
    let bin = binary();
    let dest = tempdir("usr");
    make(
        &bin,
        &dest,
        &["install", "install-systemd", "install-upsc", "PREFIX=/usr"],
    );
    let mut want = vec![
        "755 /usr/sbin/hidupsd".to_string(),
        "644 /usr/lib/udev/rules.d/70-hidupsd.rules".to_string(),
        "644 /usr/lib/systemd/system/hidupsd.service".to_string(),
        "755 /usr/lib/systemd/system-shutdown/hidupsd-killpower".to_string(),
        "link /usr/bin/upsc -> /usr/sbin/hidupsd".to_string(),
    ];
    want.extend(man_pages("/usr/share/man"));
    assert_eq!(listing(&dest), sorted(want));
    // The three pages this test expects at least (the list above is read
    // from man/, so check it is not empty by accident).
    for page in [
        "man5/hidupsd.conf.5",
        "man7/hidupsd-devices.7",
        "man8/hidupsd.8",
    ] {
        assert!(dest.join("usr/share/man").join(page).is_file(), "{page}");
    }
    assert_eq!(
        std::fs::read(dest.join("usr/sbin/hidupsd")).unwrap(),
        std::fs::read(&bin).unwrap()
    );
    let unit =
        std::fs::read_to_string(dest.join("usr/lib/systemd/system/hidupsd.service")).unwrap();
    assert!(unit.contains("\nExecStart=/usr/sbin/hidupsd -c /etc/nut -u nut\n"));
    assert!(unit.contains("\nType=notify\n"));

    make(&bin, &dest, &["uninstall", "PREFIX=/usr"]);
    assert_eq!(listing(&dest), Vec::<String>::new());
    std::fs::remove_dir_all(&dest).unwrap();
    std::fs::remove_file(memo(&dest)).unwrap();
}

#[test]
fn install_follows_prefix_and_directories() {
    let bin = binary();
    let dest = tempdir("local");
    make(
        &bin,
        &dest,
        &[
            "install",
            "install-systemd",
            "PREFIX=/usr/local",
            "UDEVDIR=/lib/udev",
            "SYSTEMDUNITDIR=/etc/systemd/system",
            "SYSTEMDSHUTDOWNDIR=/lib/systemd/system-shutdown",
        ],
    );
    let mut want = vec![
        "755 /usr/local/sbin/hidupsd".to_string(),
        "644 /lib/udev/rules.d/70-hidupsd.rules".to_string(),
        "644 /etc/systemd/system/hidupsd.service".to_string(),
        "755 /lib/systemd/system-shutdown/hidupsd-killpower".to_string(),
    ];
    want.extend(man_pages("/usr/local/share/man"));
    assert_eq!(listing(&dest), sorted(want));
    let unit = std::fs::read_to_string(dest.join("etc/systemd/system/hidupsd.service")).unwrap();
    assert!(unit.contains("\nExecStart=/usr/local/sbin/hidupsd -c /etc/nut -u nut\n"));
    let hook = std::fs::read_to_string(dest.join("lib/systemd/system-shutdown/hidupsd-killpower"))
        .unwrap();
    assert!(hook.contains("bin=${HIDUPSD_BIN:-/usr/local/sbin/hidupsd}\n"));
    assert!(!hook.contains("/usr/sbin/hidupsd"));
    std::fs::remove_dir_all(&dest).unwrap();
    std::fs::remove_file(memo(&dest)).unwrap();
}

/// README's "From source" steps: `make install PREFIX=/usr`, then
/// install-systemd and install-upsc without PREFIX, must all point at
/// /usr/sbin/hidupsd (not a dangling /usr/local one), and uninstall
/// without PREFIX removes it all.
#[test]
fn later_targets_follow_the_prefix_install_was_given() {
    let bin = binary();
    let dest = tempdir("steps");
    make(&bin, &dest, &["install", "PREFIX=/usr"]);
    make(&bin, &dest, &["install-systemd"]);
    make(&bin, &dest, &["install-upsc"]);
    let unit =
        std::fs::read_to_string(dest.join("usr/lib/systemd/system/hidupsd.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/sbin/hidupsd -c /etc/nut -u nut\n"),
        "{unit}"
    );
    let hook =
        std::fs::read_to_string(dest.join("usr/lib/systemd/system-shutdown/hidupsd-killpower"))
            .unwrap();
    assert!(
        hook.contains("bin=${HIDUPSD_BIN:-/usr/sbin/hidupsd}\n"),
        "{hook}"
    );
    let link = std::fs::read_link(dest.join("usr/bin/upsc")).unwrap();
    assert_eq!(link, Path::new("/usr/sbin/hidupsd"));
    assert!(!dest.join("usr/local").exists(), "{:?}", listing(&dest));
    make(&bin, &dest, &["uninstall"]);
    assert_eq!(listing(&dest), Vec::<String>::new());
    std::fs::remove_dir_all(&dest).unwrap();
    std::fs::remove_file(memo(&dest)).unwrap();
}

/// Without an installed binary to point at, the service files and the
/// upsc link are refused, with what to do.
#[test]
fn service_files_without_the_binary_are_refused() {
    let bin = binary();
    let dest = tempdir("nobin");
    for target in ["install-systemd", "install-upsc"] {
        let out = make_output(&bin, &dest, &[target]);
        assert!(!out.status.success(), "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("/usr/local/sbin/hidupsd is not installed: run 'make install' first"),
            "{target}: {err}"
        );
    }
    assert_eq!(listing(&dest), Vec::<String>::new());
    std::fs::remove_dir_all(&dest).unwrap();
}

/// Run the systemd shutdown hook as systemd-shutdown would (output to
/// /dev/null), with the real binary and a file for the kernel log.
fn hook(conf: &Path) -> String {
    let kmsg = conf.join("kmsg");
    std::fs::write(&kmsg, "").unwrap();
    let st = Command::new("sh")
        .arg(root().join("contrib/systemd/hidupsd-killpower"))
        .arg("poweroff")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HIDUPSD_CONF", conf)
        .env("HIDUPSD_BIN", env!("CARGO_BIN_EXE_hidupsd"))
        .env("HIDUPSD_KMSG", &kmsg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read_to_string(&kmsg).unwrap()
}

#[test]
fn the_shutdown_hook_says_what_happened_in_the_kernel_log() {
    // systemd sends a shutdown hook's output to /dev/null: killpower's
    // words, an error above all, must reach the kernel log, one record
    // (one write) per line, errors at priority 3.
    let conf = tempdir("hook");
    let flag = conf.join("killpower");
    std::fs::write(
        conf.join("upsmon.conf"),
        format!(
            "MONITOR ups@localhost 1 u p primary\nPOWERDOWNFLAG {}\n",
            flag.display()
        ),
    )
    .unwrap();
    assert_eq!(
        hook(&conf),
        format!(
            "<5>hidupsd-killpower: no power-down flag at {}: nothing to do\n",
            flag.display()
        )
    );
    // The flag is there, but ups.conf names no UPS: killpower fails.
    std::fs::write(&flag, "upsmon-shutdown-file").unwrap();
    assert_eq!(
        hook(&conf),
        "<3>hidupsd-killpower: hidupsd: killpower: no UPS to power off\n\
         <3>hidupsd-killpower: failed (exit 1)\n"
    );
    // No upsmon.conf: the hook has nothing to do and says nothing.
    std::fs::remove_file(conf.join("upsmon.conf")).unwrap();
    assert_eq!(hook(&conf), "");
    std::fs::remove_dir_all(&conf).unwrap();
}

#[test]
fn the_unit_scores_what_its_comments_say() {
    // The unit's comments give systemd-analyze's exposure score and the
    // reason for each remaining exposure: a change to the sandbox that
    // moves the score must update them.
    let unit_path = root().join("contrib/systemd/hidupsd.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    // Debian's nut-client makes /etc/nut 0755: the same mode, no warning.
    assert!(unit.contains("\nConfigurationDirectoryMode=0755\n"));
    let o = match Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit_path)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "systemd-analyze: {e}"
            );
            println!("note: no systemd-analyze ({e}): the score is not checked");
            return;
        }
    };
    let out = String::from_utf8_lossy(&o.stdout);
    let score = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for hidupsd.service: ")
                .nth(1)
        })
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no score in {out}"));
    let said = format!("scores this unit {score} ");
    assert!(
        unit.contains(&said),
        "the unit now scores {score}: update its comments"
    );
    println!("systemd-analyze security --offline=yes: {score}");
}
