//! USB string descriptors by index, which hidraw cannot fetch (what
//! sysfs says about the device is read by `device::probe`): through the interface's hiddev node (HIDIOCGSTRING) when usbhid
//! created one, else through a usbfs control transfer on
//! `/dev/bus/usb/BBB/DDD`, a standard device request that claims no
//! interface, so the kernel's usbhid stays bound.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// UTF-16LE string descriptor payload to NUT's 8-bit text: a code unit
/// above 0x7F becomes `?` (NUT keeps the low byte only when the high byte
/// is zero; Latin-1 bytes would not be valid UTF-8 here).
pub fn utf16_to_text(units: &[u8]) -> String {
    units
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .map(|u| if u < 0x80 { u as u8 as char } else { '?' })
        .collect()
}

mod ioctl {
    /// `struct hiddev_string_descriptor`.
    #[repr(C)]
    pub struct HiddevString {
        pub index: i32,
        pub value: [u8; 256],
    }
    nix::ioctl_read!(hiddev_string, b'H', 0x04, HiddevString);

    /// `struct usbdevfs_ctrltransfer`.
    #[repr(C)]
    pub struct CtrlTransfer {
        pub request_type: u8,
        pub request: u8,
        pub value: u16,
        pub index: u16,
        pub length: u16,
        pub timeout: u32,
        pub data: *mut u8,
    }
    nix::ioctl_readwrite!(usbfs_control, b'U', 0, CtrlTransfer);
}

/// Where string descriptors come from for one device.
#[derive(Debug)]
pub enum Strings {
    Hiddev(File),
    Usbfs(File, u16),
    None,
}

impl Strings {
    /// Open the hiddev node if there is one, else the usbfs node
    /// (`UsbInfo`'s `hiddev` and `usbfs()`).
    pub fn open(hiddev: Option<&Path>, usbfs: &Path) -> Strings {
        // Nodes no rule gave us: the privileged helper opens them, if
        // they belong to a UPS (`sys::privsep::open_node`).
        let helped = |p: &Path, e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                crate::sys::privsep::open_node(p).unwrap_or(Err(e))
            }
            _ => Err(e),
        };
        if let Some(h) = hiddev {
            if let Ok(f) = OpenOptions::new()
                .read(true)
                .open(h)
                .or_else(|e| helped(h, e))
            {
                return Strings::Hiddev(f);
            }
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .open(usbfs)
            .or_else(|e| helped(usbfs, e))
        {
            Ok(f) => {
                let lang = usbfs_descriptor(&f, 0, 0)
                    .ok()
                    .filter(|d| d.len() >= 4 && d[1] == 3);
                let lang = lang.map_or(0x0409, |d| u16::from_le_bytes([d[2], d[3]]));
                Strings::Usbfs(f, lang)
            }
            Err(_) => Strings::None,
        }
    }

    /// String descriptor `index` as NUT's 8-bit text.
    pub fn get(&self, index: u8) -> Option<String> {
        match self {
            Strings::Hiddev(f) => {
                let mut d = ioctl::HiddevString {
                    index: index as i32,
                    value: [0; 256],
                };
                // SAFETY: the kernel fills `value` with a NUL-terminated string.
                unsafe { ioctl::hiddev_string(f.as_raw_fd(), &mut d) }.ok()?;
                let end = d
                    .value
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(d.value.len());
                // The kernel gives UTF-8; keep ASCII, `?` for the rest, as NUT.
                let s = String::from_utf8_lossy(&d.value[..end]);
                Some(
                    s.chars()
                        .map(|c| if c.is_ascii() { c } else { '?' })
                        .collect(),
                )
            }
            Strings::Usbfs(f, lang) => {
                let d = usbfs_descriptor(f, index, *lang).ok()?;
                if d.len() < 2 || d[1] != 3 {
                    return None;
                }
                let n = (d[0] as usize).min(d.len());
                Some(utf16_to_text(&d[2..n]))
            }
            Strings::None => None,
        }
    }
}

impl Strings {
    /// String descriptor `index` as NUT's 8-bit text into `out`, asked in
    /// language `lang` (the device's first when `None`) with at most `max`
    /// bytes (some Megatec bridges hang on longer requests). Through
    /// hiddev the kernel picks both. `Ok(0)`: no such string.
    pub fn get_into(
        &self,
        index: u8,
        lang: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> nix::Result<usize> {
        let text = match self {
            Strings::Usbfs(f, first) => {
                let d = usbfs_descriptor_len(f, index, lang.unwrap_or(*first), max)?;
                if d.len() < 2 || d[1] != 3 {
                    return Ok(0);
                }
                let n = (d[0] as usize).min(d.len());
                utf16_to_text(&d[2..n])
            }
            _ => match self.get(index) {
                Some(t) => t,
                None => return Ok(0),
            },
        };
        let n = text.len().min(out.len());
        out[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

/// GET_DESCRIPTOR(STRING, index) as a standard device request.
fn usbfs_descriptor(f: &File, index: u8, lang: u16) -> nix::Result<Vec<u8>> {
    usbfs_descriptor_len(f, index, lang, 255)
}

fn usbfs_descriptor_len(f: &File, index: u8, lang: u16, max: u16) -> nix::Result<Vec<u8>> {
    let mut buf = [0u8; 255];
    let mut t = ioctl::CtrlTransfer {
        request_type: 0x80,
        request: 0x06,
        value: 0x0300 | index as u16,
        index: lang,
        length: max.min(buf.len() as u16),
        timeout: 1000,
        data: buf.as_mut_ptr(),
    };
    // SAFETY: `data` points at `length` writable bytes for the call.
    let n = unsafe { ioctl::usbfs_control(f.as_raw_fd(), &mut t) }?;
    Ok(buf[..(n.max(0) as usize).min(buf.len())].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_becomes_nut_text() {
        let units: Vec<u8> = "PbAc"
            .encode_utf16()
            .chain("é".encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(utf16_to_text(&units), "PbAc?");
    }
}
