//! hidupsd: a USB HID UPS daemon that speaks NUT's network protocol.
//!
//! Layers, from bytes to meaning (each pure unless marked; the picture
//! and each folder's boundary are in `docs/design/architecture.md`):
//! - [`hid`]: report descriptor and report bytes ⇄ fields and values;
//! - [`ups`]: NUT's knowledge as constant tables (usage names, vendor
//!   mapping tables, lookups, devices) and the engine that binds a parsed
//!   descriptor to a table and turns reports into NUT variables;
//! - [`store`]: one UPS's variables; [`text`]: inline strings;
//! - [`recording`]: recorded devices (fixture directories) for `decode`,
//!   tests and simulation;
//! - [`proto`]: NUT's network protocol; [`config`]: NUT's files and what
//!   they resolve to; [`monitor`]: upsmon's decisions;
//! - [`device`]: which configured UPS a device is, what it is called,
//!   the worker's schedule, and (shells) the worker thread that owns
//!   each UPS and polls it, hidraw probing, and the simulated device a
//!   recording becomes;
//! - [`daemon`] (shell): the event loop that serves the UPSes over NUT's
//!   network protocol, configured by [`config`]; it finds devices and
//!   reads the workers' copies of their data, never a device;
//! - [`cli`] (shell): the binary's modes; [`sys`] (shell): system calls.
//!
//! No module reads the clock or touches a file descriptor except the
//! shells: [`daemon`] (sockets), [`device::worker`] and
//! [`device::probe`] (a device's fd), [`device::sim`] (a simulated
//! device's socket pair and script timer), [`cli`] (one-shot commands)
//! and [`sys`] (system calls, and the clock: [`sys::clock`]).

// `unsafe` is for system calls only: `sys` is the one module allowed it.
#![deny(unsafe_code)]

pub mod chan;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod device;
pub mod fuzz;
pub mod gen;
pub mod hid;
pub mod monitor;
pub mod proto;
pub mod qx;
pub mod recording;
pub mod sort;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;
pub mod text;
pub mod ups;
