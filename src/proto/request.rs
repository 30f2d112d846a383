//! Requests: the words of one line turned into a typed command.
//!
//! Read first: `docs/design/nut-protocol.md` §4 (commands and argument
//! rules) and §5 (LIST).
//!
//! [`parse`] checks only the shape of a line, the way upsd's dispatcher
//! and handlers count arguments; whether a UPS or variable exists, and
//! who may do what, is the session's business. A shape error carries the
//! [`Command`] it belongs to, because upsd checks USERNAME/PASSWORD for
//! gated commands *before* it counts their arguments. Keywords match
//! case-insensitively; names borrow from the line as typed, since replies
//! echo them verbatim.

use super::response::ErrCode;

/// The first word of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Ver,
    NetVer,
    ProtVer,
    Help,
    StartTls,
    Username,
    Password,
    Login,
    Logout,
    Primary,
    Master,
    Fsd,
    Get,
    List,
    Set,
    InstCmd,
}

impl Command {
    #[cfg(test)]
    const ALL: [Command; 16] = [
        Command::Ver,
        Command::NetVer,
        Command::ProtVer,
        Command::Help,
        Command::StartTls,
        Command::Username,
        Command::Password,
        Command::Login,
        Command::Logout,
        Command::Primary,
        Command::Master,
        Command::Fsd,
        Command::Get,
        Command::List,
        Command::Set,
        Command::InstCmd,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Command::Ver => "VER",
            Command::NetVer => "NETVER",
            Command::ProtVer => "PROTVER",
            Command::Help => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Username => "USERNAME",
            Command::Password => "PASSWORD",
            Command::Login => "LOGIN",
            Command::Logout => "LOGOUT",
            Command::Primary => "PRIMARY",
            Command::Master => "MASTER",
            Command::Fsd => "FSD",
            Command::Get => "GET",
            Command::List => "LIST",
            Command::Set => "SET",
            Command::InstCmd => "INSTCMD",
        }
    }

    /// Case-insensitive, as upsd's `strcasecmp` dispatch. Only the
    /// names of the word's length are compared.
    pub fn from_word(w: &[u8]) -> Option<Command> {
        use Command as C;
        let candidates: &[Command] = match w.len() {
            3 => &[C::Get, C::Ver, C::Set, C::Fsd],
            4 => &[C::List, C::Help],
            5 => &[C::Login],
            6 => &[C::NetVer, C::Logout, C::Master],
            7 => &[C::ProtVer, C::Primary, C::InstCmd],
            8 => &[C::Username, C::Password, C::StartTls],
            _ => &[],
        };
        candidates.iter().copied().find(|c| is(w, c.name()))
    }

    /// Must USERNAME and PASSWORD have been sent first (upsd's
    /// `FLAG_USER`)? The password is not checked by this gate.
    pub const fn needs_credentials(self) -> bool {
        matches!(
            self,
            Command::Login
                | Command::Primary
                | Command::Master
                | Command::Fsd
                | Command::Set
                | Command::InstCmd
        )
    }
}

/// One request, with names as the client typed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    Ver,
    NetVer,
    ProtVer,
    Help,
    /// Arguments are ignored.
    StartTls,
    Username(&'a [u8]),
    Password(&'a [u8]),
    Login {
        ups: &'a [u8],
    },
    Logout,
    Primary {
        ups: &'a [u8],
    },
    /// The deprecated spelling of PRIMARY; same check, its own reply.
    Master {
        ups: &'a [u8],
    },
    Fsd {
        ups: &'a [u8],
    },
    GetNumLogins {
        ups: &'a [u8],
    },
    GetUpsDesc {
        ups: &'a [u8],
    },
    GetVar {
        ups: &'a [u8],
        var: &'a [u8],
    },
    GetType {
        ups: &'a [u8],
        var: &'a [u8],
    },
    GetDesc {
        ups: &'a [u8],
        var: &'a [u8],
    },
    GetCmdDesc {
        ups: &'a [u8],
        cmd: &'a [u8],
    },
    /// `GET TRACKING` (this connection's flag) or `GET TRACKING <id>`.
    GetTracking(Option<&'a [u8]>),
    ListUps,
    ListVar {
        ups: &'a [u8],
    },
    ListRw {
        ups: &'a [u8],
    },
    ListCmd {
        ups: &'a [u8],
    },
    ListClient {
        ups: &'a [u8],
    },
    ListEnum {
        ups: &'a [u8],
        var: &'a [u8],
    },
    ListRange {
        ups: &'a [u8],
        var: &'a [u8],
    },
    SetVar {
        ups: &'a [u8],
        var: &'a [u8],
        value: &'a [u8],
    },
    SetTracking(bool),
    /// The value is taken only when it is the third and last argument;
    /// with more arguments upsd runs the command without one.
    InstCmd {
        ups: &'a [u8],
        cmd: &'a [u8],
        value: Option<&'a [u8]>,
    },
}

impl Request<'_> {
    pub const fn command(&self) -> Command {
        match self {
            Request::Ver => Command::Ver,
            Request::NetVer => Command::NetVer,
            Request::ProtVer => Command::ProtVer,
            Request::Help => Command::Help,
            Request::StartTls => Command::StartTls,
            Request::Username(_) => Command::Username,
            Request::Password(_) => Command::Password,
            Request::Login { .. } => Command::Login,
            Request::Logout => Command::Logout,
            Request::Primary { .. } => Command::Primary,
            Request::Master { .. } => Command::Master,
            Request::Fsd { .. } => Command::Fsd,
            Request::GetNumLogins { .. }
            | Request::GetUpsDesc { .. }
            | Request::GetVar { .. }
            | Request::GetType { .. }
            | Request::GetDesc { .. }
            | Request::GetCmdDesc { .. }
            | Request::GetTracking(_) => Command::Get,
            Request::ListUps
            | Request::ListVar { .. }
            | Request::ListRw { .. }
            | Request::ListCmd { .. }
            | Request::ListClient { .. }
            | Request::ListEnum { .. }
            | Request::ListRange { .. } => Command::List,
            Request::SetVar { .. } | Request::SetTracking(_) => Command::Set,
            Request::InstCmd { .. } => Command::InstCmd,
        }
    }
}

/// A line that is not a valid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The command the line named; `None` for an empty line or an unknown
    /// first word.
    pub command: Option<Command>,
    /// What upsd answers once the credentials gate (if any) is passed:
    /// `UNKNOWN-COMMAND` or `INVALID-ARGUMENT`.
    pub err: ErrCode,
}

/// Parse the words of one line.
pub fn parse<'a>(words: &[&'a [u8]]) -> Result<Request<'a>, Invalid> {
    let unknown = Invalid {
        command: None,
        err: ErrCode::UnknownCommand,
    };
    let (&first, args) = words.split_first().ok_or(unknown)?;
    let cmd = Command::from_word(first).ok_or(unknown)?;
    let invalid = Invalid {
        command: Some(cmd),
        err: ErrCode::InvalidArgument,
    };
    let none = |r: Request<'a>| if args.is_empty() { Ok(r) } else { Err(invalid) };
    let one = |f: fn(&'a [u8]) -> Request<'a>| match *args {
        [a] => Ok(f(a)),
        _ => Err(invalid),
    };
    match cmd {
        Command::Ver => none(Request::Ver),
        Command::NetVer => none(Request::NetVer),
        Command::ProtVer => none(Request::ProtVer),
        Command::Help => none(Request::Help),
        Command::Logout => none(Request::Logout),
        Command::StartTls => Ok(Request::StartTls),
        Command::Username => one(Request::Username),
        Command::Password => one(Request::Password),
        Command::Login => one(|ups| Request::Login { ups }),
        Command::Primary => one(|ups| Request::Primary { ups }),
        Command::Master => one(|ups| Request::Master { ups }),
        Command::Fsd => one(|ups| Request::Fsd { ups }),
        Command::Get => get(args).ok_or(invalid),
        Command::List => list(args).ok_or(invalid),
        Command::Set => set(args).ok_or(invalid),
        Command::InstCmd => match *args {
            [ups, cmd, ref rest @ ..] => Ok(Request::InstCmd {
                ups,
                cmd,
                value: match rest {
                    [v] => Some(v),
                    _ => None,
                },
            }),
            _ => Err(invalid),
        },
    }
}

/// Is `word` the upper-case `keyword`, in any case? (Bytes: words are
/// ASCII.)
fn is(word: &[u8], keyword: &str) -> bool {
    let k = keyword.as_bytes();
    if word.len() != k.len() {
        return false;
    }
    let mut i = 0;
    while i < k.len() {
        if word[i].to_ascii_uppercase() != k[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `GET`, in upsd's order: TRACKING first, then the two-word forms, then
/// the three-word forms; extra words are ignored.
fn get<'a>(args: &[&'a [u8]]) -> Option<Request<'a>> {
    let sub = *args.first()?;
    // `VAR` first: upsmon's poll. The sub-commands exclude each other, so
    // the order they are tried in changes no answer.
    if is(sub, "VAR") {
        return Some(Request::GetVar {
            ups: args.get(1)?,
            var: args.get(2)?,
        });
    }
    if is(sub, "TRACKING") {
        return Some(Request::GetTracking(args.get(1).copied()));
    }
    let ups = *args.get(1)?;
    if is(sub, "NUMLOGINS") {
        return Some(Request::GetNumLogins { ups });
    }
    if is(sub, "UPSDESC") {
        return Some(Request::GetUpsDesc { ups });
    }
    let var = *args.get(2)?;
    Some(if is(sub, "TYPE") {
        Request::GetType { ups, var }
    } else if is(sub, "DESC") {
        Request::GetDesc { ups, var }
    } else if is(sub, "CMDDESC") {
        Request::GetCmdDesc { ups, cmd: var }
    } else {
        return None;
    })
}

/// `LIST`, in upsd's order; extra words are ignored.
fn list<'a>(args: &[&'a [u8]]) -> Option<Request<'a>> {
    let sub = *args.first()?;
    if is(sub, "UPS") {
        return Some(Request::ListUps);
    }
    let ups = *args.get(1)?;
    if is(sub, "VAR") {
        return Some(Request::ListVar { ups });
    }
    if is(sub, "RW") {
        return Some(Request::ListRw { ups });
    }
    if is(sub, "CMD") {
        return Some(Request::ListCmd { ups });
    }
    if is(sub, "CLIENT") {
        return Some(Request::ListClient { ups });
    }
    let var = *args.get(2)?;
    if is(sub, "ENUM") {
        return Some(Request::ListEnum { ups, var });
    }
    if is(sub, "RANGE") {
        return Some(Request::ListRange { ups, var });
    }
    None
}

/// `SET VAR <ups> <var> <value>` or `SET TRACKING ON|OFF`.
fn set<'a>(args: &[&'a [u8]]) -> Option<Request<'a>> {
    let (sub, arg) = (*args.first()?, *args.get(1)?);
    if is(sub, "VAR") {
        let (var, value) = (*args.get(2)?, *args.get(3)?);
        return Some(Request::SetVar {
            ups: arg,
            var,
            value,
        });
    }
    if is(sub, "TRACKING") {
        if is(arg, "ON") {
            return Some(Request::SetTracking(true));
        }
        if is(arg, "OFF") {
            return Some(Request::SetTracking(false));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_by_name_in_any_case() {
        for c in Command::ALL {
            assert_eq!(Command::from_word(c.name().as_bytes()), Some(c));
            let lower = c.name().to_lowercase();
            assert_eq!(Command::from_word(lower.as_bytes()), Some(c));
        }
        for w in ["", "GE", "GETS", "LISTS", "USERNAMES", "LOGINS", "LIST\0"] {
            assert_eq!(Command::from_word(w.as_bytes()), None, "{w}");
        }
    }
    use crate::proto::lexer::{tokenize_bytes, MAX_ARGS};

    /// `req!(name, line, Ok(request) | Err(command, code))`: tokenize one
    /// line and parse it.
    macro_rules! req {
        ($name:ident, $line:expr, $want:expr) => {
            #[test]
            fn $name() {
                let line: &[u8] = $line;
                let mut scratch = [0u8; 1024];
                let mut out = [&b""[..]; MAX_ARGS];
                let t = tokenize_bytes(line, &mut scratch, &mut out).unwrap();
                assert_eq!(parse(t.words), $want);
            }
        };
    }

    fn bad(command: Option<Command>, err: ErrCode) -> Result<Request<'static>, Invalid> {
        Err(Invalid { command, err })
    }

    fn inval(c: Command) -> Result<Request<'static>, Invalid> {
        bad(Some(c), ErrCode::InvalidArgument)
    }

    use Request as R;

    req!(ver, b"VER", Ok(R::Ver));
    req!(ver_lower_case, b"ver", Ok(R::Ver));
    req!(ver_with_argument, b"VER x", inval(Command::Ver));
    req!(netver, b"NETVER", Ok(R::NetVer));
    req!(netver_with_argument, b"NETVER 1", inval(Command::NetVer));
    req!(protver, b"PROTVER", Ok(R::ProtVer));
    req!(protver_with_argument, b"protver x", inval(Command::ProtVer));
    req!(help, b"HELP", Ok(R::Help));
    req!(help_with_argument, b"HELP me", inval(Command::Help));
    req!(starttls, b"STARTTLS", Ok(R::StartTls));
    req!(
        starttls_ignores_arguments,
        b"STARTTLS now please",
        Ok(R::StartTls)
    );
    req!(username, b"USERNAME monuser", Ok(R::Username(b"monuser")));
    req!(username_empty_word, b"USERNAME \"\"", Ok(R::Username(b"")));
    req!(username_missing, b"USERNAME", inval(Command::Username));
    req!(
        username_two_words,
        b"USERNAME a b",
        inval(Command::Username)
    );
    req!(password, b"PASSWORD secret", Ok(R::Password(b"secret")));
    req!(
        password_quoted,
        b"PASSWORD \"a b=c\"",
        Ok(R::Password(b"a b=c"))
    );
    req!(
        password_with_equals_unquoted,
        b"PASSWORD a=b",
        inval(Command::Password)
    );
    req!(password_missing, b"PASSWORD", inval(Command::Password));
    req!(login, b"LOGIN su700", Ok(R::Login { ups: b"su700" }));
    req!(login_missing, b"LOGIN", inval(Command::Login));
    req!(login_two, b"LOGIN a b", inval(Command::Login));
    req!(logout, b"LOGOUT", Ok(R::Logout));
    req!(logout_with_argument, b"LOGOUT now", inval(Command::Logout));
    req!(primary, b"PRIMARY su700", Ok(R::Primary { ups: b"su700" }));
    req!(primary_missing, b"PRIMARY", inval(Command::Primary));
    req!(master, b"MASTER su700", Ok(R::Master { ups: b"su700" }));
    req!(master_two, b"MASTER a b", inval(Command::Master));
    req!(fsd, b"FSD su700", Ok(R::Fsd { ups: b"su700" }));
    req!(fsd_missing, b"fsd", inval(Command::Fsd));
    req!(
        get_numlogins,
        b"GET NUMLOGINS su700",
        Ok(R::GetNumLogins { ups: b"su700" })
    );
    req!(
        get_upsdesc,
        b"get upsdesc su700 extra",
        Ok(R::GetUpsDesc { ups: b"su700" })
    );
    req!(
        get_var,
        b"GET VAR MyUps UPS.STATUS",
        Ok(R::GetVar {
            ups: b"MyUps",
            var: b"UPS.STATUS"
        })
    );
    req!(
        get_type,
        b"GET TYPE u v ignored",
        Ok(R::GetType {
            ups: b"u",
            var: b"v"
        })
    );
    req!(
        get_desc,
        b"GET DESC u v",
        Ok(R::GetDesc {
            ups: b"u",
            var: b"v"
        })
    );
    req!(
        get_cmddesc,
        b"GET CMDDESC u load.off",
        Ok(R::GetCmdDesc {
            ups: b"u",
            cmd: b"load.off"
        })
    );
    req!(get_tracking, b"GET TRACKING", Ok(R::GetTracking(None)));
    req!(
        get_tracking_id,
        b"GET tracking abc x",
        Ok(R::GetTracking(Some(&b"abc"[..])))
    );
    req!(get_nothing, b"GET", inval(Command::Get));
    req!(get_var_short, b"GET VAR u", inval(Command::Get));
    req!(get_numlogins_short, b"GET NUMLOGINS", inval(Command::Get));
    req!(get_unknown, b"GET FOO u v", inval(Command::Get));
    req!(list_ups, b"LIST UPS", Ok(R::ListUps));
    req!(list_ups_extra, b"list ups x", Ok(R::ListUps));
    req!(
        list_var,
        b"LIST VAR su700",
        Ok(R::ListVar { ups: b"su700" })
    );
    req!(list_rw, b"LIST RW u", Ok(R::ListRw { ups: b"u" }));
    req!(list_cmd, b"LIST CMD u", Ok(R::ListCmd { ups: b"u" }));
    req!(
        list_client,
        b"LIST CLIENT u",
        Ok(R::ListClient { ups: b"u" })
    );
    req!(
        list_enum,
        b"LIST ENUM u v",
        Ok(R::ListEnum {
            ups: b"u",
            var: b"v"
        })
    );
    req!(
        list_range,
        b"LIST RANGE u v",
        Ok(R::ListRange {
            ups: b"u",
            var: b"v"
        })
    );
    req!(list_nothing, b"LIST", inval(Command::List));
    req!(list_var_short, b"LIST VAR", inval(Command::List));
    req!(list_enum_short, b"LIST ENUM u", inval(Command::List));
    req!(list_clients_plural, b"LIST CLIENTS u", inval(Command::List));
    req!(
        set_var,
        b"SET VAR u ups.delay.shutdown \"30\"",
        Ok(R::SetVar {
            ups: b"u",
            var: b"ups.delay.shutdown",
            value: b"30"
        })
    );
    req!(set_var_short, b"SET VAR u v", inval(Command::Set));
    req!(
        set_tracking_on,
        b"SET TRACKING ON",
        Ok(R::SetTracking(true))
    );
    req!(
        set_tracking_off,
        b"set tracking off",
        Ok(R::SetTracking(false))
    );
    req!(
        set_tracking_other,
        b"SET TRACKING MAYBE",
        inval(Command::Set)
    );
    req!(set_nothing, b"SET", inval(Command::Set));
    req!(set_one, b"SET VAR", inval(Command::Set));
    req!(set_unknown, b"SET FOO bar", inval(Command::Set));
    req!(
        instcmd,
        b"INSTCMD u load.off",
        Ok(R::InstCmd {
            ups: b"u",
            cmd: b"load.off",
            value: None
        })
    );
    req!(
        instcmd_value,
        b"INSTCMD u load.off.delay 30",
        Ok(R::InstCmd {
            ups: b"u",
            cmd: b"load.off.delay",
            value: Some(&b"30"[..])
        })
    );
    req!(
        instcmd_value_dropped_with_four_args,
        b"INSTCMD u cmd two words",
        Ok(R::InstCmd {
            ups: b"u",
            cmd: b"cmd",
            value: None
        })
    );
    req!(instcmd_short, b"INSTCMD u", inval(Command::InstCmd));
    req!(empty_line, b"", bad(None, ErrCode::UnknownCommand));
    req!(comment_line, b"# hi", bad(None, ErrCode::UnknownCommand));
    req!(unknown_word, b"FOO", bad(None, ErrCode::UnknownCommand));
    req!(
        attach_never_existed,
        b"ATTACH u",
        bad(None, ErrCode::UnknownCommand)
    );
    req!(
        old_listvars,
        b"LISTVARS u",
        bad(None, ErrCode::UnknownCommand)
    );

    #[test]
    fn gate_applies_to_the_commands_upsd_flags() {
        let gated: Vec<_> = Command::ALL
            .into_iter()
            .filter(|c| c.needs_credentials())
            .map(Command::name)
            .collect();
        assert_eq!(
            gated,
            ["LOGIN", "PRIMARY", "MASTER", "FSD", "SET", "INSTCMD"]
        );
    }

    #[test]
    fn every_request_names_its_command() {
        for c in Command::ALL {
            assert_eq!(
                Command::from_word(c.name().to_lowercase().as_bytes()),
                Some(c)
            );
        }
        assert_eq!(R::GetTracking(None).command(), Command::Get);
        assert_eq!(R::SetTracking(true).command(), Command::Set);
        assert_eq!(R::ListRange { ups: b"", var: b"" }.command(), Command::List);
    }
}
