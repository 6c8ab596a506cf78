//! An online ALTER never waits without a bound: a replica whose replication
//! stopped leaves the copy throttle after the replica grace, a throttle that
//! never clears fails the migration after `--migration-max-throttle-secs`
//! (table unchanged, shadow gone), a paused migration is not failed by it, and
//! SIGTERM during a throttle returns at once. Real primary + replica, real Tern.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::migrations::{
    column, get_json, migration_row, show_create, start_async, wait_for_state, COL_ERROR,
    COL_STATE, COL_THROTTLED,
};
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE};

/// Replica lag above which the copy waits, in these tests. Low, so that one
/// write the stopped replica has not applied throttles the copy quickly.
const MAX_LAG_MS: &str = "300";
/// Bound on a synchronous ALTER in these tests: without the fixes it never returns.
const ALTER_BOUND: Duration = Duration::from_secs(60);

async fn replica_conn(s: &Setup) -> Result<Conn> {
    Ok(
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some(APP_DATABASE)))
            .await?,
    )
}

fn replica_caught_up(s: &Setup) -> Result<()> {
    tokio::task::block_in_place(|| {
        s.cluster
            .wait_replicas_caught_up(Duration::from_secs(60))
            .context("replica catching up")
    })
}

/// Creates `table` with `rows` rows (`v` = `id`) and waits until the replica has it.
async fn small_table(s: &Setup, admin: &mut Conn, table: &str, rows: u32) -> Result<()> {
    admin
        .query_drop(format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO {table} SELECT seq, seq FROM seq_1_to_{rows};
             CREATE TABLE IF NOT EXISTS bump (id INT PRIMARY KEY, n INT NOT NULL);
             INSERT IGNORE INTO bump VALUES (1, 0);"
        ))
        .await?;
    replica_caught_up(s)
}

/// A write the stopped replica will not apply, then a wait until Tern itself
/// (`/api/status` at `http`) sees the replica past the bound, so the ALTER's
/// first throttle check sees it too.
async fn make_replica_lag(admin: &mut Conn, http: &str) -> Result<()> {
    admin
        .query_drop("UPDATE bump SET n = n + 1 WHERE id = 1")
        .await?;
    common::migrations::replica_lag_seen(http, MAX_LAG_MS.parse()?).await
}

/// Tables in `app` whose name says they are a migration's shadow.
async fn shadow_tables(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(conn
        .query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' \
             AND TABLE_NAME LIKE '%\\_tern%\\_new'",
        )
        .await?)
}

async fn rows_of(conn: &mut Conn, table: &str) -> Result<Vec<(i64, i64)>> {
    Ok(conn
        .query(format!("SELECT id, v FROM {table} ORDER BY id"))
        .await?)
}

/// Waits until migration `id` is throttled for a reason containing `why`.
async fn wait_until_throttled(c: &mut Conn, id: u64, why: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = migration_row(c, id).await?;
        if column(&row, COL_THROTTLED).contains(why) {
            return Ok(());
        }
        ensure!(
            column(&row, COL_STATE) == "copying",
            "not copying while waiting for the throttle: {row:?}"
        );
        ensure!(
            Instant::now() < deadline,
            "never throttled ({why}): {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The replica's `Last_SQL_Errno`.
async fn replica_sql_errno(replica: &mut Conn) -> Result<u32> {
    let status: Option<mysql_async::Row> = replica.query_first("SHOW SLAVE STATUS").await?;
    let status = status.context("not a replica")?;
    Ok(status
        .get_opt::<u32, _>("Last_SQL_Errno")
        .context("no Last_SQL_Errno")??)
}

/// Runs `sql` through Tern on `c`, bounded by [`ALTER_BOUND`]; returns the result and its time.
async fn timed_alter(
    c: &mut Conn,
    sql: &str,
) -> Result<(Result<(), mysql_async::Error>, Duration)> {
    let started = Instant::now();
    let result = tokio::time::timeout(ALTER_BOUND, c.query_drop(sql))
        .await
        .with_context(|| format!("`{sql}` did not return within {ALTER_BOUND:?}"))?;
    Ok((result, started.elapsed()))
}

/// The ALTER and the ignored replica's report in `/api/migrations`, for a
/// replica whose replication was stopped by `stop_replica`.
async fn alter_completes_past_a_stopped_replica(
    table: &str,
    expect_state: &str,
    stop_replica: impl AsyncFnOnce(&Setup, &mut Conn, &mut Conn) -> Result<()>,
) -> Result<()> {
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-max-lag-ms",
            MAX_LAG_MS,
            "--migration-replica-grace-secs",
            "2",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    small_table(&s, &mut admin, table, 2000).await?;
    let mut replica = replica_conn(&s).await?;
    stop_replica(&s, &mut admin, &mut replica).await?;
    make_replica_lag(&mut admin, &http).await?;

    let mut c = s.app_via_tern().await?;
    let (result, took) = timed_alter(
        &mut c,
        &format!("ALTER TABLE {table} MODIFY v BIGINT NOT NULL"),
    )
    .await?;
    result.with_context(|| format!("the ALTER failed:\n{}", s.tern.log_tail()))?;
    ensure!(
        show_create(&mut admin, table)
            .await?
            .contains("`v` bigint(20) NOT NULL"),
        "the change is not live"
    );
    ensure!(
        took < Duration::from_secs(30),
        "the ALTER took {took:?} with a 2 s grace"
    );
    let replica_addr = s.cluster.replicas()[0].addr();
    let log = s.tern.log_contents();
    let left = log
        .lines()
        .filter(|l| l.contains("replica left the copy throttle") && l.contains(&replica_addr))
        .count();
    ensure!(left == 1, "left the throttle logged {left} times:\n{log}");

    let migrations = get_json(&http, "/api/migrations").await?;
    let listed = migrations
        .as_array()
        .and_then(|a| a.last())
        .context("no migration in /api/migrations")?;
    let ignored = listed["ignored_replicas"].to_string();
    ensure!(
        ignored.contains(&replica_addr) && ignored.contains(expect_state),
        "ignored replicas: {ignored}"
    );
    ensure!(listed["state"] == "done", "{listed}");
    // SHOW TERN MIGRATIONS lists them too where it has the column (added at
    // the end, after the columns clients already read by position).
    let rows: Vec<mysql_async::Row> = c.query("SHOW TERN MIGRATIONS").await?;
    let row = rows.last().context("no migration listed")?;
    if let Some(i) = row
        .columns_ref()
        .iter()
        .position(|col| col.name_str() == "ignored_replicas")
    {
        let shown: Option<String> = row.get::<Option<String>, _>(i).flatten();
        ensure!(
            shown
                .as_deref()
                .is_some_and(|t| t.contains(&replica_addr) && t.contains(expect_state)),
            "SHOW TERN MIGRATIONS ignored_replicas: {shown:?}"
        );
    }

    // Replicating again: back in the throttle set at the next migration's
    // first look, which logs it once.
    replica.query_drop("STOP SLAVE").await?;
    replica.query_drop("START SLAVE").await?;
    replica_caught_up(&s)?;
    // Tern's monitor must have seen it replicate again before the next copy
    // looks (a small table copies faster than one monitor interval): a read
    // reaches the replica only once the monitor has it healthy.
    let replica_id = s.cluster.replicas()[0].server_id();
    let mut probe = s.app_via_tern().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let id: Option<u32> = probe
            .query_first(format!("SELECT {}", tern_tests::cluster::WHOAMI))
            .await?;
        if id == Some(replica_id) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "Tern never saw the replica replicating again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (result, _) = timed_alter(
        &mut c,
        &format!("ALTER TABLE {table} MODIFY v INT NOT NULL"),
    )
    .await?;
    result?;
    ensure!(
        s.tern
            .log_contents()
            .contains("replica back in the copy throttle"),
        "{}",
        s.tern.log_tail()
    );
    let migrations = get_json(&http, "/api/migrations").await?;
    let listed = migrations
        .as_array()
        .and_then(|a| a.last())
        .context("no migration in /api/migrations")?;
    ensure!(
        listed["ignored_replicas"] == serde_json::json!([]),
        "{listed}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_replica_sql_thread_no_longer_hangs_the_alter() -> Result<()> {
    alter_completes_past_a_stopped_replica(
        "sg",
        "SQL thread not running",
        async |_s: &Setup, _admin: &mut Conn, replica: &mut Conn| {
            replica.query_drop("STOP SLAVE SQL_THREAD").await?;
            Ok(())
        },
    )
    .await
}

/// A replica that receives nothing falls behind as surely as one that applies
/// nothing: a stopped IO thread counts as stopped replication too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_replica_io_thread_no_longer_hangs_the_alter() -> Result<()> {
    alter_completes_past_a_stopped_replica(
        "si",
        "IO thread not running",
        async |_s: &Setup, _admin: &mut Conn, replica: &mut Conn| {
            replica.query_drop("STOP SLAVE IO_THREAD").await?;
            Ok(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_sql_thread_stopped_on_an_error_no_longer_hangs_the_alter() -> Result<()> {
    alter_completes_past_a_stopped_replica(
        "se",
        "error 1062",
        async |s: &Setup, admin: &mut Conn, replica: &mut Conn| {
            admin
                .query_drop("CREATE TABLE clash (id INT PRIMARY KEY)")
                .await?;
            replica_caught_up(s)?;
            // A row only the replica has (not binlogged there, so no local
            // GTID): the primary's insert of the same key stops its SQL thread.
            replica
                .query_drop("SET SESSION sql_log_bin = 0; INSERT INTO clash VALUES (1)")
                .await?;
            admin.query_drop("INSERT INTO clash VALUES (1)").await?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while replica_sql_errno(replica).await? != 1062 {
                ensure!(
                    Instant::now() < deadline,
                    "the replica never stopped on 1062"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Skipping the clash later lets it replicate again.
            replica.query_drop("DELETE FROM clash").await?;
            Ok(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_that_never_clears_fails_the_alter_and_leaves_the_table() -> Result<()> {
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-max-lag-ms",
            MAX_LAG_MS,
            // The stopped replica keeps throttling for the whole test.
            "--migration-replica-grace-secs",
            "3600",
            "--migration-max-throttle-secs",
            "3",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    small_table(&s, &mut admin, "tb", 2000).await?;
    let create_before = show_create(&mut admin, "tb").await?;
    let rows_before = rows_of(&mut admin, "tb").await?;
    let mut replica = replica_conn(&s).await?;
    replica.query_drop("STOP SLAVE SQL_THREAD").await?;
    make_replica_lag(&mut admin, &http).await?;

    // Synchronous: the waiting client gets the error.
    let mut c = s.app_via_tern().await?;
    let (result, took) = timed_alter(&mut c, "ALTER TABLE tb MODIFY v BIGINT NOT NULL").await?;
    let (code, state, message) = server_error(result)?;
    ensure!(code == 1105 && state == "HY000", "{code} {state} {message}");
    ensure!(
        message.contains("throttled for")
            && message.contains("--migration-max-throttle-secs")
            && message.contains("behind"),
        "{message}"
    );
    ensure!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "failed after {took:?} with a 3 s bound"
    );
    ensure!(show_create(&mut admin, "tb").await? == create_before);
    ensure!(rows_of(&mut admin, "tb").await? == rows_before);
    ensure!(shadow_tables(&mut admin).await?.is_empty());
    let (recorded, code, error): (String, Option<u32>, Option<String>) = admin
        .query_first(
            "SELECT state, error_code, error_message FROM _tern.migrations ORDER BY id DESC LIMIT 1",
        )
        .await?
        .context("no control row")?;
    ensure!(
        recorded == "failed"
            && code == Some(1105)
            && error
                .as_deref()
                .is_some_and(|e| e.contains("throttled for")),
        "{recorded} {code:?} {error:?}"
    );

    // Asynchronous: fails the same way, visible in SHOW TERN MIGRATIONS.
    let id = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE tb MODIFY v BIGINT NOT NULL",
    )
    .await?;
    let row = wait_for_state(&mut c, id, "failed", Duration::from_secs(20)).await?;
    ensure!(
        column(&row, COL_ERROR).contains("--migration-max-throttle-secs"),
        "{row:?}"
    );
    ensure!(show_create(&mut admin, "tb").await? == create_before);
    ensure!(shadow_tables(&mut admin).await?.is_empty());

    // Paused while throttled: not throttled any more, so not failed however
    // long the pause; after RESUME the bound counts again from the next
    // throttled look, not from before the pause.
    let id = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE tb MODIFY v BIGINT NOT NULL",
    )
    .await?;
    wait_until_throttled(&mut c, id, "behind").await?;
    c.query_drop(format!("TERN PAUSE {id}")).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let row = migration_row(&mut c, id).await?;
    ensure!(
        column(&row, COL_STATE) == "copying" && column(&row, COL_THROTTLED).is_empty(),
        "paused migration: {row:?}"
    );
    c.query_drop(format!("TERN RESUME {id}")).await?;
    let resumed = Instant::now();
    wait_for_state(&mut c, id, "failed", Duration::from_secs(20)).await?;
    ensure!(
        resumed.elapsed() >= Duration::from_secs(3),
        "failed {:?} after RESUME: the pause counted",
        resumed.elapsed()
    );
    ensure!(show_create(&mut admin, "tb").await? == create_before);
    ensure!(rows_of(&mut admin, "tb").await? == rows_before);
    ensure!(shadow_tables(&mut admin).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_throttled_alter_returns_promptly() -> Result<()> {
    let args = [
        "--migration-max-lag-ms",
        MAX_LAG_MS,
        "--migration-replica-grace-secs",
        "3600",
        "--shutdown-timeout-secs",
        "20",
    ];
    let (mut s, http) = Setup::start_with_http(1, &args)?;
    let mut admin = s.admin_direct().await?;
    small_table(&s, &mut admin, "tt", 2000).await?;
    let mut replica = replica_conn(&s).await?;
    replica.query_drop("STOP SLAVE SQL_THREAD").await?;
    make_replica_lag(&mut admin, &http).await?;

    let mut waiting = s.app_via_tern().await?;
    let alter = tokio::spawn(async move {
        let r = waiting
            .query_drop("ALTER TABLE tt MODIFY v BIGINT NOT NULL")
            .await;
        (r, Instant::now())
    });
    let mut c = s.app_via_tern().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let rows: Vec<mysql_async::Row> = c.query("SHOW TERN MIGRATIONS").await?;
        let throttled = rows.iter().find(|r| {
            r.get::<Option<String>, _>(COL_THROTTLED)
                .flatten()
                .is_some_and(|t| t.contains("behind"))
        });
        if let Some(row) = throttled {
            let id: String = row.get(0).context("id")?;
            break id.parse::<u64>()?;
        }
        ensure!(Instant::now() < deadline, "the ALTER was never throttled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(c);

    let signalled = Instant::now();
    let status =
        tokio::task::block_in_place(|| s.tern.terminate())?.context("tern was not running")?;
    let exited = signalled.elapsed();
    ensure!(
        status.success(),
        "tern exited with {status:?}:\n{}",
        s.tern.log_tail()
    );
    // Bounds well under the 20 s shutdown timeout, with room for a loaded machine.
    ensure!(
        exited < Duration::from_secs(10),
        "tern took {exited:?} to exit with a throttled ALTER (bound 20 s):\n{}",
        s.tern.log_tail()
    );
    let (result, answered) = tokio::time::timeout(Duration::from_secs(10), alter)
        .await
        .context("the ALTER's client got no answer")??;
    let (code, _, message) = server_error(result)?;
    ensure!(code == 1053, "{code} {message}");
    ensure!(
        answered.duration_since(signalled) < Duration::from_secs(10),
        "the client waited {:?}",
        answered.duration_since(signalled)
    );
    ensure!(
        s.tern
            .log_contents()
            .contains("migration checkpointed for shutdown"),
        "{}",
        s.tern.log_tail()
    );
    let recorded: Option<String> = admin
        .exec_first("SELECT state FROM _tern.migrations WHERE id = ?", (id,))
        .await?;
    ensure!(recorded.as_deref() == Some("copying"), "{recorded:?}");

    // The checkpointed migration resumes and finishes once the replica applies again.
    replica.query_drop("START SLAVE SQL_THREAD").await?;
    s.tern = tern_tests::tern::TernProcess::start(&s.cluster, &args)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state: Option<String> = admin
            .exec_first("SELECT state FROM _tern.migrations WHERE id = ?", (id,))
            .await?;
        match state.as_deref() {
            Some("done") => break,
            Some("failed") => bail!("resumed migration failed:\n{}", s.tern.log_tail()),
            _ => {}
        }
        ensure!(
            Instant::now() < deadline,
            "not done after restart:\n{}",
            s.tern.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(show_create(&mut admin, "tt")
        .await?
        .contains("`v` bigint(20) NOT NULL"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_throttle_bound_of_a_running_migration() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("tern.toml");
    // Binlog dump threads count as running: with a limit of 1 the copy always waits.
    std::fs::write(
        &config,
        "migration_max_threads_running = 1\nmigration_max_throttle_secs = 3600\n",
    )?;
    let s = Setup::start(1, &["--config", &config.display().to_string()])?;
    let mut admin = s.admin_direct().await?;
    small_table(&s, &mut admin, "hb", 2000).await?;
    let mut c = s.app_via_tern().await?;
    let id = start_async(
        &mut c,
        "/* tern:async */ ALTER TABLE hb MODIFY v BIGINT NOT NULL",
    )
    .await?;
    wait_until_throttled(&mut c, id, "threads running").await?;
    std::fs::write(
        &config,
        "migration_max_threads_running = 1\nmigration_max_throttle_secs = 1\n",
    )?;
    tern_tests::process::send_signal(s.tern.pid(), libc::SIGHUP)?;
    let row = wait_for_state(&mut c, id, "failed", Duration::from_secs(20)).await?;
    ensure!(
        column(&row, COL_ERROR).contains("threads running"),
        "{row:?}"
    );
    ensure!(s.tern.log_contents().contains("max_throttle_secs=1"));
    ensure!(shadow_tables(&mut admin).await?.is_empty());
    Ok(())
}
