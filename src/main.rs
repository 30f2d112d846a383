//! The `hidupsd` binary: argument parsing and dispatch only.

use hidupsd::recording::Recording;
use hidupsd::ups::options::Options;
use hidupsd::{daemon, decode};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

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
                    file) as NAME (default: the file name)
  --script FILE     add FILE's script lines (at SECONDS powercut, ...) to
                    the --simulate UPS just before it
  --listen ADDR:PORT
                    listen there (default: upsd.conf's LISTEN, else
                    127.0.0.1:3493 and [::1]:3493)
  -B                detach and run in the background, logging to syslog,
                    with a pid file (default: foreground, as service
                    managers expect; -F is accepted too)
  -u USER           run as USER (and its groups) once the sockets are
                    open; SHUTDOWNCMD and the power-down flag stay with a
                    small root helper (default: ups.conf's user, else
                    upsmon.conf's RUN_AS_USER, else no change)
  -D                more debug messages; repeat for more (-DD)
  --pidfile PATH    write the process id there (default with -B:
                    /run/hidupsd.pid)
  --syslog          log to syslog (daemon facility) instead of stderr
  -c DIR            read upsd.conf, upsd.users and ups.conf from DIR
                    (ups.conf sections with driver = usbhid-ups, or
                    driver = sim, port = PATH; without sections every USB
                    UPS found is served)
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

/// Where `-B` writes its pid unless `--pidfile` says otherwise.
const DEFAULT_PIDFILE: &str = "/run/hidupsd.pid";

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let name = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    // Called through an `upsc` symlink: be NUT's upsc.
    if Path::new(&name).file_name().is_some_and(|n| n == "upsc") {
        return match hidupsd::upsc::main(&args, &mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "Error: {}", e.0);
                ExitCode::from(1)
            }
        };
    }
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
        Some("record") => {
            let node = args
                .get(1)
                .ok_or("record: missing /dev/hidrawN (see hidupsd --help)")?;
            let secs: u64 = match args.get(2) {
                Some(s) => s
                    .parse()
                    .map_err(|_| format!("record: '{s}' is not a number of seconds"))?,
                None => 5,
            };
            let f = decode::open_ups(Path::new(node))?;
            let (mut dev, info) = (f.dev, f.info);
            let rec = hidupsd::device::record::capture(&mut dev, &info, secs * 1000)
                .map_err(|e| format!("{node}: {e}"))?;
            let text = hidupsd::device::record::to_text(
                &rec,
                &format!("hidupsd {} recording of {node}", env!("CARGO_PKG_VERSION")),
            );
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())
        }
        Some("scan") => {
            let mut found = 0;
            for node in hidupsd::sys::hotplug::scan(Path::new("/sys/class/hidraw")) {
                let path = format!("/dev/{node}");
                let Ok(hidupsd::device::io::Found { dev, info, .. }) =
                    decode::open_ups(Path::new(&path))
                else {
                    continue;
                };
                drop(dev);
                let ident = hidupsd::ups::options::Identity {
                    vid: info.vid,
                    pid: info.pid,
                    vendor: info.manufacturer.clone(),
                    product: info.product.clone(),
                    serial: info.serial.clone(),
                };
                let key = hidupsd::ups::select::choose(&ident, &Options::default())
                    .map_or("generic", |c| c.sub.key);
                let name = hidupsd::device::naming::stable_name(key, &info);
                println!(
                    "{}",
                    hidupsd::device::scan::conf_section(&name, &node, &info)
                );
                found += 1;
            }
            if found == 0 {
                eprintln!(
                    "hidupsd: no UPS found among /dev/hidraw* (or no permission to open them)"
                );
            }
            Ok(())
        }
        Some("killpower") => killpower(&args[1..]),
        Some("fsd") => fsd(&args[1..]),
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
    let mut a = hidupsd::config::setup::Args::default();
    let mut background = false;
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
            "-F" => background = false,
            "--pidfile" => pidfile = Some(value("PATH")?),
            "--syslog" => syslog = true,
            // NUT's debug levels: -D, -DD, -DDD...
            d if d.len() > 1 && d.starts_with('-') && d[1..].bytes().all(|b| b == b'D') => {
                debug = debug.saturating_add((d.len() - 1) as u8)
            }
            s => return Err(format!("unknown option '{s}' (see hidupsd --help)")),
        }
    }
    // Load (and refuse a bad configuration) while errors still reach the
    // terminal; then detach if asked, keeping stderr for the log.
    hidupsd::sys::log::set_level(debug);
    let setup = daemon::Setup::load(&a)?;
    if background {
        // A detached daemon has no terminal: syslog is where its log goes.
        syslog = true;
        pidfile.get_or_insert_with(|| DEFAULT_PIDFILE.to_string());
        nix::unistd::daemon(false, false).map_err(|e| format!("-B: cannot detach: {e}"))?;
    }
    if syslog {
        hidupsd::sys::log::use_syslog();
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
        hidupsd::sys::log::log(format_args!("{e}"));
    }
    r
}

/// A UPS to power off: name, device, descriptor, identity, options and
/// `sdcommands`.
type Target = (
    String,
    Box<dyn hidupsd::ups::transport::Transport>,
    Vec<u8>,
    hidupsd::ups::options::Identity,
    Options,
    Option<String>,
);

/// The last step of the halt sequence (see `device::killpower`).
fn killpower(args: &[String]) -> Result<(), String> {
    use hidupsd::config::{ups_conf, upsmon_conf};
    use hidupsd::device::{killpower, matcher::Matcher};
    let (mut dir, mut dry, mut force) = (std::path::PathBuf::from(CONFDIR), false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => dir = it.next().ok_or("killpower: -c needs DIR")?.into(),
            "--dry-run" | "-n" => dry = true,
            "--force" => force = true,
            s => {
                return Err(format!(
                    "killpower: unknown option '{s}' (see hidupsd --help)"
                ))
            }
        }
    }
    if !dir.is_dir() {
        return Err(format!("killpower: {}: not a directory", dir.display()));
    }
    if !force {
        // No monitor configured, no flag to find: a late shutdown hook
        // must not fail on a host that does not use one.
        if !dir.join(upsmon_conf::FILE).exists() {
            println!(
                "no {}/{}: no power-down flag to look for, nothing to do",
                dir.display(),
                upsmon_conf::FILE
            );
            return Ok(());
        }
        let mon =
            upsmon_conf::load(&dir).map_err(|e| format!("killpower: {e} (or use --force)"))?;
        let flag = mon.powerdownflag.ok_or_else(|| {
            format!(
                "killpower: {}/upsmon.conf sets no POWERDOWNFLAG (or use --force)",
                dir.display()
            )
        })?;
        if !Path::new(&flag).exists() {
            println!("no power-down flag at {flag}: nothing to do");
            return Ok(());
        }
    }
    let conf = match ups_conf::load(&dir) {
        Ok(c) => c,
        Err(e) if e.line == 0 && !dir.join("ups.conf").exists() => ups_conf::UpsConf::default(),
        Err(e) => return Err(e.to_string()),
    };
    // (name, device, descriptor, identity, options, sdcommands)
    let mut targets: Vec<Target> = Vec::new();
    let mut nodes =
        hidupsd::sys::hotplug::scan(Path::new(hidupsd::sys::hotplug::CLASS)).into_iter();
    let mut found: Vec<hidupsd::device::io::Found<hidupsd::sys::hidraw::Hidraw>> = Vec::new();
    let mut probe_all = || {
        for n in nodes.by_ref() {
            if let hidupsd::device::probe::Probed::Ups(f) = hidupsd::device::probe::probe(&n) {
                found.push(f);
            }
        }
        std::mem::take(&mut found)
    };
    let mut usb = probe_all();
    if conf.ups.is_empty() {
        for f in usb.drain(..) {
            let name = f.node.clone();
            targets.push((
                name,
                Box::new(f.dev),
                f.descriptor,
                hidupsd::device::usb::identity(&f.info),
                Options::default(),
                None,
            ));
        }
    }
    for s in &conf.ups {
        let opts = ups_conf::engine_options(s);
        match &s.driver {
            ups_conf::Driver::Sim(p) => {
                let path = dir.join(p);
                let rec = Recording::load(&path).map_err(|e| e.to_string())?;
                let ident = rec.ident.clone();
                let desc = rec.descriptor.clone();
                let sim = hidupsd::device::sim::Sim::load(rec, &opts, &path.display().to_string())?;
                let ups = sim.start(&s.name).map_err(|e| format!("{}: {e}", s.name))?;
                let dev = ups.open().map_err(|e| format!("{}: {e}", s.name))?;
                targets.push((
                    s.name.clone(),
                    Box::new(dev),
                    desc,
                    ident,
                    opts,
                    s.sdcommands.clone(),
                ));
            }
            ups_conf::Driver::UsbHid => {
                let m =
                    Matcher::new(&s.matching, &s.port).map_err(|e| format!("{}: {e}", s.name))?;
                match usb.iter().position(|f| m.matches(&f.node, &f.info)) {
                    Some(i) => {
                        let f = usb.remove(i);
                        let ident = hidupsd::device::usb::identity(&f.info);
                        targets.push((
                            s.name.clone(),
                            Box::new(f.dev),
                            f.descriptor,
                            ident,
                            opts,
                            s.sdcommands.clone(),
                        ));
                    }
                    None => eprintln!("hidupsd: killpower: {}: no matching UPS found", s.name),
                }
            }
        }
    }
    if targets.is_empty() {
        return Err("killpower: no UPS to power off".into());
    }
    let mut failed = 0;
    for (name, mut dev, desc, ident, opts, sdcommands) in targets {
        let r = hidupsd::ups::engine::Ups::new(&desc, ident, opts)
            .map_err(|e| e.to_string())
            .and_then(|mut ups| {
                ups.init(&mut *dev, 0);
                killpower::shutdown(&mut ups, &mut *dev, dry, sdcommands.as_deref(), &mut |ms| {
                    std::thread::sleep(std::time::Duration::from_millis(u64::from(ms)))
                })
            });
        match r {
            Ok(o) => print!("{}", killpower::render(&name, &o, dry)),
            Err(e) => {
                eprintln!("hidupsd: killpower: {name}: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "killpower: {failed} UPS(es) could not be told to power off"
        ));
    }
    Ok(())
}

/// `hidupsd fsd`: log in to each UPS upsmon.conf monitors as primary, as
/// that MONITOR line's user, and send FSD, so that every secondary and
/// then the primary itself shut down (the test usbhid-ups(8) asks for).
fn fsd(args: &[String]) -> Result<(), String> {
    use hidupsd::config::{upsmon_conf, Role};
    use std::io::{BufRead, BufReader};
    let (mut dir, mut only) = (std::path::PathBuf::from(CONFDIR), None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => dir = it.next().ok_or("fsd: -c needs DIR")?.into(),
            s if s.starts_with('-') => {
                return Err(format!("fsd: unknown option '{s}' (see hidupsd --help)"))
            }
            s => only = Some(s.to_string()),
        }
    }
    let conf = upsmon_conf::load(&dir).map_err(|e| format!("fsd: {e}"))?;
    let targets: Vec<_> = conf
        .monitors
        .iter()
        .filter(|m| {
            m.role == Role::Primary
                && only
                    .as_deref()
                    .map_or(true, |u| u == m.ups || u == m.system)
        })
        .collect();
    if targets.is_empty() {
        return Err(match only {
            Some(u) => format!(
                "fsd: {}/upsmon.conf monitors no UPS '{u}' as primary",
                dir.display()
            ),
            None => format!(
                "fsd: {}/upsmon.conf monitors no UPS as primary",
                dir.display()
            ),
        });
    }
    for m in targets {
        let at = format!("{}@{}:{}", m.ups, m.host, m.port);
        let stream = std::net::TcpStream::connect((m.host.as_str(), m.port))
            .map_err(|e| format!("fsd: {at}: {e}"))?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut w = stream.try_clone().map_err(|e| e.to_string())?;
        let mut r = BufReader::new(stream);
        let steps = [
            (format!("USERNAME {}", m.user), "OK"),
            (format!("PASSWORD {}", m.password), "OK"),
            (format!("LOGIN {}", m.ups), "OK"),
            (format!("PRIMARY {}", m.ups), "OK"),
            (format!("FSD {}", m.ups), "OK FSD-SET"),
        ];
        for (line, want) in steps {
            w.write_all(format!("{line}\n").as_bytes())
                .map_err(|e| format!("fsd: {at}: {e}"))?;
            let mut reply = String::new();
            r.read_line(&mut reply)
                .map_err(|e| format!("fsd: {at}: {e}"))?;
            let reply = reply.trim_end();
            // PRIMARY answers "OK" (older servers "OK MASTER-GRANTED").
            if !(reply == want || (want == "OK" && reply.starts_with("OK "))) {
                let verb = line.split(' ').next().unwrap_or("");
                return Err(format!("fsd: {at}: {verb} answered '{reply}'"));
            }
        }
        let _ = w.write_all(b"LOGOUT\n");
        println!("{at}: forced shutdown set");
    }
    Ok(())
}
