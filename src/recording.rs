//! Recorded UPSes: a fixture directory (`descriptor.hex`, `reports.txt`,
//! `device.txt`) or a single-file recording, parsed into a [`Recording`],
//! and a [`Transport`] that answers reads and writes from it.
//!
//! The single-file format is line based; `#` starts a comment:
//! ```text
//! vendorid 051d
//! productid 0002
//! vendor "American Power Conversion"
//! product "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2"
//! serial "4B1234P56789"
//! string 4 "PbAc"
//! descriptor 05 84 09 04 a1 01 ...     (repeatable; bytes are appended)
//! feature 0c 0c 64 00                  (report id, then the bytes, id first)
//! input 0b 0b 90 01 00 00 00 01
//! at 10 powercut                       (a scripted event, see below)
//! ```
//! A fixture directory holds the same lines split over its three files
//! (`descriptor.hex` holds bare hex bytes).
//!
//! A Megatec/Q1 unit (a vendor-defined HID pipe to an ASCII protocol,
//! see [`crate::qx`]) is recorded as its commands and answers, one
//! `answer` line each (in a fixture directory: `answers.txt`), with C
//! escapes (`\r`, `\n`, `\\`, `\"`, `\xHH`); an empty answer is a
//! command the unit did not answer:
//! ```text
//! answer "Q1\r" "(215.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r"
//! answer "QS\r" ""
//! ```
//!
//! Script lines say what a simulated UPS ([`crate::device::sim`]) does
//! and when; `decode` ignores them. SECONDS is a decimal number of
//! seconds after the simulated UPS starts; lines may come in any order.
//! ```text
//! at 5 set UPS.PowerSummary.RemainingCapacity 80   (a field, in NUT units)
//! at 10 powercut     (ACPresent 0, Discharging 1, Charging 0)
//! at 20 lowbatt      (BelowRemainingCapacityLimit 1, ShutdownImminent 1)
//! at 30 powerback    (ACPresent 1, Discharging 0, Charging 1)
//! ```
//! The macros' flags are set under `UPS.PowerSummary.PresentStatus` and
//! `UPS.PowerSummary`, where the UPS has them; `lowbatt`'s stay set until
//! a `set` line clears them. In a fixture directory, `at` lines go in
//! `device.txt` or `reports.txt`.
//! Parsing checks the syntax only: whether a path names a field of the
//! UPS is checked when the simulation is set up, against its descriptor
//! ([`crate::device::sim::Sim::load`]). The same lines may also come from
//! a script file ([`Recording::load_script`]).

use crate::text::{Shortest, Text};
use crate::ups::options::Identity;
use crate::ups::transport::{IoError, Transport};
use std::fmt;
use std::path::{Path, PathBuf};

/// A recorded device.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub ident: Identity,
    pub descriptor: Vec<u8>,
    /// Feature reports in file order (a later line for the same id is a
    /// later reading).
    pub features: Vec<Vec<u8>>,
    /// Input (interrupt) reports in file order.
    pub inputs: Vec<Vec<u8>>,
    /// USB string descriptors by index.
    pub strings: Vec<(u8, String)>,
    /// Scripted events (`at` lines) in file order.
    pub script: Vec<Event>,
    /// A Megatec/Q1 unit's answers: (command, answer) in file order.
    pub answers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One `at SECONDS ...` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Milliseconds after the simulated UPS starts.
    pub at_ms: u64,
    pub act: Act,
    /// Where the line is, for errors found later (empty when parsed from
    /// text rather than loaded from a file).
    pub file: PathBuf,
    pub line: usize,
}

/// What an event does. The macros' fields are listed where they are
/// applied ([`crate::device::sim`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Set the field(s) at a NUT path to a value in NUT units.
    Set {
        path: String,
        value: f64,
    },
    PowerCut,
    PowerBack,
    LowBatt,
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::Set { path, value } => write!(f, "set {path} {}", Shortest(*value)),
            Act::PowerCut => f.write_str("powercut"),
            Act::PowerBack => f.write_str("powerback"),
            Act::LowBatt => f.write_str("lowbatt"),
        }
    }
}

/// `at SECONDS WHAT...` after the keyword.
fn event(rest: &str) -> Result<(u64, Act), String> {
    const FORM: &str =
        "expected 'at SECONDS set PATH VALUE' or 'at SECONDS powercut|powerback|lowbatt'";
    let mut w = rest.split_whitespace();
    let (Some(secs), Some(what)) = (w.next(), w.next()) else {
        return Err(FORM.into());
    };
    // The event's arguments: the first two, and whether there are more.
    let args = (w.next(), w.next(), w.next().is_some());
    let s: f64 = crate::text::parse_f64(secs)
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| format!("'{secs}' is not a number of seconds"))?;
    // Far beyond any run; keeps the conversion exact.
    if s > 1e9 {
        return Err(format!("'{secs}' seconds is too far ahead"));
    }
    let at_ms = (s * 1000.0).round() as u64;
    let act = match (what, args) {
        ("set", (Some(path), Some(value), false)) => Act::Set {
            path: path.to_string(),
            value: crate::text::parse_f64(value)
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| format!("'{value}' is not a number"))?,
        },
        ("set", _) => return Err("expected 'at SECONDS set PATH VALUE'".into()),
        ("powercut", (None, ..)) => Act::PowerCut,
        ("powerback", (None, ..)) => Act::PowerBack,
        ("lowbatt", (None, ..)) => Act::LowBatt,
        ("powercut" | "powerback" | "lowbatt", _) => {
            return Err(format!("'{what}' takes no arguments"))
        }
        _ => {
            return Err(format!(
                "unknown event '{what}' (set, powercut, powerback, lowbatt)"
            ))
        }
    };
    Ok((at_ms, act))
}

/// A recording that could not be read, naming the file and line.
#[derive(Debug)]
pub struct Error {
    pub file: PathBuf,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
        } else {
            write!(f, "{}: {}", self.file.display(), self.msg)
        }
    }
}

impl std::error::Error for Error {}

fn hex_bytes(words: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for w in words.split_whitespace() {
        let w = w.strip_prefix("0x").unwrap_or(w);
        match u8::from_str_radix(w, 16) {
            Ok(b) if w.len() <= 2 => out.push(b),
            _ => return Err(format!("'{w}' is not a hex byte")),
        }
    }
    Ok(out)
}

/// A quoted byte string with C escapes (`\r`, `\n`, `\t`, `\\`, `\"`,
/// `\xHH`); returns the bytes and what follows the closing quote.
pub fn c_quoted(s: &str) -> Result<(Vec<u8>, &str), String> {
    let s = s.trim_start();
    let inner = s
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a quoted string, found '{s}'"))?;
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Ok((out, &inner[i + 1..])),
            b'\\' => {
                let c = *b.get(i + 1).ok_or("string ends in a backslash")?;
                i += 2;
                out.push(match c {
                    b'r' => b'\r',
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'0' => 0,
                    b'x' => {
                        let h = inner.get(i..i + 2).ok_or("\\x needs two hex digits")?;
                        i += 2;
                        u8::from_str_radix(h, 16)
                            .map_err(|_| format!("'\\x{h}' is not a hex byte"))?
                    }
                    b'\\' | b'"' => c,
                    _ => return Err(format!("unknown escape '\\{}'", c as char)),
                });
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("missing closing quote".into())
}

/// Bytes as a C-quoted string for a recording (the inverse of [`c_quoted`]).
pub fn c_quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// A quoted string value: `"..."` with `\"` and `\\` escapes.
fn quoted(s: &str) -> Result<String, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| format!("expected a quoted string, found '{s}'"))?;
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            out.push(it.next().ok_or("string ends in a backslash")?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn err(file: &Path, line: usize, msg: String) -> Error {
    Error {
        file: file.to_path_buf(),
        line,
        msg,
    }
}

/// The largest recording file read: real ones are a few KB; a path to
/// a device (`port = /dev/zero`) must end in an error, not a full memory.
pub const MAX_FILE: u64 = 4 << 20;
/// The longest line: a long report descriptor written as hex on one
/// line is a few KB.
pub const MAX_LINE: usize = 64 << 10;

fn read(p: &Path) -> Result<String, Error> {
    use std::io::Read;
    let mut f = std::fs::File::open(p).map_err(|e| err(p, 0, e.to_string()))?;
    let mut bytes = Vec::new();
    // Read until the end or just past MAX_FILE (check_text refuses it).
    let mut chunk = [0u8; 8192];
    while bytes.len() as u64 <= MAX_FILE {
        match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(p, 0, e.to_string())),
        }
    }
    check_text(&bytes).map_err(|(line, msg)| err(p, line, msg))?;
    String::from_utf8(bytes).map_err(|_| err(p, 0, "not UTF-8 text: not a recording".into()))
}

/// Refuse what cannot be a recording before parsing it: too large, a
/// line too long, a NUL byte.
fn check_text(bytes: &[u8]) -> Result<(), (usize, String)> {
    if bytes.len() as u64 > MAX_FILE {
        return Err((
            0,
            format!(
                "larger than {} MiB: not a recording (a device or a log?)",
                MAX_FILE >> 20
            ),
        ));
    }
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.len() > MAX_LINE {
            return Err((
                n + 1,
                format!("line longer than {} KiB: not a recording", MAX_LINE >> 10),
            ));
        }
        if line.contains(&0) {
            return Err((n + 1, "NUL byte: not a recording (binary data?)".into()));
        }
    }
    Ok(())
}

impl Recording {
    /// Read a fixture directory or a single-file recording.
    pub fn load(path: &Path) -> Result<Recording, Error> {
        let mut rec = Recording::default();
        if path.is_dir() {
            let desc = path.join("descriptor.hex");
            for (n, line) in read(&desc)?.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("");
                rec.descriptor
                    .extend(hex_bytes(line).map_err(|m| err(&desc, n + 1, m))?);
            }
            rec.parse_file(&path.join("device.txt"), false)?;
            for more in ["reports.txt", "answers.txt"] {
                let f = path.join(more);
                if f.exists() {
                    rec.parse_file(&f, false)?;
                }
            }
        } else {
            rec.parse_file(path, false)?;
        }
        if rec.descriptor.is_empty() {
            return Err(err(path, 0, "no report descriptor in the recording".into()));
        }
        Ok(rec)
    }

    /// Add the `at` lines of a script file (nothing else may be in it).
    pub fn load_script(&mut self, path: &Path) -> Result<(), Error> {
        self.parse_file(path, true)
    }

    /// Parse a file's lines into `self`; its events remember the file.
    fn parse_file(&mut self, path: &Path, script_only: bool) -> Result<(), Error> {
        let text = read(path)?;
        let first = self.script.len();
        self.parse_lines(&text, script_only)
            .map_err(|(l, m)| err(path, l, m))?;
        for e in &mut self.script[first..] {
            e.file = path.to_path_buf();
        }
        Ok(())
    }

    /// Parse recording lines into `self`; errors carry the line number.
    pub fn parse(&mut self, text: &str) -> Result<(), (usize, String)> {
        self.parse_lines(text, false)
    }

    fn parse_lines(&mut self, text: &str, script_only: bool) -> Result<(), (usize, String)> {
        for (n, raw) in text.lines().enumerate() {
            let line = match raw.find('#') {
                // A '#' inside a quoted string is not a comment.
                Some(i) if !raw[..i].contains('"') => &raw[..i],
                _ => raw,
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (key, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let e = |m: String| (n + 1, m);
            if script_only && key != "at" {
                return Err(e(format!(
                    "'{key}' in a script: a script holds only 'at' lines"
                )));
            }
            match key {
                "at" => {
                    let (at_ms, act) = event(rest).map_err(e)?;
                    self.script.push(Event {
                        at_ms,
                        act,
                        file: PathBuf::new(),
                        line: n + 1,
                    });
                }
                "vendorid" | "productid" => {
                    let v = u16::from_str_radix(rest.trim(), 16)
                        .map_err(|_| e(format!("{key} '{}' is not 4 hex digits", rest.trim())))?;
                    if key == "vendorid" {
                        self.ident.vid = v;
                    } else {
                        self.ident.pid = v;
                    }
                }
                "vendor" | "product" | "serial" => {
                    let s = quoted(rest).map_err(e)?;
                    let v = if s.is_empty() { None } else { Some(s) };
                    match key {
                        "vendor" => self.ident.vendor = v,
                        "product" => self.ident.product = v,
                        _ => self.ident.serial = v,
                    }
                }
                "string" => {
                    let (idx, s) = rest
                        .trim()
                        .split_once(char::is_whitespace)
                        .ok_or_else(|| e("expected 'string INDEX \"TEXT\"'".into()))?;
                    let idx: u8 = idx
                        .parse()
                        .map_err(|_| e(format!("string index '{idx}' is not 0-255")))?;
                    self.strings.push((idx, quoted(s).map_err(e)?));
                }
                "descriptor" => self.descriptor.extend(hex_bytes(rest).map_err(e)?),
                "answer" => {
                    let (cmd, rest) = c_quoted(rest).map_err(e)?;
                    let (ans, rest) = c_quoted(rest).map_err(e)?;
                    if !rest.trim().is_empty() {
                        return Err(e(format!("unexpected '{}' after the answer", rest.trim())));
                    }
                    if cmd.is_empty() || cmd.len() > 64 || ans.len() > 250 {
                        return Err(e(
                            "a command of 1 to 64 bytes and an answer of at most 250".into()
                        ));
                    }
                    self.answers.push((cmd, ans));
                }
                "feature" | "input" => {
                    let (id, bytes) = rest
                        .trim()
                        .split_once(char::is_whitespace)
                        .unwrap_or((rest, ""));
                    let id = u8::from_str_radix(id.trim(), 16)
                        .map_err(|_| e(format!("report id '{}' is not a hex byte", id.trim())))?;
                    let bytes = hex_bytes(bytes).map_err(e)?;
                    if bytes.first() != Some(&id) && !bytes.is_empty() && id != 0 {
                        return Err(e(format!(
                            "report bytes must start with the report id {id:02x}"
                        )));
                    }
                    if bytes.is_empty() {
                        return Err(e("report line without bytes".into()));
                    }
                    if key == "feature" {
                        self.features.push(bytes);
                    } else {
                        self.inputs.push(bytes);
                    }
                }
                _ => return Err(e(format!("unknown keyword '{key}'"))),
            }
        }
        Ok(())
    }
}

/// A recording served as a device: GET_REPORT answers the latest recorded
/// bytes of a report id (as the device would, short answers included);
/// SET_REPORT stores what was written, so it reads back.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Latest bytes per report id.
    reports: Vec<Option<Vec<u8>>>,
    strings: Vec<(u8, String)>,
    /// Every SET_REPORT seen, in order (for tests).
    pub writes: Vec<Vec<u8>>,
}

impl Replay {
    pub fn new(rec: &Recording) -> Replay {
        let mut reports = vec![None; 256];
        for f in &rec.features {
            reports[f[0] as usize] = Some(f.clone());
        }
        Replay {
            reports,
            strings: rec.strings.clone(),
            writes: Vec::new(),
        }
    }

    /// The latest bytes of report `id`, if any.
    pub fn report(&self, id: u8) -> Option<&[u8]> {
        self.reports[id as usize].as_deref()
    }

    /// Report `id` to write a field into (a simulated event): the latest
    /// bytes, padded with zeros to at least `len` (a short recorded answer,
    /// or a report never recorded, which then answers from now on).
    pub fn report_mut(&mut self, id: u8, len: usize) -> &mut Vec<u8> {
        let r = self.reports[id as usize].get_or_insert_with(|| vec![id]);
        if r.len() < len {
            r.resize(len, 0);
        }
        r
    }
}

impl Transport for Replay {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let Some(r) = &self.reports[buf[0] as usize] else {
            return Err(IoError::Skip);
        };
        let n = r.len().min(buf.len());
        buf[..n].copy_from_slice(&r[..n]);
        Ok(n)
    }

    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        self.writes.push(buf.to_vec());
        self.reports[buf[0] as usize] = Some(buf.to_vec());
        Ok(())
    }

    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        match self.strings.iter().find(|s| s.0 == index) {
            Some((_, s)) => {
                out.clear();
                out.push_str(s).is_ok()
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_or_a_binary_is_refused_quickly_and_clearly() {
        // Endless zeros: read up to the bound, refused by size.
        let t = std::time::Instant::now();
        let e = Recording::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero: larger than 4 MiB: not a recording (a device or a log?)"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(
            check_text(&vec![b'0'; MAX_LINE + 1]),
            Err((1, "line longer than 64 KiB: not a recording".into()))
        );
        assert_eq!(
            check_text(format!("a\n{}\n", "0".repeat(MAX_LINE)).as_bytes()),
            Ok(())
        );
        assert_eq!(
            check_text(b"vendorid 051d\nproduct \"a\0\"\n"),
            Err((2, "NUL byte: not a recording (binary data?)".into()))
        );
        let dir = std::env::temp_dir().join(format!("hidupsd-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.txt");
        std::fs::write(&big, vec![b'\n'; MAX_FILE as usize + 1]).unwrap();
        assert!(Recording::load(&big)
            .unwrap_err()
            .to_string()
            .ends_with("larger than 4 MiB: not a recording (a device or a log?)"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_every_keyword_and_names_bad_lines() {
        let mut r = Recording::default();
        r.parse(
            "vendorid 051d\nproductid 0002\nproduct \"A # B\"\nstring 4 \"PbAc\"\n\
             descriptor 05 84 # comment\ndescriptor 09 04\nfeature 0c 0c 64\ninput 0b 0b 01\n",
        )
        .unwrap();
        assert_eq!((r.ident.vid, r.ident.pid), (0x051d, 2));
        assert_eq!(r.ident.product.as_deref(), Some("A # B"));
        assert_eq!(r.descriptor, [0x05, 0x84, 0x09, 0x04]);
        assert_eq!(r.features, [vec![0x0c, 0x64]]);
        assert_eq!(r.inputs, [vec![0x0b, 0x01]]);
        assert_eq!(r.strings, [(4, "PbAc".to_string())]);
        let bad = |t: &str| Recording::default().parse(t).unwrap_err();
        assert_eq!(bad("\nfeature 0c 0d 64").0, 2);
        assert!(bad("bogus 1").1.contains("unknown keyword 'bogus'"));
        assert!(bad("descriptor 05 zz").1.contains("'zz'"));
        assert!(bad("vendorid xyz").1.contains("vendorid"));
    }

    #[test]
    fn parses_script_lines() {
        let mut r = Recording::default();
        r.parse(
            "at 1.5 set UPS.PowerSummary.RemainingCapacity 80\n\
             at 0 powercut # the mains fail\nat 10 lowbatt\nat 12.25 powerback\n",
        )
        .unwrap();
        let acts: Vec<(u64, &Act, usize)> =
            r.script.iter().map(|e| (e.at_ms, &e.act, e.line)).collect();
        let set = Act::Set {
            path: "UPS.PowerSummary.RemainingCapacity".into(),
            value: 80.0,
        };
        assert_eq!(
            acts,
            [
                (1500, &set, 1),
                (0, &Act::PowerCut, 2),
                (10_000, &Act::LowBatt, 3),
                (12_250, &Act::PowerBack, 4)
            ]
        );
        let bad = |t: &str| Recording::default().parse(t).unwrap_err().1;
        assert!(bad("at 1 flood").contains("unknown event 'flood'"));
        assert!(bad("at -1 powercut").contains("'-1'"));
        assert!(bad("at x powercut").contains("'x'"));
        assert!(bad("at 1 set A.B").contains("set PATH VALUE"));
        assert!(bad("at 1 set A.B high").contains("'high' is not a number"));
        assert!(bad("at 1 powercut now").contains("takes no arguments"));
        assert!(bad("at 1 lowbatt a b c").contains("takes no arguments"));
        assert_eq!(bad("descriptor 05 0x123"), "'123' is not a hex byte");
        assert_eq!(bad("descriptor 05 zz"), "'zz' is not a hex byte");
        assert_eq!(bad("feature 01 01 +1 0x"), "'' is not a hex byte");
        assert_eq!(
            bad("at 1 set A.B 1 2"),
            "expected 'at SECONDS set PATH VALUE'"
        );
        assert_eq!(
            bad("at 1"),
            "expected 'at SECONDS set PATH VALUE' or 'at SECONDS powercut|powerback|lowbatt'"
        );
    }

    #[test]
    fn a_script_file_holds_only_at_lines_and_names_itself() {
        let p = std::env::temp_dir().join(format!("hidupsd-script-{}", std::process::id()));
        std::fs::write(&p, "# cut\nat 2 powercut\n").unwrap();
        let mut r = Recording::default();
        r.load_script(&p).unwrap();
        assert_eq!(
            (r.script[0].file.as_path(), r.script[0].line),
            (p.as_path(), 2)
        );
        std::fs::write(&p, "at 2 powercut\nfeature 01 01 00\n").unwrap();
        let e = Recording::default().load_script(&p).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("only 'at' lines"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }
}
