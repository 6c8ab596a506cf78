//! Tables with foreign keys migrate online. A child's parents' cascades
//! change it inside InnoDB, with no row event of its own; they must still
//! reach the new table, which ends with the same constraints under the same
//! names as the server's own ALTER would leave, and the old table holds back
//! no parent's delete. A parent's children end referencing the new table,
//! unchanged otherwise. Real primary + replica,
//! real clients through Tern and straight to the primary.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::migrations::{parked_old_table, show_create};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use rand::Rng;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER};

const PARENTS: u64 = 2_000;
const CHILDREN: u64 = 60_000;

/// `p` and `q` parents, `c` their child: `fk_c_p` cascades deletes, the
/// generated `c_ibfk_1` sets NULL on delete and follows key updates, and
/// `fk_c_r` restricts.
async fn family(admin: &mut Conn) -> Result<()> {
    admin
        .query_drop(format!(
            "CREATE TABLE p (id INT PRIMARY KEY, v INT NOT NULL);
             CREATE TABLE q (id INT PRIMARY KEY);
             CREATE TABLE r (id INT PRIMARY KEY);
             INSERT INTO p SELECT seq, seq FROM seq_1_to_{PARENTS};
             INSERT INTO q SELECT seq FROM seq_1_to_{PARENTS};
             INSERT INTO r SELECT seq FROM seq_1_to_{PARENTS};
             CREATE TABLE c (
               id INT PRIMARY KEY,
               pid INT NOT NULL,
               qid INT NULL,
               rid INT NULL,
               v INT NOT NULL,
               CONSTRAINT fk_c_p FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE,
               FOREIGN KEY (qid) REFERENCES q (id) ON DELETE SET NULL ON UPDATE CASCADE,
               CONSTRAINT fk_c_r FOREIGN KEY (rid) REFERENCES r (id)
             );
             INSERT INTO c SELECT seq, seq % {PARENTS} + 1, seq % {PARENTS} + 1, seq % {PARENTS} + 1, seq
               FROM seq_1_to_{CHILDREN};"
        ))
        .await?;
    Ok(())
}

/// The `CONSTRAINT` lines of a `SHOW CREATE TABLE`.
fn constraints(create: &str) -> Vec<String> {
    lines_starting(create, "CONSTRAINT")
}

/// The index lines of a `SHOW CREATE TABLE`, in order.
fn indexes(create: &str) -> Vec<String> {
    lines_starting(create, "KEY")
}

fn lines_starting(create: &str, word: &str) -> Vec<String> {
    create
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .filter(|l| l.starts_with(word))
        .collect()
}

/// Child rows whose non-NULL reference has no parent: a cascade that did not
/// reach the table.
async fn orphans(conn: &mut Conn, table: &str) -> Result<u64> {
    let n: Option<u64> = conn
        .query_first(format!(
            "SELECT (SELECT COUNT(*) FROM {table} c LEFT JOIN p ON p.id = c.pid WHERE p.id IS NULL)
                  + (SELECT COUNT(*) FROM {table} c LEFT JOIN q ON q.id = c.qid WHERE c.qid IS NOT NULL AND q.id IS NULL)
                  + (SELECT COUNT(*) FROM {table} c LEFT JOIN r ON r.id = c.rid WHERE c.rid IS NOT NULL AND r.id IS NULL)"
        ))
        .await?;
    n.context("orphans")
}

/// Runs the statements `next` gives until stopped; returns those that failed
/// with a code other than the ones `next` says the workload gets without a
/// migration (at most 20, then it stops).
async fn write_until_stopped(
    mut conn: Conn,
    stop: Arc<AtomicBool>,
    mut next: impl FnMut() -> (String, &'static [u16]),
) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (sql, expected) = next();
        match conn.query_drop(&sql).await {
            Ok(()) => {}
            Err(mysql_async::Error::Server(e)) if expected.contains(&e.code) => {}
            Err(e) => {
                failed.push(format!("{sql}: {e}"));
                if failed.len() >= 20 {
                    break;
                }
            }
        }
    }
    Ok(failed)
}

/// Parent deletes and key changes that cascade, child inserts and updates,
/// until stopped. Returns the statements that failed with anything but what
/// the same workload gets without a migration: a RESTRICT refusal (1451), a
/// child whose parent a concurrent delete took (1452), a key update meeting
/// another key (1062), a deadlock between a cascade and a child insert (1213).
async fn family_writer(
    conn: Conn,
    stop: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
) -> Result<Vec<String>> {
    const WORKLOAD: &[u16] = &[1452, 1062, 1213];
    const RESTRICTED: &[u16] = &[1451, 1452, 1062, 1213];
    write_until_stopped(conn, stop, move || {
        let mut rng = rand::rng();
        let parent = rng.random_range(1..=PARENTS);
        match rng.random_range(0..6) {
            0 => (format!("DELETE FROM p WHERE id = {parent}"), WORKLOAD),
            1 => (format!("DELETE FROM q WHERE id = {parent}"), WORKLOAD),
            2 => (
                format!(
                    "UPDATE q SET id = id + {} WHERE id = {parent}",
                    PARENTS * rng.random_range(10..1000)
                ),
                WORKLOAD,
            ),
            3 => (
                format!(
                    "INSERT IGNORE INTO c (id, pid, qid, rid, v) SELECT {}, p.id, NULL, NULL, 0 FROM p WHERE p.id >= {parent} LIMIT 1",
                    next_id.fetch_add(1, Ordering::Relaxed)
                ),
                WORKLOAD,
            ),
            4 => (
                format!("UPDATE c SET v = v + 1 WHERE id = {}", rng.random_range(1..=CHILDREN)),
                WORKLOAD,
            ),
            // Refused while a child references it, as without a migration.
            _ => (format!("DELETE FROM r WHERE id = {parent}"), RESTRICTED),
        }
    })
    .await
}

/// Writers running a workload until stopped, the last one straight to the
/// primary and the others through Tern, sharing one id counter.
struct Writers {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<Result<Vec<String>>>>,
}

impl Writers {
    async fn start<F, Fut>(s: &Setup, n: usize, first_id: u64, workload: F) -> Result<Writers>
    where
        F: Fn(Conn, Arc<AtomicBool>, Arc<AtomicU64>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>>> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let next_id = Arc::new(AtomicU64::new(first_id));
        let mut handles = Vec::new();
        for i in 0..n {
            let conn = if i + 1 == n {
                s.app_direct().await?
            } else {
                s.app_via_tern().await?
            };
            handles.push(tokio::spawn(workload(conn, stop.clone(), next_id.clone())));
        }
        Ok(Writers { stop, handles })
    }

    /// Stops them; fails on any error the workload does not get without a
    /// migration.
    async fn stop(self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.handles {
            let failed = w.await??;
            ensure!(failed.is_empty(), "client errors: {failed:?}");
        }
        Ok(())
    }
}

fn migration_args() -> [&'static str; 2] {
    // Small chunks: the copy takes long enough for the writers to cascade
    // into rows already copied and rows not copied yet.
    ["--migration-chunk-ms", "5"]
}

/// The migration under cascading writes through Tern and straight to the
/// primary: no client error, no orphan after it, the constraints as before
/// under the same names, the replica identical, and the old table holds back
/// no parent's delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_table_migrates_online_and_every_cascade_reaches_the_new_table() -> Result<()> {
    let s = Setup::start(1, &migration_args())?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    let before_create = show_create(&mut admin, "c").await?;
    let before = constraints(&before_create);
    ensure!(before.len() == 3, "{before:?}");
    let writers = Writers::start(&s, 4, CHILDREN + 1, family_writer).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE c ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x', MODIFY v BIGINT NOT NULL",
    )
    .await
    .with_context(|| s.tern.log_tail())?;
    let log = s.tern.log_contents();
    ensure!(
        log.contains("migration planned"),
        "the change did not run online:\n{log}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    writers.stop().await?;
    let after = show_create(&mut admin, "c").await?;
    ensure!(
        after.contains("`note` varchar(20) NOT NULL DEFAULT 'x'"),
        "{after}"
    );
    ensure!(
        constraints(&after) == before,
        "constraints differ: {:?}, before {before:?}",
        constraints(&after)
    );
    // Indexes keep their names and order (MariaDB renames an index it made
    // for a foreign key when another foreign key is added on its columns).
    ensure!(
        indexes(&after) == indexes(&before_create),
        "indexes differ: {after}\nbefore: {before_create}"
    );
    ensure!(
        orphans(&mut admin, "c").await? == 0,
        "orphans in the new table"
    );
    // The old table holds no constraint: it takes no cascade and holds back
    // no parent's delete.
    let old = parked_old_table(&mut admin, "c\\_tern%\\_old").await?;
    ensure!(constraints(&show_create(&mut admin, &old).await?).is_empty());
    let restricted: Option<u64> = admin
        .query_first("SELECT MIN(rid) FROM c WHERE rid IS NOT NULL")
        .await?;
    let rid = restricted.context("a restricted parent")?;
    admin
        .query_drop(format!("DELETE FROM c WHERE rid = {rid}"))
        .await?;
    admin
        .query_drop(format!("DELETE FROM r WHERE id = {rid}"))
        .await?;
    // The replica has the same rows.
    s.cluster.wait_replicas_caught_up(Duration::from_secs(60))?;
    let primary: Option<(String, u64)> = admin.query_first("CHECKSUM TABLE c").await?;
    let mut replica =
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some("app"))).await?;
    let replica_sum: Option<(String, u64)> = replica.query_first("CHECKSUM TABLE c").await?;
    ensure!(
        primary.map(|p| p.1) == replica_sum.map(|r| r.1),
        "replica differs"
    );
    Ok(())
}

/// A cut-over killed between moving the foreign keys and the RENAME leaves
/// the original without them; the next start gives them back, and the change
/// then completes with the same names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_keys_moved_by_a_killed_cutover_go_back_at_the_next_start() -> Result<()> {
    let args = migration_args();
    let mut s = Setup::start(0, &args)?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    let before = constraints(&show_create(&mut admin, "c").await?);
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first("/* tern:async tern:postpone */ ALTER TABLE c ADD COLUMN w INT NULL, FORCE")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    common::migrations::wait_for_state(&mut steer, id, "postponed", Duration::from_secs(60))
        .await?;
    drop(steer);
    s.tern.kill9()?;
    drop(c);
    // What a cut-over killed after moving the foreign keys leaves.
    let shadow = format!("c_tern{id}_new");
    ensure!(
        constraints(&show_create(&mut admin, &shadow).await?).is_empty(),
        "the shadow has foreign keys while the copy runs"
    );
    admin
        .query_drop(format!(
            "SET foreign_key_checks = 0;
             ALTER TABLE c DROP FOREIGN KEY fk_c_p, DROP FOREIGN KEY c_ibfk_1, DROP FOREIGN KEY fk_c_r;
             ALTER TABLE {shadow}
               ADD CONSTRAINT fk_c_p FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE,
               ADD CONSTRAINT c_ibfk_1 FOREIGN KEY (qid) REFERENCES q (id) ON DELETE SET NULL ON UPDATE CASCADE,
               ADD CONSTRAINT fk_c_r FOREIGN KEY (rid) REFERENCES r (id);
             SET foreign_key_checks = 1;"
        ))
        .await?;
    s.tern = tern_tests::tern::TernProcess::start(&s.cluster, &args)?;
    s.tern.wait_for_log(
        "foreign keys an interrupted cut-over",
        Duration::from_secs(60),
    )?;
    ensure!(
        constraints(&show_create(&mut admin, "c").await?) == before,
        "the foreign keys should be back on c\n{}",
        s.tern.log_tail()
    );
    ensure!(constraints(&show_create(&mut admin, &shadow).await?).is_empty());
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer.query_drop(format!("TERN COMPLETE {id}")).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let create = show_create(&mut admin, "c").await?;
        if create.contains("`w` int(11)") {
            ensure!(constraints(&create) == before, "{create}");
            break;
        }
        ensure!(Instant::now() < deadline, "the change never went live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(orphans(&mut admin, "c").await? == 0);
    Ok(())
}

/// The change's own `DROP FOREIGN KEY` and the server's rules about foreign
/// keys hold as for the server's own ALTER.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_own_foreign_key_clauses_read_as_the_server_reads_them() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE c DROP FOREIGN KEY fk_c_r, DROP COLUMN rid, MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let create = show_create(&mut admin, "c").await?;
    let left = constraints(&create);
    ensure!(
        left.len() == 2 && left.iter().all(|l| !l.contains("fk_c_r")),
        "{create}"
    );
    ensure!(!create.contains("`rid`"), "{create}");
    // An index a foreign key needs cannot go: the server's own error, as the
    // same statement gets straight from the server (which changes nothing).
    let change = "ALTER TABLE c DROP INDEX fk_c_p, MODIFY v INT NOT NULL";
    let direct = common::server_error(admin.query_drop(change).await)?;
    let through = common::server_error(c.query_drop(change).await)?;
    ensure!(
        direct.0 == through.0 && direct.1 == through.1,
        "directly {direct:?}, through Tern {through:?}"
    );
    ensure!(show_create(&mut admin, "c").await? == create);
    Ok(())
}

/// What Tern cannot follow runs as sent, with a Note saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_key_cases_tern_cannot_follow_run_natively_with_a_note() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    admin
        .query_drop(
            "CREATE TABLE gc (id INT PRIMARY KEY, cid INT NOT NULL,
               FOREIGN KEY (cid) REFERENCES c (id) ON DELETE CASCADE);
             CREATE TABLE selfref (id INT PRIMARY KEY, up INT NULL,
               FOREIGN KEY (up) REFERENCES selfref (id));
             CREATE TABLE plain (id INT PRIMARY KEY, pid INT NOT NULL);",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    for (sql, reason) in [
        // gc's parent c has its own cascades from p.
        (
            "ALTER TABLE gc ADD COLUMN z INT, FORCE",
            "leaves no row event",
        ),
        (
            "ALTER TABLE selfref ADD COLUMN z INT, FORCE",
            "references itself",
        ),
        (
            "ALTER TABLE plain ADD FOREIGN KEY (pid) REFERENCES p (id), ADD COLUMN z INT, FORCE",
            "adds a foreign key",
        ),
    ] {
        c.query_drop(sql).await.with_context(|| sql.to_string())?;
        let warnings: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await?;
        ensure!(
            warnings.iter().any(|(level, code, text)| level == "Note"
                && *code == 1846
                && text.contains(reason)),
            "{sql}: expected the Note saying '{reason}': {warnings:?}"
        );
    }
    Ok(())
}

/// `pp` referenced by `kid` (cascading) and `ward` (restricting, in another
/// schema).
async fn parent_with_children(admin: &mut Conn) -> Result<()> {
    admin
        .query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS other;
             GRANT ALL ON other.* TO 'app'@'%';
             CREATE TABLE pp (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO pp SELECT seq, seq FROM seq_1_to_{PARENTS};
             CREATE TABLE kid (id INT PRIMARY KEY, pid INT NOT NULL, KEY by_pid (pid),
               CONSTRAINT fk_kid FOREIGN KEY (pid) REFERENCES pp (id) ON DELETE CASCADE);
             INSERT INTO kid SELECT seq, seq % {PARENTS} + 1 FROM seq_1_to_{CHILDREN};
             CREATE TABLE other.ward (id INT PRIMARY KEY, pid INT NULL,
               FOREIGN KEY (pid) REFERENCES app.pp (id));
             INSERT INTO other.ward SELECT seq, seq * 2 FROM seq_1_to_100;"
        ))
        .await?;
    Ok(())
}

/// A parent row with children in `kid` and none in `other.ward`: deleting
/// it cascades and is not refused.
const CASCADING_PARENT: &str =
    "SELECT MIN(pid) FROM kid WHERE pid NOT IN (SELECT pid FROM other.ward WHERE pid IS NOT NULL)";

/// The children's foreign keys as `information_schema` shows them.
async fn references_to(admin: &mut Conn, table: &str) -> Result<Vec<(String, String, String)>> {
    Ok(admin
        .exec(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE UNIQUE_CONSTRAINT_SCHEMA IN ('app', '_tern') AND REFERENCED_TABLE_NAME = ? ORDER BY 1, 2, 3",
            (table,),
        )
        .await?)
}

/// Parent deletes (cascading into `kid`, refused by `ward`), parent inserts
/// and child inserts, until stopped; the errors the workload gets without a
/// migration are not counted.
async fn parent_writer(
    conn: Conn,
    stop: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
) -> Result<Vec<String>> {
    const WORKLOAD: &[u16] = &[1451, 1452, 1213];
    write_until_stopped(conn, stop, move || {
        let mut rng = rand::rng();
        let parent = rng.random_range(1..=PARENTS);
        let sql = match rng.random_range(0..4) {
            0 => format!("DELETE FROM pp WHERE id = {parent}"),
            1 => format!(
                "INSERT IGNORE INTO pp (id, v) VALUES ({}, 0)",
                next_id.fetch_add(1, Ordering::Relaxed)
            ),
            2 => format!(
                "INSERT IGNORE INTO kid (id, pid) SELECT {}, id FROM pp WHERE id >= {parent} LIMIT 1",
                next_id.fetch_add(1, Ordering::Relaxed)
            ),
            _ => format!("UPDATE pp SET v = v + 1 WHERE id = {parent}"),
        };
        (sql, WORKLOAD)
    })
    .await
}

/// A parent migrates online under writes through Tern and straight to the
/// primary: afterwards every child references the new table (none the old
/// one), the children read exactly as before, no orphan, cascades reach the
/// children from the new table, and the replica is identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parent_table_migrates_online_and_its_children_follow_the_new_table() -> Result<()> {
    let s = Setup::start(1, &migration_args())?;
    let mut admin = s.admin_direct().await?;
    parent_with_children(&mut admin).await?;
    let kid_before = show_create(&mut admin, "kid").await?;
    let ward_before = show_create(&mut admin, "other.ward").await?;
    let refs_before = references_to(&mut admin, "pp").await?;
    ensure!(refs_before.len() == 2, "{refs_before:?}");
    let writers = Writers::start(&s, 3, CHILDREN * 10, parent_writer).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE pp ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x', MODIFY v BIGINT NOT NULL",
    )
    .await
    .with_context(|| s.tern.log_tail())?;
    ensure!(
        s.tern.log_contents().contains("migration planned"),
        "the change did not run online:\n{}",
        s.tern.log_tail()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    writers.stop().await?;
    ensure!(show_create(&mut admin, "pp").await?.contains("`note`"));
    ensure!(references_to(&mut admin, "pp").await? == refs_before);
    let old = parked_old_table(&mut admin, "pp\\_tern%\\_old").await?;
    let old_name = old.rsplit('.').next().unwrap_or_default().trim_matches('`');
    let referencing_old: Option<u64> = admin
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE REFERENCED_TABLE_NAME = ?",
            (old_name,),
        )
        .await?;
    ensure!(
        referencing_old == Some(0),
        "a child references the old table"
    );
    ensure!(
        show_create(&mut admin, "kid").await? == kid_before,
        "kid changed"
    );
    ensure!(
        show_create(&mut admin, "other.ward").await? == ward_before,
        "ward changed"
    );
    let orphans: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM kid LEFT JOIN pp ON pp.id = kid.pid WHERE pp.id IS NULL")
        .await?;
    ensure!(orphans == Some(0), "{orphans:?} orphans");
    // Cascades and restrictions come from the new table.
    let pid: Option<u64> = admin.query_first(CASCADING_PARENT).await?;
    let pid = pid.context("a child")?;
    admin
        .query_drop(format!("DELETE FROM pp WHERE id = {pid}"))
        .await?;
    let left: Option<u64> = admin
        .query_first(format!("SELECT COUNT(*) FROM kid WHERE pid = {pid}"))
        .await?;
    ensure!(left == Some(0), "the delete did not cascade: {left:?}");
    let restricted: Option<u64> = admin
        .query_first("SELECT MIN(pid) FROM other.ward WHERE pid IN (SELECT id FROM pp)")
        .await?;
    let restricted = restricted.context("a ward")?;
    let refused = admin
        .query_drop(format!("DELETE FROM pp WHERE id = {restricted}"))
        .await;
    ensure!(
        matches!(&refused, Err(mysql_async::Error::Server(e)) if e.code == 1451),
        "{refused:?}"
    );
    s.cluster.wait_replicas_caught_up(Duration::from_secs(60))?;
    let mut replica =
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some("app"))).await?;
    for table in ["pp", "kid"] {
        let p: Option<(String, u64)> = admin.query_first(format!("CHECKSUM TABLE {table}")).await?;
        let r: Option<(String, u64)> = replica
            .query_first(format!("CHECKSUM TABLE {table}"))
            .await?;
        ensure!(
            p.map(|p| p.1) == r.map(|r| r.1),
            "replica differs on {table}"
        );
    }
    Ok(())
}

/// A cut-over killed after making the children reference the shadow: the
/// next start makes them reference the original again; the change then
/// completes with the children on the new table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_left_on_the_shadow_by_a_killed_cutover_come_back_at_the_next_start() -> Result<()>
{
    let args = migration_args();
    let mut s = Setup::start(0, &args)?;
    let mut admin = s.admin_direct().await?;
    parent_with_children(&mut admin).await?;
    let refs_before = references_to(&mut admin, "pp").await?;
    let kid_before = show_create(&mut admin, "kid").await?;
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first("/* tern:async tern:postpone */ ALTER TABLE pp ADD COLUMN w INT NULL, FORCE")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    common::migrations::wait_for_state(&mut steer, id, "postponed", Duration::from_secs(60))
        .await?;
    drop(steer);
    s.tern.kill9()?;
    drop(c);
    let shadow = format!("pp_tern{id}_new");
    admin
        .query_drop(format!(
            "SET foreign_key_checks = 0;
             ALTER TABLE kid DROP FOREIGN KEY fk_kid;
             ALTER TABLE kid ADD CONSTRAINT fk_kid FOREIGN KEY (pid) REFERENCES {shadow} (id) ON DELETE CASCADE;
             SET foreign_key_checks = 1;"
        ))
        .await?;
    ensure!(references_to(&mut admin, &shadow).await?.len() == 1);
    s.tern = tern_tests::tern::TernProcess::start(&s.cluster, &args)?;
    s.tern
        .wait_for_log("reference the original again", Duration::from_secs(60))?;
    ensure!(references_to(&mut admin, "pp").await? == refs_before);
    ensure!(references_to(&mut admin, &shadow).await?.is_empty());
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer.query_drop(format!("TERN COMPLETE {id}")).await?;
    common::migrations::wait_for_state(&mut steer, id, "done", Duration::from_secs(60)).await?;
    ensure!(show_create(&mut admin, "pp").await?.contains("`w` int(11)"));
    ensure!(references_to(&mut admin, "pp").await? == refs_before);
    ensure!(
        show_create(&mut admin, "kid").await? == kid_before,
        "kid changed"
    );
    Ok(())
}

/// A change the children's foreign keys forbid, and a parent whose child is
/// being migrated, run as sent: the server's own answer, with a Note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_changes_the_children_forbid_run_as_sent() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    parent_with_children(&mut admin).await?;
    let mut c = s.app_via_tern().await?;
    let change = "ALTER TABLE pp MODIFY id BIGINT NOT NULL";
    let direct = common::server_error(admin.query_drop(change).await)?;
    let through = common::server_error(c.query_drop(change).await)?;
    ensure!(
        direct.0 == through.0,
        "directly {direct:?}, through Tern {through:?}"
    );
    // A child being migrated: the parent's change waits for no one, it runs as sent.
    let kid = common::migrations::start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE kid ADD COLUMN z INT, FORCE",
    )
    .await?;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    common::migrations::wait_for_state(&mut steer, kid, "postponed", Duration::from_secs(60))
        .await?;
    c.query_drop("ALTER TABLE pp ADD COLUMN y INT, FORCE")
        .await?;
    let warnings: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await?;
    ensure!(
        warnings.iter().any(|(level, code, text)| level == "Note"
            && *code == 1846
            && text.contains("is being migrated")),
        "{warnings:?}"
    );
    steer.query_drop(format!("TERN CANCEL {kid}")).await?;
    Ok(())
}

/// The newest migration's id.
async fn newest_migration(admin: &mut Conn) -> Result<u64> {
    let id: Option<u64> = admin
        .query_first("SELECT MAX(id) FROM _tern.migrations")
        .await?;
    id.context("no migration")
}

/// A child table reverted under cascading writes: its previous table comes
/// back with its foreign keys under their names, holding every cascade that
/// ran while it was kept (no orphan), and the version it replaced keeps none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reverted_child_table_gets_its_foreign_keys_back_and_every_cascade_since() -> Result<()> {
    let s = Setup::start(1, &migration_args())?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    let before_create = show_create(&mut admin, "c").await?;
    let writers = Writers::start(&s, 3, CHILDREN + 1, family_writer).await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE c ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x', MODIFY v BIGINT NOT NULL",
    )
    .await
    .with_context(|| s.tern.log_tail())?;
    let id = newest_migration(&mut admin).await?;
    // Cascades run into the new table while the old one is kept.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer
        .query_drop(format!("TERN REVERT {id}"))
        .await
        .with_context(|| s.tern.log_tail())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    writers.stop().await?;
    let after = show_create(&mut admin, "c").await?;
    ensure!(
        !after.contains("`note`") && after.contains("`v` int(11)"),
        "{after}"
    );
    ensure!(
        constraints(&after) == constraints(&before_create),
        "constraints differ: {after}\nbefore: {before_create}"
    );
    ensure!(
        indexes(&after) == indexes(&before_create),
        "indexes differ: {after}\nbefore: {before_create}"
    );
    ensure!(
        orphans(&mut admin, "c").await? == 0,
        "orphans after the revert"
    );
    let replaced = parked_old_table(&mut admin, &format!("c_tern{id}_new")).await?;
    ensure!(
        constraints(&show_create(&mut admin, &replaced).await?).is_empty(),
        "the version the revert replaced still has foreign keys"
    );
    s.cluster.wait_replicas_caught_up(Duration::from_secs(60))?;
    let primary: Option<(String, u64)> = admin.query_first("CHECKSUM TABLE c").await?;
    let mut replica =
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some("app"))).await?;
    let replica_sum: Option<(String, u64)> = replica.query_first("CHECKSUM TABLE c").await?;
    ensure!(
        primary.map(|p| p.1) == replica_sum.map(|r| r.1),
        "replica differs"
    );
    Ok(())
}

/// A parent reverted under writes: every child references the previous
/// table again (none the version it replaced), cascades and restrictions
/// come from it, no orphan.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reverted_parent_takes_its_children_back() -> Result<()> {
    let s = Setup::start(0, &migration_args())?;
    let mut admin = s.admin_direct().await?;
    parent_with_children(&mut admin).await?;
    let pp_before = show_create(&mut admin, "pp").await?;
    let kid_before = show_create(&mut admin, "kid").await?;
    let refs_before = references_to(&mut admin, "pp").await?;
    let writers = Writers::start(&s, 3, CHILDREN * 10, parent_writer).await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE pp ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x', MODIFY v BIGINT NOT NULL",
    )
    .await
    .with_context(|| s.tern.log_tail())?;
    let id = newest_migration(&mut admin).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer
        .query_drop(format!("TERN REVERT {id}"))
        .await
        .with_context(|| s.tern.log_tail())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    writers.stop().await?;
    ensure!(show_create(&mut admin, "pp").await? == pp_before);
    ensure!(show_create(&mut admin, "kid").await? == kid_before);
    ensure!(references_to(&mut admin, "pp").await? == refs_before);
    ensure!(
        references_to(&mut admin, &format!("pp_tern{id}_new"))
            .await?
            .is_empty(),
        "a child references the version the revert replaced"
    );
    let orphans: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM kid LEFT JOIN pp ON pp.id = kid.pid WHERE pp.id IS NULL")
        .await?;
    ensure!(orphans == Some(0), "{orphans:?} orphans");
    let pid: Option<u64> = admin.query_first(CASCADING_PARENT).await?;
    let pid = pid.context("a child")?;
    admin
        .query_drop(format!("DELETE FROM pp WHERE id = {pid}"))
        .await?;
    let left: Option<u64> = admin
        .query_first(format!("SELECT COUNT(*) FROM kid WHERE pid = {pid}"))
        .await?;
    ensure!(left == Some(0), "the delete did not cascade: {left:?}");
    Ok(())
}

/// Tern killed with SIGKILL at random moments of a parent's real cut-over
/// (several children, so that re-pointing them takes a while): after the
/// restart the parent is the old or the new table, never something between,
/// and every child references the live `pp`, none a table Tern made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_inside_a_parents_cutover_leaves_every_child_on_the_live_table() -> Result<()> {
    const EXTRA_CHILDREN: usize = 6;
    const ROUNDS: usize = 6;
    const KILL_WITHIN_MS: u64 = 150;
    let args = migration_args();
    let mut s = Setup::start(0, &args)?;
    let mut admin = s.admin_direct().await?;
    parent_with_children(&mut admin).await?;
    for i in 0..EXTRA_CHILDREN {
        admin
            .query_drop(format!(
                "CREATE TABLE kid{i} (id INT PRIMARY KEY, pid INT NOT NULL,
                   CONSTRAINT fk_kid{i} FOREIGN KEY (pid) REFERENCES pp (id) ON DELETE CASCADE);
                 INSERT INTO kid{i} SELECT seq, seq % {PARENTS} + 1 FROM seq_1_to_1000;"
            ))
            .await?;
    }
    let refs_before = references_to(&mut admin, "pp").await?;
    ensure!(refs_before.len() == 2 + EXTRA_CHILDREN, "{refs_before:?}");
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for round in 0..ROUNDS {
        let mut c = s.app_via_tern().await?;
        let id: Option<String> = c
            .query_first(format!(
                "/* tern:async tern:postpone */ ALTER TABLE pp ADD COLUMN note{round} INT NULL, FORCE"
            ))
            .await?;
        let id: u64 = id.context("migration id")?.parse()?;
        let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
        common::migrations::wait_for_state(&mut steer, id, "postponed", Duration::from_secs(60))
            .await?;
        steer.query_drop(format!("TERN COMPLETE {id}")).await?;
        // Even rounds: killed a random moment after the sentry appears (just
        // before the freeze). Odd rounds: killed as soon as a child is seen
        // referencing the shadow, inside the freeze.
        let sentry = format!("pp_tern{id}_old");
        let shadow = format!("pp_tern{id}_new");
        let deadline = Instant::now() + Duration::from_secs(30);
        let delay = rand::rng().random_range(0..KILL_WITHIN_MS);
        loop {
            let ready = if round % 2 == 0 {
                common::migrations::table_exists(&mut admin, &sentry).await?
            } else {
                !references_to(&mut admin, &shadow).await?.is_empty()
                    || !common::migrations::table_exists(&mut admin, &shadow).await?
            };
            if ready {
                break;
            }
            ensure!(Instant::now() < deadline, "no cut-over began");
        }
        if round % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        s.tern.kill9()?;
        drop((c, steer));
        // Where the kill landed, read from the tables it left.
        let on_shadow = references_to(&mut admin, &format!("pp_tern{id}_new")).await?;
        let swapped =
            !common::migrations::table_exists(&mut admin, &format!("pp_tern{id}_new")).await?;
        let on_original = references_to(&mut admin, "pp").await?.len();
        let landed = if swapped {
            "after the RENAME"
        } else if on_shadow.len() + on_original < refs_before.len() {
            "with a child's key dropped and not yet added"
        } else if !on_shadow.is_empty() {
            "with children on the shadow"
        } else {
            "before the children moved"
        };
        *seen.entry(landed).or_insert(0) += 1;
        s.tern = tern_tests::tern::TernProcess::start(&s.cluster, &args)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state: Option<String> = admin
                .exec_first("SELECT state FROM _tern.migrations WHERE id = ?", (id,))
                .await?;
            if state.as_deref() == Some("done") {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "round {round}: migration {id} is {state:?} after the restart\n{}",
                s.tern.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ensure!(
            show_create(&mut admin, "pp")
                .await?
                .contains(&format!("`note{round}`")),
            "round {round}: the change is not live"
        );
        ensure!(
            references_to(&mut admin, "pp").await? == refs_before,
            "round {round} (killed {delay} ms after the sentry): children of pp {:?}",
            references_to(&mut admin, "pp").await?
        );
        let elsewhere: Vec<(String, String)> = admin
            .query(
                "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
                 WHERE UNIQUE_CONSTRAINT_SCHEMA = 'app' AND REFERENCED_TABLE_NAME LIKE 'pp\\_tern%'",
            )
            .await?;
        ensure!(
            elsewhere.is_empty(),
            "round {round}: children reference tables Tern made: {elsewhere:?}"
        );
        let orphans: Option<u64> = admin
            .query_first(
                "SELECT COUNT(*) FROM kid LEFT JOIN pp ON pp.id = kid.pid WHERE pp.id IS NULL",
            )
            .await?;
        ensure!(orphans == Some(0), "round {round}: {orphans:?} orphans");
    }
    eprintln!("where the {ROUNDS} kills landed: {seen:?}");
    Ok(())
}

/// A control family next to `family`: `pc`, `qc`, `rc` and `cc`, the same
/// rows and the same rules under other names.
async fn control_family(admin: &mut Conn) -> Result<()> {
    admin
        .query_drop(
            "CREATE TABLE pc LIKE p; INSERT INTO pc SELECT * FROM p;
             CREATE TABLE qc LIKE q; INSERT INTO qc SELECT * FROM q;
             CREATE TABLE rc LIKE r; INSERT INTO rc SELECT * FROM r;
             CREATE TABLE cc (
               id INT PRIMARY KEY,
               pid INT NOT NULL,
               qid INT NULL,
               rid INT NULL,
               v INT NOT NULL,
               CONSTRAINT fk_cc_p FOREIGN KEY (pid) REFERENCES pc (id) ON DELETE CASCADE,
               CONSTRAINT fk_cc_q FOREIGN KEY (qid) REFERENCES qc (id) ON DELETE SET NULL ON UPDATE CASCADE,
               CONSTRAINT fk_cc_r FOREIGN KEY (rid) REFERENCES rc (id)
             );
             INSERT INTO cc SELECT * FROM c;",
        )
        .await?;
    Ok(())
}

/// One writer's deterministic workload on one family (`suffix` "" or "c"):
/// it touches only the parent values it owns (`x % writers == w`), and
/// every child row holds one value in all three columns (or NULL), so the
/// end state does not depend on how the writers interleave. Step `n` is the
/// same statement on both families; returns the server's error code or 0.
fn owned_step(w: u64, writers: u64, n: u64, suffix: &str) -> String {
    let x = (n * 7 % (PARENTS / writers)) * writers + w + 1;
    let (p, q, r, c) = (
        format!("p{suffix}"),
        format!("q{suffix}"),
        format!("r{suffix}"),
        format!("c{suffix}"),
    );
    match n % 6 {
        0 => format!("DELETE FROM {p} WHERE id = {x}"),
        1 => format!("DELETE FROM {q} WHERE id = {x}"),
        2 => format!(
            "UPDATE {q} SET id = id + {} WHERE id = {x}",
            PARENTS * writers * (n % 5 + 1)
        ),
        3 => format!(
            "INSERT INTO {c} (id, pid, qid, rid, v) SELECT {}, id, NULL, NULL, {n} FROM {p} WHERE id = {x}",
            CHILDREN + 1 + w * 1_000_000 + n
        ),
        4 => format!("UPDATE {c} SET v = v + 1 WHERE pid = {x}"),
        _ => format!("DELETE FROM {r} WHERE id = {x}"),
    }
}

async fn run_code(c: &mut Conn, sql: &str) -> Result<u16> {
    match c.query_drop(sql).await {
        Ok(()) => Ok(0),
        Err(mysql_async::Error::Server(e)) => Ok(e.code),
        Err(e) => Err(e.into()),
    }
}

/// The child table's migration against a control run: the same
/// deterministic cascading workload on `c`'s family and on an identical
/// control family at the same time (writers through Tern, one straight to
/// the primary), the migration on `c` only. Every statement gets the same
/// answer on both families, and afterwards every table equals its control
/// row for row (`c` on the columns both have), with no orphan after each
/// phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_migration_leaves_the_tables_as_a_control_run_without_one() -> Result<()> {
    const WRITERS: u64 = 3;
    // The pace is not what this test is about: without it the copy does not
    // crawl behind the doubled, cascading workload on a loaded machine.
    let mut args = migration_args().to_vec();
    args.extend([
        "--migration-latency-factor",
        "0",
        "--migration-max-write-ms",
        "0",
    ]);
    let s = Setup::start(0, &args)?;
    let mut admin = s.admin_direct().await?;
    family(&mut admin).await?;
    control_family(&mut admin).await?;
    ensure!(orphans(&mut admin, "c").await? == 0, "orphans before");
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let (mut main, mut control) = if w + 1 == WRITERS {
            (s.app_direct().await?, s.app_direct().await?)
        } else {
            (s.app_via_tern().await?, s.app_via_tern().await?)
        };
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0;
            let mut differing = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let on_main = run_code(&mut main, &owned_step(w, WRITERS, n, "")).await?;
                let on_control = run_code(&mut control, &owned_step(w, WRITERS, n, "c")).await?;
                if on_main != on_control && differing.len() < 10 {
                    differing.push((n, on_main, on_control));
                }
                n += 1;
                // A steady workload, not a flood: the copy must end.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok::<_, anyhow::Error>((n, differing))
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE c ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x', MODIFY v BIGINT NOT NULL",
    )
    .await
    .with_context(|| s.tern.log_tail())?;
    ensure!(
        s.tern.log_contents().contains("migration planned"),
        "the change did not run online"
    );
    ensure!(
        orphans(&mut admin, "c").await? == 0,
        "orphans after the cut-over"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut steps = 0;
    for h in handles {
        let (n, differing) = h.await??;
        ensure!(
            differing.is_empty(),
            "answers differ from the control's: {differing:?}"
        );
        steps += n;
    }
    ensure!(orphans(&mut admin, "c").await? == 0, "orphans at the end");
    for (table, control, columns) in [
        ("p", "pc", "id, v"),
        ("q", "qc", "id"),
        ("r", "rc", "id"),
        ("c", "cc", "id, pid, qid, rid, CAST(v AS SIGNED)"),
    ] {
        let sql = |t: &str| format!("SELECT CONCAT_WS(',', {columns}) FROM {t} ORDER BY id");
        let ours: Vec<String> = admin.query(sql(table)).await?;
        let theirs: Vec<String> = admin.query(sql(control)).await?;
        ensure!(
            ours == theirs,
            "{table} differs from its control: {} rows against {}, first difference {:?}",
            ours.len(),
            theirs.len(),
            ours.iter().zip(&theirs).find(|(a, b)| a != b)
        );
    }
    eprintln!("{steps} statements on each family, same answers, same rows");
    Ok(())
}
