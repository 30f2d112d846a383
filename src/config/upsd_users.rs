//! `upsd.users`: who may log in to the network server and what they may do.
//!
//! Read this with NUT's `upsd.users(5)` at hand. One `[username]` section
//! per user; inside, `key = value...` or `key value...`:
//! ```text
//! [monuser]
//!     password = secret
//!     upsmon primary
//! [admin]
//!     password = pass-word
//!     actions = SET FSD
//!     instcmds = ALL
//! ```
//! Keys are case-insensitive; user names and passwords are
//! case-sensitive. `actions` and `instcmds` take several values on one
//! line and may be repeated. `upsmon primary` (or the legacy `master`)
//! grants login, primary and FSD; `upsmon secondary` (or `slave`) grants
//! login.
//!
//! Differences from NUT: a setting before the first section, an unknown
//! key, a second `password` or `upsmon` line, a duplicate user and a user
//! without a password are errors (NUT ignores them, keeps the first
//! password, or, for a duplicate section, applies the lines to the
//! previous user). `allowfrom`, the old-format `user` line and an unknown
//! action word (NUT stores any, and grants nothing for it) are ignored
//! with a warning.
//!
//! Two stages, as every file here: [`records`] as written, then the
//! protocol's own [`User`]s ([`crate::proto::users`], the one model of
//! this file) with the warnings ([`UsersFile`]).

use super::{read, section_header, ConfigError, Role};
use crate::proto::users::{InstCmds, Upsmon, User, Users};
use std::path::Path;

/// The file's name in the configuration directory.
pub const FILE: &str = "upsd.users";

/// The actions `actions =` accepts.
pub const ACTIONS: &[&str] = &["SET", "FSD", "LOGIN", "MASTER", "PRIMARY"];

/// Characters stock NUT clients cannot send in `USERNAME`/`PASSWORD`
/// (they send them unquoted).
const UNSENDABLE: &[char] = &[' ', '=', '#', '"', '\\'];

// ---------------------------------------------------------------------
// Stage 1: records.

/// One `key = values...` line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSetting {
    pub line: usize,
    pub key: String,
    pub values: Vec<String>,
}

/// A `[username]` section as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUser {
    pub line: usize,
    pub name: String,
    pub entries: Vec<RawSetting>,
}

/// Stage 1: split the file into sections of entries. Old-format `user`
/// lines are dropped with a warning.
pub fn records(
    file: &Path,
    text: &[u8],
    warnings: &mut Vec<ConfigError>,
) -> Result<Vec<RawUser>, ConfigError> {
    let mut out: Vec<RawUser> = Vec::new();
    for l in super::lex_file(file, text)? {
        let err = |msg: String| ConfigError::new(file, l.line, msg);
        if let Some(name) = section_header(&l.words).map_err(err)? {
            out.push(RawUser {
                line: l.line,
                name: name.to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let key = l.words[0].as_str();
        if key.eq_ignore_ascii_case("user") {
            warnings.push(err(
                "old-format 'user' line ignored: define each user as a [name] section".into(),
            ));
            continue;
        }
        if key == "=" {
            return Err(err(
                "a line cannot start with '=': write 'key = value'".into()
            ));
        }
        let rest = &l.words[1..];
        let values = match rest.first().map(String::as_str) {
            Some("=") => &rest[1..],
            _ => rest,
        };
        if values.is_empty() {
            return Err(err(format!("'{key}' has no value: write '{key} = VALUE'")));
        }
        let Some(user) = out.last_mut() else {
            return Err(err(format!(
                "'{key}' comes before the first [username] section"
            )));
        };
        user.entries.push(RawSetting {
            line: l.line,
            key: key.to_string(),
            values: values.to_vec(),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------
// Stage 2: typed configuration.

/// The whole file: the protocol's [`User`]s, and what to warn about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersFile {
    /// In file order.
    pub users: Vec<User>,
    /// Settings accepted but ignored, and passwords stock clients cannot
    /// send, for the caller to log.
    pub warnings: Vec<ConfigError>,
}

impl UsersFile {
    /// The user called `name` (case-sensitive, as upsd compares).
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The users, for the server.
    pub fn into_users(self) -> Users {
        Users { users: self.users }
    }
}

/// A warning when `dir/upsd.users` can be read by every user of the host
/// (it holds passwords), as upsd gives.
pub fn world_readable(dir: &Path) -> Option<ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(FILE);
    let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then(|| {
        ConfigError::new(
            &path,
            0,
            format!(
                "readable by every user (mode {mode:04o}), and it holds passwords: \
                 chmod 640 (group of the daemon's user) or 600"
            ),
        )
    })
}

/// Read `dir/upsd.users`.
pub fn load(dir: &Path) -> Result<UsersFile, ConfigError> {
    let (path, bytes) = read(dir, FILE)?;
    parse(&path, &bytes)
}

/// Parse the text of `upsd.users`; `file` is used in messages.
pub fn parse(file: &Path, text: &[u8]) -> Result<UsersFile, ConfigError> {
    let mut warnings = Vec::new();
    let raw = records(file, text, &mut warnings)?;
    let mut users = Vec::with_capacity(raw.len());
    // Names with their line, sorted: a repeated name lies next to its
    // first line (a search per user made 40,000 users take 12 s to load;
    // a sort costs less code than a hash map). The earliest repeat is
    // the error, with the line of the name's first section.
    let mut names: Vec<(&str, usize)> = Vec::with_capacity(raw.len());
    for r in &raw {
        names.push((r.name.as_str(), r.line));
    }
    names.sort_unstable();
    let mut dup: Option<(usize, usize)> = None;
    for w in names.windows(2) {
        if w[0].0 == w[1].0 && dup.map_or(true, |(line, _)| w[1].1 < line) {
            dup = Some((w[1].1, w[0].1));
        }
    }
    for r in &raw {
        if let Some((_, first)) = dup.filter(|&(line, _)| line == r.line) {
            return Err(ConfigError::new(
                file,
                r.line,
                format!("duplicate user [{}] (first at line {first})", r.name),
            ));
        }
        users.push(user(file, r, &mut warnings)?);
    }
    Ok(UsersFile { users, warnings })
}

fn user(file: &Path, r: &RawUser, warnings: &mut Vec<ConfigError>) -> Result<User, ConfigError> {
    let name = r.name.as_str();
    let mut u = User {
        name: name.to_string(),
        line: r.line,
        ..User::default()
    };
    // `instcmds = ALL` anywhere grants every command; else the names.
    let (mut all, mut names) = (false, Vec::<String>::new());
    if name.contains(UNSENDABLE) {
        warnings.push(ConfigError::new(
            file,
            r.line,
            format!("[{name}]: {}", unsendable("user name")),
        ));
    }
    let mut password_line = None;
    let mut upsmon_line = None;
    for e in &r.entries {
        let key = e.key.as_str();
        let err = |msg: String| ConfigError::new(file, e.line, format!("[{name}] {key}: {msg}"));
        let once = |seen: &mut Option<usize>| match *seen {
            Some(first) => Err(err(format!("set twice (first at line {first})"))),
            None => {
                *seen = Some(e.line);
                Ok(())
            }
        };
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "password" => {
                once(&mut password_line)?;
                if e.values.len() > 1 {
                    return Err(err(format!(
                        "takes one value, got {}: quote a password that contains spaces",
                        e.values.len()
                    )));
                }
                let p = &e.values[0];
                if p.is_empty() {
                    return Err(err("empty password".into()));
                }
                if p.contains(UNSENDABLE) {
                    warnings.push(err(unsendable("password")));
                }
                u.password = p.clone();
            }
            "actions" => {
                for v in &e.values {
                    let a = &mut u.actions;
                    let flag = match v.to_ascii_uppercase().as_str() {
                        "SET" => &mut a.set,
                        "FSD" => &mut a.fsd,
                        "LOGIN" => &mut a.login,
                        "MASTER" => &mut a.master,
                        "PRIMARY" => &mut a.primary,
                        // NUT's upsd stores any word (its own example
                        // has `optional-action`) and grants nothing for
                        // it: refusing would stop the server for a word
                        // that changes no right.
                        _ => {
                            warnings.push(err(format!(
                                "unknown action '{v}' ignored (hidupsd knows SET, FSD, LOGIN, \
                                 MASTER and PRIMARY)"
                            )));
                            continue;
                        }
                    };
                    *flag = true;
                }
            }
            "instcmds" => {
                for v in &e.values {
                    if v.eq_ignore_ascii_case("all") {
                        all = true;
                    } else if v.is_empty() {
                        return Err(err("empty command name".into()));
                    } else if !names.iter().any(|n| n.eq_ignore_ascii_case(v)) {
                        names.push(v.clone());
                    }
                }
            }
            "upsmon" => {
                once(&mut upsmon_line)?;
                if e.values.len() > 1 {
                    return Err(err(format!(
                        "takes one value, got {}: write 'upsmon primary' or 'upsmon secondary'",
                        e.values.len()
                    )));
                }
                let v = &e.values[0];
                u.upsmon = match Role::parse(v) {
                    Some(Role::Primary) => Upsmon::Primary,
                    Some(Role::Secondary) => Upsmon::Secondary,
                    None => {
                        return Err(err(format!(
                            "expected primary or secondary (or the legacy master or slave), got '{v}'"
                        )))
                    }
                };
            }
            "allowfrom" => warnings.push(err(
                "ignored: upsd has no host-based access control; restrict access with \
                 LISTEN in upsd.conf and a firewall"
                    .into(),
            )),
            _ => {
                return Err(ConfigError::new(
                    file,
                    e.line,
                    format!(
                        "[{name}] unknown setting '{key}' (expected password, actions, instcmds or upsmon)"
                    ),
                ))
            }
        }
    }
    if password_line.is_none() {
        return Err(ConfigError::new(
            file,
            r.line,
            format!("[{name}]: no 'password' line: this user could never log in"),
        ));
    }
    u.instcmds = if all {
        InstCmds::All
    } else {
        InstCmds::List(names)
    };
    Ok(u)
}

fn unsendable(what: &str) -> String {
    format!(
        "stock NUT clients send the {what} unquoted and cannot log in with one containing \
         a space, '=', '#', '\"' or '\\'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::users::Right::{Fsd, InstCmd, Login, Primary, Set};
    use crate::proto::users::Rights;

    fn users(text: &str) -> UsersFile {
        parse(Path::new("upsd.users"), text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> String {
        parse(Path::new("upsd.users"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn warnings(u: &UsersFile) -> Vec<String> {
        u.warnings.iter().map(ToString::to_string).collect()
    }

    /// NUT's own example has `optional-action`: upsd takes any word, so
    /// an unknown one is a warning, and grants nothing.
    #[test]
    fn unknown_action_words_are_warned_about_and_grant_nothing() {
        let u = users("[admin]\npassword = x\nactions = SET optional-action\nactions = KILL\n");
        assert_eq!(
            u.users[0].actions,
            Rights {
                set: true,
                ..Rights::default()
            }
        );
        assert_eq!(
            warnings(&u),
            [
                "upsd.users:3: [admin] actions: unknown action 'optional-action' ignored \
                 (hidupsd knows SET, FSD, LOGIN, MASTER and PRIMARY)",
                "upsd.users:4: [admin] actions: unknown action 'KILL' ignored (hidupsd knows \
                 SET, FSD, LOGIN, MASTER and PRIMARY)",
            ]
        );
    }

    /// The ArchWiki's user for upsmon, with SET and all commands.
    #[test]
    fn archwiki_user() {
        let u = users(
            "[upsduser]\n     password = password\n     upsmon primary\n     actions = SET\n     instcmds = ALL\n",
        );
        assert_eq!(
            u.users,
            vec![User {
                name: "upsduser".into(),
                line: 1,
                password: "password".into(),
                actions: Rights {
                    set: true,
                    ..Rights::default()
                },
                instcmds: InstCmds::All,
                upsmon: Upsmon::Primary,
            }]
        );
        let x = u.get("upsduser").unwrap();
        assert!(x.has(Login) && x.has(Primary) && x.has(Fsd) && x.has(Set));
        assert!(x.has(InstCmd("beeper.toggle")));
        assert_eq!(u.get("UPSDUSER"), None, "user names are case-sensitive");
        assert_eq!(u.warnings, vec![]);
    }

    /// NUT's sample: a secondary monitor and an admin, every value form.
    #[test]
    fn sample_users() {
        let u = users(
            r#"
[monslave]
	password = pass
	upsmon = slave
[admin]
	password = "mypass"
	actions = SET fsd
	ACTIONS=login
	instcmds = test.battery.start load.off
	instcmds beeper.disable
	instcmds = LOAD.OFF
"#,
        );
        let mon = u.get("monslave").unwrap();
        assert_eq!(mon.upsmon, Upsmon::Secondary);
        assert!(mon.has(Login) && !mon.has(Primary) && !mon.has(Fsd) && !mon.has(Set));
        assert!(!mon.has(InstCmd("load.off")));
        let admin = u.get("admin").unwrap();
        assert_eq!(admin.line, 5);
        assert_eq!(admin.password, "mypass");
        assert_eq!(
            admin.actions,
            Rights {
                set: true,
                fsd: true,
                login: true,
                master: false,
                primary: false
            }
        );
        assert_eq!(
            admin.instcmds,
            InstCmds::List(vec![
                "test.battery.start".into(),
                "load.off".into(),
                "beeper.disable".into()
            ])
        );
        assert!(admin.has(Login) && !admin.has(Primary) && admin.has(Fsd) && admin.has(Set));
        assert!(admin.has(InstCmd("Load.Off")));
        assert!(!admin.has(InstCmd("shutdown.return")));
    }

    #[test]
    fn primary_rights() {
        let u = users("[a]\npassword = x\nupsmon master\n[b]\npassword = y\nactions = PRIMARY\n[c]\npassword = z\nactions = master\n");
        assert_eq!(u.users[0].upsmon, Upsmon::Primary);
        assert!(u.users[0].has(Primary) && u.users[0].has(Fsd) && u.users[0].has(Login));
        // actions = PRIMARY or MASTER grant PRIMARY but neither login nor FSD.
        assert!(u.users[1].has(Primary) && !u.users[1].has(Login) && !u.users[1].has(Fsd));
        assert!(u.users[2].has(Primary) && !u.users[2].has(Login));
    }

    #[test]
    fn ignored_lines_are_warnings() {
        let u =
            users("user\n[a]\npassword = \"p w\"\nallowfrom = localhost\n[b\\=c]\npassword = x\n");
        assert_eq!(u.users.len(), 2);
        assert_eq!(u.users[0].password, "p w");
        assert_eq!(u.users[1].name, "b=c");
        assert_eq!(
            warnings(&u),
            [
                "upsd.users:1: old-format 'user' line ignored: define each user as a [name] section",
                "upsd.users:3: [a] password: stock NUT clients send the password unquoted and \
                 cannot log in with one containing a space, '=', '#', '\"' or '\\'",
                "upsd.users:4: [a] allowfrom: ignored: upsd has no host-based access control; \
                 restrict access with LISTEN in upsd.conf and a firewall",
                "upsd.users:5: [b=c]: stock NUT clients send the user name unquoted and cannot \
                 log in with one containing a space, '=', '#', '\"' or '\\'",
            ]
        );
    }

    #[test]
    fn empty_file() {
        assert_eq!(users("# no users\n"), UsersFile::default());
    }

    #[test]
    fn records_stage() {
        let mut w = Vec::new();
        let r = records(
            Path::new("upsd.users"),
            b"[a]\nactions=SET FSD\nupsmon primary\n",
            &mut w,
        )
        .unwrap();
        assert_eq!(
            r,
            vec![RawUser {
                line: 1,
                name: "a".into(),
                entries: vec![
                    RawSetting {
                        line: 2,
                        key: "actions".into(),
                        values: vec!["SET".into(), "FSD".into()]
                    },
                    RawSetting {
                        line: 3,
                        key: "upsmon".into(),
                        values: vec!["primary".into()]
                    },
                ]
            }]
        );
        assert_eq!(w, vec![]);
    }

    #[test]
    fn many_users_load_in_linear_time() {
        let text = |n: usize| {
            let mut t = String::with_capacity(n * 48);
            for i in 0..n {
                t += &format!("[user{i}]\n\tpassword = pw{i}\n\tupsmon secondary\n");
            }
            t
        };
        let time = |n: usize| {
            let t = text(n);
            let start = std::time::Instant::now();
            let u = parse(Path::new("upsd.users"), t.as_bytes()).unwrap();
            assert_eq!(u.users.len(), n);
            start.elapsed()
        };
        let small = (0..3).map(|_| time(10_000)).min().unwrap();
        let big = time(200_000);
        println!("upsd.users: 10,000 users {small:.2?}, 200,000 users {big:.2?}");
        // Twenty times the users: linear is 20 times the time, the old
        // search per user 400 times. (A ratio, not a time: machines vary.)
        assert!(
            big < small * 80,
            "200,000 users took {big:?}, 10,000 {small:?}: not linear"
        );
    }

    #[test]
    fn load_reads_the_directory() {
        let dir = std::env::temp_dir().join(format!("hidupsd-upsd-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("upsd.users"),
            "[m]\npassword = p\nupsmon secondary\n",
        )
        .unwrap();
        assert_eq!(load(&dir).unwrap().users[0].upsmon, Upsmon::Secondary);
        std::fs::remove_file(dir.join("upsd.users")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "password = x\n",
                "upsd.users:1: 'password' comes before the first [username] section",
            ),
            (
                "[a]\npassword = x\n[a]\npassword = y\n",
                "upsd.users:3: duplicate user [a] (first at line 1)",
            ),
            // The earliest repeat in the file, whatever the names' order,
            // with the line of the name's first section.
            (
                "[b]\npassword = x\n[a]\npassword = x\n[b]\n[a]\n",
                "upsd.users:5: duplicate user [b] (first at line 1)",
            ),
            (
                "[a]\npassword = x\n[a]\n[a]\n",
                "upsd.users:3: duplicate user [a] (first at line 1)",
            ),
            (
                "[a]\nupsmon primary\n",
                "upsd.users:1: [a]: no 'password' line: this user could never log in",
            ),
            (
                "[a]\npassword = x\npassword = y\n",
                "upsd.users:3: [a] password: set twice (first at line 2)",
            ),
            (
                "[a]\npassword = my secret\n",
                "upsd.users:2: [a] password: takes one value, got 2: quote a password that contains spaces",
            ),
            ("[a]\npassword = \"\"\n", "upsd.users:2: [a] password: empty password"),
            ("[a]\npassword =\n", "upsd.users:2: 'password' has no value: write 'password = VALUE'"),
            ("[a]\npassword\n", "upsd.users:2: 'password' has no value: write 'password = VALUE'"),
            ("[a]\n= x\n", "upsd.users:2: a line cannot start with '=': write 'key = value'"),
            (
                "[a]\npassword = x\nupsmon boss\n",
                "upsd.users:3: [a] upsmon: expected primary or secondary (or the legacy master or slave), got 'boss'",
            ),
            (
                "[a]\npassword = x\nupsmon primary secondary\n",
                "upsd.users:3: [a] upsmon: takes one value, got 2: write 'upsmon primary' or 'upsmon secondary'",
            ),
            (
                "[a]\npassword = x\nupsmon primary\nupsmon = secondary\n",
                "upsd.users:4: [a] upsmon: set twice (first at line 3)",
            ),
            (
                "[a]\npassword = x\ninstcmds = \"\"\n",
                "upsd.users:3: [a] instcmds: empty command name",
            ),
            (
                "[a]\npassword = x\nrights = all\n",
                "upsd.users:3: [a] unknown setting 'rights' (expected password, actions, instcmds or upsmon)",
            ),
            ("[a b]\n", "upsd.users:1: section names cannot contain spaces: write '[name]'"),
            (
                "[a]\npassword = \"x#y\"\n",
                "upsd.users:2: unescaped '#' inside quotes: write \\# for a literal #, or close the quote before the comment",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), *want, "for {text:?}");
        }
    }
}
