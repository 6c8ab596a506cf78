//! Case-insensitive globs with `*` (any run of characters, also none) and `?`
//! (exactly one character), for user, schema and table names.
//!
//! Hand-written rather than `globset` because names are short and the
//! common shapes (`*`, `orders`, `report_*`) get a direct comparison; a
//! general pattern uses the classic single-backtrack wildcard walk, linear in
//! practice. Matching never allocates.
//!
//! Case folding is per character: ASCII is lowered directly, any other
//! character takes its Unicode lowercase when that is a single non-ASCII
//! character (`É` → `é`) and stays as it is otherwise. Pattern and name are
//! folded the same way, so the comparison is symmetric.

/// One compiled glob.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    matcher: Matcher,
}

/// The common shapes get a direct comparison. For an all-ASCII pattern the
/// comparison is on bytes: by the folding rule (see [`fold`]) only an ASCII
/// character can equal an ASCII one, so a byte comparison ignoring ASCII
/// case gives the same answer, and a length mismatch answers at once.
#[derive(Debug, Clone)]
enum Matcher {
    /// `*`: every name, including the empty one.
    Everything,
    /// ASCII, no wildcard: `orders`.
    AsciiLiteral(Box<[u8]>),
    /// ASCII literal then one `*`: `report_*`.
    AsciiPrefix(Box<[u8]>),
    /// One `*` then an ASCII literal: `*_audit`.
    AsciiSuffix(Box<[u8]>),
    /// Anything else, including every non-ASCII pattern.
    General(Box<[Token]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    AnyOne,
    /// `*` (runs of `*` are collapsed into one)
    AnyRun,
}

impl Glob {
    /// Compiles `pattern`, or says in a few words why it is not a glob this
    /// matcher accepts. Characters that other pattern languages treat as
    /// special are refused rather than taken literally, because an operator
    /// who writes `report_%` or `[ab]*` almost certainly meant a wildcard.
    pub(crate) fn new(pattern: &str) -> Result<Glob, &'static str> {
        if pattern.is_empty() {
            return Err("the pattern is empty");
        }
        if pattern.trim() != pattern {
            return Err("the pattern starts or ends with a space, so it would never match");
        }
        let mut tokens: Vec<Token> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let token = match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                '%' => return Err(
                    "`%` is not a wildcard here: use `*` for any run of characters and `?` for one",
                ),
                '[' | ']' => return Err(
                    "character classes `[...]` are not supported: list the alternatives instead",
                ),
                '{' | '}' => {
                    return Err("braces `{a,b}` are not supported: list the alternatives instead")
                }
                '\\' => return Err("`\\` escapes are not supported"),
                c => Token::Char(fold(c)),
            };
            if token == Token::AnyRun && tokens.last() == Some(&Token::AnyRun) {
                continue;
            }
            tokens.push(token);
        }
        Ok(Glob {
            matcher: Matcher::for_tokens(tokens),
        })
    }

    /// Whether the pattern matches `name` entirely, ignoring case.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let name_bytes = name.as_bytes();
        match &self.matcher {
            Matcher::Everything => true,
            Matcher::AsciiLiteral(literal) => name_bytes.eq_ignore_ascii_case(literal),
            Matcher::AsciiPrefix(prefix) => name_bytes
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
            Matcher::AsciiSuffix(suffix) => name_bytes
                .len()
                .checked_sub(suffix.len())
                // A tail starting inside a multi-byte character has a
                // continuation byte first, which equals no ASCII byte.
                .is_some_and(|start| name_bytes[start..].eq_ignore_ascii_case(suffix)),
            Matcher::General(tokens) => matches_general(tokens, name),
        }
    }

    /// Whether this glob matches every name (it is `*`).
    pub(crate) fn is_everything(&self) -> bool {
        matches!(self.matcher, Matcher::Everything)
    }
}

impl Matcher {
    fn for_tokens(tokens: Vec<Token>) -> Matcher {
        /// The pattern's characters, if all are ASCII literals.
        fn ascii(tokens: &[Token]) -> Option<Box<[u8]>> {
            tokens
                .iter()
                .map(|t| match t {
                    Token::Char(c) if c.is_ascii() => u8::try_from(*c).ok(),
                    _ => None,
                })
                .collect()
        }
        match tokens.as_slice() {
            [Token::AnyRun] => Matcher::Everything,
            [Token::AnyRun, rest @ ..] if ascii(rest).is_some() => {
                Matcher::AsciiSuffix(ascii(rest).unwrap_or_default())
            }
            [rest @ .., Token::AnyRun] if ascii(rest).is_some() => {
                Matcher::AsciiPrefix(ascii(rest).unwrap_or_default())
            }
            all => match ascii(all) {
                Some(literal) => Matcher::AsciiLiteral(literal),
                None => Matcher::General(tokens.into_boxed_slice()),
            },
        }
    }
}

/// The classic wildcard walk: advance on literal and `?`; on a mismatch go
/// back to just after the most recent `*` and let that `*` swallow one more
/// character. Remembering only the latest `*` is enough because a later `*`
/// can absorb anything an earlier one could.
fn matches_general(tokens: &[Token], name: &str) -> bool {
    let mut token_at = 0usize;
    let mut byte_at = 0usize;
    // (token index just after the last `*`, name offset that `*` resumes from)
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(&token) = tokens.get(token_at) {
            let next = name[byte_at..].chars().next();
            match (token, next) {
                (Token::AnyRun, _) => {
                    token_at += 1;
                    backtrack = Some((token_at, byte_at));
                    continue;
                }
                (Token::AnyOne, Some(c)) => {
                    token_at += 1;
                    byte_at += c.len_utf8();
                    continue;
                }
                (Token::Char(p), Some(c)) if fold(c) == p => {
                    token_at += 1;
                    byte_at += c.len_utf8();
                    continue;
                }
                _ => {}
            }
        } else if byte_at == name.len() {
            return true;
        }
        // Mismatch, or pattern used up before the name.
        let Some((resume_token, resume_byte)) = backtrack else {
            return false;
        };
        let Some(c) = name[resume_byte..].chars().next() else {
            return false;
        };
        let resume_byte = resume_byte + c.len_utf8();
        backtrack = Some((resume_token, resume_byte));
        token_at = resume_token;
        byte_at = resume_byte;
    }
}

/// One character's case fold (see the module doc). A non-ASCII character
/// never folds to an ASCII one (the Kelvin sign stays itself rather than
/// becoming `k`), which is what lets ASCII patterns compare bytes.
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) if !l.is_ascii() => l,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::new(pattern).expect("valid glob").matches(name)
    }

    #[test]
    fn star_matches_everything_including_empty() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("***", "x"));
        assert!(Glob::new("**").expect("valid").is_everything());
    }

    #[test]
    fn literal_is_whole_name_and_case_insensitive() {
        assert!(m("orders", "orders"));
        assert!(m("orders", "ORDERS"));
        assert!(m("ORDERS", "orders"));
        assert!(!m("orders", "orders2"));
        assert!(!m("orders", "order"));
    }

    #[test]
    fn prefix_glob() {
        assert!(m("report_*", "report_"));
        assert!(m("report_*", "Report_Daily"));
        assert!(!m("report_*", "report"));
        assert!(!m("report_*", "xreport_a"));
    }

    #[test]
    fn general_globs() {
        assert!(m("*_audit", "orders_audit"));
        assert!(!m("*_audit", "orders_audit2"));
        assert!(m("audit_*_log", "audit_x_log"));
        assert!(m("audit_*_log", "audit__log"));
        assert!(!m("audit_*_log", "audit_log"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("?", "x"));
        assert!(!m("?", ""));
        assert!(!m("?", "xy"));
        assert!(m("t??", "tab"));
        assert!(m("*a", "aaaa"));
        assert!(m("*aab", "aaaab"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
    }

    #[test]
    fn non_ascii_names_fold_and_step_by_character() {
        assert!(m("CAFÉ", "café"));
        assert!(m("caf?", "café"));
        assert!(m("*é", "Café"));
        assert!(m("ü*", "Übersicht"));
    }

    #[test]
    fn suffix_glob() {
        assert!(m("*_audit", "_audit"));
        assert!(m("*_audit", "Orders_AUDIT"));
        assert!(!m("*_audit", "audit"));
        assert!(m("*_audit", "é_audit"));
        // The tail would start inside `é` (2 bytes): no match, no panic.
        assert!(!m("*x", "é"));
        assert!(!m("*ab", "é"));
    }

    #[test]
    fn fast_paths_agree_with_the_general_walk() {
        let names = [
            "",
            "a",
            "orders",
            "ORDERS_audit",
            "report_x",
            "é",
            "xé_audit",
            "Ka",
        ];
        for pattern in ["orders", "report_*", "*_audit", "*", "k*", "*é_audit"] {
            let glob = Glob::new(pattern).expect("valid");
            let tokens: Vec<Token> = pattern
                .chars()
                .map(|c| match c {
                    '*' => Token::AnyRun,
                    '?' => Token::AnyOne,
                    c => Token::Char(fold(c)),
                })
                .collect();
            for name in names {
                assert_eq!(
                    glob.matches(name),
                    matches_general(&tokens, name),
                    "{pattern} vs {name}"
                );
            }
        }
    }

    #[test]
    fn kelvin_sign_is_not_k() {
        assert!(!m("k", "\u{212A}"));
        assert!(!m("\u{212A}", "k"));
        assert!(m("\u{212A}", "\u{212A}"));
    }

    #[test]
    fn refuses_other_pattern_languages() {
        assert!(Glob::new("").is_err());
        assert!(Glob::new("report_%").is_err());
        assert!(Glob::new("[ab]*").is_err());
        assert!(Glob::new("{a,b}").is_err());
        assert!(Glob::new("a\\*").is_err());
        assert!(Glob::new(" orders").is_err());
    }
}
