//! How a table change is run, once `sql::alter` has read it: the session's
//! DDL mode, and the in-place probe.
//!
//! Tern never edits the statement it sends to the server: the server is asked
//! for an in-place run with `SET STATEMENT alter_algorithm=... FOR <statement>`
//! (see [`in_place_probe`]), which leaves clauses that must come last
//! (`ORDER BY`, `PARTITION BY`, `CONVERT ... TO PARTITION`) where they are.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_keeps_the_statement_as_sent() {
        let sql = b"/* tern:async */ ALTER TABLE r9 ORDER BY b;";
        let probe = in_place_probe(sql, "INSTANT", 2);
        assert_eq!(
            probe,
            b"SET STATEMENT lock_wait_timeout=2, alter_algorithm='INSTANT' FOR /* tern:async */ ALTER TABLE r9 ORDER BY b;".to_vec()
        );
    }
}
