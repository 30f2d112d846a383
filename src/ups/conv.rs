//! NUT's conversion functions: the `fun` (HID value to NUT text) and `nuf`
//! (NUT text to HID value) of lookup tables, as one `match` over [`Func`].
//!
//! Pure code: a function sees the decoded physical value and an [`Env`]
//! giving it what NUT's globals gave the C code (device identity, already
//! published variables, USB strings, other fields, sticky per-device state).
//! It writes its text into a caller-provided [`Text`]; nothing allocates.

use super::func::Func;
use crate::text::Text;

/// What a conversion function may consult or change besides its value.
/// The engine implements it per device; tests implement it with fixtures.
pub trait Env {
    /// USB vendor and product id of the device.
    fn vid_pid(&self) -> (u16, u16);
    /// Value currently published for a NUT variable, if any.
    fn var(&self, name: &str) -> Option<&str>;
    /// Publish (or with `None` delete) a variable as a side effect
    /// (e.g. MGE's `experimental.ups.mode.buzzwords`).
    fn set_var(&mut self, name: &str, value: Option<&str>);
    /// USB string descriptor `index`, already turned into 8-bit text the way
    /// NUT does; `None` if it cannot be fetched.
    fn usb_string(&mut self, index: u8, out: &mut Text) -> bool;
    /// Decoded physical value of the first Feature field at a NUT path
    /// (`UPS.PowerSummary.Voltage`), read the way the walk reads values.
    fn read_path(&mut self, path: &str) -> Option<f64>;
    /// Raw bytes of a Feature report (byte 0 is the report id).
    fn feature_report(&mut self, id: u8) -> Option<&[u8]>;
    /// Sticky per-device state shared by the functions.
    fn state(&mut self) -> &mut ConvState;
}

/// Per-device state that NUT keeps in subdriver globals (sticky
/// multipliers, detected scales, ABM mode, model family).
#[derive(Debug, Clone, Default)]
pub struct ConvState {}

impl Func {
    /// HID to NUT: write the text to publish into `out` and return `true`,
    /// or return `false` when NUT would publish nothing this time.
    pub fn forward(self, value: f64, env: &mut dyn Env, out: &mut Text) -> bool {
        let _ = (value, env, out);
        false
    }

    /// NUT to HID: the raw value to write, or `None` for a conversion error.
    pub fn reverse(self, text: &str, env: &mut dyn Env) -> Option<i64> {
        let _ = (text, env);
        None
    }
}
