//! ALTER text → what the migration needs to know.
//!
//! Tern never rewrites the user's change: the shadow table gets the user's own
//! alter specifications applied to it, so anything MariaDB accepts (`CONVERT TO
//! CHARACTER SET`, `ENGINE=`, `FORCE`, `IF EXISTS`, `DROP KEY`, ...) works even
//! where a full SQL parser gives up. What Tern must understand is small and is
//! found with a lexer: the table, column renames (CHANGE / RENAME COLUMN),
//! dropped and added columns (to map old columns to new ones), whether indexes
//! are added (decides between a native NOCOPY run and a copy), the forms that
//! a shadow copy cannot express (partitioning, tablespaces, renaming the table,
//! `ORDER BY`, `ALTER IGNORE`), which run natively, and whether the client named
//! an `ALGORITHM` or a `LOCK` itself (then the statement is the client's
//! decision and runs exactly as sent).
//!
//! Tern never edits the statement it sends to the server: the server is asked
//! for an in-place run with `SET STATEMENT alter_algorithm=... FOR <statement>`
//! (see [`in_place_probe`]), which leaves clauses that must come last
//! (`ORDER BY`, `PARTITION BY`, `CONVERT ... TO PARTITION`) where they are.

use std::fmt;

/// How a session's table changes run (`SET SESSION tern_ddl = ...`, and the
/// `tern_ddl` setting for sessions that do not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DdlMode {
    /// Whatever the `tern_ddl` setting says (read at each statement, so a
    /// reload applies to open sessions).
    #[default]
    Configured,
    /// Online migration unless the server can do it without a copy; what Tern
    /// cannot run online runs as sent, with a Note.
    Online,
    /// Online, and what Tern cannot run online is refused (ERROR 1846).
    OnlineStrict,
    /// Always as sent, by the server.
    Native,
    /// Online, answering at once with the migration id.
    Async,
}

impl DdlMode {
    pub fn from_name(v: &str) -> Option<DdlMode> {
        match v.to_ascii_lowercase().as_str() {
            "default" => Some(DdlMode::Configured),
            "online" => Some(DdlMode::Online),
            "online_strict" => Some(DdlMode::OnlineStrict),
            "native" => Some(DdlMode::Native),
            "async" => Some(DdlMode::Async),
            _ => None,
        }
    }

    /// This mode with `Configured` replaced by `configured`.
    pub fn or_configured(self, configured: DdlMode) -> DdlMode {
        match (self, configured) {
            (DdlMode::Configured, DdlMode::Configured) => DdlMode::Online,
            (DdlMode::Configured, c) => c,
            (mode, _) => mode,
        }
    }
}

/// The statement's tokens as text, comments left out and words upper-cased
/// (strings become `'`), for recognising short fixed statements.
pub fn token_texts(sql: &str) -> Vec<String> {
    lex(sql)
        .into_iter()
        .map(|t| match t.tok {
            Tok::Word { upper, .. } => upper,
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Str => "'".to_string(),
            Tok::Punct(c) => char::from(c).to_string(),
            Tok::Other => "?".to_string(),
        })
        .collect()
}

/// One token of SQL text, with where it sits in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A bare word, upper-cased for comparison; `raw` keeps the original.
    Word {
        upper: String,
        raw: String,
    },
    /// A backquoted identifier, unquoted.
    Quoted(String),
    /// A string literal (its content does not matter here).
    Str,
    Punct(u8),
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' || (c == b'-' && b.get(i + 1) == Some(&b'-')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Comments (hints included) are not part of the change. MariaDB's
            // executable comments `/*! ... */` and `/*M! ... */` are: lex their body.
            let exec = matches!(b.get(i + 2), Some(b'!')) || b.get(i + 2..i + 4) == Some(b"M!");
            if exec {
                let mut j = i + if b[i + 2] == b'!' { 3 } else { 4 };
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
                continue;
            }
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        if c == b'*' && b.get(i + 1) == Some(&b'/') {
            // End of an executable comment.
            i += 2;
            continue;
        }
        if c == b'`' {
            let mut s = String::new();
            i += 1;
            let mut buf = Vec::new();
            while i < b.len() {
                if b[i] == b'`' {
                    if b.get(i + 1) == Some(&b'`') {
                        buf.push(b'`');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                buf.push(b[i]);
                i += 1;
            }
            s.push_str(&String::from_utf8_lossy(&buf));
            out.push(Token {
                tok: Tok::Quoted(s),
                start,
                end: i,
            });
            continue;
        }
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() {
                if b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(Token {
                tok: Tok::Str,
                start,
                end: i.min(b.len()),
            });
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            let raw = &sql[start..i];
            out.push(Token {
                tok: Tok::Word {
                    upper: raw.to_ascii_uppercase(),
                    raw: raw.to_string(),
                },
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_punctuation() {
            out.push(Token {
                tok: Tok::Punct(c),
                start,
                end: i + 1,
            });
            i += 1;
            continue;
        }
        out.push(Token {
            tok: Tok::Other,
            start,
            end: i + 1,
        });
        i += 1;
    }
    out
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Word { upper, .. }) => Some(upper),
        _ => None,
    }
}

fn is_word(t: Option<&Token>, w: &str) -> bool {
    word(t) == Some(w)
}

fn ident(t: Option<&Token>) -> Option<String> {
    match t.map(|t| &t.tok) {
        Some(Tok::Word { raw, .. }) => Some(raw.clone()),
        Some(Tok::Quoted(s)) => Some(s.clone()),
        _ => None,
    }
}

fn is_punct(t: Option<&Token>, p: u8) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(c)) if *c == p)
}

/// `db.tbl`, `` `db`.`tbl` `` or `tbl`, starting at `i`; returns the name and the next index.
fn table_name(toks: &[Token], i: usize) -> Option<(TableRef, usize)> {
    let first = ident(toks.get(i))?;
    if is_punct(toks.get(i + 1), b'.') {
        let second = ident(toks.get(i + 2))?;
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

/// Quotes an identifier for MariaDB.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A table change Tern can run online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineAlter {
    pub table: TableRef,
    /// The alter specifications exactly as the user wrote them, applied to the
    /// shadow table with `ALTER TABLE <shadow> <specs>`.
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

/// The client's statement, unchanged, asked to run with `algorithm`
/// (`INSTANT` or `NOCOPY`) and to wait at most `lock_wait_secs` for the table.
///
/// MariaDB applies `alter_algorithm` exactly where an `ALGORITHM=` clause would
/// apply (same 1845/1846 refusals), and a clause in the statement overrides
/// it; Tern only probes statements without such a clause. Partitioning and
/// `ORDER BY` ignore it and copy anyway, so those never reach a probe.
pub fn in_place_probe(statement: &[u8], algorithm: &str, lock_wait_secs: u64) -> Vec<u8> {
    let prefix = format!(
        "SET STATEMENT lock_wait_timeout={lock_wait_secs}, alter_algorithm='{algorithm}' FOR "
    );
    let mut out = Vec::with_capacity(prefix.len() + statement.len());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(statement);
    out
}

impl OnlineAlter {
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

/// Alter specifications that are not a row copy: they run natively.
const NATIVE_SPEC_WORDS: &[&str] = &[
    "PARTITION",
    "PARTITIONING",
    "COALESCE",
    "REORGANIZE",
    "EXCHANGE",
    "TRUNCATE",
    "ANALYZE",
    "CHECK",
    "OPTIMIZE",
    "REBUILD",
    "REPAIR",
    "REMOVE",
    "DISCARD",
    "IMPORT",
];

/// Classifies an ALTER TABLE, CREATE INDEX or DROP INDEX statement.
pub fn plan(sql: &str) -> AlterPlan {
    let toks = lex(sql);
    match word(toks.first()) {
        Some("ALTER") => plan_alter(sql, &toks),
        Some("CREATE") => plan_create_index(sql, &toks),
        Some("DROP") => plan_drop_index(sql, &toks),
        _ => AlterPlan::NotTableChange,
    }
}

fn end_of_statement(sql: &str, toks: &[Token]) -> usize {
    // Trailing `;` is not part of the specs.
    match toks.last() {
        Some(t) if t.tok == Tok::Punct(b';') => t.start,
        Some(t) => t.end,
        None => sql.len(),
    }
}

fn plan_alter(sql: &str, toks: &[Token]) -> AlterPlan {
    let mut i = 1;
    // ALTER ONLINE TABLE is MariaDB's LOCK=NONE.
    let online = is_word(toks.get(i), "ONLINE");
    if online {
        i += 1;
    }
    let ignore = is_word(toks.get(i), "IGNORE");
    if ignore {
        i += 1;
    }
    if !is_word(toks.get(i), "TABLE") {
        return AlterPlan::NotTableChange;
    }
    if ignore {
        // IGNORE removes rows that break a new unique key; keep the server's semantics.
        return AlterPlan::Native("ALTER IGNORE deletes rows that break a new unique key");
    }
    i += 1;
    let mut if_exists = false;
    if is_word(toks.get(i), "IF") && is_word(toks.get(i + 1), "EXISTS") {
        if_exists = true;
        i += 2;
    }
    let Some((table, mut i)) = table_name(toks, i) else {
        return AlterPlan::Native("no table name");
    };
    if is_word(toks.get(i), "NOWAIT") {
        i += 1;
    } else if is_word(toks.get(i), "WAIT") {
        i += 2;
    }
    let Some(first) = toks.get(i) else {
        return AlterPlan::NotTableChange;
    };
    let end = end_of_statement(sql, toks);
    if first.start >= end {
        return AlterPlan::NotTableChange;
    }
    let specs = sql[first.start..end].trim().to_string();
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

/// `ALGORITHM [=] value` or `LOCK [=] value` outside parentheses, wherever it
/// stands (CREATE INDEX puts it after the columns without a comma). The value
/// must be one the server knows, so a column named `algorithm` is not taken
/// for the clause.
fn explicit_clause(toks: &[Token], clause: &str, values: &[&str]) -> Option<String> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            _ if depth == 0 && is_word(Some(t), clause) => {
                let at = if is_punct(toks.get(i + 1), b'=') {
                    i + 2
                } else {
                    i + 1
                };
                if let Some(v) = word(toks.get(at)).filter(|v| values.contains(v)) {
                    return Some(v.to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// Words that, outside parentheses anywhere in the change, make it a form the
/// shadow copy cannot express (PARTITION is reserved: never a bare column name).
fn native_anywhere(toks: &[Token]) -> Option<&'static str> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            _ if depth != 0 => {}
            _ if is_word(Some(t), "PARTITION") => {
                return Some("a partitioning change is not a row copy");
            }
            // The shadow is filled in key order whatever the client asks.
            _ if is_word(Some(t), "ORDER") && is_word(toks.get(i + 1), "BY") => {
                return Some("ORDER BY sorts rows in a copy Tern cannot reproduce");
            }
            _ => {}
        }
    }
    None
}

fn analyse_specs(toks: &[Token], specs: String, table: TableRef, if_exists: bool) -> AlterPlan {
    if let Some(why) = native_anywhere(toks) {
        return AlterPlan::Native(why);
    }
    let mut alter = OnlineAlter {
        table,
        specs,
        renames: Vec::new(),
        dropped: Vec::new(),
        added: Vec::new(),
        adds_index: false,
        adds_foreign_key: false,
        algorithm: explicit_clause(
            toks,
            "ALGORITHM",
            &["DEFAULT", "COPY", "INPLACE", "NOCOPY", "INSTANT"],
        ),
        lock: explicit_clause(toks, "LOCK", &["DEFAULT", "NONE", "SHARED", "EXCLUSIVE"]),
        names_engine: false,
        if_exists,
    };
    for spec in split_top_level(toks) {
        let w0 = word(spec.first());
        let w1 = word(spec.get(1));
        if let Some(w) = w0 {
            if NATIVE_SPEC_WORDS.contains(&w) {
                return AlterPlan::Native("a partition or tablespace operation is not a row copy");
            }
            if w == "CONVERT" && matches!(w1, Some("PARTITION" | "TABLE")) {
                return AlterPlan::Native("a partition conversion is not a row copy");
            }
        }
        // `ENGINE [=] name` as a table option, first in its specification or
        // after other options (`ROW_FORMAT=x ENGINE=y`); a column named
        // `engine` follows ADD/CHANGE/MODIFY and is never followed by `=`.
        if spec.iter().enumerate().any(|(i, t)| {
            is_word(Some(t), "ENGINE")
                && (is_punct(spec.get(i + 1), b'=') || (i == 0 && word(spec.get(1)).is_some()))
        }) {
            alter.names_engine = true;
        }
        match w0 {
            Some("RENAME") => match w1 {
                Some("COLUMN") => {
                    let mut j = 2;
                    if is_word(spec.get(j), "IF") && is_word(spec.get(j + 1), "EXISTS") {
                        j += 2;
                    }
                    let (Some(old), Some(new)) = (ident(spec.get(j)), ident(spec.get(j + 2)))
                    else {
                        return AlterPlan::Native("unreadable RENAME COLUMN");
                    };
                    alter.renames.push((old, new));
                }
                Some("INDEX") | Some("KEY") => {}
                _ => return AlterPlan::Native("renaming a table is not a row copy"),
            },
            Some("CHANGE") => {
                if declares_key(spec) {
                    alter.adds_index = true;
                }
                let mut j = 1;
                if w1 == Some("COLUMN") {
                    j += 1;
                }
                if is_word(spec.get(j), "IF") && is_word(spec.get(j + 1), "EXISTS") {
                    j += 2;
                }
                let (Some(old), Some(new)) = (ident(spec.get(j)), ident(spec.get(j + 1))) else {
                    return AlterPlan::Native("unreadable CHANGE");
                };
                if !old.eq_ignore_ascii_case(&new) {
                    alter.renames.push((old, new));
                }
            }
            Some("DROP") => match w1 {
                Some("INDEX" | "KEY" | "PRIMARY" | "FOREIGN" | "CONSTRAINT" | "CHECK") => {}
                _ => {
                    let mut j = 1;
                    if w1 == Some("COLUMN") {
                        j += 1;
                    }
                    if is_word(spec.get(j), "IF") && is_word(spec.get(j + 1), "EXISTS") {
                        j += 2;
                    }
                    if let Some(col) = ident(spec.get(j)) {
                        alter.dropped.push(col);
                    }
                }
            },
            Some("ADD") => match w1 {
                Some("INDEX" | "KEY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "PRIMARY") => {
                    alter.adds_index = true;
                }
                Some("FOREIGN") => alter.adds_foreign_key = true,
                Some("CONSTRAINT") => {
                    let rest: Vec<&str> = spec.iter().filter_map(|t| word(Some(t))).collect();
                    if rest.contains(&"FOREIGN") {
                        alter.adds_foreign_key = true;
                    } else if rest.contains(&"UNIQUE") || rest.contains(&"PRIMARY") {
                        alter.adds_index = true;
                    }
                }
                _ => {
                    let mut j = 1;
                    if w1 == Some("COLUMN") {
                        j += 1;
                    }
                    if is_word(spec.get(j), "IF") && is_word(spec.get(j + 1), "NOT") {
                        j += 3;
                    }
                    if is_punct(spec.get(j), b'(') {
                        // ADD (a INT, b INT): every name right after `(` or `,` at depth 1.
                        let mut depth = 0;
                        let mut expect_name = false;
                        for t in &spec[j..] {
                            match t.tok {
                                Tok::Punct(b'(') => {
                                    depth += 1;
                                    expect_name = depth == 1;
                                    continue;
                                }
                                Tok::Punct(b')') => depth -= 1,
                                Tok::Punct(b',') if depth == 1 => {
                                    expect_name = true;
                                    continue;
                                }
                                _ => {}
                            }
                            if expect_name {
                                if let Some(name) = ident(Some(t)) {
                                    alter.added.push(name);
                                }
                                expect_name = false;
                            }
                        }
                    } else if let Some(col) = ident(spec.get(j)) {
                        alter.added.push(col);
                    }
                }
            },
            Some("MODIFY") if declares_key(spec) => alter.adds_index = true,
            _ => {}
        }
    }
    alter.dropped.retain(|d| {
        !alter
            .renames
            .iter()
            .any(|(old, _)| old.eq_ignore_ascii_case(d))
    });
    AlterPlan::Online(alter)
}

/// A column definition with `UNIQUE` or `PRIMARY KEY` in it builds an index.
fn declares_key(spec: &[Token]) -> bool {
    spec.iter().any(|t| is_word(Some(t), "UNIQUE"))
        || spec
            .windows(2)
            .any(|w| is_word(w.first(), "PRIMARY") && is_word(w.get(1), "KEY"))
}

/// Splits specifications at commas outside parentheses.
fn split_top_level(toks: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            Tok::Punct(b',') if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            Tok::Punct(b';') if depth == 0 => {
                out.push(&toks[start..i]);
                start = toks.len();
                break;
            }
            _ => {}
        }
    }
    if start < toks.len() {
        out.push(&toks[start..]);
    }
    out.retain(|s| !s.is_empty());
    out
}

/// `CREATE [ONLINE|OFFLINE] [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] name
/// [USING x] ON tbl (cols) [options]` becomes `ADD ... INDEX name (cols) [options]`.
fn plan_create_index(sql: &str, toks: &[Token]) -> AlterPlan {
    let mut i = 1;
    let online = is_word(toks.get(i), "ONLINE");
    if matches!(word(toks.get(i)), Some("ONLINE" | "OFFLINE")) {
        i += 1;
    }
    if is_word(toks.get(i), "OR") && is_word(toks.get(i + 1), "REPLACE") {
        // Drops an index of that name first: leave it to the server.
        return AlterPlan::Native("CREATE OR REPLACE INDEX");
    }
    let kind = match word(toks.get(i)) {
        Some(k @ ("UNIQUE" | "FULLTEXT" | "SPATIAL")) => {
            i += 1;
            Some(k)
        }
        _ => None,
    };
    if !is_word(toks.get(i), "INDEX") {
        return AlterPlan::NotTableChange;
    }
    i += 1;
    let mut if_not_exists = false;
    if is_word(toks.get(i), "IF") && is_word(toks.get(i + 1), "NOT") {
        if_not_exists = true;
        i += 3;
    }
    let Some(name_tok) = toks.get(i) else {
        return AlterPlan::Native("no index name");
    };
    let name_text = &sql[name_tok.start..name_tok.end];
    i += 1;
    let mut using = String::new();
    if is_word(toks.get(i), "USING") {
        if let Some(t) = toks.get(i + 1) {
            using = format!(" USING {}", &sql[t.start..t.end]);
        }
        i += 2;
    }
    if !is_word(toks.get(i), "ON") {
        return AlterPlan::Native("unreadable CREATE INDEX");
    }
    let Some((table, i)) = table_name(toks, i + 1) else {
        return AlterPlan::Native("no table name");
    };
    let Some(rest_tok) = toks.get(i) else {
        return AlterPlan::Native("no index columns");
    };
    let end = end_of_statement(sql, toks);
    let rest = sql[rest_tok.start..end].trim();
    let specs = format!(
        "ADD {}INDEX {}{name_text}{using} {rest}",
        kind.map(|k| format!("{k} ")).unwrap_or_default(),
        if if_not_exists { "IF NOT EXISTS " } else { "" },
    );
    let spec_toks = lex(&specs);
    with_online_lock(
        analyse_specs(&spec_toks, specs.clone(), table, false),
        online,
    )
}

/// `DROP INDEX [IF EXISTS] name ON tbl [ALGORITHM/LOCK options]`.
fn plan_drop_index(sql: &str, toks: &[Token]) -> AlterPlan {
    let mut i = 1;
    let online = is_word(toks.get(i), "ONLINE");
    if matches!(word(toks.get(i)), Some("ONLINE" | "OFFLINE")) {
        i += 1;
    }
    if !is_word(toks.get(i), "INDEX") {
        return AlterPlan::NotTableChange;
    }
    i += 1;
    let mut if_exists = "";
    if is_word(toks.get(i), "IF") && is_word(toks.get(i + 1), "EXISTS") {
        if_exists = "IF EXISTS ";
        i += 2;
    }
    let Some(name_tok) = toks.get(i) else {
        return AlterPlan::Native("no index name");
    };
    let name_text = &sql[name_tok.start..name_tok.end];
    if !is_word(toks.get(i + 1), "ON") {
        return AlterPlan::Native("unreadable DROP INDEX");
    }
    let Some((table, i)) = table_name(toks, i + 2) else {
        return AlterPlan::Native("no table name");
    };
    let end = end_of_statement(sql, toks);
    let rest = toks
        .get(i)
        .filter(|t| t.start < end)
        .map(|t| sql[t.start..end].trim().to_string())
        .unwrap_or_default();
    let specs = if rest.is_empty() {
        format!("DROP INDEX {if_exists}{name_text}")
    } else {
        // Options after the table (ALGORITHM=, LOCK=) are separate specifications.
        format!("DROP INDEX {if_exists}{name_text}, {rest}")
    };
    let spec_toks = lex(&specs);
    with_online_lock(
        analyse_specs(&spec_toks, specs.clone(), table, false),
        online,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(sql: &str) -> OnlineAlter {
        match plan(sql) {
            AlterPlan::Online(a) => a,
            AlterPlan::Native(why) => panic!("{sql}: native ({why})"),
            AlterPlan::NotTableChange => panic!("{sql}: not a table change"),
        }
    }

    #[test]
    fn add_column_keeps_user_text() {
        let a = online("ALTER TABLE app.t ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT '', FORCE;");
        assert_eq!(a.table.schema.as_deref(), Some("app"));
        assert_eq!(a.table.name, "t");
        assert_eq!(
            a.specs,
            "ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT '', FORCE"
        );
        assert_eq!(a.added, vec!["note"]);
        assert!(!a.adds_index);
    }

    #[test]
    fn renames_through_change_and_rename_column() {
        let a = online(
            "alter table `my t` change `a` `b` int, rename column c to d, change e e bigint",
        );
        assert_eq!(a.table.name, "my t");
        assert_eq!(
            a.renames,
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
        assert_eq!(a.new_name_of("A"), Some("b"));
        assert_eq!(a.new_name_of("e"), Some("e"));
    }

    #[test]
    fn drop_column_is_not_drop_index() {
        let a = online(
            "ALTER TABLE t DROP COLUMN x, DROP KEY k, DROP INDEX i, DROP y, DROP PRIMARY KEY",
        );
        assert_eq!(a.dropped, vec!["x", "y"]);
        assert_eq!(a.new_name_of("x"), None);
        assert_eq!(a.new_name_of("k"), Some("k"));
    }

    #[test]
    fn drop_then_add_same_name_is_a_new_column() {
        let a = online("ALTER TABLE t DROP COLUMN x, ADD COLUMN x INT");
        assert_eq!(a.new_name_of("x"), None);
    }

    #[test]
    fn forms_sqlparser_cannot_parse_are_online() {
        for sql in [
            "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4",
            "ALTER TABLE t ENGINE=InnoDB",
            "ALTER TABLE t ROW_FORMAT=DYNAMIC",
            "ALTER TABLE t FORCE",
            "ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS c INT",
            "ALTER ONLINE TABLE t DROP KEY k",
            "ALTER TABLE t MODIFY c INT ZEROFILL",
            "ALTER TABLE t ADD COLUMN partitioning INT, ADD COLUMN partitions INT",
        ] {
            online(sql);
        }
        assert!(online("ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS c INT").if_exists);
        assert_eq!(
            online("ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT").added,
            vec!["c"]
        );
    }

    #[test]
    fn index_additions_are_seen() {
        assert!(online("ALTER TABLE t ADD INDEX (a)").adds_index);
        assert!(online("ALTER TABLE t ADD UNIQUE KEY u (a)").adds_index);
        assert!(online("ALTER TABLE t ADD CONSTRAINT c UNIQUE (a)").adds_index);
        assert!(
            online("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p(id)")
                .adds_foreign_key
        );
        assert!(!online("ALTER TABLE t DROP INDEX a").adds_index);
        assert_eq!(
            online("ALTER TABLE t ADD (a INT, b INT)").added,
            vec!["a", "b"]
        );
    }

    #[test]
    fn explicit_algorithm_is_read() {
        assert_eq!(
            online("ALTER TABLE t ADD c INT, ALGORITHM = INSTANT")
                .algorithm
                .as_deref(),
            Some("INSTANT")
        );
        assert_eq!(
            online("ALTER TABLE t ADD c INT, ALGORITHM=copy, LOCK=NONE")
                .algorithm
                .as_deref(),
            Some("COPY")
        );
    }

    #[test]
    fn create_and_drop_index_become_specs() {
        let a = online("CREATE UNIQUE INDEX u ON app.t (a, b(10)) USING BTREE COMMENT 'x';");
        assert_eq!(a.table.to_string(), "`app`.`t`");
        assert_eq!(
            a.specs,
            "ADD UNIQUE INDEX u (a, b(10)) USING BTREE COMMENT 'x'"
        );
        assert!(a.adds_index);
        let d = online("DROP INDEX IF EXISTS `u` ON t ALGORITHM=COPY");
        assert_eq!(d.specs, "DROP INDEX IF EXISTS `u`, ALGORITHM=COPY");
        assert_eq!(d.algorithm.as_deref(), Some("COPY"));
    }

    #[test]
    fn native_forms() {
        for sql in [
            "ALTER TABLE t RENAME TO u",
            "ALTER TABLE t RENAME u",
            "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))",
            "ALTER TABLE t DISCARD TABLESPACE",
            "ALTER IGNORE TABLE t ADD UNIQUE (a)",
            "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
        ] {
            assert!(matches!(plan(sql), AlterPlan::Native(_)), "{sql}");
        }
    }

    #[test]
    fn comments_and_hints_are_not_specs() {
        let a = online("/* tern:async */ ALTER TABLE t /* why */ ADD c INT -- done\n");
        assert_eq!(a.specs, "ADD c INT");
        assert_eq!(a.added, vec!["c"]);
    }

    #[test]
    fn probe_keeps_the_statement_as_sent() {
        let sql = b"/* tern:async */ ALTER TABLE r9 ORDER BY b;";
        let probe = in_place_probe(sql, "INSTANT", 2);
        assert_eq!(
            probe,
            b"SET STATEMENT lock_wait_timeout=2, alter_algorithm='INSTANT' FOR /* tern:async */ ALTER TABLE r9 ORDER BY b;".to_vec()
        );
    }

    #[test]
    fn clauses_that_must_come_last_run_natively() {
        for sql in [
            "ALTER TABLE r9 ORDER BY b",
            "ALTER TABLE r3b ENGINE=MyISAM PARTITION BY RANGE (id) (PARTITION p1 VALUES LESS THAN (5))",
            "ALTER TABLE t /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */",
            "ALTER TABLE p CONVERT TABLE p1t TO PARTITION p1 VALUES LESS THAN (20)",
            "ALTER TABLE p CONVERT PARTITION p1 TO TABLE p1t",
            "ALTER TABLE t REMOVE PARTITIONING",
            "ALTER TABLE t ADD COLUMN c INT, ORDER BY c",
            "CREATE OR REPLACE INDEX i ON t (a)",
        ] {
            assert!(matches!(plan(sql), AlterPlan::Native(_)), "{sql}");
        }
        // Inside a string, a comment or parentheses the words mean nothing.
        online("ALTER TABLE t ADD COLUMN c INT COMMENT 'PARTITION BY x ORDER BY y'");
        online("ALTER TABLE t /* ORDER BY b */ ADD c INT");
        online("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4");
    }

    #[test]
    fn explicit_algorithm_and_lock_are_found_wherever_they_stand() {
        let chose = |sql: &str| online(sql).client_chose_algorithm();
        assert!(chose("ALTER TABLE t ADD c INT, LOCK=NONE"));
        assert!(chose("ALTER TABLE t ADD c INT, LOCK SHARED"));
        assert!(chose("ALTER TABLE t ADD c INT /*!, ALGORITHM=INPLACE */"));
        assert!(chose("CREATE INDEX i ON t (a) ALGORITHM=INPLACE LOCK=NONE"));
        assert!(chose("DROP INDEX i ON t LOCK=EXCLUSIVE"));
        assert!(chose("ALTER ONLINE TABLE t DROP KEY k"));
        assert!(chose("CREATE ONLINE INDEX i ON t (a)"));
        assert_eq!(
            online("ALTER TABLE t ADD c INT, ALGORITHM = default")
                .algorithm
                .as_deref(),
            Some("DEFAULT")
        );
        // A column or a comment named like the clause is not the clause.
        assert!(!chose("ALTER TABLE t ADD COLUMN algorithm INT"));
        assert!(!chose("ALTER TABLE t CHANGE a algorithm VARCHAR(10)"));
        assert!(!chose("ALTER TABLE t ADD c INT COMMENT 'ALGORITHM=COPY'"));
        assert!(!chose("ALTER TABLE t ADD c INT /* ALGORITHM=COPY */"));
        assert!(!chose(
            "ALTER TABLE t ADD INDEX i (`algorithm`), ADD `lock` INT"
        ));
    }

    #[test]
    fn engine_changes_are_seen() {
        assert!(online("ALTER TABLE t ENGINE=MyISAM").names_engine);
        assert!(online("ALTER TABLE t ENGINE InnoDB").names_engine);
        assert!(online("ALTER TABLE t ROW_FORMAT=DYNAMIC ENGINE = Aria").names_engine);
        assert!(online("ALTER TABLE t ADD c INT, ENGINE=InnoDB").names_engine);
        assert!(!online("ALTER TABLE t ADD COLUMN engine VARCHAR(10)").names_engine);
        assert!(!online("ALTER TABLE t CHANGE a engine INT").names_engine);
        assert!(!online("ALTER TABLE t ADD c INT COMMENT 'ENGINE=MyISAM'").names_engine);
    }

    #[test]
    fn not_table_changes_are_told_apart() {
        for sql in [
            "CREATE TABLE t (a int)",
            "DROP TABLE t",
            "ALTER DATABASE d CHARACTER SET utf8mb4",
            "ALTER USER u IDENTIFIED BY 'x'",
            "ALTER TABLE t",
        ] {
            assert_eq!(plan(sql), AlterPlan::NotTableChange, "{sql}");
        }
    }
}
