//! NUT's path strings (`UPS.PowerSummary.RemainingCapacity`) to usage
//! codes and back, through a subdriver's usage-name tables.
//!
//! Read first: `docs/design/hid-decoding.md` §3.

use super::table::UsageName;
use crate::hid::descriptor::{Path, INDEX_NODE};
use core::fmt;

/// Code of one path token: a name from the tables (case-insensitive, first
/// table first), hex digits (`ff860024`), or an index node (`[4]`).
pub fn token_code(tok: &str, tables: &[&[UsageName]]) -> Option<u32> {
    for t in tables {
        if let Some(u) = t.iter().find(|u| u.name.get().eq_ignore_ascii_case(tok)) {
            return Some(u.code);
        }
    }
    if !tok.is_empty() && tok.len() <= 8 && tok.bytes().all(|b| b.is_ascii_hexdigit()) {
        return u32::from_str_radix(tok, 16).ok();
    }
    let inner = tok.strip_prefix('[')?.strip_suffix(']')?;
    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = inner.parse().ok()?;
    (n <= 0xFFFF).then_some(INDEX_NODE | n)
}

/// Resolve a whole path. A token that names nothing makes the whole path
/// unresolvable (NUT drops such a token silently and may then bind a
/// different field; an unbound entry is the safe reading).
pub fn resolve(path: &str, tables: &[&[UsageName]]) -> Option<Path> {
    let mut p = Path::new();
    for tok in path.split('.') {
        p.push(token_code(tok, tables)?).ok()?;
    }
    Some(p)
}

/// Displays a usage code the way NUT prints paths.
pub struct Name<'a>(pub u32, pub &'a [&'a [UsageName]]);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.0;
        for t in self.1 {
            if let Some(u) = t.iter().find(|u| u.code == code) {
                return f.write_str(u.name.get());
            }
        }
        if code & 0xFFFF_0000 == INDEX_NODE {
            write!(f, "[{}]", code & 0xFFFF)
        } else {
            write!(f, "{code:08x}")
        }
    }
}

/// Displays a whole path with dots.
pub struct PathName<'a>(pub &'a Path, pub &'a [&'a [UsageName]]);

impl fmt::Display for PathName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &n) in self.0.nodes().iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}", Name(n, self.1))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ups::tables::usages;

    #[test]
    fn names_hex_and_index_nodes() {
        let t: &[&[UsageName]] = &[usages::MGE, usages::GENERIC];
        let p = resolve("UPS.Flow.[4].ConfigApparentPower", t).unwrap();
        assert_eq!(
            p.nodes(),
            &[0x0084_0004, 0x0084_001E, 0x00FF_0004, 0x0084_0043]
        );
        assert_eq!(
            PathName(&p, t).to_string(),
            "UPS.Flow.[4].ConfigApparentPower"
        );
        let p = resolve("ups.powersummary.ff860024", t).unwrap();
        assert_eq!(p.nodes()[2], 0xFF86_0024);
        assert!(resolve("UPS.NoSuchThing", t).is_none());
        assert!(resolve("UPS.[x]", t).is_none());
    }
}
