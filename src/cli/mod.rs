//! The binary's modes, one file each: [`serve`] (the daemon), [`decode`],
//! [`record`], [`scan`], [`killpower`], [`fsd`] and [`upsc`] (when called
//! as `upsc`). Each parses its own arguments and calls into the library;
//! `main.rs` only hands argv here and turns the result into an exit code.
//!
//! Boundary: the only module that parses a command line or prints to a
//! terminal for a user; errors come back as the text to print.

pub mod decode;
pub mod fsd;
pub mod killpower;
pub mod record;
pub mod scan;
pub mod serve;
pub mod upsc;

use std::io::Write;
use std::path::Path;

const USAGE: &str =
    "usage: hidupsd [--simulate [NAME=]PATH [--script FILE]...]... [--listen ADDR:PORT]...
               [-c DIR] [-u USER] [-D]... [-B | -F] [--pidfile PATH] [--syslog]
       hidupsd decode [--explore] PATH
       hidupsd record /dev/hidrawN [SECONDS] > FILE
       hidupsd scan
       hidupsd killpower [-c DIR] [--dry-run] [--force]
       hidupsd fsd [-c DIR] [UPS]
  (no arguments)    serve every USB UPS found, read-only, on 127.0.0.1:3493
                    and [::1]:3493
  --simulate [NAME=]PATH
                    serve a recorded UPS (fixture directory or recording
                    file) as NAME (default: the file or directory
                    name)
  --script FILE     add FILE's script lines (at SECONDS powercut, ...) to
                    the --simulate UPS just before it
  --listen ADDR:PORT
                    listen there (default: upsd.conf's LISTEN, else
                    127.0.0.1:3493 and [::1]:3493)
  -B                detach and run in the background, logging to syslog,
                    with a pid file (default: foreground, as service
                    managers expect; NUT's -F says so, and is refused
                    with -B)
  -u USER           run as USER (and its groups) once the sockets are
                    open; SHUTDOWNCMD, the power-down flag and opening UPS
                    nodes USER may not open stay with a small root helper
                    (default: ups.conf's user, else upsmon.conf's
                    RUN_AS_USER, else no change)
  -D                more debug messages; repeat for more (-DD)
  --pidfile PATH    write the process id there (default with -B:
                    /run/hidupsd.pid)
  --syslog          log to syslog (daemon facility) instead of stderr
  -c DIR            read ups.conf, upsd.conf, upsd.users, upsmon.conf
                    and nut.conf's MODE from DIR (ups.conf sections with
                    driver = usbhid-ups, or driver = sim, port = PATH;
                    without sections every USB UPS found is served;
                    upsmon.conf: shut down as upsmon does; MODE=netclient:
                    monitor only)
  decode PATH       print the variables NUT would publish for a recorded UPS
                    (a fixture directory or a recording file), or for a
                    live one read once through /dev/hidrawN
  --explore         print every HID field instead
  record NODE       write a recording of a live UPS to standard output:
                    identity, strings, descriptor, every feature report and
                    the input reports seen for SECONDS (default 5)
  killpower         when upsmon.conf's POWERDOWNFLAG file exists (or with
                    --force), tell every UPS to cut power after offdelay
                    and restart when mains return; --dry-run prints the
                    reports instead of sending them
  fsd [UPS]         what upsmon -c fsd does: raise FSD on every UPS that
                    upsmon.conf monitors as primary (or only UPS), so the
                    secondaries and then this host shut down
                    (killpower and fsd read -c DIR, default /etc/nut)
  scan              list UPS hidraw nodes with ready-to-paste ups.conf
                    sections, as nut-scanner -U does
The server runs in the foreground until SIGTERM; SIGHUP reloads.
Called as upsc (a symlink), hidupsd is NUT's upsc.
";

/// The configuration directory of `killpower` and `fsd` without `-c`:
/// where NUT's files already are.
const CONFDIR: &str = "/etc/nut";

/// Run the binary called `name` (argv\[0\]) with `args`; the error is the
/// line to print on standard error.
pub fn run(name: &str, args: &[String]) -> Result<(), String> {
    // Called through an `upsc` symlink: be NUT's upsc.
    if Path::new(name).file_name().is_some_and(|n| n == "upsc") {
        // Gathered, then written in one go: standard output as a `dyn
        // Write` would bring its vectored-write paths to the binary.
        let mut out = Vec::new();
        let r = upsc::main(args, &mut out);
        let written = std::io::stdout().write_all(&out);
        r.map_err(|e| format!("Error: {}", e.0))?;
        return written.map_err(|e| format!("Error: write: {e}"));
    }
    mode(args).map_err(|e| format!("hidupsd: {e}"))
}

fn mode(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("decode") => decode::run(&args[1..]),
        Some("record") => record::run(&args[1..]),
        Some("scan") => scan::run(),
        Some("killpower") => killpower::run(&args[1..]),
        Some("fsd") => fsd::run(&args[1..]),
        Some("-h") | Some("--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(a) if a.starts_with('-') => serve::run(args),
        Some(other) => Err(format!("unknown command '{other}' (see hidupsd --help)")),
        // No configuration: every UPS found, read-only, on loopback.
        None => serve::run(args),
    }
}
