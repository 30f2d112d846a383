//! `hidupsd fsd [UPS]`: what `upsmon -c fsd` does. Each UPS that
//! upsmon.conf monitors as primary (or only UPS) gets FSD from a login as
//! its MONITOR line's user, so that its secondaries and then this host
//! shut down. The login is the built-in monitor's
//! ([`crate::monitor::remote::Conversation`]), so a password that needs
//! quoting, or a server older than NUT 2.8.0, works here as it does
//! there.

use crate::monitor::remote::{Answer, Conversation};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// `hidupsd fsd`: log in to each UPS upsmon.conf monitors as primary, as
/// that MONITOR line's user, and send FSD, so that every secondary and
/// then the primary itself shut down (the test usbhid-ups(8) asks for).
pub fn run(args: &[String]) -> Result<(), String> {
    use crate::config::{upsmon_conf, Role};
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
    let mut targets = Vec::new();
    for m in &conf.monitors {
        let named = only
            .as_deref()
            .map_or(true, |u| u == m.ups || u == m.system);
        if m.role == Role::Primary && named {
            targets.push(m);
        }
    }
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
        let stream =
            TcpStream::connect((host.as_str(), port)).map_err(|e| format!("fsd: {at}: {e}"))?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        raise(&stream, &m.ups, &m.user, &m.password).map_err(|e| format!("fsd: {at}: {e}"))?;
        println!("{at}: forced shutdown set");
    }
    Ok(())
}

/// Log in to `ups` on `stream` as upsmon does (the monitor's own
/// sequence: words escaped, `MASTER` when the server knows no `PRIMARY`),
/// then send `FSD` once the login is through. The error names the
/// request the server refused.
fn raise(stream: &TcpStream, ups: &str, user: &str, password: &str) -> Result<(), String> {
    let mut r = BufReader::new(stream);
    let mut w = stream;
    let mut out = String::new();
    let mut send = |out: &mut String| -> Result<(), String> {
        let sent = w.write_all(out.as_bytes()).map_err(|e| e.to_string());
        out.clear();
        sent
    };
    let mut conv = Conversation::start(ups, user, password, true, &mut out);
    send(&mut out)?;
    let mut line = Vec::new();
    let mut answer =
        |conv: &mut Conversation, out: &mut String| -> Result<Option<Answer>, String> {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => Err("the server closed the connection".into()),
                Ok(_) => {
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    Ok(conv.line(text.strip_suffix(b"\r").unwrap_or(text), out))
                }
                Err(e) => Err(e.to_string()),
            }
        };
    while conv.unanswered() > 0 {
        let reply = answer(&mut conv, &mut out)?;
        // The MASTER fallback, if PRIMARY was refused.
        send(&mut out)?;
        if let Some(Answer::Refused { request, err }) = reply {
            return Err(format!("{request} refused: {err}"));
        }
    }
    conv.fsd(&mut out).map_err(|e| e.to_string())?;
    send(&mut out)?;
    let done = match answer(&mut conv, &mut out)? {
        Some(Answer::FsdSet) => Ok(()),
        Some(Answer::FsdRefused(err)) => Err(format!("FSD refused: {err}")),
        // Only FSD is waiting: its answer is one of the two.
        _ => Err("FSD: unexpected answer".into()),
    };
    let _ = w.write_all(b"LOGOUT\n");
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each line it reads from `script` (expected
    /// line, answer) in order; returns what it read.
    fn serve(
        script: &'static [(&'static str, &'static str)],
    ) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(&s);
            let mut w = &s;
            let mut got = Vec::new();
            for (_, answer) in script {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                got.push(line.trim_end_matches('\n').to_string());
                w.write_all(format!("{answer}\n").as_bytes()).unwrap();
            }
            got
        });
        (port, t)
    }

    #[test]
    fn fsd_escapes_the_password_and_falls_back_to_master() {
        const SCRIPT: &[(&str, &str)] = &[
            ("USERNAME mon", "OK"),
            ("PASSWORD \"pa ss\\\"wd\"", "OK"),
            ("LOGIN ups", "OK"),
            // A NUT 2.7 server: no PRIMARY yet.
            ("PRIMARY ups", "ERR UNKNOWN-COMMAND"),
            ("MASTER ups", "OK MASTER-GRANTED"),
            ("FSD ups", "OK FSD-SET"),
        ];
        let (port, server) = serve(SCRIPT);
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        raise(&s, "ups", "mon", "pa ss\"wd").unwrap();
        drop(s);
        let got = server.join().unwrap();
        let want: Vec<&str> = SCRIPT.iter().map(|(l, _)| *l).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_refused_login_names_the_request() {
        let (port, server) = serve(&[
            ("USERNAME mon", "OK"),
            ("PASSWORD wrong", "ERR ACCESS-DENIED"),
        ]);
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let e = raise(&s, "ups", "mon", "wrong").unwrap_err();
        assert_eq!(e, "PASSWORD refused: ACCESS-DENIED");
        drop(s);
        server.join().unwrap();
    }
}
