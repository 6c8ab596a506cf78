//! The answer the server's own ALTER would give, rebuilt from the copy.
//!
//! Invariant: a client waiting on an online ALTER is told what a native ALTER
//! of the same table would have told it: the same `Records:` count and the
//! same warnings, as many as its `max_error_count` keeps.

/// The server's default max_error_count.
pub const DEFAULT_MAX_ERROR_COUNT: u64 = 64;

/// One row of `SHOW WARNINGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub level: String,
    pub code: u16,
    pub message: String,
}

/// The answer the server's own ALTER gives, rebuilt from the copy: a COPY
/// ALTER affects (and reports as `Records`) every row it copies, an in-place
/// one reports 0; both count every warning but keep only the first
/// `max_error_count` for `SHOW WARNINGS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlterReport {
    /// Affected rows and `Records:` of the OK.
    pub records: u64,
    /// Every warning the copy raised, kept or not.
    pub warnings: u64,
    /// The first `max_error_count` of them, in order.
    pub conditions: Vec<Condition>,
}

impl AlterReport {
    /// The OK packet's info text, in the server's format.
    pub fn info(&self) -> String {
        format!(
            "Records: {}  Duplicates: 0  Warnings: {}",
            self.records, self.warnings
        )
    }
}
