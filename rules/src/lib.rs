//! Tern's routing rules: the rule file format and a pure matcher with no I/O.
//!
//! The proxy classifies each statement (kind, tables, hints) at lexer level and
//! hands the facts to [`RuleSet::evaluate`]; this crate decides nothing else.

use std::net::IpAddr;

/// What a statement does, as far as routing cares. Shared by the proxy's
/// classifier and the rule file's `kind` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
    Replace,
    /// CREATE / ALTER / DROP / RENAME / TRUNCATE and other schema changes.
    Ddl,
    /// BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE SAVEPOINT,
    /// XA ...
    Transaction,
    /// SET ... (session variables, NAMES, CHARACTER SET, TRANSACTION ...).
    Set,
    /// Everything else: SHOW, CALL, DO, USE, EXPLAIN, LOCK TABLES, HANDLER ...
    Other,
}

impl StatementKind {
    /// The name used in rule files.
    pub fn name(self) -> &'static str {
        match self {
            StatementKind::Select => "select",
            StatementKind::Insert => "insert",
            StatementKind::Update => "update",
            StatementKind::Delete => "delete",
            StatementKind::Replace => "replace",
            StatementKind::Ddl => "ddl",
            StatementKind::Transaction => "transaction",
            StatementKind::Set => "set",
            StatementKind::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "select" => StatementKind::Select,
            "insert" => StatementKind::Insert,
            "update" => StatementKind::Update,
            "delete" => StatementKind::Delete,
            "replace" => StatementKind::Replace,
            "ddl" => StatementKind::Ddl,
            "transaction" => StatementKind::Transaction,
            "set" => StatementKind::Set,
            "other" => StatementKind::Other,
            _ => return None,
        })
    }
}

/// Read consistency of one statement routed to a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// Never older than the session's own last write (read-your-writes).
    Session,
    /// Sees every write committed anywhere before the read started.
    Global,
    /// No waiting: whatever a healthy replica has.
    Eventual,
}

impl Consistency {
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "session" => Some(Consistency::Session),
            "global" => Some(Consistency::Global),
            "eventual" => Some(Consistency::Eventual),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Consistency::Session => "session",
            Consistency::Global => "global",
            Consistency::Eventual => "eventual",
        }
    }
}

/// Where a statement may be sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Primary,
    AnyReplica,
    /// Replicas configured under this group name.
    ReplicaGroup(String),
}

/// A table named by a statement, as written (unquoted; schema if qualified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableName<'a> {
    pub schema: Option<&'a str>,
    pub name: &'a str,
}

/// What the proxy knows about one statement when it consults the rules.
#[derive(Debug, Clone, Copy)]
pub struct StatementFacts<'a> {
    pub kind: StatementKind,
    pub tables: &'a [TableName<'a>],
    pub user: &'a str,
    /// The session's current default schema.
    pub schema: Option<&'a str>,
    pub client_addr: IpAddr,
    /// The statement text as the client sent it.
    pub text: &'a str,
    /// `/* tern:key[=value] */` hints found in the statement's comments.
    pub hints: &'a [(&'a str, Option<&'a str>)],
}
