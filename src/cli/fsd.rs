//! `hidupsd fsd [UPS]`: what `upsmon -c fsd` does. Each UPS that
//! upsmon.conf monitors as primary (or only UPS) gets FSD from a login as
//! its MONITOR line's user, so that its secondaries and then this host
//! shut down.

use std::io::Write;

/// `hidupsd fsd`: log in to each UPS upsmon.conf monitors as primary, as
/// that MONITOR line's user, and send FSD, so that every secondary and
/// then the primary itself shut down (the test usbhid-ups(8) asks for).
pub fn run(args: &[String]) -> Result<(), String> {
    use crate::config::{upsmon_conf, Role};
    use std::io::{BufRead, BufReader};
    let (mut dir, mut only) = (std::path::PathBuf::from(super::CONFDIR), None);
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
    // A bare or @localhost entry is this host's server, wherever
    // upsd.conf's LISTEN put it.
    let listen = match crate::config::upsd_conf::load(&dir) {
        Ok(c) => c.listen,
        Err(_) if !dir.join(crate::config::upsd_conf::FILE).exists() => Vec::new(),
        Err(e) => return Err(format!("fsd: {e}")),
    };
    for m in targets {
        let (host, port) = m.connect_to(&listen);
        let at = format!("{}@{host}:{port}", m.ups);
        let stream = std::net::TcpStream::connect((host.as_str(), port))
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
