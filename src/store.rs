//! The variable store of one UPS: NUT variable names, values and the
//! metadata clients ask for (flags, string length, enumerated values).
//!
//! Capacity is fixed when the store is made; a set beyond it is a typed
//! error. Values are inline [`Text`]s, so updates never allocate. The store
//! knows nothing of HID; the engine fills it and the protocol reads it.

use crate::text::Text;

/// NUT state flags (`ST_FLAG_*`), as published to clients. The store owns
/// their meaning; `ups::table` re-exports them for the mapping tables.
pub mod st {
    /// The variable is writable (`SET VAR`).
    pub const RW: u8 = 1;
    /// The variable is a string (its `len` is the maximum length).
    pub const STRING: u8 = 2;
    /// The variable is a number.
    pub const NUMBER: u8 = 4;
}

/// Most variables one UPS may publish (NUT devices publish 30 to 90).
pub const MAX_VARS: usize = 192;

/// Where a variable's enumerated values come from (`ENUM` answers): a
/// lookup table's texts, in table order, repeats included. A trait so that
/// the store need not know how the tables keep them (`ups::table`
/// implements it for its lookup tables).
pub trait EnumValues: Sync {
    /// How many rows.
    fn count(&self) -> usize;
    /// The text of row `i` (`i < count()`).
    fn text(&self, i: usize) -> &'static str;
}

// Here rather than as a supertrait: a `Debug` bound would put every
// implementor's `Debug` (the tables' types) into the binary's vtables.
impl core::fmt::Debug for dyn EnumValues {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries((0..self.count()).map(|i| self.text(i)))
            .finish()
    }
}

/// A variable's enumerated values.
pub type EnumRows = &'static dyn EnumValues;

/// One published variable.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: Text,
    pub value: Text,
    /// `st::*` flags.
    pub flags: u8,
    /// Maximum length for string variables.
    pub len: u8,
    /// Enumerated values come from these lookup rows, if any.
    pub enums: Option<EnumRows>,
}

/// The store was full, or a name or value did not fit a [`Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    Full,
    TooLong,
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StoreError::Full => "variable store full (192 variables)",
            StoreError::TooLong => "variable name or value longer than 128 bytes",
        })
    }
}

/// What a `set` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Changed,
    Same,
}

/// Slots of a store's name index: a power of two, over twice [`MAX_VARS`]
/// so that probe runs stay short.
const INDEX: usize = 512;
/// An empty index slot.
const NONE: u16 = u16::MAX;

#[derive(Debug)]
pub struct Store {
    vars: Vec<Var>,
    /// Positions in `vars` by case-folded name hash (open addressing), so
    /// that a client's `GET VAR` costs one hash and about one compare.
    /// Rebuilt when a variable comes or goes (values change in place).
    index: Box<[u16]>,
    /// Bumped on every change; lets readers notice updates cheaply.
    pub generation: u64,
}

impl Clone for Store {
    fn clone(&self) -> Self {
        let mut s = Store::new();
        s.clone_from(self);
        s
    }

    /// Copy into this store's own memory: a device worker publishing its
    /// store, and the loop's copy of it, allocate nothing once they hold
    /// [`MAX_VARS`] slots.
    fn clone_from(&mut self, src: &Self) {
        self.vars.clone_from(&src.vars);
        self.index.copy_from_slice(&src.index);
        self.generation = src.generation;
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// An empty store with all its capacity reserved up front.
    pub fn new() -> Self {
        Store {
            vars: Vec::with_capacity(MAX_VARS),
            index: vec![NONE; INDEX].into_boxed_slice(),
            generation: 0,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|i| self.vars[i].value.as_str())
    }

    pub fn var(&self, name: &str) -> Option<&Var> {
        self.find(name).map(|i| &self.vars[i])
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Where `name` is, or where it would go.
    fn position(&self, name: &str) -> Result<usize, usize> {
        let name = name.as_bytes();
        self.vars
            .binary_search_by(|v| cmp_names(v.name.as_bytes(), name))
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.position(name).ok()
    }

    /// The variable a client means by `name`: names are matched
    /// case-insensitively, as upsd's state tree does, byte by byte (no
    /// UTF-8 check). Of names that differ only in case, the first in
    /// [`cmp_names`] order answers.
    pub fn find_ci(&self, name: &[u8]) -> Option<&Var> {
        self.position_ci(name).map(|i| &self.vars[i])
    }

    /// Where [`Store::find_ci`]'s variable is in list order.
    pub fn position_ci(&self, name: &[u8]) -> Option<usize> {
        let mut at = hash_ci(name);
        // Never full (INDEX > MAX_VARS): every probe run ends at a NONE.
        for _ in 0..INDEX {
            let i = usize::from(*self.index.get(at)?);
            if eq_ci(self.vars.get(i)?.name.as_bytes(), name) {
                return Some(i);
            }
            at = (at + 1) % INDEX;
        }
        None
    }

    /// The variable at `pos` in list order.
    pub fn at(&self, pos: usize) -> Option<&Var> {
        self.vars.get(pos)
    }

    /// Index every variable, in list order: along a probe run the first
    /// of names equal but for case is met first.
    fn reindex(&mut self) {
        self.index.fill(NONE);
        for (pos, v) in self.vars.iter().enumerate() {
            let mut at = hash_ci(v.name.as_bytes());
            while self.index[at] != NONE {
                at = (at + 1) % INDEX;
            }
            self.index[at] = pos as u16;
        }
    }

    /// Publish `value` under `name`. A new name is put in its place in
    /// [`cmp_names`] order; a known one is updated where it is.
    pub fn set(&mut self, name: &str, value: &str) -> Result<Change, StoreError> {
        let text = Text::try_new(value).ok_or(StoreError::TooLong)?;
        let at = match self.position(name) {
            Ok(i) => {
                let v = &mut self.vars[i];
                if v.value.as_bytes() == text.as_bytes() {
                    return Ok(Change::Same);
                }
                v.value = text;
                self.generation += 1;
                return Ok(Change::Changed);
            }
            Err(at) => at,
        };
        if self.vars.len() == MAX_VARS {
            return Err(StoreError::Full);
        }
        let name = Text::try_new(name).ok_or(StoreError::TooLong)?;
        self.vars.insert(
            at,
            Var {
                name,
                value: text,
                flags: 0,
                len: 0,
                enums: None,
            },
        );
        self.reindex();
        self.generation += 1;
        Ok(Change::Added)
    }

    /// Set flags, string length and enum source of a published variable.
    pub fn set_meta(&mut self, name: &str, flags: u8, len: u8, enums: Option<EnumRows>) {
        if let Some(i) = self.find(name) {
            let v = &mut self.vars[i];
            v.flags = flags;
            v.len = len;
            if enums.is_some() {
                v.enums = enums;
            }
        }
    }

    pub fn delete(&mut self, name: &str) -> bool {
        match self.find(name) {
            Some(i) => {
                self.vars.remove(i);
                self.reindex();
                self.generation += 1;
                true
            }
            None => false,
        }
    }

    /// Variables in the order `LIST VAR` sends them ([`cmp_names`]).
    pub fn iter(&self) -> impl Iterator<Item = &Var> {
        self.vars.iter()
    }

    /// Every variable as (name, value), sorted by name as `upsc` lists
    /// them: one copy for a HID UPS's and a Megatec/Q1 unit's store.
    pub fn sorted_pairs(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .vars
            .iter()
            .map(|v| (v.name.as_str().to_string(), v.value.as_str().to_string()))
            .collect();
        crate::sort::sort_by(&mut v, |a, b| a < b);
        v
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Is this variable writable?
    pub fn is_rw(&self, name: &str) -> bool {
        self.var(name).is_some_and(|v| v.flags & st::RW != 0)
    }
}

/// `strcasecmp` order of two names, on their bytes.
pub fn cmp_ci(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    let n = a.len().min(b.len());
    let (x, y) = (&a[..n], &b[..n]);
    // Names share long prefixes (`battery.charge.`): case is folded only
    // where bytes differ.
    let mut i = 0;
    while i < n {
        if x[i] != y[i] {
            let (p, q) = (x[i].to_ascii_lowercase(), y[i].to_ascii_lowercase());
            if p != q {
                return p.cmp(&q);
            }
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// Where a name goes in the index: FNV-1a over its bytes, case folded.
fn hash_ci(name: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        // `| 0x20` folds case (and merges a few punctuation pairs, which
        // only costs a compare).
        h = (h ^ u32::from(b | 0x20)).wrapping_mul(0x0100_0193);
    }
    h as usize % INDEX
}

/// Equal names but for ASCII case.
pub fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = (a[i], b[i]);
        if x != y && !x.eq_ignore_ascii_case(&y) {
            return false;
        }
        i += 1;
    }
    true
}

/// The order variables are kept and listed in: upsd's (its state tree is
/// keyed by `strcasecmp`), with names equal but for case ordered by their
/// bytes so that the order is total.
pub fn cmp_names(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    cmp_ci(a, b).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reports_what_changed_and_overflow_is_an_error() {
        let mut s = Store::new();
        assert_eq!(s.set("battery.charge", "100"), Ok(Change::Added));
        assert_eq!(s.set("battery.charge", "100"), Ok(Change::Same));
        assert_eq!(s.set("battery.charge", "99"), Ok(Change::Changed));
        assert_eq!(s.get("battery.charge"), Some("99"));
        assert_eq!(s.generation, 2);
        for i in 1..MAX_VARS {
            s.set(&format!("v.{i}"), "x").unwrap();
        }
        assert_eq!(s.set("one.more", "x"), Err(StoreError::Full));
        assert_eq!(
            s.set("battery.charge", &"9".repeat(200)),
            Err(StoreError::TooLong)
        );
        assert!(s.delete("battery.charge"));
        assert!(!s.has("battery.charge"));
    }

    /// Kept in `LIST VAR` order from the start, whatever order the
    /// engine publishes in, and updated where they are.
    #[test]
    fn kept_in_list_order_and_updated_in_place() {
        let mut s = Store::new();
        for n in [
            "ups.status",
            "battery.charge",
            "UPS.Model",
            "ups.load",
            "battery.Charge.low",
        ] {
            s.set(n, "x").unwrap();
        }
        s.set("battery.charge.low", "y").unwrap();
        let names = |s: &Store| -> Vec<String> { s.iter().map(|v| v.name.to_string()).collect() };
        let want = [
            "battery.charge",
            "battery.Charge.low",
            "battery.charge.low",
            "ups.load",
            "UPS.Model",
            "ups.status",
        ];
        assert_eq!(names(&s), want);
        assert_eq!(s.set("ups.load", "50"), Ok(Change::Changed));
        assert_eq!(names(&s), want);
        assert_eq!(s.get("ups.load"), Some("50"));
        assert!(s.delete("UPS.Model"));
        assert_eq!(s.iter().count(), 5);
        assert!(s.iter().zip(s.iter().skip(1)).all(|(a, b)| {
            cmp_names(a.name.as_bytes(), b.name.as_bytes()) == core::cmp::Ordering::Less
        }));
    }

    /// Clients name variables in any case; exact names stay distinct for
    /// the engine.
    #[test]
    fn find_ci_matches_any_case() {
        let mut s = Store::new();
        for (n, v) in [
            ("ups.status", "OL"),
            ("battery.charge", "100"),
            ("ups.mfr", "APC"),
        ] {
            s.set(n, v).unwrap();
        }
        assert_eq!(
            s.find_ci(b"UPS.STATUS").map(|v| v.value.as_str()),
            Some("OL")
        );
        assert_eq!(
            s.find_ci(b"ups.status").map(|v| v.value.as_str()),
            Some("OL")
        );
        assert_eq!(
            s.find_ci(b"Battery.Charge").map(|v| v.value.as_str()),
            Some("100")
        );
        assert!(s.find_ci(b"ups.statu").is_none());
        assert!(s.find_ci(b"ups.statuss").is_none());
        assert!(s.find_ci(b"").is_none());
        assert!(s.find_ci(b"zzz").is_none());
        assert!(!s.has("UPS.STATUS"));
        assert_eq!(cmp_ci(b"ups.Load", b"UPS.load"), core::cmp::Ordering::Equal);
        assert_eq!(cmp_ci(b"ups", b"ups.load"), core::cmp::Ordering::Less);
        assert_eq!(cmp_ci(b"ups_", b"UPS."), core::cmp::Ordering::Greater);
    }

    /// A full store: every name is found, in any case, and none other.
    #[test]
    fn index_finds_every_name_of_a_full_store() {
        let mut s = Store::new();
        for i in 0..MAX_VARS {
            s.set(&format!("outlet.{i}.Load"), &i.to_string()).unwrap();
        }
        for i in 0..MAX_VARS {
            let v = s.find_ci(format!("OUTLET.{i}.load").as_bytes()).unwrap();
            assert_eq!(v.value.as_str(), i.to_string());
        }
        assert!(s.find_ci(b"outlet.192.load").is_none());
        for i in (0..MAX_VARS).step_by(2) {
            assert!(s.delete(&format!("outlet.{i}.Load")));
        }
        assert!(s.find_ci(b"outlet.0.load").is_none());
        assert_eq!(
            s.find_ci(b"outlet.1.load").map(|v| v.value.as_str()),
            Some("1")
        );
        let c = s.clone();
        assert_eq!(
            c.find_ci(b"outlet.191.LOAD").map(|v| v.value.as_str()),
            Some("191")
        );
    }
}
