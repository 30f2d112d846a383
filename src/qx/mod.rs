//! Megatec/Q1 UPSes: the cheap units that are not HID Power Devices but
//! speak one of the Megatec "Q1" family of ASCII protocols through a USB
//! bridge chip, served as NUT's `nutdrv_qx` serves them.
//!
//! - [`table`] and [`tables`]: the protocols as data (generated from
//!   `tools/data/qx/` by `tools/import-qx-tables.py`);
//! - [`engine`]: pure: probing, polling, status, commands, writable
//!   variables, for one unit reached through a [`engine::Link`];
//! - [`bridge`]: pure framing of each USB bridge's transfers over what
//!   hidraw offers (output and input reports, feature reports, string
//!   descriptors), behind a small [`bridge::Wire`] the shell implements;
//! - [`usbid`]: which bridge a USB device is, by NUT's match table.
//!
//! Nothing here touches a file descriptor or the clock: the caller passes
//! the time and the I/O.

pub mod bridge;
pub mod engine;
pub mod replay;
pub mod table;
pub mod tables;
pub mod usbid;

pub use engine::{Link, LinkError, Qx, QxError, QxOptions};
pub use table::{Bridge, Protocol};
