//! How the engine reaches a device's reports: the [`Transport`] trait and
//! its errors. A leaf module: implemented by the hidraw node
//! (`sys::hidraw`), a recording (`recording`) and a simulated UPS
//! (`device::sim`), used by the engine and the instant-command runner,
//! and depending on nothing but [`Text`].

use crate::text::Text;

/// Why a report read or write failed, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// Timeout, stall, I/O error: skip this value this time.
    Skip,
    /// The device is gone or unusable: stop and reconnect.
    Gone,
    /// No answer within the kernel's timeout (5 s): skip this value and
    /// ask nothing more in this walk. On hidraw a request that waits
    /// holds a lock shared by every hidraw node (an open or close of any
    /// node then waits, and all other requests behind it): asking a hung
    /// UPS for every report in turn would stall the other UPSes too.
    Timeout,
}

/// Access to the device's reports. Buffers start with the report id.
pub trait Transport {
    /// GET_REPORT (Feature) into `buf` (`buf[0]` holds the id on entry);
    /// returns how many bytes the device answered, id included.
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError>;
    /// SET_REPORT (Feature) of the whole buffer.
    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError>;
    /// USB string descriptor `index` as 8-bit text; `false` if unavailable.
    fn string(&mut self, index: u8, out: &mut Text) -> bool;
}

/// Why a write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    NotSupported,
    ReadOnly,
    BadValue,
    Io(IoError),
}

impl WriteError {
    /// How the log names it (its `Debug` spelling, without `Debug`'s
    /// machinery in the binary).
    pub fn name(self) -> &'static str {
        match self {
            WriteError::NotSupported => "NotSupported",
            WriteError::ReadOnly => "ReadOnly",
            WriteError::BadValue => "BadValue",
            WriteError::Io(IoError::Skip) => "Io(Skip)",
            WriteError::Io(IoError::Gone) => "Io(Gone)",
            WriteError::Io(IoError::Timeout) => "Io(Timeout)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_debug_spelling() {
        for e in [
            WriteError::NotSupported,
            WriteError::ReadOnly,
            WriteError::BadValue,
            WriteError::Io(IoError::Skip),
            WriteError::Io(IoError::Gone),
            WriteError::Io(IoError::Timeout),
        ] {
            assert_eq!(e.name(), format!("{e:?}"));
        }
    }
}
