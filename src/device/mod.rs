//! The device layer's decisions, kept apart from its system calls: which
//! configured UPS a USB device is (NUT's `ups.conf` matching), what a UPS
//! found without configuration is called so that it keeps its name across
//! unplug and replug, how a recording is written, and what `scan` prints.

pub mod matcher;
pub mod naming;
pub mod record;
pub mod scan;
