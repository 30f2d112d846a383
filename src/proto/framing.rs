//! Request lines cut from received bytes: split at LF, a partial line
//! kept for the next read, a line longer than any request refused once
//! (NUT's upsd refuses such a line with an `ERR` too) and its rest
//! skipped up to its LF, however many reads that takes.
//!
//! Pure: the bytes are the caller's (the loop's receive buffer), and the
//! one piece of state between reads, "skipping a refused line's rest",
//! is a flag the caller keeps per connection. No I/O, no allocation; LFs
//! are found with `memchr` (see `docs/crates.md`).

use super::lexer::MAX_LINE;

/// A complete line received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A request line, without its LF.
    Request(&'a [u8]),
    /// Longer than [`MAX_LINE`]: refused unread.
    TooLong,
}

/// The complete line at `buf[start..]`, if its LF has come, and where the
/// next one starts.
pub fn next_line(buf: &[u8], start: usize) -> Option<(Line<'_>, usize)> {
    let lf = memchr::memchr(b'\n', &buf[start..])?;
    let line = if lf > MAX_LINE {
        Line::TooLong
    } else {
        Line::Request(&buf[start..start + lf])
    };
    Some((line, start + lf + 1))
}

/// A complete line is held in `buf`.
pub fn has_line(buf: &[u8]) -> bool {
    memchr::memchr(b'\n', buf).is_some()
}

/// The bytes from `start` on are already longer than any request and
/// hold no LF: refuse that line now and skip its rest
/// ([`skip_refused`]).
pub fn overlong_tail(buf: &[u8], start: usize) -> bool {
    buf.len() - start > MAX_LINE && !has_line(&buf[start..])
}

/// While skipping the rest of a refused line (`*skipping`): drop
/// `buf[..len]` through its LF, or all of it when the LF has not come
/// yet. Returns how many bytes are left at the start of `buf`.
pub fn skip_refused(buf: &mut [u8], len: usize, skipping: &mut bool) -> usize {
    if !*skipping {
        return len;
    }
    match memchr::memchr(b'\n', &buf[..len]) {
        Some(lf) => {
            buf.copy_within(lf + 1..len, 0);
            *skipping = false;
            len - lf - 1
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every complete line in `buf`, and where the rest starts.
    fn lines(buf: &[u8]) -> (Vec<Option<String>>, usize) {
        let (mut out, mut start) = (Vec::new(), 0);
        while let Some((line, next)) = next_line(buf, start) {
            out.push(match line {
                Line::Request(l) => Some(String::from_utf8_lossy(l).into_owned()),
                Line::TooLong => None,
            });
            start = next;
        }
        (out, start)
    }

    #[test]
    fn lines_split_at_lf_and_a_partial_one_waits() {
        let (got, rest) = lines(b"VER\nLIST UPS\r\nGET V");
        assert_eq!(got, [Some("VER".into()), Some("LIST UPS\r".into())]);
        assert_eq!(rest, 14);
        assert!(has_line(b"x\n") && !has_line(b"GET V"));
        let (got, rest) = lines(b"");
        assert!(got.is_empty() && rest == 0);
    }

    #[test]
    fn an_overlong_line_is_refused_once_and_its_rest_skipped() {
        // Complete but too long: refused, the next line answered.
        let mut long = vec![b'A'; MAX_LINE + 1];
        long.extend_from_slice(b"\nVER\n");
        let (got, _) = lines(&long);
        assert_eq!(got, [None, Some("VER".into())]);
        // Exactly MAX_LINE is a request.
        let mut max = vec![b'B'; MAX_LINE];
        max.push(b'\n');
        assert!(matches!(next_line(&max, 0), Some((Line::Request(l), _)) if l.len() == MAX_LINE));
        // No LF yet and already too long: refused now, the rest skipped
        // over as many reads as it takes.
        let tail = vec![b'C'; MAX_LINE + 1];
        assert!(overlong_tail(&tail, 0) && !overlong_tail(&tail[1..], 0));
        assert!(!overlong_tail(&max, 0));
        let mut skipping = true;
        let mut buf = *b"CCCCCCCC";
        assert_eq!(skip_refused(&mut buf, 8, &mut skipping), 0);
        assert!(skipping);
        let mut buf = *b"CC\nHELP\n";
        let left = skip_refused(&mut buf, 8, &mut skipping);
        assert_eq!((&buf[..left], skipping), (&b"HELP\n"[..], false));
        // Not skipping: nothing is touched.
        assert_eq!(skip_refused(&mut buf, 5, &mut skipping), 5);
    }
}
