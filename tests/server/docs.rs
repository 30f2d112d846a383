//! What the manual pages and NUT's own examples show works as shown:
//! the pages' example files are read by hidupsd's own parsers with no
//! warning, and NUT's example upsd.users starts the server.

use crate::common;

use common::{fixture, start, Client};
use hidupsd::config::{ups_conf, upsd_conf, upsd_users, upsmon_conf};
use hidupsd::proto::InstCmds;
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
    assert!(admin.actions.set && admin.actions.fsd && admin.instcmds == InstCmds::All);
    let mon = upsmon_conf::parse(Path::new("upsmon.conf"), get("upsmon.conf")).unwrap();
    assert_eq!(mon.warnings, vec![]);
    assert_eq!(mon.monitors[0].user, "monuser");
}

/// NUT's sample upsd.users grants `optional-action`, a word upsd stores
/// and nothing checks: the server starts (a refusal would leave a router
/// without monitoring), says the word is ignored, and the user logs in
/// with the rights it does have.
#[test]
fn nuts_example_users_with_an_unknown_action_start_the_server() {
    let conf = format!(
        "[ups]\n\tdriver = sim\n\tport = \"{}\"\n",
        fixture("eaton-5sc-750").display()
    );
    let users = "[admin]\n\tpassword = mypass\n\tactions = SET\n\tactions = optional-action\n\
                 \tinstcmds = ALL\n";
    let d = start("docs-actions", &conf, users);
    assert!(
        d.log()
            .contains("upsd.users:4: [admin] actions: unknown action 'optional-action' ignored"),
        "{}",
        d.log()
    );
    let mut c = Client::connect(d.port);
    c.expect("USERNAME admin\n", "OK\n");
    c.expect("PASSWORD mypass\n", "OK\n");
    // SET granted: a writable variable takes a value.
    let r = c.ask("SET VAR ups battery.charge.low 25\n");
    assert!(r.starts_with("OK"), "{r}");
}
