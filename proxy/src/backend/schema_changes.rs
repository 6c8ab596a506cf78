//! Table changes replicas may not have applied yet, shared by every session of
//! this Tern instance.
//!
//! Read-your-writes protects a session from its own writes only. A table
//! change is different: once `ALTER TABLE t ADD COLUMN c` returned through
//! Tern, any session may send `SELECT c FROM t`, and a replica that has not
//! applied the change answers `1054 Unknown column` (or `1146` for a new
//! table, or the old rows of a dropped one). So every successful DDL through
//! Tern records here, per table it names, the GTIDs that make it visible (the
//! statement's own GTID, or the cut-over RENAME's for an online migration),
//! before its answer reaches the client. A replica read naming such a table
//! must see those GTIDs as well as whatever its consistency mode asks for.
//!
//! Safety argument: an entry is recorded before the client that ran the change
//! can learn that it returned, and dropped only once every configured replica
//! (in the rotation or not) is known to have applied its GTIDs; a read that
//! names the table in between waits for them on the replica or runs on the
//! primary, exactly as a read after the session's own write.
//!
//! Cost: in steady state the map is empty and a read pays one atomic load.
//! Names are compared without case (the server may distinguish `T` from `t`;
//! treating them as one costs at most a wait). Past [`MAX_TABLES`] entries
//! further changes fold into one set that every read naming a table waits for,
//! so memory stays bounded while a replica is down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tern_rules::TableName;

use super::monitor::ReplicaHealth;
use crate::gtid::GtidSet;

/// Most tables tracked one by one. A replica that is down while a script
/// creates thousands of tables must not grow Tern's memory without limit;
/// past this, changes count for every table (a wait where none was needed).
pub const MAX_TABLES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TableKey {
    schema: String,
    name: String,
}

impl TableKey {
    fn new(schema: &str, name: &str) -> TableKey {
        TableKey {
            schema: schema.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }
}

#[derive(Debug, Default)]
struct Changes {
    tables: HashMap<TableKey, GtidSet>,
    /// Changes past [`MAX_TABLES`]: they count for every table.
    overflow: Option<GtidSet>,
}

impl Changes {
    fn count(&self) -> usize {
        self.tables.len() + usize::from(self.overflow.is_some())
    }
}

#[derive(Debug, Default)]
pub struct SchemaChanges {
    /// How many entries `changes` holds: zero in steady state, read before
    /// any lock so that reads of a quiet system pay one atomic load.
    pending: AtomicUsize,
    /// Critical sections are a lookup or an insert: a std lock is fine on
    /// async paths.
    changes: Mutex<Changes>,
}

impl SchemaChanges {
    /// The change of `schema.table` is visible once `gtids` are applied.
    pub fn record(&self, schema: &str, table: &str, gtids: &GtidSet) {
        if gtids.is_empty() {
            return;
        }
        let Ok(mut changes) = self.changes.lock() else {
            return;
        };
        let key = TableKey::new(schema, table);
        if let Some(set) = changes.tables.get_mut(&key) {
            set.merge(gtids);
        } else if changes.tables.len() < MAX_TABLES {
            changes.tables.insert(key, gtids.clone());
        } else {
            changes
                .overflow
                .get_or_insert_with(GtidSet::new)
                .merge(gtids);
        }
        self.pending.store(changes.count(), Ordering::SeqCst);
    }

    /// What a read naming `tables` must see of the table changes, with
    /// unqualified names in `default_schema`; `None` when no change concerns it.
    pub fn required_for(
        &self,
        tables: &[TableName<'_>],
        default_schema: Option<&str>,
    ) -> Option<GtidSet> {
        if self.pending.load(Ordering::SeqCst) == 0 || tables.is_empty() {
            return None;
        }
        let changes = self.changes.lock().ok()?;
        let mut required = changes.overflow.clone();
        for t in tables {
            let Some(schema) = t.schema.or(default_schema) else {
                continue;
            };
            if let Some(set) = changes.tables.get(&TableKey::new(schema, t.name)) {
                required.get_or_insert_with(GtidSet::new).merge(set);
            }
        }
        required
    }

    /// Drops the changes `applied_everywhere` says every replica has; returns
    /// how many remain.
    pub fn forget_applied(&self, applied_everywhere: impl Fn(&GtidSet) -> bool) -> usize {
        let Ok(mut changes) = self.changes.lock() else {
            return self.len();
        };
        let before = changes.count();
        changes.tables.retain(|key, set| {
            let keep = !applied_everywhere(set);
            if !keep {
                tracing::debug!(schema = %crate::logsafe::untrusted(&key.schema), table = %crate::logsafe::untrusted(&key.name), "table change applied on every replica");
            }
            keep
        });
        if changes.overflow.as_ref().is_some_and(&applied_everywhere) {
            changes.overflow = None;
        }
        let after = changes.count();
        if after != before {
            self.pending.store(after, Ordering::SeqCst);
        }
        after
    }

    /// Table changes some replica may still lack.
    pub fn len(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every `interval`, forgets the changes every replica has applied (as the
    /// replica monitors and sessions' waits know them). A replica that is down
    /// keeps its changes here until it is back and has applied them.
    pub async fn watch(self: Arc<Self>, replicas: Vec<Arc<ReplicaHealth>>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            if self.is_empty() {
                continue;
            }
            self.forget_applied(|set| replicas.iter().all(|r| r.has_applied(set)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> GtidSet {
        GtidSet::parse(text).expect("gtid set")
    }

    fn table<'a>(schema: Option<&'a str>, name: &'a str) -> TableName<'a> {
        TableName { schema, name }
    }

    #[test]
    fn reads_of_changed_tables_need_the_change() {
        let r = SchemaChanges::default();
        assert!(r.required_for(&[table(None, "t")], Some("app")).is_none());
        r.record("app", "t", &set("0-1-10"));
        r.record("app", "u", &set("0-1-12"));
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.required_for(&[table(None, "t")], Some("app")),
            Some(set("0-1-10"))
        );
        // Qualified, differently cased, and together with an unchanged table.
        assert_eq!(
            r.required_for(&[table(Some("APP"), "T"), table(None, "x")], Some("other")),
            Some(set("0-1-10"))
        );
        assert_eq!(
            r.required_for(&[table(None, "t"), table(None, "u")], Some("app")),
            Some(set("0-1-12"))
        );
        // Same name in another schema, an unchanged table, no default schema.
        assert!(r.required_for(&[table(None, "t")], Some("other")).is_none());
        assert!(r.required_for(&[table(None, "x")], Some("app")).is_none());
        assert!(r.required_for(&[table(None, "t")], None).is_none());
        assert!(r.required_for(&[], Some("app")).is_none());
    }

    #[test]
    fn changes_are_forgotten_once_every_replica_has_them() {
        let r = SchemaChanges::default();
        r.record("app", "t", &set("0-1-10"));
        r.record("app", "t", &set("0-1-15"));
        r.record("app", "u", &set("0-1-12"));
        let replica_a = set("0-1-12");
        let replica_b = set("0-1-20");
        let remaining =
            r.forget_applied(|s| replica_a.contains_set(s) && replica_b.contains_set(s));
        assert_eq!(remaining, 1);
        assert_eq!(
            r.required_for(&[table(None, "t")], Some("app")),
            Some(set("0-1-15"))
        );
        assert!(r.required_for(&[table(None, "u")], Some("app")).is_none());
        assert_eq!(r.forget_applied(|s| replica_b.contains_set(s)), 0);
        assert!(r.is_empty());
        assert!(r.required_for(&[table(None, "t")], Some("app")).is_none());
    }

    #[test]
    fn past_the_bound_changes_count_for_every_table() {
        let r = SchemaChanges::default();
        for i in 0..MAX_TABLES {
            r.record("app", &format!("t{i}"), &set("0-1-5"));
        }
        r.record("app", "one_more", &set("0-1-9"));
        assert_eq!(r.len(), MAX_TABLES + 1);
        assert_eq!(
            r.required_for(&[table(None, "unrelated")], Some("app")),
            Some(set("0-1-9"))
        );
        assert_eq!(r.forget_applied(|s| set("0-1-9").contains_set(s)), 0);
        assert!(r
            .required_for(&[table(None, "unrelated")], Some("app"))
            .is_none());
    }

    #[test]
    fn a_change_without_gtids_records_nothing() {
        let r = SchemaChanges::default();
        r.record("app", "t", &GtidSet::new());
        assert!(r.is_empty());
    }
}
