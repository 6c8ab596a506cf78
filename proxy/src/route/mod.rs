//! The routing decision for one statement: rules, hints and session state in,
//! primary or replica (with a read consistency) out.
//!
//! Safety argument, in plain words: a statement goes to a replica only if running
//! it there cannot change the result the client sees apart from how fresh the
//! data is, and freshness is then guaranteed by the consistency mode (the
//! session's own writes at least, unless the client asked for `eventual`).
//! Everything that writes, locks, depends on session-private state that replicas
//! do not have (user variables, temporary tables, named locks, text-protocol
//! PREPARE), or runs inside a transaction stays on the primary. Rules may send
//! anything to the primary or reject it, but they cannot move one of those
//! statements to a replica.
//!
//! A read on a replica must also see every table change made through this Tern
//! instance to a table it names (by any session), until every replica has
//! applied it: [`SchemaChanges`] says which GTIDs, and they join the route's
//! `after` set, so a replica that lacks the change waits for it within the
//! usual bound or the primary answers. A read never fails with `Unknown
//! column` for a column whose ALTER already returned.

#[cfg(test)]
use tern_rules::StatementFacts;
use tern_rules::{Consistency, Decision, Destination, Reject, StatementKind};

use crate::backend::catalog::CatalogSnapshot;
use crate::backend::schema_changes::SchemaChanges;
use crate::gtid::{Gtid, GtidSet};
use crate::sql::classify::{Classified, Pin};

/// Where a statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Primary,
    /// A healthy replica, from the named group if given.
    Replica {
        group: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub target: Target,
    pub consistency: Consistency,
    /// GTIDs the read must see beyond what its consistency asks for: a
    /// `/* tern:after=... */` hint, and table changes to the tables it names
    /// that some replica may not have applied yet.
    pub after: Option<GtidSet>,
    /// Why, for debug logs and metrics.
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Send(Route),
    Reject(Reject),
}

/// The session facts routing depends on.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    pub in_transaction: bool,
    pub autocommit: bool,
    /// Why the session is pinned to the primary, if it is.
    pub pinned: Option<&'static str>,
    pub consistency: Consistency,
    pub has_replicas: bool,
    /// The session's default schema, for unqualified function and view names.
    pub schema: Option<&'a str>,
    /// The server's catalog of functions and views if it is fresh; `None`
    /// vouches for no function and no view.
    pub catalog: Option<&'a CatalogSnapshot>,
    /// Table changes replicas may still lack; `None` knows of none.
    pub schema_changes: Option<&'a SchemaChanges>,
}

fn primary(why: &'static str, consistency: Consistency) -> Plan {
    Plan::Send(Route {
        target: Target::Primary,
        consistency,
        after: None,
        why,
    })
}

/// Decides where `c` runs.
pub fn plan(c: &Classified<'_>, session: &SessionView<'_>, rules: Option<&Decision<'_>>) -> Plan {
    if let Some(reject) = rules.and_then(|d| d.reject.cloned()) {
        return Plan::Reject(reject);
    }
    let mut consistency = session.consistency;
    let mut after = None;
    let mut hint_target: Option<Target> = None;
    for (key, value) in c.hints.iter() {
        match (key, value) {
            ("primary", _) => hint_target = Some(Target::Primary),
            ("replica", None) => hint_target = Some(Target::Replica { group: None }),
            ("replica", Some(group)) | ("group", Some(group)) => {
                hint_target = Some(Target::Replica {
                    group: Some(group.to_string()),
                })
            }
            ("consistency", Some(v)) => {
                if let Some(mode) = Consistency::from_name(v) {
                    consistency = mode;
                }
            }
            ("after", Some(v)) => {
                let mut set = GtidSet::new();
                for g in v.split([',', ' ']).filter(|s| !s.is_empty()) {
                    if let Ok(g) = Gtid::parse(g) {
                        set.add(&g);
                    }
                }
                if !set.is_empty() {
                    after = Some(set);
                }
            }
            _ => {}
        }
    }
    if hint_target.is_none() {
        if let Some(mode) = rules.and_then(|d| d.consistency) {
            consistency = mode;
        }
    }
    if let Some(why) = primary_only(c, session) {
        return primary(why, consistency);
    }
    let target = hint_target.or_else(|| {
        rules.and_then(|d| d.route).map(|dest| match dest {
            Destination::Primary => Target::Primary,
            Destination::AnyReplica => Target::Replica { group: None },
            Destination::ReplicaGroup(g) => Target::Replica {
                group: Some(g.clone()),
            },
        })
    });
    if target == Some(Target::Primary) {
        return primary("rule or hint", consistency);
    }
    if !session.has_replicas {
        return primary("no replicas", consistency);
    }
    let after = with_table_changes(after, c, session);
    match target {
        Some(Target::Primary) => primary("rule or hint", consistency),
        Some(Target::Replica { group }) => Plan::Send(Route {
            target: Target::Replica { group },
            consistency,
            after,
            why: "rule or hint",
        }),
        None => Plan::Send(Route {
            target: Target::Replica { group: None },
            consistency,
            after,
            why: "read",
        }),
    }
}

/// `after` joined with the table changes to the tables `c` names that some
/// replica may still lack. One atomic load when there are none.
fn with_table_changes(
    after: Option<GtidSet>,
    c: &Classified<'_>,
    session: &SessionView<'_>,
) -> Option<GtidSet> {
    let Some(changes) = session
        .schema_changes
        .and_then(|s| s.required_for(c.tables.as_slice(), session.schema))
    else {
        return after;
    };
    match after {
        Some(mut after) => {
            after.merge(&changes);
            Some(after)
        }
        None => Some(changes),
    }
}

/// Reasons a statement must run on the primary whatever rules and hints say.
fn primary_only(c: &Classified<'_>, session: &SessionView<'_>) -> Option<&'static str> {
    if c.kind != StatementKind::Select {
        return Some("not a read");
    }
    if session.in_transaction || !session.autocommit {
        return Some("transaction");
    }
    if let Some(why) = session.pinned {
        return Some(why);
    }
    if c.locking_read {
        return Some("locking read");
    }
    if c.side_effects {
        return Some("side effects");
    }
    if c.reads_user_variables {
        return Some("user variables");
    }
    if c.multi_statement {
        return Some("multi-statement");
    }
    if !c.pins.is_empty() {
        return Some("pins the session");
    }
    if c.session_facts {
        return Some("session facts");
    }
    if !calls_only_read_only_functions(c, session) {
        return Some("stored function");
    }
    if names_view_needing_primary(c, session) {
        return Some("view that needs the primary");
    }
    if names_server_schema(c, session) {
        return Some("server schema");
    }
    None
}

/// Schemas whose tables describe the server or the session that reads them
/// (`information_schema.SESSION_VARIABLES`, `PROCESSLIST`, `OPTIMIZER_TRACE`,
/// performance_schema, sys views, the `mysql` log tables): a replica would
/// answer about itself.
fn names_server_schema(c: &Classified<'_>, session: &SessionView<'_>) -> bool {
    const SCHEMAS: [&str; 4] = ["information_schema", "performance_schema", "sys", "mysql"];
    c.tables.iter().any(|t| {
        t.schema
            .or(session.schema)
            .is_some_and(|schema| SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(schema)))
    })
}

/// Every stored function the statement calls is one the catalog vouches for.
fn calls_only_read_only_functions(c: &Classified<'_>, session: &SessionView<'_>) -> bool {
    if c.routine_calls.is_empty() {
        return true;
    }
    let Some(catalog) = session.catalog else {
        return false;
    };
    c.routine_calls.iter().all(|f| {
        f.schema
            .or(session.schema)
            .is_some_and(|schema| catalog.function_is_read_only(schema, f.name))
    })
}

/// The statement names a view whose definition needs the primary, or the
/// catalog is stale and cannot say that it does not.
fn names_view_needing_primary(c: &Classified<'_>, session: &SessionView<'_>) -> bool {
    if c.tables.is_empty() {
        return false;
    }
    let Some(catalog) = session.catalog else {
        return true;
    };
    catalog.has_views_needing_primary()
        && c.tables.iter().any(|t| {
            t.schema
                .or(session.schema)
                .is_some_and(|schema| catalog.view_needs_primary(schema, t.name))
        })
}

/// Session state that keeps every statement on the primary. Each kind of state
/// has its own flag: leaving one (UNLOCK TABLES) must not forget another (a
/// temporary table still exists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pins {
    pub temporary_table: bool,
    pub lock_tables: bool,
    pub user_lock: bool,
    pub prepare: bool,
    pub sql_log_bin: bool,
    /// Session state replicas cannot be given: the replayable
    /// session-variable log outgrew its bound, or a `SET` could not be
    /// repeated there (it calls a function, reads a user variable, shares its
    /// text with other statements) or turned on `sql_auto_is_null`.
    pub too_much_state: bool,
    /// The session turned on profiling or the optimizer trace: what it shows
    /// of its own statements must include its reads.
    pub self_inspection: bool,
}

impl Pins {
    /// Records what a statement did to the session.
    pub fn apply(&mut self, pin: Option<Pin>) {
        match pin {
            Some(Pin::TemporaryTable) => self.temporary_table = true,
            Some(Pin::LockTables) => self.lock_tables = true,
            Some(Pin::UnlockTables) => self.lock_tables = false,
            // Named locks may be taken in many ways and released in many; Tern
            // does not count them, so the session stays pinned.
            Some(Pin::UserLock) => self.user_lock = true,
            Some(Pin::Prepare) => self.prepare = true,
            Some(Pin::SqlLogBin) => self.sql_log_bin = true,
            None => {}
        }
    }

    pub fn reason(&self) -> Option<&'static str> {
        if self.lock_tables {
            Some("LOCK TABLES")
        } else if self.temporary_table {
            Some("temporary table")
        } else if self.user_lock {
            Some("user-level lock")
        } else if self.prepare {
            Some("text-protocol PREPARE")
        } else if self.sql_log_bin {
            Some("sql_log_bin")
        } else if self.self_inspection {
            Some("profiling or optimizer trace")
        } else if self.too_much_state {
            Some("session state")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::classify::classify;

    fn catalog() -> &'static CatalogSnapshot {
        let f = |name: &str, access: &str, body: &str| {
            (
                "app".to_string(),
                name.to_string(),
                access.to_string(),
                Some(body.to_string()),
            )
        };
        let v = |name: &str, definition: &str| {
            (
                "app".to_string(),
                name.to_string(),
                Some(definition.to_string()),
            )
        };
        Box::leak(Box::new(crate::backend::catalog::judge(
            &[
                f("reads", "READS SQL DATA", "RETURN (SELECT COUNT(*) FROM t)"),
                f(
                    "f6",
                    "MODIFIES SQL DATA",
                    "BEGIN INSERT INTO r6 VALUES (1); RETURN 1; END",
                ),
            ],
            &[
                v("v_writes", "select `app`.`f6`() AS `x`"),
                v("v_reads", "select `app`.`reads`() AS `x`"),
            ],
        )))
    }

    fn free() -> SessionView<'static> {
        SessionView {
            in_transaction: false,
            autocommit: true,
            pinned: None,
            consistency: Consistency::Session,
            has_replicas: true,
            schema: Some("app"),
            catalog: Some(catalog()),
            schema_changes: None,
        }
    }

    fn target(sql: &str, session: &SessionView<'_>) -> Target {
        match plan(&classify(sql), session, None) {
            Plan::Send(r) => r.target,
            Plan::Reject(r) => panic!("rejected: {r:?}"),
        }
    }

    fn replica() -> Target {
        Target::Replica { group: None }
    }

    #[test]
    fn plain_reads_go_to_replicas_and_writes_to_the_primary() {
        let s = free();
        assert_eq!(target("SELECT * FROM t WHERE id = 1", &s), replica());
        assert_eq!(
            target("select count(*) from a join b using (id)", &s),
            replica()
        );
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET v = 1",
            "DELETE FROM t",
            "REPLACE INTO t VALUES (1)",
            "ALTER TABLE t ADD c INT",
            "CALL p()",
            "SHOW TABLES",
            "BEGIN",
        ] {
            assert_eq!(target(sql, &s), Target::Primary, "{sql}");
        }
    }

    #[test]
    fn unsafe_reads_stay_on_the_primary() {
        let s = free();
        for sql in [
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT GET_LOCK('a', 1)",
            "SELECT LAST_INSERT_ID()",
            "SELECT NEXTVAL(s)",
            "SELECT FOUND_ROWS()",
            "SELECT SQL_CALC_FOUND_ROWS * FROM t",
            "SELECT @x",
            "SELECT @x := 1",
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "SELECT 1; SELECT 2",
            "SELECT @@last_gtid",
            "SELECT @@warning_count",
            "SELECT CONNECTION_ID()",
            "SELECT IS_USED_LOCK('a')",
        ] {
            assert_eq!(target(sql, &s), Target::Primary, "{sql}");
        }
    }

    #[test]
    fn reads_that_write_through_functions_or_ask_about_the_session_stay_on_the_primary() {
        let s = free();
        for sql in [
            "SELECT f6()",
            "SELECT app.f6()",
            "SELECT `f6`()",
            "SELECT f6 ()",
            "SELECT /*!50000 f6() */",
            "SELECT * FROM t WHERE a = f6()",
            "SELECT 1 UNION SELECT f6()",
            "WITH c AS (SELECT f6() AS x) SELECT * FROM c",
            "VALUES (f6())",
            "SELECT unknown_udf(1)",
            "SELECT other.reads()",
            "SELECT * FROM v_writes",
            "SELECT * FROM app.v_writes",
            "SELECT @@datadir",
            "SELECT @@version",
            "SELECT @@session.sql_mode",
            "SELECT DATABASE()",
            "SELECT SCHEMA()",
            "SELECT USER()",
            "SELECT CURRENT_USER",
            "SELECT CURRENT_USER()",
            "SELECT CURRENT_ROLE",
            "SELECT ROW_COUNT()",
            "SELECT VERSION()",
            "SELECT UUID_SHORT()",
            "SELECT LOAD_FILE('/etc/hosts')",
            "SELECT RELEASE_ALL_LOCKS()",
            "SELECT SETVAL(s, 10)",
            "SELECT PREVIOUS VALUE FOR s",
            "SELECT 1 INTO @a",
            "SELECT a INTO @x FROM t LIMIT 1",
            "SELECT MASTER_GTID_WAIT('0-1-1', 1)",
            "SELECT * FROM information_schema.SESSION_VARIABLES",
            "SELECT * FROM INFORMATION_SCHEMA.PROCESSLIST",
            "SELECT * FROM information_schema.OPTIMIZER_TRACE",
            "SELECT * FROM performance_schema.threads",
            "SELECT * FROM sys.session",
            "SELECT * FROM mysql.general_log",
        ] {
            assert_eq!(target(sql, &s), Target::Primary, "{sql}");
        }
        // Read-only by the catalog, built-ins, and views over them.
        for sql in [
            "SELECT reads()",
            "SELECT app.reads(), CONCAT('a', 'b'), COUNT(*) FROM t",
            "SELECT * FROM v_reads",
            "SELECT CAST(a AS CHAR(3)), IF(a IN (1, 2), LEFT(b, 2), NOW()) FROM t WHERE EXISTS (SELECT 1 FROM u)",
            "SELECT * FROM t JOIN u USING (id) WHERE a BETWEEN 1 AND 2 ORDER BY ROUND(a)",
            "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$')) AS j",
            "SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c",
        ] {
            assert_eq!(target(sql, &s), replica(), "{sql}");
        }
    }

    #[test]
    fn a_stale_catalog_sends_reads_with_functions_or_tables_to_the_primary() {
        let mut s = free();
        s.catalog = None;
        assert_eq!(target("SELECT reads()", &s), Target::Primary);
        assert_eq!(target("SELECT a FROM t", &s), Target::Primary);
        assert_eq!(target("SELECT 1 + 1", &s), replica());
        let mut s = free();
        s.schema = None;
        assert_eq!(target("SELECT reads()", &s), Target::Primary);
    }

    #[test]
    fn session_state_pins_to_the_primary() {
        let sql = "SELECT * FROM t";
        let mut s = free();
        s.in_transaction = true;
        assert_eq!(target(sql, &s), Target::Primary);
        let mut s = free();
        s.autocommit = false;
        assert_eq!(target(sql, &s), Target::Primary);
        let mut s = free();
        s.pinned = Some("temporary table");
        assert_eq!(target(sql, &s), Target::Primary);
        let mut s = free();
        s.has_replicas = false;
        assert_eq!(target(sql, &s), Target::Primary);
    }

    #[test]
    fn hints_choose_target_consistency_and_after() {
        let s = free();
        let sql = "SELECT /* tern:primary */ 1";
        assert_eq!(target(sql, &s), Target::Primary);
        let sql = "SELECT /* tern:consistency=eventual tern:after=0-1-42 */ * FROM t";
        match plan(&classify(sql), &s, None) {
            Plan::Send(r) => {
                assert_eq!(r.consistency, Consistency::Eventual);
                assert_eq!(r.after, Some(GtidSet::parse("0-1-42").expect("gtid")));
            }
            other => panic!("{other:?}"),
        }
        // A hint cannot move a write to a replica.
        let sql = "UPDATE /* tern:replica */ t SET v = 1";
        assert_eq!(target(sql, &s), Target::Primary);
    }

    #[test]
    fn reads_of_a_changed_table_must_see_the_change() {
        let changes = SchemaChanges::default();
        changes.record("app", "t", &GtidSet::parse("0-1-40").expect("gtid"));
        let mut s = free();
        s.schema_changes = Some(&changes);
        let after = |sql: &str| match plan(&classify(sql), &s, None) {
            Plan::Send(r) => (r.target, r.after),
            Plan::Reject(r) => panic!("rejected: {r:?}"),
        };
        let change = Some(GtidSet::parse("0-1-40").expect("gtid"));
        assert_eq!(after("SELECT c FROM t"), (replica(), change.clone()));
        assert_eq!(
            after("SELECT * FROM u JOIN app.t USING (id)"),
            (replica(), change.clone())
        );
        assert_eq!(
            after("SELECT /* tern:consistency=eventual */ c FROM t"),
            (replica(), change)
        );
        assert_eq!(
            after("SELECT /* tern:after=1-1-3 */ c FROM t"),
            (
                replica(),
                Some(GtidSet::parse("0-1-40,1-1-3").expect("gtid"))
            )
        );
        // Tables no change touched, and statements for the primary, as before.
        assert_eq!(after("SELECT c FROM u"), (replica(), None));
        assert_eq!(after("SELECT c FROM other.t"), (replica(), None));
        assert_eq!(after("SELECT 1"), (replica(), None));
        assert_eq!(after("UPDATE t SET c = 1"), (Target::Primary, None));
    }

    #[test]
    fn rules_reject_and_route_but_never_unsafely() {
        let rules = tern_rules::RuleSet::from_toml(
            r#"
[[rule]]
kind = ["ddl"]
reject = { code = 1142, message = "no DDL here" }

[[rule]]
tables = ["reports.*"]
route = "group:reports"

[[rule]]
tables = ["hot"]
route = "primary"
"#,
        )
        .expect("rules");
        let s = free();
        let eval = |sql: &'static str| {
            let c = classify(sql);
            let facts = StatementFacts {
                kind: c.kind,
                tables: c.tables.as_slice(),
                user: "app",
                schema: Some("app"),
                client_addr: "127.0.0.1".parse().expect("ip"),
                text: sql,
                hints: c.hints.as_slice(),
            };
            let d = rules.evaluate(&facts);
            plan(&c, &s, Some(&d))
        };
        assert!(matches!(eval("DROP TABLE x"), Plan::Reject(r) if r.code == 1142));
        assert!(matches!(
            eval("SELECT * FROM reports.daily"),
            Plan::Send(Route { target: Target::Replica { group: Some(ref g) }, .. }) if g == "reports"
        ));
        assert!(matches!(
            eval("SELECT * FROM hot"),
            Plan::Send(Route {
                target: Target::Primary,
                ..
            })
        ));
        assert!(matches!(
            eval("DELETE FROM reports.daily"),
            Plan::Send(Route {
                target: Target::Primary,
                ..
            })
        ));
    }

    #[test]
    fn pins_are_tracked_independently() {
        let mut p = Pins::default();
        p.apply(Some(Pin::TemporaryTable));
        p.apply(Some(Pin::LockTables));
        assert_eq!(p.reason(), Some("LOCK TABLES"));
        p.apply(Some(Pin::UnlockTables));
        assert_eq!(p.reason(), Some("temporary table"));
        let mut q = Pins::default();
        q.apply(Some(Pin::LockTables));
        q.apply(Some(Pin::UnlockTables));
        assert_eq!(q.reason(), None);
    }
}
