//! What the rules decided for one statement, and the error a `reject` rule
//! sends back to the client.

use crate::{Consistency, Destination};

/// The outcome of [`RuleSet::evaluate`](crate::RuleSet::evaluate).
///
/// At most one of `route` and `reject` is set: both fill the same slot (where
/// the statement goes), taken by the first matching rule that routes or
/// rejects. `consistency` is its own slot, taken by the first matching rule
/// that sets it. A field left `None` means "no rule said": the proxy applies
/// its own default for it.
///
/// Borrows from the rule set, so evaluating allocates nothing; clone what
/// must outlive the rule set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision<'r> {
    pub route: Option<&'r Destination>,
    pub reject: Option<&'r Reject>,
    pub consistency: Option<Consistency>,
    /// Index (file order, from 0) of the rule that set `route` or `reject`;
    /// [`RuleSet::rule`](crate::RuleSet::rule) names it for logs.
    pub verdict_rule: Option<usize>,
    /// Index of the rule that set `consistency`.
    pub consistency_rule: Option<usize>,
}

impl Decision<'_> {
    /// No rule matched (or none that set anything).
    pub fn is_empty(&self) -> bool {
        self.route.is_none() && self.reject.is_none() && self.consistency.is_none()
    }

    /// Both slots are taken, so no later rule can change anything.
    pub(crate) fn is_complete(&self) -> bool {
        (self.route.is_some() || self.reject.is_some()) && self.consistency.is_some()
    }
}

/// An error returned to the client instead of running the statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reject {
    /// MySQL error code, 1000..=65534.
    pub code: u16,
    /// Five ASCII characters, digits and capital letters.
    pub sqlstate: [u8; 5],
    pub message: String,
}

impl Reject {
    /// The SQLSTATE as text (always valid ASCII, checked at load).
    pub fn sqlstate_str(&self) -> &str {
        std::str::from_utf8(&self.sqlstate).unwrap_or("HY000")
    }
}

/// The SQLSTATE MySQL and MariaDB send with `code`, for the codes an operator
/// is likely to reject with; anything else gets the generic `HY000`, as the
/// server itself does for codes without a specific state. Values are from the
/// servers' error tables (`sql_state.h`).
pub(crate) fn default_sqlstate(code: u16) -> [u8; 5] {
    let state: &[u8; 5] = match code {
        1040 => b"08004", // ER_CON_COUNT_ERROR (too many connections)
        1044 => b"42000", // ER_DBACCESS_DENIED_ERROR
        1045 => b"28000", // ER_ACCESS_DENIED_ERROR
        1046 => b"3D000", // ER_NO_DB_ERROR
        1049 => b"42000", // ER_BAD_DB_ERROR
        1050 => b"42S01", // ER_TABLE_EXISTS_ERROR
        1051 => b"42S02", // ER_BAD_TABLE_ERROR
        1054 => b"42S22", // ER_BAD_FIELD_ERROR
        1062 => b"23000", // ER_DUP_ENTRY
        1064 => b"42000", // ER_PARSE_ERROR
        1142 => b"42000", // ER_TABLEACCESS_DENIED_ERROR
        1143 => b"42000", // ER_COLUMNACCESS_DENIED_ERROR
        1146 => b"42S02", // ER_NO_SUCH_TABLE
        1148 => b"42000", // ER_NOT_ALLOWED_COMMAND
        1203 => b"42000", // ER_TOO_MANY_USER_CONNECTIONS
        1207 => b"25000", // ER_READ_ONLY_TRANSACTION
        1213 => b"40001", // ER_LOCK_DEADLOCK
        1226 => b"42000", // ER_USER_LIMIT_REACHED
        1227 => b"42000", // ER_SPECIFIC_ACCESS_DENIED_ERROR
        1235 => b"42000", // ER_NOT_SUPPORTED_YET
        1317 => b"70100", // ER_QUERY_INTERRUPTED
        1370 => b"42000", // ER_PROCACCESS_DENIED_ERROR
        1792 => b"25006", // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        1969 => b"70100", // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
        _ => b"HY000",
    };
    *state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_codes_get_their_server_sqlstate() {
        assert_eq!(&default_sqlstate(1142), b"42000");
        assert_eq!(&default_sqlstate(1045), b"28000");
        assert_eq!(&default_sqlstate(1146), b"42S02");
        assert_eq!(&default_sqlstate(1792), b"25006");
    }

    #[test]
    fn other_codes_get_hy000() {
        assert_eq!(&default_sqlstate(1290), b"HY000");
        assert_eq!(&default_sqlstate(4000), b"HY000");
    }

    #[test]
    fn sqlstate_str_reads_back() {
        let reject = Reject {
            code: 1142,
            sqlstate: *b"42000",
            message: "no".into(),
        };
        assert_eq!(reject.sqlstate_str(), "42000");
    }
}
