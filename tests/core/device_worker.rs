//! The device worker without hardware: a recorded UPS behind a scripted
//! transport, with one end of a SOCK_SEQPACKET socket pair standing in
//! for the hidraw fd (one record per input report, like hidraw reads; a
//! hang-up and a 0-byte read when the other end closes, like an unplug).
//!
//! Shown here: an input report reaches the shared store and wakes the
//! loop at once, not at the next poll; a device stalled 4 s inside
//! GET_REPORT delays no answer about another UPS (the p99 is printed);
//! ENODEV makes the data stale over the protocol, and the UPS comes back
//! by itself; unplug and replug keep the name.
//!
//! Loopback only; every wait is bounded.

use crate::common;

use common::{free_port, Client};

use hidupsd::config::setup::Args;
use hidupsd::config::setup::Retry;
use hidupsd::daemon::{self, DeviceSpec, Setup};
use hidupsd::device::io::{DeviceIo, Found};
use hidupsd::device::shared::{Msg, Notify};
use hidupsd::device::usb::UsbInfo;
use hidupsd::device::worker::{self, Config};
use hidupsd::recording::{Recording, Replay};
use hidupsd::sys::clock::Clock;
use hidupsd::text::Text;
use hidupsd::ups::options::Options;
use hidupsd::ups::transport::{IoError, Transport};
use mio::{Events, Poll, Token, Waker};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APC: &str = "apc-back-ups-bk650m2-ch";
/// How long any one thing may take.
const TIMEOUT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// What the test makes the device do.
#[derive(Default)]
struct Ctl {
    /// The next GET_REPORT sleeps this long (ms), once (32 bits: 32-bit
    /// MIPS has no 64-bit atomics).
    stall_ms: AtomicU32,
    /// A GET_REPORT is sleeping now.
    stalling: AtomicBool,
    /// Every GET_REPORT fails as one on an unplugged device (ENODEV).
    gone: AtomicBool,
    /// GET_REPORTs so far.
    reads: AtomicUsize,
}

/// A recorded UPS answering through [`Replay`], scripted by [`Ctl`].
struct Fake {
    sock: UnixStream,
    io: Replay,
    ctl: Arc<Ctl>,
}

impl Transport for Fake {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.ctl.reads.fetch_add(1, Ordering::SeqCst);
        if self.ctl.gone.load(Ordering::SeqCst) {
            return Err(IoError::Gone);
        }
        let ms = self.ctl.stall_ms.swap(0, Ordering::SeqCst);
        if ms > 0 {
            self.ctl.stalling.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(ms.into()));
            self.ctl.stalling.store(false, Ordering::SeqCst);
        }
        self.io.get_feature(buf)
    }
    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        self.io.set_feature(buf)
    }
    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        self.io.string(index, out)
    }
}

impl AsFd for Fake {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl DeviceIo for Fake {
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.sock.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The fixture as a found device, and the other end of its "hidraw fd".
fn fake(name: &str, ctl: &Arc<Ctl>) -> (Found<Fake>, UnixStream) {
    let rec = Recording::load(&fixture(name)).unwrap();
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let peer = UnixStream::from(b);
    peer.set_nonblocking(false).unwrap();
    let info = UsbInfo {
        vid: rec.ident.vid,
        pid: rec.ident.pid,
        manufacturer: rec.ident.vendor.clone(),
        product: rec.ident.product.clone(),
        serial: rec.ident.serial.clone(),
        port: "1-1".into(),
        ..UsbInfo::default()
    };
    let found = Found {
        dev: Fake {
            sock: UnixStream::from(a),
            io: Replay::new(&rec),
            ctl: ctl.clone(),
        },
        node: "hidraw-test".into(),
        info,
        descriptor: rec.descriptor.clone(),
    };
    (found, peer)
}

/// Forget the wake-ups so far.
fn drain(poll: &mut Poll) {
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
}

/// Wait on `poll` (the loop's side of the waker) until `done` and the
/// loop has been woken at least once; returns the wake-ups seen.
fn wait_woken(poll: &mut Poll, what: &str, mut done: impl FnMut() -> bool) -> usize {
    let mut events = Events::with_capacity(8);
    let t0 = Instant::now();
    let mut wakes = 0;
    while wakes == 0 || !done() {
        let left = TIMEOUT
            .checked_sub(t0.elapsed())
            .unwrap_or_else(|| panic!("timed out waiting for {what} ({wakes} wake-ups)"));
        poll.poll(&mut events, Some(left)).unwrap();
        wakes += events.iter().count();
    }
    wakes
}

#[test]
fn input_reports_hangup_unplug_and_replug() {
    let mut poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
    let (notify, _reports) = Notify::<Fake>::new(waker);
    let ctl = Arc::new(Ctl::default());
    let (found, peer) = fake(APC, &ctl);
    // A poll interval far longer than the test: whatever changes, an
    // input report changed it.
    let opts = Options {
        pollinterval_ms: 60_000,
        ..Options::default()
    };
    let cfg = Config {
        name: "apc".into(),
        index: 0,
        opts,
        retry: Retry::default(),
    };
    let h = worker::spawn(cfg, found, Box::new(|_| None), notify, Clock::start()).unwrap();
    let link = h.link();
    let charge = || link.lock().store.get("battery.charge").map(str::to_string);
    wait_woken(&mut poll, "the first update", || link.lock().live);
    assert_eq!(charge().as_deref(), Some("100"));
    assert!(link.last_update_ms().is_some());

    // Report 0x0c is UPS.PowerSummary.RemainingCapacity: 42 %.
    let reads = ctl.reads.load(Ordering::SeqCst);
    drain(&mut poll);
    let t0 = Instant::now();
    (&peer).write_all(&[0x0c, 42]).unwrap();
    wait_woken(&mut poll, "the input report", || {
        charge().as_deref() == Some("42")
    });
    let dt = t0.elapsed();
    println!("input report to shared store and waker: {dt:?}");
    // Within one poll interval (60 s) by far.
    assert!(dt < Duration::from_secs(5), "{dt:?}");
    assert_eq!(
        ctl.reads.load(Ordering::SeqCst),
        reads,
        "no walk ran: the value came from the report"
    );

    // The other end closes (an unplugged hidraw node hangs up): stale,
    // the last values kept.
    drain(&mut poll);
    drop(peer);
    wait_woken(&mut poll, "stale data", || !link.lock().live);
    {
        let s = link.lock();
        assert!(!s.gone);
        assert_eq!(s.store.get("battery.charge"), Some("42"));
    }
    // The kernel's remove event: driver not connected.
    drain(&mut poll);
    assert!(h.send(Msg::Removed("hidraw-test".into())));
    wait_woken(&mut poll, "removal", || link.lock().gone);

    // Plugged in again (the loop hands over the probed device): back at
    // once, under the same worker, from a fresh INIT walk.
    let (again, _peer) = fake(APC, &ctl);
    drain(&mut poll);
    assert!(h.send(Msg::Attach(Box::new(again))));
    wait_woken(&mut poll, "the replugged device", || {
        let s = link.lock();
        s.live && !s.gone
    });
    assert_eq!(charge().as_deref(), Some("100"));
}

/// A daemon in this process serving the APC recording simulated as `sim`
/// and `dev` as `usb`; upsd.conf in `conf` if given.
fn serve(dev: DeviceSpec, conf: Option<&str>) -> u16 {
    let port = free_port();
    let confdir = conf.map(|text| {
        let d = std::env::temp_dir().join(format!("hidupsd-worker-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("upsd.conf"), text).unwrap();
        d
    });
    let args = Args {
        simulate: vec![format!("sim={}", fixture(APC).display())],
        listen: vec![format!("127.0.0.1:{port}")],
        confdir: confdir.clone(),
        ..Args::default()
    };
    // The daemon runs until the test process ends. (A Setup stays on its
    // thread: its ups.conf matchers hold C regex_t values.)
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut setup = Setup::load(&args).unwrap();
        setup.add_device(dev).unwrap();
        tx.send(()).unwrap();
        daemon::run(setup, &Args::default()).unwrap()
    });
    rx.recv_timeout(TIMEOUT).unwrap();
    if let Some(d) = confdir {
        std::fs::remove_dir_all(d).unwrap();
    }
    port
}

#[test]
fn a_stalled_device_delays_no_other_ups() {
    let ctl = Arc::new(Ctl::default());
    let (found, _peer) = fake(APC, &ctl);
    let port = serve(
        DeviceSpec {
            name: "usb".into(),
            found: found.boxed(),
            opener: Box::new(|_| None),
            opts: Options {
                pollinterval_ms: 300,
                ..Options::default()
            },
            retry: Retry::default(),
        },
        Some("MAXAGE 2\n"),
    );
    let mut c = Client::connect(port);
    c.until("GET VAR usb battery.charge\n", |r| r.starts_with("VAR "));
    let want = c.ask("GET VAR sim battery.charge\n");
    assert_eq!(want, "VAR sim battery.charge \"100\"\n");

    ctl.stall_ms.store(4000, Ordering::SeqCst);
    let t0 = Instant::now();
    while !ctl.stalling.load(Ordering::SeqCst) {
        assert!(t0.elapsed() < TIMEOUT, "the device never stalled");
        std::thread::sleep(Duration::from_millis(2));
    }
    let stall = Instant::now();
    // The stalled UPS itself answers at once from the last copy while
    // that is younger than MAXAGE.
    assert_eq!(
        c.ask("GET VAR usb battery.charge\n"),
        "VAR usb battery.charge \"100\"\n"
    );
    let mut lat: Vec<Duration> = (0..200)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(c.ask("GET VAR sim battery.charge\n"), want);
            t.elapsed()
        })
        .collect();
    let during = stall.elapsed();
    let still = ctl.stalling.load(Ordering::SeqCst);
    lat.sort();
    println!(
        "200 GET VAR during a 4 s device stall: p50 {:?}, p99 {:?}, max {:?} \
         (all within {during:?} of the stall's start; stall still on: {still})",
        lat[99], lat[197], lat[199]
    );
    // Past MAXAGE (2 s) without an update: stale; after the stall, fresh.
    c.until("GET VAR usb battery.charge\n", |r| r == "ERR DATA-STALE\n");
    assert!(stall.elapsed() > Duration::from_millis(1200));
    c.until("GET VAR usb battery.charge\n", |r| r.starts_with("VAR "));
    assert!(stall.elapsed() > Duration::from_millis(3900));
}

#[test]
fn enodev_is_stale_over_the_protocol_until_the_device_is_back() {
    let ctl = Arc::new(Ctl::default());
    let (found, _peer) = fake(APC, &ctl);
    // Reopening finds the device again once it answers.
    let peers = Arc::new(Mutex::new(Vec::new()));
    let opener = {
        let (ctl, peers) = (ctl.clone(), peers.clone());
        Box::new(move |want: &UsbInfo| {
            assert_eq!(want.port, "1-1");
            if ctl.gone.load(Ordering::SeqCst) {
                return None;
            }
            let (f, peer) = fake(APC, &ctl);
            peers.lock().unwrap().push(peer);
            Some(f.boxed())
        })
    };
    let port = serve(
        DeviceSpec {
            name: "usb".into(),
            found: found.boxed(),
            opener,
            opts: Options {
                pollinterval_ms: 200,
                ..Options::default()
            },
            retry: Retry {
                fixed_ms: Some(200),
                max_tries: None,
            },
        },
        None,
    );
    let mut c = Client::connect(port);
    let status = c.until("GET VAR usb ups.status\n", |r| r.starts_with("VAR "));
    ctl.gone.store(true, Ordering::SeqCst);
    c.until("GET VAR usb ups.status\n", |r| r == "ERR DATA-STALE\n");
    // Only the UPS's data: the server and the other UPS go on.
    assert_eq!(
        c.ask("GET VAR sim ups.status\n").split(' ').next(),
        Some("VAR")
    );
    assert_eq!(c.ask("NETVER\n"), "1.3\n");
    ctl.gone.store(false, Ordering::SeqCst);
    assert_eq!(
        c.until("GET VAR usb ups.status\n", |r| r.starts_with("VAR ")),
        status
    );
    assert_eq!(peers.lock().unwrap().len(), 1, "reopened once");
}
