//! The engine's one error type and its mapping to what the client is told.
//!
//! Invariant: every way a migration can end without a cut-over maps, in
//! [`MigrateError::client_error`] and nowhere else, to one MySQL error code
//! and SQLSTATE; the database's own errors pass through unchanged.

use crate::protocol::errcode::{
    ER_ALTER_OPERATION_NOT_SUPPORTED_REASON, ER_LOCK_WAIT_TIMEOUT, ER_QUERY_INTERRUPTED,
    ER_SERVER_SHUTDOWN, ER_UNKNOWN_ERROR,
};

/// Errors of the engine. `Server` carries the database's own error for the
/// client (an unknown column, a duplicate key for a new UNIQUE index); the
/// others map to one code each in [`MigrateError::client_error`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum MigrateError {
    #[error("{message}")]
    Server {
        code: u16,
        state: String,
        message: String,
    },
    /// Tern will not run this change online.
    #[error("{0}")]
    Refused(String),
    /// The table does not exist: the session lets the server answer natively.
    #[error("table not found")]
    NoSuchTable,
    /// The table is being migrated and the change may not wait for it (an
    /// async ALTER); a synchronous one waits its turn instead.
    #[error("a migration of {0} is already running; an async ALTER does not wait for it: send it again once that migration has ended, or without async to wait its turn")]
    Busy(String),
    #[error("migration cancelled")]
    Cancelled,
    /// Tern is shutting down: the migration checkpointed and resumes at the next start.
    #[error("Tern is shutting down; the migration resumes when Tern starts again")]
    Stopping,
    /// The copy stayed throttled, without copying a chunk, past
    /// `--migration-max-throttle-secs`.
    #[error("the copy was throttled for {waited_secs} s without progress, past the bound of {bound_secs} s (--migration-max-throttle-secs); last reason: {reason}. The original table is unchanged")]
    Throttled {
        waited_secs: u64,
        bound_secs: u64,
        reason: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl From<mysql_async::Error> for MigrateError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => MigrateError::Server {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            other => MigrateError::Internal(other.to_string()),
        }
    }
}

impl MigrateError {
    /// A server error met on the shadow table, as the native ALTER reports it:
    /// about the table the client named. A copy that hits a CHECK constraint
    /// was answered "failed for `db`.`t_tern1_new`" where the server says
    /// "`db`.`t`".
    pub fn about_source(self, shadow: &str, source: &str) -> MigrateError {
        match self {
            MigrateError::Server {
                code,
                state,
                message,
            } if message.contains(shadow) => MigrateError::Server {
                code,
                state,
                message: message.replace(shadow, source),
            },
            other => other,
        }
    }

    /// Code, SQLSTATE and message for the client.
    pub fn client_error(&self) -> (u16, String, String) {
        match self {
            MigrateError::Server {
                code,
                state,
                message,
            } => (*code, state.clone(), message.clone()),
            MigrateError::Refused(why) => (
                ER_ALTER_OPERATION_NOT_SUPPORTED_REASON,
                "0A000".into(),
                format!("Online ALTER is not supported. Reason: {why}. Try SET SESSION tern_ddl = 'native'"),
            ),
            MigrateError::Busy(_) => (ER_LOCK_WAIT_TIMEOUT, "HY000".into(), format!("Tern: {self}")),
            MigrateError::Cancelled => (ER_QUERY_INTERRUPTED, "70100".into(), "Query execution was interrupted".into()),
            MigrateError::Stopping => (ER_SERVER_SHUTDOWN, "08S01".into(), format!("Server shutdown in progress: {self}")),
            // ER_UNKNOWN_ERROR like every other engine failure: the server has
            // no code for a throttle, and ER_LOCK_WAIT_TIMEOUT would invite
            // drivers to retry an ALTER that would wait just as long again.
            MigrateError::NoSuchTable
            | MigrateError::Internal(_)
            | MigrateError::Throttled { .. } => {
                (ER_UNKNOWN_ERROR, "HY000".into(), format!("Tern online ALTER failed: {self}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shadow_table_in_a_server_error_is_named_as_the_source() {
        let check = MigrateError::Server {
            code: 4025,
            state: "23000".into(),
            message: "CONSTRAINT `CONSTRAINT_1` failed for `test`.`t1_tern1_new`".into(),
        };
        let (code, state, message) = check.about_source("t1_tern1_new", "t1").client_error();
        assert_eq!((code, state.as_str()), (4025, "23000"));
        assert_eq!(message, "CONSTRAINT `CONSTRAINT_1` failed for `test`.`t1`");
        let other =
            MigrateError::Internal("t1_tern1_new".into()).about_source("t1_tern1_new", "t1");
        assert_eq!(
            other.to_string(),
            "t1_tern1_new",
            "only the server's own words"
        );
    }

    /// The numbers on the wire, as the server sends them for the same events.
    #[test]
    fn engine_errors_keep_their_server_codes() {
        let code = |e: MigrateError| {
            let (code, state, _) = e.client_error();
            (code, state)
        };
        assert_eq!(code(MigrateError::Cancelled), (1317, "70100".into()));
        assert_eq!(code(MigrateError::Stopping), (1053, "08S01".into()));
        assert_eq!(code(MigrateError::Busy("t".into())), (1205, "HY000".into()));
        assert_eq!(
            code(MigrateError::Refused("r".into())),
            (1846, "0A000".into())
        );
        assert_eq!(
            code(MigrateError::Internal("i".into())),
            (1105, "HY000".into())
        );
        let throttled = MigrateError::Throttled {
            waited_secs: 1,
            bound_secs: 1,
            reason: "r".into(),
        };
        assert_eq!(code(throttled), (1105, "HY000".into()));
    }
}
