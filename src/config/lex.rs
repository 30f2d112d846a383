//! The word splitter shared by all NUT configuration files: NUT's
//! `parseconf` rules (`common/parseconf.c` in NUT), applied to a whole
//! file at once. The splitting is the protocol's own tokenizer
//! ([`crate::proto::lexer::next_file_line`], its file rules); this module
//! turns its errors into messages with line numbers and owns the words.
//!
//! Rules, as NUT applies them:
//! - a line ends at LF; any other ASCII white space (CR included, so CRLF
//!   files work) separates words;
//! - `#` outside quotes starts a comment to the end of the line, also in
//!   the middle of a word (`abc#def` is `abc`);
//! - `"..."` is one word that may hold spaces; `""` is an empty word; a
//!   closing quote ends the word (`"ab"cd` is `ab`, `cd`), while a `"`
//!   inside an unquoted word is an ordinary character (`ab"c`);
//! - a backslash makes the next character literal, inside or outside
//!   quotes (`\#`, `\"`, `\=`, `\\`, `\ `); a backslash at the end of a
//!   line joins the next line to it;
//! - `=` outside quotes is always a word of its own: `a=b`, `a = b`,
//!   `a =b` and `a= b` all give `a`, `=`, `b`;
//! - control characters inside words (a TAB inside quotes, for instance)
//!   are dropped, as NUT drops them.
//!
//! Where NUT silently loses data, this lexer stops with an error instead:
//! - a byte outside ASCII (NUT drops it; typographic quotes pasted from a
//!   web page then break the file in ways hard to see, NUT issue #2543);
//!   such bytes are fine inside comments;
//! - a quote still open at the end of the line (NUT drops the newline and
//!   runs the quoted word on into the next lines);
//! - more than [`MAX_WORDS`] words on a line or more than
//!   [`MAX_WORD_LEN`] characters in a word (NUT drops the excess);
//! - an unescaped `#` inside quotes (NUT abandons the line with an error);
//! - a NUL byte anywhere, comments included (NUT drops it from a word,
//!   so `password = a<NUL>b` silently became `ab`; no text file holds
//!   one by intent).
//!
//! One more small difference: NUT turns white space that follows a
//! line-joining backslash at the start of a word into an empty word; here
//! it only separates words.

use crate::proto::lexer::{self, FileError, MAX_ARGS, MAX_WORD};

/// Most words on one logical line (NUT's `pconf_init` default).
pub const MAX_WORDS: usize = MAX_ARGS;
/// Longest word in characters (NUT's `pconf_init` default).
pub const MAX_WORD_LEN: usize = MAX_WORD;

/// One logical line with at least one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The 1-based physical line its first word is on.
    pub line: usize,
    pub words: Vec<String>,
}

/// Why a file could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub msg: String,
}

/// The 1-based line of byte `at`.
fn line_of(text: &[u8], at: usize) -> usize {
    1 + text[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn error(text: &[u8], e: FileError) -> LineError {
    let msg = match e.err {
        lexer::LexError::TooManyArgs => format!("more than {MAX_WORDS} words on one line"),
        lexer::LexError::WordTooLong => format!("word longer than {MAX_WORD_LEN} characters"),
        lexer::LexError::UnterminatedQuote => "missing closing quote '\"' on this line".into(),
        lexer::LexError::HashInQuotes => "unescaped '#' inside quotes: write \\# for a literal #, \
             or close the quote before the comment"
            .into(),
        lexer::LexError::NonAscii => format!(
            "non-ASCII byte 0x{:02X}: configuration files must be plain ASCII \
             (typographic quotes or accented letters pasted from a document?)",
            text.get(e.at).copied().unwrap_or(0)
        ),
        // A scratch as long as the file always fits, and a file's
        // backslash always escapes or joins.
        other @ (lexer::LexError::BadEscape | lexer::LexError::LineTooLong) => other.to_string(),
    };
    LineError {
        line: line_of(text, e.at),
        msg,
    }
}

/// Split `text` into logical lines of words. Blank and comment-only lines
/// are left out.
pub fn lex(text: &[u8]) -> Result<Vec<Line>, LineError> {
    let mut lines = Vec::new();
    let mut scratch = vec![0u8; text.len()];
    let mut pos = 0;
    // Lines come in order: count LFs from the last one on.
    let (mut seen, mut line) = (0, 1);
    let mut line_at = |at: usize| {
        line += text[seen..at].iter().filter(|&&b| b == b'\n').count();
        seen = at;
        line
    };
    // Before anything else: escaped or in a comment, it is still there.
    if let Some(at) = text.iter().position(|&b| b == 0) {
        return Err(LineError {
            line: line_of(text, at),
            msg: "NUL byte (0x00): configuration files are plain text \
                  (a value cut from binary data, or not a configuration file?)"
                .to_string(),
        });
    }
    loop {
        // The words borrow the scratch until they are copied out.
        let mut slots: [&[u8]; MAX_WORDS] = [&[]; MAX_WORDS];
        let next = lexer::next_file_line(text, &mut pos, &mut scratch, &mut slots);
        match next.map_err(|e| error(text, e))? {
            Some(l) => lines.push(Line {
                line: line_at(l.at),
                // Words hold ASCII only.
                words: l
                    .words
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect(),
            }),
            None => return Ok(lines),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        lex(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|l| l.words)
            .collect()
    }

    fn one(text: &str) -> Vec<String> {
        let mut w = words(text);
        assert_eq!(w.len(), 1, "{text:?} gave {w:?}");
        w.remove(0)
    }

    fn err(text: &str) -> (usize, String) {
        let e = lex(text.as_bytes()).unwrap_err();
        (e.line, e.msg)
    }

    #[test]
    fn plain_words_and_line_numbers() {
        let lines = lex(b"\n# comment\n[ups]\n\tdriver = usbhid-ups\n\n  port=auto  \n").unwrap();
        assert_eq!(
            lines,
            vec![
                Line {
                    line: 3,
                    words: vec!["[ups]".into()]
                },
                Line {
                    line: 4,
                    words: vec!["driver".into(), "=".into(), "usbhid-ups".into()]
                },
                Line {
                    line: 6,
                    words: vec!["port".into(), "=".into(), "auto".into()]
                },
            ]
        );
    }

    #[test]
    fn equals_is_always_a_word() {
        for s in ["a=b", "a = b", "a =b", "a= b", "a\t=\tb"] {
            assert_eq!(one(s), ["a", "=", "b"], "{s}");
        }
        assert_eq!(one("a==b"), ["a", "=", "=", "b"]);
        assert_eq!(one("=x"), ["=", "x"]);
        // Quoted or escaped, it is an ordinary character.
        assert_eq!(one("p = \"a=b\""), ["p", "=", "a=b"]);
        assert_eq!(one("p = a\\=b"), ["p", "=", "a=b"]);
        assert_eq!(one("p = \\=="), ["p", "=", "=", "="]);
    }

    #[test]
    fn quotes() {
        assert_eq!(
            one("desc = \"My UPS  here\""),
            ["desc", "=", "My UPS  here"]
        );
        assert_eq!(one("a \"\" b"), ["a", "", "b"]);
        assert_eq!(one("\"ab\"cd"), ["ab", "cd"]);
        assert_eq!(one("ab\"c"), ["ab\"c"]);
        assert_eq!(one("x=\"\""), ["x", "=", ""]);
        assert_eq!(one("\"a b\"\"c\""), ["a b", "c"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(one(r"a\ b"), ["a b"]);
        assert_eq!(one(r"\#notcomment"), ["#notcomment"]);
        assert_eq!(one(r"p = ab\#c"), ["p", "=", "ab#c"]);
        assert_eq!(one(r#"\"quoted\""#), ["\"quoted\""]);
        assert_eq!(one(r"a\\b"), [r"a\b"]);
        assert_eq!(one(r#""say \"hi\" \\ \# ok""#), [r#"say "hi" \ # ok"#]);
        assert_eq!(one(r"\x"), ["x"]);
        // A lone backslash at the end of the file is dropped.
        assert_eq!(one("a \\"), ["a"]);
    }

    #[test]
    fn comments() {
        assert_eq!(one("abc#def"), ["abc"]);
        assert_eq!(one("a b # c d"), ["a", "b"]);
        assert_eq!(
            one("a \"b # c\" d".replace('#', "\\#").as_str()),
            ["a", "b # c", "d"]
        );
        assert_eq!(words("# only\n   # indented\n"), Vec::<Vec<String>>::new());
        // Non-ASCII bytes are fine in comments.
        assert_eq!(one("x # caf\u{e9} \u{201c}ok\u{201d}"), ["x"]);
    }

    #[test]
    fn line_continuation() {
        let lines = lex(b"SHUTDOWNCMD \\\n  \"/sbin/shutdown -h now\"\nNEXT 1\n").unwrap();
        assert_eq!(
            lines,
            vec![
                Line {
                    line: 1,
                    words: vec!["SHUTDOWNCMD".into(), "/sbin/shutdown -h now".into()]
                },
                Line {
                    line: 3,
                    words: vec!["NEXT".into(), "1".into()]
                },
            ]
        );
        // Mid-word and inside quotes the next line is joined directly.
        assert_eq!(one("abc\\\ndef"), ["abcdef"]);
        assert_eq!(one("\"abc\\\ndef\""), ["abcdef"]);
        // CRLF after the backslash also joins.
        assert_eq!(one("a \\\r\nb\r\n"), ["a", "b"]);
        // The line of a joined line is where its first word is.
        let l = lex(b"\\\nx y\n").unwrap();
        assert_eq!(l[0].line, 2);
    }

    #[test]
    fn crlf_and_control_characters() {
        assert_eq!(words("a = b\r\nc\r\n"), [vec!["a", "=", "b"], vec!["c"]]);
        // TAB and CR inside quotes are dropped, as NUT drops them.
        assert_eq!(one("\"a\tb\r\""), ["ab"]);
        // DEL (0x7F) is kept.
        assert_eq!(one("a\x7fb"), ["a\x7fb"]);
    }

    #[test]
    fn no_final_newline() {
        assert_eq!(one("MAXAGE 15"), ["MAXAGE", "15"]);
        assert_eq!(one("x \"y\""), ["x", "y"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("ok\np = \"ab#c\"\n"),
            (
                2,
                "unescaped '#' inside quotes: write \\# for a literal #, or close the quote before the comment"
                    .to_string()
            )
        );
        assert_eq!(
            err("desc = \"open\nport = auto\n"),
            (1, "missing closing quote '\"' on this line".to_string())
        );
        assert_eq!(
            err("a\ndesc = \"open"),
            (2, "missing closing quote '\"' on this line".to_string())
        );
        let smart = "desc = \u{201c}Office\u{201d}\n";
        assert_eq!(
            err(&format!("x\n{smart}")),
            (
                2,
                "non-ASCII byte 0xE2: configuration files must be plain ASCII \
                 (typographic quotes or accented letters pasted from a document?)"
                    .to_string()
            )
        );
        // Also right after a backslash (0xC3 is the first byte of UTF-8 'é').
        assert_eq!(
            err("a \\\u{e9}"),
            (
                1,
                "non-ASCII byte 0xC3: configuration files must be plain ASCII \
                 (typographic quotes or accented letters pasted from a document?)"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_nul_byte_is_refused_wherever_it_is() {
        let msg = "NUL byte (0x00): configuration files are plain text \
                   (a value cut from binary data, or not a configuration file?)"
            .to_string();
        for text in [
            "[u]\npassword = a\0b\n",
            "[u]\npassword = \"a\0b\"\n",
            "[u]\npassword = a\\\0b\n",
            "[u]\n\0\n",
            "[u]\n# a comment \0\n",
        ] {
            assert_eq!(err(text), (2, msg.clone()), "{text:?}");
        }
    }

    #[test]
    fn limits() {
        let ok = vec!["w"; MAX_WORDS].join(" ");
        assert_eq!(one(&ok).len(), MAX_WORDS);
        let over = vec!["w"; MAX_WORDS + 1].join(" ");
        assert_eq!(
            err(&over),
            (1, "more than 32 words on one line".to_string())
        );
        // `=` words count too.
        let over = format!("k {}", vec!["="; MAX_WORDS].join(""));
        assert_eq!(
            err(&over),
            (1, "more than 32 words on one line".to_string())
        );
        let long = "x".repeat(MAX_WORD_LEN);
        assert_eq!(one(&long), vec![long.as_str()]);
        assert_eq!(
            err(&format!("a\n\"{long}y\"")),
            (2, "word longer than 512 characters".to_string())
        );
        // An empty quoted word at the limit still counts as a word.
        let over = format!("{} \"\"", vec!["w"; MAX_WORDS].join(" "));
        assert_eq!(
            err(&over),
            (1, "more than 32 words on one line".to_string())
        );
    }
}
