//! MySQL/MariaDB tokens: the one tokenizer every reader of statement text in
//! Tern uses (the classifier, the ALTER analysis, the admin statements), so
//! comments, quoting and `/*! */` mean the same thing to all of them.
//!
//! Everything that decides where a token ends is ASCII (quotes, comment
//! markers, operators), and bytes of multi-byte characters are never ASCII,
//! so the lexer walks bytes and only ever slices the text at ASCII positions
//! or at its end: every slice is valid UTF-8 and no lookup can panic.
//!
//! Comments are skipped, except that `/*! ... */`, `/*!NNNNN ... */`,
//! `/*M! ... */` and `/*M!NNNNNN ... */` are code the server runs: their
//! markers are dropped and their contents lexed as usual. The version gate is
//! assumed to pass (Tern targets servers newer than the gates dumps use).
//! Hints in ordinary block comments are handed to a [`HintSink`].

use super::keyword::{keyword, Kw};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Unquoted identifier or keyword (`kw` says which keyword, if any).
    Word,
    /// `` `name` ``; the text is what is between the backticks.
    Ident,
    /// `"text"`: a string, or an identifier under `ANSI_QUOTES`.
    DqString,
    /// `'text'`
    String,
    Number,
    /// `@name`, `@'name'`, `` @`name` ``; the text is the name.
    UserVar,
    /// `@@name`, `@@session.name`; the text is what follows `@@`.
    SysVar,
    /// The `@'host'` of an account name such as `'app'@'%'`: an `@` glued to
    /// the name before it. Not a variable.
    Host,
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    Eq,
    /// `:=`
    Assign,
    Colon,
    /// Any other operator character.
    Op,
    Eof,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token<'a> {
    pub tok: Tok,
    pub kw: Kw,
    pub text: &'a str,
    /// Byte offsets of the whole token in the source, quotes and sigils
    /// included, so a reader can cut the statement text at token edges.
    pub start: usize,
    pub end: usize,
}

impl<'a> Token<'a> {
    /// The name a bare word or a backtick-quoted identifier stands for, with
    /// an identifier's doubled backticks undone; `None` for other tokens.
    pub(crate) fn name(&self) -> Option<String> {
        match self.tok {
            Tok::Word => Some(self.text.to_string()),
            Tok::Ident => Some(self.text.replace("``", "`")),
            _ => None,
        }
    }

    pub(crate) const EOF: Token<'static> = Token {
        tok: Tok::Eof,
        kw: Kw::None,
        text: "",
        start: usize::MAX,
        end: usize::MAX,
    };
}

/// Receives `tern:` hints from comments as the lexer passes them.
pub(crate) trait HintSink<'a> {
    fn hint(&mut self, key: &'a str, value: Option<&'a str>);
}

/// For look-ahead copies of the lexer, which must not report a hint twice.
pub(crate) struct NoHints;

impl HintSink<'_> for NoHints {
    fn hint(&mut self, _key: &str, _value: Option<&str>) {}
}

const IDENT: u8 = 1;
const DIGIT: u8 = 2;
const SPACE: u8 = 4;

/// Byte classes. Bytes >= 0x80 belong to multi-byte characters, which MySQL
/// allows in unquoted identifiers.
const CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            class[b] = IDENT;
        } else if c.is_ascii_digit() {
            class[b] = IDENT | DIGIT;
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            class[b] = SPACE;
        }
        b += 1;
    }
    class
};

#[inline]
fn is_ident(b: u8) -> bool {
    CLASS[b as usize] & IDENT != 0
}

#[inline]
fn is_digit(b: u8) -> bool {
    CLASS[b as usize] & DIGIT != 0
}

#[derive(Clone, Copy)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Inside `/*! ... */`: the next `*/` closes it instead of being operators.
    in_exec_comment: bool,
    /// The opening marker of that comment, version included (`/*!50100`).
    exec_marker: (usize, usize),
    /// Where the previous token ended, and whether it was a name or string
    /// an account's `@host` can be glued to.
    last_end: usize,
    last_can_take_host: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            in_exec_comment: false,
            exec_marker: (0, 0),
            last_end: usize::MAX,
            last_can_take_host: false,
        }
    }

    /// Where the opening marker (`/*!`, `/*!50100`, `/*M!100100`) of the
    /// executable comment holding the token just returned starts and ends;
    /// `None` when that token is not inside one. A reader that cuts the text
    /// at token edges needs it to keep the comment's markers paired.
    pub(crate) fn executable_comment_marker(&self) -> Option<(usize, usize)> {
        self.in_exec_comment.then_some(self.exec_marker)
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.bytes().get(i).copied().unwrap_or(0)
    }

    /// Slices between ASCII positions (see the module doc), so `get` only
    /// returns `None` if that reasoning is wrong; an empty name is then the
    /// harmless answer.
    #[inline]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    pub(crate) fn next_token(&mut self, hints: &mut impl HintSink<'a>) -> Token<'a> {
        self.skip_trivia(hints);
        let start = self.pos;
        let mut token = self.lex_token();
        if token.tok != Tok::Eof {
            token.start = start;
            token.end = self.pos;
        } else {
            token.start = self.src.len();
            token.end = self.src.len();
        }
        self.last_end = self.pos;
        self.last_can_take_host = matches!(
            token.tok,
            Tok::Word | Tok::Ident | Tok::DqString | Tok::String
        );
        token
    }

    fn skip_trivia(&mut self, hints: &mut impl HintSink<'a>) {
        let bytes = self.bytes();
        while self.pos < bytes.len() {
            let b = bytes[self.pos];
            if CLASS[b as usize] & SPACE != 0 {
                self.pos += 1;
            } else if b == b'#'
                || (b == b'-' && self.at(self.pos + 1) == b'-' && self.dash_comment_follows())
            {
                self.skip_line();
            } else if b == b'/' && self.at(self.pos + 1) == b'*' {
                self.block_comment(hints);
            } else if b == b'*' && self.in_exec_comment && self.at(self.pos + 1) == b'/' {
                self.in_exec_comment = false;
                self.pos += 2;
            } else {
                return;
            }
        }
    }

    /// `--` starts a comment only when followed by whitespace, a control
    /// character or the end: `1--1` is one minus minus one.
    fn dash_comment_follows(&self) -> bool {
        let next = self.at(self.pos + 2);
        self.pos + 2 >= self.bytes().len() || next <= b' '
    }

    fn skip_line(&mut self) {
        let bytes = self.bytes();
        while self.pos < bytes.len() && bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn block_comment(&mut self, hints: &mut impl HintSink<'a>) {
        let open = self.pos;
        let mut body = open + 2;
        let executable = match self.at(body) {
            b'!' => {
                body += 1;
                true
            }
            b'M' if self.at(body + 1) == b'!' => {
                body += 2;
                true
            }
            _ => false,
        };
        if executable && !self.in_exec_comment {
            self.pos = body + self.version_len(body);
            self.in_exec_comment = true;
            self.exec_marker = (open, self.pos);
            return;
        }
        let bytes = self.bytes();
        let mut end = body;
        while end < bytes.len() && !(bytes[end] == b'*' && self.at(end + 1) == b'/') {
            end += 1;
        }
        let text = self.slice(body, end);
        self.pos = (end + 2).min(bytes.len());
        if !executable {
            parse_hints(text, hints);
        }
    }

    /// Length of the version number after `/*!` or `/*M!`: five digits
    /// (`50100`), or six (`100100`, MariaDB and MySQL 8.0.34+). Fewer digits
    /// are not a version but code.
    fn version_len(&self, from: usize) -> usize {
        let mut n = 0;
        while n < 6 && is_digit(self.at(from + n)) {
            n += 1;
        }
        if n >= 5 {
            n
        } else {
            0
        }
    }

    /// The token at `pos`; its offsets are filled in by [`Lexer::next_token`].
    fn lex_token(&mut self) -> Token<'a> {
        let start = self.pos;
        let Some(&b) = self.bytes().get(start) else {
            return Token::EOF;
        };
        let simple = |this: &mut Self, tok: Tok, len: usize| {
            this.pos = start + len;
            Token {
                tok,
                kw: Kw::None,
                text: this.slice(start, start + len),
                start: 0,
                end: 0,
            }
        };
        match b {
            b'(' => simple(self, Tok::LParen, 1),
            b')' => simple(self, Tok::RParen, 1),
            b',' => simple(self, Tok::Comma, 1),
            b';' => simple(self, Tok::Semi, 1),
            b'.' => simple(self, Tok::Dot, 1),
            b'=' => simple(self, Tok::Eq, 1),
            b':' if self.at(start + 1) == b'=' => simple(self, Tok::Assign, 2),
            b':' => simple(self, Tok::Colon, 1),
            b'\'' | b'"' | b'`' => {
                let text = self.quoted(start);
                let tok = match b {
                    b'\'' => Tok::String,
                    b'"' => Tok::DqString,
                    _ => Tok::Ident,
                };
                Token {
                    tok,
                    kw: Kw::None,
                    text,
                    start: 0,
                    end: 0,
                }
            }
            b'@' => self.at_sign(start),
            _ if is_digit(b) => self.number_or_word(start),
            _ if is_ident(b) => {
                self.pos = self.ident_end(start);
                let text = self.slice(start, self.pos);
                Token {
                    tok: Tok::Word,
                    kw: keyword(text.as_bytes()),
                    text,
                    start: 0,
                    end: 0,
                }
            }
            _ => simple(self, Tok::Op, 1),
        }
    }

    fn ident_end(&self, mut i: usize) -> usize {
        let bytes = self.bytes();
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        i
    }

    /// A quoted string or identifier opening at `start`; returns its contents
    /// as written (escapes and doubled quotes left in place). Backslash
    /// escapes apply to strings, not to backtick identifiers. An unterminated
    /// one runs to the end of the text, as the server would refuse it anyway.
    fn quoted(&mut self, start: usize) -> &'a str {
        let bytes = self.bytes();
        let quote = bytes[start];
        let mut i = start + 1;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\\' && quote != b'`' {
                i += 2;
            } else if b == quote {
                if self.at(i + 1) == quote {
                    i += 2;
                } else {
                    self.pos = i + 1;
                    return self.slice(start + 1, i);
                }
            } else {
                i += 1;
            }
        }
        self.pos = bytes.len();
        self.slice((start + 1).min(bytes.len()), bytes.len())
    }

    fn at_sign(&mut self, start: usize) -> Token<'a> {
        let glued = self.last_end == start && self.last_can_take_host;
        let (tok, name_start) = if glued {
            (Tok::Host, start + 1)
        } else if self.at(start + 1) == b'@' {
            (Tok::SysVar, start + 2)
        } else {
            (Tok::UserVar, start + 1)
        };
        let text = match self.at(name_start) {
            b'\'' | b'"' | b'`' => self.quoted(name_start),
            _ => {
                // User variable names may contain `.`; system variable names
                // carry their scope as `session.name`.
                let bytes = self.bytes();
                let mut i = name_start;
                while i < bytes.len() && (is_ident(bytes[i]) || bytes[i] == b'.') {
                    i += 1;
                }
                self.pos = i;
                self.slice(name_start, i)
            }
        };
        Token {
            tok,
            kw: Kw::None,
            text,
            start: 0,
            end: 0,
        }
    }

    /// Numbers, and identifiers that start with a digit (`1table`, `1e`,
    /// `0xg`), which MySQL allows as long as they are not numbers.
    fn number_or_word(&mut self, start: usize) -> Token<'a> {
        let run_end = self.ident_end(start);
        let run = &self.bytes()[start..run_end];
        let all_digits = run.iter().all(|&b| is_digit(b));
        let mut end = run_end;
        if all_digits && self.at(end) == b'.' {
            end = self.ident_end(end + 1);
        }
        let signed_exponent = matches!(self.at(end - 1), b'e' | b'E')
            && matches!(self.at(end), b'+' | b'-')
            && is_digit(self.at(end + 1));
        let number = all_digits
            || is_prefixed_literal(run)
            || is_exponent_form(run)
            // `1e-3`: the run is digits and the `e`, its digits follow the sign.
            || (signed_exponent && run.len() > 1 && run[..run.len() - 1].iter().all(|&b| is_digit(b)));
        if number && signed_exponent {
            end = self.ident_end(end + 1);
        }
        self.pos = end;
        let text = self.slice(start, end);
        Token {
            tok: if number { Tok::Number } else { Tok::Word },
            kw: Kw::None,
            text,
            start: 0,
            end: 0,
        }
    }
}

/// `1e10`, `2E5`: digits, one `e`, digits. `3e` alone is a name to the
/// server (`3e-1` is a number: the caller sees the sign).
fn is_exponent_form(run: &[u8]) -> bool {
    match run.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) if e > 0 && e + 1 < run.len() => {
            run[..e].iter().all(|&b| is_digit(b)) && run[e + 1..].iter().all(|&b| is_digit(b))
        }
        _ => false,
    }
}

/// `0x1F`, `0b101`: hexadecimal and binary literals. With any other digit
/// (`0xg`, `0b102`) the run is a name to the server.
fn is_prefixed_literal(run: &[u8]) -> bool {
    match run {
        [b'0', b'x', digits @ ..] if !digits.is_empty() => digits.iter().all(u8::is_ascii_hexdigit),
        [b'0', b'b', digits @ ..] if !digits.is_empty() => {
            digits.iter().all(|&b| b == b'0' || b == b'1')
        }
        _ => false,
    }
}

/// Reads `tern:key` and `tern:key=value` items from one comment's text.
/// Items are separated by whitespace, or by a comma that comes right before
/// the next `tern:`, so a value may itself be a comma-separated list
/// (`tern:after=0-1-5,0-2-7`, as the router reads it). Other words in the
/// comment are ignored, so hints can share a comment with a note or an
/// optimizer hint.
fn parse_hints<'a>(comment: &'a str, hints: &mut impl HintSink<'a>) {
    const PREFIX: &[u8] = b"tern:";
    let starts_hint = |text: &str, at: usize| {
        text.as_bytes()
            .get(at..at + PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
    };
    if !comment
        .as_bytes()
        .windows(PREFIX.len())
        .any(|w| w.eq_ignore_ascii_case(PREFIX))
    {
        return;
    }
    for chunk in comment.split(|c: char| c.is_ascii_whitespace()) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let end = (1..rest.len())
                .find(|&i| rest.as_bytes()[i] == b',' && starts_hint(rest, i + 1))
                .unwrap_or(rest.len());
            let item = rest.get(..end).unwrap_or("").trim_matches(',');
            rest = rest.get(end..).unwrap_or("");
            if starts_hint(item, 0) {
                let body = item.get(PREFIX.len()..).unwrap_or("");
                let (key, value) = match body.split_once('=') {
                    Some((key, value)) => (key, Some(value)),
                    None => (body, None),
                };
                if !key.is_empty() {
                    hints.hint(key, value);
                }
            }
        }
    }
}

/// The statement's tokens as text, for recognising short fixed statements by
/// pattern: comments left out, words and numbers upper-cased, strings as `'`,
/// backtick names as `` `name` `` (doubled backticks undone), and the `@`
/// signs of a variable as tokens of their own (`@@session.x` is `@`, `@`,
/// `SESSION`, `.`, `X`).
pub fn token_texts(sql: &str) -> Vec<String> {
    let mut lexer = Lexer::new(sql);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token(&mut NoHints);
        match t.tok {
            Tok::Eof => return out,
            Tok::Word | Tok::Number => out.push(t.text.to_ascii_uppercase()),
            Tok::Ident => out.push(format!("`{}`", t.text.replace("``", "`"))),
            Tok::String | Tok::DqString => out.push("'".to_string()),
            Tok::UserVar | Tok::SysVar | Tok::Host => {
                // The name after the signs never starts with `@`: one level deep.
                let whole = lexer.slice(t.start, t.end);
                let name = whole.trim_start_matches('@');
                out.extend(std::iter::repeat_n(
                    "@".to_string(),
                    whole.len() - name.len(),
                ));
                out.extend(token_texts(name));
            }
            _ => out.push(t.text.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(sql: &str) -> Vec<(Tok, String)> {
        let mut lexer = Lexer::new(sql);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token(&mut NoHints);
            if t.tok == Tok::Eof {
                return out;
            }
            out.push((t.tok, t.text.to_string()));
        }
    }

    #[test]
    fn comments_are_skipped_but_executable_comments_are_code() {
        let toks = tokens("/* a */ SELECT -- b\n 1 # c\n /*!40101 x */ /*M!100100 y*/ /*!z*/");
        let texts: Vec<&str> = toks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["SELECT", "1", "x", "y", "z"]);
    }

    #[test]
    fn offsets_cover_the_whole_token_quotes_included() {
        let sql = "ALTER /*! TABLE */ `t``x` ADD 'a' @@x";
        let mut lexer = Lexer::new(sql);
        let mut cut = Vec::new();
        loop {
            let t = lexer.next_token(&mut NoHints);
            if t.tok == Tok::Eof {
                assert_eq!((t.start, t.end), (sql.len(), sql.len()));
                break;
            }
            cut.push(&sql[t.start..t.end]);
        }
        assert_eq!(cut, ["ALTER", "TABLE", "`t``x`", "ADD", "'a'", "@@x"]);
    }

    #[test]
    fn double_dash_needs_a_space_to_be_a_comment() {
        let toks = tokens("1--1");
        assert_eq!(toks.len(), 4);
        assert_eq!(tokens("1 --").len(), 1);
    }

    #[test]
    fn strings_keep_escapes_and_doubled_quotes_inside() {
        let toks = tokens(r#"'it''s \' -- ;' "a""b" `c``d`"#);
        assert_eq!(toks[0], (Tok::String, r"it''s \' -- ;".to_string()));
        assert_eq!(toks[1], (Tok::DqString, r#"a""b"#.to_string()));
        assert_eq!(toks[2], (Tok::Ident, "c``d".to_string()));
    }

    #[test]
    fn variables_and_account_hosts() {
        let toks = tokens("@a.b @'q' @@session.autocommit 'u'@'h' `u`@localhost");
        let kinds: Vec<Tok> = toks.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                Tok::UserVar,
                Tok::UserVar,
                Tok::SysVar,
                Tok::String,
                Tok::Host,
                Tok::Ident,
                Tok::Host
            ]
        );
        assert_eq!(toks[0].1, "a.b");
        assert_eq!(toks[2].1, "session.autocommit");
    }

    #[test]
    fn numbers_and_identifiers_starting_with_digits() {
        let kinds: Vec<Tok> = tokens("12 1.5 1e-3 0x1F 1table")
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            kinds,
            [
                Tok::Number,
                Tok::Number,
                Tok::Number,
                Tok::Number,
                Tok::Word
            ]
        );
    }

    #[test]
    fn digit_runs_that_are_not_numbers_were_read_as_numbers() {
        // The server names a column `1e` or `0xg` (CHANGE 1e x INT renames it).
        let toks = tokens("1e 0xg 0b102 3E+ 1E5 0b1 2e-1 0x");
        let kinds: Vec<(Tok, &str)> = toks.iter().map(|(k, t)| (*k, t.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (Tok::Word, "1e"),
                (Tok::Word, "0xg"),
                (Tok::Word, "0b102"),
                (Tok::Word, "3E"),
                (Tok::Op, "+"),
                (Tok::Number, "1E5"),
                (Tok::Number, "0b1"),
                (Tok::Number, "2e-1"),
                (Tok::Word, "0x"),
            ]
        );
    }

    #[test]
    fn unterminated_things_end_at_the_end() {
        for sql in [
            "'abc", "`abc", "/* abc", "/*! abc", "\"", "'\\", "@'", "@@", "@",
        ] {
            let _ = tokens(sql);
        }
    }

    #[test]
    fn hints_come_from_plain_block_comments_only() {
        struct Collect(Vec<(String, Option<String>)>);
        impl<'a> HintSink<'a> for Collect {
            fn hint(&mut self, key: &'a str, value: Option<&'a str>) {
                self.0.push((key.to_string(), value.map(str::to_string)));
            }
        }
        let mut sink = Collect(Vec::new());
        let mut lexer = Lexer::new(
            "/* tern:replica, tern:consistency=eventual note */ SELECT '/* tern:no */' /*! tern:no */ -- tern:no\n",
        );
        while lexer.next_token(&mut sink).tok != Tok::Eof {}
        assert_eq!(
            sink.0,
            [
                ("replica".to_string(), None),
                ("consistency".to_string(), Some("eventual".to_string()))
            ]
        );
    }

    #[test]
    fn tokens_know_the_executable_comment_they_stand_in() {
        let sql = "a /*!50100 b /* c */ d */ e /*M!x*/";
        let mut lexer = Lexer::new(sql);
        let mut seen = Vec::new();
        loop {
            let t = lexer.next_token(&mut NoHints);
            if t.tok == Tok::Eof {
                break;
            }
            let marker = lexer
                .executable_comment_marker()
                .map(|(start, end)| &sql[start..end]);
            seen.push((t.text, marker));
        }
        assert_eq!(
            seen,
            [
                ("a", None),
                ("b", Some("/*!50100")),
                ("d", Some("/*!50100")),
                ("e", None),
                ("x", Some("/*M!"))
            ]
        );
    }

    #[test]
    fn names_undo_doubled_backticks() {
        let mut lexer = Lexer::new("`a``b` c 'd'");
        let names: Vec<Option<String>> = (0..3)
            .map(|_| lexer.next_token(&mut NoHints).name())
            .collect();
        assert_eq!(
            names,
            [Some("a`b".to_string()), Some("c".to_string()), None]
        );
    }

    #[test]
    fn token_texts_split_variables_and_fold_case() {
        assert_eq!(
            token_texts("select @@Session.warning_count, @v, `a``b`, 'x' -- c\n;"),
            [
                "SELECT",
                "@",
                "@",
                "SESSION",
                ".",
                "WARNING_COUNT",
                ",",
                "@",
                "V",
                ",",
                "`a`b`",
                ",",
                "'",
                ";"
            ]
        );
    }
}
