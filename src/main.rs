//! The `hidupsd` binary: argv in, an exit code out; every mode is in
//! the library's `cli` module.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let name = argv.next().unwrap_or_default();
    let mut args = Vec::new();
    args.extend(argv);
    match hidupsd::cli::run(&name, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(1)
        }
    }
}
