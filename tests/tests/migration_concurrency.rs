//! Several migrations at once: copies of different tables share the copy
//! slots (`--migration-max-concurrent`, one by default), a second ALTER of a
//! table being migrated waits for that migration as the server would queue it
//! behind the first ALTER's metadata lock (bounded by its `lock_wait_timeout`),
//! and `TERN COMPLETE a, b` cuts several postponed migrations over in one
//! RENAME. Real primary + replica, real Tern.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::migrations::{
    column, get_json, migration_row, show_create, start_async, wait_for_state, COL_ERROR,
    COL_ROWS_COPIED, COL_ROWS_TOTAL, COL_STATE, COL_THROTTLED,
};
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// Column of `SHOW TERN MIGRATIONS`.
/// Bound on any wait for a migration state in these tests.
const STATE_BOUND: Duration = Duration::from_secs(120);

fn replica_caught_up(s: &Setup) -> Result<()> {
    tokio::task::block_in_place(|| {
        s.cluster
            .wait_replicas_caught_up(Duration::from_secs(60))
            .context("replica catching up")
    })
}

/// `table` with `rows` rows and a wide column, so that its copy takes a while.
async fn wide_table(admin: &mut Conn, table: &str, rows: u32) -> Result<()> {
    admin
        .query_drop(format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, v INT NOT NULL, pad CHAR(200) NOT NULL);
             INSERT INTO {table} SELECT seq, seq, REPEAT('x', 200) FROM seq_1_to_{rows};"
        ))
        .await?;
    Ok(())
}

/// With the default one copy slot, a second migration waits in state copying
/// with the reason shown (SHOW TERN MIGRATIONS and /api/migrations) until the
/// first copy is done; the wait does not count towards the throttle bound
/// (here 1 s, shorter than the first copy), and both finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_copy_waits_for_the_slot_and_both_finish() -> Result<()> {
    // The throttle bound is short here, so nothing may throttle the copies:
    // the replica may fall behind a 66 MB copy on a busy machine.
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-max-throttle-secs",
            "1",
            "--migration-chunk-ms",
            "20",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    wide_table(&mut admin, "big", 300_000).await?;
    wide_table(&mut admin, "small", 1_000).await?;
    replica_caught_up(&s)?;
    let mut c = s.app_via_tern().await?;
    let first = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE big MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let second = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE small MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let want = format!("waiting for a copy slot (1 of 1 in use, by migration {first})");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = migration_row(&mut c, second).await?;
        if column(&row, COL_THROTTLED) == want {
            ensure!(column(&row, COL_STATE) == "copying", "{row:?}");
            break;
        }
        ensure!(
            Instant::now() < deadline && column(&row, COL_STATE) == "copying",
            "the second migration does not wait for the slot: {row:?}\n{}",
            s.tern.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let listed = get_json(&http, "/api/migrations").await?;
    let api = listed
        .as_array()
        .and_then(|a| a.iter().find(|m| m["id"] == second))
        .context("second migration not in /api/migrations")?;
    ensure!(api["throttled"] == want.as_str(), "{api}");
    let waiting_since = Instant::now();
    // The second copies only once the first copy is done.
    loop {
        let first_row = migration_row(&mut c, first).await?;
        let second_row = migration_row(&mut c, second).await?;
        if column(&second_row, COL_THROTTLED) != want {
            ensure!(
                column(&first_row, COL_STATE) != "copying"
                    || column(&first_row, COL_ROWS_COPIED) != "0",
                "{first_row:?} {second_row:?}"
            );
            break;
        }
        ensure!(
            column(&second_row, COL_ROWS_COPIED) == "0",
            "{second_row:?}"
        );
        ensure!(
            waiting_since.elapsed() < STATE_BOUND,
            "still waiting: {second_row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = waiting_since.elapsed();
    ensure!(
        waited > Duration::from_secs(1),
        "the first copy took only {waited:?}: too quick to show the wait is not a throttle"
    );
    for id in [first, second] {
        let row = wait_for_state(&mut c, id, "done", STATE_BOUND).await?;
        ensure!(column(&row, COL_ERROR).is_empty(), "{row:?}");
    }
    for table in ["big", "small"] {
        ensure!(show_create(&mut admin, table)
            .await?
            .contains("`v` bigint(20) NOT NULL"));
    }
    // The slot is handed on only once the first copy is done.
    let log = s.tern.log_contents();
    let line_of = |needle: &str, id: u64| {
        log.lines()
            .position(|l| l.contains(&format!("migration{{id={id} ")) && l.contains(needle))
    };
    let first_done = line_of("copy done", first).context("first copy done not logged")?;
    let second_starts = line_of("copy starts", second).context("second copy start not logged")?;
    ensure!(
        first_done < second_starts,
        "the second copy started before the first was done:\n{log}"
    );
    ensure!(log.contains("copy waits for a slot"), "{log}");
    Ok(())
}

/// With `--migration-max-concurrent 2` both copies run at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slots_copy_two_tables_at_once() -> Result<()> {
    let s = Setup::start(
        1,
        &[
            "--migration-max-concurrent",
            "2",
            "--migration-chunk-ms",
            "20",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    wide_table(&mut admin, "ta", 200_000).await?;
    wide_table(&mut admin, "tb", 200_000).await?;
    replica_caught_up(&s)?;
    let mut c = s.app_via_tern().await?;
    let a = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE ta MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let b = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE tb MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let started = Instant::now();
    let deadline = started + STATE_BOUND;
    let mut both_copying = false;
    // What the polls saw, each change once, for the failure message.
    let mut observed: Vec<(Duration, String)> = Vec::new();
    while Instant::now() < deadline {
        let ra = migration_row(&mut c, a).await?;
        let rb = migration_row(&mut c, b).await?;
        for r in [&ra, &rb] {
            ensure!(
                !column(r, COL_THROTTLED).contains("copy slot"),
                "a migration waits for a slot with two slots: {r:?}"
            );
        }
        // Not `rows_copied < rows_total`: the total is the server's row
        // estimate until the copy passes it, then the rows copied so far.
        let copying = |r: &[Option<String>]| {
            let copied: u64 = column(r, COL_ROWS_COPIED).parse().unwrap_or(0);
            column(r, COL_STATE) == "copying" && copied > 0
        };
        let seen = format!(
            "a {} {}/{}, b {} {}/{}",
            column(&ra, COL_STATE),
            column(&ra, COL_ROWS_COPIED),
            column(&ra, COL_ROWS_TOTAL),
            column(&rb, COL_STATE),
            column(&rb, COL_ROWS_COPIED),
            column(&rb, COL_ROWS_TOTAL),
        );
        if observed.last().map(|(_, last)| last) != Some(&seen) {
            observed.push((started.elapsed(), seen));
        }
        if copying(&ra) && copying(&rb) {
            both_copying = true;
            break;
        }
        if column(&ra, COL_STATE) != "copying" && column(&rb, COL_STATE) != "copying" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ensure!(
        both_copying,
        "never saw both copies under way at once; the last polls saw:\n{}\n{}",
        observed
            .iter()
            .rev()
            .take(40)
            .rev()
            .map(|(at, seen)| format!("{at:?} {seen}"))
            .collect::<Vec<_>>()
            .join("\n"),
        s.tern.log_tail()
    );
    for id in [a, b] {
        wait_for_state(&mut c, id, "done", STATE_BOUND).await?;
    }
    Ok(())
}

/// A synchronous ALTER of a table being migrated waits for that migration to
/// end, then runs on the table it left (here: a change of a column only the
/// first change adds); an async one is refused at once; and one whose
/// `lock_wait_timeout` runs out first gets the server's ERROR 1205.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_of_a_table_being_migrated_waits_its_turn() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE w (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO w SELECT seq, seq FROM seq_1_to_2000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    let first = start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE w ADD COLUMN c1 INT NOT NULL DEFAULT 1, MODIFY v BIGINT NOT NULL",
    )
    .await?;
    wait_for_state(&mut c, first, "postponed", STATE_BOUND).await?;

    // Runs out of its own lock_wait_timeout: the server's error, table as it was.
    let mut impatient = s.app_via_tern().await?;
    impatient
        .query_drop("SET SESSION lock_wait_timeout = 1")
        .await?;
    let started = Instant::now();
    let (code, state, message) = server_error(
        impatient
            .query_drop("ALTER TABLE w MODIFY v VARCHAR(20) NOT NULL")
            .await,
    )?;
    let took = started.elapsed();
    ensure!(
        (code, state.as_str(), message.as_str())
            == (
                1205,
                "HY000",
                "Lock wait timeout exceeded; try restarting transaction"
            ),
        "{code} {state} {message}"
    );
    ensure!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "waited {took:?} with lock_wait_timeout = 1"
    );
    // SHOW WARNINGS carries the error, as after the server's own.
    let warnings: Vec<(String, u32, String)> = impatient.query("SHOW WARNINGS").await?;
    ensure!(
        warnings.iter().any(|w| w.1 == 1205),
        "SHOW WARNINGS: {warnings:?}"
    );

    // Async: no wait, a clear refusal.
    let (code, _, message) = server_error(
        c.query_drop("/* tern:async */ ALTER TABLE w MODIFY v VARCHAR(20) NOT NULL")
            .await,
    )?;
    ensure!(
        code == 1205 && message.contains(&format!("migration {first}")),
        "{code} {message}"
    );

    // Waits, then runs on the new table: c1 exists only there.
    let mut patient = s.app_via_tern().await?;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let r = patient
            .query_drop("ALTER TABLE w MODIFY c1 BIGINT NOT NULL DEFAULT 2")
            .await;
        (r, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ensure!(!waiting.is_finished(), "the second ALTER did not wait");
    let rows: Vec<mysql_async::Row> = c.query("SHOW TERN MIGRATIONS").await?;
    ensure!(
        rows.len() == 1,
        "the waiting ALTER started a migration already"
    );
    c.query_drop(format!("TERN COMPLETE {first}")).await?;
    let (result, took) = tokio::time::timeout(STATE_BOUND, waiting)
        .await
        .context("the waiting ALTER never returned")??;
    result.with_context(|| format!("the waiting ALTER failed:\n{}", s.tern.log_tail()))?;
    ensure!(took >= Duration::from_millis(1500), "{took:?}");
    let create = show_create(&mut admin, "w").await?;
    ensure!(
        create.contains("`v` bigint(20) NOT NULL")
            && create.contains("`c1` bigint(20) NOT NULL DEFAULT 2"),
        "{create}"
    );
    let row = migration_row(&mut c, first).await?;
    ensure!(column(&row, COL_STATE) == "done", "{row:?}");
    let n: Option<u64> = admin.query_first("SELECT COUNT(*) FROM w").await?;
    ensure!(n == Some(2000), "{n:?}");
    Ok(())
}

/// Inserts with increasing ids until stopped; returns the ids the server acknowledged.
async fn writer(
    mut conn: Conn,
    table: &'static str,
    first: u64,
    stop: Arc<AtomicBool>,
) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let mut id = first;
    while !stop.load(Ordering::Relaxed) {
        conn.exec_drop(
            format!("INSERT INTO {table} (id, v) VALUES (?, ?)"),
            (id, id),
        )
        .await
        .with_context(|| format!("insert {id} into {table}"))?;
        ids.push(id);
        id += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(ids)
}

/// Every `RENAME TABLE` statement in the primary's binlogs but those that
/// park an old table in Tern's schema after its cut-over.
async fn binlog_renames(admin: &mut Conn) -> Result<Vec<String>> {
    let logs: Vec<mysql_async::Row> = admin.query("SHOW BINARY LOGS").await?;
    let mut renames = Vec::new();
    for log in logs {
        let name: String = log.get(0).context("log name")?;
        let events: Vec<mysql_async::Row> = admin
            .query(format!("SHOW BINLOG EVENTS IN '{name}'"))
            .await?;
        for e in events {
            let info: Option<String> = e.get_opt::<String, _>("Info").and_then(|r| r.ok());
            if let Some(info) = info.filter(|i| {
                i.to_ascii_uppercase().contains("RENAME TABLE") && !i.contains(" TO `_tern`.")
            }) {
                renames.push(info);
            }
        }
    }
    Ok(renames)
}

/// `TERN COMPLETE a, b` under writes to both tables: both changes go live in
/// one RENAME (one statement, one GTID, in the binlog), no acknowledged write
/// is lost, and no moment existed with one table swapped and the other not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complete_group_swaps_both_tables_in_one_rename() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE g1 (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
             INSERT INTO g1 SELECT seq, seq FROM seq_1_to_5000;
             CREATE TABLE g2 (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
             INSERT INTO g2 SELECT seq, seq FROM seq_1_to_5000;
             CREATE TABLE g1_inserts (n BIGINT NOT NULL);
             INSERT INTO g1_inserts VALUES (0);
             CREATE TRIGGER g1_counts AFTER INSERT ON g1 FOR EACH ROW UPDATE g1_inserts SET n = n + 1;",
        )
        .await?;
    let renames_before = binlog_renames(&mut admin).await?.len();
    let mut c = s.app_via_tern().await?;
    let a = start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE g1 ADD COLUMN c1 INT NOT NULL DEFAULT 1, MODIFY v VARCHAR(30) NOT NULL",
    )
    .await?;
    let b = start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE g2 ADD COLUMN c2 INT NOT NULL DEFAULT 2, MODIFY v VARCHAR(30) NOT NULL",
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let w1 = tokio::spawn(writer(
        s.app_via_tern().await?,
        "g1",
        1_000_000,
        stop.clone(),
    ));
    let w2 = tokio::spawn(writer(
        s.app_via_tern().await?,
        "g2",
        1_000_000,
        stop.clone(),
    ));
    // A writer that bypasses Tern is held by the database locks alone.
    let w3 = tokio::spawn(writer(s.app_direct().await?, "g2", 2_000_000, stop.clone()));
    wait_for_state(&mut c, a, "postponed", STATE_BOUND).await?;
    wait_for_state(&mut c, b, "postponed", STATE_BOUND).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A bad group changes nothing and says why.
    for (sql, want) in [
        (
            format!("TERN COMPLETE {a}, {a}"),
            format!("Migration {a} is listed twice"),
        ),
        (
            format!("TERN COMPLETE {a}, 999999"),
            "Unknown migration 999999".to_string(),
        ),
    ] {
        let (code, _, message) = server_error(c.query_drop(&sql).await)?;
        ensure!(
            code == 1105 && message.contains(&want),
            "{sql}: {code} {message}"
        );
    }
    for id in [a, b] {
        ensure!(column(&migration_row(&mut c, id).await?, COL_STATE) == "postponed");
    }

    c.query_drop(format!("TERN COMPLETE {a}, {b}"))
        .await
        .with_context(|| s.tern.log_tail())?;
    for id in [a, b] {
        wait_for_state(&mut c, id, "done", STATE_BOUND).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let acked1 = w1.await??;
    let acked2 = w2.await??;
    let acked3 = w3.await??;
    ensure!(
        show_create(&mut admin, "g1")
            .await?
            .contains("`c1` int(11) NOT NULL DEFAULT 1")
            && show_create(&mut admin, "g2")
                .await?
                .contains("`c2` int(11) NOT NULL DEFAULT 2"),
        "both changes are not live"
    );
    for (table, acked) in [("g1", &acked1), ("g2", &acked2), ("g2", &acked3)] {
        ensure!(!acked.is_empty(), "no writes to {table}");
        let first = acked[0];
        let last = acked[acked.len() - 1];
        let n: Option<u64> = admin
            .query_first(format!(
                "SELECT COUNT(*) FROM {table} WHERE id BETWEEN {first} AND {last}"
            ))
            .await?;
        if n != Some(acked.len() as u64) {
            let present: Vec<u64> = admin
                .query(format!(
                    "SELECT id FROM {table} WHERE id BETWEEN {first} AND {last}"
                ))
                .await?;
            let missing: Vec<u64> = acked
                .iter()
                .filter(|id| !present.contains(id))
                .copied()
                .collect();
            let old: Vec<String> = admin
                .query(format!(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME LIKE '{table}\\_tern%'"
                ))
                .await?;
            let mut found = Vec::new();
            for o in &old {
                for id in &missing {
                    let there: Option<u64> = admin
                        .query_first(format!("SELECT COUNT(*) FROM {o} WHERE id = {id}"))
                        .await?;
                    found.push(format!("{id} in {o}: {there:?}"));
                }
            }
            bail!(
                "{table}: {} writes acknowledged, {n:?} in the table; missing {missing:?}; {found:?}\n{}",
                acked.len(),
                s.tern.log_contents()
            );
        }
    }
    // The trigger fired once per insert all along, and sits on the new g1.
    let counted: Option<u64> = admin.query_first("SELECT n FROM g1_inserts").await?;
    ensure!(
        counted == Some(acked1.len() as u64),
        "trigger counted {counted:?} of {} inserts",
        acked1.len()
    );
    let on: Option<String> = admin
        .query_first("SELECT EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'g1_counts'")
        .await?;
    ensure!(on.as_deref() == Some("g1"), "trigger on {on:?}");
    let renames = binlog_renames(&mut admin).await?;
    let new: Vec<&String> = renames.iter().skip(renames_before).collect();
    ensure!(
        new.len() == 1,
        "expected one RENAME in the binlog, got {new:?}"
    );
    let rename = new[0];
    for name in [
        "`g1`",
        "`g2`",
        &format!("g1_tern{a}_old"),
        &format!("g2_tern{b}_new"),
    ] {
        ensure!(rename.contains(name), "{name} not in {rename}");
    }
    ensure!(s.tern.log_contents().contains("group cut-over done"));

    // Ended migrations are no group.
    let (code, _, message) = server_error(c.query_drop(format!("TERN COMPLETE {a}, {b}")).await)?;
    ensure!(
        code == 1105 && message.contains("has already ended"),
        "{code} {message}"
    );
    Ok(())
}

/// A migration that is still copying cannot join a group: it has not been
/// verified yet; one that was never postponed is no group member either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_group_refuses_members_not_ready() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    wide_table(&mut admin, "slow", 300_000).await?;
    admin
        .query_drop(
            "CREATE TABLE ready (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO ready SELECT seq, seq FROM seq_1_to_1000;",
        )
        .await?;
    replica_caught_up(&s)?;
    let mut c = s.app_via_tern().await?;
    let ready = start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE ready MODIFY v BIGINT NOT NULL",
    )
    .await?;
    wait_for_state(&mut c, ready, "postponed", STATE_BOUND).await?;
    let slow = start_async(
        &mut c,
        "/* tern:async tern:postpone */ ALTER TABLE slow MODIFY v BIGINT NOT NULL",
    )
    .await?;
    c.query_drop(format!("TERN PAUSE {slow}")).await?;
    let (code, _, message) =
        server_error(c.query_drop(format!("TERN COMPLETE {ready}, {slow}")).await)?;
    ensure!(
        code == 1105 && message.contains(&format!("Migration {slow} has not been verified yet")),
        "{code} {message}"
    );
    ensure!(column(&migration_row(&mut c, ready).await?, COL_STATE) == "postponed");
    // Still usable alone afterwards.
    c.query_drop(format!("TERN CANCEL {slow}")).await?;
    c.query_drop(format!("TERN COMPLETE {ready}")).await?;
    wait_for_state(&mut c, ready, "done", STATE_BOUND).await?;
    ensure!(show_create(&mut admin, "ready")
        .await?
        .contains("`v` bigint(20) NOT NULL"));
    Ok(())
}

/// The group cut-over lets a member's table go only while the RENAME waits on
/// it: a multi-table RENAME takes its locks one at a time in name order, so
/// a table let go earlier hands its queued writes to the table about to
/// become the old one (a lost write, seen with a writer that bypassed Tern).
/// The probe must see the RENAME's wait on the first table it needs and not
/// on the next, and see nothing where no RENAME waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_cutover_probe_sees_only_the_table_the_rename_waits_on() -> Result<()> {
    let cluster = tern_tests::cluster::Cluster::start(0)?;
    let opts = cluster.primary().opts(
        tern_tests::cluster::ADMIN_USER,
        tern_tests::cluster::ADMIN_PASSWORD,
        Some("app"),
    );
    let mut admin = Conn::new(opts.clone()).await?;
    admin
        .query_drop("CREATE TABLE pa (id INT PRIMARY KEY); CREATE TABLE pb (id INT PRIMARY KEY);")
        .await?;
    let mut locker = Conn::new(opts.clone()).await?;
    locker.query_drop("LOCK TABLES pa WRITE, pb WRITE").await?;
    let mut probe = tern::migrate::mdl_probe::connect(&opts).await?;
    let soon = || tokio::time::Instant::now() + Duration::from_millis(300);
    for table in ["pa", "pb"] {
        ensure!(
            !tern::migrate::mdl_probe::exclusive_waits_on(&mut probe, "app", table, soon()).await,
            "a wait seen on {table} before any RENAME"
        );
    }
    // Listed b first: the server still asks for pa first.
    let mut renamer = Conn::new(opts.clone()).await?;
    let renaming = tokio::spawn(async move {
        renamer
            .query_drop("RENAME TABLE pb TO pb_old, pa TO pa_old")
            .await
    });
    ensure!(
        tern::migrate::mdl_probe::exclusive_waits_on(
            &mut probe,
            "app",
            "pa",
            tokio::time::Instant::now() + Duration::from_secs(10)
        )
        .await,
        "the RENAME's wait on pa was not seen"
    );
    ensure!(
        !tern::migrate::mdl_probe::exclusive_waits_on(&mut probe, "app", "pb", soon()).await,
        "a wait seen on pb, which the RENAME has not asked for yet"
    );
    locker.query_drop("UNLOCK TABLES").await?;
    renaming.await??;
    let tables: Vec<String> = admin
        .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME LIKE 'p%' ORDER BY 1")
        .await?;
    ensure!(tables == ["pa_old", "pb_old"], "{tables:?}");
    Ok(())
}
