//! Request lines cut from a connection's receive buffer: split at LF, a
//! partial line kept for the next read, and a line longer than the buffer
//! refused once and its rest skipped up to its LF, however many reads
//! that takes (NUT's upsd refuses such a line with `ERR ...` too).
//!
//! [`Framer`] holds only the state (how many bytes are held, whether the
//! rest of a too-long line is being skipped); the bytes live in a buffer
//! the caller owns, so that a connection slot's buffer can outlive its
//! connections. Pure: no I/O, no allocation. LFs are found with
//! `memchr` (see `docs/crates.md`).

/// One connection's framing state over its receive buffer `buf`, passed
/// to every call (always the same buffer for one `Framer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Framer {
    /// Bytes received and not yet answered: `buf[..len]`.
    len: usize,
    /// Skipping the rest of a line that was too long.
    discard: bool,
}

impl Framer {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the next read goes.
    pub fn room<'a>(&self, buf: &'a mut [u8]) -> &'a mut [u8] {
        &mut buf[self.len..]
    }

    /// `n` bytes were read into [`Framer::room`].
    pub fn filled(&mut self, n: usize) {
        self.len += n;
    }

    /// The buffer holds as much as it can.
    pub fn is_full(&self, buf: &[u8]) -> bool {
        self.len == buf.len()
    }

    /// A complete line is held.
    pub fn has_line(&self, buf: &[u8]) -> bool {
        memchr::memchr(b'\n', &buf[..self.len]).is_some()
    }

    /// While skipping a too-long line's rest: drop bytes through its LF,
    /// or all of them when it has not come yet. Call before taking lines.
    pub fn skip_discarded(&mut self, buf: &mut [u8]) {
        if !self.discard {
            return;
        }
        match memchr::memchr(b'\n', &buf[..self.len]) {
            Some(lf) => {
                buf.copy_within(lf + 1..self.len, 0);
                self.len -= lf + 1;
                self.discard = false;
            }
            None => self.len = 0,
        }
    }

    /// The complete line starting at `start` (an offset returned by an
    /// earlier call, or 0), without its LF, and where the next one starts.
    pub fn line_at<'a>(&self, buf: &'a [u8], start: usize) -> Option<(&'a [u8], usize)> {
        let lf = memchr::memchr(b'\n', &buf[start..self.len])?;
        Some((&buf[start..start + lf], start + lf + 1))
    }

    /// The lines before `start` were answered: keep only what follows.
    pub fn consume(&mut self, buf: &mut [u8], start: usize) {
        buf.copy_within(start..self.len, 0);
        self.len -= start;
    }

    /// A full buffer without a LF: one line longer than the buffer.
    pub fn overlong(&self, buf: &[u8]) -> bool {
        self.is_full(buf) && memchr::memchr(b'\n', buf).is_none()
    }

    /// The too-long line was refused: drop what is held and skip its rest.
    pub fn refuse_overlong(&mut self) {
        self.len = 0;
        self.discard = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Framer, buf: &mut [u8], bytes: &[u8]) {
        let room = f.room(buf);
        room[..bytes.len()].copy_from_slice(bytes);
        f.filled(bytes.len());
    }

    /// Every complete line held, consumed.
    fn lines(f: &mut Framer, buf: &mut [u8]) -> Vec<String> {
        f.skip_discarded(buf);
        let (mut out, mut start) = (Vec::new(), 0);
        while let Some((line, next)) = f.line_at(buf, start) {
            out.push(String::from_utf8_lossy(line).into_owned());
            start = next;
        }
        f.consume(buf, start);
        out
    }

    #[test]
    fn lines_split_at_lf_and_a_partial_one_waits() {
        let mut buf = [0u8; 32];
        let mut f = Framer::default();
        feed(&mut f, &mut buf, b"VER\nLIST UPS\nGET V");
        assert!(f.has_line(&buf));
        assert_eq!(lines(&mut f, &mut buf), ["VER", "LIST UPS"]);
        assert_eq!((f.len(), f.has_line(&buf)), (5, false));
        feed(&mut f, &mut buf, b"AR ups x\r\n");
        assert_eq!(lines(&mut f, &mut buf), ["GET VAR ups x\r"]);
        assert!(f.is_empty());
    }

    #[test]
    fn an_overlong_line_is_refused_once_and_its_rest_skipped() {
        let mut buf = [0u8; 8];
        let mut f = Framer::default();
        feed(&mut f, &mut buf, b"VER\nAAAA");
        assert_eq!(lines(&mut f, &mut buf), ["VER"]);
        assert!(!f.overlong(&buf));
        feed(&mut f, &mut buf, b"BBBB");
        // Full, no LF: refused, and what follows up to the LF is dropped,
        // over as many reads as it takes.
        assert!(f.is_full(&buf) && f.overlong(&buf));
        f.refuse_overlong();
        feed(&mut f, &mut buf, b"CCCCCCCC");
        assert!(lines(&mut f, &mut buf).is_empty());
        assert!(f.is_empty());
        feed(&mut f, &mut buf, b"CC\nHELP\n");
        assert_eq!(lines(&mut f, &mut buf), ["HELP"]);
        // A full buffer of complete lines is not an overlong line.
        feed(&mut f, &mut buf, b"A\nB\nC\nD\n");
        assert!(f.is_full(&buf) && !f.overlong(&buf));
        assert_eq!(lines(&mut f, &mut buf), ["A", "B", "C", "D"]);
    }
}
