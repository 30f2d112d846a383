//! NUT's configuration files, read as pure code: bytes in, typed
//! configuration or a [`ConfigError`] out.
//!
//! hidupsd reads the files a NUT installation already has, so users keep
//! their `/etc/nut`:
//!
//! | file | module | what hidupsd takes from it |
//! |---|---|---|
//! | `ups.conf` | [`ups_conf`] | the UPSes to serve (`driver = usbhid-ups`, or `driver = sim` for a recording) and their driver options |
//! | `upsd.conf` | [`upsd_conf`] | listeners and server limits |
//! | `upsd.users` | [`upsd_users`] | network users and their rights |
//! | `upsmon.conf` | [`upsmon_conf`] | what to monitor and how to shut down |
//! | `nut.conf` | [`nut_conf`] | `MODE`: serve and monitor, or monitor only |
//!
//! Every file goes through two stages, as ripgrep's flags do:
//! 1. [`lex`] splits the text into logical lines of words with NUT's
//!    parseconf rules (quotes, backslash escapes, `#` comments, `=` as a
//!    word of its own, line continuation), keeping line numbers;
//! 2. each file's `parse` turns those records into a validated, typed
//!    configuration with NUT's defaults filled in.
//!
//! Where NUT logs a problem and carries on (unknown directive, unparseable
//! line, a value it silently misreads), hidupsd refuses the file with an
//! error naming the file, the line and what was expected: a UPS daemon
//! that half-reads its configuration is worse than one that does not
//! start. Things NUT ignores with a warning and that cannot change the
//! meaning of the file are accepted and listed in each configuration's
//! `warnings`, for the caller to log.
//!
//! Boundary: nothing here touches the file system except the thin `load`
//! function of each file module, which reads one file from a directory and
//! hands its bytes to the pure `parse`. Host names are not resolved and
//! paths are not checked for existence.

pub mod lex;
pub mod nut_conf;
pub mod setup;
pub mod ups_conf;
pub mod ups_options;
pub mod upsd_conf;
pub mod upsd_users;
pub mod upsmon_conf;

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem: the file, the line (1-based; 0 when the
/// problem concerns the whole file) and what was expected, read through
/// [`Problem`]'s fields (`e.file`, `e.line`, `e.msg`).
///
/// Also used for warnings, which have the same shape.
///
/// One word, boxed: every parser here passes it up through many `?`, and
/// moving the seven words of [`Problem`] at each of them cost several KB
/// of code on a 32-bit router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(Box<Problem>);

/// What a [`ConfigError`] says.
#[derive(Debug, Clone, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub msg: String,
}

/// Paths compare as the bytes they were written with (a derived
/// comparison would parse both into components: code a router's flash
/// need not carry for names this crate builds the same way each time).
impl PartialEq for Problem {
    fn eq(&self, o: &Problem) -> bool {
        self.file.as_os_str() == o.file.as_os_str() && self.line == o.line && self.msg == o.msg
    }
}

impl std::ops::Deref for ConfigError {
    type Target = Problem;
    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl ConfigError {
    pub fn new(file: &Path, line: usize, msg: impl Into<String>) -> ConfigError {
        ConfigError(Box::new(Problem {
            file: file.to_path_buf(),
            line,
            msg: msg.into(),
        }))
    }
}

impl fmt::Display for ConfigError {
    /// `file:line: msg`, or `file: msg` for a whole-file problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The `file:line: msg` line, so that `?` hands a [`ConfigError`] to a
/// caller that reports errors as text (one conversion, rather than a
/// `map_err` at each call).
impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.to_string()
    }
}

/// The role of a monitoring client: `upsmon primary|secondary` in
/// `upsd.users`, the last word of `MONITOR` in `upsmon.conf`. The legacy
/// words `master` and `slave` mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connected to the UPS; shuts down last and may set FSD.
    Primary,
    /// Powered by the UPS but not its manager.
    Secondary,
}

impl Role {
    /// `primary`/`master` or `secondary`/`slave`, case-insensitively.
    pub fn parse(s: &str) -> Option<Role> {
        if s.eq_ignore_ascii_case("primary") || s.eq_ignore_ascii_case("master") {
            Some(Role::Primary)
        } else if s.eq_ignore_ascii_case("secondary") || s.eq_ignore_ascii_case("slave") {
            Some(Role::Secondary)
        } else {
            None
        }
    }
}

/// NUT's booleans: `true/yes/on/1` and `false/no/off/0`, case-insensitively.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
    const FALSE: [&str; 4] = ["false", "no", "off", "0"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(false)
    } else {
        None
    }
}

/// A decimal number with an optional leading `-`, nothing else (NUT's
/// `atoi` would read `15s` as 15 and `x` as 0; we refuse both).
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A decimal number that fits `u32` and is at least `min`.
pub(crate) fn parse_u32(s: &str, min: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&v| v >= min)
}

/// `what` for an unsigned number, for messages.
pub(crate) fn uint_what(unit: &str, min: u32) -> String {
    match min {
        0 => format!("a whole number of {unit}"),
        _ => format!("a whole number of {unit}, at least {min}"),
    }
}

/// Read `dir/name` for a `load` function.
pub(crate) fn read(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), ConfigError> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok((path, bytes)),
        Err(e) => Err(ConfigError::new(&path, 0, format!("cannot read: {e}"))),
    }
}

/// Lex `text`, turning a lexer error into a [`ConfigError`] for `file`.
pub(crate) fn lex_file(file: &Path, text: &[u8]) -> Result<Vec<lex::Line>, ConfigError> {
    lex::lex(text).map_err(|e| ConfigError::new(file, e.line, e.msg))
}

/// One line of a directive-per-line file (`upsd.conf`, `upsmon.conf`):
/// `KEYWORD arg...`, with helpers that produce uniform messages.
pub(crate) struct Directive<'a> {
    pub file: &'a Path,
    pub line: &'a lex::Line,
}

impl<'a> Directive<'a> {
    pub fn name(&self) -> &'a str {
        &self.line.words[0]
    }
    pub fn args(&self) -> &'a [String] {
        &self.line.words[1..]
    }
    pub fn err(&self, msg: impl fmt::Display) -> ConfigError {
        self.err_dyn(&msg)
    }
    // One copy of the formatting for every kind of message.
    fn err_dyn(&self, msg: &dyn fmt::Display) -> ConfigError {
        ConfigError::new(self.file, self.line.line, format!("{}: {msg}", self.name()))
    }
    /// An error without the keyword prefix.
    pub fn plain(&self, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, self.line.line, msg)
    }
    /// Exactly `n` arguments, as `usage` shows (`"MAXAGE <seconds>"`).
    pub fn exact(&self, n: usize, usage: &str) -> Result<&'a [String], ConfigError> {
        let args = self.args();
        if args.first().map(String::as_str) == Some("=") {
            return Err(self.err(format_args!(
                "this file takes no '=' between keyword and value: write '{usage}'"
            )));
        }
        match args.len() {
            len if len == n => Ok(args),
            0 => Err(self.err(format_args!("missing value: write '{usage}'"))),
            len if len < n => Err(self.err(format_args!(
                "expected {n} values, got {len}: write '{usage}'"
            ))),
            _ => Err(self.err(format_args!(
                "unexpected '{}' after the value (quote values that contain spaces): write '{usage}'",
                args[n]
            ))),
        }
    }
    /// At least one argument (commands with arguments).
    pub fn some(&self, usage: &str) -> Result<&'a [String], ConfigError> {
        let args = self.args();
        if args.first().map(String::as_str) == Some("=") {
            return Err(self.err(format_args!(
                "this file takes no '=' between keyword and value: write '{usage}'"
            )));
        }
        if args.is_empty() || args.iter().all(String::is_empty) {
            return Err(self.err(format_args!("missing value: write '{usage}'")));
        }
        Ok(args)
    }
    pub fn one(&self, usage: &str) -> Result<&'a str, ConfigError> {
        Ok(&self.exact(1, usage)?[0])
    }
    pub fn u32(&self, usage: &str, unit: &str, min: u32) -> Result<u32, ConfigError> {
        let v = self.one(usage)?;
        parse_u32(v, min)
            .ok_or_else(|| self.err(format_args!("expected {}, got '{v}'", uint_what(unit, min))))
    }
    pub fn int(&self, usage: &str, what: &str) -> Result<i64, ConfigError> {
        let v = self.one(usage)?;
        parse_int(v)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| self.err(format_args!("expected {what}, got '{v}'")))
    }
    pub fn bool(&self, usage: &str) -> Result<bool, ConfigError> {
        let v = self.one(usage)?;
        parse_bool(v).ok_or_else(|| {
            self.err(format_args!(
                "expected a boolean (yes/no, true/false, on/off, 1/0), got '{v}'"
            ))
        })
    }
    /// Refuse a second occurrence of a single-valued directive.
    pub fn once(&self, seen: &mut Option<usize>) -> Result<(), ConfigError> {
        if let Some(first) = *seen {
            return Err(self.err(format_args!("set twice (first at line {first})")));
        }
        *seen = Some(self.line.line);
        Ok(())
    }
}

/// The message for an unknown keyword of a case-sensitive file, with a
/// hint when only the case is wrong. `known`: the keywords, separated by
/// spaces.
pub(crate) fn unknown_keyword(word: &str, known: &str, what: &str) -> String {
    match known.split(' ').find(|k| k.eq_ignore_ascii_case(word)) {
        Some(k) => {
            format!("unknown directive '{word}': {what} keywords are case-sensitive, write '{k}'")
        }
        None => format!("unknown directive '{word}' in {what}"),
    }
}

/// A `[name]` section header, if `words` is one. `Err` for a line that
/// looks like a header but is not a valid one.
pub(crate) fn section_header(words: &[String]) -> Result<Option<&str>, String> {
    let first = words[0].as_str();
    if !first.starts_with('[') {
        return Ok(None);
    }
    if first.len() < 2 || !first.ends_with(']') {
        if words.len() > 1 && words.last().is_some_and(|w| w.ends_with(']')) {
            if words.iter().any(|w| w == "=") {
                return Err("'=' in a section name must be escaped: write \\=".into());
            }
            return Err("section names cannot contain spaces: write '[name]'".into());
        }
        return Err(format!("'{first}' is not a section header: write '[name]'"));
    }
    let name = &first[1..first.len() - 1];
    if name.is_empty() {
        return Err("empty section name '[]'".into());
    }
    if let Some(extra) = words.get(1) {
        return Err(format!(
            "unexpected '{extra}' after the section header [{name}]"
        ));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = ConfigError::new(Path::new("/etc/nut/ups.conf"), 12, "boom");
        assert_eq!(e.to_string(), "/etc/nut/ups.conf:12: boom");
        let e = ConfigError::new(Path::new("ups.conf"), 0, "no section");
        assert_eq!(e.to_string(), "ups.conf: no section");
    }

    #[test]
    fn a_nul_byte_is_refused_in_every_file_with_file_and_line() {
        let msg = "NUL byte (0x00): configuration files are plain text \
                   (a value cut from binary data, or not a configuration file?)";
        let users = upsd_users::parse(
            Path::new("/etc/nut/upsd.users"),
            b"[admin]\n\tpassword = a\0b\n\tinstcmds = all\n",
        );
        assert_eq!(
            users.unwrap_err().to_string(),
            format!("/etc/nut/upsd.users:2: {msg}")
        );
        let upsd = upsd_conf::parse(Path::new("upsd.conf"), b"MAXAGE 15\nLISTEN 127.0.0.1\0\n");
        assert_eq!(upsd.unwrap_err().to_string(), format!("upsd.conf:2: {msg}"));
        let ups = ups_conf::parse(
            Path::new("ups.conf"),
            b"[ups]\n\tdriver = usbhid-ups\n\tport = auto\n\tdesc = \"x\0\"\n",
        );
        assert_eq!(ups.unwrap_err().to_string(), format!("ups.conf:4: {msg}"));
        let mon = upsmon_conf::parse(
            Path::new("upsmon.conf"),
            b"MONITOR ups@localhost 1 u p\0w primary\n",
        );
        assert_eq!(
            mon.unwrap_err().to_string(),
            format!("upsmon.conf:1: {msg}")
        );
    }

    #[test]
    fn booleans() {
        for t in ["true", "YES", "On", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "OFF", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("15s"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("+3"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_u32("0", 0), Some(0));
        assert_eq!(parse_u32("0", 1), None);
        assert_eq!(parse_u32("4294967296", 0), None);
        assert_eq!(parse_u32("-1", 0), None);
    }

    #[test]
    fn roles() {
        assert_eq!(Role::parse("primary"), Some(Role::Primary));
        assert_eq!(Role::parse("MASTER"), Some(Role::Primary));
        assert_eq!(Role::parse("Secondary"), Some(Role::Secondary));
        assert_eq!(Role::parse("slave"), Some(Role::Secondary));
        assert_eq!(Role::parse("boss"), None);
    }

    #[test]
    fn headers() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(section_header(&w(&["[ups]"])), Ok(Some("ups")));
        assert_eq!(section_header(&w(&["driver"])), Ok(None));
        assert_eq!(
            section_header(&w(&["[]"])),
            Err("empty section name '[]'".to_string())
        );
        assert_eq!(
            section_header(&w(&["[my", "ups]"])),
            Err("section names cannot contain spaces: write '[name]'".to_string())
        );
        assert_eq!(
            section_header(&w(&["[a", "=", "b]"])),
            Err("'=' in a section name must be escaped: write \\=".to_string())
        );
        assert_eq!(
            section_header(&w(&["[ups"])),
            Err("'[ups' is not a section header: write '[name]'".to_string())
        );
        assert_eq!(
            section_header(&w(&["[ups]", "x"])),
            Err("unexpected 'x' after the section header [ups]".to_string())
        );
    }
}
