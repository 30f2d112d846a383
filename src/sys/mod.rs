//! The thin I/O shell: system calls on device nodes and sockets. No
//! decoding policy lives here; everything above it is pure and tested
//! without hardware.

pub mod clock;
pub mod exec;
pub mod hidraw;
pub mod hotplug;
pub mod log;
pub mod net;
pub mod privsep;
pub mod regex;
pub mod sdnotify;
pub mod signals;
pub mod usb;

/// 64 random bits from the kernel (`getrandom(2)`, else `/dev/urandom`;
/// on a system with neither, the clock and the process id). Never
/// waits: early in a router's boot the kernel's pool may not be ready,
/// and a plain getrandom would hold the daemon's start until it is
/// (hash keys and tracking seeds need no more than urandom gives).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `b.len()` bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n == b.len() as isize {
        return u64::from_ne_bytes(b);
    }
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u64::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ u64::from(std::process::id()) << 32
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_words_differ() {
        // Equal by chance once in 2^64: a constant or a stuck source fails.
        assert_ne!(super::random_u64(), super::random_u64());
    }
}
