//! A session's side of schema freshness: the table changes it makes are
//! recorded in the instance's [`SchemaChanges`](crate::backend::schema_changes)
//! before the client sees them return, so that no session of this Tern reads
//! those tables on a replica that has not applied them.
//!
//! Which statements count: every DDL through Tern that succeeds and commits
//! with a GTID (ALTER TABLE, CREATE/DROP INDEX, CREATE/DROP/RENAME/TRUNCATE
//! TABLE, views, sequences, triggers' tables, ...), for every table the
//! statement names; unqualified names are in the session's default schema
//! when the statement ran. An online migration counts with its cut-over
//! RENAME's GTID. Naming a table too many (a foreign key's parent, a view's
//! source) costs at most one wait on a replica read of it.

use std::sync::Arc;

use super::Session;
use crate::gtid::{Gtid, GtidSet};
use crate::migrate::Migration;
use crate::sql::classify::{Classified, Pin};
use tern_rules::StatementKind;

impl Session {
    /// Records a table change the session just made, whose answer reported
    /// `gtids`. Call before the answer reaches the client.
    pub(super) async fn note_table_change(
        &mut self,
        c: &Classified<'_>,
        sql: &[u8],
        gtids: &[Gtid],
    ) {
        if self.shared.replicas.is_empty() || c.tables.is_empty() || !changes_tables(c, sql) {
            return;
        }
        let mut set = GtidSet::new();
        for g in gtids {
            set.add(g);
        }
        if set.is_empty() {
            // Nothing was written to the binlog (a temporary table,
            // sql_log_bin off), unless the server does not report commits'
            // GTIDs: then the primary's whole position bounds the change.
            let untracked =
                self.own_gtids_untracked || !self.shared.primary_history.gtids_tracked();
            if !untracked || c.pins.iter().any(|p| p == Pin::TemporaryTable) {
                return;
            }
            match self.shared.primary_position.current().await {
                Some(position) => set = position,
                None => return,
            }
        }
        let default_schema = self.schema_name();
        for t in c.tables.iter() {
            if let Some(schema) = t.schema.or(default_schema) {
                self.shared.schema_changes.record(schema, t.name, &set);
            }
        }
        tracing::debug!(tables = c.tables.len(), gtids = %set, "table change recorded for replica reads");
    }

    /// Records an online migration's change (or its revert), visible with
    /// its RENAME's GTID.
    pub(super) fn note_migration_done(&self, schema: &str, table: &str, rename_gtid: &GtidSet) {
        if !self.shared.replicas.is_empty() {
            self.shared
                .schema_changes
                .record(schema, table, rename_gtid);
        }
    }

    /// An asynchronous migration's client got its answer before the change:
    /// the change is recorded when the migration ends, wherever its end is
    /// learned (`SHOW TERN MIGRATIONS`, the status page).
    pub(super) fn follow_migration(&self, migration: Arc<Migration>) {
        if self.shared.replicas.is_empty() {
            return;
        }
        let changes = self.shared.schema_changes.clone();
        tokio::spawn(async move {
            if let Ok(finished) = migration.wait().await {
                if let Ok(set) = GtidSet::parse(&finished.gtid) {
                    changes.record(&migration.schema, &migration.table, &set);
                }
            }
        });
    }
}

/// A statement that may change a table: DDL, or a text of several statements
/// one of which may be DDL (such a word in a string or a name only costs a
/// recorded change).
fn changes_tables(c: &Classified<'_>, sql: &[u8]) -> bool {
    const DDL_WORDS: [&[u8]; 5] = [b"ALTER", b"CREATE", b"DROP", b"RENAME", b"TRUNCATE"];
    c.kind == StatementKind::Ddl
        || (c.multi_statement
            && DDL_WORDS
                .iter()
                .any(|w| sql.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w))))
}

#[cfg(test)]
mod tests {
    use super::changes_tables;
    use crate::sql::classify::classify;

    #[test]
    fn ddl_and_texts_with_ddl_change_tables() {
        let check = |sql: &str| changes_tables(&classify(sql), sql.as_bytes());
        assert!(check("ALTER TABLE t ADD c INT"));
        assert!(check("CREATE INDEX i ON t (a)"));
        assert!(check("RENAME TABLE a TO b"));
        assert!(check("INSERT INTO t VALUES (1); alter table t add c int"));
        assert!(!check("INSERT INTO t VALUES (1)"));
        assert!(!check("INSERT INTO t VALUES (1); INSERT INTO u VALUES (2)"));
        assert!(!check("SELECT 1"));
    }
}
