//! Schema freshness: once a table change through Tern has returned, no session
//! of that Tern reads the table on a replica that has not applied it.
//!
//! The replica applies everything [`DELAY_SECS`] late (`MASTER_DELAY`) yet
//! stays in the rotation, the way a busy replica does. Session A changes a
//! table through Tern; a session opened afterwards and one opened long before
//! (already reading on the replica) then read the new column at once. Without
//! the shared record of table changes both were sent to the replica and got
//! `1054 Unknown column`. Reads answer `tern_whoami.server`'s id, so every
//! answer says which server produced it.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, WHOAMI};

/// How late the replica applies every event: long enough that every read in
/// one round happens before the replica has the change.
const DELAY_SECS: u64 = 6;
/// ER_BAD_FIELD_ERROR: what a replica without the new column answers.
const UNKNOWN_COLUMN: u16 = 1054;

struct Ids {
    primary: u32,
    replica: u32,
}

async fn whoami(conn: &mut Conn) -> Result<u32> {
    conn.query_first(format!("SELECT {WHOAMI}"))
        .await?
        .context("whoami")
}

fn replica_opts(s: &Setup) -> mysql_async::Opts {
    s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some("app"))
}

async fn set_replica_delay(replica: &mut Conn, secs: u64) -> Result<()> {
    replica
        .query_drop(format!(
            "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = {secs}; START SLAVE"
        ))
        .await?;
    Ok(())
}

/// Waits until Tern sends a plain read of `table` to the replica.
async fn until_replica_serves(s: &Setup, ids: &Ids, table: &str) -> Result<()> {
    let mut c = s.app_via_tern().await?;
    for _ in 0..400 {
        let id: Option<u32> = c
            .query_first(format!("SELECT {WHOAMI} FROM {table} LIMIT 1"))
            .await?;
        if id == Some(ids.replica) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "reads of {table} never reached the replica:\n{}",
        s.tern.log_tail()
    )
}

/// `tern_schema_changes_pending` from the metrics endpoint.
async fn pending_changes(http: &str) -> Result<i64> {
    let (code, body) = common::http_get(http, "/metrics").await?;
    ensure!(code == 200, "metrics answered {code}");
    let line = body
        .lines()
        .find(|l| l.starts_with("tern_schema_changes_pending "))
        .context("no tern_schema_changes_pending in the metrics")?;
    Ok(line
        .rsplit(' ')
        .next()
        .context("no value")?
        .trim()
        .parse()?)
}

/// The session opened after the change, the session opened before it, and a
/// prepared execute on the older one, all at once: each must answer `want`
/// for `column` of row 1, from the primary (the replica lacks the change).
async fn read_new_column(
    newer: &mut Conn,
    older: &mut Conn,
    column: &str,
    want: i64,
    ids: &Ids,
) -> Result<()> {
    let sql = format!("SELECT {column}, {WHOAMI} FROM fresh WHERE id = 1");
    let (b, c) = tokio::join!(
        newer.query_first::<(i64, u32), _>(sql.clone()),
        older.query_first::<(i64, u32), _>(sql.clone()),
    );
    for (who, answer) in [("new session", b), ("older session", c)] {
        let answer = answer.with_context(|| format!("{who}: {sql}"))?;
        ensure!(
            answer == Some((want, ids.primary)),
            "{who}: {sql} answered {answer:?}, expected ({want}, primary {})",
            ids.primary
        );
    }
    let prepared: Option<(i64, u32)> = older
        .exec_first(
            format!("SELECT {column}, {WHOAMI} FROM fresh WHERE id = ?"),
            (1,),
        )
        .await
        .with_context(|| format!("prepared read of {column}"))?;
    ensure!(
        prepared == Some((want, ids.primary)),
        "prepared read of {column} answered {prepared:?}"
    );
    Ok(())
}

/// The replica itself does not have `column` yet: the reads above were made
/// while a replica read would have failed.
async fn replica_lacks(replica: &mut Conn, column: &str) -> Result<()> {
    match replica
        .query_drop(format!("SELECT {column} FROM app.fresh LIMIT 1"))
        .await
    {
        Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_COLUMN => Ok(()),
        other => bail!("the replica already had {column} ({other:?}): the round proves nothing"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_added_through_tern_is_never_an_unknown_column_on_a_lagging_replica() -> Result<()> {
    let (s, http) = Setup::start_with_http(
        1,
        &[
            // The delayed replica stays in the rotation, and the copy does
            // not wait for it.
            "--max-replica-lag-ms",
            "600000",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.fresh (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO app.fresh SELECT seq, seq FROM seq_1_to_500;
             CREATE TABLE app.calm (id INT PRIMARY KEY);
             INSERT INTO app.calm VALUES (1);",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let mut replica = Conn::new(replica_opts(&s)).await?;
    let ids = Ids {
        primary: whoami(&mut admin).await?,
        replica: whoami(&mut replica).await?,
    };
    ensure!(ids.primary != ids.replica);
    until_replica_serves(&s, &ids, "fresh").await?;

    // Opened before any change, and already reading on the replica.
    let mut older = s.app_via_tern().await?;
    let first: Option<(i64, u32)> = older
        .query_first(format!("SELECT v, {WHOAMI} FROM fresh WHERE id = 1"))
        .await?;
    ensure!(
        first == Some((1, ids.replica)),
        "the older session's first read: {first:?}"
    );

    set_replica_delay(&mut replica, DELAY_SECS).await?;
    until_replica_serves(&s, &ids, "calm").await?;

    // (column, statement, value, what Tern's log says about how it ran)
    let rounds = [
        (
            "c_copy",
            "ALTER TABLE fresh ADD COLUMN c_copy INT NOT NULL DEFAULT 7, FORCE",
            7,
            "migration done",
        ),
        (
            "c_instant",
            "ALTER TABLE fresh ADD COLUMN c_instant INT NOT NULL DEFAULT 8",
            8,
            "ALTER done by the server without a copy",
        ),
        (
            "c_native",
            "ALTER TABLE fresh ADD COLUMN c_native INT NOT NULL DEFAULT 9, ALGORITHM=COPY",
            9,
            "",
        ),
    ];
    for (column, alter, value, how) in rounds {
        let mut a = s.app_via_tern().await?;
        a.query_drop(alter).await.context(alter)?;
        replica_lacks(&mut replica, column).await?;
        let mut newer = s.app_via_tern().await?;
        read_new_column(&mut newer, &mut older, column, value, &ids)
            .await
            .with_context(|| format!("after {alter}"))?;
        if !how.is_empty() {
            ensure!(
                s.tern.log_contents().contains(how),
                "{alter} did not run as expected ({how}):\n{}",
                s.tern.log_tail()
            );
        }
        // A table no change touched is read on the replica as before.
        let calm: Option<u32> = newer
            .query_first(format!("SELECT {WHOAMI} FROM calm WHERE id = 1"))
            .await?;
        ensure!(
            calm == Some(ids.replica),
            "after {alter}: a read of an unchanged table went to {calm:?}"
        );
        ensure!(pending_changes(&http).await? >= 1);
    }

    // A table created through Tern: no "doesn't exist" from the replica.
    let mut a = s.app_via_tern().await?;
    a.query_drop("CREATE TABLE born (id INT PRIMARY KEY)")
        .await?;
    let mut newer = s.app_via_tern().await?;
    let born: Option<(i64, u32)> = newer
        .query_first(format!("SELECT COUNT(*), {WHOAMI} FROM born"))
        .await
        .context("reading a table created through Tern")?;
    ensure!(born == Some((0, ids.primary)), "read of born: {born:?}");

    // Caught up: the record empties, and the changed tables are read on the
    // replica again.
    set_replica_delay(&mut replica, 0).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(60))?;
    common::eventually(
        Duration::from_secs(10),
        "the record of table changes to empty",
        || async { Ok(pending_changes(&http).await? == 0) },
    )
    .await?;
    let after: Option<(i64, i64, i64, u32)> = newer
        .query_first(format!(
            "SELECT c_copy, c_instant, c_native, {WHOAMI} FROM fresh WHERE id = 1"
        ))
        .await?;
    ensure!(
        after == Some((7, 8, 9, ids.replica)),
        "once caught up: {after:?}"
    );
    let born: Option<(i64, u32)> = older
        .query_first(format!("SELECT COUNT(*), {WHOAMI} FROM born"))
        .await?;
    ensure!(
        born == Some((0, ids.replica)),
        "once caught up, born: {born:?}"
    );
    Ok(())
}

/// `/* tern:async */`: the client gets the migration id at once; the change is
/// recorded when the migration ends, and reads after that wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_alter_is_recorded_when_its_migration_ends() -> Result<()> {
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--max-replica-lag-ms",
            "600000",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.fresh (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO app.fresh SELECT seq, seq FROM seq_1_to_500;",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let mut replica = Conn::new(replica_opts(&s)).await?;
    let ids = Ids {
        primary: whoami(&mut admin).await?,
        replica: whoami(&mut replica).await?,
    };
    set_replica_delay(&mut replica, DELAY_SECS).await?;
    until_replica_serves(&s, &ids, "fresh").await?;
    let mut older = s.app_via_tern().await?;

    let mut a = s.app_via_tern().await?;
    let id: Option<String> = a
        .query_first(
            "/* tern:async */ ALTER TABLE fresh ADD COLUMN c_async INT NOT NULL DEFAULT 5, FORCE",
        )
        .await?;
    let id = id.context("migration id")?;
    common::eventually(
        Duration::from_secs(60),
        "the async migration to end",
        || async { Ok(pending_changes(&http).await? >= 1) },
    )
    .await?;
    let rows: Vec<mysql_async::Row> = a.query("SHOW TERN MIGRATIONS").await?;
    let state = rows
        .iter()
        .find(|r| r.get::<String, _>(0).as_deref() == Some(id.as_str()))
        .and_then(|r| r.get::<String, _>(3))
        .context("migration listed")?;
    ensure!(state == "done", "migration {id} is {state}");
    replica_lacks(&mut replica, "c_async").await?;
    let mut newer = s.app_via_tern().await?;
    read_new_column(&mut newer, &mut older, "c_async", 5, &ids).await?;
    set_replica_delay(&mut replica, 0).await?;
    Ok(())
}
