//! The shapes of nutdrv_qx's knowledge as constant data: one [`Protocol`]
//! per Megatec/Q1 dialect (its items: command, expected answer, field
//! position, format, flags, and which fixed rule turns the field into a
//! NUT value) and the USB ids that say which transport a unit uses.
//! The data itself is generated into `tables.rs` by
//! `tools/import-qx-tables.py` from `tools/data/qx/`.

/// nutdrv_qx's item flags (`QX_FLAG_*`), same values.
pub mod flag {
    /// Read once, at start.
    pub const STATIC: u16 = 2;
    /// Read again only after a command or a SET.
    pub const SEMI_STATIC: u16 = 4;
    /// Not read from the unit: a server-side value (the item's default).
    pub const ABSENT: u16 = 8;
    /// Read at every poll; a failure makes the whole poll fail.
    pub const QUICK_POLL: u16 = 16;
    /// An instant command.
    pub const CMD: u16 = 32;
    /// A writable variable's set rule.
    pub const SETVAR: u16 = 64;
    /// Trim spaces and `#` around the value.
    pub const TRIM: u16 = 128;
    pub const ENUM: u16 = 256;
    pub const RANGE: u16 = 512;
    /// No NUT variable: a one-time setting from ups.conf.
    pub const NONUT: u16 = 1024;
    /// Not read until a rule enables it (Voltronic-QS-Hex 'T' units).
    pub const SKIP: u16 = 2048;
}

/// The fixed rules nutdrv_qx runs on an item (its `preprocess` function),
/// one variant per function of NUT's that the generated tables name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pre {
    /// Plain field: number formatted by `dfl`, or text (`%s`).
    None,
    /// One status character of the Q1 answer (position 38 to 45).
    StatusBits,
    /// Shutdown and battery-test commands with NUT's delay encoding.
    BlazerCommand,
    /// `ups.delay.start`/`ups.delay.shutdown` truncated to settable steps.
    BlazerSetvar,
    /// Voltronic-QS `M` answer: protocol `V` only.
    VoltronicQsProtocol,
    /// Mecer `QPI` answer: `PI98` only.
    P98Protocol,
    /// Mecer battery test: `.n` (tenths of minutes) or `nn` minutes.
    MecerTestBattery,
    /// Voltronic-QS-Hex `M` answer: protocol `P` or `T` (`T` enables
    /// the ratings and the quick test).
    QsHexProtocol,
    /// Voltronic-QS-Hex fields of its refined `QS` answer (hex numbers).
    QsHexVoltage,
    QsHexLoad,
    QsHexFrequency,
    QsHexBatteryVoltage,
    /// Rating bits: nominal frequency, battery and output voltage.
    QsHexRatings,
    /// BestUPS: a SET sent as the item's `%.0f` command.
    BestupsSetvar,
    /// BestUPS: bypass/boost/buck bit, ignored off line, during a test
    /// or a shutdown, inverted on Patriot Pro units.
    BestupsBbb,
    /// BestUPS: manufacturer and model from the `ID` model code (the
    /// model also enables `RT` and `BP?` where the model has them).
    BestupsMfr,
    BestupsModel,
    /// BestUPS: runtime in minutes, battery packs, pin shutdown mode,
    /// voltage settings (index into the unit's voltage table).
    BestupsRuntime,
    BestupsPacks,
    BestupsPins,
    BestupsVoltage,
}

/// What is done to a raw answer before its fields are read (NUT's
/// `preprocess_answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreAnswer {
    None,
    /// Voltronic-QS-Hex: binary `QS` answer (escaped bytes) to hex and
    /// binary-digit text.
    QsHex,
    /// BestUPS: `ID` fields padded to fixed positions.
    BestupsId,
}

/// How a protocol decides that a unit speaks it (its `claim` function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Status (`input.voltage`) and, unless `novendor`, `ups.firmware`.
    Full,
    /// Status only.
    Light,
    /// `M` answered `V`, then status.
    VoltronicQs,
    /// Status, then `QPI` answered `PI98` or refused with `(NAK`.
    Mecer,
    /// Status, then the model from `ID`.
    Bestups,
}

/// One row of a protocol's table.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// NUT variable or command name.
    pub var: &'static str,
    /// Writable (`ST_FLAG_RW`).
    pub rw: bool,
    /// Settable ranges (`info_rw` pairs) when [`flag::RANGE`] is set.
    pub ranges: &'static [(i64, i64)],
    /// Command sent, `\r` included; a `%s`/`%02d` template for
    /// [`Pre::BlazerCommand`] and [`Pre::MecerTestBattery`].
    pub command: &'static str,
    /// Shortest acceptable answer, in bytes (0: any).
    pub answer_len: u8,
    /// First byte the answer must have (0: any).
    pub leading: u8,
    /// Field position in the answer; `to` 0 means up to the `\r`.
    pub from: u8,
    pub to: u8,
    /// printf format of the value, or the default of an absent variable.
    pub dfl: &'static str,
    pub flags: u16,
    pub pre: Pre,
    pub answer: PreAnswer,
}

impl Item {
    pub const fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// One nutdrv_qx protocol (NUT calls them subdrivers).
#[derive(Debug)]
pub struct Protocol {
    /// What `protocol =` names (NUT compares it without case).
    pub name: &'static str,
    /// NUT's name and version of it (`driver.version.data`).
    pub version: &'static str,
    /// Position in nutdrv_qx's probe list (lower is tried first).
    pub order: u8,
    pub claim: Claim,
    /// Answer value that means a command was accepted ("" none).
    pub accepted: &'static str,
    /// Whole answer that means a query was refused ("" none).
    pub rejected: &'static str,
    pub items: &'static [Item],
}

/// The USB-to-serial bridges nutdrv_qx knows (its USB subdrivers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bridge {
    Cypress,
    Phoenix,
    Ippon,
    Sgs,
    Ablerex,
    Armac,
    Krauler,
    Fabula,
    Hunnox,
    Fuji,
    Snr,
    /// Vendor control requests hidraw cannot send.
    Phoenixtec,
    /// Listed by NUT without a transport (a serial bridge).
    None,
}

impl Bridge {
    /// `subdriver =` name.
    pub fn name(self) -> &'static str {
        match self {
            Bridge::Cypress => "cypress",
            Bridge::Phoenix => "phoenix",
            Bridge::Ippon => "ippon",
            Bridge::Sgs => "sgs",
            Bridge::Ablerex => "ablerex",
            Bridge::Armac => "armac",
            Bridge::Krauler => "krauler",
            Bridge::Fabula => "fabula",
            Bridge::Hunnox => "hunnox",
            Bridge::Fuji => "fuji",
            Bridge::Snr => "snr",
            Bridge::Phoenixtec => "phoenixtec",
            Bridge::None => "none",
        }
    }

    pub fn from_name(s: &str) -> Option<Bridge> {
        ALL_BRIDGES
            .iter()
            .copied()
            .find(|b| *b != Bridge::None && b.name().eq_ignore_ascii_case(s))
    }
}

pub const ALL_BRIDGES: [Bridge; 13] = [
    Bridge::Cypress,
    Bridge::Phoenix,
    Bridge::Ippon,
    Bridge::Sgs,
    Bridge::Ablerex,
    Bridge::Armac,
    Bridge::Krauler,
    Bridge::Fabula,
    Bridge::Hunnox,
    Bridge::Fuji,
    Bridge::Snr,
    Bridge::Phoenixtec,
    Bridge::None,
];

/// One row of nutdrv_qx's USB match table: VID:PID and, when given, the
/// manufacturer and product strings (compared without case).
#[derive(Debug, Clone, Copy)]
pub struct UsbId {
    pub vid: u16,
    pub pid: u16,
    pub vendor: Option<&'static str>,
    pub product: Option<&'static str>,
    pub bridge: Bridge,
}
