//! Who may do what: the rights of `upsd.users`, as plain data.
//!
//! Read first: `nut-protocol.md` §4. The configuration reader builds a
//! [`Users`]; the session asks it at command time, so a reload takes
//! effect on open connections at once, as in upsd. Reading (GET, LIST)
//! never needs a user.

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
pub struct Actions {
    /// `SET`: SET VAR.
    pub set: bool,
    /// `FSD`: the FSD command.
    pub fsd: bool,
    /// `LOGIN`: the LOGIN command without being an upsmon.
    pub login: bool,
    /// `PRIMARY` or `MASTER`: the PRIMARY and MASTER commands.
    pub primary: bool,
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
    pub password: String,
    pub actions: Actions,
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
            Right::Primary => self.actions.primary || primary,
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
        self.users
            .iter()
            .find(|u| u.name == name)
            .is_some_and(|u| u.password == password && u.has(right))
    }
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
                    actions: Actions {
                        set: true,
                        fsd: true,
                        ..Actions::default()
                    },
                    instcmds: InstCmds::List(vec!["load.off".into(), "BEEPER.MUTE".into()]),
                    ..User::default()
                },
                User {
                    name: "mon".into(),
                    password: "other".into(),
                    actions: Actions {
                        set: true,
                        ..Actions::default()
                    },
                    ..User::default()
                },
                User {
                    name: "root".into(),
                    password: "r".into(),
                    instcmds: InstCmds::All,
                    actions: Actions {
                        login: true,
                        primary: true,
                        ..Actions::default()
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
