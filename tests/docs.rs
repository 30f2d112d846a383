//! What the manual pages show works as shown: their example files are
//! read by hidupsd's own parsers, with no warning.

use hidupsd::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the first `.Bd -literal` block after `.Sh EXAMPLES`,
/// split into files at their `# name` lines.
fn example_files(page: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("man").join(page)).unwrap();
    let ex = &text[text.find(".Sh EXAMPLES").expect("no EXAMPLES")..];
    let body = &ex[ex.find(".Bd -literal").unwrap()..];
    let body = &body[body.find('\n').unwrap() + 1..body.find("\n.Ed").unwrap()];
    let mut files: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        match line.strip_prefix("# ") {
            Some(name) if !name.contains(' ') => files.push((name.to_string(), String::new())),
            _ => {
                let f = files.last_mut().expect("text before the first '# file'");
                // mdoc escapes: \(dq is a double quote, \e a backslash.
                f.1.push_str(&line.replace("\\(dq", "\"").replace("\\e", "\\"));
                f.1.push('\n');
            }
        }
    }
    files
}

#[test]
fn hidupsd_conf_example_files_load_without_warnings() {
    let files = example_files("hidupsd.conf.5");
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        ["ups.conf", "upsd.conf", "upsd.users", "upsmon.conf"]
    );
    let get = |n: &str| files.iter().find(|f| f.0 == n).unwrap().1.as_bytes();

    let ups = ups_conf::parse(Path::new("ups.conf"), get("ups.conf")).unwrap();
    assert_eq!(ups.warnings, vec![]);
    assert_eq!(ups.ups[0].name, "apc");
    let upsd = upsd_conf::parse(Path::new("upsd.conf"), get("upsd.conf")).unwrap();
    assert_eq!(upsd.warnings, vec![]);
    // A password stock clients cannot send (a space, ...) is a warning:
    // none here, so both users can log in with upsmon and upscmd.
    let users = upsd_users::parse(Path::new("upsd.users"), get("upsd.users")).unwrap();
    assert_eq!(users.warnings, vec![]);
    assert_eq!(users.users.len(), 2);
    let admin = users.users.iter().find(|u| u.name == "admin").unwrap();
    assert!(admin.actions.set && admin.actions.fsd && admin.instcmds.all);
    let mon = upsmon_conf::parse(Path::new("upsmon.conf"), get("upsmon.conf")).unwrap();
    assert_eq!(mon.warnings, vec![]);
    assert_eq!(mon.monitors[0].user, "monuser");
}
