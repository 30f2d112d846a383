//! Report descriptor parser: bytes in, a fixed table of [`Field`]s out.
//!
//! It follows the HID 1.11 item rules, with NUT's readings where real UPS
//! descriptors depend on them (see `docs/differences.md`):
//! - a Logical Maximum that reads below the current Logical Minimum is
//!   taken as unsigned (`15 00 25 FF` means 0..255), and the field is
//!   flagged `logmax_assumed`;
//! - fields of a main item beyond its listed usages are padding (NUT does
//!   not repeat the last usage; APC's leaked Report Count relies on that);
//! - a vendor-defined collection type (0x80..0xFF) adds an index node
//!   `[n]` to the path, as NUT writes `UPS.Flow.[4].ConfigApparentPower`.
//!
//! Unlike NUT it implements Push/Pop, Usage Minimum/Maximum, descriptors
//! without Report IDs, and reports longer than 32 bytes.
//!
//! Read first: `docs/design/hid-decoding.md` §1.

use super::item::{Item, ItemType, Items};
use super::{Error, Limit, ReportType};

/// Largest descriptor accepted: the kernel's `HID_MAX_DESCRIPTOR_SIZE`.
pub const MAX_DESCRIPTOR: usize = 4096;
/// Most stored fields per descriptor (NUT: 500).
pub const MAX_FIELDS: usize = 1024;
/// Deepest usage path, counting index nodes.
pub const MAX_DEPTH: usize = 16;
/// Most local usage items (single usages or ranges) before a main item.
pub const MAX_LOCAL_USAGES: usize = 64;
/// Most Push levels.
pub const MAX_PUSH: usize = 8;
/// Longest report, in bytes after the report id.
pub const MAX_REPORT_LEN: usize = 4096;
/// Most application collections remembered.
pub const MAX_APPLICATIONS: usize = 8;

/// Node code NUT uses for the index of a vendor-defined collection type.
pub const INDEX_NODE: u32 = 0x00FF_0000;

/// A usage path: collection usages from the outside in, then the field's
/// own usage. Each node is `page << 16 | id`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Path {
    nodes: [u32; MAX_DEPTH],
    len: u8,
}

impl Path {
    pub const fn new() -> Self {
        Path {
            nodes: [0; MAX_DEPTH],
            len: 0,
        }
    }

    pub fn nodes(&self) -> &[u32] {
        &self.nodes[..self.len as usize]
    }

    pub fn push(&mut self, node: u32) -> Result<(), Error> {
        if self.len as usize == MAX_DEPTH {
            return Err(Error::Limit(Limit::PathDepth));
        }
        self.nodes[self.len as usize] = node;
        self.len += 1;
        Ok(())
    }

    /// Remove and return the last node.
    pub fn pop(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.nodes[self.len as usize])
    }

    /// The field's own usage.
    pub fn last(&self) -> Option<u32> {
        self.nodes().last().copied()
    }

    /// True when `prefix` is a prefix of this path (NUT's lookup rule).
    pub fn starts_with(&self, prefix: &[u32]) -> bool {
        self.nodes().starts_with(prefix)
    }
}

impl Default for Path {
    fn default() -> Self {
        Path::new()
    }
}

impl core::fmt::Debug for Path {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, n) in self.nodes().iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n:08x}")?;
        }
        Ok(())
    }
}

/// One data field (one control of a main item) with everything needed to
/// read and write it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub report_id: u8,
    pub kind: ReportType,
    /// Bit offset from the first data byte (the byte after the report id).
    pub bit_offset: u32,
    pub bit_size: u32,
    /// Main item data (Constant, Variable, Relative, ... bits).
    pub flags: u32,
    pub logical_min: i64,
    pub logical_max: i64,
    pub physical_min: i64,
    pub physical_max: i64,
    /// Both Physical Minimum and Maximum were given (at some point: they
    /// are global state, so they carry over to later fields).
    pub have_physical: bool,
    pub unit: u32,
    pub unit_exp: i8,
    /// The Logical Maximum in force was read as unsigned because its signed
    /// reading was below the Logical Minimum.
    pub logmax_assumed: bool,
    pub path: Path,
    /// Byte offset of the main item in the descriptor (for messages).
    pub item_offset: u32,
}

impl Field {
    /// Constant (padding-like) field.
    pub fn is_constant(&self) -> bool {
        self.flags & 1 != 0
    }
    /// Variable (as opposed to Array) field.
    pub fn is_variable(&self) -> bool {
        self.flags & 2 != 0
    }
}

#[derive(Clone, Copy, Default)]
struct Globals {
    usage_page: u16,
    report_id: u8,
    report_size: u32,
    report_count: u32,
    logical_min: i64,
    logical_max: i64,
    logmax_assumed: bool,
    physical_min: i64,
    physical_max: i64,
    have_phy_min: bool,
    have_phy_max: bool,
    unit: u32,
    unit_exp: i8,
}

#[derive(Clone, Copy)]
enum LocalUsage {
    One(u32),
    Range(u32, u32),
}

struct Locals {
    usages: [LocalUsage; MAX_LOCAL_USAGES],
    len: usize,
    pending_min: Option<u32>,
}

impl Locals {
    fn new() -> Self {
        Locals {
            usages: [LocalUsage::One(0); MAX_LOCAL_USAGES],
            len: 0,
            pending_min: None,
        }
    }
    fn clear(&mut self) {
        self.len = 0;
        self.pending_min = None;
    }
    fn push(&mut self, u: LocalUsage) -> Result<(), Error> {
        if self.len == MAX_LOCAL_USAGES {
            return Err(Error::Limit(Limit::LocalUsages));
        }
        self.usages[self.len] = u;
        self.len += 1;
        Ok(())
    }
    /// The n-th usage, counting ranges element by element.
    fn nth(&self, n: u32) -> Option<u32> {
        let mut n = n;
        for u in &self.usages[..self.len] {
            match *u {
                LocalUsage::One(v) => {
                    if n == 0 {
                        return Some(v);
                    }
                    n -= 1;
                }
                LocalUsage::Range(lo, hi) => {
                    // 2^32 usages for 0..=0xFFFFFFFF: counted in u64.
                    let count = u64::from(hi.saturating_sub(lo)) + 1;
                    if u64::from(n) < count {
                        return Some(lo + n);
                    }
                    // n >= count here, so count fits a u32.
                    n -= count as u32;
                }
            }
        }
        None
    }
}

/// A parsed report descriptor.
#[derive(Debug, Clone)]
pub struct Descriptor {
    fields: Vec<Field>,
    /// Usages of the top-level application collections.
    applications: [u32; MAX_APPLICATIONS],
    n_applications: u8,
    /// Report ID items were present (reports carry an id byte).
    pub uses_report_ids: bool,
    /// Longest report per (id, kind), in data bytes after the id byte.
    lengths: [[u16; 3]; 256],
    /// Number of items read.
    pub items: u32,
}

impl Descriptor {
    /// Parse a descriptor. Fails on truncated items, unbalanced
    /// collections, exceeded limits, or a descriptor without fields.
    pub fn parse(bytes: &[u8]) -> Result<Descriptor, Error> {
        if bytes.len() > MAX_DESCRIPTOR {
            return Err(Error::Limit(Limit::DescriptorSize));
        }
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let mut p = Parser {
            g: Globals::default(),
            stack: [Globals::default(); MAX_PUSH],
            depth: 0,
            locals: Locals::new(),
            path: Path::new(),
            index_nodes: 0,
            bits: [[0; 3]; 256],
            d: Descriptor {
                fields: Vec::new(),
                applications: [0; MAX_APPLICATIONS],
                n_applications: 0,
                uses_report_ids: false,
                lengths: [[0; 3]; 256],
                items: 0,
            },
        };
        for item in Items::new(bytes) {
            p.item(item?)?;
            p.d.items += 1;
        }
        if p.path.len != 0 {
            return Err(Error::UnclosedCollection);
        }
        if p.d.fields.is_empty() {
            return Err(Error::NoFields);
        }
        p.d.fields.shrink_to_fit();
        Ok(p.d)
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Mutable access for descriptor fix-ups of known-broken devices.
    pub fn fields_mut(&mut self) -> &mut [Field] {
        &mut self.fields
    }

    /// Usages of the top-level application collections.
    pub fn applications(&self) -> &[u32] {
        &self.applications[..self.n_applications as usize]
    }

    /// True when an application collection is on the Power Device (0x84)
    /// or Battery System (0x85) page.
    pub fn is_power_device(&self) -> bool {
        self.applications()
            .iter()
            .any(|&u| matches!(u >> 16, 0x84 | 0x85))
    }

    /// Data bytes (after the id byte) of report `id` of one kind.
    pub fn report_len(&self, id: u8, kind: ReportType) -> usize {
        self.lengths[id as usize][kind as usize] as usize
    }

    /// NUT's buffer length for report `id`: the longest of its kinds.
    pub fn report_len_any(&self, id: u8) -> usize {
        self.lengths[id as usize].iter().copied().max().unwrap_or(0) as usize
    }

    /// Report ids that have at least one field of `kind`, ascending.
    /// A list, not an iterator: its callers want one, and collecting a
    /// filtered range is a long piece of code for a short, cold list.
    pub fn report_ids(&self, kind: ReportType) -> Vec<u8> {
        let mut ids = Vec::new();
        for id in 0..=255u8 {
            if self.lengths[id as usize][kind as usize] > 0 {
                ids.push(id);
            }
        }
        ids
    }

    /// First field in descriptor order of `kind` whose path starts with
    /// `prefix` (NUT's rule: a shorter query matches the first deeper field).
    pub fn find(&self, kind: ReportType, prefix: &[u32]) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.kind == kind && f.path.starts_with(prefix))
    }

    /// First field of any kind with this report id and own usage.
    pub fn find_id_usage(&self, id: u8, usage: u32) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.report_id == id && f.path.last() == Some(usage))
    }
}

struct Parser {
    g: Globals,
    stack: [Globals; MAX_PUSH],
    depth: usize,
    locals: Locals,
    path: Path,
    /// Bit i set: path node i is an index node (pops with its collection).
    index_nodes: u32,
    /// Running bit offset per (report id, kind).
    bits: [[u32; 3]; 256],
    d: Descriptor,
}

impl Parser {
    fn item(&mut self, it: Item<'_>) -> Result<(), Error> {
        if it.is_long() {
            return Ok(()); // No long item is defined for report descriptors.
        }
        let bad = |what| Error::BadItem {
            offset: it.offset,
            what,
        };
        match (it.kind(), it.tag) {
            (ItemType::Global, 0x04) => self.g.usage_page = it.unsigned() as u16,
            (ItemType::Global, 0x14) => self.g.logical_min = it.signed() as i64,
            (ItemType::Global, 0x24) => {
                let v = it.signed() as i64;
                // Many UPSes write `25 FF` meaning 255: read unsigned when
                // the signed reading is below the current minimum.
                if v < self.g.logical_min {
                    self.g.logical_max = it.unsigned() as i64;
                    self.g.logmax_assumed = true;
                } else {
                    self.g.logical_max = v;
                    self.g.logmax_assumed = false;
                }
            }
            (ItemType::Global, 0x34) => {
                self.g.physical_min = it.signed() as i64;
                self.g.have_phy_min = true;
            }
            (ItemType::Global, 0x44) => {
                self.g.physical_max = it.signed() as i64;
                self.g.have_phy_max = true;
            }
            (ItemType::Global, 0x54) => {
                let v = it.unsigned() as u8 as i8;
                // A 4-bit nibble (HID 1.11 §6.2.2.7): 8..15 are -8..-1.
                self.g.unit_exp = if (8..=15).contains(&v) {
                    (v as u8 | 0xF0) as i8
                } else {
                    v
                };
            }
            (ItemType::Global, 0x64) => self.g.unit = it.unsigned(),
            (ItemType::Global, 0x74) => self.g.report_size = it.unsigned(),
            (ItemType::Global, 0x84) => {
                self.g.report_id =
                    u8::try_from(it.unsigned()).map_err(|_| bad("Report ID above 255"))?;
                self.d.uses_report_ids = true;
            }
            (ItemType::Global, 0x94) => self.g.report_count = it.unsigned(),
            (ItemType::Global, 0xA4) => {
                if self.depth == MAX_PUSH {
                    return Err(Error::Limit(Limit::PushDepth));
                }
                self.stack[self.depth] = self.g;
                self.depth += 1;
            }
            (ItemType::Global, 0xB4) => {
                if self.depth == 0 {
                    return Err(bad("Pop without Push"));
                }
                self.depth -= 1;
                self.g = self.stack[self.depth];
            }
            (ItemType::Local, 0x08) => {
                let u = self.usage(&it);
                self.locals.push(LocalUsage::One(u))?;
            }
            (ItemType::Local, 0x18) => self.locals.pending_min = Some(self.usage(&it)),
            (ItemType::Local, 0x28) => {
                let hi = self.usage(&it);
                let lo = self
                    .locals
                    .pending_min
                    .take()
                    .ok_or(bad("Usage Maximum without Usage Minimum"))?;
                if hi < lo {
                    return Err(bad("Usage Maximum below Usage Minimum"));
                }
                self.locals.push(LocalUsage::Range(lo, hi))?;
            }
            (ItemType::Local, _) => {} // Designators, strings, delimiters: no effect on data.
            (ItemType::Main, 0xA0) => {
                let ty = it.unsigned() as u8;
                let usage = self.locals.nth(0).unwrap_or(0);
                if ty == 1 && self.path.len == 0 {
                    if self.d.n_applications as usize == MAX_APPLICATIONS {
                        return Err(Error::Limit(Limit::Applications));
                    }
                    self.d.applications[self.d.n_applications as usize] = usage;
                    self.d.n_applications += 1;
                }
                self.path.push(usage)?;
                if ty >= 0x80 {
                    self.index_nodes |= 1 << self.path.len;
                    self.path.push(INDEX_NODE | (ty & 0x7F) as u32)?;
                }
                self.locals.clear();
            }
            (ItemType::Main, 0xC0) => {
                if self.path.pop().is_none() {
                    return Err(bad("End Collection without Collection"));
                }
                let top = self.path.len;
                if self.index_nodes & (1 << top) != 0 {
                    self.index_nodes &= !(1 << top);
                    self.path.pop();
                }
                self.locals.clear();
            }
            (ItemType::Main, 0x80) => self.main(ReportType::Input, &it)?,
            (ItemType::Main, 0x90) => self.main(ReportType::Output, &it)?,
            (ItemType::Main, 0xB0) => self.main(ReportType::Feature, &it)?,
            (ItemType::Main, _) | (ItemType::Global, _) | (ItemType::Reserved, _) => {
                return Err(bad("unknown item tag"));
            }
        }
        Ok(())
    }

    fn usage(&self, it: &Item<'_>) -> u32 {
        // A 4-byte usage carries its own page (extended usage).
        if it.data.len() == 4 {
            it.unsigned()
        } else {
            (self.g.usage_page as u32) << 16 | (it.unsigned() & 0xFFFF)
        }
    }

    fn main(&mut self, kind: ReportType, it: &Item<'_>) -> Result<(), Error> {
        let g = self.g;
        let id = g.report_id as usize;
        let k = kind as usize;
        let size = g.report_size;
        let total = (size as u64) * (g.report_count as u64);
        let start = self.bits[id][k] as u64;
        let end = start + total;
        if end > (MAX_REPORT_LEN as u64) * 8 {
            return Err(Error::ReportTooLong {
                id: g.report_id,
                kind,
            });
        }
        for i in 0..g.report_count {
            let usage = match self.locals.nth(i) {
                Some(u) if u != 0 => u,
                Some(_) => continue,
                // Beyond the listed usages all is padding, as NUT reads it
                // (and a huge Report Count of 0-bit fields costs nothing).
                None => break,
            };
            if self.d.fields.len() == MAX_FIELDS {
                return Err(Error::Limit(Limit::Fields));
            }
            let mut path = self.path;
            path.push(usage)?;
            self.d.fields.push(Field {
                report_id: g.report_id,
                kind,
                bit_offset: (start + (i as u64) * size as u64) as u32,
                bit_size: size,
                flags: it.unsigned(),
                logical_min: g.logical_min,
                logical_max: g.logical_max,
                physical_min: g.physical_min,
                physical_max: g.physical_max,
                have_physical: g.have_phy_min && g.have_phy_max,
                unit: g.unit,
                unit_exp: g.unit_exp,
                logmax_assumed: g.logmax_assumed,
                path,
                item_offset: it.offset as u32,
            });
        }
        self.bits[id][k] = end as u32;
        let bytes = end.div_ceil(8) as u16;
        let len = &mut self.d.lengths[id][k];
        *len = (*len).max(bytes);
        self.locals.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPS: u32 = 0x0084_0004;
    const PS: u32 = 0x0084_0024;
    const REMCAP: u32 = 0x0085_0066;

    #[test]
    fn minimal_power_device() {
        // UPS { PowerSummary { id 12: RemainingCapacity 8 bit, 0..255 via 25 FF } }
        let d = [
            0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, 0x09, 0x24, 0xA1, 0x00, 0x85, 0x0C, 0x05, 0x85,
            0x09, 0x66, 0x75, 0x08, 0x95, 0x01, 0x15, 0x00, 0x25, 0xFF, 0xB1, 0x02, 0xC0, 0xC0,
        ];
        let desc = Descriptor::parse(&d).unwrap();
        assert!(desc.is_power_device());
        assert!(desc.uses_report_ids);
        let f = &desc.fields()[0];
        assert_eq!(f.path.nodes(), &[UPS, PS, REMCAP]);
        assert_eq!(
            (f.report_id, f.kind, f.bit_offset, f.bit_size),
            (12, ReportType::Feature, 0, 8)
        );
        assert_eq!(
            (f.logical_min, f.logical_max, f.logmax_assumed),
            (0, 255, true)
        );
        assert_eq!(desc.report_len(12, ReportType::Feature), 1);
        assert_eq!(desc.find(ReportType::Feature, &[UPS, PS]), Some(0));
        assert_eq!(desc.find(ReportType::Input, &[UPS, PS]), None);
    }

    #[test]
    fn push_pop_usage_ranges_and_vendor_index_nodes() {
        let d = [
            0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, // UPS application
            0x09, 0x1E, 0xA1, 0x84, // Flow, vendor collection type 0x84 -> [4]
            0x85, 0x01, 0x75, 0x04, 0x95, 0x03, 0x15, 0x00, 0x25, 0x0F, // id 1, 3 x 4 bit
            0xA4, // Push
            0x75, 0x10, // size 16 (lost at Pop)
            0xB4, // Pop
            0x19, 0x30, 0x29, 0x31, // Usage Min 0x30, Max 0x31 (Voltage, Current)
            0x81, 0x02, // Input: two named fields + one padding
            0xC0, 0x09, 0x30, 0x81, 0x02, 0xC0, // Voltage directly under UPS, 3 more fields
        ];
        let desc = Descriptor::parse(&d).unwrap();
        let f = desc.fields();
        assert_eq!(f.len(), 2 + 1);
        assert_eq!(
            f[0].path.nodes(),
            &[UPS, 0x0084_001E, INDEX_NODE | 4, 0x0084_0030]
        );
        assert_eq!(
            f[1].path.nodes(),
            &[UPS, 0x0084_001E, INDEX_NODE | 4, 0x0084_0031]
        );
        assert_eq!((f[0].bit_size, f[1].bit_offset), (4, 4));
        // The index node popped with its collection.
        assert_eq!(f[2].path.nodes(), &[UPS, 0x0084_0030]);
        assert_eq!(f[2].bit_offset, 12);
        assert_eq!(desc.report_len(1, ReportType::Input), 3);
    }

    #[test]
    fn no_report_ids_and_long_reports() {
        // 40 bytes of 8-bit fields without a Report ID: offsets keep counting.
        let mut d = vec![
            0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, 0x75, 0x08, 0x95, 0x27, 0xB1, 0x03,
        ];
        d.extend_from_slice(&[0x09, 0x30, 0x95, 0x01, 0xB1, 0x02, 0xC0]);
        let desc = Descriptor::parse(&d).unwrap();
        assert!(!desc.uses_report_ids);
        assert_eq!(desc.fields()[0].bit_offset, 39 * 8);
        assert_eq!(desc.report_len(0, ReportType::Feature), 40);
    }

    #[test]
    fn a_huge_count_of_empty_fields_is_quick() {
        // Found by fuzzing: Report Size 0, Report Count 0x97979797.
        let d = [
            0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, 0x09, 0x30, 0x75, 0x00, 0x97, 0x97, 0x97, 0x97,
            0x97, 0xB1, 0x02, 0xC0,
        ];
        let desc = Descriptor::parse(&d).unwrap();
        assert_eq!(desc.fields().len(), 1);
    }

    #[test]
    fn main_items_with_two_data_bytes_parse_like_one() {
        // KSTAR writes Feature as `b2 83 00`: 2 data bytes on a 1-byte field.
        let d = [
            0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, 0x85, 0x02, 0x09, 0x30, 0x75, 0x10, 0x95, 0x01,
            0xB2, 0x83, 0x00, 0xC0,
        ];
        let desc = Descriptor::parse(&d).unwrap();
        let f = &desc.fields()[0];
        assert_eq!(
            (f.kind, f.flags & 0xFF, f.bit_size),
            (ReportType::Feature, 0x83, 16)
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(Descriptor::parse(&[]).unwrap_err(), Error::Empty);
        assert_eq!(
            Descriptor::parse(&[0x05, 0x84, 0xA1, 0x01]).unwrap_err(),
            Error::UnclosedCollection
        );
        assert_eq!(
            Descriptor::parse(&[0xC0]).unwrap_err(),
            Error::BadItem {
                offset: 0,
                what: "End Collection without Collection"
            }
        );
        assert_eq!(
            Descriptor::parse(&[0xB4]).unwrap_err(),
            Error::BadItem {
                offset: 0,
                what: "Pop without Push"
            }
        );
        assert_eq!(
            Descriptor::parse(&[0x05, 0x84]).unwrap_err(),
            Error::NoFields
        );
        // 200 Push items exceed the stack.
        assert_eq!(
            Descriptor::parse(&[0xA4; 200]).unwrap_err(),
            Error::Limit(Limit::PushDepth)
        );
        // A report of 65535 x 32 bits.
        let d = [
            0x85, 0x01, 0x75, 0x20, 0x96, 0xFF, 0xFF, 0x09, 0x30, 0xB1, 0x02,
        ];
        assert_eq!(
            Descriptor::parse(&d).unwrap_err(),
            Error::ReportTooLong {
                id: 1,
                kind: ReportType::Feature
            }
        );
        // 2000 fields with usages.
        let mut d = vec![
            0x05, 0x84, 0x19, 0x00, 0x2A, 0xFF, 0x0F, 0x75, 0x01, 0x96, 0xD0, 0x07, 0xB1, 0x02,
        ];
        d.push(0xC0);
        assert_eq!(
            Descriptor::parse(&d[..14]).unwrap_err(),
            Error::Limit(Limit::Fields)
        );
    }
}
