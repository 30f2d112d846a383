//! The device as the worker sees it: [`DeviceIo`] (reports through a
//! [`Transport`], a pollable fd, input reads), implemented by a hidraw
//! node and by a simulated UPS ([`super::sim`]), and [`Found`], an open
//! device with its identity and report descriptor.

use super::usb::UsbInfo;
use crate::sys::hidraw::Hidraw;
use crate::sys::usb::Strings;
use crate::text::Text;
use crate::ups::transport::{IoError, Transport};
use std::io;
use std::os::fd::AsFd;

/// What the worker needs of a device: reports (the [`Transport`]), an fd
/// that `poll(2)` reports readable when an input report waits (and
/// hung up when the device is gone), and a way to read one.
pub trait DeviceIo: Transport + AsFd + Send {
    /// One waiting input report into `buf`, report id first; `Ok(None)`
    /// when none waits.
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Can string descriptors be fetched by index (hiddev or usbfs)?
    fn has_strings(&self) -> bool {
        true
    }
    /// An output report (`data[0]` the report id), as hidraw's `write()`
    /// sends it: the Megatec bridges' command pipe.
    fn write_output(&mut self, _data: &[u8]) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    /// String descriptor `index` as 8-bit text, asked in language `lang`
    /// with at most `max` bytes where the source allows (usbfs); `None`
    /// when there is none.
    fn string_with(
        &mut self,
        index: u8,
        _lang: Option<u16>,
        _max: u16,
        out: &mut [u8],
    ) -> Option<usize> {
        transport_string(self, index, out)
    }
}

/// String descriptor `index` through [`Transport::string`], cut to fit
/// `out`: [`DeviceIo::string_with`] for a device with no language or
/// length control.
pub(crate) fn transport_string<T: Transport + ?Sized>(
    dev: &mut T,
    index: u8,
    out: &mut [u8],
) -> Option<usize> {
    let mut t = Text::new();
    if !dev.string(index, &mut t) {
        return None;
    }
    let n = t.len().min(out.len());
    out[..n].copy_from_slice(&t.as_str().as_bytes()[..n]);
    Some(n)
}

impl DeviceIo for Hidraw {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        Hidraw::read_input(self, buf)
    }
    fn has_strings(&self) -> bool {
        !matches!(self.strings, Strings::None)
    }
    fn write_output(&mut self, data: &[u8]) -> io::Result<()> {
        Hidraw::write_output(self, data)
    }
    fn string_with(
        &mut self,
        index: u8,
        lang: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Option<usize> {
        self.strings
            .get_into(index, lang, max, out)
            .ok()
            .filter(|&n| n > 0)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        (**self).get_feature(buf)
    }
    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        (**self).set_feature(buf)
    }
    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        (**self).string(index, out)
    }
}

impl<T: DeviceIo + ?Sized> DeviceIo for Box<T> {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).read_input(buf)
    }
    fn has_strings(&self) -> bool {
        (**self).has_strings()
    }
    fn write_output(&mut self, data: &[u8]) -> io::Result<()> {
        (**self).write_output(data)
    }
    fn string_with(
        &mut self,
        index: u8,
        lang: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Option<usize> {
        (**self).string_with(index, lang, max, out)
    }
}

/// The daemon's devices: hidraw nodes, or anything else a test hands in.
pub type Dev = Box<dyn DeviceIo>;

/// A UPS found on a node: the open device, who it is and its report
/// descriptor.
pub struct Found<D> {
    pub dev: D,
    /// `hidrawN`.
    pub node: String,
    pub info: UsbInfo,
    pub descriptor: Vec<u8>,
}

impl<D: DeviceIo + 'static> Found<D> {
    pub fn boxed(self) -> Found<Dev> {
        Found {
            dev: Box::new(self.dev),
            node: self.node,
            info: self.info,
            descriptor: self.descriptor,
        }
    }
}

/// Opens the device with this identity again, wherever it is now (the
/// worker's timed reconnect attempts).
pub type Opener<D> = Box<dyn FnMut(&UsbInfo) -> Option<Found<D>> + Send>;
