//! POSIX extended regular expressions from the C library (`regcomp`), so
//! matching `ups.conf` like NUT costs no binary size. Patterns are
//! anchored to the whole string and case-insensitive, as NUT's are.

use std::ffi::CString;

/// A compiled, anchored, case-insensitive POSIX ERE.
pub struct Regex {
    re: Box<libc::regex_t>,
}

impl Regex {
    /// Compile `pattern` as `^(pattern)$`; the error is the C library's text.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let anchored = CString::new(format!("^({pattern})$"))
            .map_err(|_| "pattern contains a NUL byte".to_string())?;
        // SAFETY: regex_t is plain data that regcomp initialises.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: valid C string and a writable regex_t.
        let rc = unsafe {
            libc::regcomp(
                &mut *re,
                anchored.as_ptr(),
                libc::REG_EXTENDED | libc::REG_ICASE | libc::REG_NOSUB,
            )
        };
        if rc != 0 {
            let mut buf = [0u8; 128];
            // SAFETY: regerror writes at most buf.len() bytes.
            unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return Err(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        Ok(Regex { re })
    }

    /// Whole-string match (after trimming surrounding white space, as NUT).
    pub fn is_match(&self, text: &str) -> bool {
        let Ok(c) = CString::new(text.trim()) else {
            return false;
        };
        // SAFETY: compiled regex and a valid C string; no match array.
        unsafe { libc::regexec(&*self.re, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp and freed once.
        unsafe { libc::regfree(&mut *self.re) }
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Regex")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_case_insensitive_extended() {
        let r = Regex::new("051d").unwrap();
        assert!(r.is_match("051D"));
        assert!(!r.is_match("0051d"));
        let r = Regex::new("Back-UPS (ES|CS).*").unwrap();
        assert!(r.is_match("  back-ups es 850G2 FW:938.a2 "));
        assert!(!r.is_match("Smart-UPS 750"));
        assert!(Regex::new("(unclosed").is_err());
    }
}
