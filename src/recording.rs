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
//! ```
//! A fixture directory holds the same lines split over its three files
//! (`descriptor.hex` holds bare hex bytes).

use crate::text::Text;
use crate::ups::engine::{Identity, IoError, Transport};
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
    words
        .split_whitespace()
        .map(|w| {
            let w = w.strip_prefix("0x").unwrap_or(w);
            if w.len() > 2 {
                return Err(format!("'{w}' is not a hex byte"));
            }
            u8::from_str_radix(w, 16).map_err(|_| format!("'{w}' is not a hex byte"))
        })
        .collect()
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

impl Recording {
    /// Read a fixture directory or a single-file recording.
    pub fn load(path: &Path) -> Result<Recording, Error> {
        let err = |file: &Path, line, msg: String| Error {
            file: file.to_path_buf(),
            line,
            msg,
        };
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| err(p, 0, e.to_string()));
        let mut rec = Recording::default();
        if path.is_dir() {
            let desc = path.join("descriptor.hex");
            for (n, line) in read(&desc)?.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("");
                rec.descriptor
                    .extend(hex_bytes(line).map_err(|m| err(&desc, n + 1, m))?);
            }
            let dev = path.join("device.txt");
            rec.parse(&read(&dev)?).map_err(|(l, m)| err(&dev, l, m))?;
            let reports = path.join("reports.txt");
            if reports.exists() {
                rec.parse(&read(&reports)?)
                    .map_err(|(l, m)| err(&reports, l, m))?;
            }
        } else {
            rec.parse(&read(path)?).map_err(|(l, m)| err(path, l, m))?;
        }
        if rec.descriptor.is_empty() {
            return Err(err(path, 0, "no report descriptor in the recording".into()));
        }
        Ok(rec)
    }

    /// Parse recording lines into `self`; errors carry the line number.
    pub fn parse(&mut self, text: &str) -> Result<(), (usize, String)> {
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
            match key {
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
}
