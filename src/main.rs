//! The `hidupsd` binary: argument parsing and dispatch only.

use hidupsd::decode;
use hidupsd::recording::Recording;
use hidupsd::ups::engine::Options;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: hidupsd decode [--explore] PATH
  decode PATH       print the variables NUT would publish for a recorded UPS
                    (a fixture directory or a recording file), or for a
                    live one read once through /dev/hidrawN
  --explore         print every HID field instead
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
        Some(other) => Err(format!("unknown command '{other}' (see hidupsd --help)")),
        None => Err(USAGE.trim_end().to_string()),
    }
}
