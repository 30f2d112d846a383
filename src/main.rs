//! The `hidupsd` binary: argument parsing and dispatch only.

use hidupsd::recording::Recording;
use hidupsd::ups::engine::Options;
use hidupsd::{daemon, decode};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: hidupsd [--simulate [NAME=]PATH]... [--listen ADDR:PORT]... [-c DIR]
       hidupsd decode [--explore] PATH
  (no arguments)    serve every USB UPS found, read-only, on 127.0.0.1:3493
                    and [::1]:3493
  --simulate [NAME=]PATH
                    serve a recorded UPS (fixture directory or recording
                    file) as NAME (default: the file name)
  --listen ADDR:PORT
                    listen there (default: upsd.conf's LISTEN, else
                    127.0.0.1:3493 and [::1]:3493)
  -c DIR            read upsd.conf, upsd.users and ups.conf from DIR
                    (ups.conf sections with driver = usbhid-ups, or
                    driver = sim, port = PATH; without sections every USB
                    UPS found is served)
  decode PATH       print the variables NUT would publish for a recorded UPS
                    (a fixture directory or a recording file), or for a
                    live one read once through /dev/hidrawN
  --explore         print every HID field instead
The server runs in the foreground until killed.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "hidupsd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("decode") => {
            let mut explore = false;
            let mut path = None;
            for a in &args[1..] {
                match a.as_str() {
                    "--explore" | "-x" => explore = true,
                    s if s.starts_with('-') => {
                        return Err(format!("decode: unknown option '{s}' (see hidupsd --help)"))
                    }
                    s if path.is_none() => path = Some(s),
                    s => return Err(format!("decode: unexpected argument '{s}'")),
                }
            }
            let path = path.ok_or("decode: missing PATH (see hidupsd --help)")?;
            let rec = Recording::load(Path::new(path)).map_err(|e| e.to_string())?;
            let (ups, _) =
                decode::decode(&rec, Options::default()).map_err(|e| format!("{path}: {e}"))?;
            let mut out = std::io::stdout().lock();
            let r = if explore {
                decode::print_explore(&ups, &mut out)
            } else {
                decode::print_vars(&ups, &mut out)
            };
            // A closed pipe (`| head`) is not an error.
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
        Some("-h") | Some("--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(a) if a.starts_with('-') => serve(args),
        Some(other) => Err(format!("unknown command '{other}' (see hidupsd --help)")),
        // No configuration: every UPS found, read-only, on loopback.
        None => serve(args),
    }
}

/// The server: options, then the configuration, then the loop.
fn serve(args: &[String]) -> Result<(), String> {
    let mut a = daemon::Args::default();
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{opt}: missing {what} (see hidupsd --help)"))
        };
        match opt.as_str() {
            "--simulate" => a.simulate.push(value("[NAME=]PATH")?),
            "--listen" => a.listen.push(value("ADDR:PORT")?),
            "-c" => a.confdir = Some(value("DIR")?.into()),
            s => return Err(format!("unknown option '{s}' (see hidupsd --help)")),
        }
    }
    daemon::run(daemon::Setup::load(&a)?)
}
