//! The facts the proxy's classifier knows about one statement, and the small
//! vocabulary (kinds, destinations, consistency levels) that rules and the
//! proxy share.

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
    /// Every kind, in declaration order.
    pub const ALL: [StatementKind; 9] = [
        StatementKind::Select,
        StatementKind::Insert,
        StatementKind::Update,
        StatementKind::Delete,
        StatementKind::Replace,
        StatementKind::Ddl,
        StatementKind::Transaction,
        StatementKind::Set,
        StatementKind::Other,
    ];

    /// Position in [`StatementKind::ALL`]; the rule set keeps one candidate
    /// list per kind, indexed by this.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

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

impl std::fmt::Display for Destination {
    /// The spelling used by a rule's `route` key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Primary => f.write_str("primary"),
            Destination::AnyReplica => f.write_str("replica"),
            Destination::ReplicaGroup(name) => write!(f, "group:{name}"),
        }
    }
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
