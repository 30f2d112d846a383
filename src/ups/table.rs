//! Types of the constant tables that carry NUT's mapping knowledge.
//!
//! Everything here is plain data: the vendor tables in `tables/` are
//! `static` slices of these types and are never mutated. Their strings are
//! two-byte indices into shared string data ([`Str`]), not pointers: NUT's
//! tables hold thousands of strings, and a `&str` costs 8 or 16 bytes plus
//! a relocation in a position-independent binary. What a device binds at run
//! time (which HID field an entry resolved to) lives in the engine, not here.
//!
//! Read first: `docs/design/hid-decoding.md` §10 (how the tables are generated and stored).

use super::func::Func;

pub use crate::store::st;

/// usbhid-ups driver flags (`HU_FLAG_*` and `HU_TYPE_CMD`).
pub mod hu {
    /// Read once at start (and when the interrupt pipe is off).
    pub const STATIC: u8 = 2;
    /// Read at start and after a write (or when the interrupt pipe is off).
    pub const SEMI_STATIC: u8 = 4;
    /// Never read: the default value is published when the path exists.
    pub const ABSENT: u8 = 8;
    /// Read on every quick poll.
    pub const QUICK_POLL: u8 = 16;
    /// The entry is an instant command, not a variable.
    pub const CMD: u8 = 64;
    /// The lookup's rows are the variable's enumerated values.
    pub const ENUM: u8 = 128;
}

/// A string of the tables: an index into the shared string data of
/// `tables/strings.rs` (one text, one offset per string) instead of a
/// pointer and a length. Two bytes, no relocation; index 0 is "no string"
/// (NUT's `NULL`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Str(u16);

/// A text kept only for documentation (device model hints, handler notes):
/// the same scheme over its own string data, which nothing in the daemon
/// reads, so the linker leaves it out of the binary.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Doc(u16);

/// Shared string data: string `i` is `text[offsets[i]..offsets[i + 1]]`.
/// Strings 1.. are sorted bytewise, which lets [`Str::of`] find one by
/// binary search at compile time; string 0 is the empty "no string".
pub struct Pool {
    pub text: &'static str,
    pub offsets: &'static [u16],
}

const fn cmp_bytes(a: &[u8], b: &[u8]) -> i32 {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] { -1 } else { 1 };
        }
        i += 1;
    }
    if a.len() == b.len() {
        0
    } else if a.len() < b.len() {
        -1
    } else {
        1
    }
}

/// `s[from..to]` in a const context (range indexing is not const).
const fn cmp_in(text: &[u8], from: usize, to: usize, want: &[u8]) -> i32 {
    let mut i = 0;
    while from + i < to && i < want.len() {
        let a = text[from + i];
        if a != want[i] {
            return if a < want[i] { -1 } else { 1 };
        }
        i += 1;
    }
    let len = to - from;
    if len == want.len() {
        0
    } else if len < want.len() {
        -1
    } else {
        1
    }
}

impl Pool {
    /// The index of `s`; compile error (when const-evaluated) if absent.
    pub const fn find(&self, s: &str) -> u16 {
        let text = self.text.as_bytes();
        let want = s.as_bytes();
        let (mut lo, mut hi) = (1, self.offsets.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let c = cmp_in(
                text,
                self.offsets[mid] as usize,
                self.offsets[mid + 1] as usize,
                want,
            );
            if c == 0 {
                return mid as u16;
            }
            if c < 0 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        panic!("string not in the tables' string data: run tools/import-nut-tables.py")
    }

    /// String `i` (empty for 0 or an index out of range).
    pub fn get(&self, i: u16) -> &'static str {
        let i = usize::from(i);
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.text.get(usize::from(a)..usize::from(b)).unwrap_or(""),
            _ => "",
        }
    }

    /// Whether the strings from 1 on are sorted and unique (for the tests).
    pub fn is_sorted(&self) -> bool {
        (1..self.offsets.len().saturating_sub(2)).all(|i| {
            cmp_bytes(
                self.get(i as u16).as_bytes(),
                self.get(i as u16 + 1).as_bytes(),
            ) < 0
        })
    }
}

// The pools are `const` for compile-time search and `static` here, so
// that the running binary holds one copy of each.
static STRINGS: Pool = super::tables::strings::STRINGS;
static DOCS: Pool = super::tables::strings::DOCS;

impl Str {
    /// No string (NUT's `NULL`).
    pub const NONE: Str = Str(0);

    /// The table string `s`, found at compile time: a string that is not in
    /// the tables fails the build.
    pub const fn of(s: &str) -> Str {
        Str(super::tables::strings::STRINGS.find(s))
    }

    /// The text ("" for [`Str::NONE`]).
    pub fn get(self) -> &'static str {
        STRINGS.get(self.0)
    }

    /// `None` for [`Str::NONE`], else the text.
    pub fn opt(self) -> Option<&'static str> {
        (self.0 != 0).then(|| self.get())
    }
}

impl core::fmt::Debug for Str {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.opt(), f)
    }
}

impl core::fmt::Display for Str {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.get())
    }
}

impl Doc {
    /// No text.
    pub const NONE: Doc = Doc(0);

    /// The documentation text `s`, found at compile time.
    pub const fn of(s: &str) -> Doc {
        Doc(super::tables::strings::DOCS.find(s))
    }

    pub fn get(self) -> &'static str {
        DOCS.get(self.0)
    }
}

impl core::fmt::Display for Doc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.get())
    }
}

impl core::fmt::Debug for Doc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.get(), f)
    }
}

/// One row of a subdriver's mapping table: a NUT variable (or `BOOL` status
/// source, `ups.alarm` source, or instant command) bound to a HID path.
/// Ten bytes: strings and the lookup are small indices.
#[derive(Debug, Clone, Copy)]
pub struct MapEntry {
    /// NUT variable name, `BOOL`, `ups.alarm`, or a command name.
    pub name: Str,
    /// HID path as NUT writes it, resolved against the subdriver's usage
    /// tables when a device is bound (`UPS.PowerSummary.RemainingCapacity`).
    pub path: Str,
    /// printf-style format for numbers, the default value of ABSENT
    /// entries, or the value a command writes ([`Str::NONE`] for NUT's
    /// `NULL`: taken from the caller's argument).
    pub fmt: Str,
    /// `st::*` flags.
    pub st: u8,
    /// `hu::*` flags.
    pub hu: u8,
    /// Maximum string length for string variables (0 otherwise).
    pub len: u8,
    /// Lookup table or conversion function, if any.
    pub lookup: LookupId,
}

impl MapEntry {
    pub const fn is_cmd(&self) -> bool {
        self.hu & hu::CMD != 0
    }
    pub const fn is_absent(&self) -> bool {
        self.hu & hu::ABSENT != 0
    }
    pub fn name(&self) -> &'static str {
        self.name.get()
    }
    pub fn path(&self) -> &'static str {
        self.path.get()
    }
    pub fn fmt(&self) -> Option<&'static str> {
        self.fmt.opt()
    }
    pub fn lookup(&self) -> Option<&'static Lookup> {
        self.lookup.get()
    }
    pub fn is_bool(&self) -> bool {
        const BOOL: Str = Str::of("BOOL");
        self.name == BOOL
    }
    pub fn is_alarm(&self) -> bool {
        const ALARM: Str = Str::of("ups.alarm");
        self.name == ALARM
    }
}

/// Which lookup table of `tables::lookups::ALL` an entry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupId(pub u8);

impl LookupId {
    /// No lookup: the entry's `fmt` formats the value.
    pub const NONE: LookupId = LookupId(u8::MAX);

    pub fn get(self) -> Option<&'static Lookup> {
        super::tables::lookups::ALL.get(usize::from(self.0))
    }
}

/// A lookup table (`info_lkp_t`): either value rows, or a conversion
/// function that alone decides (`fun`), with an optional reverse (`nuf`).
/// When `fun` is set the rows only serve as enum values.
#[derive(Debug)]
pub struct Lookup {
    /// NUT's name of the table (for the tests and documentation).
    pub name: Doc,
    pub fun: Option<Func>,
    pub nuf: Option<Func>,
    pub rows: &'static [(i32, Str)],
}

/// A lookup table's texts are a variable's enumerated values.
impl crate::store::EnumValues for Lookup {
    fn count(&self) -> usize {
        self.rows.len()
    }
    fn text(&self, i: usize) -> &'static str {
        self.rows.get(i).map_or("", |r| r.1.get())
    }
}

/// A usage name for path strings: `code` is `page << 16 | id`.
#[derive(Debug, Clone, Copy)]
pub struct UsageName {
    pub code: u32,
    pub name: Str,
}

/// One VID:PID a subdriver claims, with the claim's side effects.
#[derive(Debug, Clone, Copy)]
pub struct DeviceId {
    pub vid: u16,
    pub pid: u16,
    /// Subdriver key (`apc`, `mge`, ...).
    pub subdriver: Str,
    /// Free-text model hint from the source table (for the man page).
    pub models: Doc,
    /// Match handler side effect.
    pub handler: Handler,
    /// Extra claim condition on the USB strings, if any.
    pub gate: Gate,
}

/// Side effects NUT's match handlers have on the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    None,
    /// APC: `maxreport` for products starting with 'Back-UPS ES 525' or 'Back-UPS CS'.
    ApcGeneral,
    /// Interrupt pipe unusable: poll only.
    DisableInterruptPipe,
    /// Device sends its data only through interrupt reports.
    InterruptOnly,
    /// Other handler described by text (kept for documentation).
    Other(Doc),
}

/// String conditions on a claim (NUT's `*_claim()` special cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    None,
    /// Vendor or product string must contain the text.
    VendorOrProductContains(Str),
    /// Vendor string must contain the text.
    VendorContains(Str),
    /// Vendor contains the first text, or product contains the second.
    VendorOrProduct(Str, Str),
}

/// A subdriver: its usage tables (vendor first, then generic) and mapping.
#[derive(Debug)]
pub struct Subdriver {
    /// Key used in `ups.conf` (`subdriver = apc`).
    pub key: &'static str,
    /// Published as `driver.version.data`.
    pub name: &'static str,
    /// Usage-name tables in lookup order.
    pub usages: &'static [&'static [UsageName]],
    /// Mapping table in NUT's order.
    pub map: &'static [MapEntry],
}
