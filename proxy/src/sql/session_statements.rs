//! Statements whose effect on the session Tern follows, read on the shared
//! lexer: the assignments of a `SET` (which variables, in which scope, with
//! what value), and the diagnostics statements (`SHOW WARNINGS`, `SHOW
//! ERRORS`, `SHOW COUNT(*) WARNINGS`) that describe the previous statement.
//!
//! Comments, quoting and `/*! */` read as everywhere else in `sql/`; the
//! corpus of spellings in `sql/tests.rs` holds these readers too.

use super::lexer::{Lexer, NoHints, Tok, Token};

/// Where an assignment of a `SET` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No scope word, `SESSION`, `LOCAL`, `@@name`, `@@session.name`.
    Session,
    /// `GLOBAL` or `@@global.name`.
    Global,
}

/// One `variable = value` of a `SET`.
#[derive(Debug, Clone)]
pub(crate) struct Assignment<'a> {
    pub scope: Scope,
    /// The variable's name as written, scope prefix and quotes removed.
    pub name: &'a str,
    /// The value's tokens.
    pub value: Vec<Token<'a>>,
}

fn tokens(sql: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer::new(sql);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token(&mut NoHints);
        if t.tok == Tok::Eof {
            return out;
        }
        out.push(t);
    }
}

/// Whether `needle` occurs in `sql`, ignoring ASCII case: the sniff that
/// decides whether a statement is worth reading at all.
fn mentions(sql: &str, needle: &str) -> bool {
    sql.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn is_word(t: Option<&Token<'_>>, word: &str) -> bool {
    t.is_some_and(|t| t.tok == Tok::Word && t.text.eq_ignore_ascii_case(word))
}

/// The word right after `SET`, upper-cased by the caller's comparison
/// (`GLOBAL`, `PASSWORD`, `STATEMENT`, `TRANSACTION`, a variable's name...);
/// `None` when the statement is not a `SET`.
pub fn set_first_word(sql: &str) -> Option<&str> {
    let t = tokens(sql);
    if !is_word(t.first(), "SET") {
        return None;
    }
    t.get(1)
        .filter(|t| matches!(t.tok, Tok::Word | Tok::Ident))
        .map(|t| t.text)
}

/// The assignments of a plain `SET` (not `SET STATEMENT ... FOR`, `SET
/// NAMES`, `SET PASSWORD` and the like, which assign no variable by name);
/// empty for any other statement.
pub(crate) fn set_assignments(sql: &str) -> Vec<Assignment<'_>> {
    let t = tokens(sql);
    if !is_word(t.first(), "SET") || is_word(t.get(1), "STATEMENT") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut items: Vec<&[Token<'_>]> = Vec::new();
    let (mut depth, mut start) = (0usize, 1usize);
    for (i, tok) in t.iter().enumerate().skip(1) {
        match tok.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            Tok::Comma | Tok::Semi if depth == 0 => {
                items.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&t[start.min(t.len())..]);
    for item in items {
        if let Some(a) = assignment(item) {
            out.push(a);
        }
    }
    out
}

fn assignment<'a>(item: &[Token<'a>]) -> Option<Assignment<'a>> {
    let mut rest = item;
    let mut scope = Scope::Session;
    if let Some(first) = rest.first() {
        if is_word(Some(first), "GLOBAL") {
            scope = Scope::Global;
            rest = &rest[1..];
        } else if is_word(Some(first), "SESSION") || is_word(Some(first), "LOCAL") {
            rest = &rest[1..];
        }
    }
    let target = rest.first()?;
    let name = match target.tok {
        Tok::Word | Tok::Ident => target.text,
        Tok::SysVar => {
            let text = target.text;
            match text.split_once('.') {
                Some((prefix, name)) if prefix.eq_ignore_ascii_case("global") => {
                    scope = Scope::Global;
                    name
                }
                Some((prefix, name))
                    if prefix.eq_ignore_ascii_case("session")
                        || prefix.eq_ignore_ascii_case("local") =>
                {
                    name
                }
                _ => text,
            }
        }
        _ => return None,
    };
    if !matches!(rest.get(1).map(|t| t.tok), Some(Tok::Eq | Tok::Assign)) {
        return None;
    }
    Some(Assignment {
        scope,
        name,
        value: rest[2..].to_vec(),
    })
}

/// After a `SET session_track_system_variables = ...` of the session: whether
/// the server still reports the session's commit GTIDs (the list names
/// `last_gtid` or `*`, or is the global default). `None` when the statement
/// sets no such session variable (`SET GLOBAL`, `SET STATEMENT ... FOR`, any
/// other statement).
pub fn tracks_own_gtids(sql: &str) -> Option<bool> {
    if !mentions(sql, "session_track_system_variables") {
        return None;
    }
    let a = set_assignments(sql).into_iter().find(|a| {
        a.scope == Scope::Session
            && a.name
                .eq_ignore_ascii_case("session_track_system_variables")
    })?;
    Some(a.value.iter().any(|t| match t.tok {
        Tok::String | Tok::DqString => {
            t.text.contains('*') || t.text.to_ascii_lowercase().contains("last_gtid")
        }
        Tok::Word => t.text.eq_ignore_ascii_case("DEFAULT"),
        _ => false,
    }))
}

/// Does this `SET` turn on something that records the session's own
/// statements where they run (`profiling...`, `optimizer_trace...`)?
pub fn sets_self_inspection(sql: &str) -> bool {
    if !mentions(sql, "profiling") && !mentions(sql, "optimizer_trace") {
        return false;
    }
    set_assignments(sql).iter().any(|a| {
        let name = a.name.to_ascii_lowercase();
        name.starts_with("profiling") || name.starts_with("optimizer_trace")
    })
}

/// Does this `SET` change a variable of the session itself (not a user
/// variable, not a global one, not the password)? A replica's connection
/// would have to repeat it to answer as this session.
pub fn sets_session_variable(sql: &str) -> bool {
    set_assignments(sql).iter().any(|a| {
        a.scope == Scope::Session
            && !a.name.eq_ignore_ascii_case("password")
            && !a.name.eq_ignore_ascii_case("autocommit")
    })
}

/// Does this `SET` turn `sql_auto_is_null` on (any value but a literal
/// off)? Then `WHERE auto_increment_key IS NULL` finds the row of the
/// session's last insert, which only its primary connection knows.
pub fn sets_auto_is_null(sql: &str) -> bool {
    if !mentions(sql, "sql_auto_is_null") {
        return false;
    }
    set_assignments(sql).iter().any(|a| {
        a.scope == Scope::Session
            && a.name.eq_ignore_ascii_case("sql_auto_is_null")
            && !matches!(
                a.value.as_slice(),
                [v] if v.text == "0"
                    || v.text.eq_ignore_ascii_case("OFF")
                    || v.text.eq_ignore_ascii_case("FALSE")
                    || v.text.eq_ignore_ascii_case("DEFAULT")
            )
    })
}

/// Does any assignment of this `SET` apply globally?
pub fn sets_global(sql: &str) -> bool {
    if !mentions(sql, "global") {
        return false;
    }
    set_assignments(sql)
        .iter()
        .any(|a| a.scope == Scope::Global)
}

/// The tokens of `sql` one call at a time, `None` at the end: for readers
/// that decide from the first few.
fn token_by_token<'a>(sql: &'a str) -> impl FnMut() -> Option<Token<'a>> {
    let mut lexer = Lexer::new(sql);
    move || {
        let t = lexer.next_token(&mut NoHints);
        (t.tok != Tok::Eof).then_some(t)
    }
}

/// `SHOW WARNINGS`, `SHOW ERRORS`, `SHOW COUNT(*) WARNINGS` (with or without
/// `LIMIT`): they describe the previous statement, wherever it ran.
pub fn is_diagnostics_query(sql: &str) -> bool {
    // Every statement routed to the primary asks this: look at the first
    // few tokens only, without collecting them.
    let mut next = token_by_token(sql);
    if !is_word(next().as_ref(), "SHOW") {
        return false;
    }
    let list = |t: Option<&Token<'_>>| is_word(t, "WARNINGS") || is_word(t, "ERRORS");
    let second = next();
    if list(second.as_ref()) {
        return true;
    }
    is_word(second.as_ref(), "COUNT")
        && next().is_some_and(|t| t.tok == Tok::LParen)
        && next().is_some_and(|t| t.text == "*")
        && next().is_some_and(|t| t.tok == Tok::RParen)
        && list(next().as_ref())
}

/// `SELECT @@warning_count`, `SELECT @@error_count` (also `@@session.`) and
/// `SELECT FOUND_ROWS()`, alone: like `SHOW WARNINGS` they describe the
/// previous statement, so they belong where it ran.
pub fn asks_about_previous_statement(sql: &str) -> bool {
    let mut next = token_by_token(sql);
    if !is_word(next().as_ref(), "SELECT") {
        return false;
    }
    let asked = match next() {
        Some(t) if t.tok == Tok::SysVar => {
            let name = t
                .text
                .split_once('.')
                .filter(|(scope, _)| {
                    scope.eq_ignore_ascii_case("session") || scope.eq_ignore_ascii_case("local")
                })
                .map_or(t.text, |(_, name)| name);
            name.eq_ignore_ascii_case("warning_count") || name.eq_ignore_ascii_case("error_count")
        }
        Some(t) if is_word(Some(&t), "FOUND_ROWS") => {
            next().is_some_and(|t| t.tok == Tok::LParen)
                && next().is_some_and(|t| t.tok == Tok::RParen)
        }
        _ => false,
    };
    asked && next().is_none_or(|t| t.tok == Tok::Semi) && next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_the_previous_statement_are_recognised() {
        for sql in [
            "SELECT @@warning_count",
            "select @@session.error_count;",
            "SELECT FOUND_ROWS()",
            "SELECT found_rows ( )",
        ] {
            assert!(asks_about_previous_statement(sql), "{sql}");
        }
        for sql in [
            "SELECT @@global.warning_count",
            "SELECT @@warning_count, 1",
            "SELECT FOUND_ROWS() FROM t",
            "SELECT @@max_allowed_packet",
            "SELECT 1",
            "SHOW WARNINGS",
            "SELECT @@warning_count; SELECT 1",
        ] {
            assert!(!asks_about_previous_statement(sql), "{sql}");
        }
    }

    #[test]
    fn a_session_tracking_list_without_last_gtid_is_noticed() {
        let t = tracks_own_gtids;
        assert_eq!(
            t("SET session_track_system_variables='auto_increment_increment'"),
            Some(false)
        );
        assert_eq!(
            t("SET SESSION session_track_system_variables = 'autocommit,last_gtid'"),
            Some(true)
        );
        assert_eq!(t("set @@session_track_system_variables='*'"), Some(true));
        assert_eq!(
            t("SET @@session.session_track_system_variables = DEFAULT"),
            Some(true)
        );
        assert_eq!(t("SET GLOBAL session_track_system_variables = ''"), None);
        assert_eq!(t("SET @@global.session_track_system_variables = ''"), None);
        assert_eq!(
            t("SET STATEMENT session_track_system_variables='' FOR SELECT 1"),
            None
        );
        assert_eq!(t("SET NAMES utf8mb4"), None);
        assert_eq!(
            t("SET a = 1, /* x */ session_track_system_variables = 'autocommit'"),
            Some(false)
        );
        assert_eq!(t("SELECT @@session_track_system_variables"), None);
    }

    #[test]
    fn assignments_read_scope_name_and_value() {
        let a = set_assignments("SET GLOBAL x = 1, @@session.y := (1, 2), LOCAL `z` = 'v'");
        let read: Vec<(Scope, &str, usize)> =
            a.iter().map(|a| (a.scope, a.name, a.value.len())).collect();
        assert_eq!(
            read,
            [
                (Scope::Global, "x", 1),
                (Scope::Session, "y", 5),
                (Scope::Session, "z", 1)
            ]
        );
        assert!(sets_global("SET @@global.max_connections = 10"));
        assert!(!sets_global("SET sql_mode = 'global'"));
        assert!(sets_self_inspection("SET profiling = 1"));
        assert!(sets_self_inspection(
            "SET SESSION optimizer_trace = 'enabled=on'"
        ));
        assert!(!sets_self_inspection("SET @x = 'profiling'"));
        assert_eq!(
            set_first_word("/* c */ SET PASSWORD = 'x'"),
            Some("PASSWORD")
        );
        assert_eq!(set_first_word("SELECT 1"), None);
    }

    #[test]
    fn diagnostics_statements_are_recognised_with_comments_too() {
        for sql in [
            "SHOW WARNINGS",
            "show errors limit 1",
            "/* x */ SHOW WARNINGS",
            "SHOW COUNT(*) WARNINGS",
            "SHOW COUNT ( * ) ERRORS",
        ] {
            assert!(is_diagnostics_query(sql), "{sql}");
        }
        for sql in [
            "SHOW VARIABLES LIKE '%warnings%'",
            "SELECT 'SHOW WARNINGS'",
            "SHOW TABLES",
        ] {
            assert!(!is_diagnostics_query(sql), "{sql}");
        }
    }
}
