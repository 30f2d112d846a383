//! `Text`: a fixed-capacity string on the stack, for formatting values
//! without touching the heap. Overflow is an error, never a silent cut.

use core::fmt;

/// Capacity of a [`Text`], in bytes. NUT's own value buffers are smaller.
pub const TEXT_CAP: usize = 128;

/// A UTF-8 string of at most [`TEXT_CAP`] bytes, stored inline.
#[derive(Clone, Copy)]
pub struct Text {
    len: u8,
    buf: [u8; TEXT_CAP],
}

impl Text {
    pub const fn new() -> Self {
        Text {
            len: 0,
            buf: [0; TEXT_CAP],
        }
    }

    /// Build from a string; `None` if it does not fit.
    pub fn try_new(s: &str) -> Option<Self> {
        let mut t = Text::new();
        t.push_str(s).ok()?;
        Some(t)
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the bytes are UTF-8.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }

    /// The bytes, without the UTF-8 check of [`Text::as_str`] (for
    /// comparing and copying).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Append; on overflow nothing is appended and `Err` is returned.
    pub fn push_str(&mut self, s: &str) -> Result<(), fmt::Error> {
        let at = self.len as usize;
        let end = at + s.len();
        if end > TEXT_CAP {
            return Err(fmt::Error);
        }
        self.buf[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }

    /// Keep at most `n` bytes, backing off to a character boundary.
    pub fn truncate(&mut self, n: usize) {
        let mut n = n.min(self.len as usize);
        while n > 0 && !self.as_str().is_char_boundary(n) {
            n -= 1;
        }
        self.len = n as u8;
    }

    /// Replace the contents with formatted text.
    pub fn set_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<(), fmt::Error> {
        self.clear();
        let r = fmt::write(self, args);
        if r.is_err() {
            self.clear();
        }
        r
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, o: &Self) -> bool {
        self.as_str() == o.as_str()
    }
}
impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

/// C `atol` on text: leading white space, an optional sign, then digits;
/// anything after them is ignored. `None` when there are no digits (C
/// gives 0). Saturates instead of overflowing.
pub fn atol(s: &str) -> Option<i64> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    let mut any = false;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
        any = true;
    }
    any.then_some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn overflow_is_an_error_and_leaves_contents() {
        let mut t = Text::try_new("ab").unwrap();
        let long = "x".repeat(TEXT_CAP);
        assert!(t.push_str(&long).is_err());
        assert_eq!(t.as_str(), "ab");
        write!(t, "{:.1}", 2.25f64).unwrap();
        assert_eq!(t.as_str(), "ab2.2");
    }

    #[test]
    fn atol_as_c() {
        assert_eq!(atol(" 42abc"), Some(42));
        assert_eq!(atol("\x0b-7"), Some(-7));
        assert_eq!(atol("+3"), Some(3));
        assert_eq!(atol("x1"), None);
        assert_eq!(atol(""), None);
        assert_eq!(atol("99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let mut t = Text::try_new("aé").unwrap();
        t.truncate(2);
        assert_eq!(t.as_str(), "a");
    }
}
