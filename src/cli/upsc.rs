//! `upsc`, for boxes without NUT's clients: when the binary is called as
//! `upsc` (a symlink), it lists UPSes, variables and clients the way
//! NUT's `upsc` does, so scripts that parse its output keep working.
//!
//! Boundary: the command line and the output are here; the requests and
//! the answers' words are NUT's protocol (`docs/design/nut-protocol.md`
//! §4, §5, §10), read with the server's own tokenizer. One blocking
//! connection, each answer waited for at most 5 s (libupsclient's
//! network timeout).

use crate::proto::lexer::tokenize;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: upsc -l | -L [host[:port]]
       upsc ups[@host[:port]] [variable]
       upsc -c ups[@host[:port]]
  -l  list the UPS names on host (default localhost)
  -L  list the UPS names with their descriptions
  -c  list the clients logged in to ups
  (hidupsd as upsc: the NUT client's options and output)
";

/// What went wrong, as upsc says it (`Error: ...`).
#[derive(Debug, PartialEq, Eq)]
pub struct Error(pub String);

/// `ups[@host[:port]]` split up; the host defaults to localhost and the
/// port to 3493. IPv6 hosts are written in brackets.
pub fn split_system(s: &str) -> Result<(Option<&str>, &str, u16), Error> {
    let (ups, at) = match s.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, ""),
    };
    let ups = match ups {
        Some(u) => Some(u),
        None if !s.is_empty() => Some(s),
        None => None,
    };
    let (host, port) = split_host(at)?;
    Ok((ups.filter(|u| !u.is_empty()), host, port))
}

/// `host[:port]` (or `[v6]:port`); empty is localhost.
pub fn split_host(h: &str) -> Result<(&str, u16), Error> {
    let bad = || Error(format!("invalid port in '{h}'"));
    if h.is_empty() {
        return Ok(("localhost", 3493));
    }
    if let Some(rest) = h.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => 3493,
            None => return Err(bad()),
        };
        return Ok((host, port));
    }
    match h.split_once(':') {
        Some((host, p)) if !p.contains(':') => Ok((host, p.parse().map_err(|_| bad())?)),
        _ => Ok((h, 3493)),
    }
}

/// The message libupsclient gives for an `ERR` code.
pub fn error_text(code: &str) -> &'static str {
    match code {
        "UNKNOWN-UPS" => "Unknown UPS",
        "VAR-NOT-SUPPORTED" => "Variable not supported by UPS",
        "DRIVER-NOT-CONNECTED" => "Driver not connected",
        "DATA-STALE" => "Data stale",
        "ACCESS-DENIED" => "Access denied",
        "UNKNOWN-COMMAND" => "Unknown command",
        "INVALID-VALUE" => "Invalid value",
        "CMD-NOT-SUPPORTED" => "Instant command not supported by UPS",
        _ => "Unknown error",
    }
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(host: &str, port: u16) -> Result<Conn, Error> {
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|_| Error("No such host".into()))?;
        let mut last = Error("No such host".into());
        for a in addrs {
            match TcpStream::connect_timeout(&a, TIMEOUT) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(TIMEOUT));
                    let r = BufReader::new(s.try_clone().map_err(|e| Error(e.to_string()))?);
                    return Ok(Conn { w: s, r });
                }
                Err(e) => {
                    let text = e.to_string();
                    let text = text.split(" (os error").next().unwrap_or("").to_string();
                    last = Error(format!("Connection failure: {text}"));
                }
            }
        }
        Err(last)
    }

    fn line(&mut self) -> Result<String, Error> {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) => Err(Error("Server disconnected".into())),
            Ok(_) => Ok(l.trim_end_matches(['\r', '\n']).to_string()),
            Err(_) => Err(Error("Read error: timed out".into())),
        }
    }

    fn send(&mut self, req: &str) -> Result<(), Error> {
        // Through `&TcpStream`, as `fsd` writes: one copy of write_all.
        (&self.w)
            .write_all(req.as_bytes())
            .map_err(|e| Error(format!("Write error: {e}")))
    }

    /// The words of `line`, or the upsc error of an `ERR` line.
    fn words(line: &str) -> Result<Vec<String>, Error> {
        let mut scratch = vec![0u8; line.len().max(1)];
        let mut slots = [""; 8];
        let t = tokenize(line.as_bytes(), &mut scratch, &mut slots)
            .map_err(|_| Error("Protocol error".into()))?;
        let w: Vec<String> = t.words.iter().map(|s| s.to_string()).collect();
        if w.first().map(String::as_str) == Some("ERR") {
            return Err(Error(
                error_text(w.get(1).map_or("", String::as_str)).into(),
            ));
        }
        Ok(w)
    }

    /// Send `LIST ...` and return the words of each item line.
    fn list(&mut self, what: &str) -> Result<Vec<Vec<String>>, Error> {
        self.send(&format!("LIST {what}\n"))?;
        let first = self.line()?;
        let w = Self::words(&first)?;
        if w.first().map(String::as_str) != Some("BEGIN") {
            return Err(Error("Protocol error".into()));
        }
        let mut items = Vec::new();
        loop {
            let l = self.line()?;
            let w = Self::words(&l)?;
            if w.first().map(String::as_str) == Some("END") {
                return Ok(items);
            }
            items.push(w);
        }
    }

    fn logout(mut self) {
        if self.send("LOGOUT\n").is_ok() {
            let _ = self.line();
        }
    }
}

/// Run upsc with `args` (without the program name), writing to `out`.
pub fn main(args: &[String], out: &mut dyn Write) -> Result<(), Error> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let w = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(|e| Error(format!("write: {e}")))
    };
    match a.as_slice() {
        ["-h"] | [] => {
            w(out, USAGE.to_string())?;
            if a.is_empty() {
                return Err(Error("no UPS given".into()));
            }
            Ok(())
        }
        ["-V"] => w(
            out,
            format!(
                "Network UPS Tools upsc (hidupsd {})\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        [flag @ ("-l" | "-L"), rest @ ..] if rest.len() <= 1 => {
            let (host, port) = split_host(rest.first().copied().unwrap_or(""))?;
            let mut c = Conn::open(host, port)?;
            let items = c.list("UPS")?;
            let mut s = String::new();
            for i in items {
                if let [_, name, desc, ..] = i.as_slice() {
                    if *flag == "-L" {
                        s += &format!("{name}: {desc}\n");
                    } else {
                        s += &format!("{name}\n");
                    }
                }
            }
            c.logout();
            w(out, s)
        }
        ["-c", system] => {
            let (ups, host, port) = split_system(system)?;
            let ups = ups.ok_or_else(|| Error("no UPS given".into()))?;
            let mut c = Conn::open(host, port)?;
            let items = c.list(&format!("CLIENT {ups}"))?;
            let mut s = String::new();
            for i in items {
                if let [_, _, addr, ..] = i.as_slice() {
                    s += &format!("{addr}\n");
                }
            }
            c.logout();
            w(out, s)
        }
        [system] | [system, _] if !system.starts_with('-') => {
            let (ups, host, port) = split_system(system)?;
            let ups = ups.ok_or_else(|| Error("no UPS given".into()))?;
            let mut c = Conn::open(host, port)?;
            let s = match a.get(1) {
                Some(var) => {
                    c.send(&format!("GET VAR {ups} {var}\n"))?;
                    let l = c.line()?;
                    match Conn::words(&l)?.as_slice() {
                        [_, _, _, value] => format!("{value}\n"),
                        _ => return Err(Error("Protocol error".into())),
                    }
                }
                None => {
                    let mut s = String::new();
                    for i in c.list(&format!("VAR {ups}"))? {
                        if let [_, _, name, value] = i.as_slice() {
                            s += &format!("{name}: {value}\n");
                        }
                    }
                    s
                }
            };
            c.logout();
            w(out, s)
        }
        _ => {
            w(out, USAGE.to_string())?;
            Err(Error(format!("unexpected arguments: {}", a.join(" "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_split_as_upsc_reads_them() {
        assert_eq!(
            split_system("ups").unwrap(),
            (Some("ups"), "localhost", 3493)
        );
        assert_eq!(split_system("ups@nas").unwrap(), (Some("ups"), "nas", 3493));
        assert_eq!(
            split_system("ups@nas:3494").unwrap(),
            (Some("ups"), "nas", 3494)
        );
        assert_eq!(
            split_system("ups@[::1]:3494").unwrap(),
            (Some("ups"), "::1", 3494)
        );
        assert_eq!(
            split_system("ups@[::1]").unwrap(),
            (Some("ups"), "::1", 3493)
        );
        assert_eq!(split_host("").unwrap(), ("localhost", 3493));
        assert!(split_system("ups@nas:x").is_err());
        assert!(split_host("[::1]x").is_err());
    }

    #[test]
    fn errors_read_as_libupsclient_words() {
        assert_eq!(error_text("UNKNOWN-UPS"), "Unknown UPS");
        assert_eq!(
            error_text("VAR-NOT-SUPPORTED"),
            "Variable not supported by UPS"
        );
        assert_eq!(error_text("INVALID-ARGUMENT"), "Unknown error");
        assert_eq!(
            Conn::words("ERR DATA-STALE"),
            Err(Error("Data stale".into()))
        );
        assert_eq!(
            Conn::words("VAR ups ups.status \"OL \\\"x\\\"\"").unwrap(),
            vec!["VAR", "ups", "ups.status", "OL \"x\""]
        );
    }
}
