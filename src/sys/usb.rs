//! What the kernel knows about the USB device behind a hidraw node, read
//! from sysfs, and USB string descriptors by index, which hidraw cannot
//! fetch: through the interface's hiddev node (HIDIOCGSTRING) when usbhid
//! created one, else through a usbfs control transfer on
//! `/dev/bus/usb/BBB/DDD`, a standard device request that claims no
//! interface, so the kernel's usbhid stays bound.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// USB identity and location of a hidraw node's device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbInfo {
    pub vid: u16,
    pub pid: u16,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub busnum: u16,
    pub devnum: u16,
    /// Kernel port path (`1-1.2`): stable while the UPS stays in that port.
    pub port: String,
    /// HID interface number.
    pub interface: u8,
    /// The interface's hiddev node, if usbhid made one.
    pub hiddev: Option<PathBuf>,
}

fn attr(dir: &Path, name: &str) -> Option<String> {
    let s = std::fs::read_to_string(dir.join(name)).ok()?;
    let s = s.trim_end_matches('\n').to_string();
    (!s.is_empty()).then_some(s)
}

impl UsbInfo {
    /// Identity of `/dev/hidrawN` (or just `hidrawN`) from
    /// `/sys/class/hidraw/hidrawN/device/..` (the USB interface) and its
    /// parent (the USB device). `None` if the node is not on USB.
    pub fn for_hidraw(node: &str) -> Option<UsbInfo> {
        Self::for_hidraw_in(Path::new("/sys/class/hidraw"), node)
    }

    /// As [`UsbInfo::for_hidraw`], with another sysfs root (tests).
    pub fn for_hidraw_in(class: &Path, node: &str) -> Option<UsbInfo> {
        let name = Path::new(node).file_name()?.to_str()?;
        let hid = std::fs::canonicalize(class.join(name).join("device")).ok()?;
        let intf = hid.parent()?;
        let dev = intf.parent()?;
        let hex = |n| attr(dev, n).and_then(|s| u16::from_str_radix(&s, 16).ok());
        let num = |n| attr(dev, n).and_then(|s| s.parse::<u16>().ok());
        let interface = attr(intf, "bInterfaceNumber")
            .and_then(|s| u8::from_str_radix(&s, 16).ok())
            .unwrap_or(0);
        let hiddev = std::fs::read_dir(intf.join("usbmisc"))
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok()))
            .map(|e| Path::new("/dev/usb").join(e.file_name()));
        Some(UsbInfo {
            vid: hex("idVendor")?,
            pid: hex("idProduct")?,
            manufacturer: attr(dev, "manufacturer"),
            product: attr(dev, "product"),
            serial: attr(dev, "serial"),
            busnum: num("busnum").unwrap_or(0),
            devnum: num("devnum").unwrap_or(0),
            port: dev.file_name()?.to_str()?.to_string(),
            interface,
            hiddev,
        })
    }

    /// usbfs node of the device.
    pub fn usbfs(&self) -> PathBuf {
        PathBuf::from(format!(
            "/dev/bus/usb/{:03}/{:03}",
            self.busnum, self.devnum
        ))
    }
}

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
    /// Open the hiddev node if there is one, else the usbfs node.
    pub fn open(info: &UsbInfo) -> Strings {
        if let Some(h) = &info.hiddev {
            if let Ok(f) = OpenOptions::new().read(true).open(h) {
                return Strings::Hiddev(f);
            }
        }
        match OpenOptions::new().read(true).write(true).open(info.usbfs()) {
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

    #[test]
    fn identity_from_a_sysfs_tree() {
        // The shape the kernel builds: hidrawN/device -> the HID device,
        // whose parent is the interface and grandparent the USB device.
        let root = std::env::temp_dir().join(format!("hidupsd-sysfs-{}", std::process::id()));
        let dev = root.join("devices/usb1/1-1.2");
        let intf = dev.join("1-1.2:1.0");
        let hid = intf.join("0003:051D:0002.0001");
        std::fs::create_dir_all(&hid).unwrap();
        std::fs::create_dir_all(intf.join("usbmisc/hiddev0")).unwrap();
        for (k, v) in [
            ("idVendor", "051d"),
            ("idProduct", "0002"),
            ("manufacturer", "American Power Conversion"),
            ("product", "Back-UPS ES 850G2 FW:938.a2 .I USB FW:a2"),
            ("serial", "4B1234P56789  "),
            ("busnum", "1"),
            ("devnum", "7"),
        ] {
            std::fs::write(dev.join(k), format!("{v}\n")).unwrap();
        }
        std::fs::write(intf.join("bInterfaceNumber"), "00\n").unwrap();
        let class = root.join("class/hidraw/hidraw3");
        std::fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&hid, class.join("device")).unwrap();
        let info = UsbInfo::for_hidraw_in(&root.join("class/hidraw"), "/dev/hidraw3").unwrap();
        assert_eq!(
            (info.vid, info.pid, info.busnum, info.devnum),
            (0x051d, 2, 1, 7)
        );
        assert_eq!(info.port, "1-1.2");
        assert_eq!(info.serial.as_deref(), Some("4B1234P56789  "));
        assert_eq!(info.hiddev, Some(PathBuf::from("/dev/usb/hiddev0")));
        assert_eq!(info.usbfs(), PathBuf::from("/dev/bus/usb/001/007"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
