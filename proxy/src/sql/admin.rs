//! The statements Tern answers or rewrites itself, read with the shared lexer:
//! `SHOW TERN MIGRATIONS`, `TERN <verb> <id>`, `SET [scope] tern_<name> = ...`
//! and `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>`.
//!
//! Every COM_QUERY passes here before classification, so a statement that is
//! none of these is turned away on its first token (or, for `SET`, its
//! second). Comments, quoting and `/*! */` mean here what they mean to the
//! classifier and to the server: `KILL /* x */ QUERY 5` is a KILL, and a
//! backtick-quoted `` `tern` `` is a name, not Tern's keyword.

use super::lexer::{Lexer, NoHints, Tok, Token};

/// A statement that is Tern's, or a KILL Tern may have to translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TernStatement<'a> {
    /// `SHOW TERN MIGRATIONS`.
    ShowMigrations,
    /// `TERN <verb> <id>`.
    Control {
        verb: Verb,
        id: u64,
    },
    /// `TERN COMPLETE <id>, <id>, ...`: several postponed migrations cut
    /// over together in one RENAME (two ids at least; one is `Control`).
    CompleteGroup(Vec<u64>),
    /// `SET [SESSION|GLOBAL|LOCAL] tern_<name> [= <value>]`, also spelled
    /// `@@[scope.]tern_<name>`. `variable` is the name as written;
    /// `value` is the text after `=` up to the end of the statement
    /// (trailing `;` dropped, surrounding quotes trimmed), `None` without `=`.
    Set {
        variable: &'a str,
        value: Option<&'a str>,
    },
    Kill(Kill),
    /// Starts as Tern's statement (`TERN ...`, `SHOW TERN ...`) but does not
    /// parse: the server's syntax error message for it.
    Malformed(String),
}

/// The verbs of `TERN <verb> <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Pause,
    Resume,
    Cancel,
    Postpone,
    Complete,
    /// `TERN REVERT <id>`: a finished migration's previous table back online.
    Revert,
}

impl Verb {
    fn from_word(word: &str) -> Option<Verb> {
        [
            ("PAUSE", Verb::Pause),
            ("RESUME", Verb::Resume),
            ("CANCEL", Verb::Cancel),
            ("POSTPONE", Verb::Postpone),
            ("COMPLETE", Verb::Complete),
            ("REVERT", Verb::Revert),
        ]
        .into_iter()
        .find(|(w, _)| word.eq_ignore_ascii_case(w))
        .map(|(_, v)| v)
    }
}

/// `KILL [HARD|SOFT] [CONNECTION|QUERY] ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    pub scope: KillScope,
    /// The thread id, when the statement is exactly `KILL ... <digits>`
    /// (`KILL QUERY ID n`, `KILL USER u` and expressions name no thread id).
    pub target: Option<KillTarget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillScope {
    Connection,
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTarget {
    pub id: u64,
    /// Byte offsets of the id's digits in the statement text, for rewriting
    /// it to another id.
    pub start: usize,
    pub end: usize,
}

/// Reads `sql` as one of Tern's statements; `None` for every other statement.
pub fn parse(sql: &str) -> Option<TernStatement<'_>> {
    let mut tokens = Tokens::new(sql);
    let first = tokens.next();
    if is_word(&first, "TERN") {
        return Some(control(&mut tokens).unwrap_or_else(|| malformed(sql)));
    }
    if is_word(&first, "SHOW") {
        if !is_word(&tokens.next(), "TERN") {
            return None;
        }
        let show = is_word(&tokens.next(), "MIGRATIONS") && tokens.at_end();
        return Some(if show {
            TernStatement::ShowMigrations
        } else {
            malformed(sql)
        });
    }
    if is_word(&first, "SET") {
        return set(sql, &mut tokens);
    }
    if is_word(&first, "KILL") {
        return Some(TernStatement::Kill(kill(&mut tokens)));
    }
    None
}

/// The rest of `TERN <verb> <id>`, or of `TERN COMPLETE <id>, <id>, ...`.
fn control(tokens: &mut Tokens<'_>) -> Option<TernStatement<'static>> {
    let verb = tokens.next();
    let verb = (verb.tok == Tok::Word)
        .then(|| Verb::from_word(verb.text))
        .flatten()?;
    let mut ids = vec![migration_id(tokens.next())?];
    loop {
        let next = tokens.next();
        match next.tok {
            Tok::Comma if verb == Verb::Complete => ids.push(migration_id(tokens.next())?),
            Tok::Semi => return tokens.at_end().then_some(statement(verb, ids)),
            Tok::Eof => return Some(statement(verb, ids)),
            _ => return None,
        }
    }
}

/// A migration id: digits only.
fn migration_id(token: Token<'_>) -> Option<u64> {
    (token.tok == Tok::Number && token.text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| token.text.parse().ok())
        .flatten()
}

fn statement(verb: Verb, ids: Vec<u64>) -> TernStatement<'static> {
    match ids.as_slice() {
        [id] => TernStatement::Control { verb, id: *id },
        _ => TernStatement::CompleteGroup(ids),
    }
}

fn malformed(sql: &str) -> TernStatement<'static> {
    let text = sql.trim().trim_end_matches(';').trim();
    TernStatement::Malformed(format!(
        "You have an error in your SQL syntax near '{text}': Tern understands SHOW TERN MIGRATIONS, TERN PAUSE|RESUME|CANCEL|POSTPONE|COMPLETE|REVERT <id> and TERN COMPLETE <id>, <id>, ..."
    ))
}

/// The rest of `SET [scope] tern_<name> [= <value>]`; `None` when the first
/// variable set is not Tern's (it then belongs to the server).
fn set<'a>(sql: &'a str, tokens: &mut Tokens<'a>) -> Option<TernStatement<'a>> {
    let mut name = tokens.next();
    if ["SESSION", "GLOBAL", "LOCAL"]
        .iter()
        .any(|scope| is_word(&name, scope))
    {
        name = tokens.next();
    }
    let variable = match name.tok {
        Tok::Word | Tok::Ident => name.text,
        Tok::SysVar => {
            let text = name.text;
            ["session.", "global.", "local."]
                .iter()
                .find_map(|scope| strip_prefix_ci(text, scope))
                .unwrap_or(text)
        }
        _ => return None,
    };
    strip_prefix_ci(variable, "tern_")?;
    if tokens.next().tok != Tok::Eq {
        return Some(TernStatement::Set {
            variable,
            value: None,
        });
    }
    // The value runs to the end of the statement, so that a second
    // assignment or statement after it shows in the error for a bad value.
    let first = tokens.next();
    let mut end = first.start;
    let mut token = first;
    while token.tok != Tok::Eof {
        if token.tok != Tok::Semi {
            end = token.end;
        }
        token = tokens.next();
    }
    let value = sql
        .get(first.start.min(end)..end)
        .unwrap_or("")
        .trim_matches(|c| c == '\'' || c == '"' || c == '`');
    Some(TernStatement::Set {
        variable,
        value: Some(value),
    })
}

/// The rest of `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>`.
fn kill(tokens: &mut Tokens<'_>) -> Kill {
    let mut word = tokens.next();
    if is_word(&word, "HARD") || is_word(&word, "SOFT") {
        word = tokens.next();
    }
    let mut scope = KillScope::Connection;
    if is_word(&word, "QUERY") {
        scope = KillScope::Query;
        word = tokens.next();
    } else if is_word(&word, "CONNECTION") {
        word = tokens.next();
    }
    let target = (word.tok == Tok::Number && word.text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| word.text.parse().ok())
        .flatten()
        // Only a statement that ends at the id is one thread id.
        .filter(|_| tokens.at_end())
        .map(|id| KillTarget {
            id,
            start: word.start,
            end: word.end,
        });
    Kill { scope, target }
}

fn is_word(token: &Token<'_>, word: &str) -> bool {
    token.tok == Tok::Word && token.text.eq_ignore_ascii_case(word)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

struct Tokens<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Tokens<'a> {
    fn new(sql: &'a str) -> Self {
        Tokens {
            lexer: Lexer::new(sql),
        }
    }

    fn next(&mut self) -> Token<'a> {
        self.lexer.next_token(&mut NoHints)
    }

    /// Nothing but `;` is left.
    fn at_end(&mut self) -> bool {
        loop {
            match self.next().tok {
                Tok::Semi => continue,
                Tok::Eof => return true,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(verb: Verb, id: u64) -> Option<TernStatement<'static>> {
        Some(TernStatement::Control { verb, id })
    }

    fn is_malformed(sql: &str) -> bool {
        matches!(parse(sql), Some(TernStatement::Malformed(_)))
    }

    #[test]
    fn show_tern_migrations_in_every_spelling() {
        for sql in [
            "SHOW TERN MIGRATIONS",
            "  show tern migrations;",
            "SHOW /*!TERN*/ MIGRATIONS",
            "/* why */ SHOW\n\tTERN -- list\n MIGRATIONS ;;",
            "/*M!100100 SHOW TERN MIGRATIONS */",
        ] {
            assert_eq!(parse(sql), Some(TernStatement::ShowMigrations), "{sql}");
        }
    }

    #[test]
    fn tern_control_statements() {
        assert_eq!(parse("TERN postpone 12"), control(Verb::Postpone, 12));
        assert_eq!(parse("tern   pause\n7"), control(Verb::Pause, 7));
        assert_eq!(parse("TERN RESUME 3;"), control(Verb::Resume, 3));
        assert_eq!(
            parse("TERN /* operator */ CANCEL 4 # done"),
            control(Verb::Cancel, 4)
        );
        assert_eq!(parse("/*!TERN COMPLETE 9*/"), control(Verb::Complete, 9));
    }

    #[test]
    fn tern_complete_of_a_group() {
        let group = |ids: &[u64]| Some(TernStatement::CompleteGroup(ids.to_vec()));
        assert_eq!(parse("TERN COMPLETE 3, 4"), group(&[3, 4]));
        assert_eq!(parse("tern complete 3,4 ,5;"), group(&[3, 4, 5]));
        assert_eq!(parse("TERN COMPLETE 7 /* x */ , 7"), group(&[7, 7]));
        assert_eq!(parse("TERN COMPLETE 9;"), control(Verb::Complete, 9));
        assert_eq!(parse("tern revert 12"), control(Verb::Revert, 12));
        assert!(is_malformed("TERN REVERT 3, 4"));
        for sql in [
            "TERN COMPLETE 3,",
            "TERN COMPLETE 3,,4",
            "TERN COMPLETE ,3",
            "TERN COMPLETE 3 4",
            "TERN COMPLETE 3, x",
            "TERN PAUSE 3, 4",
            "TERN CANCEL 3,4",
            "TERN COMPLETE 3; 4",
        ] {
            assert!(is_malformed(sql), "{sql}");
        }
    }

    #[test]
    fn statements_meant_for_tern_that_do_not_parse_are_malformed() {
        for sql in [
            "TERN FLY 1",
            "SHOW TERN",
            "SHOW TERN MIGRATIONS NOW",
            "TERN",
            "TERN PAUSE",
            "TERN PAUSE '5'",
            "TERN PAUSE -5",
            "TERN PAUSE 5 6",
            "TERN PAUSE 5abc",
            "TERN PAUSE 0x5",
        ] {
            assert!(is_malformed(sql), "{sql}");
        }
        let Some(TernStatement::Malformed(message)) = parse("  TERN FLY 1 ;") else {
            panic!("not malformed");
        };
        assert!(message.starts_with("You have an error in your SQL syntax near 'TERN FLY 1':"));
    }

    #[test]
    fn other_statements_are_not_terns() {
        for sql in [
            "SHOW TABLES",
            "SELECT 1",
            "TERNARY",
            "tern_x",
            "SHOW `TERN` MIGRATIONS",
            "`TERN` PAUSE 1",
            "SELECT 'TERN PAUSE 1'",
            "/* TERN PAUSE 1 */ SELECT 1",
            "SET NAMES utf8mb4",
            "SET @tern_ddl = 1",
            "SET @x = 'tern_ddl'",
            "SET autocommit = 0, tern_ddl = 'async'",
            "SET STATEMENT tern_ddl = 'async' FOR SELECT 1",
            "",
        ] {
            assert_eq!(parse(sql), None, "{sql}");
        }
    }

    #[test]
    fn tern_variables() {
        let set = |variable, value| Some(TernStatement::Set { variable, value });
        assert_eq!(
            parse("SET tern_ddl = 'async'"),
            set("tern_ddl", Some("async"))
        );
        assert_eq!(
            parse("set session TERN_CONSISTENCY=\"Global\" ;"),
            set("TERN_CONSISTENCY", Some("Global"))
        );
        assert_eq!(
            parse("SET @@session.tern_ddl = native"),
            set("tern_ddl", Some("native"))
        );
        assert_eq!(
            parse("SET @@tern_consistency = DEFAULT"),
            set("tern_consistency", Some("DEFAULT"))
        );
        assert_eq!(
            parse("SET /* x */ GLOBAL tern_ddl = `online`"),
            set("tern_ddl", Some("online"))
        );
        assert_eq!(parse("SET tern_ddl"), set("tern_ddl", None));
        assert_eq!(parse("SET tern_ddl ="), set("tern_ddl", Some("")));
        assert_eq!(parse("SET tern_foo = 1"), set("tern_foo", Some("1")));
        // The rest of the statement belongs to the value, so the error for
        // it shows what the client sent.
        assert_eq!(
            parse("SET tern_ddl = 'async', autocommit = 0;"),
            set("tern_ddl", Some("async', autocommit = 0"))
        );
    }

    fn kill(sql: &str) -> Option<(KillScope, Option<(u64, &str)>)> {
        match parse(sql)? {
            TernStatement::Kill(k) => {
                Some((k.scope, k.target.map(|t| (t.id, &sql[t.start..t.end]))))
            }
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn kill_statements_and_their_id_spans() {
        use KillScope::*;
        for (sql, want) in [
            ("KILL 5", Some((Connection, Some((5, "5"))))),
            ("kill 5;", Some((Connection, Some((5, "5"))))),
            ("KILL QUERY 5", Some((Query, Some((5, "5"))))),
            ("KILL /* x */ QUERY 5", Some((Query, Some((5, "5"))))),
            ("/*!KILL*/ 5", Some((Connection, Some((5, "5"))))),
            (
                "KILL HARD CONNECTION 12",
                Some((Connection, Some((12, "12")))),
            ),
            ("kill soft query 12 ; ", Some((Query, Some((12, "12"))))),
            ("KILL QUERY 5 -- Ctrl-C", Some((Query, Some((5, "5"))))),
            ("KILL QUERY ID 5", Some((Query, None))),
            ("KILL USER app", Some((Connection, None))),
            ("KILL 5 + 1", Some((Connection, None))),
            ("KILL 5; SELECT 1", Some((Connection, None))),
            ("KILL -5", Some((Connection, None))),
            ("KILL 5.0", Some((Connection, None))),
            ("KILL 1e3", Some((Connection, None))),
            ("KILL '5'", Some((Connection, None))),
            ("KILL CONNECTION QUERY 5", Some((Connection, None))),
            ("KILL 99999999999999999999999", Some((Connection, None))),
            ("SELECT 'KILL 5'", None),
            ("`KILL` 5", None),
        ] {
            assert_eq!(kill(sql), want, "{sql}");
        }
    }

    #[test]
    fn kill_id_offsets_allow_rewriting_the_id() {
        let sql = "KILL /* x */ QUERY 1073741828 ;";
        let Some(TernStatement::Kill(Kill {
            target: Some(t), ..
        })) = parse(sql)
        else {
            panic!("not a kill with a target");
        };
        let rewritten = format!("{}17{}", &sql[..t.start], &sql[t.end..]);
        assert_eq!(rewritten, "KILL /* x */ QUERY 17 ;");
    }
}
