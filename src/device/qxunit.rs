//! A Megatec/Q1 unit on a device: which engine serves a node ([`serve`]),
//! nutdrv_qx's options from ups.conf ([`qx_options`]), and [`QxUnit`],
//! the [`Qx`] engine with its bridge's state, run over a [`DeviceIo`].
//! Blocking (the bridge waits for answers): the worker's thread,
//! `decode`, `record` and killpower.

use super::io::DeviceIo;
use super::qxio::DevWire;
use super::usb::UsbInfo;
use crate::hid::Descriptor;
use crate::qx::bridge::BridgeLink;
use crate::qx::engine::{CmdError, ProbeError};
use crate::qx::usbid::{self, Serve};
use crate::qx::{Bridge, Qx, QxError, QxOptions};
use crate::ups::options::Options;

/// Is the driver configured for this UPS nutdrv_qx (or NUT's older
/// blazer_usb)?
fn qx_driver(opts: &Options) -> bool {
    opts.raw.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("driver")
            && (v.eq_ignore_ascii_case("nutdrv_qx") || v.eq_ignore_ascii_case("blazer_usb"))
    })
}

fn raw<'a>(opts: &'a Options, key: &str) -> Option<&'a str> {
    opts.raw
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Which engine serves a device (see [`usbid::choose`]).
pub fn serve(descriptor: &[u8], info: &UsbInfo, opts: &Options) -> Serve {
    let power = Descriptor::parse(descriptor).is_ok_and(|d| d.is_power_device());
    let forced = qx_driver(opts).then(|| raw(opts, "subdriver").and_then(Bridge::from_name));
    usbid::choose(
        power,
        forced,
        info.vid,
        info.pid,
        info.manufacturer.as_deref(),
        info.product.as_deref(),
    )
}

/// The subdriver key a UPS found without configuration is named after
/// (see [`super::naming`]): `megatec` for a unit this engine serves, else
/// the HID table's (`apc`, `mge`, ..., `generic`). One copy for the
/// daemon's adoption and `hidupsd scan`.
pub fn subdriver_key(descriptor: &[u8], info: &UsbInfo) -> &'static str {
    let opts = Options::default();
    if matches!(serve(descriptor, info, &opts), Serve::Megatec(_)) {
        return "megatec";
    }
    let id = super::usb::identity(info);
    crate::ups::select::choose(&id, &opts).map_or("generic", |c| c.sub.key)
}

/// nutdrv_qx's options from the section (`protocol`, `novendor`,
/// `norating`, `ignoresab`, `stayoff`, `ondelay`, `offdelay`,
/// `pollfreq`, `runtimecal`, `chargetime`, `idleload`) and `langid_fix`.
pub fn qx_options(opts: &Options) -> (QxOptions, Option<u16>) {
    let flag = |k: &str| raw(opts, k).is_some();
    let q = QxOptions {
        protocol: raw(opts, "protocol").map(str::to_string),
        novendor: flag("novendor"),
        norating: flag("norating"),
        ignoresab: flag("ignoresab"),
        stayoff: flag("stayoff"),
        ondelay: opts.ondelay.clone(),
        offdelay: opts.offdelay.clone(),
        pollfreq_ms: match opts.pollfreq_ms {
            0 => 30_000,
            ms => ms,
        },
        runtimecal: raw(opts, "runtimecal").map(str::to_string),
        chargetime: raw(opts, "chargetime").map(str::to_string),
        idleload: raw(opts, "idleload").map(str::to_string),
    };
    let langid = raw(opts, "langid_fix").and_then(|v| {
        let h = v.trim_start_matches("0x").trim_start_matches("0X");
        u16::from_str_radix(h, 16).ok()
    });
    (q, langid)
}

/// A Megatec/Q1 unit: the engine and its bridge's state.
pub struct QxUnit {
    pub qx: Qx,
    pub bridge: Bridge,
    langid: Option<u16>,
    hunnox_step: u8,
}

impl QxUnit {
    // One instantiation of the bridges for every kind of device (hidraw,
    // simulated): `dyn`, not generic (binary size).
    fn with<T>(
        &mut self,
        dev: &mut dyn DeviceIo,
        f: impl FnOnce(&mut Qx, &mut BridgeLink<DevWire<'_, dyn DeviceIo + '_>>) -> T,
    ) -> T {
        let mut link = BridgeLink::new(self.bridge, DevWire(dev));
        link.langid_fix = self.langid;
        link.hunnox_step = self.hunnox_step;
        let r = f(&mut self.qx, &mut link);
        self.hunnox_step = link.hunnox_step;
        r
    }

    /// Probe the unit's protocol and read it (nutdrv_qx's start).
    pub fn start(
        dev: &mut dyn DeviceIo,
        bridge: Bridge,
        info: &UsbInfo,
        opts: &Options,
        now: u64,
    ) -> Result<QxUnit, String> {
        let (qo, langid) = qx_options(opts);
        let mut link = BridgeLink::new(bridge, DevWire(dev));
        link.langid_fix = langid;
        let qx = Qx::probe(&mut link, &qo).map_err(|e| match e {
            ProbeError::NoProtocol(_) => format!("{e} through the {} bridge", bridge.name()),
            _ => e.to_string(),
        })?;
        let hunnox_step = link.hunnox_step;
        let mut u = QxUnit {
            qx,
            bridge,
            langid,
            hunnox_step,
        };
        u.qx.set_identity(Some((info.vid, info.pid)));
        u.with(dev, |qx, l| qx.init(l, now))
            .map_err(|e| e.to_string())?;
        Ok(u)
    }

    pub fn update(&mut self, dev: &mut dyn DeviceIo, now: u64) -> Result<(), QxError> {
        self.with(dev, |qx, l| qx.update(l, now))
    }

    pub fn instcmd(
        &mut self,
        dev: &mut dyn DeviceIo,
        cmd: &str,
        value: Option<&str>,
    ) -> Result<(), CmdError> {
        self.with(dev, |qx, l| qx.instcmd(cmd, value, l))
    }

    pub fn setvar(
        &mut self,
        dev: &mut dyn DeviceIo,
        var: &str,
        value: &str,
    ) -> Result<(), CmdError> {
        self.with(dev, |qx, l| qx.setvar(var, value, l))
    }

    pub fn shutdown(&mut self, dev: &mut dyn DeviceIo) -> Result<(), CmdError> {
        self.with(dev, |qx, l| qx.shutdown(l))
    }
}

impl QxUnit {
    /// killpower's sequence ([`Qx::shutdown`]), returning the commands
    /// sent; with `dry` nothing is sent (every command goes unanswered).
    pub fn shutdown_logged(
        &mut self,
        dev: &mut dyn DeviceIo,
        dry: bool,
    ) -> (Result<(), CmdError>, Vec<Vec<u8>>) {
        use crate::qx::{Link, LinkError};
        struct Cap<'a> {
            inner: Option<&'a mut dyn Link>,
            sent: Vec<Vec<u8>>,
        }
        impl Link for Cap<'_> {
            fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError> {
                self.sent.push(cmd.to_vec());
                match self.inner.as_mut() {
                    Some(l) => l.command(cmd, answer),
                    None => Ok(0),
                }
            }
        }
        self.with(dev, |qx, l| {
            let mut c = Cap {
                inner: if dry { None } else { Some(l) },
                sent: Vec::new(),
            };
            let r = qx.shutdown(&mut c);
            (r, c.sent)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(raw: &[(&str, &str)]) -> Options {
        Options {
            raw: raw
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            offdelay: Some("120".into()),
            ..Options::default()
        }
    }

    #[test]
    fn nutdrv_qx_options_and_the_engine_choice() {
        let o = opts(&[
            ("driver", "nutdrv_qx"),
            ("protocol", "mustek"),
            ("novendor", ""),
            ("langid_fix", "0x4095"),
            ("subdriver", "krauler"),
        ]);
        let (q, lang) = qx_options(&o);
        assert_eq!(q.protocol.as_deref(), Some("mustek"));
        assert!(q.novendor && !q.norating && !q.stayoff);
        assert_eq!(q.offdelay.as_deref(), Some("120"));
        assert_eq!(q.pollfreq_ms, 30_000);
        assert_eq!(lang, Some(0x4095));
        let desc_vendor = [0x06, 0xa0, 0xff, 0x09, 0x04, 0xa1, 0x01, 0xc0];
        let info = UsbInfo {
            vid: 0x0665,
            pid: 0x5161,
            ..UsbInfo::default()
        };
        // driver = nutdrv_qx with a subdriver: that bridge.
        assert_eq!(
            serve(&desc_vendor, &info, &o),
            Serve::Megatec(Bridge::Krauler)
        );
        // No section: the table's bridge for a vendor pipe.
        assert_eq!(
            serve(&desc_vendor, &info, &Options::default()),
            Serve::Megatec(Bridge::Cypress)
        );
        let other = UsbInfo {
            vid: 0x051d,
            pid: 2,
            ..UsbInfo::default()
        };
        assert_eq!(
            serve(&desc_vendor, &other, &Options::default()),
            Serve::Neither
        );
    }
}
