//! The statement classifier on the hot path: what a statement is, which
//! tables it names and what it does to the session, from one lexer-level
//! pass over the text.
//!
//! # What it guarantees
//!
//! - It never panics and always terminates, on any `&str` (and any bytes
//!   through [`classify_bytes`]); time is linear in the text, including
//!   adversarial nesting and thousands of tables.
//! - No heap allocation for statements with at most four distinct tables,
//!   four hints and four CTE names; results borrow from the text.
//! - Strings, quoted identifiers and comments are lexed as MySQL and MariaDB
//!   do, so a `;`, `--`, `/*` or keyword inside them changes nothing, while
//!   the contents of executable comments (`/*! */`, `/*!50100 */`, `/*M! */`,
//!   `/*M!100100 */`) are classified as the code they are.
//! - Table names are reported as written: unquoted, schema-qualified only if
//!   the statement qualifies them, deduplicated by exact spelling, in order of
//!   first appearance. CTE names and `DUAL` are not tables.
//! - When the text is ambiguous the answer errs towards the primary: an
//!   unknown statement is `Other` (routed as a write), a list whose end is
//!   unclear yields extra names rather than missing ones, a transaction end
//!   is reported only when the server certainly ends it, and an `autocommit`
//!   value that is not a literal reads as `autocommit = 0`.
//!
//! # What it deliberately does not do
//!
//! - Parse SQL fully or validate it: a statement the server would reject may
//!   be classified anyway. A full parse costs ~5 µs; this costs well under 1.
//! - Resolve names: views are tables here, and `CALL p()` is `Other` with no
//!   tables (the router treats `Other` as a write). Bodies of stored programs
//!   and triggers are not analysed: creating one is `Ddl` touching only the
//!   trigger's table. A top-level MariaDB compound statement (`BEGIN NOT
//!   ATOMIC ... END`, `IF ... END IF`) is `Other` with no tables.
//! - Look inside strings: `PREPARE s FROM 'SELECT ...'` reports no tables.
//! - Report tables for `SHOW`, `GRANT` or `REVOKE`. `HANDLER h READ ...`
//!   reports `h`, which may be an alias from `HANDLER t OPEN AS h`.
//! - Unescape names: a backtick-quoted name containing a doubled backtick is
//!   reported with the backtick still doubled (returning a borrowed `&str`).
//! - Follow the server's SQL mode: `"..."` is a string, except where only a
//!   table name can stand, where it is taken as an `ANSI_QUOTES` identifier;
//!   backslash escapes are assumed on (`NO_BACKSLASH_ESCAPES` off).
//!
//! # Decisions routing should know
//!
//! - Kinds: `SELECT`, `(SELECT ...)`, `WITH ... SELECT`, `VALUES`, `TABLE t`
//!   are `Select`, also with `INTO OUTFILE`/`INTO @var` (then
//!   `side_effects`). `LOAD DATA`/`LOAD XML` are `Insert`. `WITH ... UPDATE`
//!   and `WITH ... DELETE` take the kind of the statement after the CTEs.
//!   MariaDB's `SET STATEMENT ... FOR stmt` takes the kind and tables of
//!   `stmt`. Everything that starts with CREATE, ALTER, DROP, RENAME or
//!   TRUNCATE is `Ddl` (also `CREATE USER`, `CREATE PROCEDURE`), and so are
//!   the other account statements: `GRANT`, `REVOKE`, `SET PASSWORD`, `SET
//!   DEFAULT ROLE`, which write to the `mysql` schema and commit; `DROP
//!   PREPARE` is `Other`. `SET` covers variables, `NAMES`, `CHARACTER SET`,
//!   `TRANSACTION` and `ROLE`. `EXPLAIN`, `DESCRIBE` and MariaDB's `ANALYZE
//!   SELECT` are `Other` with the tables of the explained statement.
//!   `ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE` are `Other` with their
//!   tables.
//! - `SET GLOBAL`/`PERSIST` (or `@@global.x = ...`) sets `side_effects`: it
//!   changes server state, so it must run on the primary and never be
//!   replayed on a replica connection like a session `SET`.
//! - Sequences are tables in MariaDB: `NEXT VALUE FOR s`, `NEXTVAL(s)` and
//!   friends report `s` as a table besides setting `side_effects`.
//! - Any `@@variable`, and built-ins that answer about the session or the
//!   server (`DATABASE()`, `USER()`, `CURRENT_USER`, `CONNECTION_ID()`,
//!   `VERSION()`, `IS_USED_LOCK()`, `LOAD_FILE()`, ...) set `session_facts`.
//!   A call to any other name that is not a known built-in is listed in
//!   `routine_calls`: it may be a stored function that writes, which only the
//!   server's catalog can rule out (`functions.rs` has the allow list).
//! - For a text with several statements, `kind` is the first statement's;
//!   tables, hints and the boolean effects are the union over all of them;
//!   `sets_autocommit` and `use_schema` are the last ones set. The
//!   transaction flags are such that `in_transaction = (in_transaction &&
//!   !ends_transaction) || starts_transaction` gives the state after the whole
//!   text (`BEGIN; ...; COMMIT` ends, `COMMIT; BEGIN` ends and starts). The
//!   server's `SERVER_STATUS_IN_TRANS` flag in each OK packet remains the
//!   authority; these flags are a prediction made before sending.

use std::collections::HashSet;

pub use tern_rules::{StatementKind, TableName};

use inline::InlineVec;

mod functions;
mod inline;
mod routine;
mod scan;

pub use routine::{read_routine_body, RoutineBody};

/// Unit tests per feature, plus the corpus and property tests that check the
/// classifier against sqlparser (a dev-dependency): none of it is in the binary.
#[cfg(test)]
mod tests;

/// Classifies one COM_QUERY text.
pub fn classify(sql: &str) -> Classified<'_> {
    let mut out = Classified::new();
    scan::scan(sql, &mut out);
    out
}

/// Classifies raw COM_QUERY bytes. Text that is not valid UTF-8 is `Other`
/// with no tables and no other facts: the caller must not let such a
/// statement match rules by table (a rule that blocks a table would
/// otherwise be bypassed by one invalid byte in a string literal).
pub fn classify_bytes(sql: &[u8]) -> Classified<'_> {
    match std::str::from_utf8(sql) {
        Ok(text) => classify(text),
        Err(_) => Classified::new(),
    }
}

/// What the classifier found in one statement text.
#[derive(Clone, Debug)]
pub struct Classified<'a> {
    /// Kind of the first statement in the text.
    pub kind: StatementKind,
    /// Tables named anywhere in the text.
    pub tables: Tables<'a>,
    /// `SELECT ... FOR UPDATE` / `FOR SHARE` / `LOCK IN SHARE MODE`.
    pub locking_read: bool,
    /// Must run on the primary and nowhere else: lock functions,
    /// `LAST_INSERT_ID(...)`, `FOUND_ROWS()`, `ROW_COUNT()`,
    /// `SQL_CALC_FOUND_ROWS`, sequence functions, assignments to user
    /// variables, `INTO OUTFILE`/`DUMPFILE`/`@var`, `SET GLOBAL`.
    pub side_effects: bool,
    /// Some `@name` (not `@@name`): a replica connection would not have it.
    pub reads_user_variables: bool,
    /// Asks about the session or the server that answers: any `@@variable`,
    /// `DATABASE()`, `USER()`, `CURRENT_USER`, `CONNECTION_ID()`,
    /// `VERSION()`, lock states, `LOAD_FILE()` (see `functions.rs`).
    pub session_facts: bool,
    /// Calls to names that are not built-in functions: stored functions or
    /// UDFs, `schema`-qualified if written so, in order of first call. Only
    /// the server's catalog can tell whether they write.
    pub routine_calls: Tables<'a>,
    /// A second statement follows a `;`.
    pub multi_statement: bool,
    /// `tern:key[=value]` items from block comments (not `--` or `#`
    /// comments, not executable comments, not strings). Items are separated
    /// by whitespace, or by a comma directly before the next `tern:`, so a
    /// value can be a list: `/* tern:after=0-1-5,0-2-7 */`.
    pub hints: Hints<'a>,
    /// `BEGIN [WORK]`, `START TRANSACTION`, `XA START|BEGIN`, `COMMIT|ROLLBACK
    /// AND CHAIN`, and not ended later in the same text.
    pub starts_transaction: bool,
    /// `COMMIT`, `ROLLBACK` (not `TO SAVEPOINT`), `XA COMMIT|ROLLBACK`, and
    /// statements that commit implicitly: DDL other than on temporary tables,
    /// account statements, `LOCK TABLES`, `ANALYZE|CHECK|OPTIMIZE|REPAIR
    /// TABLE`. Not `UNLOCK TABLES`, which commits only if tables were locked.
    /// `SET autocommit = 1` commits too: see `sets_autocommit`.
    pub ends_transaction: bool,
    /// A session-scope assignment to `autocommit`. A value that is not a
    /// literal (`DEFAULT`, `@saved`) reads as `Some(false)`, the setting that
    /// keeps the session on the primary.
    pub sets_autocommit: Option<bool>,
    /// Session state that ties the session to the primary connection: the
    /// last such effect in the text, except that `UnlockTables` does not
    /// replace a pin other than `LockTables`. A text can have several (`CREATE
    /// TEMPORARY TABLE t AS SELECT GET_LOCK(...)`): `pins` has them all.
    pub pin: Option<Pin>,
    /// Every pinning effect of the text, net: of `LockTables` and
    /// `UnlockTables` only the later one is kept. What session state should be
    /// updated from.
    pub pins: PinSet,
    /// `USE db`: the schema, unquoted.
    pub use_schema: Option<&'a str>,
}

/// Session state created on the connection that ran the statement, which
/// keeps the session on that connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pin {
    /// `CREATE TEMPORARY TABLE` (also `CREATE TEMPORARY SEQUENCE`).
    TemporaryTable,
    /// `LOCK TABLE(S)`, `FLUSH TABLES ... WITH READ LOCK | FOR EXPORT`.
    LockTables,
    /// `UNLOCK TABLES`: releases `LockTables`.
    UnlockTables,
    /// `GET_LOCK(...)`.
    UserLock,
    /// Text-protocol `PREPARE stmt FROM ...`.
    Prepare,
    /// `SET sql_log_bin = ...`.
    SqlLogBin,
}

/// A set of [`Pin`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PinSet(u8);

impl PinSet {
    pub const EMPTY: PinSet = PinSet(0);
    const ALL: [Pin; 6] = [
        Pin::TemporaryTable,
        Pin::LockTables,
        Pin::UnlockTables,
        Pin::UserLock,
        Pin::Prepare,
        Pin::SqlLogBin,
    ];

    fn bit(pin: Pin) -> u8 {
        1 << (pin as u8)
    }

    pub fn contains(self, pin: Pin) -> bool {
        self.0 & Self::bit(pin) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Pin> {
        Self::ALL.into_iter().filter(move |&pin| self.contains(pin))
    }

    /// Adds `pin`; LOCK TABLES and UNLOCK TABLES undo each other.
    fn insert(&mut self, pin: Pin) {
        match pin {
            Pin::LockTables => self.0 &= !Self::bit(Pin::UnlockTables),
            Pin::UnlockTables => self.0 &= !Self::bit(Pin::LockTables),
            _ => {}
        }
        self.0 |= Self::bit(pin);
    }
}

impl<'a> Classified<'a> {
    fn new() -> Self {
        Classified {
            kind: StatementKind::Other,
            tables: Tables::new(),
            locking_read: false,
            side_effects: false,
            reads_user_variables: false,
            session_facts: false,
            routine_calls: Tables::new(),
            multi_statement: false,
            hints: Hints::new(),
            starts_transaction: false,
            ends_transaction: false,
            sets_autocommit: None,
            pin: None,
            pins: PinSet::EMPTY,
            use_schema: None,
        }
    }
}

/// Past this many tables, membership is checked with a hash set instead of a
/// scan, so a statement naming thousands of tables stays linear.
const TABLES_SCANNED: usize = 16;

/// The tables a text names, deduplicated, in order of first appearance.
#[derive(Clone, Debug)]
pub struct Tables<'a> {
    list: InlineVec<TableName<'a>, 4>,
    index: Option<HashSet<TableName<'a>>>,
}

impl<'a> Tables<'a> {
    fn new() -> Self {
        Tables {
            list: InlineVec::new(TableName {
                schema: None,
                name: "",
            }),
            index: None,
        }
    }

    pub fn as_slice(&self) -> &[TableName<'a>] {
        self.list.as_slice()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, TableName<'a>> {
        self.as_slice().iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&mut self, table: TableName<'a>) {
        let known = match &self.index {
            Some(index) => index.contains(&table),
            None => self.as_slice().contains(&table),
        };
        if known {
            return;
        }
        self.list.push(table);
        if let Some(index) = &mut self.index {
            index.insert(table);
        } else if self.list.len() > TABLES_SCANNED {
            self.index = Some(self.as_slice().iter().copied().collect());
        }
    }

    /// Forgets the tables added after the first `len`; for `DELETE FROM a
    /// USING ...`, whose `a` may be an alias declared later. Each forgotten
    /// table was new when added, so it leaves the index too; the cost is that
    /// of adding them, never a rebuild.
    fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        if let Some(index) = &mut self.index {
            for table in &self.list.as_slice()[len..] {
                index.remove(table);
            }
        }
        self.list.truncate(len);
    }
}

impl<'a, 'b> IntoIterator for &'b Tables<'a> {
    type Item = &'b TableName<'a>;
    type IntoIter = std::slice::Iter<'b, TableName<'a>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `tern:` hints in text order, keys and values as written.
#[derive(Clone, Debug)]
pub struct Hints<'a> {
    list: InlineVec<(&'a str, Option<&'a str>), 4>,
}

impl<'a> Hints<'a> {
    fn new() -> Self {
        Hints {
            list: InlineVec::new(("", None)),
        }
    }

    /// The shape `tern_rules::StatementFacts::hints` takes.
    pub fn as_slice(&self) -> &[(&'a str, Option<&'a str>)] {
        self.list.as_slice()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + '_ {
        self.as_slice().iter().copied()
    }

    /// The first hint with this key (ASCII case-insensitive): `Some(None)`
    /// for a bare `tern:key`, `Some(Some(value))` for `tern:key=value`.
    pub fn get(&self, key: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> crate::sql::lexer::HintSink<'a> for Hints<'a> {
    fn hint(&mut self, key: &'a str, value: Option<&'a str>) {
        self.list.push((key, value));
    }
}
