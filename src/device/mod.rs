//! The device layer's decisions, kept apart from its system calls: which
//! configured UPS a USB device is (NUT's `ups.conf` matching), and what a
//! UPS found without configuration is called so that it keeps its name
//! across unplug and replug.

pub mod matcher;
pub mod naming;
