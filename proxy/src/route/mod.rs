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

#[cfg(test)]
use tern_rules::StatementFacts;
use tern_rules::{Consistency, Decision, Destination, Reject, StatementKind};

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
    /// GTIDs the read must see beyond the session's own (`/* tern:after=... */`).
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
pub struct SessionView {
    pub in_transaction: bool,
    pub autocommit: bool,
    /// Why the session is pinned to the primary, if it is.
    pub pinned: Option<&'static str>,
    pub consistency: Consistency,
    pub has_replicas: bool,
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
pub fn plan(
    c: &Classified<'_>,
    sql: &[u8],
    session: &SessionView,
    rules: Option<&Decision<'_>>,
) -> Plan {
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
    if reads_session_status(sql) {
        return primary("session status variable", consistency);
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
    match target {
        Some(Target::Primary) => primary("rule or hint", consistency),
        _ if !session.has_replicas => primary("no replicas", consistency),
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

/// System variables whose value belongs to the session's own connection (the
/// GTID and insert id of its last statement, its warning counts): only the
/// primary connection has them. A byte search, paid only by reads that passed
/// every other check.
pub fn reads_session_status(sql: &[u8]) -> bool {
    const VARIABLES: [&[u8]; 6] = [
        b"last_gtid",
        b"@@identity",
        b"insert_id",
        b"warning_count",
        b"error_count",
        b"last_insert_id",
    ];
    // Functions that answer about the connection itself: its id, and named locks
    // that the session may hold on the primary.
    const FUNCTIONS: [&[u8]; 3] = [b"connection_id", b"is_free_lock", b"is_used_lock"];
    let has = |n: &[u8]| sql.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    (sql.windows(2).any(|w| w == b"@@") && VARIABLES.iter().any(|n| has(n)))
        || FUNCTIONS.iter().any(|n| has(n))
}

/// Reasons a statement must run on the primary whatever rules and hints say.
fn primary_only(c: &Classified<'_>, session: &SessionView) -> Option<&'static str> {
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
    None
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
    /// The replayable session-variable log outgrew its bound.
    pub too_much_state: bool,
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

    fn free() -> SessionView {
        SessionView {
            in_transaction: false,
            autocommit: true,
            pinned: None,
            consistency: Consistency::Session,
            has_replicas: true,
        }
    }

    fn target(sql: &str, session: &SessionView) -> Target {
        match plan(&classify(sql), sql.as_bytes(), session, None) {
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
        // A system variable is not a user variable.
        assert_eq!(target("SELECT @@version", &s), replica());
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
        match plan(&classify(sql), sql.as_bytes(), &s, None) {
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
            plan(&c, sql.as_bytes(), &s, Some(&d))
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
