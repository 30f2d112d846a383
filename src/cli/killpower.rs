//! `hidupsd killpower`: the last step of the halt sequence. When the
//! power-down flag that a primary wrote is present, every configured UPS
//! is told to cut its outlets after `offdelay` and to restart when power
//! returns, as NUT's `usbhid-ups -k` does: the first of `shutdown.return`,
//! `shutdown.reboot`, `load.off.delay`, `shutdown.stayoff` (or the
//! `sdcommands` list) that the UPS accepts ends the sequence.
//!
//! It runs when the daemon has already stopped (a systemd-shutdown hook,
//! OpenRC's and procd's late shutdown), so it opens the hidraw nodes
//! itself. `--dry-run` reads the UPS but writes nothing and prints the
//! reports it would send.

use crate::recording::Recording;
use crate::text::Text;
use crate::ups::command::Step;
use crate::ups::engine::Ups;
use crate::ups::options::Options;
use crate::ups::transport::{IoError, Transport};
use std::fmt::Write as _;
use std::path::Path;

/// A UPS to power off: name, device, descriptor, identity, options and
/// `sdcommands`.
type Target = (
    String,
    Box<dyn crate::ups::transport::Transport>,
    Vec<u8>,
    crate::ups::options::Identity,
    Options,
    Option<String>,
);

/// `hidupsd killpower [-c DIR] [--dry-run] [--force]`: the last step of
/// the halt sequence (see the module docs).
pub fn run(args: &[String]) -> Result<(), String> {
    use crate::config::{ups_conf, upsmon_conf};
    let (mut dir, mut dry, mut force) = (std::path::PathBuf::from(super::CONFDIR), false, false);
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
        // A late shutdown hook must not fail on a host with nothing to
        // do: no upsmon.conf, one without POWERDOWNFLAG or without
        // MONITOR lines (Debian's stock file), no flag, or a file at the
        // flag's path that upsmon did not write (the daemon leaves such
        // a file alone too).
        let file = dir.join(upsmon_conf::FILE);
        let text = match std::fs::read(&file) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("killpower: {}: {e}", file.display())),
        };
        let read_flag = |p: &str| std::fs::read(p).ok();
        let decision = upsmon_conf::power_kill(&file, text.as_deref(), &read_flag)
            .map_err(|e| format!("killpower: {e} (or use --force)"))?;
        match decision {
            upsmon_conf::PowerKill::Kill(_) => {}
            upsmon_conf::PowerKill::NoFlagConfigured if text.is_none() => {
                println!(
                    "no {}: no power-down flag to look for, nothing to do",
                    file.display()
                );
                return Ok(());
            }
            upsmon_conf::PowerKill::NoFlagConfigured => {
                println!(
                    "{} sets no POWERDOWNFLAG: no power-down flag to look for, nothing to do",
                    file.display()
                );
                return Ok(());
            }
            upsmon_conf::PowerKill::NoFlag(flag) => {
                println!("no power-down flag at {flag}: nothing to do");
                return Ok(());
            }
            upsmon_conf::PowerKill::NotUpsmons(flag) => {
                println!(
                    "{flag} was not written by upsmon (it does not start with \
                     'upsmon-shutdown-file'): left alone, nothing to do"
                );
                return Ok(());
            }
        }
    }
    let conf = match ups_conf::load(&dir) {
        Ok(c) => c,
        Err(e) if e.line == 0 && !dir.join("ups.conf").exists() => ups_conf::UpsConf::default(),
        Err(e) => return Err(e.to_string()),
    };
    // (name, device, descriptor, identity, options, sdcommands)
    let mut targets: Vec<Target> = Vec::new();
    let mut nodes = crate::sys::hotplug::scan(Path::new(crate::sys::hotplug::CLASS)).into_iter();
    let mut found: Vec<crate::device::io::Found<crate::sys::hidraw::Hidraw>> = Vec::new();
    let mut probe_all = || {
        for n in nodes.by_ref() {
            if let crate::device::probe::Probed::Ups(f) = crate::device::probe::probe(&n) {
                found.push(f);
            }
        }
        std::mem::take(&mut found)
    };
    let mut usb = probe_all();
    // Megatec/Q1 units: (name, device, options), told by nutdrv_qx's rules.
    let mut megatec: Vec<(
        String,
        crate::device::io::Found<crate::sys::hidraw::Hidraw>,
        Options,
    )> = Vec::new();
    let is_qx = |f: &crate::device::io::Found<crate::sys::hidraw::Hidraw>, o: &Options| {
        matches!(
            crate::device::qxunit::serve(&f.descriptor, &f.info, o),
            crate::qx::usbid::Serve::Megatec(_)
        )
    };
    if conf.ups.is_empty() {
        for f in usb.drain(..) {
            let opts = Options::default();
            if is_qx(&f, &opts) {
                megatec.push((f.node.clone(), f, opts));
                continue;
            }
            let name = f.node.clone();
            targets.push((
                name,
                Box::new(f.dev),
                f.descriptor,
                crate::device::usb::identity(&f.info),
                opts,
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
                let sim = crate::device::sim::Sim::load(rec, &opts, &path.display().to_string())?;
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
                let m = crate::device::probe::matcher(&s.matching, &s.port)
                    .map_err(|e| format!("{}: {e}", s.name))?;
                match usb.iter().position(|f| m.matches(&f.node, &f.info)) {
                    Some(i) if is_qx(&usb[i], &opts) => {
                        megatec.push((s.name.clone(), usb.remove(i), opts));
                    }
                    Some(i) => {
                        let f = usb.remove(i);
                        let ident = crate::device::usb::identity(&f.info);
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
    if targets.is_empty() && megatec.is_empty() {
        return Err("killpower: no UPS to power off".into());
    }
    let mut failed = 0;
    for (name, mut f, opts) in megatec {
        match qx_shutdown(&mut f, &opts, dry) {
            Ok(text) => print!("{}", text.replace("{name}", &name)),
            Err(e) => {
                eprintln!("hidupsd: killpower: {name}: {e}");
                failed += 1;
            }
        }
    }
    for (name, mut dev, desc, ident, opts, sdcommands) in targets {
        let r = crate::ups::engine::Ups::new(&desc, ident, opts)
            .map_err(|e| e.to_string())
            .and_then(|mut ups| {
                ups.init(&mut *dev, 0);
                shutdown(&mut ups, &mut *dev, dry, sdcommands.as_deref(), &mut |ms| {
                    std::thread::sleep(std::time::Duration::from_millis(u64::from(ms)))
                })
            });
        match r {
            Ok(o) => print!("{}", render(&name, &o, dry)),
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

/// A transport that records every SET_REPORT, and with `dry` sends none.
pub struct Recorder<'a> {
    pub inner: &'a mut dyn Transport,
    pub dry: bool,
    pub writes: Vec<Vec<u8>>,
}

impl Transport for Recorder<'_> {
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.inner.get_feature(buf)
    }
    fn set_feature(&mut self, buf: &[u8]) -> Result<(), IoError> {
        self.writes.push(buf.to_vec());
        if self.dry {
            Ok(())
        } else {
            self.inner.set_feature(buf)
        }
    }
    fn string(&mut self, index: u8, out: &mut Text) -> bool {
        self.inner.string(index, out)
    }
}

/// nutdrv_qx's shutdown of a Megatec/Q1 unit: `shutdown.stop`, then
/// `shutdown.return` (`shutdown.stayoff` with `stayoff`), three tries
/// each; the lines to print, with `{name}` where the UPS's name goes.
fn qx_shutdown(
    f: &mut crate::device::io::Found<crate::sys::hidraw::Hidraw>,
    opts: &Options,
    dry: bool,
) -> Result<String, String> {
    use crate::device::qxunit::{serve, QxUnit};
    let crate::qx::usbid::Serve::Megatec(b) = serve(&f.descriptor, &f.info, opts) else {
        return Err("not a Megatec/Q1 unit".into());
    };
    let mut u = QxUnit::start(&mut f.dev, b, &f.info, opts, 0)?;
    let (r, sent) = u.shutdown_logged(&mut f.dev, dry);
    let verb = if dry { "to send (dry run)" } else { "sent" };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{{name}}: Megatec/Q1 protocol {} ({} bridge): {} command(s) {verb}",
        u.qx.proto.name,
        b.name(),
        sent.len()
    );
    for c in &sent {
        let _ = writeln!(
            s,
            "{{name}}: {}",
            String::from_utf8_lossy(c).trim_end_matches('\r')
        );
    }
    r.map(|()| s).map_err(|e| e.to_string())
}

/// NUT's order of shutdown commands when `sdcommands` is not set.
pub const DEFAULT_ORDER: [&str; 4] = [
    "shutdown.return",
    "shutdown.reboot",
    "load.off.delay",
    "shutdown.stayoff",
];

/// What one UPS was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command that went through.
    pub command: String,
    /// Each report written, with the step that wrote it.
    pub writes: Vec<(String, Vec<u8>)>,
}

/// Send the shutdown sequence to a started UPS. `pause` waits for the
/// given milliseconds (the 125 ms between the two delays).
pub fn shutdown(
    ups: &mut Ups,
    io: &mut dyn Transport,
    dry: bool,
    sdcommands: Option<&str>,
    pause: &mut dyn FnMut(u16),
) -> Result<Outcome, String> {
    let mut order: Vec<&str> = Vec::new();
    match sdcommands {
        Some(list) => {
            for s in list.split(',').map(str::trim) {
                if !s.is_empty() {
                    order.push(s);
                }
            }
        }
        None => order.extend_from_slice(&DEFAULT_ORDER),
    }
    let mut tried = Vec::new();
    for cmd in order {
        let Ok(plan) = ups.plan_command(cmd, None) else {
            tried.push(format!("{cmd}: not offered"));
            continue;
        };
        let mut rec = Recorder {
            inner: &mut *io,
            dry,
            writes: Vec::new(),
        };
        let mut steps = Vec::new();
        let mut failed = None;
        for step in plan.steps() {
            match step {
                Step::PauseMs(ms) => pause(ms),
                _ => {
                    let before = rec.writes.len();
                    if let Err(e) = ups.run_step(step, &mut rec, 0) {
                        failed = Some(e.name());
                        break;
                    }
                    for w in &rec.writes[before..] {
                        steps.push((describe(ups, step), w.clone()));
                    }
                }
            }
        }
        match failed {
            None => {
                return Ok(Outcome {
                    command: cmd.to_string(),
                    writes: steps,
                })
            }
            Some(e) => tried.push(format!("{cmd}: {e}")),
        }
    }
    Err(format!("no shutdown command worked ({})", tried.join("; ")))
}

fn describe(ups: &Ups, step: Step) -> String {
    match step {
        Step::Write { entry, value } => {
            let e = &ups.sub.map[entry as usize];
            format!("{} {} via {}", e.name(), value, e.path())
        }
        Step::SetVar { name, value } => format!("{name} = {value}"),
        Step::PauseMs(ms) => format!("pause {ms} ms"),
    }
}

/// One line per write: `SET_REPORT 0x16: 16 3c 00 (load.on.delay 60 via ...)`.
pub fn render(name: &str, o: &Outcome, dry: bool) -> String {
    let mut s = String::new();
    let verb = if dry { "to send (dry run)" } else { "sent" };
    let _ = writeln!(
        s,
        "{name}: {}: {} report(s) {verb}",
        o.command,
        o.writes.len()
    );
    for (what, bytes) in &o.writes {
        let _ = write!(
            s,
            "{name}: SET_REPORT 0x{:02x}:",
            bytes.first().copied().unwrap_or(0)
        );
        for b in bytes {
            let _ = write!(s, " {b:02x}");
        }
        let _ = writeln!(s, "  ({what})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::decode;
    use crate::recording::Recording;
    use crate::ups::options::Options;
    use std::path::Path;

    fn load(name: &str, opts: Options) -> (Ups, crate::recording::Replay) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        decode::decode(&Recording::load(&dir).unwrap(), opts).unwrap()
    }

    #[test]
    fn shutdown_return_writes_ondelay_then_offdelay_and_dry_run_sends_nothing() {
        let opts = Options {
            ondelay: Some("120".into()),
            offdelay: Some("60".into()),
            ..Options::default()
        };
        let (mut ups, mut io) = load("cps-or2200lcdrt2u", opts);
        let mut pauses = Vec::new();
        let o = shutdown(&mut ups, &mut io, true, None, &mut |ms| pauses.push(ms)).unwrap();
        assert_eq!(o.command, "shutdown.return");
        assert_eq!(pauses, [125]);
        assert_eq!(o.writes.len(), 2);
        assert!(
            o.writes[0].0.starts_with("load.on.delay 120 via"),
            "{:?}",
            o.writes
        );
        assert!(
            o.writes[1].0.starts_with("load.off.delay 60 via"),
            "{:?}",
            o.writes
        );
        assert!(io.writes.is_empty(), "a dry run must not write");
        let text = render("cps", &o, true);
        assert!(
            text.starts_with("cps: shutdown.return: 2 report(s) to send (dry run)\n"),
            "{text}"
        );
        // For real: the same bytes reach the device.
        let o2 = shutdown(&mut ups, &mut io, false, None, &mut |_| {}).unwrap();
        assert_eq!(
            io.writes,
            o2.writes.iter().map(|w| w.1.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn falls_through_the_order_and_honours_sdcommands() {
        // The BK650M2 has no startup delay, so no shutdown.return: the
        // next in NUT's order, shutdown.reboot, goes through.
        let (mut ups, mut io) = load("apc-back-ups-bk650m2-ch", Options::default());
        let o = shutdown(&mut ups, &mut io, true, None, &mut |_| {}).unwrap();
        assert_eq!(o.command, "shutdown.reboot");
        let o = shutdown(
            &mut ups,
            &mut io,
            true,
            Some("nonsense, load.off.delay"),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(o.command, "load.off.delay");
        let e = shutdown(&mut ups, &mut io, true, Some("nothing.here"), &mut |_| {}).unwrap_err();
        assert!(e.contains("nothing.here: not offered"), "{e}");
    }

    /// What each recorded UPS is sent with `offdelay = 120` and `ondelay
    /// = 180`, as hidupsd(8) documents it per vendor: only
    /// `shutdown.return` writes `offdelay`; APC's `shutdown.reboot` and a
    /// bare `load.off.delay` write the table's fixed delay, as NUT does.
    #[test]
    fn the_delay_each_vendor_gets() {
        let cases: &[(&str, Option<&str>, &str, &[&str])] = &[
            (
                "apc-back-ups-bk650m2-ch",
                None,
                "shutdown.reboot",
                &["shutdown.reboot 10 via"],
            ),
            (
                "apc-back-ups-es-850g2",
                None,
                "shutdown.reboot",
                &["shutdown.reboot 10 via"],
            ),
            (
                "apc-smart-ups-x-750",
                None,
                "shutdown.reboot",
                &["shutdown.reboot 10 via"],
            ),
            (
                "apc-back-ups-bx1600mi",
                Some("load.off.delay"),
                "load.off.delay",
                &["load.off.delay 20 via"],
            ),
            (
                "cps-cp1500avrlcda",
                None,
                "shutdown.return",
                &["load.on.delay 180 via", "load.off.delay 120 via"],
            ),
            (
                "cps-ec850lcd",
                Some("load.off.delay"),
                "load.off.delay",
                &["load.off.delay 60 via"],
            ),
            (
                "eaton-5sc-750",
                None,
                "shutdown.return",
                &[
                    "ups.start.auto = yes",
                    "load.on.delay 180 via",
                    "load.off.delay 120 via",
                ],
            ),
            (
                "tripplite-09ae-3016",
                None,
                "shutdown.return",
                &["load.on.delay 180 via", "load.off.delay 120 via"],
            ),
            (
                "idowell-075d-0300-smart-battery",
                None,
                "shutdown.return",
                &["load.on.delay 180 via", "load.off.delay 120 via"],
            ),
        ];
        for &(name, sd, cmd, writes) in cases {
            let opts = Options {
                offdelay: Some("120".into()),
                ondelay: Some("180".into()),
                ..Options::default()
            };
            let (mut ups, mut io) = load(name, opts);
            let o = shutdown(&mut ups, &mut io, true, sd, &mut |_| {}).unwrap();
            assert_eq!(o.command, cmd, "{name}");
            assert_eq!(o.writes.len(), writes.len(), "{name}: {:?}", o.writes);
            for (w, want) in o.writes.iter().zip(writes) {
                assert!(w.0.starts_with(want), "{name}: {:?}", o.writes);
            }
        }
        // No shutdown command at all: the error lists what was tried.
        for name in [
            "liebert-psi5",
            "powercom-hid-ups-battery",
            "vertiv-liebert-gxt5",
        ] {
            let (mut ups, mut io) = load(name, Options::default());
            let e = shutdown(&mut ups, &mut io, true, None, &mut |_| {}).unwrap_err();
            assert!(e.contains("shutdown.return: not offered"), "{name}: {e}");
        }
    }
}
