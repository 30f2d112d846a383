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

/// A lookup table's rows (value, text): where a variable's enumerated
/// values come from (`ENUM` answers).
pub type EnumRows = &'static [(i64, &'static str)];

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

#[derive(Debug)]
pub struct Store {
    vars: Vec<Var>,
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

    fn find(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v.name.as_str() == name)
    }

    /// Publish `value` under `name`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<Change, StoreError> {
        let text = Text::try_new(value).ok_or(StoreError::TooLong)?;
        if let Some(i) = self.find(name) {
            let v = &mut self.vars[i];
            if v.value == text {
                return Ok(Change::Same);
            }
            v.value = text;
            self.generation += 1;
            return Ok(Change::Changed);
        }
        if self.vars.len() == MAX_VARS {
            return Err(StoreError::Full);
        }
        let name = Text::try_new(name).ok_or(StoreError::TooLong)?;
        self.vars.push(Var {
            name,
            value: text,
            flags: 0,
            len: 0,
            enums: None,
        });
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
                self.generation += 1;
                true
            }
            None => false,
        }
    }

    /// Variables in publication order.
    pub fn iter(&self) -> impl Iterator<Item = &Var> {
        self.vars.iter()
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
}
