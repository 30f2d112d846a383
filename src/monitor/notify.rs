//! Notify messages: `NOTIFYMSG` templates (or NUT's stock texts) filled
//! in, with the `NOTIFYFLAG` flags that say where each one goes.
//!
//! Boundary: this builds the text and carries the flags; writing to
//! syslog, `wall` and running `NOTIFYCMD` is the shell's job.

use crate::config::upsmon_conf::{Event, NotifyFlags, UpsmonConf};

/// Longest message, in bytes: upsmon formats into a 512-byte buffer, so
/// NUT cuts longer messages to 511 bytes.
pub const MAX_MESSAGE: usize = 511;

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub event: Event,
    /// The `MONITOR` entry (index into `UpsmonConf::monitors`) it is
    /// about; `None` for events about this host (SHUTDOWN,
    /// SHUTDOWN_HOSTSYNC, NOPARENT, SUSPEND_*). `NOTIFYCMD` gets its
    /// system name as `UPSNAME` and `event.name()` as `NOTIFYTYPE`.
    pub ups: Option<usize>,
    pub message: String,
    /// Never `ignore`: ignored events are not emitted at all.
    pub flags: NotifyFlags,
}

/// Each event's template and flags, resolved once from the configuration.
#[derive(Debug, Clone)]
pub(super) struct Notifier {
    templates: Vec<String>,
    flags: Vec<NotifyFlags>,
}

impl Notifier {
    pub(super) fn new(conf: &UpsmonConf) -> Notifier {
        Notifier {
            templates: Event::ALL
                .iter()
                .map(|&e| conf.message(e).to_string())
                .collect(),
            flags: Event::ALL.iter().map(|&e| conf.flags(e)).collect(),
        }
    }

    /// The notice for `event`, or `None` when its flags say `IGNORE`.
    /// `system` is the UPS's `MONITOR` name when the event concerns one;
    /// `extra` is the second argument of ALARM and OTHER (or the only one
    /// of SUSPEND_TIMEJUMP_UNEXPECTED).
    pub(super) fn notice(
        &self,
        event: Event,
        ups: Option<(usize, &str)>,
        extra: Option<&str>,
    ) -> Option<Notice> {
        let flags = self.flags[event as usize];
        if flags.ignore {
            return None;
        }
        let mut args: [&str; 2] = [""; 2];
        let mut n = 0;
        for a in [ups.map(|(_, s)| s), extra].into_iter().flatten() {
            args[n] = a;
            n += 1;
        }
        Some(Notice {
            event,
            ups: ups.map(|(i, _)| i),
            message: format_message(&self.templates[event as usize], &args[..n]),
            flags,
        })
    }
}

/// Fill a `NOTIFYMSG` template: each `%s` takes the next of `args` (an
/// empty string once they run out, as upsmon passes "" for a missing UPS
/// name), `%%` is a `%`, and the result is cut to [`MAX_MESSAGE`] bytes
/// at a character boundary.
///
/// The configuration parser refuses other `%` conversions; should one
/// get here anyway it is copied as written rather than interpreted.
pub fn format_message(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut next = args.iter();
    let mut it = template.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.peek() {
            Some('s') => {
                it.next();
                out.push_str(next.next().copied().unwrap_or(""));
            }
            Some('%') => {
                it.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    if out.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::upsmon_conf::parse;
    use std::path::Path;

    fn notifier(extra: &str) -> Notifier {
        let text = format!("MONITOR ups@localhost 1 mon pw primary\n{extra}");
        Notifier::new(&parse(Path::new("upsmon.conf"), text.as_bytes()).unwrap())
    }

    #[test]
    fn fills_percent_s_in_order() {
        assert_eq!(
            format_message("UPS %s on battery", &["a@h"]),
            "UPS a@h on battery"
        );
        assert_eq!(
            format_message("UPS %s: alarms: [%s]", &["a@h", "Overheat"]),
            "UPS a@h: alarms: [Overheat]"
        );
        // A template with fewer %s than arguments drops the rest, as NUT
        // does for a one-%s ALARM message.
        assert_eq!(format_message("%s alarm", &["a@h", "x"]), "a@h alarm");
        // More %s than arguments: empty strings.
        assert_eq!(format_message("[%s] [%s]", &["a"]), "[a] []");
        assert_eq!(format_message("no args %s", &[]), "no args ");
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(format_message("100%% sure: %s", &["u"]), "100% sure: u");
        assert_eq!(format_message("odd %d and 5%", &["u"]), "odd %d and 5%");
        // An argument's own % is not interpreted again.
        assert_eq!(format_message("%s!", &["%s%%"]), "%s%%!");
    }

    #[test]
    fn long_messages_are_cut_at_511_bytes() {
        let long = "x".repeat(600);
        assert_eq!(format_message(&long, &[]).len(), MAX_MESSAGE);
        // A two-byte character straddling the limit is dropped whole.
        let t = format!("{}é", "x".repeat(510));
        assert_eq!(format_message(&t, &[]), "x".repeat(510));
    }

    #[test]
    fn stock_messages_and_default_flags() {
        let n = notifier("");
        let got = n
            .notice(Event::OnBatt, Some((0, "ups@localhost")), None)
            .unwrap();
        assert_eq!(
            got,
            Notice {
                event: Event::OnBatt,
                ups: Some(0),
                message: "UPS ups@localhost on battery".into(),
                flags: NotifyFlags::DEFAULT,
            }
        );
        let got = n.notice(Event::Shutdown, None, None).unwrap();
        assert_eq!(got.message, "Auto logout and shutdown proceeding");
        assert_eq!(got.ups, None);
        let got = n
            .notice(Event::Alarm, Some((0, "ups@localhost")), Some("Overload"))
            .unwrap();
        assert_eq!(
            got.message,
            "UPS ups@localhost: one or more active alarms: [Overload]"
        );
        // No UPS: the extra text takes the first %s (NUT would print the
        // empty UPS name there and drop the amount).
        let got = n
            .notice(
                Event::SuspendTimejumpUnexpected,
                None,
                Some("20.000000 seconds"),
            )
            .unwrap();
        assert_eq!(
            got.message,
            "Unexpected clock change by 20.000000 seconds, treating as wake up from sleep"
        );
    }

    #[test]
    fn notifymsg_and_notifyflag_apply_per_event() {
        let n = notifier(
            "NOTIFYMSG ONLINE \"Power back on %s (100%%)\"\n\
             NOTIFYMSG SHUTDOWN \"Going down now\"\n\
             NOTIFYFLAG ONLINE SYSLOG+WALL+EXEC\n\
             NOTIFYFLAG ONBATT EXEC\n\
             NOTIFYFLAG LOWBATT IGNORE\n",
        );
        let online = n.notice(Event::Online, Some((0, "u@h")), None).unwrap();
        assert_eq!(online.message, "Power back on u@h (100%)");
        assert_eq!(
            online.flags,
            NotifyFlags {
                syslog: true,
                wall: true,
                exec: true,
                ignore: false
            }
        );
        let onbatt = n.notice(Event::OnBatt, Some((0, "u@h")), None).unwrap();
        assert_eq!(onbatt.message, "UPS u@h on battery");
        assert_eq!(
            onbatt.flags,
            NotifyFlags {
                syslog: false,
                wall: false,
                exec: true,
                ignore: false
            }
        );
        assert_eq!(n.notice(Event::LowBatt, Some((0, "u@h")), None), None);
        assert_eq!(
            n.notice(Event::Shutdown, None, None).unwrap().message,
            "Going down now"
        );
        // Events without a line keep SYSLOG+WALL.
        assert_eq!(
            n.notice(Event::Fsd, Some((0, "u@h")), None).unwrap().flags,
            NotifyFlags::DEFAULT
        );
    }
}
