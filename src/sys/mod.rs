//! The thin I/O shell: system calls on device nodes and sockets. No
//! decoding policy lives here; everything above it is pure and tested
//! without hardware.

pub mod clock;
pub mod exec;
pub mod hidraw;
pub mod hotplug;
pub mod log;
pub mod net;
pub mod privsep;
pub mod regex;
pub mod sdnotify;
pub mod signals;
pub mod usb;
