//! A table with foreign keys to other tables (a child) migrates online. Its
//! parents' cascades change it inside InnoDB, with no row event of its own;
//! they must still reach the new table. The new table ends with the same
//! constraints under the same names as the server's own ALTER would leave,
//! and the old table holds back no parent's delete. Real primary + replica,
//! real clients through Tern and straight to the primary.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::migrations::show_create;
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

/// Parent deletes and key changes that cascade, child inserts and updates,
/// until stopped. Returns the statements that failed with anything but what
/// the same workload gets without a migration: a RESTRICT refusal (1451), a
/// child whose parent a concurrent delete took (1452), a key update meeting
/// another key (1062), a deadlock between a cascade and a child insert (1213).
async fn family_writer(
    mut conn: Conn,
    stop: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (sql, restricts) = {
            let mut rng = rand::rng();
            let parent = rng.random_range(1..=PARENTS);
            match rng.random_range(0..6) {
                0 => (format!("DELETE FROM p WHERE id = {parent}"), false),
                1 => (format!("DELETE FROM q WHERE id = {parent}"), false),
                2 => (
                    format!(
                        "UPDATE q SET id = id + {} WHERE id = {parent}",
                        PARENTS * rng.random_range(10..1000)
                    ),
                    false,
                ),
                3 => (
                    format!(
                        "INSERT IGNORE INTO c (id, pid, qid, rid, v) SELECT {}, p.id, NULL, NULL, 0 FROM p WHERE p.id >= {parent} LIMIT 1",
                        next_id.fetch_add(1, Ordering::Relaxed)
                    ),
                    false,
                ),
                4 => (
                    format!("UPDATE c SET v = v + 1 WHERE id = {}", rng.random_range(1..=CHILDREN)),
                    false,
                ),
                // Refused while a child references it, as without a migration.
                _ => (format!("DELETE FROM r WHERE id = {parent}"), true),
            }
        };
        match conn.query_drop(&sql).await {
            Ok(()) => {}
            Err(mysql_async::Error::Server(e))
                if matches!(e.code, 1452 | 1062 | 1213) || (restricts && e.code == 1451) => {}
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
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(CHILDREN + 1));
    let mut writers = Vec::new();
    for i in 0..4 {
        let conn = if i == 3 {
            s.app_direct().await?
        } else {
            s.app_via_tern().await?
        };
        writers.push(tokio::spawn(family_writer(
            conn,
            stop.clone(),
            next_id.clone(),
        )));
    }
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
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let failed = w.await??;
        ensure!(failed.is_empty(), "client errors: {failed:?}");
    }
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
    let old: Vec<String> = admin
        .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME LIKE 'c\\_tern%\\_old'")
        .await?;
    ensure!(old.len() == 1, "{old:?}");
    ensure!(constraints(&show_create(&mut admin, &old[0]).await?).is_empty());
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
        // c is now a parent too.
        (
            "ALTER TABLE c ADD COLUMN z INT, FORCE",
            "is referenced by foreign key",
        ),
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
