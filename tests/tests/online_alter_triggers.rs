//! A table with triggers migrates online: the triggers fire for every client
//! write during the copy, across the cut-over and right after it, exactly
//! once each (never for the copy's own rows), and afterwards sit on the new
//! table with the same names, bodies, order, definer and sql_mode. Writers
//! through Tern and straight to the primary; the replica ends identical.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::migrations::show_create;
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE};

const ROWS: u64 = 20_000;

type TriggerRow = (String, String, String, u64, String, String, String);

async fn triggers_of(c: &mut Conn, table: &str) -> Result<Vec<TriggerRow>> {
    Ok(c.exec(
        "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, \
             ACTION_STATEMENT, DEFINER, SQL_MODE FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? \
             ORDER BY ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
        (table,),
    )
    .await?)
}

/// Inserts new rows and bumps existing ones until told to stop; returns
/// (inserts, updates) that succeeded.
fn writer(
    mut c: Conn,
    first_id: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<(u64, u64)>> {
    tokio::spawn(async move {
        let (mut inserts, mut updates) = (0u64, 0u64);
        let mut id = first_id;
        while !stop.load(Ordering::Relaxed) {
            id += 1;
            c.query_drop(format!("INSERT INTO tr_main (id, v) VALUES ({id}, 1)"))
                .await?;
            inserts += 1;
            c.query_drop(format!(
                "UPDATE tr_main SET v = v + 1 WHERE id = {}",
                id % ROWS + 1
            ))
            .await?;
            updates += 1;
        }
        Ok((inserts, updates))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_fire_once_per_write_across_the_migration_and_move_to_the_new_table() -> Result<()>
{
    let s = Setup::start(1, &["--migration-chunk-ms", "5"])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(format!(
            "CREATE TABLE tr_main (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20) NULL);
             INSERT INTO tr_main SELECT seq, 1, NULL FROM seq_1_to_{ROWS};
             CREATE TABLE audit (n BIGINT AUTO_INCREMENT PRIMARY KEY, main_id INT NOT NULL, op CHAR(2) NOT NULL);
             SET SESSION sql_mode = 'STRICT_ALL_TABLES';
             CREATE DEFINER = 'app'@'%' TRIGGER tr_bi BEFORE INSERT ON tr_main FOR EACH ROW SET NEW.v = NEW.v * 10;
             SET SESSION sql_mode = DEFAULT;
             CREATE TRIGGER tr_ai1 AFTER INSERT ON tr_main FOR EACH ROW INSERT INTO audit (main_id, op) VALUES (NEW.id, 'i1');
             CREATE TRIGGER tr_ai2 AFTER INSERT ON tr_main FOR EACH ROW INSERT INTO audit (main_id, op) VALUES (NEW.id, 'i2');
             CREATE TRIGGER tr_au AFTER UPDATE ON tr_main FOR EACH ROW BEGIN
               IF NEW.v <> OLD.v THEN INSERT INTO audit (main_id, op) VALUES (NEW.id, 'u'); END IF;
             END;"
        ))
        .await?;
    let before = triggers_of(&mut admin, "tr_main").await?;
    ensure!(before.len() == 4, "{before:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let through_tern = writer(s.app_via_tern().await?, 1_000_000, stop.clone());
    let direct = writer(s.app_direct().await?, 2_000_000, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE tr_main ADD COLUMN w INT NOT NULL DEFAULT 7, FORCE")
        .await?;
    // Writes right after the swap must meet the triggers on the new table.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (ti, tu) = through_tern.await??;
    let (di, du) = direct.await??;
    let (inserts, updates) = (ti + di, tu + du);

    let row: Option<(u64, u64, u64, u64)> = admin
        .query_first("SELECT SUM(op = 'i1'), SUM(op = 'i2'), SUM(op = 'u'), COUNT(*) FROM audit")
        .await?;
    let (i1, i2, u, _) = row.context("audit")?;
    ensure!(
        i1 == inserts && i2 == inserts && u == updates,
        "audit rows {i1}/{i2}/{u} for {inserts} inserts and {updates} updates"
    );
    let wrong: Option<u64> = admin
        .query_first(format!(
            "SELECT COUNT(*) FROM tr_main WHERE id > {ROWS} AND v <> 10"
        ))
        .await?;
    ensure!(
        wrong == Some(0),
        "{wrong:?} new rows where the BEFORE INSERT trigger did not run exactly once"
    );
    let has_w: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM tr_main WHERE w = 7")
        .await?;
    let total: Option<u64> = admin.query_first("SELECT COUNT(*) FROM tr_main").await?;
    ensure!(
        has_w == total && total == Some(ROWS + inserts),
        "{has_w:?} {total:?}"
    );

    let after = triggers_of(&mut admin, "tr_main").await?;
    ensure!(
        after == before,
        "triggers before {before:?}, after {after:?}"
    );
    let stray: Vec<(String, String)> = admin
        .query(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE <> 'tr_main'",
        )
        .await?;
    ensure!(stray.is_empty(), "triggers left elsewhere: {stray:?}");
    eprintln!("{inserts} inserts and {updates} updates during the migration, each audited once");

    tokio::task::block_in_place(|| s.cluster.wait_replicas_caught_up(Duration::from_secs(60)))?;
    let mut replica =
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some(APP_DATABASE)))
            .await?;
    for table in ["tr_main", "audit"] {
        let sql = format!("CHECKSUM TABLE {table}");
        let p: Option<(String, u64)> = admin.query_first(&sql).await?;
        let r: Option<(String, u64)> = replica.query_first(&sql).await?;
        ensure!(
            p.as_ref().map(|x| x.1) == r.as_ref().map(|x| x.1),
            "{table}: primary {p:?}, replica {r:?}"
        );
    }
    ensure!(
        triggers_of(&mut replica, "tr_main").await? == before,
        "replica triggers"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_stranded_on_the_shadow_by_a_killed_cutover_go_back_at_the_next_start(
) -> Result<()> {
    let args = ["--migration-chunk-ms", "10"];
    let mut s = Setup::start(0, &args)?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE tr2 (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO tr2 SELECT seq, seq FROM seq_1_to_1000;
             CREATE TABLE audit2 (id INT NOT NULL);
             CREATE TRIGGER tr2_ai AFTER INSERT ON tr2 FOR EACH ROW INSERT INTO audit2 VALUES (NEW.id);
             CREATE TRIGGER tr2_bu BEFORE UPDATE ON tr2 FOR EACH ROW SET NEW.v = NEW.v + 1000;",
        )
        .await?;
    let before = triggers_of(&mut admin, "tr2").await?;
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first("/* tern:async tern:postpone */ ALTER TABLE tr2 ADD COLUMN w INT NULL, FORCE")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    common::migrations::wait_for_state(&mut steer, id, "postponed", Duration::from_secs(60))
        .await?;
    drop(steer);
    s.tern.kill9()?;
    drop(c);
    // What a cut-over killed between moving the triggers and the RENAME leaves.
    let shadow = format!("tr2_tern{id}_new");
    admin
        .query_drop(format!(
            "DROP TRIGGER tr2_ai; DROP TRIGGER tr2_bu;
             CREATE TRIGGER tr2_ai AFTER INSERT ON {shadow} FOR EACH ROW INSERT INTO audit2 VALUES (NEW.id);
             CREATE TRIGGER tr2_bu BEFORE UPDATE ON {shadow} FOR EACH ROW SET NEW.v = NEW.v + 1000;"
        ))
        .await?;
    s.tern = tern_tests::tern::TernProcess::start(&s.cluster, &args)?;
    s.tern
        .wait_for_log("back to the original", Duration::from_secs(60))?;
    let back = triggers_of(&mut admin, "tr2").await?;
    ensure!(
        back == before,
        "the triggers should be back on tr2: {back:?}, before {before:?}\n{}",
        s.tern.log_tail()
    );
    ensure!(triggers_of(&mut admin, &shadow).await?.is_empty());
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer.query_drop(format!("TERN COMPLETE {id}")).await?;
    let mut c = s.app_via_tern().await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let cols: Vec<String> = c
            .query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tr2'")
            .await?;
        if cols.iter().any(|c| c == "w") {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the change never went live"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(triggers_of(&mut admin, "tr2").await? == before);
    c.query_drop("INSERT INTO tr2 (id, v) VALUES (5000, 1)")
        .await?;
    let audited: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM audit2 WHERE id = 5000")
        .await?;
    ensure!(audited == Some(1), "audited {audited:?} times");
    Ok(())
}

/// A revert takes the triggers back to the previous table: they fire there,
/// once per write, the moment writes resume, with the same definitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_takes_the_triggers_back() -> Result<()> {
    let s = Setup::start(0, &["--migration-chunk-ms", "5"])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE rt (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO rt SELECT seq, 1 FROM seq_1_to_2000;
             CREATE TABLE rt_audit (n BIGINT AUTO_INCREMENT PRIMARY KEY, rt_id INT NOT NULL);
             CREATE TRIGGER rt_ai AFTER INSERT ON rt FOR EACH ROW INSERT INTO rt_audit (rt_id) VALUES (NEW.id);
             CREATE TRIGGER rt_bi BEFORE INSERT ON rt FOR EACH ROW SET NEW.v = NEW.v * 10;",
        )
        .await?;
    let before = triggers_of(&mut admin, "rt").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let through_tern = writer_on(s.app_via_tern().await?, "rt", 1_000_000, stop.clone());
    let direct = writer_on(s.app_direct().await?, "rt", 2_000_000, stop.clone());
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE rt MODIFY v BIGINT NOT NULL")
        .await?;
    let id: Option<u64> = admin
        .query_first("SELECT MAX(id) FROM _tern.migrations")
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut steer = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    steer
        .query_drop(format!("TERN REVERT {}", id.context("id")?))
        .await
        .with_context(|| s.tern.log_tail())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let inserts = through_tern.await?? + direct.await??;
    ensure!(show_create(&mut admin, "rt").await?.contains("`v` int(11)"));
    let after = triggers_of(&mut admin, "rt").await?;
    ensure!(
        after == before,
        "triggers before {before:?}, after {after:?}"
    );
    let audited: Option<(u64, u64)> = admin
        .query_first("SELECT COUNT(*), COUNT(DISTINCT rt_id) FROM rt_audit")
        .await?;
    ensure!(
        audited == Some((inserts, inserts)),
        "{audited:?} audit rows for {inserts} inserts"
    );
    let wrong: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM rt WHERE id > 2000 AND v <> 10")
        .await?;
    ensure!(
        wrong == Some(0),
        "{wrong:?} rows the BEFORE trigger missed or ran twice on"
    );
    let stray: Vec<String> = admin
        .query(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE <> 'rt' \
             AND TRIGGER_NAME LIKE 'rt\\_%'",
        )
        .await?;
    ensure!(stray.is_empty(), "triggers left elsewhere: {stray:?}");
    Ok(())
}

/// Inserts rows into `table` (id, v = 1) until told to stop; returns how many.
fn writer_on(
    mut c: Conn,
    table: &'static str,
    first_id: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<u64>> {
    tokio::spawn(async move {
        let mut inserts = 0u64;
        while !stop.load(Ordering::Relaxed) {
            c.query_drop(format!(
                "INSERT INTO {table} (id, v) VALUES ({}, 1)",
                first_id + inserts
            ))
            .await?;
            inserts += 1;
        }
        Ok(inserts)
    })
}
