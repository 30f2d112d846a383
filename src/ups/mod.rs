//! NUT's meaning of HID fields: constant tables (`tables`), conversion
//! functions (`conv`), and the engine that binds a descriptor to a
//! subdriver's table and publishes variables the way usbhid-ups does.

pub mod conv;
pub mod func;
pub mod table;
pub mod tables;
pub mod engine;
pub mod generic;
pub mod identity;
pub mod path;
pub mod quirks;
pub mod select;
pub mod status;
