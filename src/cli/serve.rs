//! `hidupsd [options]`: the server. Its options become the
//! configuration's [`Args`]; the configuration is loaded (and a bad one
//! refused) while errors still reach the terminal; then, if asked, the
//! process detaches, writes its pid file and runs the daemon's loop.

use crate::config::setup::Args;
use crate::daemon;

/// Where `-B` writes its pid unless `--pidfile` says otherwise.
const DEFAULT_PIDFILE: &str = "/run/hidupsd.pid";

/// The server: options, then the configuration, then the loop.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut a = Args::default();
    let (mut background, mut foreground) = (false, false);
    let (mut pidfile, mut syslog, mut debug) = (None::<String>, false, 0u8);
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{opt}: missing {what} (see hidupsd --help)"))
        };
        match opt.as_str() {
            "--simulate" => a.simulate.push(value("[NAME=]PATH")?),
            "--script" => {
                let file = value("FILE")?;
                let ups =
                    a.simulate.len().checked_sub(1).ok_or(
                        "--script: it drives the --simulate UPS before it, and there is none",
                    )?;
                a.scripts.push((ups, file.into()));
            }
            "--listen" => a.listen.push(value("ADDR:PORT")?),
            "-c" => a.confdir = Some(value("DIR")?.into()),
            "-u" => a.user = Some(value("USER")?),
            "-B" => background = true,
            // NUT's "stay in the foreground": already the default.
            "-F" => foreground = true,
            "--pidfile" => pidfile = Some(value("PATH")?),
            "--syslog" => syslog = true,
            // NUT's debug levels: -D, -DD, -DDD...
            d if d.len() > 1 && d.starts_with('-') && d[1..].bytes().all(|b| b == b'D') => {
                debug = debug.saturating_add((d.len() - 1) as u8)
            }
            s => return Err(format!("unknown option '{s}' (see hidupsd --help)")),
        }
    }
    if background && foreground {
        return Err(
            "-B and -F contradict each other: -B detaches, -F stays in the \
                    foreground (the default)"
                .into(),
        );
    }
    // Load (and refuse a bad configuration) while errors still reach the
    // terminal; then detach if asked, keeping stderr for the log.
    crate::sys::log::set_level(debug);
    let setup = daemon::Setup::load(&a)?;
    // A detached daemon has no terminal: syslog is where its log goes,
    // chosen while the terminal can still be told where that is.
    syslog |= background;
    if syslog {
        match crate::sys::log::try_syslog() {
            Ok(None) => {}
            Ok(Some(note)) => eprintln!("hidupsd: {note}"),
            Err(e) => eprintln!("hidupsd: warning: {e}"),
        }
    }
    if background {
        pidfile.get_or_insert_with(|| DEFAULT_PIDFILE.to_string());
        nix::unistd::daemon(false, false)
            .map_err(|e| format!("-B: cannot detach: {}", std::io::Error::from(e)))?;
    }
    // Written before privileges are dropped (/run is root's); removed on
    // a clean exit where the directory allows.
    if let Some(p) = &pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("--pidfile {p}: {e}"))?;
    }
    let r = daemon::run(setup, &a);
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    if let (Err(e), true) = (&r, syslog) {
        // stderr may go nowhere (detached): say it where the log goes.
        crate::sys::log::error(format_args!("{e}"));
    }
    r
}
