//! Recorded Megatec/Q1 units: a [`Link`] that answers from a recording's
//! `answer` lines (for `decode`, tests and simulation), and the queries
//! `record` asks a live unit (every protocol's read commands, never an
//! instant command, which would act).

use super::link::{Link, LinkError};
use super::table::flag;
use super::tables::PROTOCOLS;

/// A unit answering from recorded (command, answer) pairs; a command not
/// recorded gets no answer, as a Megatec unit does with what it does not
/// know. The last answer recorded for a command wins.
pub struct Answers<'a> {
    pub answers: &'a [(Vec<u8>, Vec<u8>)],
    /// Commands received, oldest first (at most [`Answers::KEEP`]).
    pub sent: Vec<Vec<u8>>,
}

impl<'a> Answers<'a> {
    pub const KEEP: usize = 256;

    pub fn new(answers: &'a [(Vec<u8>, Vec<u8>)]) -> Self {
        Answers {
            answers,
            sent: Vec::new(),
        }
    }
}

impl Link for Answers<'_> {
    fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError> {
        if self.sent.len() == Self::KEEP {
            self.sent.remove(0);
        }
        self.sent.push(cmd.to_vec());
        let Some((_, a)) = self.answers.iter().rev().find(|(c, _)| c.as_slice() == cmd) else {
            return Ok(0);
        };
        let n = a.len().min(answer.len());
        answer[..n].copy_from_slice(&a[..n]);
        Ok(n)
    }
}

/// The read commands of every protocol hidupsd speaks, each once, in
/// probe order: what `record` sends to capture a unit.
pub fn queries() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for p in PROTOCOLS.iter() {
        for it in p.items {
            if it.has(flag::CMD | flag::SETVAR | flag::ABSENT) || it.command.is_empty() {
                continue;
            }
            if !v.contains(&it.command) {
                v.push(it.command);
            }
        }
    }
    v
}

/// Recorded (command, answer) pairs.
pub type AnswerList = Vec<(Vec<u8>, Vec<u8>)>;

/// Ask a unit every query and return the `answer` lines of a recording.
pub fn record(io: &mut dyn Link) -> Result<AnswerList, LinkError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    for q in queries() {
        let n = match io.command(q.as_bytes(), &mut buf) {
            Ok(n) => n,
            Err(LinkError::Gone) => return Err(LinkError::Gone),
            Err(_) => 0,
        };
        out.push((q.as_bytes().to_vec(), buf[..n].to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::{Qx, QxOptions};
    use crate::recording::{c_quote, Recording};

    #[test]
    fn recorded_unit_round_trips_through_a_recording() {
        let answers: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (
                b"Q1\r".to_vec(),
                b"(230.1 230.1 229.9 009 50.0 13.6 25.0 00001001\r".to_vec(),
            ),
            (b"F\r".to_vec(), b"#220.0 002 12.00 50.0\r".to_vec()),
            (
                b"I\r".to_vec(),
                format!("#{:<15} {:<10} {:<10}\r", "MEGA", "UPS-650", "V1.0").into_bytes(),
            ),
        ];
        let mut live = Answers::new(&answers);
        let rec = record(&mut live).unwrap();
        assert_eq!(
            queries(),
            [
                "M\r", "QS\r", "F\r", "I\r", "D\r", "Q1\r", "ID\r", "RT\r", "BP?\r", "SS?\r",
                "QPI\r", "FW?\r"
            ]
        );
        let mut text = String::from("descriptor 06 a0 ff 09 01 a1 01 c0\n");
        for (c, a) in &rec {
            text.push_str(&format!("answer {} {}\n", c_quote(c), c_quote(a)));
        }
        let mut r = Recording::default();
        r.parse(&text).unwrap();
        assert_eq!(r.answers, rec);
        let mut io = Answers::new(&r.answers);
        let mut qx = Qx::probe(&mut io, &QxOptions::default()).unwrap();
        qx.init(&mut io, 0).unwrap();
        assert_eq!(qx.proto.name, "megatec");
        assert_eq!(qx.store.get("device.model"), Some("UPS-650"));
        assert_eq!(qx.store.get("ups.status"), Some("OL"));
        assert_eq!(qx.store.get("ups.beeper.status"), Some("enabled"));
        assert_eq!(qx.store.get("ups.type"), Some("offline / line interactive"));
        assert_eq!(qx.store.get("battery.charge"), Some("100"));
        let mut r = Recording::default();
        assert_eq!(
            r.parse("answer \"Q1\\r\" \"(\\q\"").unwrap_err(),
            (1, "unknown escape '\\q'".to_string())
        );
        assert!(r.parse("answer \"Q1\\r\"").is_err());
    }
}
