//! The engine's one door to a unit: [`Link`] sends one command and
//! returns its answer, [`LinkError`] says why it could not. The USB
//! bridges ([`super::bridge`]) and recorded answers ([`super::replay`])
//! implement it; the engine ([`super::engine`]) only calls it.

use core::fmt;

/// Why a command could not be sent or answered, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The device is gone: reconnect.
    Gone,
    /// A transfer failed (stall, protocol error); try again later.
    Io,
    /// The bridge cannot carry this command (a string-descriptor bridge
    /// without an index for it).
    Unsupported,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::Gone => "device gone",
            LinkError::Io => "transfer failed",
            LinkError::Unsupported => "the USB bridge cannot send this command",
        })
    }
}

/// One command to the unit and its answer.
pub trait Link {
    /// Send `cmd` (its `\r` included) and put the answer in `answer`;
    /// `Ok(0)` means no answer in time, which for a Megatec unit is how a
    /// command is acknowledged.
    fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError>;
}
