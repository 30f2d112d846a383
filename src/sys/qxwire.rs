//! The hidraw side of a Megatec/Q1 bridge ([`crate::qx::bridge::Wire`]):
//! output reports by `write()`, input reports by `poll()` and `read()`,
//! feature reports by ioctl, string descriptors through hiddev or usbfs
//! (standard requests that claim nothing). usbhid stays bound.

use crate::qx::bridge::Wire;
use crate::qx::engine::LinkError;
use crate::sys::hidraw::Hidraw;
use crate::ups::engine::{IoError, Transport};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Write;
use std::os::fd::AsFd;

/// A Megatec bridge behind a hidraw node.
pub struct HidrawWire {
    pub dev: Hidraw,
}

fn io_err(e: &std::io::Error) -> LinkError {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENODEV | Errno::ENXIO | Errno::ENOENT | Errno::EBADF | Errno::EACCES) => {
            LinkError::Gone
        }
        _ => LinkError::Io,
    }
}

impl Wire for HidrawWire {
    fn write_output(&mut self, data: &[u8]) -> Result<(), LinkError> {
        let mut f = self.dev.file();
        f.write_all(data).map_err(|e| io_err(&e))
    }

    fn read_input(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LinkError> {
        if let Some(n) = self.dev.read_input(buf).map_err(|e| io_err(&e))? {
            return Ok(n);
        }
        let mut fds = [PollFd::new(self.dev.as_fd(), PollFlags::POLLIN)];
        let t = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, t) {
            Ok(0) => return Ok(0),
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(0),
            Err(_) => return Err(LinkError::Io),
        }
        let ev = fds[0].revents().unwrap_or(PollFlags::empty());
        if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
            return Err(LinkError::Gone);
        }
        Ok(self
            .dev
            .read_input(buf)
            .map_err(|e| io_err(&e))?
            .unwrap_or(0))
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 64];
        for _ in 0..64 {
            if !matches!(self.dev.read_input(&mut buf), Ok(Some(_))) {
                break;
            }
        }
    }

    fn set_feature(&mut self, data: &[u8]) -> Result<(), LinkError> {
        self.dev.set_feature(data).map_err(link_err)
    }

    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        self.dev.get_feature(buf).map_err(link_err)
    }

    fn string(
        &mut self,
        index: u8,
        langid: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        match self.dev.strings.get_into(index, langid, max, out) {
            Ok(n) => Ok(n),
            Err(Errno::ENODEV | Errno::ENOENT) => Err(LinkError::Gone),
            // A stalled or refused request: no answer.
            Err(_) => Ok(0),
        }
    }

    fn sleep_ms(&mut self, ms: u32) {
        std::thread::sleep(std::time::Duration::from_millis(ms.into()));
    }
}

fn link_err(e: IoError) -> LinkError {
    match e {
        IoError::Gone => LinkError::Gone,
        IoError::Skip | IoError::Timeout => LinkError::Io,
    }
}
