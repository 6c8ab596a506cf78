//! Reading ALTER TABLE, CREATE INDEX and DROP INDEX: what the online
//! migration needs to know about a table change, from the statement text.
//!
//! Tern never rewrites the user's change: the shadow table gets the user's own
//! alter specifications applied to it, so anything MariaDB accepts (`CONVERT TO
//! CHARACTER SET`, `ENGINE=`, `FORCE`, `IF EXISTS`, `DROP KEY`, ...) works even
//! where a full SQL parser gives up. What Tern must understand is small and is
//! found with the lexer every reader in `sql/` shares, so comments, quoting and
//! `/*! */` mean here what they mean to the classifier and to the server: the
//! table, column renames (CHANGE / RENAME COLUMN), dropped and added columns
//! (to map old columns to new ones), whether indexes are added (decides
//! between a native NOCOPY run and a copy), the forms that a shadow copy
//! cannot express (partitioning, tablespaces, renaming the table, `ORDER BY`,
//! `ALTER IGNORE`), which run natively, and whether the client named an
//! `ALGORITHM` or a `LOCK` itself (then the statement is the client's decision
//! and runs exactly as sent).
//!
//! The specifications are cut from the statement at token edges, so they are
//! the user's text byte for byte. Where the cut falls inside an executable
//! comment, that comment's opening marker (version included) or a closing
//! `*/` is added at the edge, so the shadow's ALTER runs the same code as the
//! statement and the server still applies the comment's version gate.
//!
//! Only the first statement of a text is a table change: a text with more
//! than one runs natively (sessions never bring one here; `tern alter` could).

use std::fmt;

use super::keyword::Kw;
use super::lexer::{Lexer, NoHints, Tok, Token};
use super::quote_ident;

/// A table as the statement names it, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: Option<String>,
    pub name: String,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => f.write_str(&quote_ident(&self.name)),
        }
    }
}

/// A table change Tern can run online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineAlter {
    pub table: TableRef,
    /// The alter specifications exactly as the user wrote them, applied to the
    /// shadow table with `ALTER TABLE <shadow> <specs>` (with the markers of an
    /// executable comment they begin or end inside, see the module doc).
    pub specs: String,
    /// Column renames, old name → new name.
    pub renames: Vec<(String, String)>,
    /// Columns the change drops (renames excluded).
    pub dropped: Vec<String>,
    /// Columns the change adds.
    pub added: Vec<String>,
    /// The change builds an index (ADD INDEX / KEY / UNIQUE / PRIMARY KEY ...).
    pub adds_index: bool,
    /// The change adds a foreign key.
    pub adds_foreign_key: bool,
    /// `ALGORITHM=...` as the user wrote it, upper-cased.
    pub algorithm: Option<String>,
    /// `LOCK=...` as the user wrote it, upper-cased (`ALTER ONLINE` is `NONE`).
    pub lock: Option<String>,
    /// The change names a storage engine (`ENGINE=`). MariaDB 10.11 does not
    /// hold an engine change to the algorithm it is asked for (`ENGINE=MyISAM`
    /// on an InnoDB table copies under `ALGORITHM=NOCOPY`, and from MyISAM
    /// even under `INSTANT`), so such a change is never probed in place; it
    /// cannot be done in place anyway.
    pub names_engine: bool,
    /// `ALTER TABLE IF EXISTS`.
    pub if_exists: bool,
}

impl OnlineAlter {
    fn new(table: TableRef, specs: String, if_exists: bool) -> OnlineAlter {
        OnlineAlter {
            table,
            specs,
            renames: Vec::new(),
            dropped: Vec::new(),
            added: Vec::new(),
            adds_index: false,
            adds_foreign_key: false,
            algorithm: None,
            lock: None,
            names_engine: false,
            if_exists,
        }
    }

    /// The client chose how the server runs it (`ALGORITHM=`, `LOCK=`, `ALTER ONLINE`).
    pub fn client_chose_algorithm(&self) -> bool {
        self.algorithm.is_some() || self.lock.is_some()
    }

    /// The new name of an original column, or `None` when the change drops it.
    pub fn new_name_of<'a>(&'a self, old: &'a str) -> Option<&'a str> {
        if let Some((_, new)) = self
            .renames
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(old))
        {
            return Some(new);
        }
        let dropped = self.dropped.iter().any(|d| d.eq_ignore_ascii_case(old));
        if dropped {
            // DROP a, ADD a: the new column is a different column that starts empty.
            return None;
        }
        Some(old)
    }
}

/// What to do with a DDL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterPlan {
    /// Run online through a shadow table (unless the server can do it instantly).
    Online(OnlineAlter),
    /// A table change Tern cannot run online: the server runs it as sent. The
    /// text says why, for the client's Note.
    Native(&'static str),
    /// Not a table change at all (CREATE TABLE, ALTER DATABASE, ...).
    NotTableChange,
}

/// Classifies an ALTER TABLE, CREATE INDEX or DROP INDEX statement.
pub fn plan(sql: &str) -> AlterPlan {
    let text = Text::read(sql);
    let plan = match kw(&text.toks, 0) {
        Kw::Alter => plan_alter(&text),
        Kw::Create => plan_create_index(&text),
        Kw::Drop => plan_drop_index(&text),
        _ => AlterPlan::NotTableChange,
    };
    match plan {
        AlterPlan::Online(_) if text.more_statements => {
            AlterPlan::Native("the text holds more than one statement")
        }
        plan => plan,
    }
}

/// The first statement of a text, as tokens.
struct Text<'a> {
    sql: &'a str,
    /// The tokens up to the first `;`.
    toks: Vec<Token<'a>>,
    /// For each token, the opening marker of the executable comment it stands
    /// in (see [`Lexer::executable_comment_marker`]).
    markers: Vec<Option<(usize, usize)>>,
    /// Another statement follows the first `;`.
    more_statements: bool,
}

impl<'a> Text<'a> {
    fn read(sql: &'a str) -> Text<'a> {
        let mut lexer = Lexer::new(sql);
        let mut text = Text {
            sql,
            toks: Vec::new(),
            markers: Vec::new(),
            more_statements: false,
        };
        loop {
            let t = lexer.next_token(&mut NoHints);
            match t.tok {
                Tok::Eof => return text,
                Tok::Semi => break,
                _ => {
                    text.toks.push(t);
                    text.markers.push(lexer.executable_comment_marker());
                }
            }
        }
        text.more_statements = std::iter::from_fn(|| Some(lexer.next_token(&mut NoHints)))
            .map(|t| t.tok)
            .take_while(|&tok| tok != Tok::Eof)
            .any(|tok| tok != Tok::Semi);
        text
    }

    /// The source text of one token, quotes included.
    fn source(&self, t: &Token<'_>) -> &'a str {
        // Token offsets are ASCII positions (see the lexer): `get` does not fail.
        self.sql.get(t.start..t.end).unwrap_or("")
    }

    /// The statement's text from token `from` to its end, as written, with
    /// the markers of an executable comment the cut falls inside added at
    /// the edge; `None` when no token is left.
    fn source_from(&self, from: usize) -> Option<String> {
        let first = self.toks.get(from)?;
        let last = self.toks.last()?;
        let opens = self.markers.get(from).copied().flatten();
        let closes = self.markers.last().copied().flatten();
        let body = self.sql.get(first.start..last.end).unwrap_or("");
        if opens.is_some() && opens == closes {
            // Inside one comment from the first token to the last: its code.
            return Some(body.to_string());
        }
        let mut out = String::with_capacity(body.len() + 16);
        if let Some((start, end)) = opens {
            out.push_str(self.sql.get(start..end).unwrap_or("/*!"));
            out.push(' ');
        }
        out.push_str(body);
        if closes.is_some() {
            out.push_str(" */");
        }
        Some(out)
    }
}

/// The keyword at `i`; `Kw::None` for other tokens and past the end.
fn kw(toks: &[Token<'_>], i: usize) -> Kw {
    match toks.get(i) {
        Some(t) if t.tok == Tok::Word => t.kw,
        _ => Kw::None,
    }
}

/// The kind of token at `i`; `Tok::Eof` past the end.
fn tok(toks: &[Token<'_>], i: usize) -> Tok {
    toks.get(i).map_or(Tok::Eof, |t| t.tok)
}

/// The name at `i`: a bare word or a backtick-quoted identifier.
fn ident(toks: &[Token<'_>], i: usize) -> Option<String> {
    toks.get(i)?.name()
}

/// `IF EXISTS` at `i`: the index after it, or `i`.
fn skip_if_exists(toks: &[Token<'_>], i: usize) -> usize {
    if kw(toks, i) == Kw::If && kw(toks, i + 1) == Kw::Exists {
        i + 2
    } else {
        i
    }
}

/// `db.tbl`, `` `db`.`tbl` `` or `tbl`, starting at `i`; returns the name and the next index.
fn table_name(toks: &[Token<'_>], i: usize) -> Option<(TableRef, usize)> {
    let first = ident(toks, i)?;
    if tok(toks, i + 1) == Tok::Dot {
        let second = ident(toks, i + 2)?;
        return Some((
            TableRef {
                schema: Some(first),
                name: second,
            },
            i + 3,
        ));
    }
    Some((
        TableRef {
            schema: None,
            name: first,
        },
        i + 1,
    ))
}

/// `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] tbl [WAIT n | NOWAIT] specs`.
fn plan_alter(text: &Text<'_>) -> AlterPlan {
    let toks = &text.toks;
    let mut i = 1;
    // ALTER ONLINE TABLE is MariaDB's LOCK=NONE.
    let online = kw(toks, i) == Kw::Online;
    if online {
        i += 1;
    }
    let ignore = kw(toks, i) == Kw::Ignore;
    if ignore {
        i += 1;
    }
    if kw(toks, i) != Kw::Table {
        return AlterPlan::NotTableChange;
    }
    if ignore {
        // IGNORE removes rows that break a new unique key; keep the server's semantics.
        return AlterPlan::Native("ALTER IGNORE deletes rows that break a new unique key");
    }
    let after_if = skip_if_exists(toks, i + 1);
    let if_exists = after_if != i + 1;
    let Some((table, mut i)) = table_name(toks, after_if) else {
        return AlterPlan::Native("no table name");
    };
    match kw(toks, i) {
        Kw::Nowait => i += 1,
        Kw::Wait => i += 2,
        _ => {}
    }
    let Some(specs) = text.source_from(i) else {
        return AlterPlan::NotTableChange;
    };
    let plan = analyse_specs(&toks[i..], specs, table, if_exists);
    with_online_lock(plan, online)
}

/// `ALTER ONLINE` / `CREATE ONLINE INDEX` ask for LOCK=NONE.
fn with_online_lock(plan: AlterPlan, online: bool) -> AlterPlan {
    match plan {
        AlterPlan::Online(mut a) if online => {
            a.lock.get_or_insert_with(|| "NONE".to_string());
            AlterPlan::Online(a)
        }
        other => other,
    }
}

/// `CREATE [ONLINE|OFFLINE] [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] name
/// [USING x] ON tbl (cols) [options]` becomes `ADD ... INDEX name (cols) [options]`.
fn plan_create_index(text: &Text<'_>) -> AlterPlan {
    let toks = &text.toks;
    let mut i = 1;
    let mut or_replace = false;
    let mut online = false;
    loop {
        match kw(toks, i) {
            Kw::Or if kw(toks, i + 1) == Kw::Replace => {
                or_replace = true;
                i += 2;
            }
            Kw::Online => {
                online = true;
                i += 1;
            }
            Kw::Offline => i += 1,
            _ => break,
        }
    }
    let kind = match kw(toks, i) {
        Kw::Unique => Some("UNIQUE"),
        Kw::Fulltext => Some("FULLTEXT"),
        Kw::Spatial => Some("SPATIAL"),
        _ => None,
    };
    if kind.is_some() {
        i += 1;
    }
    if kw(toks, i) != Kw::Index {
        // `CREATE OR REPLACE TABLE|VIEW|FUNCTION|...` is no index at all.
        return AlterPlan::NotTableChange;
    }
    if or_replace {
        // Drops an index of that name first: leave it to the server.
        return AlterPlan::Native("CREATE OR REPLACE INDEX");
    }
    i += 1;
    let if_not_exists = kw(toks, i) == Kw::If && kw(toks, i + 1) == Kw::Not;
    if if_not_exists {
        i += 3;
    }
    let Some(name_tok) = toks.get(i) else {
        return AlterPlan::Native("no index name");
    };
    let name_text = text.source(name_tok);
    i += 1;
    let mut using = String::new();
    if kw(toks, i) == Kw::Using {
        if let Some(t) = toks.get(i + 1) {
            using = format!(" USING {}", text.source(t));
        }
        i += 2;
    }
    if kw(toks, i) != Kw::On {
        return AlterPlan::Native("unreadable CREATE INDEX");
    }
    let Some((table, i)) = table_name(toks, i + 1) else {
        return AlterPlan::Native("no table name");
    };
    let Some(rest) = text.source_from(i) else {
        return AlterPlan::Native("no index columns");
    };
    let specs = format!(
        "ADD {}INDEX {}{name_text}{using} {rest}",
        kind.map(|k| format!("{k} ")).unwrap_or_default(),
        if if_not_exists { "IF NOT EXISTS " } else { "" },
    );
    let spec_text = Text::read(&specs);
    let plan = analyse_specs(&spec_text.toks, specs.clone(), table, false);
    with_online_lock(plan, online)
}

/// `DROP [ONLINE|OFFLINE] INDEX [IF EXISTS] name ON tbl [ALGORITHM/LOCK options]`.
fn plan_drop_index(text: &Text<'_>) -> AlterPlan {
    let toks = &text.toks;
    let mut i = 1;
    let online = kw(toks, i) == Kw::Online;
    if matches!(kw(toks, i), Kw::Online | Kw::Offline) {
        i += 1;
    }
    if kw(toks, i) != Kw::Index {
        return AlterPlan::NotTableChange;
    }
    let after_if = skip_if_exists(toks, i + 1);
    let if_exists = if after_if != i + 1 { "IF EXISTS " } else { "" };
    let i = after_if;
    let Some(name_tok) = toks.get(i) else {
        return AlterPlan::Native("no index name");
    };
    let name_text = text.source(name_tok);
    if kw(toks, i + 1) != Kw::On {
        return AlterPlan::Native("unreadable DROP INDEX");
    }
    let Some((table, i)) = table_name(toks, i + 2) else {
        return AlterPlan::Native("no table name");
    };
    let specs = match text.source_from(i) {
        None => format!("DROP INDEX {if_exists}{name_text}"),
        // Options after the table (ALGORITHM=, LOCK=) are separate specifications.
        Some(rest) => format!("DROP INDEX {if_exists}{name_text}, {rest}"),
    };
    let spec_text = Text::read(&specs);
    let plan = analyse_specs(&spec_text.toks, specs.clone(), table, false);
    with_online_lock(plan, online)
}

/// The values the server knows for `ALGORITHM` and for `LOCK`.
const ALGORITHMS: &[&str] = &["DEFAULT", "COPY", "INPLACE", "NOCOPY", "INSTANT"];
const LOCKS: &[&str] = &["DEFAULT", "NONE", "SHARED", "EXCLUSIVE"];

/// Reads the alter specifications `toks` (whose text is `specs`).
fn analyse_specs(toks: &[Token<'_>], specs: String, table: TableRef, if_exists: bool) -> AlterPlan {
    if let Some(why) = native_anywhere(toks) {
        return AlterPlan::Native(why);
    }
    let mut alter = OnlineAlter::new(table, specs, if_exists);
    alter.algorithm = explicit_clause(toks, Kw::Algorithm, ALGORITHMS);
    alter.lock = explicit_clause(toks, Kw::Lock, LOCKS);
    for spec in split_top_level(toks) {
        if let Err(why) = read_spec(spec, &mut alter) {
            return AlterPlan::Native(why);
        }
    }
    let renamed = |d: &String| {
        alter
            .renames
            .iter()
            .any(|(old, _)| old.eq_ignore_ascii_case(d))
    };
    let dropped = alter
        .dropped
        .iter()
        .filter(|d| !renamed(d))
        .cloned()
        .collect();
    alter.dropped = dropped;
    AlterPlan::Online(alter)
}

/// Words that, outside parentheses anywhere in the change, make it a form the
/// shadow copy cannot express (PARTITION is reserved: never a bare column name).
fn native_anywhere(toks: &[Token<'_>]) -> Option<&'static str> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth != 0 => {}
            _ if kw(toks, i) == Kw::Partition => {
                return Some("a partitioning change is not a row copy");
            }
            // The shadow is filled in key order whatever the client asks.
            _ if kw(toks, i) == Kw::Order && kw(toks, i + 1) == Kw::By => {
                return Some("ORDER BY sorts rows in a copy Tern cannot reproduce");
            }
            _ => {}
        }
    }
    None
}

/// `ALGORITHM [=] value` or `LOCK [=] value` outside parentheses, wherever it
/// stands (CREATE INDEX puts it after the columns without a comma). The value
/// must be one the server knows, so a column named `algorithm` is not taken
/// for the clause.
fn explicit_clause(toks: &[Token<'_>], clause: Kw, values: &[&str]) -> Option<String> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth == 0 && kw(toks, i) == clause => {
                let at = if tok(toks, i + 1) == Tok::Eq {
                    i + 2
                } else {
                    i + 1
                };
                let value = toks
                    .get(at)
                    .filter(|v| v.tok == Tok::Word)
                    .map(|v| v.text.to_ascii_uppercase());
                if let Some(v) = value.filter(|v| values.contains(&v.as_str())) {
                    return Some(v);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits specifications at commas outside parentheses.
fn split_top_level<'t, 'a>(toks: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            Tok::Comma if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&toks[start..]);
    out.retain(|s| !s.is_empty());
    out
}

/// Alter specifications that are not a row copy: they run natively.
const NATIVE_SPEC_WORDS: &[Kw] = &[
    Kw::Partition,
    Kw::Partitioning,
    Kw::Coalesce,
    Kw::Reorganize,
    Kw::Exchange,
    Kw::Truncate,
    Kw::Analyze,
    Kw::Check,
    Kw::Optimize,
    Kw::Rebuild,
    Kw::Repair,
    Kw::Remove,
    Kw::Discard,
    Kw::Import,
];

/// One alter specification: what it does to columns and indexes, or why it
/// must run natively.
fn read_spec(spec: &[Token<'_>], alter: &mut OnlineAlter) -> Result<(), &'static str> {
    let first = kw(spec, 0);
    if NATIVE_SPEC_WORDS.contains(&first) {
        return Err("a partition or tablespace operation is not a row copy");
    }
    if first == Kw::Convert && matches!(kw(spec, 1), Kw::Partition | Kw::Table) {
        return Err("a partition conversion is not a row copy");
    }
    if names_engine(spec) {
        alter.names_engine = true;
    }
    match first {
        Kw::Rename => read_rename(spec, alter)?,
        Kw::Change => read_change(spec, alter)?,
        Kw::Drop => read_drop(spec, alter),
        Kw::Add => read_add(spec, alter),
        Kw::Modify if declares_key(spec) => alter.adds_index = true,
        _ => {}
    }
    Ok(())
}

/// `ENGINE [=] name` as a table option, first in its specification or after
/// other options (`ROW_FORMAT=x ENGINE=y`); a column named `engine` follows
/// ADD/CHANGE/MODIFY and is never followed by `=`.
fn names_engine(spec: &[Token<'_>]) -> bool {
    (0..spec.len()).any(|i| {
        kw(spec, i) == Kw::Engine
            && (tok(spec, i + 1) == Tok::Eq || (i == 0 && tok(spec, 1) == Tok::Word))
    })
}

/// A column definition with `UNIQUE` or `PRIMARY KEY` in it builds an index.
fn declares_key(spec: &[Token<'_>]) -> bool {
    (0..spec.len()).any(|i| {
        kw(spec, i) == Kw::Unique || (kw(spec, i) == Kw::Primary && kw(spec, i + 1) == Kw::Key)
    })
}

/// `RENAME COLUMN [IF EXISTS] old TO new`, `RENAME INDEX|KEY ...`; any other
/// RENAME renames the table.
fn read_rename(spec: &[Token<'_>], alter: &mut OnlineAlter) -> Result<(), &'static str> {
    match kw(spec, 1) {
        Kw::Column => {
            let j = skip_if_exists(spec, 2);
            let (Some(old), Some(new)) = (ident(spec, j), ident(spec, j + 2)) else {
                return Err("unreadable RENAME COLUMN");
            };
            alter.renames.push((old, new));
            Ok(())
        }
        Kw::Index | Kw::Key => Ok(()),
        _ => Err("renaming a table is not a row copy"),
    }
}

/// `CHANGE [COLUMN] [IF EXISTS] old new definition`.
fn read_change(spec: &[Token<'_>], alter: &mut OnlineAlter) -> Result<(), &'static str> {
    if declares_key(spec) {
        alter.adds_index = true;
    }
    let j = if kw(spec, 1) == Kw::Column { 2 } else { 1 };
    let j = skip_if_exists(spec, j);
    let (Some(old), Some(new)) = (ident(spec, j), ident(spec, j + 1)) else {
        return Err("unreadable CHANGE");
    };
    if !old.eq_ignore_ascii_case(&new) {
        alter.renames.push((old, new));
    }
    Ok(())
}

/// `DROP [COLUMN] [IF EXISTS] col`; dropping an index, key or constraint
/// leaves the columns as they are.
fn read_drop(spec: &[Token<'_>], alter: &mut OnlineAlter) {
    match kw(spec, 1) {
        Kw::Index | Kw::Key | Kw::Primary | Kw::Foreign | Kw::Constraint | Kw::Check => {}
        next => {
            let j = if next == Kw::Column { 2 } else { 1 };
            let j = skip_if_exists(spec, j);
            if let Some(col) = ident(spec, j) {
                alter.dropped.push(col);
            }
        }
    }
}

/// `ADD` of an index, a key, a constraint, one column or a parenthesised
/// list of columns.
fn read_add(spec: &[Token<'_>], alter: &mut OnlineAlter) {
    match kw(spec, 1) {
        Kw::Index | Kw::Key | Kw::Unique | Kw::Fulltext | Kw::Spatial | Kw::Primary => {
            alter.adds_index = true;
        }
        Kw::Foreign => alter.adds_foreign_key = true,
        Kw::Constraint => {
            let has = |word: Kw| (0..spec.len()).any(|i| kw(spec, i) == word);
            if has(Kw::Foreign) {
                alter.adds_foreign_key = true;
            } else if has(Kw::Unique) || has(Kw::Primary) {
                alter.adds_index = true;
            }
        }
        next => {
            let mut j = if next == Kw::Column { 2 } else { 1 };
            if kw(spec, j) == Kw::If && kw(spec, j + 1) == Kw::Not {
                j += 3;
            }
            if tok(spec, j) == Tok::LParen {
                alter.added.extend(column_list_names(&spec[j..]));
            } else if let Some(col) = ident(spec, j) {
                alter.added.push(col);
            }
        }
    }
}

/// `(a INT, b INT)`: every name right after `(` or `,` at depth 1.
fn column_list_names(list: &[Token<'_>]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expect_name = false;
    for t in list {
        match t.tok {
            Tok::LParen => {
                depth += 1;
                expect_name = depth == 1;
                continue;
            }
            Tok::RParen => depth -= 1,
            Tok::Comma if depth == 1 => {
                expect_name = true;
                continue;
            }
            _ => {}
        }
        if expect_name {
            names.extend(t.name());
            expect_name = false;
        }
    }
    names
}

/// `specs` with the constraint named by each `DROP FOREIGN KEY` or `DROP
/// CONSTRAINT` renamed where `rename` gives a new name: the shadow holds the
/// original's foreign keys under names of its own (see
/// `migrate::foreign_keys`). Everything else stays byte for byte.
pub fn with_foreign_key_names(specs: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let text = Text::read(specs);
    let mut out = String::with_capacity(specs.len() + 16);
    let mut copied = 0;
    for spec in split_top_level(&text.toks) {
        let at = match (kw(spec, 0), kw(spec, 1), kw(spec, 2)) {
            (Kw::Drop, Kw::Foreign, Kw::Key) => skip_if_exists(spec, 3),
            (Kw::Drop, Kw::Constraint, _) => skip_if_exists(spec, 2),
            _ => continue,
        };
        let (Some(name), Some(token)) = (ident(spec, at), spec.get(at)) else {
            continue;
        };
        if let Some(new) = rename(&name) {
            out.push_str(specs.get(copied..token.start).unwrap_or(""));
            out.push_str(&quote_ident(&new));
            copied = token.end;
        }
    }
    out.push_str(specs.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests;
