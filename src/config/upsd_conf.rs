//! `upsd.conf`: the network server's listeners and limits.
//!
//! Read this with NUT's `upsd.conf(5)` at hand. One directive per line,
//! keyword first, arguments after white space (no `=`):
//! ```text
//! LISTEN 127.0.0.1 3493
//! LISTEN ::1
//! MAXAGE 15
//! ```
//! Keywords are case-sensitive, as in NUT, except `DEBUG_MIN`.
//!
//! hidupsd has no TLS, so the certificate directives (`CERTFILE`,
//! `CERTPATH`, `CERTIDENT`, `CERTREQUEST`) are refused: a file that asks
//! for TLS must not silently get a server without it. `DISABLE_WEAK_SSL`
//! is accepted (without TLS there is no weak TLS to disable). The obsolete
//! `ACL`, `ACCEPT` and `REJECT` are ignored with a warning, as NUT does.
//! An unknown directive is an error (NUT logs and ignores it).
//!
//! hidupsd's own directives: `IDLE_TIMEOUT`, `LOGIN_FAILURES`, and the
//! connection limits `MAXCONN_PER_SOURCE <n>` (connections that have not
//! logged in one source may hold; 0 for none) and
//! `MAXCONN_NETWORK <address>[/<bits>] <n>` (that limit for the sources in
//! a network), see [`crate::proto::admission`].

use super::{read, unknown_keyword, ConfigError, Directive};
use crate::proto::admission::{self, Limits, Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The file's name in the configuration directory.
pub const FILE: &str = "upsd.conf";

/// NUT's port (IANA "nut").
pub const DEFAULT_PORT: u16 = 3493;
/// Seconds of driver silence before data is stale (`MAXAGE`).
pub const DEFAULT_MAXAGE: u32 = 15;
/// Seconds a `TRACKING` result is kept (`TRACKINGDELAY`).
pub const DEFAULT_TRACKINGDELAY: u32 = 3600;
/// Most simultaneous clients (`MAXCONN`). NUT's default is the process's
/// file descriptor limit; hidupsd uses a fixed number.
pub const DEFAULT_MAXCONN: u32 = 1024;
/// Seconds a silent client is kept, as upsd does (60, not configurable
/// there; `IDLE_TIMEOUT` here, not below 60 so upsmon never trips it).
pub const DEFAULT_IDLE_TIMEOUT: u32 = 60;
/// Wrong credentials one address may present in a row before its logins
/// are refused unchecked (`LOGIN_FAILURES`; one more allowed every 6 s).
pub const DEFAULT_LOGIN_FAILURES: u32 = 10;
/// Connections that have not logged in one source may hold
/// (`MAXCONN_PER_SOURCE`).
pub const DEFAULT_MAXCONN_PER_SOURCE: u32 = admission::DEFAULT_PER_SOURCE;

/// Every keyword this file knows, for the case hint (one string, not
/// a table of pointers each with its relocation on flash).
const KEYWORDS: &str = "LISTEN MAXAGE TRACKINGDELAY MAXCONN IDLE_TIMEOUT LOGIN_FAILURES \
     MAXCONN_PER_SOURCE MAXCONN_NETWORK STATEPATH DATAPATH ALLOW_NO_DEVICE \
     ALLOW_NOT_ALL_LISTENERS DISABLE_WEAK_SSL DEBUG_MIN CERTFILE CERTPATH CERTIDENT \
     CERTREQUEST ACL ACCEPT REJECT";

/// What a `LISTEN` line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A literal IPv4 or IPv6 address (IPv6 bare or in brackets).
    Ip(IpAddr),
    /// `*`: both `0.0.0.0` and `::`.
    Any,
    /// A host name, resolved by the caller (NUT uses the first address).
    Host(String),
}

/// One `LISTEN` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub addr: ListenAddr,
    pub port: u16,
    /// 0 for the built-in defaults.
    pub line: usize,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsdConf {
    /// As configured, in file order; see [`UpsdConf::listeners`].
    pub listen: Vec<Listen>,
    pub maxage: u32,
    pub trackingdelay: u32,
    pub maxconn: u32,
    /// hidupsd's own: seconds a client may stay silent (NUT: 60, fixed).
    pub idle_timeout: u32,
    /// hidupsd's own: failed logins per address before it is limited;
    /// 0 turns the limit off (NUT has none).
    pub login_failures: u32,
    /// hidupsd's own: connections that have not logged in that one
    /// source (an IPv4 address, an IPv6 /64, the loopback) may hold; 0
    /// for no limit.
    pub maxconn_per_source: u32,
    /// hidupsd's own: networks whose sources have their own limit, with
    /// the line of each.
    pub maxconn_networks: Vec<(Net, u32, usize)>,
    pub statepath: Option<String>,
    pub datapath: Option<String>,
    pub allow_no_device: bool,
    pub allow_not_all_listeners: bool,
    pub disable_weak_ssl: bool,
    pub debug_min: Option<u32>,
    /// Directives accepted but ignored, for the caller to log.
    pub warnings: Vec<ConfigError>,
}

impl Default for UpsdConf {
    fn default() -> UpsdConf {
        UpsdConf {
            listen: Vec::new(),
            maxage: DEFAULT_MAXAGE,
            trackingdelay: DEFAULT_TRACKINGDELAY,
            maxconn: DEFAULT_MAXCONN,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            login_failures: DEFAULT_LOGIN_FAILURES,
            maxconn_per_source: DEFAULT_MAXCONN_PER_SOURCE,
            maxconn_networks: Vec::new(),
            statepath: None,
            datapath: None,
            allow_no_device: false,
            allow_not_all_listeners: false,
            disable_weak_ssl: false,
            debug_min: None,
            warnings: Vec::new(),
        }
    }
}

impl UpsdConf {
    /// The connection limits, for the server's admission.
    pub fn limits(&self) -> Limits {
        Limits {
            per_source: self.maxconn_per_source,
            networks: self
                .maxconn_networks
                .iter()
                .map(|&(n, l, _)| (n, l))
                .collect(),
        }
    }

    /// The listeners to open: the configured ones, or without any
    /// `LISTEN` line `::1` and `127.0.0.1` on port 3493, as upsd does.
    pub fn listeners(&self) -> Vec<Listen> {
        if !self.listen.is_empty() {
            return self.listen.clone();
        }
        vec![
            Listen {
                addr: ListenAddr::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                port: DEFAULT_PORT,
                line: 0,
            },
            Listen {
                addr: ListenAddr::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                port: DEFAULT_PORT,
                line: 0,
            },
        ]
    }
}

/// Read `dir/upsd.conf`.
pub fn load(dir: &Path) -> Result<UpsdConf, ConfigError> {
    let (path, bytes) = read(dir, FILE)?;
    parse(&path, &bytes)
}

/// Parse the text of `upsd.conf`; `file` is used in messages.
pub fn parse(file: &Path, text: &[u8]) -> Result<UpsdConf, ConfigError> {
    let mut c = UpsdConf::default();
    // Line of the first occurrence of each single-valued directive.
    let mut seen: [Option<usize>; 12] = [None; 12];
    for line in super::lex_file(file, text)? {
        let d = Directive { file, line: &line };
        let name = d.name();
        if name.eq_ignore_ascii_case("DEBUG_MIN") {
            d.once(&mut seen[8])?;
            c.debug_min = Some(d.u32("DEBUG_MIN <level>", "levels", 0)?);
            continue;
        }
        match name {
            "LISTEN" => c.listen.push(listen(&d)?),
            "MAXAGE" => {
                d.once(&mut seen[0])?;
                c.maxage = d.u32("MAXAGE <seconds>", "seconds", 1)?;
            }
            "TRACKINGDELAY" => {
                d.once(&mut seen[1])?;
                c.trackingdelay = d.u32("TRACKINGDELAY <seconds>", "seconds", 0)?;
            }
            "MAXCONN" => {
                d.once(&mut seen[2])?;
                c.maxconn = d.u32("MAXCONN <connections>", "connections", 1)?;
            }
            "IDLE_TIMEOUT" => {
                d.once(&mut seen[9])?;
                c.idle_timeout = d.u32("IDLE_TIMEOUT <seconds>", "seconds", 60)?;
            }
            "LOGIN_FAILURES" => {
                d.once(&mut seen[10])?;
                c.login_failures = d.u32("LOGIN_FAILURES <attempts>", "attempts", 0)?;
            }
            "MAXCONN_PER_SOURCE" => {
                d.once(&mut seen[11])?;
                c.maxconn_per_source =
                    d.u32("MAXCONN_PER_SOURCE <connections>", "connections", 0)?;
            }
            "MAXCONN_NETWORK" => {
                const USAGE: &str = "MAXCONN_NETWORK <address>[/<bits>] <connections>";
                let a = d.exact(2, USAGE)?;
                let net = Net::parse(&a[0]).map_err(|e| d.err(e))?;
                let limit = super::parse_u32(&a[1], 0).ok_or_else(|| {
                    d.err(format_args!(
                        "expected {}, got '{}'",
                        super::uint_what("connections", 0),
                        a[1]
                    ))
                })?;
                if let Some(&(_, _, first)) = c.maxconn_networks.iter().find(|(n, _, _)| *n == net)
                {
                    return Err(d.err(format_args!("{net} set twice (first at line {first})")));
                }
                c.maxconn_networks.push((net, limit, d.line.line));
            }
            "STATEPATH" => {
                d.once(&mut seen[3])?;
                c.statepath = Some(d.one("STATEPATH <directory>")?.to_string());
            }
            "DATAPATH" => {
                d.once(&mut seen[4])?;
                c.datapath = Some(d.one("DATAPATH <directory>")?.to_string());
            }
            "ALLOW_NO_DEVICE" => {
                d.once(&mut seen[5])?;
                c.allow_no_device = d.bool("ALLOW_NO_DEVICE <yes|no>")?;
            }
            "ALLOW_NOT_ALL_LISTENERS" => {
                d.once(&mut seen[6])?;
                c.allow_not_all_listeners = d.bool("ALLOW_NOT_ALL_LISTENERS <yes|no>")?;
            }
            "DISABLE_WEAK_SSL" => {
                d.once(&mut seen[7])?;
                c.disable_weak_ssl = d.bool("DISABLE_WEAK_SSL <yes|no>")?;
            }
            "CERTFILE" | "CERTPATH" | "CERTIDENT" | "CERTREQUEST" => {
                return Err(d.err(
                    "TLS is not built into hidupsd: remove the certificate settings \
                     (clients asking for STARTTLS are told it is not configured)",
                ))
            }
            "ACL" | "ACCEPT" | "REJECT" => c.warnings.push(d.err(
                "obsolete and ignored: there is no host-based access control; \
                 restrict access with LISTEN and a firewall",
            )),
            other => return Err(d.plain(unknown_keyword(other, KEYWORDS, FILE))),
        }
    }
    Ok(c)
}

fn listen(d: &Directive) -> Result<Listen, ConfigError> {
    const USAGE: &str = "LISTEN <address> [<port>]";
    let args = d.some(USAGE)?;
    if args.len() > 2 {
        return d.exact(2, USAGE).map(|_| unreachable!());
    }
    let a = args[0].as_str();
    let addr = if a == "*" {
        ListenAddr::Any
    } else if let Some(inner) = a.strip_prefix('[') {
        match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(ip)) => ListenAddr::Ip(IpAddr::V6(ip)),
            _ => {
                return Err(d.err(format_args!(
                    "'{a}' is not an IPv6 address in brackets: write e.g. [::1]"
                )))
            }
        }
    } else if let Ok(ip) = a.parse::<IpAddr>() {
        ListenAddr::Ip(ip)
    } else if a.contains(':') {
        return Err(d.err(format_args!(
            "'{a}' is neither an address nor a host name; give the port separately: \
             write '{USAGE}'"
        )));
    } else if a.is_empty()
        || !a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(d.err(format_args!("'{a}' is not a valid host name")));
    } else {
        ListenAddr::Host(a.to_string())
    };
    let port = match args.get(1) {
        None => DEFAULT_PORT,
        Some(p) => super::parse_u32(p, 1)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| d.err(format_args!("expected a port from 1 to 65535, got '{p}'")))?,
    };
    Ok(Listen {
        addr,
        port,
        line: d.line.line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> UpsdConf {
        parse(Path::new("upsd.conf"), text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> String {
        parse(Path::new("upsd.conf"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn ip(s: &str) -> ListenAddr {
        ListenAddr::Ip(s.parse().unwrap())
    }

    #[test]
    fn login_failures_is_ours_with_zero_for_off() {
        assert_eq!(conf("").login_failures, 10);
        assert_eq!(conf("LOGIN_FAILURES 0\n").login_failures, 0);
        assert_eq!(conf("LOGIN_FAILURES 3\n").login_failures, 3);
        assert!(err("LOGIN_FAILURES many\n").starts_with("upsd.conf:1:"));
        assert!(err("LOGIN_FAILURES 1\nLOGIN_FAILURES 2\n").starts_with("upsd.conf:2:"));
    }

    #[test]
    fn connection_limits_are_ours() {
        let c = conf("");
        assert_eq!(c.maxconn_per_source, 32);
        assert_eq!(c.limits(), Limits::default());
        let c = conf(
            "MAXCONN_PER_SOURCE 8\nMAXCONN_NETWORK 192.168.1.0/24 64\n\
             MAXCONN_NETWORK 10.0.0.1 0\nMAXCONN_NETWORK 2001:db8::/48 16\n",
        );
        assert_eq!(c.maxconn_per_source, 8);
        let l = c.limits();
        assert_eq!(l.per_source, 8);
        assert_eq!(l.of("192.168.1.9".parse().unwrap()), 64);
        assert_eq!(l.of("10.0.0.1".parse().unwrap()), 0);
        assert_eq!(l.of("2001:db8:0:1::5".parse().unwrap()), 16);
        assert_eq!(l.of("192.0.2.1".parse().unwrap()), 8);
        assert_eq!(c.maxconn_networks[1].2, 3);
        assert_eq!(
            conf("MAXCONN_PER_SOURCE 0\n")
                .limits()
                .of("::1".parse().unwrap()),
            0
        );
        for (text, want) in [
            (
                "MAXCONN_PER_SOURCE -1\n",
                "upsd.conf:1: MAXCONN_PER_SOURCE: expected a whole number of connections, got '-1'",
            ),
            (
                "MAXCONN_PER_SOURCE 4\nMAXCONN_PER_SOURCE 5\n",
                "upsd.conf:2: MAXCONN_PER_SOURCE: set twice (first at line 1)",
            ),
            (
                "MAXCONN_NETWORK 10.0.0.0/8\n",
                "upsd.conf:1: MAXCONN_NETWORK: expected 2 values, got 1: write \
                 'MAXCONN_NETWORK <address>[/<bits>] <connections>'",
            ),
            (
                "MAXCONN_NETWORK 10.0.0.1/8 4\n",
                "upsd.conf:1: MAXCONN_NETWORK: '10.0.0.1/8' has bits set past /8: write 10.0.0.0/8",
            ),
            (
                "MAXCONN_NETWORK lan 4\n",
                "upsd.conf:1: MAXCONN_NETWORK: 'lan' is not an address or address/bits",
            ),
            (
                "MAXCONN_NETWORK 10.0.0.0/8 many\n",
                "upsd.conf:1: MAXCONN_NETWORK: expected a whole number of connections, got 'many'",
            ),
            (
                "MAXCONN_NETWORK 10.0.0.0/8 4\nMAXCONN_NETWORK 10.0.0.0/8 5\n",
                "upsd.conf:2: MAXCONN_NETWORK: 10.0.0.0/8 set twice (first at line 1)",
            ),
        ] {
            assert_eq!(err(text), want, "{text:?}");
        }
    }

    #[test]
    fn idle_timeout_is_ours_and_not_below_upsd_s() {
        assert_eq!(conf("").idle_timeout, 60);
        assert_eq!(conf("IDLE_TIMEOUT 300\n").idle_timeout, 300);
        let e = err("IDLE_TIMEOUT 30\n");
        assert!(
            e.starts_with("upsd.conf:1:") && e.contains("IDLE_TIMEOUT"),
            "{e}"
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = conf("# upsd.conf with everything commented out\n# MAXAGE 15\n");
        assert_eq!(c, UpsdConf::default());
        assert_eq!(c.maxage, 15);
        assert_eq!(c.trackingdelay, 3600);
        assert_eq!(c.maxconn, 1024);
        assert!(!c.allow_no_device && !c.allow_not_all_listeners && !c.disable_weak_ssl);
        assert_eq!(
            c.listeners(),
            vec![
                Listen {
                    addr: ip("::1"),
                    port: 3493,
                    line: 0
                },
                Listen {
                    addr: ip("127.0.0.1"),
                    port: 3493,
                    line: 0
                },
            ]
        );
    }

    #[test]
    fn every_directive() {
        let c = conf(
            "LISTEN 127.0.0.1 3493\nLISTEN ::1\nLISTEN [fe80::1] 4000\nLISTEN *\n\
             LISTEN nas.local 3494\nMAXAGE 30\nTRACKINGDELAY 0\nMAXCONN 64\n\
             STATEPATH /run/nut\nDATAPATH /usr/share/nut\nALLOW_NO_DEVICE yes\n\
             ALLOW_NOT_ALL_LISTENERS On\nDISABLE_WEAK_SSL true\ndebug_min 3\n",
        );
        assert_eq!(
            c.listen,
            vec![
                Listen {
                    addr: ip("127.0.0.1"),
                    port: 3493,
                    line: 1
                },
                Listen {
                    addr: ip("::1"),
                    port: 3493,
                    line: 2
                },
                Listen {
                    addr: ip("fe80::1"),
                    port: 4000,
                    line: 3
                },
                Listen {
                    addr: ListenAddr::Any,
                    port: 3493,
                    line: 4
                },
                Listen {
                    addr: ListenAddr::Host("nas.local".into()),
                    port: 3494,
                    line: 5
                },
            ]
        );
        assert_eq!(c.listeners(), c.listen);
        assert_eq!(c.maxage, 30);
        assert_eq!(c.trackingdelay, 0);
        assert_eq!(c.maxconn, 64);
        assert_eq!(c.statepath.as_deref(), Some("/run/nut"));
        assert_eq!(c.datapath.as_deref(), Some("/usr/share/nut"));
        assert!(c.allow_no_device && c.allow_not_all_listeners && c.disable_weak_ssl);
        assert_eq!(c.debug_min, Some(3));
        assert_eq!(c.warnings, vec![]);
    }

    #[test]
    fn obsolete_acl_is_a_warning() {
        let c = conf("ACL all 0.0.0.0/0\nACCEPT all\nREJECT all\nMAXAGE 20\n");
        assert_eq!(c.maxage, 20);
        assert_eq!(
            c.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [1, 2, 3].map(|n| format!(
                "upsd.conf:{n}: {}: obsolete and ignored: there is no host-based access \
                 control; restrict access with LISTEN and a firewall",
                ["ACL", "ACCEPT", "REJECT"][n - 1]
            ))
        );
    }

    #[test]
    fn load_reads_the_directory() {
        let dir = std::env::temp_dir().join(format!("hidupsd-upsd-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("upsd.conf"), "MAXAGE 25\n").unwrap();
        assert_eq!(load(&dir).unwrap().maxage, 25);
        std::fs::remove_file(dir.join("upsd.conf")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn errors() {
        let tls = "TLS is not built into hidupsd: remove the certificate settings \
                   (clients asking for STARTTLS are told it is not configured)";
        let cases: Vec<(&str, String)> = vec![
            ("CERTFILE /etc/nut/upsd.pem\n", format!("upsd.conf:1: CERTFILE: {tls}")),
            ("CERTPATH /etc/nut/cert\n", format!("upsd.conf:1: CERTPATH: {tls}")),
            ("CERTIDENT \"My nut server\" \"pw\"\n", format!("upsd.conf:1: CERTIDENT: {tls}")),
            ("MAXAGE 15\nCERTREQUEST REQUIRE\n", format!("upsd.conf:2: CERTREQUEST: {tls}")),
            ("FOO 1\n", "upsd.conf:1: unknown directive 'FOO' in upsd.conf".into()),
            (
                "listen 0.0.0.0\n",
                "upsd.conf:1: unknown directive 'listen': upsd.conf keywords are case-sensitive, write 'LISTEN'".into(),
            ),
            ("MAXAGE\n", "upsd.conf:1: MAXAGE: missing value: write 'MAXAGE <seconds>'".into()),
            (
                "MAXAGE = 15\n",
                "upsd.conf:1: MAXAGE: this file takes no '=' between keyword and value: write 'MAXAGE <seconds>'".into(),
            ),
            (
                "MAXAGE 15 20\n",
                "upsd.conf:1: MAXAGE: unexpected '20' after the value (quote values that contain spaces): write 'MAXAGE <seconds>'".into(),
            ),
            (
                "MAXAGE 0\n",
                "upsd.conf:1: MAXAGE: expected a whole number of seconds, at least 1, got '0'".into(),
            ),
            (
                "MAXAGE 15\nMAXAGE 20\n",
                "upsd.conf:2: MAXAGE: set twice (first at line 1)".into(),
            ),
            (
                "MAXCONN lots\n",
                "upsd.conf:1: MAXCONN: expected a whole number of connections, at least 1, got 'lots'".into(),
            ),
            (
                "TRACKINGDELAY -1\n",
                "upsd.conf:1: TRACKINGDELAY: expected a whole number of seconds, got '-1'".into(),
            ),
            (
                "ALLOW_NO_DEVICE maybe\n",
                "upsd.conf:1: ALLOW_NO_DEVICE: expected a boolean (yes/no, true/false, on/off, 1/0), got 'maybe'".into(),
            ),
            ("LISTEN\n", "upsd.conf:1: LISTEN: missing value: write 'LISTEN <address> [<port>]'".into()),
            (
                "LISTEN 127.0.0.1 3493 x\n",
                "upsd.conf:1: LISTEN: unexpected 'x' after the value (quote values that contain spaces): write 'LISTEN <address> [<port>]'".into(),
            ),
            (
                "LISTEN 127.0.0.1 0\n",
                "upsd.conf:1: LISTEN: expected a port from 1 to 65535, got '0'".into(),
            ),
            (
                "LISTEN ::1 65536\n",
                "upsd.conf:1: LISTEN: expected a port from 1 to 65535, got '65536'".into(),
            ),
            (
                "LISTEN [127.0.0.1]\n",
                "upsd.conf:1: LISTEN: '[127.0.0.1]' is not an IPv6 address in brackets: write e.g. [::1]".into(),
            ),
            (
                "LISTEN [::1]:3493\n",
                "upsd.conf:1: LISTEN: '[::1]:3493' is not an IPv6 address in brackets: write e.g. [::1]".into(),
            ),
            (
                "LISTEN 127.0.0.1:3493\n",
                "upsd.conf:1: LISTEN: '127.0.0.1:3493' is neither an address nor a host name; give the port separately: write 'LISTEN <address> [<port>]'".into(),
            ),
            (
                "LISTEN ho_st\n",
                "upsd.conf:1: LISTEN: 'ho_st' is not a valid host name".into(),
            ),
            (
                "LISTEN = 1.2.3.4\n",
                "upsd.conf:1: LISTEN: this file takes no '=' between keyword and value: write 'LISTEN <address> [<port>]'".into(),
            ),
            (
                "STATEPATH \"/run/nut\n",
                "upsd.conf:1: missing closing quote '\"' on this line".into(),
            ),
            (
                "DEBUG_MIN 1\ndebug_min 2\n",
                "upsd.conf:2: debug_min: set twice (first at line 1)".into(),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "for {text:?}");
        }
    }
}
