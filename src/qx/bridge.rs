//! The USB bridges of Megatec/Q1 units (nutdrv_qx's USB subdrivers) as
//! framing over what a hidraw node offers, without claiming the device:
//!
//! - `cypress`, `phoenix`, `ippon`, `sgs`, `armac`: the command as
//!   SET_REPORT of output report 0 in pieces (hidraw `write()` sends a
//!   SET_REPORT on the control pipe when the interface has no interrupt
//!   OUT endpoint), the answer from interrupt input reports (`read()`);
//! - `fuji`: the command as one 8-byte report on the interrupt OUT pipe;
//! - `ablerex`: feature report 5 set and read back;
//! - `krauler`, `fabula`, `hunnox`, `snr`: the command as the index of a
//!   USB string descriptor, the answer as its text.
//!
//! The transfers are NUT's (drivers/nutdrv_qx.c, read for facts); where
//! hidraw cannot say exactly the same the difference is noted. The I/O
//! itself is a [`Wire`], implemented by the shell over hidraw, hiddev
//! and usbfs, and by tests and simulations over recorded answers.

use super::link::{Link, LinkError};
use super::table::Bridge;
use crate::text::parse_f64;

/// What a bridge needs from the device.
pub trait Wire {
    /// hidraw `write()`: `data[0]` is the report id (0 when the device has
    /// none; the kernel then sends the rest as report 0).
    fn write_output(&mut self, data: &[u8]) -> Result<(), LinkError>;
    /// The next input report within `timeout_ms`; `Ok(0)` on timeout.
    fn read_input(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LinkError>;
    /// Drop input reports already waiting (stale bytes of a bridge).
    fn drain(&mut self);
    /// HIDIOCSFEATURE / HIDIOCGFEATURE, `data[0]` the report id.
    fn set_feature(&mut self, data: &[u8]) -> Result<(), LinkError>;
    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, LinkError>;
    /// String descriptor `index` as NUT's 8-bit text (`?` for characters
    /// beyond Latin-1), asked with language `langid` (the device's first
    /// when `None`) and at most `max` bytes; `Ok(0)` if it has none.
    fn string(
        &mut self,
        index: u8,
        langid: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Result<usize, LinkError>;
    fn sleep_ms(&mut self, ms: u32);
}

/// Read timeout of one input report (nutdrv_qx's 1 s).
const READ_MS: u32 = 1000;

/// A unit behind one bridge: a [`Link`] for the engine.
pub struct BridgeLink<W: Wire> {
    pub bridge: Bridge,
    pub wire: W,
    /// `langid_fix`: ask string descriptors in this language.
    pub langid_fix: Option<u16>,
    /// Where hunnox's lock-step requests are (kept across commands).
    pub hunnox_step: u8,
}

impl<W: Wire> BridgeLink<W> {
    pub fn new(bridge: Bridge, wire: W) -> BridgeLink<W> {
        BridgeLink {
            bridge,
            wire,
            langid_fix: None,
            hunnox_step: 0,
        }
    }
}

/// Copy `cmd` back as the answer: what nutdrv_qx's string bridges do with
/// a command they cannot carry, and what the engine then treats as a
/// refusal (a query's answer is too short, a command's is not "ACK").
fn echo(cmd: &[u8], out: &mut [u8]) -> usize {
    let n = cmd.len().min(out.len());
    out[..n].copy_from_slice(&cmd[..n]);
    n
}

/// Append `\r` when the answer has none and there is room (NUT does).
fn add_cr(out: &mut [u8], n: usize) -> usize {
    if n > 0 && !out[..n].contains(&b'\r') && n + 1 < out.len() {
        out[n] = b'\r';
        return n + 1;
    }
    n
}

fn is_no_ack(a: &[u8]) -> bool {
    let end = a.iter().position(|&c| c == b'\r').unwrap_or(a.len());
    end == 10 && a[..10].eq_ignore_ascii_case(b"UPS No Ack")
}

/// Read 8-byte input reports into `out` until a `\r` arrives, the buffer
/// is full or a read times out (cypress, phoenix, fuji).
fn read_until_cr<W: Wire>(wire: &mut W, out: &mut [u8]) -> Result<usize, LinkError> {
    let mut n = 0;
    let mut rep = [0u8; 64];
    while n + 8 <= out.len() && !out[..n].contains(&b'\r') {
        let got = wire.read_input(&mut rep, READ_MS)?;
        if got == 0 {
            break;
        }
        let k = got.min(8);
        out[n..n + k].copy_from_slice(&rep[..k]);
        n += k;
    }
    Ok(n)
}

/// Write `cmd` as 8-byte pieces of output report 0.
fn write_pieces<W: Wire>(wire: &mut W, cmd: &[u8]) -> Result<(), LinkError> {
    for piece in cmd.chunks(8) {
        let mut rep = [0u8; 9];
        rep[1..1 + piece.len()].copy_from_slice(piece);
        wire.write_output(&rep)?;
    }
    Ok(())
}

/// The string index fabula and hunnox units take for `Sn[Rm]`: 0x10 per
/// Megatec delay step from .5 minute (0x10) to 10 minutes (0xF0), plus
/// 8 when the unit should come back (nutdrv_qx's encoding).
pub fn shutdown_index(cmd: &[u8]) -> Option<u8> {
    let s = core::str::from_utf8(cmd).ok()?.strip_prefix('S')?;
    let s = s.strip_suffix('\r').unwrap_or(s);
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, rest) = s.split_at(num_end);
    // A lone point reads as 0 (then clamped), as it always has.
    let n = if n == "." { 0.0 } else { parse_f64(n)? };
    // `S.5` alone counts as "come back" (NUT's `Rm` stays -1, not 0).
    let back = match rest.strip_prefix('R') {
        // (what `m.parse::<i64>() == Ok(0)` says: a signed run of zeros)
        Some(m) => {
            let z = m.strip_prefix(['+', '-']).unwrap_or(m);
            z.is_empty() || z.bytes().any(|c| c != b'0')
        }
        None => true,
    };
    let d = n.clamp(0.5, 10.0);
    let mut idx = if d < 1.0 {
        16 + ((d - 0.5) * 10.0).round() as i64 * 16
    } else {
        (96.0 + (d - 1.0) * 16.0) as i64
    };
    if back {
        idx += 8;
    }
    u8::try_from(idx).ok()
}

impl<W: Wire> BridgeLink<W> {
    /// cypress and phoenix (which NUT also flushes first).
    fn cypress(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        // hidraw's read() returns reports that waited while no command
        // was out: drop them first.
        self.wire.drain();
        write_pieces(&mut self.wire, cmd)?;
        read_until_cr(&mut self.wire, out)
    }

    fn ippon(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        self.wire.drain();
        write_pieces(&mut self.wire, cmd)?;
        // The unit always sends 64 bytes; read them all so that none is
        // left for the next command, then keep up to the first `\r`.
        let mut all = [0u8; 64];
        let mut n = 0;
        let mut rep = [0u8; 64];
        while n < 64 {
            let got = self.wire.read_input(&mut rep, READ_MS)?;
            if got == 0 {
                break;
            }
            let k = got.min(64 - n);
            all[n..n + k].copy_from_slice(&rep[..k]);
            n += k;
        }
        let len = match all[..n].iter().position(|&c| c == b'\r') {
            Some(i) => i + 1,
            None => all[..n].iter().position(|&c| c == 0).unwrap_or(n),
        };
        let len = len.min(out.len().saturating_sub(1));
        out[..len].copy_from_slice(&all[..len]);
        Ok(add_cr(out, len))
    }

    fn sgs(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        self.wire.drain();
        for piece in cmd.chunks(7) {
            let mut rep = [0u8; 9];
            rep[1] = piece.len() as u8;
            rep[2..2 + piece.len()].copy_from_slice(piece);
            self.wire.write_output(&rep)?;
        }
        let mut n = 0;
        let mut rep = [0u8; 64];
        // NUT reads until a read times out; a `\r` ends the answer too.
        while n + 8 <= out.len() && !out[..n].contains(&b'\r') {
            let got = self.wire.read_input(&mut rep, READ_MS)?;
            if got == 0 {
                break;
            }
            let k = (rep[0] as usize).min(7).min(got.saturating_sub(1));
            out[n..n + k].copy_from_slice(&rep[1..1 + k]);
            n += k;
        }
        Ok(add_cr(out, n))
    }

    fn armac(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        // Commands these units ignore: echoed at once instead of waiting.
        const UNSUPPORTED: [&[u8]; 5] = [b"QGS\r", b"QS\r", b"QPI\r", b"M\r", b"D\r"];
        if UNSUPPORTED.contains(&cmd) {
            return Ok(echo(cmd, out));
        }
        self.wire.drain();
        for piece in cmd.chunks(3) {
            let mut rep = [0u8; 5];
            rep[1] = 0xa0 + piece.len() as u8;
            rep[2..2 + piece.len()].copy_from_slice(piece);
            self.wire.write_output(&rep)?;
        }
        let mut n = 0;
        let mut rep = [0u8; 64];
        while n + 6 < out.len() {
            let got = self.wire.read_input(&mut rep, READ_MS)?;
            if got == 0 {
                break;
            }
            let k = (rep[0] & 0x0f) as usize;
            if k == 0 {
                break;
            }
            let k = k.min(got.saturating_sub(1)).min(5);
            out[n..n + k].copy_from_slice(&rep[1..1 + k]);
            n += k;
            if k <= 2 {
                // Let the unit buffer more bytes (NUT waits 15 ms).
                self.wire.sleep_ms(15);
            }
        }
        if n + 6 >= out.len() {
            return Err(LinkError::Io);
        }
        Ok(n)
    }

    fn ablerex(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        let body = cmd.iter().position(|&c| c == b'\r').unwrap_or(cmd.len());
        for _ in 0..3 {
            let mut rep = [0u8; 47];
            rep[0] = 0x05;
            rep[2] = (body + 1).min(44) as u8;
            let k = (rep[2] as usize).min(cmd.len());
            rep[3..3 + k].copy_from_slice(&cmd[..k]);
            self.wire.set_feature(&rep)?;
            self.wire.sleep_ms(500);
            let mut ans = [0u8; 47];
            ans[0] = 0x05;
            let got = self.wire.get_feature(&mut ans)?;
            if got == 0 {
                return Ok(0);
            }
            let len = ans.iter().position(|&c| c == b'\r').map_or(0, |i| i + 1);
            let want = match cmd {
                b"Q1\r" => 47,
                b"I\r" => 39,
                b"F\r" => 22,
                _ => 0,
            };
            if want != 0 && len != want {
                continue;
            }
            let len = len.min(out.len());
            out[..len].copy_from_slice(&ans[..len]);
            return Ok(len);
        }
        Ok(0)
    }

    fn fuji(&mut self, cmd: &[u8], out: &mut [u8]) -> Result<usize, LinkError> {
        let mut c = &cmd[..cmd.iter().position(|&b| b == b'\r').unwrap_or(cmd.len())];
        // At most 3 command bytes fit: `SnRm` with m != 0 becomes `Sn`.
        if c.first() == Some(&b'S')
            && c.contains(&b'R')
            && shutdown_index(cmd).is_some_and(|i| i & 8 != 0)
        {
            c = &c[..c.len().min(3)];
        }
        if c.len() > 3 {
            return Ok(echo(cmd, out));
        }
        let answer_len = match c {
            b"Q1" => 47,
            b"F" => 22,
            b"I" => 39,
            _ => 0,
        };
        let mut rep = [0u8; 9];
        rep[1] = 0x80;
        rep[2] = 0x06;
        rep[3] = c.len() as u8 + 1;
        rep[4] = 0x03;
        rep[5..5 + c.len()].copy_from_slice(c);
        rep[8] = answer_len;
        self.wire.drain();
        self.wire.write_output(&rep)?;
        let n = read_until_cr(&mut self.wire, out)?;
        // Answers are padded with zeros to 8 bytes.
        Ok(out[..n].iter().position(|&b| b == 0).unwrap_or(n))
    }

    fn string_cmd(&mut self, index: u8, max: u16, out: &mut [u8]) -> Result<usize, LinkError> {
        let max = max.min(out.len() as u16);
        self.wire.string(index, self.langid_fix, max, out)
    }

    fn krauler(&mut self, cmd: &[u8], out: &mut [u8], snr: bool) -> Result<usize, LinkError> {
        const KRAULER: [(&[u8], u8, u8); 8] = [
            (b"Q1\r", 0x03, b'('),
            (b"F\r", 0x0d, b'#'),
            (b"I\r", 0x0c, b'#'),
            (b"T\r", 0x04, b'\r'),
            (b"TL\r", 0x05, b'\r'),
            (b"Q\r", 0x07, b'\r'),
            (b"C\r", 0x0b, b'\r'),
            (b"CT\r", 0x0b, b'\r'),
        ];
        let table = if snr { &KRAULER[..3] } else { &KRAULER[..] };
        let Some(&(_, index, prefix)) = table.iter().find(|(c, _, _)| *c == cmd) else {
            return Ok(echo(cmd, out));
        };
        if snr {
            // These units send zeros for a while unless the interrupt
            // pipe is read first (NUT reads it before each command).
            self.wire.drain();
        }
        let max = if snr { 102 } else { out.len() as u16 };
        for _ in 0..10 {
            let n = self.string_cmd(index, max, out)?;
            if n == 0 {
                return Ok(0);
            }
            let n = if snr { n } else { add_cr(out, n) };
            if is_no_ack(&out[..n]) {
                continue;
            }
            // The first byte is not the Megatec one: NUT puts it there.
            out[0] = prefix;
            return Ok(n);
        }
        Ok(0)
    }

    fn fabula(&mut self, cmd: &[u8], out: &mut [u8], hunnox: bool) -> Result<usize, LinkError> {
        const FABULA: [(&[u8], u8); 5] = [
            (b"Q1\r", 0x03),
            (b"F\r", 0x0d),
            (b"I\r", 0x0c),
            (b"Q\r", 0x07),
            (b"C\r", 0x0a),
        ];
        let index = match FABULA.iter().find(|(c, _)| *c == cmd) {
            Some(&(_, i)) => i,
            None => match shutdown_index(cmd) {
                Some(i) => i,
                None => return Ok(echo(cmd, out)),
            },
        };
        let mut max = out.len() as u16;
        if hunnox {
            self.hunnox_preamble(index)?;
            // Larger requests hang these units (NUT's figure).
            max = max.min(102);
        }
        let n = self.string_cmd(index, max, out)?;
        if n == 0 {
            return Ok(0);
        }
        let n = if hunnox { n } else { add_cr(out, n) };
        // "UPS No Ack" answers every supported command: an empty answer,
        // which a command takes as done and a query as a failure.
        if is_no_ack(&out[..n]) {
            out[..n].fill(0);
            return Ok(0);
        }
        Ok(n)
    }

    /// The lock-step string requests hunnox units expect between commands.
    fn hunnox_preamble(&mut self, asking: u8) -> Result<(), LinkError> {
        let mut buf = [0u8; 128];
        match self.hunnox_step {
            0 => {
                for i in [0x00, 0x00, 0x01] {
                    let _ = self.wire.string(i, self.langid_fix, 102, &mut buf)?;
                }
                self.wire.sleep_ms(10);
            }
            1..=3 => {
                let i = [0x0d, 0x03, 0x0c][self.hunnox_step as usize - 1];
                if asking != i {
                    let _ = self.wire.string(i, self.langid_fix, 102, &mut buf)?;
                }
            }
            _ => self.hunnox_step = 0,
        }
        self.hunnox_step += 1;
        if self.hunnox_step > 3 {
            self.hunnox_step = 1;
        }
        Ok(())
    }
}

impl<W: Wire> Link for BridgeLink<W> {
    fn command(&mut self, cmd: &[u8], answer: &mut [u8]) -> Result<usize, LinkError> {
        answer.fill(0);
        match self.bridge {
            Bridge::Cypress => self.cypress(cmd, answer),
            Bridge::Phoenix => self.cypress(cmd, answer),
            Bridge::Ippon => self.ippon(cmd, answer),
            Bridge::Sgs => self.sgs(cmd, answer),
            Bridge::Armac => self.armac(cmd, answer),
            Bridge::Ablerex => self.ablerex(cmd, answer),
            Bridge::Fuji => self.fuji(cmd, answer),
            Bridge::Krauler => self.krauler(cmd, answer, false),
            Bridge::Snr => self.krauler(cmd, answer, true),
            Bridge::Fabula => self.fabula(cmd, answer, false),
            Bridge::Hunnox => self.fabula(cmd, answer, true),
            Bridge::Phoenixtec | Bridge::None => Err(LinkError::Unsupported),
        }
    }
}

/// A simulated unit behind a bridge: answers Megatec commands from a
/// table and frames them as the bridge would, for tests, `--simulate`
/// and the VM's USB gadget. `answer(cmd)` gives the unit's answer.
pub struct SimWire<F: FnMut(&[u8]) -> Option<Vec<u8>>> {
    pub bridge: Bridge,
    pub answer: F,
    /// Input reports waiting to be read.
    pub pending: std::collections::VecDeque<Vec<u8>>,
    /// Bytes of a command being assembled from output reports.
    partial: Vec<u8>,
    /// Every command the unit received, as it received it.
    pub received: Vec<Vec<u8>>,
    feature: Vec<u8>,
    /// String descriptors of the unit (index, text) besides commands.
    pub strings: Vec<(u8, String)>,
    /// Input report size of the bridge (8, or 6 for armac).
    report: usize,
}

impl<F: FnMut(&[u8]) -> Option<Vec<u8>>> SimWire<F> {
    pub fn new(bridge: Bridge, answer: F) -> Self {
        SimWire {
            bridge,
            answer,
            pending: Default::default(),
            partial: vec![],
            received: vec![],
            feature: vec![],
            strings: vec![],
            report: if bridge == Bridge::Armac { 6 } else { 8 },
        }
    }

    fn run(&mut self, cmd: Vec<u8>) -> Option<Vec<u8>> {
        self.received.push(cmd.clone());
        (self.answer)(&cmd)
    }

    /// Queue an answer as the bridge's input reports.
    fn queue(&mut self, a: &[u8]) {
        match self.bridge {
            Bridge::Sgs => {
                for c in a.chunks(7) {
                    let mut r = vec![0u8; 8];
                    r[0] = c.len() as u8;
                    r[1..1 + c.len()].copy_from_slice(c);
                    self.pending.push_back(r);
                }
            }
            Bridge::Armac => {
                for c in a.chunks(5) {
                    let mut r = vec![0u8; 6];
                    r[0] = 0x80 | c.len() as u8;
                    r[1..1 + c.len()].copy_from_slice(c);
                    self.pending.push_back(r);
                }
                self.pending.push_back(vec![0u8; 6]);
            }
            Bridge::Ippon => {
                // Always 64 bytes, padded after the `\r`.
                let mut all = a.to_vec();
                all.resize(64.max(a.len().div_ceil(8) * 8), 0);
                for c in all.chunks(8) {
                    self.pending.push_back(c.to_vec());
                }
            }
            _ => {
                for c in a.chunks(8) {
                    let mut r = c.to_vec();
                    r.resize(8, 0);
                    self.pending.push_back(r);
                }
            }
        }
    }
}

impl<F: FnMut(&[u8]) -> Option<Vec<u8>>> Wire for SimWire<F> {
    fn write_output(&mut self, data: &[u8]) -> Result<(), LinkError> {
        let d = &data[1..];
        match self.bridge {
            Bridge::Sgs => {
                let k = (d[0] as usize).min(7);
                self.partial.extend_from_slice(&d[1..1 + k]);
            }
            Bridge::Armac => {
                let k = (d[0] & 0x0f) as usize;
                self.partial.extend_from_slice(&d[1..1 + k.min(3)]);
            }
            Bridge::Fuji => {
                let k = (d[2] as usize).saturating_sub(1).min(3);
                let mut c = d[4..4 + k].to_vec();
                c.push(b'\r');
                if let Some(a) = self.run(c) {
                    self.queue(&a);
                }
                return Ok(());
            }
            _ => self
                .partial
                .extend(d.iter().copied().take_while(|&b| b != 0)),
        }
        if let Some(i) = self.partial.iter().position(|&b| b == b'\r') {
            let cmd: Vec<u8> = self.partial.drain(..=i).collect();
            self.partial.clear();
            if let Some(a) = self.run(cmd) {
                self.queue(&a);
            }
        }
        Ok(())
    }

    fn read_input(&mut self, buf: &mut [u8], _timeout_ms: u32) -> Result<usize, LinkError> {
        match self.pending.pop_front() {
            Some(r) => {
                let n = r.len().min(buf.len()).min(self.report.max(r.len()));
                buf[..n].copy_from_slice(&r[..n]);
                Ok(n)
            }
            None => Ok(0),
        }
    }

    fn drain(&mut self) {
        self.pending.clear();
    }

    fn set_feature(&mut self, data: &[u8]) -> Result<(), LinkError> {
        let k = (data[2] as usize).min(data.len() - 3);
        let cmd = data[3..3 + k].to_vec();
        self.feature = self.run(cmd).unwrap_or_default();
        Ok(())
    }

    fn get_feature(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        let n = self.feature.len().min(buf.len());
        buf[..n].copy_from_slice(&self.feature[..n]);
        Ok(buf.len())
    }

    fn string(
        &mut self,
        index: u8,
        _langid: Option<u16>,
        max: u16,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        let text: Option<Vec<u8>> =
            if let Some((_, s)) = self.strings.iter().find(|(i, _)| *i == index) {
                Some(s.as_bytes().to_vec())
            } else {
                let cmd = string_command(self.bridge, index);
                match cmd {
                    Some(c) => self.run(c).map(|mut a| {
                        // These bridges give the answer without its first byte's
                        // meaning (krauler) or as is; a command answers "UPS No Ack".
                        if a.is_empty() {
                            a = b"UPS No Ack".to_vec();
                        }
                        a
                    }),
                    None => None,
                }
            };
        let Some(t) = text else { return Ok(0) };
        // A string descriptor holds at most 126 characters, and `max`
        // bytes of descriptor: 2 header bytes, 2 per character.
        let n = t
            .len()
            .min(126)
            .min((max as usize).saturating_sub(2) / 2)
            .min(out.len());
        out[..n].copy_from_slice(&t[..n]);
        Ok(n)
    }

    fn sleep_ms(&mut self, _ms: u32) {}
}

/// The Megatec command a string-descriptor bridge means by `index`.
pub fn string_command(bridge: Bridge, index: u8) -> Option<Vec<u8>> {
    let fixed: &[(u8, &[u8])] = match bridge {
        Bridge::Krauler => &[
            (0x03, b"Q1\r"),
            (0x0d, b"F\r"),
            (0x0c, b"I\r"),
            (0x04, b"T\r"),
            (0x05, b"TL\r"),
            (0x07, b"Q\r"),
            (0x0b, b"C\r"),
        ],
        Bridge::Snr => &[(0x03, b"Q1\r"), (0x0d, b"F\r"), (0x0c, b"I\r")],
        Bridge::Fabula | Bridge::Hunnox => &[
            (0x03, b"Q1\r"),
            (0x0d, b"F\r"),
            (0x0c, b"I\r"),
            (0x07, b"Q\r"),
            (0x0a, b"C\r"),
        ],
        _ => return None,
    };
    if let Some((_, c)) = fixed.iter().find(|(i, _)| *i == index) {
        return Some(c.to_vec());
    }
    if matches!(bridge, Bridge::Fabula | Bridge::Hunnox) && index >= 0x10 && index & 0x07 == 0 {
        // Shutdown: (index >> 4) steps of delay, +8 to come back.
        let step = (index >> 4) as u32;
        let mins = if step < 6 {
            format!(".{}", 4 + step)
        } else {
            format!("{:02}", step - 5)
        };
        let back = if index & 8 != 0 { "R0001" } else { "R0000" };
        return Some(format!("S{mins}{back}\r").into_bytes());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qx::engine::{Qx, QxOptions};
    use crate::qx::tables::SAMPLES;

    fn unit(proto: &'static str) -> impl FnMut(&[u8]) -> Option<Vec<u8>> {
        move |cmd: &[u8]| {
            SAMPLES
                .iter()
                .find(|(p, c, _)| *p == proto && c.as_bytes() == cmd)
                .map(|(_, _, a)| a.to_vec())
        }
    }

    #[test]
    fn every_bridge_carries_the_megatec_sample() {
        for b in [
            Bridge::Cypress,
            Bridge::Phoenix,
            Bridge::Ippon,
            Bridge::Sgs,
            Bridge::Armac,
            Bridge::Ablerex,
            Bridge::Fuji,
            Bridge::Krauler,
            Bridge::Fabula,
        ] {
            let mut link = BridgeLink::new(b, SimWire::new(b, unit("megatec")));
            let opts = QxOptions {
                protocol: Some("megatec".into()),
                ..Default::default()
            };
            let mut qx = Qx::probe(&mut link, &opts).unwrap_or_else(|e| panic!("{b:?}: {e}"));
            qx.init(&mut link, 0)
                .unwrap_or_else(|e| panic!("{b:?}: {e}"));
            assert_eq!(qx.store.get("input.voltage"), Some("215.0"), "{b:?}");
            assert_eq!(qx.store.get("device.mfr"), Some("NOT_A_LIVE_UPS"), "{b:?}");
            assert_eq!(qx.store.get("ups.status"), Some("OL"), "{b:?}");
            qx.instcmd("beeper.toggle", None, &mut link)
                .unwrap_or_else(|e| panic!("{b:?}: {e}"));
            assert_eq!(
                link.wire.received.last().map(|c| c.as_slice()),
                Some(&b"Q\r"[..]),
                "{b:?}"
            );
        }
    }

    #[test]
    fn cypress_frames_commands_as_8_byte_output_reports() {
        struct Rec(Vec<Vec<u8>>, Vec<Vec<u8>>);
        impl Wire for Rec {
            fn write_output(&mut self, d: &[u8]) -> Result<(), LinkError> {
                self.0.push(d.to_vec());
                Ok(())
            }
            fn read_input(&mut self, b: &mut [u8], _: u32) -> Result<usize, LinkError> {
                Ok(self.1.pop().map_or(0, |r| {
                    b[..r.len()].copy_from_slice(&r);
                    r.len()
                }))
            }
            fn drain(&mut self) {}
            fn set_feature(&mut self, _: &[u8]) -> Result<(), LinkError> {
                Err(LinkError::Io)
            }
            fn get_feature(&mut self, _: &mut [u8]) -> Result<usize, LinkError> {
                Err(LinkError::Io)
            }
            fn string(
                &mut self,
                _: u8,
                _: Option<u16>,
                _: u16,
                _: &mut [u8],
            ) -> Result<usize, LinkError> {
                Ok(0)
            }
            fn sleep_ms(&mut self, _: u32) {}
        }
        let mut l = BridgeLink::new(
            Bridge::Cypress,
            Rec(
                vec![],
                vec![b"\r\0\0\0\0\0\0\0".to_vec(), b"#230.0 0".to_vec()],
            ),
        );
        let mut a = [0u8; 64];
        let n = l.command(b"S.5R0003\r", &mut a).unwrap();
        assert_eq!(&a[..n], b"#230.0 0\r\0\0\0\0\0\0\0");
        assert_eq!(
            l.wire.0,
            [b"\0S.5R0003".to_vec(), b"\0\r\0\0\0\0\0\0\0".to_vec()]
        );
        // No answer in time: an empty answer, not an error.
        assert_eq!(l.command(b"Q\r", &mut a), Ok(0));
    }

    #[test]
    fn string_bridges_map_commands_to_indexes() {
        assert_eq!(shutdown_index(b"S.5R0000\r"), Some(0x10));
        assert_eq!(shutdown_index(b"S.5\r"), Some(0x18));
        assert_eq!(shutdown_index(b"S01R0003\r"), Some(0x68));
        assert_eq!(shutdown_index(b"S10R0000\r"), Some(0xf0));
        assert_eq!(shutdown_index(b"S.2R0000\r"), Some(0x10), "clamped to .5");
        assert_eq!(shutdown_index(b"T\r"), None);
        // No number, or not one number: not a shutdown command.
        assert_eq!(shutdown_index(b"S\r"), None);
        assert_eq!(shutdown_index(b"S.\r"), Some(0x18));
        assert_eq!(shutdown_index(b"S1.2.3R0000\r"), None);
        assert_eq!(shutdown_index(b"S5.R0001\r"), Some(0xa8));
        for i in [0x10u8, 0x18, 0x68, 0xf0] {
            let c = string_command(Bridge::Fabula, i).unwrap();
            assert_eq!(
                shutdown_index(&c),
                Some(i),
                "{}",
                String::from_utf8_lossy(&c)
            );
        }
        // Krauler answers without the leading byte's meaning; an unknown
        // command is echoed; "UPS No Ack" is retried, then nothing.
        let mut w = SimWire::new(Bridge::Krauler, |c: &[u8]| match c {
            b"Q1\r" => Some(b"X215.0 195.0 230.0 014 49.0 22.7 30.0 00000000".to_vec()),
            _ => Some(vec![]),
        });
        w.strings.push((1, "x".into()));
        let mut l = BridgeLink::new(Bridge::Krauler, w);
        let mut a = [0u8; 128];
        let n = l.command(b"Q1\r", &mut a).unwrap();
        assert_eq!(n, 47);
        assert_eq!(&a[..2], b"(2");
        assert_eq!(a[46], b'\r');
        assert_eq!(l.command(b"FW?\r", &mut a), Ok(4));
        assert_eq!(l.command(b"Q\r", &mut a), Ok(0));
        assert_eq!(l.wire.received.len(), 11, "Q1 once, Q ten times");
    }

    #[test]
    fn hunnox_asks_its_lock_step_strings() {
        let mut seen = vec![];
        struct W<'a>(&'a mut Vec<u8>);
        impl Wire for W<'_> {
            fn write_output(&mut self, _: &[u8]) -> Result<(), LinkError> {
                Ok(())
            }
            fn read_input(&mut self, _: &mut [u8], _: u32) -> Result<usize, LinkError> {
                Ok(0)
            }
            fn drain(&mut self) {}
            fn set_feature(&mut self, _: &[u8]) -> Result<(), LinkError> {
                Ok(())
            }
            fn get_feature(&mut self, _: &mut [u8]) -> Result<usize, LinkError> {
                Ok(0)
            }
            fn string(
                &mut self,
                i: u8,
                _: Option<u16>,
                max: u16,
                o: &mut [u8],
            ) -> Result<usize, LinkError> {
                assert!(max <= 102);
                self.0.push(i);
                o[0] = b'x';
                Ok(1)
            }
            fn sleep_ms(&mut self, _: u32) {}
        }
        {
            let mut l = BridgeLink::new(Bridge::Hunnox, W(&mut seen));
            let mut a = [0u8; 128];
            for c in [&b"Q1\r"[..], b"F\r", b"I\r", b"Q1\r"] {
                l.command(c, &mut a).unwrap();
            }
        }
        assert_eq!(seen, [0, 0, 1, 3, 0x0d, 3, 0x0c, 0x0c, 0x03]);
    }
}
