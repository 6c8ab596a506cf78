//! The spellings every reader of statement text must read alike.
//!
//! A statement is written as pieces ([`STATEMENTS`], split by [`pieces`]);
//! [`variants`] spells it in the ways the server reads as the same statement:
//! comments of every kind between the pieces, a run of pieces inside `/*! */`,
//! `/*!50100 */` or `/*M!100100 */`, names in backticks, keywords in other
//! letter cases, other whitespace. Each reader (a consumer) gets a test that
//! calls [`reads_alike`] with its reading of a text, which must come out the
//! same for the plain spelling and every variant. A new reader adds one such
//! test, and its own statements to the table when the table lacks them.
//!
//! How pieces are written: upper-case words are keywords (function names too,
//! so quoting never turns a built-in into a stored function call), words
//! starting with a lower-case letter are names (`db.t` is one piece and is
//! quoted part by part), pieces starting with a backtick are names already
//! quoted, anything else (strings, numbers, operators, punctuation) is left
//! as it is. A piece is never split, so `5--1` or `'a -- b'` stays whole.

use super::admin::{self, TernStatement};
use super::alter::{plan, AlterPlan, OnlineAlter};
use super::classify::classify;
use super::lexer::{Lexer, NoHints, Tok};

/// Statements for every reader, pieces separated by single spaces (a string
/// literal is one piece, spaces and all; see the module doc).
pub(crate) const STATEMENTS: &[&str] = &[
    // Reads, writes and KILL, for the classifier.
    "SELECT a , 'x -- y /* z' FROM app.t JOIN u ON t.id = u.id",
    "SELECT COUNT ( * ) FROM t WHERE a = 5--1 FOR UPDATE",
    "INSERT INTO t ( a , b ) VALUES ( 1 , '# no comment' )",
    "UPDATE `my``t` SET a = a + 1 WHERE id = 3",
    "DELETE FROM db.t WHERE b IN ( SELECT b FROM u )",
    "KILL QUERY 42",
    "SET SESSION tern_ddl = 'async'",
    // Tern's own statements and KILL, for the admin reader.
    "SHOW TERN MIGRATIONS",
    "TERN PAUSE 7",
    "TERN COMPLETE 12",
    "KILL CONNECTION 9",
    "KILL HARD QUERY 3",
    "SET @@SESSION.tern_ddl = 'native'",
    "SET tern_ddl = online_strict",
    // SETs and diagnostics statements whose effect on the session Tern follows.
    "SET SESSION session_track_system_variables = 'autocommit,last_gtid'",
    "SET session_track_system_variables = 'autocommit'",
    "SET GLOBAL max_connections = 10",
    "SET profiling = 1",
    "SHOW WARNINGS LIMIT 2",
    "SHOW COUNT ( * ) ERRORS",
    "LOCK TABLES t WRITE , u READ",
    "SELECT * FROM t WHERE s = 'it''s' LIMIT 10",
    // Table changes, for the classifier and the ALTER reader.
    "ALTER TABLE app.t ADD COLUMN note VARCHAR ( 32 ) NOT NULL DEFAULT ''",
    "ALTER TABLE t CHANGE a b INT , RENAME COLUMN c TO d , DROP COLUMN e",
    "ALTER TABLE t ADD COLUMN c INT DEFAULT ( 5--1 ) , DROP COLUMN b",
    "ALTER TABLE t ADD c VARCHAR ( 9 ) DEFAULT '-- /* # */' , DROP d",
    "ALTER TABLE `my``db`.`t``1` CHANGE `a``b` `c``d` INT , DROP COLUMN `e``f`",
    "ALTER TABLE t ADD ( a INT , b INT ) , ADD UNIQUE KEY u ( a )",
    "ALTER TABLE t ADD c INT , ALGORITHM = INPLACE , LOCK = NONE",
    "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY ( a ) REFERENCES p ( id )",
    "ALTER TABLE IF EXISTS t ENGINE = InnoDB",
    "ALTER ONLINE TABLE t DROP KEY k",
    "ALTER TABLE t ADD c INT COMMENT 'PARTITION BY x ORDER BY y'",
    "ALTER TABLE t PARTITION BY HASH ( id ) PARTITIONS 4",
    "ALTER TABLE t ORDER BY b",
    "ALTER TABLE t RENAME TO u",
    "CREATE UNIQUE INDEX u ON app.t ( a , b ( 10 ) ) USING BTREE COMMENT 'x'",
    "DROP INDEX IF EXISTS u ON t ALGORITHM = COPY",
    "CREATE INDEX IF NOT EXISTS i ON t ( a ) ALGORITHM = INPLACE LOCK = NONE",
    "DROP INDEX i ON db.t",
    "ALTER TABLE t WAIT 5 MODIFY c INT NOT NULL UNIQUE",
    "ALTER DATABASE d CHARACTER SET utf8mb4",
];

/// Comments the server skips, each between two pieces. `--` needs the
/// whitespace or control character after it to be a comment.
const COMMENTS: &[&str] = &[
    " /* c */ ",
    "/**/",
    " /* two\nlines -- # ' \" ` */ ",
    " -- c\n",
    " --\tc\n",
    " --\n",
    " # c\n",
    "#\n",
    " -- /* ' \n",
    " # */ `\n",
];

/// Executable comments: their contents are code.
const EXECUTABLE: &[&str] = &["/*!", "/*!50100 ", "/*M!100100 ", "/*M!"];

/// A statement of [`STATEMENTS`] as its pieces: split at spaces outside
/// string literals.
pub(crate) fn pieces(statement: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_string = false;
    let mut start = 0;
    for (i, c) in statement.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            ' ' if !in_string => {
                out.push(&statement[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&statement[start..]);
    out
}

/// Spellings the server reads as the statement `pieces` (see the module doc).
pub(crate) fn variants(pieces: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for comment in COMMENTS {
        out.push(format!("{comment}{}", pieces.join(comment)));
        // At the end too, where `--` may meet the end of the text.
        out.push(format!("{}{}", pieces.join(" "), comment.trim_end()));
    }
    for space in ["\n", "\t", "  \r\n  ", "\n\n"] {
        out.push(format!("{space}{}{space}", pieces.join(space)));
    }
    for marker in EXECUTABLE {
        for from in 0..pieces.len() {
            for to in from + 1..=pieces.len() {
                out.push(wrapped(pieces, from, to, marker));
            }
        }
    }
    out.push(respelled(pieces, quoted, |w| w.to_string()));
    out.push(respelled(
        pieces,
        |n| n.to_string(),
        str::to_ascii_lowercase,
    ));
    out.push(respelled(pieces, quoted, mixed_case));
    out
}

/// `pieces[from..to]` inside an executable comment opened by `marker`.
fn wrapped(pieces: &[&str], from: usize, to: usize, marker: &str) -> String {
    let mut parts: Vec<String> = pieces[..from].iter().map(|p| p.to_string()).collect();
    parts.push(format!("{marker}{} */", pieces[from..to].join(" ")));
    parts.extend(pieces[to..].iter().map(|p| p.to_string()));
    parts.join(" ")
}

/// The statement with names through `name` and keywords through `keyword`.
fn respelled(pieces: &[&str], name: fn(&str) -> String, keyword: fn(&str) -> String) -> String {
    let respell = |p: &&str| match p.bytes().next() {
        Some(b'a'..=b'z') => name(p),
        Some(b'A'..=b'Z') if p.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => keyword(p),
        _ => p.to_string(),
    };
    pieces.iter().map(respell).collect::<Vec<_>>().join(" ")
}

/// `db.t` → `` `db`.`t` ``.
fn quoted(name: &str) -> String {
    name.split('.')
        .map(|part| format!("`{part}`"))
        .collect::<Vec<_>>()
        .join(".")
}

/// `ALTER` → `aLtEr`.
fn mixed_case(word: &str) -> String {
    word.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// Runs `read` over the plain spelling and every variant of every statement
/// and asserts the same reading.
pub(crate) fn reads_alike<R: PartialEq + std::fmt::Debug>(read: impl Fn(&str) -> R) {
    for plain in STATEMENTS {
        let expected = read(plain);
        for variant in variants(&pieces(plain)) {
            assert_eq!(
                read(&variant),
                expected,
                "{variant:?} read unlike {plain:?}"
            );
        }
    }
}

#[test]
fn classifier_reads_every_spelling_alike() {
    reads_alike(|sql| {
        let c = classify(sql);
        let names = |list: &super::classify::Tables<'_>| {
            list.iter()
                .map(|t| (t.schema.map(str::to_string), t.name.to_string()))
                .collect::<Vec<_>>()
        };
        // Calls are reported as written, and the case variants respell the
        // keywords the classifier takes for calls (`ADD (`).
        let mut calls = names(&c.routine_calls);
        calls
            .iter_mut()
            .for_each(|(_, name)| name.make_ascii_uppercase());
        (
            c.kind,
            names(&c.tables),
            calls,
            c.locking_read,
            c.side_effects,
            c.multi_statement,
        )
    });
}

#[test]
fn alter_reader_reads_every_spelling_alike() {
    let online = STATEMENTS
        .iter()
        .filter(|s| matches!(plan(s), AlterPlan::Online(_)))
        .count();
    assert!(
        online >= 15,
        "only {online} statements read as online changes"
    );
    reads_alike(|sql| match plan(sql) {
        AlterPlan::Online(a) => AlterPlan::Online(OnlineAlter {
            specs: meaning(&a.specs),
            ..a
        }),
        other => other,
    });
}

#[test]
fn admin_reader_reads_every_spelling_alike() {
    let tern = STATEMENTS
        .iter()
        .filter(|s| admin::parse(s).is_some())
        .count();
    assert!(tern >= 8, "only {tern} statements read as Tern's or KILL");
    reads_alike(|sql| match admin::parse(sql) {
        // Where the id sits depends on the spelling; the id does not.
        Some(TernStatement::Kill(mut kill)) => {
            if let Some(target) = kill.target.as_mut() {
                (target.start, target.end) = (0, 0);
            }
            Some(format!("{kill:?}"))
        }
        Some(TernStatement::Set { variable, value }) => {
            Some(format!("set {} {value:?}", variable.to_ascii_lowercase()))
        }
        other => other.map(|s| format!("{s:?}")),
    });
}

#[test]
fn session_statement_readers_read_every_spelling_alike() {
    use super::session_statements as s;
    reads_alike(|sql| {
        (
            s::tracks_own_gtids(sql),
            s::sets_self_inspection(sql),
            s::sets_global(sql),
            s::sets_session_variable(sql),
            s::sets_auto_is_null(sql),
            s::is_diagnostics_query(sql),
            s::asks_about_previous_statement(sql),
            s::set_first_word(sql).map(str::to_ascii_uppercase),
        )
    });
    assert_eq!(
        STATEMENTS
            .iter()
            .filter(|t| s::is_diagnostics_query(t))
            .count(),
        2
    );
    assert_eq!(
        STATEMENTS
            .iter()
            .filter_map(|t| s::tracks_own_gtids(t))
            .collect::<Vec<_>>(),
        [true, false]
    );
}

/// Which `SET`s change the session's own variables, the state a replica's
/// connection must repeat, and which turn on `sql_auto_is_null`.
#[test]
fn session_variable_assignments_are_told_from_others() {
    use super::session_statements as s;
    for sql in [
        "SET div_precision_increment = @saved",
        "SET SESSION sql_mode = 'ANSI', @a = 1",
        "SET @@session.collation_connection = @c",
        "SET x = 1; SET y = 2",
        "SET LOCAL wait_timeout = 10, GLOBAL max_connections = 5",
    ] {
        assert!(s::sets_session_variable(sql), "{sql}");
    }
    for sql in [
        "SET @a = 1",
        "SET @a := @b",
        "SET GLOBAL max_connections = 5",
        "SET @@global.max_connections = 5",
        "SET PASSWORD = PASSWORD('x')",
        "SET autocommit = @ac",
        "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
        "SELECT 1",
    ] {
        assert!(!s::sets_session_variable(sql), "{sql}");
    }
    for sql in [
        "SET sql_auto_is_null = 1",
        "SET SESSION sql_auto_is_null = ON",
        "SET @@sql_auto_is_null = @v",
    ] {
        assert!(s::sets_auto_is_null(sql), "{sql}");
    }
    for sql in [
        "SET sql_auto_is_null = 0",
        "SET sql_auto_is_null = OFF",
        "SET sql_auto_is_null = DEFAULT",
        "SET GLOBAL sql_auto_is_null = 1",
        "SET sql_mode = ''",
    ] {
        assert!(!s::sets_auto_is_null(sql), "{sql}");
    }
}

/// What specifications mean, whatever their spelling: their tokens, words
/// and names upper-cased, names unquoted.
fn meaning(specs: &str) -> String {
    let mut lexer = Lexer::new(specs);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token(&mut NoHints);
        match t.tok {
            Tok::Eof => return out.join(" "),
            Tok::Word | Tok::Ident => out.push(t.name().unwrap_or_default().to_uppercase()),
            _ => out.push(t.text.to_string()),
        }
    }
}

#[test]
fn string_literals_are_one_piece() {
    assert_eq!(
        pieces("SET a = 'x y' , b = 'it''s -- z'"),
        ["SET", "a", "=", "'x y'", ",", "b", "=", "'it''s -- z'"]
    );
}

#[test]
fn variants_are_spelled_differently_and_keep_every_piece() {
    let pieces = [
        "ALTER", "TABLE", "db.t", "ADD", "c", "INT", "DEFAULT", "'--'",
    ];
    let all = variants(&pieces);
    let plain = pieces.join(" ");
    assert!(all.iter().all(|v| *v != plain));
    assert!(all.contains(&"ALTER TABLE `db`.`t` ADD `c` INT DEFAULT '--'".to_string()));
    assert!(all.contains(&"alter table db.t add c int default '--'".to_string()));
    assert!(all.contains(&"ALTER TABLE db.t /*M!100100 ADD c */ INT DEFAULT '--'".to_string()));
    assert!(all.contains(&"ALTER TABLE db.t ADD c INT DEFAULT '--' --".to_string()));
}
