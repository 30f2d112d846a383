//! The options hidupsd accepts in `ups.conf` (NUT's driver and
//! upsdrvctl options): whether each is a flag or takes a value, where it
//! may be set, and those accepted but meaningless over hidraw, with why.
//! Data only; reading the file and checking values is
//! [`super::ups_conf`]'s.

/// Whether an option is a lone word or takes `= value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionForm {
    Flag,
    Value,
    /// Either form (`usb_set_altinterface` defaults to 0 without a value).
    FlagOrValue,
}

/// Where an option may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Before the first section only.
    Global,
    /// Inside a `[name]` section only.
    Section,
    /// In both; a section's value overrides the global one.
    Both,
}

/// One option hidupsd accepts in `ups.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDef {
    pub name: &'static str,
    pub kind: OptionForm,
    pub scope: Scope,
}

const fn def(name: &'static str, kind: OptionForm, scope: Scope) -> OptionDef {
    OptionDef { name, kind, scope }
}

use OptionForm::{Flag, FlagOrValue, Value};
use Scope::{Both, Global, Section};

/// Every option hidupsd accepts, besides `override.<var>` and
/// `default.<var>`: the driver core's and upsdrvctl's options, USB
/// matching, and usbhid-ups's own.
pub const OPTIONS: &[OptionDef] = &[
    // Global only (upsdrvctl and the driver core).
    def("chroot", Value, Global),
    def("driverpath", Value, Global),
    def("statepath", Value, Global),
    def("nowait", Flag, Global),
    // Global, or per UPS overriding the global.
    def("user", Value, Both),
    def("group", Value, Both),
    def("maxstartdelay", Value, Both),
    def("maxretry", Value, Both),
    def("retrydelay", Value, Both),
    def("pollinterval", Value, Both),
    def("synchronous", Value, Both),
    def("reconnect_max_tries", Value, Both),
    def("reconnect_report_freq", Value, Both),
    def("debug_min", Value, Both),
    def("LIBUSB_DEBUG", Value, Both),
    // Per UPS, driver core.
    def("driver", Value, Section),
    def("port", Value, Section),
    def("desc", Value, Section),
    def("sdorder", Value, Section),
    def("sdcommands", Value, Section),
    def("allow_killpower", Flag, Section),
    def("nolock", Flag, Section),
    def("ignorelb", Flag, Section),
    // USB matching.
    def("vendorid", Value, Section),
    def("productid", Value, Section),
    def("vendor", Value, Section),
    def("product", Value, Section),
    def("serial", Value, Section),
    def("bus", Value, Section),
    def("device", Value, Section),
    def("busport", Value, Section),
    def("allow_duplicates", Flag, Section),
    def("usb_set_altinterface", FlagOrValue, Section),
    def("usb_config_index", Value, Section),
    def("usb_hid_rep_index", Value, Section),
    def("usb_hid_desc_index", Value, Section),
    def("usb_hid_ep_in", Value, Section),
    def("usb_hid_ep_out", Value, Section),
    // usbhid-ups.
    def("subdriver", Value, Section),
    def("lowbatt", Value, Section),
    def("offdelay", Value, Section),
    def("ondelay", Value, Section),
    def("pollfreq", Value, Section),
    def("pollonly", Flag, Section),
    def("interruptonly", Flag, Section),
    def("interruptsize", Value, Section),
    def("interrupt_pipe_no_events_tolerance", Value, Section),
    def("onlinedischarge", Flag, Section),
    def("onlinedischarge_onbattery", Flag, Section),
    def("onlinedischarge_battery", Flag, Section),
    def("onlinedischarge_calibration", Flag, Section),
    def("onlinedischarge_log_throttle_sec", Value, Section),
    def("onlinedischarge_log_throttle_hovercharge", Value, Section),
    def("lbrb_log_delay_sec", Value, Section),
    def("lbrb_log_delay_without_calibrating", Flag, Section),
    def("disable_fix_report_desc", Flag, Section),
    def("powercom_sdcmd_byte_order_fallback", Flag, Section),
    def("powercom_sdcmd_discrete_delay", Flag, Section),
    def("explore", Flag, Section),
    def("maxreport", Flag, Section),
    def("waitbeforereconnect", Value, Section),
    def("winhid", Flag, Section),
    // nutdrv_qx (Megatec/Q1 units, src/qx).
    def("protocol", Value, Section),
    def("novendor", Flag, Section),
    def("norating", Flag, Section),
    def("ignoresab", Flag, Section),
    def("stayoff", Flag, Section),
    def("langid_fix", Value, Section),
    def("noscanlangid", Flag, Section),
    def("runtimecal", Value, Section),
    def("chargetime", Value, Section),
    def("idleload", Value, Section),
];

/// Options NUT's usbhid-ups needs for libusb that cannot apply to a
/// device read through hidraw, with the reason given when one is set.
pub const NOT_ON_HIDRAW: &[(&str, &str)] = &[
    (
        "usb_set_altinterface",
        "the kernel's usbhid driver chooses the alternate setting",
    ),
    (
        "usb_config_index",
        "the kernel's usbhid driver chooses the configuration",
    ),
    (
        "usb_hid_rep_index",
        "hidupsd picks the HID interface whose descriptor is a Power Device",
    ),
    (
        "usb_hid_desc_index",
        "the kernel reads the report descriptor itself",
    ),
    (
        "usb_hid_ep_in",
        "the kernel's usbhid driver owns the interrupt endpoints",
    ),
    (
        "usb_hid_ep_out",
        "the kernel's usbhid driver owns the interrupt endpoints",
    ),
    ("interruptsize", "hidraw delivers whole input reports"),
    (
        "maxreport",
        "the kernel sizes Feature reports from the descriptor",
    ),
    ("LIBUSB_DEBUG", "hidupsd does not use libusb"),
    ("nolock", "hidupsd keeps no driver lock files"),
    (
        "waitbeforereconnect",
        "hidupsd reconnects with its own back-off (retrydelay sets it)",
    ),
    (
        "interrupt_pipe_no_events_tolerance",
        "hidupsd notices a silent device by its failed reads, not by missing events",
    ),
    ("noscanlangid", "hidupsd does not scan language ids"),
];

/// The definition of `key`, case-insensitively.
pub fn option(key: &str) -> Option<&'static OptionDef> {
    OPTIONS.iter().find(|d| d.name.eq_ignore_ascii_case(key))
}
