//! NUT's word tokenizer (the "parseconf" rules) and the reply-side escaping.
//!
//! Read first: `docs/design/nut-protocol.md` §2.2 (the word rules) and
//! §2.4 (escaping).
//!
//! One call splits one logical line into words. Words borrow from the
//! line when they are a plain run of its bytes; a word that contained an
//! escape or a dropped byte is rebuilt in a scratch buffer the caller
//! provides. Nothing is allocated and nothing is cut silently: running out
//! of word slots, scratch or word length is a typed error.
//!
//! The same state machine serves the network protocol ([`tokenize`], one
//! line the server has framed at LF: an open quote or a trailing
//! backslash is [`LexError::UnterminatedQuote`] or [`LexError::BadEscape`])
//! and NUT's configuration files ([`next_file_line`], a whole file: a
//! backslash before LF joins lines, and what NUT would lose silently, a
//! byte outside ASCII or a quote left open at the end of its line, is an
//! error with its position).

use core::fmt;

/// Words per line a request may have (NUT's `PCONF_DEFAULT_ARG_LIMIT`).
pub const MAX_ARGS: usize = 32;
/// Bytes per word (NUT's `PCONF_DEFAULT_WORDLEN_LIMIT`).
pub const MAX_WORD: usize = 512;
/// Longest request line the server should buffer, LF excluded. The longest
/// line a stock client sends (`SET VAR` with a 255-byte value, every byte
/// escaped) is about 650 bytes.
pub const MAX_LINE: usize = 1024;

/// Why a line could not be split into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    /// More words than the caller's slots. NUT drops words after the 32nd.
    TooManyArgs,
    /// A word longer than [`MAX_WORD`] bytes. NUT cuts it silently.
    WordTooLong,
    /// The line ended inside double quotes. NUT would read on past the LF.
    UnterminatedQuote,
    /// The line ended with a lone backslash. NUT would join the next line.
    BadEscape,
    /// An unescaped `#` inside quotes: NUT's only parse error. upsd logs
    /// it and sends no reply.
    HashInQuotes,
    /// The words did not fit the scratch buffer, or the server saw a line
    /// longer than [`MAX_LINE`]. A scratch as long as the line always fits.
    LineTooLong,
    /// A byte outside ASCII outside a comment, in a configuration file
    /// ([`next_file_line`] only; NUT drops it, and the protocol does too).
    NonAscii,
}

impl LexError {
    pub const fn as_str(self) -> &'static str {
        match self {
            LexError::TooManyArgs => "too many words on the line",
            LexError::WordTooLong => "word longer than 512 bytes",
            LexError::UnterminatedQuote => "line ends inside quotes",
            LexError::BadEscape => "line ends with a backslash",
            LexError::HashInQuotes => "unbalanced word due to unescaped # in quotes",
            LexError::LineTooLong => "line too long",
            LexError::NonAscii => "byte outside ASCII",
        }
    }
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The words of one line.
#[derive(Debug, PartialEq, Eq)]
pub struct Tokens<'s, 'b> {
    pub words: &'s [&'b str],
    /// Bytes discarded because NUT only stores 0x20..=0x7F in words (upsd
    /// logs "discarding invalid character" for each).
    pub dropped: usize,
}

/// The words of one line as bytes ([`tokenize_bytes`]): ASCII only.
#[derive(Debug, PartialEq, Eq)]
pub struct Words<'s, 'b> {
    pub words: &'s [&'b [u8]],
    /// As in [`Tokens`].
    pub dropped: usize,
}

/// `isspace()` in the C locale.
const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Only printable ASCII and DEL are kept in words (NUT's CVE-2012-2944 fix).
const fn is_storable(b: u8) -> bool {
    b >= 0x20 && b <= 0x7f
}

/// [`CLASS`] bit: the byte is kept as it is inside an unquoted word.
const IN_WORD: u8 = 1;
/// [`CLASS`] bit: the byte is kept as it is inside quotes.
const IN_QUOTES: u8 = 2;
/// [`CLASS`] bit: the byte may be in a line split the short way (a space,
/// or a byte kept as it is in any word).
const PLAIN: u8 = 4;

/// Which bytes simply continue a word, so that a run of them is taken in
/// one step instead of one state change per byte: storable bytes but for
/// `#` and `\` anywhere, space and `=` outside quotes, `"` inside.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0x20;
    while b <= 0x7f {
        let c = b as u8;
        let mut k = IN_WORD | IN_QUOTES;
        if c == b'#' || c == b'\\' {
            k = 0;
        } else if c == b' ' {
            k = IN_QUOTES | PLAIN;
        } else if c == b'=' {
            k = IN_QUOTES;
        } else if c == b'"' {
            k = IN_WORD;
        } else {
            k |= PLAIN;
        }
        t[b] = k;
        b += 1;
    }
    t
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words.
    Start,
    /// In an unquoted word.
    Word,
    /// After a backslash in an unquoted word.
    WordEsc,
    /// In a quoted word.
    Quote,
    /// After a backslash in a quoted word.
    QuoteEsc,
    /// After `#` outside quotes, up to LF.
    Comment,
}

/// The word being collected.
#[derive(Clone, Copy)]
enum Cur {
    /// `line[start..end]`, every byte kept, none escaped.
    Borrowed { start: usize, end: usize },
    /// The first `len` bytes of the remaining scratch.
    Owned { len: usize },
}

/// Whose rules: the protocol's, one line at a time, exactly NUT's; or
/// the configuration files', a whole file, where NUT would lose data
/// silently refused (see [`next_file_line`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Protocol,
    File,
}

struct Lexer<'b, 'o> {
    dialect: Dialect,
    line: &'b [u8],
    scratch: &'b mut [u8],
    out: &'o mut [&'b [u8]],
    n: usize,
    dropped: usize,
    cur: Cur,
    /// Bytes stored in the current word, for the word length limit.
    stored: usize,
    /// Where the first word began (its quote, for a quoted word).
    first_at: Option<usize>,
    /// Where the open quote is.
    quote_at: usize,
}

impl<'b> Lexer<'b, '_> {
    /// Start a word whose first byte (if any) comes at `at`.
    fn begin(&mut self, at: usize) {
        self.cur = Cur::Borrowed { start: at, end: at };
        self.stored = 0;
    }

    /// Add the byte at `i` to the current word (NUT's `addchar`).
    fn push(&mut self, i: usize) -> Result<(), LexError> {
        if !is_storable(self.line[i]) {
            self.dropped += 1;
            return Ok(());
        }
        self.extend(i, i + 1)
    }

    /// Add `line[from..to]`, bytes known to be storable, to the word.
    fn extend(&mut self, from: usize, to: usize) -> Result<(), LexError> {
        let n = to - from;
        if self.stored + n > MAX_WORD {
            return Err(LexError::WordTooLong);
        }
        self.stored += n;
        let (line, len) = (
            self.line,
            match self.cur {
                Cur::Borrowed { start, end } if end == from => {
                    self.cur = Cur::Borrowed { start, end: to };
                    return Ok(());
                }
                // An escape or a dropped byte broke the run: copy it out.
                Cur::Borrowed { start, end } => {
                    let len = end - start;
                    let dst = self.scratch.get_mut(..len).ok_or(LexError::LineTooLong)?;
                    dst.copy_from_slice(&self.line[start..end]);
                    len
                }
                Cur::Owned { len } => len,
            },
        );
        let dst = self
            .scratch
            .get_mut(len..len + n)
            .ok_or(LexError::LineTooLong)?;
        dst.copy_from_slice(&line[from..to]);
        self.cur = Cur::Owned { len: len + n };
        Ok(())
    }

    /// Take the run of bytes of `class` that starts at `i` (at least the
    /// byte at `i`); returns where it ends.
    fn run_of(&mut self, i: usize, class: u8) -> Result<usize, LexError> {
        let line = self.line;
        let mut j = i + 1;
        while j < line.len() && CLASS[usize::from(line[j])] & class != 0 {
            j += 1;
        }
        self.extend(i, j)?;
        Ok(j)
    }

    /// Complete the current word (NUT's `endofword`).
    fn finish(&mut self) -> Result<(), LexError> {
        if self.n == self.out.len() {
            return Err(LexError::TooManyArgs);
        }
        let word: &'b [u8] = match self.cur {
            Cur::Borrowed { start, end } => {
                let line = self.line;
                &line[start..end]
            }
            Cur::Owned { len } => {
                let (word, rest) = core::mem::take(&mut self.scratch).split_at_mut(len);
                self.scratch = rest;
                word
            }
        };
        self.out[self.n] = word;
        self.n += 1;
        Ok(())
    }

    /// A word begins at `i` (its first byte, quote or backslash).
    fn word_at(&mut self, i: usize) -> Result<(), LexError> {
        if self.first_at.is_none() {
            self.first_at = Some(i);
        }
        // The files count words as they start (the protocol as they end:
        // the result is the same error, found a word later).
        if self.dialect == Dialect::File && self.n == self.out.len() {
            return Err(LexError::TooManyArgs);
        }
        Ok(())
    }

    /// In a file, a backslash at `i` that joins the next line (LF or
    /// CRLF follows) or ends the file: how many bytes it takes.
    fn join(&self, i: usize) -> Option<usize> {
        if self.dialect != Dialect::File {
            return None;
        }
        match (self.line.get(i + 1), self.line.get(i + 2)) {
            (None, _) => Some(1),
            (Some(b'\n'), _) => Some(2),
            (Some(b'\r'), Some(b'\n')) => Some(3),
            _ => None,
        }
    }

    /// Split from `from` to the end of the line: the end of the input for
    /// the protocol, the LF that ends a logical line in a file. Returns
    /// where the next line starts; an error comes with where it is.
    fn run(&mut self, from: usize) -> Result<usize, (LexError, usize)> {
        let line = self.line;
        let file = self.dialect == Dialect::File;
        let mut state = State::Start;
        let mut i = from;
        while i < line.len() {
            let b = line[i];
            let class = CLASS[usize::from(b)];
            let at = |e: LexError| (e, i);
            if file && b >= 0x80 && state != State::Comment {
                return Err(at(LexError::NonAscii));
            }
            if file && b == b'\n' && matches!(state, State::Start | State::Word | State::Comment) {
                if state == State::Word {
                    self.finish().map_err(at)?;
                }
                return Ok(i + 1);
            }
            if b == b'\\' && matches!(state, State::Start | State::Word | State::Quote) {
                if let Some(n) = self.join(i) {
                    // Backslash-newline: the logical line goes on; no
                    // word starts (NUT would make an empty one).
                    i += n;
                    continue;
                }
            }
            state = match state {
                State::Start => match b {
                    b'#' => State::Comment,
                    b if is_space(b) => State::Start,
                    b'\\' => {
                        self.word_at(i).map_err(at)?;
                        self.begin(i);
                        State::WordEsc
                    }
                    b'"' => {
                        self.word_at(i).map_err(at)?;
                        self.quote_at = i;
                        self.begin(i + 1);
                        State::Quote
                    }
                    _ if class & IN_WORD != 0 => {
                        self.word_at(i).map_err(at)?;
                        self.begin(i);
                        i = self.run_of(i, IN_WORD).map_err(at)?;
                        state = State::Word;
                        continue;
                    }
                    _ => {
                        self.word_at(i).map_err(at)?;
                        self.begin(i);
                        self.push(i).map_err(at)?;
                        if b == b'=' {
                            // `=` outside quotes is always a word of its own.
                            self.finish().map_err(at)?;
                            State::Start
                        } else {
                            State::Word
                        }
                    }
                },
                State::Word => match b {
                    b'#' => {
                        self.finish().map_err(at)?;
                        State::Comment
                    }
                    b if is_space(b) => {
                        self.finish().map_err(at)?;
                        State::Start
                    }
                    b'=' => {
                        self.finish().map_err(at)?;
                        self.word_at(i).map_err(at)?;
                        self.begin(i);
                        self.push(i).map_err(at)?;
                        self.finish().map_err(at)?;
                        State::Start
                    }
                    b'\\' => State::WordEsc,
                    _ if class & IN_WORD != 0 => {
                        i = self.run_of(i, IN_WORD).map_err(at)?;
                        continue;
                    }
                    _ => {
                        self.push(i).map_err(at)?;
                        State::Word
                    }
                },
                // Backslash-LF joins lines; anything else is taken literally.
                State::WordEsc => {
                    if b != b'\n' {
                        self.push(i).map_err(at)?;
                    }
                    State::Word
                }
                State::Quote => match b {
                    b'#' => return Err(at(LexError::HashInQuotes)),
                    // A file's quote ends on its line.
                    b'\n' if file => return Err((LexError::UnterminatedQuote, self.quote_at)),
                    b'"' => {
                        self.finish().map_err(at)?;
                        State::Start
                    }
                    b'\\' => State::QuoteEsc,
                    _ if class & IN_QUOTES != 0 => {
                        i = self.run_of(i, IN_QUOTES).map_err(at)?;
                        continue;
                    }
                    // TAB, CR and LF inside quotes are dropped by `push`.
                    _ => {
                        self.push(i).map_err(at)?;
                        State::Quote
                    }
                },
                State::QuoteEsc => {
                    if b != b'\n' {
                        self.push(i).map_err(at)?;
                    }
                    State::Quote
                }
                State::Comment => {
                    if b == b'\n' {
                        State::Start
                    } else {
                        State::Comment
                    }
                }
            };
            i += 1;
        }
        let end = line.len();
        match state {
            State::Start | State::Comment => Ok(end),
            State::Word => self.finish().map(|()| end).map_err(|e| (e, end)),
            State::WordEsc => Err((LexError::BadEscape, end)),
            State::Quote | State::QuoteEsc if file => {
                Err((LexError::UnterminatedQuote, self.quote_at))
            }
            State::Quote | State::QuoteEsc => Err((LexError::UnterminatedQuote, end)),
        }
    }
}

/// Words hold only bytes 0x20..=0x7F, which are always UTF-8.
fn ascii(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("")
}

/// Split one line (without its LF) into words.
///
/// Words are written into `out`; a word with escapes or dropped bytes is
/// rebuilt in `scratch` (a scratch as long as `line` always suffices).
/// At most [`MAX_ARGS`] slots of `out` are used.
pub fn tokenize<'b, 's>(
    line: &'b [u8],
    scratch: &'b mut [u8],
    out: &'s mut [&'b str],
) -> Result<Tokens<'s, 'b>, LexError> {
    let mut words: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let k = out.len().min(MAX_ARGS);
    let t = tokenize_bytes(line, scratch, &mut words[..k])?;
    let (n, dropped) = (t.words.len(), t.dropped);
    for (o, w) in out.iter_mut().zip(t.words) {
        *o = ascii(w);
    }
    let out: &'s [&'b str] = out;
    Ok(Tokens {
        words: &out[..n],
        dropped,
    })
}

/// [`tokenize`], with the words as bytes: the server's way, with no UTF-8
/// check (words hold ASCII only).
pub fn tokenize_bytes<'b, 's>(
    line: &'b [u8],
    scratch: &'b mut [u8],
    out: &'s mut [&'b [u8]],
) -> Result<Words<'s, 'b>, LexError> {
    if let Some(n) = plain_words(line, out) {
        return Ok(Words {
            words: &out[..n],
            dropped: 0,
        });
    }
    lex(line, scratch, out)
}

/// The whole state machine (see [`tokenize`]).
fn lex<'b, 's>(
    line: &'b [u8],
    scratch: &'b mut [u8],
    out: &'s mut [&'b [u8]],
) -> Result<Words<'s, 'b>, LexError> {
    let mut lx = Lexer {
        dialect: Dialect::Protocol,
        line,
        scratch,
        out: &mut *out,
        n: 0,
        dropped: 0,
        cur: Cur::Borrowed { start: 0, end: 0 },
        stored: 0,
        first_at: None,
        quote_at: 0,
    };
    lx.run(0).map_err(|(e, _)| e)?;
    let (n, dropped) = (lx.n, lx.dropped);
    let out: &'s [&'b [u8]] = out;
    Ok(Words {
        words: &out[..n],
        dropped,
    })
}

/// One logical line of a configuration file, with words (ASCII only).
#[derive(Debug, PartialEq, Eq)]
pub struct FileLine<'s, 'b> {
    /// Where its first word begins in the file.
    pub at: usize,
    pub words: &'s [&'b [u8]],
}

/// Why a configuration file could not be split, and where: the byte at
/// fault, or for [`LexError::UnterminatedQuote`] the quote left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileError {
    pub err: LexError,
    pub at: usize,
}

/// The next logical line with words of configuration file `text`, from
/// `*pos` on (0 at first); `*pos` moves past it. `None` at the end.
///
/// The same rules as [`tokenize`], with a file's lines: LF ends a logical
/// line, a backslash before LF (or CRLF) joins the next one without
/// starting a word, and a backslash at the very end is nothing. Where NUT
/// loses data silently, this refuses: a byte outside ASCII outside a
/// comment ([`LexError::NonAscii`]), and a quote still open at the end of
/// its line ([`LexError::UnterminatedQuote`]; NUT reads on into the next
/// lines). A scratch as long as `text` always suffices.
pub fn next_file_line<'b, 's>(
    text: &'b [u8],
    pos: &mut usize,
    scratch: &'b mut [u8],
    out: &'s mut [&'b [u8]],
) -> Result<Option<FileLine<'s, 'b>>, FileError> {
    let mut lx = Lexer {
        dialect: Dialect::File,
        line: text,
        scratch,
        out: &mut *out,
        n: 0,
        dropped: 0,
        cur: Cur::Borrowed { start: 0, end: 0 },
        stored: 0,
        first_at: None,
        quote_at: 0,
    };
    while *pos < text.len() {
        *pos = lx.run(*pos).map_err(|(err, at)| FileError { err, at })?;
        if lx.n > 0 {
            let (n, at) = (lx.n, lx.first_at.unwrap_or(0));
            let out: &'s [&'b [u8]] = out;
            return Ok(Some(FileLine {
                at,
                words: &out[..n],
            }));
        }
        lx.first_at = None;
    }
    Ok(None)
}

/// The line every stock client sends: words of plain bytes between
/// spaces (no quotes, escapes, comments, `=` or bytes to drop), split in
/// one pass. `None` sends any other line, or one over a limit (`out`'s
/// length included), through the whole state machine, which gives the
/// same words or the error.
pub fn plain_words<'b>(line: &'b [u8], out: &mut [&'b [u8]]) -> Option<usize> {
    let mut n = 0;
    let mut start = 0;
    for (i, &b) in line.iter().enumerate() {
        if CLASS[usize::from(b)] & PLAIN == 0 {
            return None;
        }
        if b == b' ' {
            if i > start {
                let w = line.get(start..i)?;
                if w.len() > MAX_WORD {
                    return None;
                }
                *out.get_mut(n)? = w;
                n += 1;
            }
            start = i + 1;
        }
    }
    if start < line.len() {
        let w = line.get(start..)?;
        if w.len() > MAX_WORD {
            return None;
        }
        *out.get_mut(n)? = w;
        n += 1;
    }
    Some(n)
}

/// Does `b` need a backslash in a reply value (NUT's `PCONF_ESCAPE`)?
const fn needs_escape(b: u8) -> bool {
    matches!(b, b'#' | b'\\' | b'"')
}

/// Write `value` as it goes between the quotes of a reply: `#`, `\` and
/// `"` get a backslash. Bytes a NUT client would drop (controls, non-ASCII)
/// are left out, as upsd never sends them: they could break the framing.
pub fn escape_into<W: fmt::Write + ?Sized>(value: &str, out: &mut W) -> fmt::Result {
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_storable(b) && !needs_escape(b) {
            continue;
        }
        out.write_str(ascii(&bytes[run..i]))?;
        if is_storable(b) {
            out.write_char('\\')?;
            out.write_char(b as char)?;
        }
        run = i + 1;
    }
    out.write_str(ascii(&bytes[run..]))
}

/// Length of `value` once escaped by [`escape_into`].
pub fn escaped_len(value: &[u8]) -> usize {
    value
        .iter()
        .map(|&b| match b {
            b if needs_escape(b) => 2,
            b if is_storable(b) => 1,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lex!(name, input, Ok(words) | Err(error))`: one line, 32 slots, a
    /// scratch as long as the line.
    macro_rules! lex {
        ($name:ident, $line:expr, Ok($words:expr)) => {
            #[test]
            fn $name() {
                let line: &[u8] = $line;
                let mut scratch = [0u8; 4096];
                let mut out = [""; MAX_ARGS];
                let t = tokenize(line, &mut scratch[..line.len()], &mut out).unwrap();
                let want: &[&str] = &$words;
                assert_eq!(t.words, want);
            }
        };
        ($name:ident, $line:expr, Err($err:expr)) => {
            #[test]
            fn $name() {
                let line: &[u8] = $line;
                let mut scratch = [0u8; 4096];
                let mut out = [""; MAX_ARGS];
                let r = tokenize(line, &mut scratch[..line.len()], &mut out);
                assert_eq!(r.map(|t| t.words.len()), Err($err));
            }
        };
    }

    lex!(
        plain_words,
        b"GET VAR su700 ups.status",
        Ok(["GET", "VAR", "su700", "ups.status"])
    );
    lex!(
        runs_of_whitespace,
        b"  LIST\t\x0b\x0cUPS  \r",
        Ok(["LIST", "UPS"])
    );
    lex!(crlf_is_whitespace, b"VER\r", Ok(["VER"]));
    lex!(empty_line, b"", Ok([]));
    lex!(blank_line, b" \t ", Ok([]));
    lex!(comment_only, b"# hello", Ok([]));
    lex!(
        comment_after_words,
        b"LIST UPS # all of them",
        Ok(["LIST", "UPS"])
    );
    lex!(hash_ends_unquoted_word, b"abc#def ghi", Ok(["abc"]));
    lex!(
        quoted_spaces,
        b"SET VAR ups x \"a b  c\"",
        Ok(["SET", "VAR", "ups", "x", "a b  c"])
    );
    lex!(empty_quotes, b"USERNAME \"\"", Ok(["USERNAME", ""]));
    lex!(quote_inside_word_is_literal, b"ab\"c d", Ok(["ab\"c", "d"]));
    lex!(
        word_starts_after_closing_quote,
        b"\"ab\"cd",
        Ok(["ab", "cd"])
    );
    lex!(
        escapes_outside_quotes,
        b"a\\ b \\#c \\\"d \\\\e \\=f",
        Ok(["a b", "#c", "\"d", "\\e", "=f"])
    );
    lex!(
        escapes_inside_quotes,
        b"\"a\\\"b\\\\c\\#d\"",
        Ok(["a\"b\\c#d"])
    );
    lex!(escaped_letter_is_the_letter, b"\\x\"\\y\"", Ok(["x\"y\""]));
    lex!(
        equals_is_its_own_word,
        b"a=b c = d =e f=",
        Ok(["a", "=", "b", "c", "=", "d", "=", "e", "f", "="])
    );
    lex!(equals_inside_quotes_is_literal, b"\"a=b\"", Ok(["a=b"]));
    lex!(
        unquoted_password_with_equals_splits,
        b"PASSWORD ab=cd",
        Ok(["PASSWORD", "ab", "=", "cd"])
    );
    lex!(
        backslash_lf_joins,
        b"GET VAR ups ups.st\\\natus",
        Ok(["GET", "VAR", "ups", "ups.status"])
    );
    lex!(backslash_lf_joins_in_quotes, b"\"a\\\nb\"", Ok(["ab"]));
    lex!(lf_inside_quotes_is_dropped, b"\"a\nb\"", Ok(["ab"]));
    lex!(
        tab_and_cr_inside_quotes_dropped,
        b"\"a\tb\rc\"",
        Ok(["abc"])
    );
    lex!(
        non_ascii_dropped,
        b"caf\xc3\xa9 \"\xe2\x80\x9cx\xe2\x80\x9d\"",
        Ok(["caf", "x"])
    );
    lex!(nul_starts_an_empty_word, b"\x00 VER", Ok(["", "VER"]));
    lex!(del_is_kept, b"a\x7fb", Ok(["a\x7fb"]));
    lex!(
        hash_in_quotes_is_parse_error,
        b"SET VAR u v \"a#b\"",
        Err(LexError::HashInQuotes)
    );
    lex!(
        open_quote,
        b"SET VAR u v \"abc",
        Err(LexError::UnterminatedQuote)
    );
    lex!(
        open_quote_after_escape,
        b"\"abc\\",
        Err(LexError::UnterminatedQuote)
    );
    lex!(
        trailing_backslash,
        b"GET VAR u v\\",
        Err(LexError::BadEscape)
    );

    #[test]
    fn thirty_two_words_fit_and_the_thirty_third_is_an_error() {
        let mut line = Vec::new();
        for i in 0..32 {
            line.extend_from_slice(format!("w{i} ").as_bytes());
        }
        let mut scratch = [0u8; 8];
        let mut out = [""; MAX_ARGS];
        let t = tokenize(&line, &mut scratch, &mut out).unwrap();
        assert_eq!(t.words.len(), 32);
        assert_eq!(t.words[31], "w31");
        line.extend_from_slice(b"w32");
        let mut out = [""; MAX_ARGS];
        assert_eq!(
            tokenize(&line, &mut scratch, &mut out),
            Err(LexError::TooManyArgs)
        );
    }

    #[test]
    fn word_length_limit() {
        let mut scratch = [0u8; 1];
        let mut out = [""; 2];
        let ok = "x".repeat(MAX_WORD);
        let t = tokenize(ok.as_bytes(), &mut scratch, &mut out).unwrap();
        assert_eq!(t.words, [ok.as_str()]);
        let long = "x".repeat(MAX_WORD + 1);
        let mut out = [""; 2];
        assert_eq!(
            tokenize(long.as_bytes(), &mut scratch, &mut out),
            Err(LexError::WordTooLong)
        );
        // Dropped bytes do not count towards the limit.
        let padded = format!("\"{}\x01\"", "x".repeat(MAX_WORD));
        let mut scratch = [0u8; 1024];
        let mut out = [""; 2];
        let t = tokenize(padded.as_bytes(), &mut scratch, &mut out).unwrap();
        assert_eq!((t.words[0].len(), t.dropped), (MAX_WORD, 1));
    }

    #[test]
    fn plain_words_borrow_the_line_and_need_no_scratch() {
        let line = b"LIST VAR \"su700\"";
        let mut out = [""; MAX_ARGS];
        let t = tokenize(line, &mut [], &mut out).unwrap();
        assert_eq!(t.words, ["LIST", "VAR", "su700"]);
        assert_eq!(t.words[2].as_ptr(), line[10..].as_ptr());
        // An escaped word needs scratch; without any it is a typed error.
        let mut out = [""; MAX_ARGS];
        assert_eq!(
            tokenize(b"a\\ b", &mut [], &mut out),
            Err(LexError::LineTooLong)
        );
        let mut scratch = [0u8; 3];
        let mut out = [""; MAX_ARGS];
        assert_eq!(
            tokenize(b"a\\ b", &mut scratch, &mut out).unwrap().words,
            ["a b"]
        );
    }

    #[test]
    fn dropped_bytes_are_counted() {
        let mut scratch = [0u8; 16];
        let mut out = [""; MAX_ARGS];
        let t = tokenize(b"ab\xffc \"\td\"", &mut scratch, &mut out).unwrap();
        assert_eq!(t.words, ["abc", "d"]);
        assert_eq!(t.dropped, 2);
    }

    #[test]
    fn escaping_three_characters() {
        let mut s = String::new();
        escape_into(r#"say "hi" #1 \o/"#, &mut s).unwrap();
        assert_eq!(s, r#"say \"hi\" \#1 \\o/"#);
        assert_eq!(escaped_len(br#"say "hi" #1 \o/"#), s.len());
        let mut s = String::new();
        escape_into("a\nb\tc\u{e9}d", &mut s).unwrap();
        assert_eq!(s, "abcd");
        assert_eq!(escaped_len("a\nb\tc\u{e9}d".as_bytes()), 4);
    }

    #[test]
    fn escape_then_tokenize_round_trips_every_printable_byte() {
        let all: String = (0x20u8..=0x7f).map(char::from).collect();
        for value in [
            all.as_str(),
            "",
            "#",
            "\\",
            "\"",
            "a \"b\" c",
            "\\\\\"#\"",
            "x = y",
        ] {
            let mut line = String::from("VAR ups v \"");
            escape_into(value, &mut line).unwrap();
            line.push('"');
            let mut scratch = [0u8; 512];
            let mut out = [""; MAX_ARGS];
            let t = tokenize(line.as_bytes(), &mut scratch, &mut out).unwrap();
            assert_eq!(t.words, ["VAR", "ups", "v", value], "{line}");
        }
    }

    /// The one-pass split gives exactly what the state machine gives, or
    /// leaves the line to it.
    #[test]
    fn plain_split_agrees_with_the_state_machine() {
        let word = |n: usize| "w".repeat(n);
        let mut lines: Vec<String> = [
            "",
            " ",
            "GET VAR ups ups.status",
            "  GET   VAR  ups ups.status  ",
            "get var UPS battery.charge.low",
            "LIST VAR a\"b",
            "\"x y\" z",
            "a=b",
            "a#b c",
            "a\\ b",
            "x\ty",
            "x\ry",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        lines.push(format!("GET VAR ups {}", word(MAX_WORD)));
        lines.push(format!("GET VAR ups {}", word(MAX_WORD + 1)));
        lines.push(vec!["w"; MAX_ARGS].join(" "));
        lines.push(vec!["w"; MAX_ARGS + 1].join(" "));
        for line in &lines {
            let b = line.as_bytes();
            let mut s1 = [0u8; 4096];
            let mut s2 = [0u8; 4096];
            let mut o1 = [&b""[..]; MAX_ARGS];
            let mut o2 = [&b""[..]; MAX_ARGS];
            let whole = lex(b, &mut s1, &mut o1);
            let fast = super::plain_words(b, &mut o2);
            if let Some(n) = fast {
                assert_eq!(
                    whole.map(|t| t.words.to_vec()),
                    Ok(o2[..n].to_vec()),
                    "{line:?}"
                );
            }
            assert_eq!(
                tokenize(b, &mut s2, &mut [""; MAX_ARGS]).map(|t| t.words.len()),
                lex(b, &mut [0u8; 4096], &mut [&b""[..]; MAX_ARGS]).map(|t| t.words.len()),
                "{line:?}"
            );
        }
        // The common lines take the short way.
        let mut o = [&b""[..]; MAX_ARGS];
        assert_eq!(
            super::plain_words(b"GET VAR ups ups.status", &mut o),
            Some(4)
        );
        assert_eq!(super::plain_words(b"\"a\"", &mut o), None);
    }

    #[test]
    fn file_lines_join_and_refuse_what_nut_loses() {
        let text = b"# comment \xc3\n  a = \"b c\" \\\n d\r\n\n\\\n e\\";
        let mut scratch = [0u8; 64];
        let mut pos = 0;
        let mut got = Vec::new();
        loop {
            let mut out = [&b""[..]; MAX_ARGS];
            match next_file_line(text, &mut pos, &mut scratch, &mut out).unwrap() {
                Some(l) => got.push((l.at, l.words.join(&b"|"[..]))),
                None => break,
            }
        }
        // A join starts no word (NUT would make an empty one before `e`).
        assert_eq!(got, [(14, b"a|=|b c|d".to_vec()), (34, b"e".to_vec())]);
        let err = |t: &[u8]| {
            let mut out = [&b""[..]; MAX_ARGS];
            next_file_line(t, &mut 0, &mut [0u8; 64], &mut out).unwrap_err()
        };
        assert_eq!(
            err(b"x \xe2\x80\x9c"),
            FileError {
                err: LexError::NonAscii,
                at: 2
            }
        );
        assert_eq!(
            err(b"k = \"open\nnext\"\n"),
            FileError {
                err: LexError::UnterminatedQuote,
                at: 4
            }
        );
    }
}
