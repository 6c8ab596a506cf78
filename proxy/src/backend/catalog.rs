//! What the primary's catalog says about stored functions and views, so that
//! routing can tell a read that calls `f()` from one that writes through it.
//!
//! Invariants:
//! - A stored function counts as read-only only when the server declares it
//!   `NO SQL` or `READS SQL DATA`, Tern read its body and found nothing that
//!   writes or asks about the session (`sql::classify::read_routine_body`),
//!   and every stored function it calls is read-only by the same rule.
//!   Anything else (UDFs, functions whose body Tern may not read, names the
//!   catalog does not list) is not read-only.
//! - A view needs the primary when its definition asks about the session,
//!   locks, or calls a function that is not read-only, or when it reads from
//!   another view that needs the primary.
//! - After a statement through Tern that may create, change or rename a
//!   function or view, the catalog is stale until the next load, and a stale
//!   catalog vouches for nothing: reads that call functions or name tables go
//!   to the primary meanwhile. Changes made outside Tern are seen at the next
//!   periodic load ([`REFRESH_INTERVAL`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tokio::sync::Notify;

use crate::sql::classify::{classify, read_routine_body};

/// How often the catalog is read again when nothing through Tern changed it:
/// the longest a function or view changed behind Tern's back is judged by its
/// old definition. Reading `information_schema.VIEWS` opens every view, so
/// this is seconds rather than the monitor's milliseconds.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Bound on one load, so a hung primary leaves the catalog stale (reads that
/// depend on it go to the primary) instead of blocking the watcher forever.
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Names by schema; function names lower-cased (the server compares them
/// without case), schema and view names as the server stores them.
type Names = HashMap<String, HashSet<String>>;

/// (schema, name).
type Qualified = (String, String);

fn contains(names: &Names, schema: &str, name: &str) -> bool {
    names.get(schema).is_some_and(|set| set.contains(name))
}

/// One load of the catalog.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CatalogSnapshot {
    read_only_functions: Names,
    views_needing_primary: Names,
    /// The invalidation count this load started after.
    loaded_after: u64,
}

impl CatalogSnapshot {
    /// `schema.name` (any letter case for `name`) is a read-only stored function.
    pub fn function_is_read_only(&self, schema: &str, name: &str) -> bool {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            contains(
                &self.read_only_functions,
                schema,
                &name.to_ascii_lowercase(),
            )
        } else {
            contains(&self.read_only_functions, schema, name)
        }
    }

    pub fn view_needs_primary(&self, schema: &str, name: &str) -> bool {
        contains(&self.views_needing_primary, schema, name)
    }

    pub fn has_views_needing_primary(&self) -> bool {
        !self.views_needing_primary.is_empty()
    }
}

/// The shared catalog: the last load, and whether something may have changed
/// since.
#[derive(Debug, Default)]
pub struct Catalog {
    current: RwLock<Option<Arc<CatalogSnapshot>>>,
    invalidations: AtomicU64,
    loads: AtomicU64,
    changed: Notify,
}

impl Catalog {
    /// The last load if nothing may have changed since it started; `None`
    /// means "vouch for nothing".
    pub fn fresh(&self) -> Option<Arc<CatalogSnapshot>> {
        let snapshot = self.current.read().ok()?.clone()?;
        (snapshot.loaded_after >= self.invalidations.load(Ordering::Acquire)).then_some(snapshot)
    }

    /// Changes whenever a load brings something new or the catalog is
    /// invalidated: what was
    /// judged against an older generation may need judging again.
    pub fn generation(&self) -> u64 {
        self.loads.load(Ordering::Acquire) + self.invalidations.load(Ordering::Acquire)
    }

    /// A statement may have changed a function or a view: distrust the
    /// catalog until it is read again, which starts now.
    pub fn invalidate(&self) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// Whether a statement's text may create, change, drop or rename a
    /// function or view (DDL only; a byte search on text that is rare).
    pub fn ddl_may_change(sql: &[u8]) -> bool {
        const WORDS: [&[u8]; 6] = [
            b"FUNCTION",
            b"VIEW",
            b"RENAME",
            b"PACKAGE",
            b"DATABASE",
            b"SCHEMA",
        ];
        WORDS
            .iter()
            .any(|w| sql.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
    }

    /// Loads the catalog now, then again after every invalidation and every
    /// [`REFRESH_INTERVAL`], forever.
    pub async fn watch(self: Arc<Self>, opts: mysql_async::Opts) {
        let mut conn: Option<mysql_async::Conn> = None;
        let mut failures = 0u32;
        loop {
            let started_after = self.invalidations.load(Ordering::Acquire);
            let loaded = tokio::time::timeout(LOAD_TIMEOUT, async {
                if conn.is_none() {
                    conn = Some(mysql_async::Conn::new(opts.clone()).await?);
                }
                match conn.as_mut() {
                    Some(c) => load(c).await,
                    None => Err(mysql_async::Error::Driver(
                        mysql_async::DriverError::PoolDisconnected,
                    )),
                }
            })
            .await;
            match loaded {
                Ok(Ok(mut snapshot)) => {
                    if failures > 0 {
                        tracing::info!("catalog of functions and views readable again");
                    }
                    failures = 0;
                    snapshot.loaded_after = started_after;
                    if let Ok(mut current) = self.current.write() {
                        // Prepared statements are judged again only when what
                        // they were judged against changed: other contents, or a
                        // stale catalog made fresh.
                        if current.as_deref() != Some(&snapshot) {
                            self.loads.fetch_add(1, Ordering::AcqRel);
                        }
                        *current = Some(Arc::new(snapshot));
                    }
                }
                Ok(Err(e)) => {
                    conn = None;
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(error = %e, "cannot read the catalog of functions and views; reads that call functions go to the primary");
                    }
                }
                Err(_) => {
                    conn = None;
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!("reading the catalog of functions and views timed out; reads that call functions go to the primary");
                    }
                }
            }
            let wait = if failures > 0 {
                Duration::from_secs(1)
            } else {
                REFRESH_INTERVAL
            };
            let _ = tokio::time::timeout(wait, self.changed.notified()).await;
        }
    }
}

/// Reads functions and views and works out which are safe on a replica.
async fn load(conn: &mut mysql_async::Conn) -> Result<CatalogSnapshot, mysql_async::Error> {
    let functions: Vec<(String, String, String, Option<String>)> = conn
        .query(
            "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, SQL_DATA_ACCESS, ROUTINE_DEFINITION \
             FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'",
        )
        .await?;
    let views: Vec<(String, String, Option<String>)> = conn
        .query("SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS")
        .await?;
    Ok(judge(&functions, &views))
}

/// Which functions and views are safe on a replica, from their definitions:
/// (schema, name, SQL_DATA_ACCESS, body) and (schema, name, definition).
pub fn judge(
    functions: &[(String, String, String, Option<String>)],
    views: &[(String, String, Option<String>)],
) -> CatalogSnapshot {
    // Candidates: declared read-only and a body that is. Their calls are kept
    // to require the callees read-only too, until nothing changes.
    let mut candidates: HashMap<Qualified, Vec<Qualified>> = HashMap::new();
    for (schema, name, access, body) in functions {
        let declared =
            access.eq_ignore_ascii_case("NO SQL") || access.eq_ignore_ascii_case("READS SQL DATA");
        let Some(body) = body.as_deref().filter(|_| declared) else {
            continue;
        };
        let read = read_routine_body(body);
        if read.needs_primary {
            continue;
        }
        let calls = read
            .calls
            .iter()
            .map(|c| {
                (
                    c.schema.unwrap_or(schema).to_string(),
                    c.name.to_ascii_lowercase(),
                )
            })
            .collect();
        candidates.insert((schema.clone(), name.to_ascii_lowercase()), calls);
    }
    loop {
        let before = candidates.len();
        let known: HashSet<Qualified> = candidates.keys().cloned().collect();
        candidates.retain(|_, calls| calls.iter().all(|c| known.contains(c)));
        if candidates.len() == before {
            break;
        }
    }
    let mut read_only_functions = Names::new();
    for (schema, name) in candidates.into_keys() {
        read_only_functions.entry(schema).or_default().insert(name);
    }

    // Views: their own calls first, then views over views until nothing changes.
    let mut needing: HashSet<Qualified> = HashSet::new();
    let mut reads_views: Vec<(Qualified, Vec<Qualified>)> = Vec::new();
    for (schema, name, definition) in views {
        let key = (schema.clone(), name.clone());
        let Some(definition) = definition else {
            needing.insert(key);
            continue;
        };
        let c = classify(definition);
        let calls_unsafe = c.routine_calls.iter().any(|f| {
            let f_schema = f.schema.unwrap_or(schema);
            !contains(&read_only_functions, f_schema, &f.name.to_ascii_lowercase())
        });
        if c.session_facts
            || c.side_effects
            || c.locking_read
            || c.reads_user_variables
            || calls_unsafe
        {
            needing.insert(key);
            continue;
        }
        let tables = c
            .tables
            .iter()
            .map(|t| (t.schema.unwrap_or(schema).to_string(), t.name.to_string()))
            .collect();
        reads_views.push((key, tables));
    }
    loop {
        let before = needing.len();
        for (key, tables) in &reads_views {
            if !needing.contains(key) && tables.iter().any(|t| needing.contains(t)) {
                needing.insert(key.clone());
            }
        }
        if needing.len() == before {
            break;
        }
    }
    let mut views_needing_primary = Names::new();
    for (schema, name) in needing {
        views_needing_primary
            .entry(schema)
            .or_default()
            .insert(name);
    }
    CatalogSnapshot {
        read_only_functions,
        views_needing_primary,
        loaded_after: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        schema: &str,
        name: &str,
        access: &str,
        body: &str,
    ) -> (String, String, String, Option<String>) {
        (schema.into(), name.into(), access.into(), Some(body.into()))
    }

    fn v(schema: &str, name: &str, definition: &str) -> (String, String, Option<String>) {
        (schema.into(), name.into(), Some(definition.into()))
    }

    #[test]
    fn declared_and_read_read_only_functions_are_trusted_and_nothing_else() {
        let functions = [
            f("app", "plus1", "NO SQL", "RETURN 1 + 1"),
            f(
                "app",
                "Counter",
                "READS SQL DATA",
                "RETURN (SELECT COUNT(*) FROM t)",
            ),
            f(
                "app",
                "writes",
                "MODIFIES SQL DATA",
                "BEGIN INSERT INTO r VALUES (1); RETURN 1; END",
            ),
            // Declared read-only, but it inserts.
            f(
                "app",
                "liar",
                "READS SQL DATA",
                "BEGIN INSERT INTO r VALUES (1); RETURN 1; END",
            ),
            // The default characteristic: not a promise of no writes here.
            f("app", "contains", "CONTAINS SQL", "RETURN 1"),
            f("app", "calls_liar", "NO SQL", "RETURN liar() + 1"),
            f("app", "calls_plus1", "NO SQL", "RETURN app.plus1() * 2"),
            f("app", "udf_caller", "NO SQL", "RETURN some_udf(1)"),
        ];
        let s = judge(&functions, &[]);
        assert!(s.function_is_read_only("app", "plus1"));
        assert!(s.function_is_read_only("app", "COUNTER"));
        assert!(s.function_is_read_only("app", "calls_plus1"));
        for name in [
            "writes",
            "liar",
            "contains",
            "calls_liar",
            "udf_caller",
            "missing",
        ] {
            assert!(!s.function_is_read_only("app", name), "{name}");
        }
        assert!(!s.function_is_read_only("other", "plus1"));
    }

    #[test]
    fn views_over_writing_functions_or_session_facts_need_the_primary() {
        let functions = [
            f("app", "plus1", "NO SQL", "RETURN 1 + 1"),
            f(
                "app",
                "writes",
                "MODIFIES SQL DATA",
                "BEGIN INSERT INTO r VALUES (1); RETURN 1; END",
            ),
        ];
        let views = [
            v("app", "plain", "select `app`.`t`.`a` AS `a` from `app`.`t`"),
            v("app", "pure", "select `app`.`plus1`() AS `x`"),
            v("app", "w", "select `app`.`writes`() AS `x`"),
            v("app", "who", "select current_user() AS `u`"),
            v("app", "over_w", "select `w`.`x` AS `x` from `app`.`w`"),
            v("app", "over_over", "select `x` from `over_w`"),
        ];
        let s = judge(&functions, &views);
        assert!(!s.view_needs_primary("app", "plain"));
        assert!(!s.view_needs_primary("app", "pure"));
        for name in ["w", "who", "over_w", "over_over"] {
            assert!(s.view_needs_primary("app", name), "{name}");
        }
    }

    #[test]
    fn ddl_that_may_change_functions_or_views_is_recognised() {
        assert!(Catalog::ddl_may_change(
            b"create or replace function f() returns int return 1"
        ));
        assert!(Catalog::ddl_may_change(b"CREATE VIEW v AS SELECT 1"));
        assert!(Catalog::ddl_may_change(b"RENAME TABLE v TO w"));
        assert!(!Catalog::ddl_may_change(b"CREATE TABLE t (a INT)"));
    }

    #[test]
    fn a_stale_catalog_vouches_for_nothing() {
        let catalog = Catalog::default();
        assert!(catalog.fresh().is_none());
        if let Ok(mut current) = catalog.current.write() {
            *current = Some(Arc::new(CatalogSnapshot::default()));
        }
        assert!(catalog.fresh().is_some());
        catalog.invalidate();
        assert!(catalog.fresh().is_none());
    }
}
