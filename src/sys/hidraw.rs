//! Thin wrappers over a hidraw node: open it non-blocking and
//! close-on-exec, ask the kernel for identity and the report descriptor,
//! and move Feature reports with HIDIOCGFEATURE/HIDIOCSFEATURE. No policy:
//! the engine decides what to read; the kernel's usbhid driver stays bound.

use crate::text::Text;
use crate::ups::transport::{IoError, Transport};
use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// `HID_MAX_DESCRIPTOR_SIZE` in `linux/hid.h`.
const MAX_DESCRIPTOR: usize = 4096;

/// `struct hidraw_report_descriptor`.
#[repr(C)]
pub struct RawDescriptor {
    size: u32,
    value: [u8; MAX_DESCRIPTOR],
}

/// `struct hidraw_devinfo`.
#[repr(C)]
#[derive(Default)]
pub struct RawInfo {
    pub bustype: u32,
    pub vendor: i16,
    pub product: i16,
}

mod ioctl {
    use super::{RawDescriptor, RawInfo};
    nix::ioctl_read!(desc_size, b'H', 0x01, libc_int);
    nix::ioctl_read!(desc, b'H', 0x02, RawDescriptor);
    nix::ioctl_read!(info, b'H', 0x03, RawInfo);
    nix::ioctl_read_buf!(name, b'H', 0x04, u8);
    nix::ioctl_read_buf!(phys, b'H', 0x05, u8);
    nix::ioctl_readwrite_buf!(set_feature, b'H', 0x06, u8);
    nix::ioctl_readwrite_buf!(get_feature, b'H', 0x07, u8);
    nix::ioctl_read_buf!(uniq, b'H', 0x08, u8);
    #[allow(non_camel_case_types)]
    pub type libc_int = i32;
}

/// Bus type of USB devices in `hidraw_devinfo`.
pub const BUS_USB: u32 = 0x03;

/// An open hidraw node, with the source of its USB string descriptors.
pub struct Hidraw {
    file: File,
    pub path: PathBuf,
    pub strings: crate::sys::usb::Strings,
}

fn text_ioctl(f: impl FnOnce(&mut [u8]) -> nix::Result<i32>) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = f(&mut buf).ok()? as usize;
    let s = &buf[..n.min(buf.len())];
    let s = s.split(|&b| b == 0).next().unwrap_or(s);
    Some(String::from_utf8_lossy(s).into_owned())
}

impl Hidraw {
    /// Open read-write, non-blocking, close-on-exec. A node this user
    /// may not open (no rule gave it to our group, or not yet) is opened
    /// by the privileged helper when there is one, if it is a UPS
    /// (`sys::privsep::open_node`).
    pub fn open(path: &Path) -> std::io::Result<Hidraw> {
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(
                nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits(),
            )
            .open(path)
        {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                match crate::sys::privsep::open_node(path) {
                    Some(Ok(f)) => {
                        crate::sys::log::debug(
                            1,
                            format_args!(
                                "{}: opened by the privileged helper (mode or group not ours)",
                                path.display()
                            ),
                        );
                        f
                    }
                    // Not a UPS, or no helper: our own refusal stands.
                    _ => return Err(e),
                }
            }
            r => r?,
        };
        Ok(Hidraw {
            file,
            path: path.to_path_buf(),
            strings: crate::sys::usb::Strings::None,
        })
    }

    pub fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    // Errors come back as `io::Error`, which prints as every other I/O
    // error does (nix's errno names and texts cost about 8 KB on flash).

    /// Bus, vendor and product ids.
    pub fn info(&self) -> std::io::Result<RawInfo> {
        let mut i = RawInfo::default();
        // SAFETY: the kernel writes a `hidraw_devinfo` into `i`.
        unsafe { ioctl::info(self.fd(), &mut i) }?;
        Ok(i)
    }

    /// The report descriptor the kernel holds for the device.
    pub fn descriptor(&self) -> std::io::Result<Vec<u8>> {
        let mut size: i32 = 0;
        // SAFETY: the kernel writes one int.
        unsafe { ioctl::desc_size(self.fd(), &mut size) }?;
        let size = (size.max(0) as usize).min(MAX_DESCRIPTOR);
        let mut d = Box::new(RawDescriptor {
            size: size as u32,
            value: [0; MAX_DESCRIPTOR],
        });
        // SAFETY: `d.size` tells the kernel how much of `value` to fill.
        unsafe { ioctl::desc(self.fd(), &mut *d) }?;
        Ok(d.value[..size].to_vec())
    }

    /// HIDIOCGRAWNAME, HIDIOCGRAWPHYS, HIDIOCGRAWUNIQ.
    pub fn name(&self) -> Option<String> {
        // SAFETY: the kernel writes at most the buffer's length.
        text_ioctl(|b| unsafe { ioctl::name(self.fd(), b) })
    }
    pub fn phys(&self) -> Option<String> {
        // SAFETY: as above.
        text_ioctl(|b| unsafe { ioctl::phys(self.fd(), b) })
    }
    pub fn uniq(&self) -> Option<String> {
        // SAFETY: as above.
        text_ioctl(|b| unsafe { ioctl::uniq(self.fd(), b) })
    }

    /// Send an output report (`data[0]` the report id): on a device
    /// without an interrupt OUT endpoint the kernel makes it a
    /// SET_REPORT(Output) on the control pipe.
    pub fn write_output(&mut self, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        (&self.file).write_all(data)
    }

    /// Read one input report if one is waiting (`Ok(None)` when none is).
    pub fn read_input(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        match self.file.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The node's fd, for `poll(2)` (input reports waiting, device gone).
impl AsFd for Hidraw {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Kernel errors, as the engine's walk treats them: a vanished device
/// stops the walk; a stall, timeout or protocol error skips one value.
fn classify(e: Errno) -> IoError {
    match e {
        Errno::ENODEV
        | Errno::ENXIO
        | Errno::EACCES
        | Errno::ENOENT
        | Errno::EBADF
        | Errno::ENOMEM => IoError::Gone,
        _ => IoError::Skip,
    }
}

impl Transport for Hidraw {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let t0 = std::time::Instant::now();
        // SAFETY: buf[0] holds the report id; the kernel fills the rest.
        let n = unsafe { ioctl::get_feature(self.fd(), buf) }.map_err(|e| {
            // usbhid gives ETIMEDOUT after its 5 s, uhid EIO.
            if e == Errno::ETIMEDOUT || t0.elapsed() >= std::time::Duration::from_secs(4) {
                IoError::Timeout
            } else {
                classify(e)
            }
        })?;
        Ok(n.max(0) as usize)
    }

    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        let mut copy = [0u8; crate::hid::descriptor::MAX_REPORT_LEN + 1];
        let n = buf.len().min(copy.len());
        copy[..n].copy_from_slice(&buf[..n]);
        // SAFETY: the kernel reads `n` bytes from the copy.
        unsafe { ioctl::set_feature(self.fd(), &mut copy[..n]) }.map_err(classify)?;
        Ok(())
    }

    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        // hidraw cannot fetch string descriptors by index: hiddev or usbfs do.
        match self.strings.get(index) {
            Some(s) => {
                out.clear();
                out.push_str(&s).is_ok()
            }
            None => false,
        }
    }
}
