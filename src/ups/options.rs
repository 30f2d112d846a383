//! What a UPS is bound with and why binding can fail: its USB
//! [`Identity`], the usbhid-ups [`Options`] that change decoding (built
//! by `config::ups_conf`), and [`BindError`]. A leaf module, so that the
//! engine, the claim rules (`select`), the identity variables and the
//! configuration share these types without importing each other.

use super::status::OnlineDischarge;

/// USB identity of a device.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub vid: u16,
    pub pid: u16,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
}

/// usbhid-ups options that change decoding.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a subdriver by key (`subdriver = apc`).
    pub subdriver: Option<String>,
    /// `productid` was configured: known vendors' unknown products are claimed.
    pub productid_set: bool,
    pub pollonly: bool,
    pub interruptonly: bool,
    pub onlinedischarge: OnlineDischarge,
    /// `disable_fix_report_desc`.
    pub no_fixups: bool,
    /// `lowbatt`, `ondelay`, `offdelay` overrides of published values.
    pub lowbatt: Option<String>,
    /// Every driver option as configured (`name`, value; `""` for a flag),
    /// for the subdriver functions that read options themselves.
    pub raw: Vec<(String, String)>,
    pub ondelay: Option<String>,
    pub offdelay: Option<String>,
    /// Poll intervals in milliseconds (report cache age and full-walk period).
    pub pollinterval_ms: u64,
    pub pollfreq_ms: u64,
    /// `override.<var>`: published instead of what the device says.
    pub overrides: Vec<(String, String)>,
    /// `default.<var>`: published when the device gives no such variable.
    pub defaults: Vec<(String, String)>,
}

/// Why a device cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    Descriptor(crate::hid::Error),
    /// The descriptor has no application collection on page 0x84/0x85.
    NotPowerDevice {
        first_application: Option<u32>,
    },
    /// `subdriver` named something that does not exist.
    UnknownSubdriver(String),
}

impl core::fmt::Display for BindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BindError::Descriptor(e) => e.fmt(f),
            BindError::NotPowerDevice {
                first_application: Some(u),
            } => write!(
                f,
                "not a HID Power Device: its application collection is usage {u:08x}, \
                 not on the Power Device (0x84) or Battery System (0x85) page"
            ),
            BindError::NotPowerDevice {
                first_application: None,
            } => {
                f.write_str("not a HID Power Device: the descriptor has no application collection")
            }
            BindError::UnknownSubdriver(s) => write!(f, "unknown subdriver '{s}'"),
        }
    }
}

impl std::error::Error for BindError {}
