//! The thin I/O shell: system calls on device nodes and sockets. No
//! decoding policy lives here; everything above it is pure and tested
//! without hardware.

pub mod exec;
pub mod hidraw;
pub mod hotplug;
pub mod net;
pub mod regex;
pub mod usb;
