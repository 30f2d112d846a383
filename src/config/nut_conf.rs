//! `nut.conf`: which of NUT's parts a host runs (`MODE=`), read so that
//! one hidupsd binary serves every host on a UPS: the one it is plugged
//! into (`standalone`, `netserver`) and those that only watch it from
//! the network (`netclient`).
//!
//! The file is shell that NUT's service scripts source: `NAME=value`
//! lines, the value bare or in single or double quotes, `#` comment
//! lines, and an optional `export` in front. Only `MODE` is read; other
//! names (`UPSD_OPTIONS`, `POWEROFF_WAIT`, ...) are for NUT's scripts
//! and are passed over. `MODE` given twice, a value outside NUT's four
//! and a line a shell would not take as an assignment to `MODE` are
//! refused with the line, as the other files' errors are.
//!
//! Boundary: [`parse`] is pure; [`load`] reads the file and tells a
//! missing file (no `nut.conf`: hidupsd serves, as before it read this
//! file) from one that cannot be read. What a mode means for the daemon
//! is [`Mode::plan`].

use super::ConfigError;
use std::path::Path;

/// The file's name in the configuration directory.
pub const FILE: &str = "nut.conf";

/// NUT's `MODE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing is to start (NUT's default, and that of Debian's file).
    None,
    /// Driver, server and monitor, for this host only.
    Standalone,
    /// The same, serving other hosts too.
    Netserver,
    /// Only the monitor: the UPS is on another host's server.
    Netclient,
}

/// What the daemon runs for a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Open listeners and look for UPSes (false: monitor only).
    pub serve: bool,
}

impl Mode {
    pub const ALL: [(&'static str, Mode); 4] = [
        ("none", Mode::None),
        ("standalone", Mode::Standalone),
        ("netserver", Mode::Netserver),
        ("netclient", Mode::Netclient),
    ];

    pub fn name(self) -> &'static str {
        Mode::ALL.iter().find(|(_, m)| *m == self).unwrap().0
    }

    /// What to run; an error (for the caller to print before exiting)
    /// when the mode says nothing is to run, or when a monitor-only host
    /// has nothing to monitor. `file` and `line` say where MODE was set.
    pub fn plan(self, file: &Path, line: usize, has_upsmon: bool) -> Result<Plan, ConfigError> {
        match self {
            Mode::None => Err(ConfigError::new(
                file,
                line,
                format!(
                    "{}: NUT is not to run on this host, so hidupsd does not start; \
                     set MODE=standalone (or netserver) to serve the UPSes plugged in here, \
                     or MODE=netclient to only monitor a UPS served by another host",
                    if line == 0 {
                        "no MODE line, which NUT reads as MODE=none"
                    } else {
                        "MODE=none"
                    }
                ),
            )),
            Mode::Netclient if !has_upsmon => Err(ConfigError::new(
                file,
                line,
                "MODE=netclient runs the monitor only, and there is no upsmon.conf to say \
                 what to monitor",
            )),
            Mode::Netclient => Ok(Plan { serve: false }),
            Mode::Standalone | Mode::Netserver => Ok(Plan { serve: true }),
        }
    }
}

/// The file as read: its mode and the line that set it (0 when the file
/// has no `MODE` line, which NUT takes as `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutConf {
    pub mode: Mode,
    pub line: usize,
}

/// Read `dir/nut.conf`; `Ok(None)` when there is no such file.
pub fn load(dir: &Path) -> Result<Option<NutConf>, ConfigError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => parse(&path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::new(&path, 0, format!("cannot read: {e}"))),
    }
}

/// Parse the text of `nut.conf`; `file` is used in messages.
pub fn parse(file: &Path, text: &[u8]) -> Result<NutConf, ConfigError> {
    let mut found: Option<NutConf> = None;
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let err = |msg: String| ConfigError::new(file, line, msg);
        // Other names may hold anything a shell takes; only MODE's line
        // has to be plain ASCII.
        let s = String::from_utf8_lossy(raw);
        let s = s.trim();
        let s = s.strip_prefix("export ").map_or(s, str::trim_start);
        let Some(rest) = s.strip_prefix("MODE") else {
            continue;
        };
        let Some(value) = rest.strip_prefix('=') else {
            if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace()) {
                if rest.trim_start().starts_with('=') {
                    return Err(err(
                        "no spaces around '=' (the file is read by a shell): write MODE=standalone"
                            .into(),
                    ));
                }
                // `export MODE` alone, or MODE used as a command.
                continue;
            }
            continue; // another name that starts with MODE (MODEL=...)
        };
        let value = word(value).map_err(|m| err(format!("MODE: {m}")))?;
        let Some(&(_, mode)) = Mode::ALL.iter().find(|(n, _)| *n == value) else {
            return Err(err(format!(
                "MODE: expected none, standalone, netserver or netclient, got '{value}'"
            )));
        };
        if let Some(first) = &found {
            return Err(err(format!(
                "MODE set again (first on line {}): keep one MODE line",
                first.line
            )));
        }
        found = Some(NutConf { mode, line });
    }
    Ok(found.unwrap_or(NutConf {
        mode: Mode::None,
        line: 0,
    }))
}

/// The value of a shell assignment: bare, or in single or double quotes,
/// then nothing but an optional comment.
fn word(v: &str) -> Result<&str, String> {
    let (w, rest) = match v.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let end = v[1..]
                .find(q)
                .ok_or_else(|| format!("the quote {q} is not closed"))?;
            (&v[1..1 + end], &v[end + 2..])
        }
        _ => {
            let end = v.find(|c: char| c.is_ascii_whitespace()).unwrap_or(v.len());
            (&v[..end], &v[end..])
        }
    };
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err(format!("unexpected '{rest}' after the value"));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(text: &str) -> Result<NutConf, String> {
        parse(Path::new("nut.conf"), text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn nut_spellings() {
        for (text, want, line) in [
            ("MODE=standalone\n", Mode::Standalone, 1),
            ("# c\n\nMODE=netserver\n", Mode::Netserver, 3),
            ("MODE=\"netclient\"\n", Mode::Netclient, 1),
            ("MODE='none'\n", Mode::None, 1),
            ("export MODE=standalone\n", Mode::Standalone, 1),
            (
                "MODE=standalone # the three layers\r\n",
                Mode::Standalone,
                1,
            ),
            ("  MODE=netclient\nexport MODE\n", Mode::Netclient, 1),
            // Debian's file: MODE=none among comments and other names.
            (
                "# MODE=standalone\nMODE=none\n#ALLOW_NO_DEVICE=true\nUPSD_OPTIONS='-D'\n",
                Mode::None,
                2,
            ),
            ("MODEL=x\nMODE=standalone\n", Mode::Standalone, 2),
        ] {
            assert_eq!(mode(text), Ok(NutConf { mode: want, line }), "{text:?}");
        }
    }

    #[test]
    fn without_a_mode_line_it_is_none_as_in_nut() {
        assert_eq!(
            mode("# MODE=standalone\nPOWEROFF_WAIT=5m\n"),
            Ok(NutConf {
                mode: Mode::None,
                line: 0
            })
        );
        assert_eq!(mode("").unwrap().mode, Mode::None);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, want) in [
            (
                "MODE=server\n",
                "nut.conf:1: MODE: expected none, standalone, netserver or netclient, got 'server'",
            ),
            (
                "MODE=Standalone\n",
                "nut.conf:1: MODE: expected none, standalone, netserver or netclient, got 'Standalone'",
            ),
            (
                "MODE = standalone\n",
                "nut.conf:1: no spaces around '=' (the file is read by a shell): write MODE=standalone",
            ),
            ("MODE=\"netclient\n", "nut.conf:1: MODE: the quote \" is not closed"),
            (
                "MODE=standalone upsd\n",
                "nut.conf:1: MODE: unexpected 'upsd' after the value",
            ),
            (
                "MODE=standalone\nMODE=netclient\n",
                "nut.conf:2: MODE set again (first on line 1): keep one MODE line",
            ),
        ] {
            assert_eq!(mode(text).unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn what_each_mode_runs() {
        let f = Path::new("/etc/nut/nut.conf");
        assert_eq!(Mode::Standalone.plan(f, 3, false), Ok(Plan { serve: true }));
        assert_eq!(Mode::Netserver.plan(f, 3, true), Ok(Plan { serve: true }));
        assert_eq!(Mode::Netclient.plan(f, 3, true), Ok(Plan { serve: false }));
        let e = Mode::Netclient.plan(f, 3, false).unwrap_err().to_string();
        assert!(
            e.starts_with("/etc/nut/nut.conf:3: MODE=netclient runs the monitor only"),
            "{e}"
        );
        let e = Mode::None.plan(f, 2, true).unwrap_err().to_string();
        assert!(
            e.starts_with("/etc/nut/nut.conf:2: MODE=none: NUT is not to run on this host"),
            "{e}"
        );
        let e = Mode::None.plan(f, 0, true).unwrap_err().to_string();
        assert!(
            e.starts_with("/etc/nut/nut.conf: no MODE line, which NUT reads as MODE=none: NUT"),
            "{e}"
        );
        assert!(e.contains("set MODE=standalone"), "{e}");
    }

    #[test]
    fn load_tells_a_missing_file_from_a_present_one() {
        let dir = std::env::temp_dir().join(format!("hidupsd-nutconf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir), Ok(None));
        std::fs::write(dir.join(FILE), "MODE=netserver\n").unwrap();
        assert_eq!(load(&dir).unwrap().unwrap().mode, Mode::Netserver);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
