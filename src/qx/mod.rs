//! Megatec/Q1 UPSes: the cheap units that are not HID Power Devices but
//! speak one of the Megatec "Q1" family of ASCII protocols through a USB
//! bridge chip, served as NUT's `nutdrv_qx` serves them.
//!
//! - [`table`] and [`tables`]: the protocols as data (generated from
//!   `tools/data/qx/` by `tools/import-qx-tables.py`);
//! - [`engine`]: pure: one unit ([`Qx`]) reached through a [`link::Link`],
//!   its state and set-up; the work is split by responsibility:
//!   [`poll`] (probing, polling, status), [`item`] (one table item read
//!   into a NUT value), [`battery`] (charge and runtime estimates),
//!   [`command`] (instant commands, writable variables, killpower), with
//!   [`answer`] (answer parsing and conversions) and [`error`] beneath;
//! - [`bridge`]: pure framing of each USB bridge's transfers over what
//!   hidraw offers (output and input reports, feature reports, string
//!   descriptors), behind a small [`bridge::Wire`] the shell implements;
//! - [`usbid`]: which bridge a USB device is, by NUT's match table.
//!
//! Nothing here touches a file descriptor or the clock: the caller passes
//! the time and the I/O.

pub mod answer;
pub mod battery;
pub mod bridge;
pub mod command;
pub mod engine;
pub mod error;
pub mod item;
pub mod link;
pub mod poll;
pub mod replay;
pub mod table;
pub mod tables;
pub mod usbid;

pub use engine::{Qx, QxOptions};
pub use error::QxError;
pub use link::{Link, LinkError};
pub use table::{Bridge, Protocol};
