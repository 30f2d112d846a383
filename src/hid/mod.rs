//! The HID wire layer: report descriptor bytes to a table of fields, and
//! report bytes to field values and back. No UPS or NUT knowledge lives
//! here; `crate::ups` gives the fields their meaning.
//!
//! Contract (as smoltcp's wire layer): [`Descriptor::parse`] checks a
//! descriptor once and stores fixed-capacity results; after that, reading
//! or writing a field of a report buffer never panics and never allocates.
//! Untrusted bytes always go through `parse`; report buffers are checked
//! against the field's extent on every access ([`report::get`] returns
//! `None` for a buffer too short).
//!
//! Read first: `docs/design/hid-decoding.md` §0 (report buffers), §1 and §2.

pub mod descriptor;
pub mod item;
pub mod report;

pub use descriptor::{Descriptor, Field, Path};

use core::fmt;

/// Report type of a main item. The discriminant indexes per-kind tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    Input = 0,
    Output = 1,
    Feature = 2,
}

impl ReportType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Input => "Input",
            ReportType::Output => "Output",
            ReportType::Feature => "Feature",
        }
    }
}

/// A fixed capacity that a descriptor exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    DescriptorSize,
    Fields,
    PathDepth,
    LocalUsages,
    PushDepth,
    Applications,
}

impl Limit {
    pub fn describe(self) -> &'static str {
        match self {
            Limit::DescriptorSize => "descriptor longer than 4096 bytes",
            Limit::Fields => "more than 1024 fields",
            Limit::PathDepth => "collections nested deeper than 16 levels",
            Limit::LocalUsages => "more than 64 usages before one main item",
            Limit::PushDepth => "Push nested deeper than 8 levels",
            Limit::Applications => "more than 8 application collections",
        }
    }
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    Empty,
    /// An item's data runs past the end of the descriptor.
    Truncated {
        offset: usize,
    },
    /// An item that makes no sense where it stands.
    BadItem {
        offset: usize,
        what: &'static str,
    },
    /// Collections left open at the end.
    UnclosedCollection,
    /// A report longer than `descriptor::MAX_REPORT_LEN` bytes.
    ReportTooLong {
        id: u8,
        kind: ReportType,
    },
    Limit(Limit),
    /// No data fields at all.
    NoFields,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("report descriptor is empty"),
            Error::Truncated { offset } => {
                write!(
                    f,
                    "report descriptor item at byte {offset} runs past the end"
                )
            }
            Error::BadItem { offset, what } => {
                write!(f, "report descriptor item at byte {offset}: {what}")
            }
            Error::UnclosedCollection => f.write_str("report descriptor ends inside a collection"),
            Error::ReportTooLong { id, kind } => write!(
                f,
                "report descriptor declares {} report {id:#04x} longer than {} bytes",
                kind.as_str(),
                descriptor::MAX_REPORT_LEN
            ),
            Error::Limit(l) => write!(f, "report descriptor exceeds a limit: {}", l.describe()),
            Error::NoFields => f.write_str("report descriptor declares no data fields"),
        }
    }
}

impl std::error::Error for Error {}
