//! The device layer's decisions, kept apart from its system calls: which
//! configured UPS a USB device is (NUT's `ups.conf` matching), what a UPS
//! found without configuration is called so that it keeps its name across
//! unplug and replug, how a recording is written, and what `scan` prints.
//! Two shells live here too: [`worker`], the thread that owns a UPS (its
//! fd, its polls, its reconnects) so that the server never waits on a
//! device, and [`sim`], a recorded UPS behind the same device trait as a
//! hidraw node, playing its script on a timer thread of its own.

pub mod assign;
pub mod grant;
pub mod io;
pub mod matcher;
pub mod naming;
pub mod probe;
pub mod qxio;
pub mod qxunit;
pub mod sched;
pub mod shared;
pub mod sim;
pub mod usb;
pub mod worker;

/// Start a named thread running `f`, detached. One non-generic copy of
/// std's thread start for the device layer's threads (UPS workers,
/// simulation timers) instead of one per closure type.
pub fn spawn_named(name: String, f: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
    std::thread::Builder::new().name(name).spawn(f)?;
    Ok(())
}
