//! A device as a Megatec bridge's [`Wire`]: output reports written,
//! input reports awaited with `poll(2)` on the device's fd, feature
//! reports and string descriptors through [`DeviceIo`]. Blocking: the
//! worker's thread, `decode`, `record` and killpower use it.

use super::io::DeviceIo;
use crate::qx::bridge::Wire;
use crate::qx::LinkError;
use crate::ups::transport::IoError;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io;
use std::os::fd::AsFd;

/// A borrowed device seen as a bridge's wire.
pub struct DevWire<'a, D: DeviceIo + ?Sized>(pub &'a mut D);

fn io_err(e: &io::Error) -> LinkError {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENODEV | Errno::ENXIO | Errno::ENOENT | Errno::EBADF | Errno::EACCES) => {
            LinkError::Gone
        }
        _ => LinkError::Io,
    }
}

fn link_err(e: IoError) -> LinkError {
    match e {
        IoError::Gone => LinkError::Gone,
        IoError::Skip | IoError::Timeout => LinkError::Io,
    }
}

impl<D: DeviceIo + ?Sized> Wire for DevWire<'_, D> {
    fn write_output(&mut self, data: &[u8]) -> Result<(), LinkError> {
        self.0.write_output(data).map_err(|e| io_err(&e))
    }

    fn read_input(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LinkError> {
        if let Some(n) = self.0.read_input(buf).map_err(|e| io_err(&e))? {
            return Ok(n);
        }
        let ev = {
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            let t = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, t) {
                Ok(0) | Err(Errno::EINTR) => return Ok(0),
                Ok(_) => {}
                Err(_) => return Err(LinkError::Io),
            }
            fds[0].revents().unwrap_or(PollFlags::empty())
        };
        if !ev.contains(PollFlags::POLLIN)
            && ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        {
            return Err(LinkError::Gone);
        }
        Ok(self.0.read_input(buf).map_err(|e| io_err(&e))?.unwrap_or(0))
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 64];
        for _ in 0..64 {
            if !matches!(self.0.read_input(&mut buf), Ok(Some(n)) if n > 0) {
                break;
            }
        }
    }

    fn set_feature(&mut self, data: &[u8]) -> Result<(), LinkError> {
        self.0.set_feature(data).map_err(link_err)
    }

    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        self.0.get_feature(buf).map_err(link_err)
    }

    fn string(
        &mut self,
        index: u8,
        langid: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        Ok(self.0.string_with(index, langid, max, out).unwrap_or(0))
    }

    fn sleep_ms(&mut self, ms: u32) {
        std::thread::sleep(std::time::Duration::from_millis(ms.into()));
    }
}
