//! Tern's routing rules: the rule file format and a pure matcher with no I/O.
//!
//! This crate is a placeholder for now: routing rules (statement kind, tables,
//! user, schema, client address, text pattern, comment hint → primary, replica
//! group, reject, consistency) are the subject of the routing work. Its one type
//! today names where a statement may be sent.

/// Where a statement may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Primary,
    AnyReplica,
    ReplicaGroup(String),
}
