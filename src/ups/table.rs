//! Types of the constant tables that carry NUT's mapping knowledge.
//!
//! Everything here is plain data: the vendor tables in `tables/` are `const`
//! slices of these types and are never mutated. What a device binds at run
//! time (which HID field an entry resolved to) lives in the engine, not here.

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

/// One row of a subdriver's mapping table: a NUT variable (or `BOOL` status
/// source, `ups.alarm` source, or instant command) bound to a HID path.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// NUT variable name, `BOOL`, `ups.alarm`, or a command name.
    pub name: &'static str,
    /// HID path as NUT writes it, resolved against the subdriver's usage
    /// tables when a device is bound (`UPS.PowerSummary.RemainingCapacity`).
    pub path: &'static str,
    /// `st::*` flags.
    pub st: u8,
    /// `hu::*` flags.
    pub hu: u8,
    /// Maximum string length for string variables (0 otherwise).
    pub len: u8,
    /// Lookup table or conversion function, if any.
    pub lookup: Option<&'static Lookup>,
    /// printf-style format for numbers, the default value of ABSENT
    /// entries, or the value a command writes (`None` for NUT's `NULL`:
    /// taken from the caller's argument).
    pub fmt: Option<&'static str>,
}

impl Entry {
    pub const fn is_cmd(&self) -> bool {
        self.hu & hu::CMD != 0
    }
    pub const fn is_absent(&self) -> bool {
        self.hu & hu::ABSENT != 0
    }
    pub fn is_bool(&self) -> bool {
        self.name == "BOOL"
    }
    pub fn is_alarm(&self) -> bool {
        self.name == "ups.alarm"
    }
}

/// A lookup table (`info_lkp_t`): either value rows, or a conversion
/// function that alone decides (`fun`), with an optional reverse (`nuf`).
/// When `fun` is set the rows only serve as enum values.
#[derive(Debug)]
pub struct Lookup {
    pub name: &'static str,
    pub fun: Option<Func>,
    pub nuf: Option<Func>,
    pub rows: &'static [(i64, &'static str)],
}

/// A usage name for path strings: `code` is `page << 16 | id`.
#[derive(Debug, Clone, Copy)]
pub struct UsageName {
    pub code: u32,
    pub name: &'static str,
}

/// One VID:PID a subdriver claims, with the claim's side effects.
#[derive(Debug, Clone, Copy)]
pub struct DeviceId {
    pub vid: u16,
    pub pid: u16,
    /// Subdriver key (`apc`, `mge`, ...).
    pub subdriver: &'static str,
    /// Free-text model hint from the source table (for the man page).
    pub models: &'static str,
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
    Other(&'static str),
}

/// String conditions on a claim (NUT's `*_claim()` special cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    None,
    /// Vendor or product string must contain the text.
    VendorOrProductContains(&'static str),
    /// Vendor string must contain the text.
    VendorContains(&'static str),
    /// Vendor contains the first text, or product contains the second.
    VendorOrProduct(&'static str, &'static str),
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
    pub map: &'static [Entry],
}
