//! hidupsd: a USB HID UPS daemon that speaks NUT's network protocol.
//!
//! Layers, from bytes to meaning (each pure unless marked):
//! - [`hid`]: report descriptor and report bytes ⇄ fields and values;
//! - [`ups`]: NUT's knowledge as constant tables (usage names, vendor
//!   mapping tables, lookups, devices) and the engine that binds a parsed
//!   descriptor to a table and turns reports into NUT variables;
//! - [`recording`]: recorded devices (fixture directories) for `decode`,
//!   tests and simulation;
//! - [`device`]: which configured UPS a device is, what it is called,
//!   and (shells) the worker thread that owns each UPS and polls it, and
//!   the simulated device a recording becomes;
//! - [`daemon`] (shell): the event loop that serves the UPSes over NUT's
//!   network protocol ([`proto`]), configured by [`config`]; it finds
//!   devices and reads the workers' copies of their data, never a device.
//!
//! No module reads the clock or touches a file descriptor except the
//! shells: [`daemon`] (the clock, sockets), [`device::worker`] (the
//! clock, a device's fd), [`device::sim`] (a simulated device's socket
//! pair and script timer), [`sys`] (system calls) and the binary's
//! `main.rs`.

pub mod config;
pub mod daemon;
pub mod decode;
pub mod device;
pub mod fuzz;
pub mod gen;
pub mod hid;
pub mod monitor;
pub mod proto;
pub mod recording;
pub mod sort;
pub mod store;
pub mod sys;
pub mod text;
pub mod ups;
pub mod upsc;
