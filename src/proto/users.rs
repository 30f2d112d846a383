//! Who may do what: the rights of `upsd.users`, as plain data. This is
//! the one model of that file: `config::upsd_users` parses the text into
//! these [`User`]s, the session asks them.
//!
//! Read first: `docs/design/nut-protocol.md` §7. The session asks the
//! [`Users`] at command time, so a reload takes effect on open
//! connections at once, as in upsd. Reading (GET, LIST) never needs a
//! user.

/// `upsmon primary|secondary` (and the old `master|slave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Upsmon {
    #[default]
    None,
    /// Grants LOGIN, PRIMARY/MASTER and FSD.
    Primary,
    /// Grants LOGIN.
    Secondary,
}

/// `actions = ...` words (case-insensitive in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    /// `SET`: SET VAR.
    pub set: bool,
    /// `FSD`: the FSD command.
    pub fsd: bool,
    /// `LOGIN`: the LOGIN command without being an upsmon.
    pub login: bool,
    /// `PRIMARY`: the PRIMARY and MASTER commands.
    pub primary: bool,
    /// `MASTER`, the old name of `PRIMARY` (kept apart as configured).
    pub master: bool,
}

/// `instcmds = ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstCmds {
    /// `instcmds = ALL`.
    All,
    /// Named commands, compared case-insensitively. Empty: none.
    List(Vec<String>),
}

impl Default for InstCmds {
    fn default() -> Self {
        InstCmds::List(Vec::new())
    }
}

/// One `[name]` section of upsd.users.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub name: String,
    /// Line of its `[name]` header in upsd.users (0: not from a file).
    pub line: usize,
    pub password: String,
    pub actions: Rights,
    pub instcmds: InstCmds,
    pub upsmon: Upsmon,
}

/// A right a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right<'a> {
    Login,
    /// PRIMARY and MASTER.
    Primary,
    Fsd,
    Set,
    InstCmd(&'a str),
}

impl User {
    pub fn has(&self, right: Right<'_>) -> bool {
        let primary = self.upsmon == Upsmon::Primary;
        match right {
            Right::Login => self.actions.login || self.upsmon != Upsmon::None,
            Right::Primary => self.actions.primary || self.actions.master || primary,
            Right::Fsd => self.actions.fsd || primary,
            Right::Set => self.actions.set,
            Right::InstCmd(cmd) => match &self.instcmds {
                InstCmds::All => true,
                // upsd also honours an `all` inside a list.
                InstCmds::List(l) => l
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(cmd) || c.eq_ignore_ascii_case("all")),
            },
        }
    }
}

/// All users, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Users {
    pub users: Vec<User>,
}

impl Users {
    /// May the holder of these credentials use `right`? As upsd: the first
    /// user of that exact name decides; a wrong password (exact compare)
    /// fails even if a later section has the same name.
    pub fn allows(&self, name: &str, password: &str, right: Right<'_>) -> bool {
        self.authenticate(name, password)
            .is_some_and(|u| u.has(right))
    }

    /// The user these credentials belong to: the first of that name, if
    /// the password is its own. The password is compared in constant
    /// time ([`ct_eq`]), and against a dummy when no user has that name,
    /// so the answer's timing tells neither how much of a password was
    /// right nor whether the user exists (user names are not secret to
    /// upsd either: they are compared plainly).
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&User> {
        match self.users.iter().find(|u| u.name == name) {
            Some(u) => ct_eq(u.password.as_bytes(), password.as_bytes()).then_some(u),
            None => {
                // Same work as a real compare against an empty password
                // of the same length as the one sent.
                let _ = ct_eq(password.as_bytes(), &[]);
                None
            }
        }
    }
}

/// Equal byte strings, compared in time that depends only on the longer
/// length: every byte position up to it is looked at, with no exit on the
/// first difference. (The lengths themselves are not hidden: passwords
/// are at most 128 bytes here, and their length is no secret worth a
/// digest.)
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    // Different lengths differ; folded in without a branch.
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= core::hint::black_box(x ^ y);
    }
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users {
            users: vec![
                User {
                    name: "mon".into(),
                    password: "pw".into(),
                    upsmon: Upsmon::Primary,
                    ..User::default()
                },
                User {
                    name: "sec".into(),
                    password: "pw".into(),
                    upsmon: Upsmon::Secondary,
                    ..User::default()
                },
                User {
                    name: "admin".into(),
                    password: "Secret".into(),
                    actions: Rights {
                        set: true,
                        fsd: true,
                        ..Rights::default()
                    },
                    instcmds: InstCmds::List(vec!["load.off".into(), "BEEPER.MUTE".into()]),
                    ..User::default()
                },
                User {
                    name: "mon".into(),
                    password: "other".into(),
                    actions: Rights {
                        set: true,
                        ..Rights::default()
                    },
                    ..User::default()
                },
                User {
                    name: "root".into(),
                    password: "r".into(),
                    instcmds: InstCmds::All,
                    actions: Rights {
                        login: true,
                        primary: true,
                        ..Rights::default()
                    },
                    ..User::default()
                },
            ],
        }
    }

    #[test]
    fn upsmon_roles() {
        let u = users();
        for r in [Right::Login, Right::Primary, Right::Fsd] {
            assert!(u.allows("mon", "pw", r), "{r:?}");
        }
        assert!(!u.allows("mon", "pw", Right::Set));
        assert!(!u.allows("mon", "pw", Right::InstCmd("load.off")));
        assert!(u.allows("sec", "pw", Right::Login));
        for r in [Right::Primary, Right::Fsd, Right::Set] {
            assert!(!u.allows("sec", "pw", r), "{r:?}");
        }
    }

    #[test]
    fn actions_and_instcmds() {
        let u = users();
        assert!(u.allows("admin", "Secret", Right::Set));
        assert!(u.allows("admin", "Secret", Right::Fsd));
        assert!(!u.allows("admin", "Secret", Right::Login));
        assert!(!u.allows("admin", "Secret", Right::Primary));
        assert!(u.allows("admin", "Secret", Right::InstCmd("LOAD.OFF")));
        assert!(u.allows("admin", "Secret", Right::InstCmd("beeper.mute")));
        assert!(!u.allows("admin", "Secret", Right::InstCmd("load.on")));
        assert!(u.allows("root", "r", Right::InstCmd("anything")));
        assert!(u.allows("root", "r", Right::Login));
        assert!(u.allows("root", "r", Right::Primary));
        let all_in_list = User {
            instcmds: InstCmds::List(vec!["All".into()]),
            ..User::default()
        };
        assert!(all_in_list.has(Right::InstCmd("x")));
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"Secret", b"Secret"));
        assert!(!ct_eq(b"Secret", b"secret"));
        assert!(!ct_eq(b"Secret", b"Secre"));
        assert!(!ct_eq(b"Secre", b"Secret"));
        // A NUL where the shorter one ends must not pass for "nothing".
        assert!(!ct_eq(b"ab\0", b"ab"));
        assert!(!ct_eq(b"", b"\0"));
        assert!(!ct_eq(b"x", b""));
    }

    #[test]
    fn authenticate_names_the_user() {
        let u = users();
        assert_eq!(
            u.authenticate("admin", "Secret").map(|u| u.name.as_str()),
            Some("admin")
        );
        assert!(u.authenticate("admin", "Secret ").is_none());
        assert!(u.authenticate("nobody", "Secret").is_none());
        // The first "mon" decides.
        assert!(u.authenticate("mon", "other").is_none());
        assert!(u.authenticate("mon", "pw").is_some());
    }

    #[test]
    fn names_and_passwords_are_case_sensitive_and_first_user_wins() {
        let u = users();
        assert!(!u.allows("admin", "secret", Right::Set));
        assert!(!u.allows("Admin", "Secret", Right::Set));
        assert!(!u.allows("nobody", "", Right::Login));
        // The second "mon" section is never consulted.
        assert!(!u.allows("mon", "other", Right::Set));
        assert!(!Users::default().allows("", "", Right::Login));
    }
}
