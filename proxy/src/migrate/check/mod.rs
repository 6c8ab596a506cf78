//! Preflight checks: each rule that makes Tern refuse an online ALTER up front,
//! one per file, so that nothing is ever half done.

mod binlog;
mod engine;
mod foreign_keys;
mod key;

pub use binlog::binlog_is_row_based;
pub use engine::is_transactional;
pub use foreign_keys::no_self_reference;
pub use key::{has_usable_key, keeps_key_columns, name_leaves_room};

/// Why Tern will not run an ALTER online.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);
