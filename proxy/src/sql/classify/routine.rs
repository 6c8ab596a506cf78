//! Reading a stored function's body or a view's definition for routing: can
//! running it on a replica write, or answer differently than on the client's
//! primary session?
//!
//! The server's `SQL_DATA_ACCESS` characteristic is declared, not enforced: a
//! function declared `READS SQL DATA` may still insert. So Tern reads the body
//! too and counts it as writing when a statement in it starts with a word that
//! writes or changes state, when it reads or sets a user or system variable,
//! takes a lock, or calls a built-in that asks about the session. Calls to
//! other stored functions are reported so that the caller can require them to
//! be read-only as well. The reading errs towards "writes": a word used as a
//! label or variable name that a statement could start with is enough.

use super::functions::{self, Callee};
use super::{TableName, Tables};
use crate::sql::keyword::Kw;
use crate::sql::lexer::{Lexer, NoHints, Tok, Token};

/// What a body does, as far as routing cares.
#[derive(Debug)]
pub struct RoutineBody<'a> {
    /// Writes, changes session or server state, locks, or depends on the
    /// session: never to run on a replica.
    pub needs_primary: bool,
    /// Stored functions (or UDFs) it calls, qualified if written so.
    pub calls: Tables<'a>,
}

/// Words that start a statement which writes data, changes the schema, the
/// session or the server, or ends a transaction. `INSERT(`, `REPLACE(` and
/// `TRUNCATE(` are string and number functions, not statements.
const STATEMENT_WORDS: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "CALL",
    "CHANGE",
    "CHECKSUM",
    "COMMIT",
    "CREATE",
    "DEALLOCATE",
    "DELETE",
    "DROP",
    "EXECUTE",
    "FLUSH",
    "GRANT",
    "HANDLER",
    "INSERT",
    "INSTALL",
    "KILL",
    "LOAD",
    "LOCK",
    "OPTIMIZE",
    "PREPARE",
    "PURGE",
    "RELEASE",
    "RENAME",
    "REPAIR",
    "REPLACE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SHUTDOWN",
    "START",
    "STOP",
    "TRUNCATE",
    "UNINSTALL",
    "UNLOCK",
    "UPDATE",
    "XA",
];

/// After these a new statement starts inside a compound body.
fn opens_statement(previous: Token<'_>) -> bool {
    match previous.tok {
        Tok::Semi | Tok::Colon | Tok::Eof => true,
        Tok::Word => ["BEGIN", "THEN", "ELSE", "DO", "LOOP", "REPEAT", "RETURN"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(previous.text)),
        _ => false,
    }
}

/// Reads a function body (`RETURN expr` or `BEGIN ... END`) or a view's
/// `SELECT`.
pub fn read_routine_body(body: &str) -> RoutineBody<'_> {
    let mut out = RoutineBody {
        needs_primary: false,
        calls: Tables::new(),
    };
    let mut lexer = Lexer::new(body);
    let mut hints = NoHints;
    let mut previous = Token::EOF;
    let mut current = lexer.next_token(&mut hints);
    while current.tok != Tok::Eof {
        let next = lexer.next_token(&mut hints);
        match current.tok {
            Tok::UserVar | Tok::SysVar => out.needs_primary = true,
            Tok::Word => {
                let paren = next.tok == Tok::LParen;
                if opens_statement(previous)
                    && !paren
                    && STATEMENT_WORDS
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(current.text))
                {
                    out.needs_primary = true;
                }
                // `SET x = ...` of a local variable is fine; every other SET
                // (`SET @x`, `SET GLOBAL`, `SET NAMES`, ...) changes the
                // session. The variable token itself is caught above.
                if opens_statement(previous) && current.text.eq_ignore_ascii_case("SET") {
                    let scope = ["GLOBAL", "SESSION", "LOCAL", "PERSIST", "NAMES", "PASSWORD"]
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(next.text));
                    if scope || next.tok != Tok::Word {
                        out.needs_primary = true;
                    }
                }
                // Locking reads, and sequences that move.
                if matches!(current.kw, Kw::Lock | Kw::Next | Kw::Previous)
                    || (current.kw == Kw::For && next.kw == Kw::Update)
                    || functions::is_session_word(current.text) && !paren
                {
                    out.needs_primary = true;
                }
                if next.tok == Tok::Dot {
                    let name = lexer.next_token(&mut hints);
                    let after = lexer.next_token(&mut hints);
                    if after.tok == Tok::LParen {
                        out.calls.insert(TableName {
                            schema: Some(current.text),
                            name: name.text,
                        });
                    }
                    previous = after;
                    current = lexer.next_token(&mut hints);
                    continue;
                }
                if paren {
                    match functions::builtin(current.text) {
                        Some(Callee::Pure | Callee::Syntax) => {}
                        Some(Callee::SessionFact) => out.needs_primary = true,
                        None => out.calls.insert(TableName {
                            schema: None,
                            name: current.text,
                        }),
                    }
                }
            }
            Tok::Ident | Tok::DqString if next.tok == Tok::LParen => {
                out.calls.insert(TableName {
                    schema: None,
                    name: current.text,
                });
            }
            _ => {}
        }
        previous = current;
        current = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_primary(body: &str) -> bool {
        read_routine_body(body).needs_primary
    }

    #[test]
    fn bodies_that_only_compute_or_read_are_fine() {
        for body in [
            "RETURN 1",
            "RETURN (SELECT COUNT(*) FROM t WHERE a > 1)",
            "BEGIN DECLARE x INT DEFAULT 0; SELECT MAX(id) INTO x FROM t; \
             IF x > 3 THEN SET x = x + 1; END IF; RETURN CONCAT('a', REPLACE(x, 1, 2)); END",
            "RETURN INSERT('abc', 1, 1, 'x')",
            "BEGIN DECLARE c CURSOR FOR SELECT a FROM t; RETURN TRUNCATE(1.5, 0); END",
        ] {
            assert!(!needs_primary(body), "{body}");
        }
    }

    #[test]
    fn bodies_that_write_or_ask_about_the_session_need_the_primary() {
        for body in [
            "BEGIN INSERT INTO r6 VALUES (1); RETURN 1; END",
            "BEGIN UPDATE t SET a = 1; RETURN 1; END",
            "BEGIN IF 1 THEN DELETE FROM t; END IF; RETURN 1; END",
            "BEGIN lbl: LOOP REPLACE INTO t VALUES (1); LEAVE lbl; END LOOP; RETURN 1; END",
            "BEGIN CALL p(); RETURN 1; END",
            "BEGIN SET @x = 1; RETURN 1; END",
            "RETURN @x",
            "RETURN @@server_id",
            "BEGIN SET GLOBAL max_connections = 10; RETURN 1; END",
            "RETURN GET_LOCK('a', 0)",
            "RETURN LAST_INSERT_ID(5)",
            "RETURN NEXT VALUE FOR s",
            "RETURN (SELECT a FROM t FOR UPDATE)",
            "RETURN CURRENT_USER",
            "RETURN DATABASE()",
            "BEGIN CREATE TEMPORARY TABLE x (a INT); RETURN 1; END",
            "BEGIN /*! INSERT INTO t VALUES (1) */; RETURN 1; END",
        ] {
            assert!(needs_primary(body), "{body}");
        }
    }

    #[test]
    fn calls_to_other_functions_are_reported() {
        let body = read_routine_body("RETURN f1(2) + app.f2(3) + `f 3`(4) + CONCAT(t.a, 'x')");
        let calls: Vec<_> = body.calls.iter().map(|t| (t.schema, t.name)).collect();
        assert_eq!(
            calls,
            [(None, "f1"), (Some("app"), "f2"), (None, "f 3")],
            "{body:?}"
        );
        assert!(!body.needs_primary);
    }
}
