//! NUT's meaning of HID fields: constant tables (`tables`), conversion
//! functions (`conv`), and the engine that binds a descriptor to a
//! subdriver's table and publishes variables the way usbhid-ups does.
//!
//! Read first: `docs/design/hid-decoding.md` §3 to §10.

pub mod command;
pub mod conv;
pub mod engine;
pub mod func;
pub mod generic;
pub mod identity;
pub mod options;
pub mod path;
pub mod quirks;
pub mod select;
pub mod status;
pub mod table;
pub mod tables;
pub mod transport;
