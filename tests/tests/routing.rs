//! Read/write split and read-your-writes on a real primary + replica.
//!
//! Reads ask `tern_whoami.server` (each server has its own row) so that every answer says which server produced it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use rand::Rng;

struct Ids {
    primary: u32,
    replica: u32,
}

async fn server_ids(s: &Setup) -> Result<Ids> {
    let mut p = s.admin_direct().await?;
    let mut r = Conn::new(s.cluster.replicas()[0].opts(
        tern_tests::cluster::ADMIN_USER,
        tern_tests::cluster::ADMIN_PASSWORD,
        None,
    ))
    .await?;
    let primary: u32 = p
        .query_first("SELECT (SELECT id FROM tern_whoami.server)")
        .await?
        .context("id")?;
    let replica: u32 = r
        .query_first("SELECT (SELECT id FROM tern_whoami.server)")
        .await?
        .context("id")?;
    ensure!(primary != replica);
    Ok(Ids { primary, replica })
}

async fn replica_admin(s: &Setup) -> Result<Conn> {
    Ok(Conn::new(s.cluster.replicas()[0].opts(
        tern_tests::cluster::ADMIN_USER,
        tern_tests::cluster::ADMIN_PASSWORD,
        None,
    ))
    .await?)
}

/// Waits until Tern routes a plain read to the replica (its monitor has seen it
/// healthy).
async fn until_replica_serves(s: &Setup, ids: &Ids) -> Result<()> {
    let mut c = s.app_via_tern().await?;
    for _ in 0..200 {
        let id: Option<u32> = c
            .query_first("SELECT (SELECT id FROM tern_whoami.server)")
            .await?;
        if id == Some(ids.replica) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("reads never reached the replica:\n{}", s.tern.log_tail())
}

fn pairs() -> u64 {
    std::env::var("TERN_RYW_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// (a) and (b): 8 sessions write then read their own row; the replica's SQL
/// thread is stopped and started at random moments. No read may return a value
/// older than the session's last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_your_writes_while_replica_sql_thread_flaps() -> Result<()> {
    let s = Arc::new(Setup::start(1, &[])?);
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE TABLE app.ryw (id INT PRIMARY KEY, v BIGINT NOT NULL)")
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let flaps = Arc::new(AtomicU64::new(0));
    let chaos = {
        let s = s.clone();
        let stop = stop.clone();
        let flaps = flaps.clone();
        tokio::spawn(async move {
            let mut r = replica_admin(&s).await?;
            while !stop.load(Ordering::Relaxed) {
                let (up, down) = {
                    let mut rng = rand::rng();
                    (rng.random_range(50..400), rng.random_range(10..300))
                };
                tokio::time::sleep(Duration::from_millis(up)).await;
                r.query_drop("STOP SLAVE SQL_THREAD").await?;
                flaps.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(down)).await;
                r.query_drop("START SLAVE SQL_THREAD").await?;
            }
            anyhow::Ok(())
        })
    };

    let n = pairs();
    let mut workers = Vec::new();
    for session in 0..8u32 {
        let s = s.clone();
        let replica_id = ids.replica;
        workers.push(tokio::spawn(async move {
            let mut c = s.app_via_tern().await?;
            c.query_drop(format!("INSERT INTO ryw VALUES ({session}, 0)"))
                .await?;
            let (mut stale, mut on_replica) = (0u64, 0u64);
            for k in 1..=n {
                c.query_drop(format!("UPDATE ryw SET v = {k} WHERE id = {session}"))
                    .await?;
                let row: Option<(i64, u32)> = c
                    .query_first(format!(
                        "SELECT v, (SELECT id FROM tern_whoami.server) FROM ryw WHERE id = {session}"
                    ))
                    .await?;
                let (v, server) = row.context("row vanished")?;
                if v != k as i64 {
                    stale += 1;
                }
                if server == replica_id {
                    on_replica += 1;
                }
            }
            anyhow::Ok((stale, on_replica))
        }));
    }
    let mut stale = 0;
    let mut on_replica = 0;
    for w in workers {
        let (st, r) = w.await??;
        stale += st;
        on_replica += r;
    }
    stop.store(true, Ordering::Relaxed);
    chaos.await??;
    let reads = 8 * n;
    println!(
        "reads={reads} stale={stale} on_replica={on_replica} ({:.1}%) replica_flaps={}",
        100.0 * on_replica as f64 / reads as f64,
        flaps.load(Ordering::Relaxed)
    );
    assert_eq!(stale, 0, "stale reads");
    assert!(
        flaps.load(Ordering::Relaxed) > 0,
        "the SQL thread was never stopped"
    );
    assert!(on_replica > 0, "no read was served by the replica");
    // Leave replication running for the harness.
    let mut r = replica_admin(&s).await?;
    r.query_drop("START SLAVE").await?;
    Ok(())
}

/// (b) With a healthy replica, at least 90% of reads outside transactions are
/// served by it, including reads right after the session's own writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_replica_serves_most_reads() -> Result<()> {
    // A read after the session's own write goes to the replica once it has
    // caught up: a long wait keeps a slow machine's replica in the count.
    let s = Setup::start(1, &["--read-wait-timeout-ms", "2000"])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.hr (id INT PRIMARY KEY, v INT); INSERT INTO app.hr VALUES (1, 0)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let mut c = s.app_via_tern().await?;
    let (mut total, mut replica) = (0u32, 0u32);
    for k in 0..1000 {
        if k % 4 == 0 {
            c.query_drop(format!("UPDATE hr SET v = {k} WHERE id = 1"))
                .await?;
        }
        let (v, server): (i64, u32) = c
            .query_first("SELECT v, (SELECT id FROM tern_whoami.server) FROM hr WHERE id = 1")
            .await?
            .context("row")?;
        assert_eq!(v, (k / 4 * 4) as i64, "stale read");
        total += 1;
        if server == ids.replica {
            replica += 1;
        }
    }
    println!("replica share {replica}/{total}");
    assert!(
        replica * 10 >= total * 9,
        "only {replica} of {total} reads on the replica"
    );
    Ok(())
}

/// (c) Every pinning case stays on the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_sessions_and_statements_stay_on_primary() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE TABLE app.pin (id INT AUTO_INCREMENT PRIMARY KEY, v INT); INSERT INTO app.pin (v) VALUES (1); CREATE SEQUENCE app.sq")
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;

    // Statements that must run on the primary, each checked in a fresh session.
    let single = [
        "SELECT id, (SELECT id FROM tern_whoami.server) FROM pin FOR UPDATE",
        "SELECT id, (SELECT id FROM tern_whoami.server) FROM pin LOCK IN SHARE MODE",
        "SELECT GET_LOCK('x', 0), (SELECT id FROM tern_whoami.server)",
        "SELECT LAST_INSERT_ID(), (SELECT id FROM tern_whoami.server)",
        "SELECT NEXTVAL(sq), (SELECT id FROM tern_whoami.server)",
        "SELECT NEXT VALUE FOR sq, (SELECT id FROM tern_whoami.server)",
        "SELECT FOUND_ROWS(), (SELECT id FROM tern_whoami.server)",
        "SELECT SQL_CALC_FOUND_ROWS id, (SELECT id FROM tern_whoami.server) FROM pin",
        "SELECT @v := 1, (SELECT id FROM tern_whoami.server)",
        "SELECT @@last_gtid, (SELECT id FROM tern_whoami.server)",
    ];
    for sql in single {
        let mut c = s.app_via_tern().await?;
        let row: Option<(mysql_async::Value, u32)> = c.query_first(sql).await?;
        let (_, server) = row.with_context(|| format!("no row for {sql}"))?;
        assert_eq!(server, ids.primary, "{sql} ran on the replica");
    }

    // Session states that pin every later read.
    let pinning = [
        ("BEGIN", Some("COMMIT")),
        ("START TRANSACTION READ ONLY", Some("COMMIT")),
        ("SET autocommit = 0", Some("SET autocommit = 1")),
        ("CREATE TEMPORARY TABLE tt (x INT)", None),
        (
            "LOCK TABLES pin READ, tern_whoami.server READ",
            Some("UNLOCK TABLES"),
        ),
        ("SELECT GET_LOCK('pinned', 0)", None),
        ("PREPARE ps FROM 'SELECT 1'", None),
    ];
    for (enter, leave) in pinning {
        let mut c = s.app_via_tern().await?;
        c.query_drop(enter).await?;
        for _ in 0..5 {
            let server: Option<u32> = c
                .query_first("SELECT (SELECT id FROM tern_whoami.server) FROM pin LIMIT 1")
                .await?;
            assert_eq!(
                server,
                Some(ids.primary),
                "a read after `{enter}` ran on the replica"
            );
        }
        if let Some(leave) = leave {
            c.query_drop(leave).await?;
            // Leaving the state frees the session again.
            let mut back = false;
            for _ in 0..50 {
                let server: Option<u32> = c
                    .query_first("SELECT (SELECT id FROM tern_whoami.server)")
                    .await?;
                if server == Some(ids.replica) {
                    back = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(back, "session stayed pinned after `{leave}`");
        }
    }
    // A user variable is set on the primary, and every read of it goes there;
    // reads that do not use it may still go to the replica.
    let mut c = s.app_via_tern().await?;
    c.query_drop("SET @uv = 5").await?;
    let v: Option<(i64, u32)> = c
        .query_first("SELECT @uv, (SELECT id FROM tern_whoami.server)")
        .await?;
    assert_eq!(
        v,
        Some((5, ids.primary)),
        "user variable read on a server that does not have it"
    );
    // Without a replica configured, everything goes to the primary (control).
    let mut fresh = s.app_via_tern().await?;
    let server: Option<u32> = fresh
        .query_first("SELECT (SELECT id FROM tern_whoami.server)")
        .await?;
    assert_eq!(server, Some(ids.replica));
    Ok(())
}

/// Session variables reach the replica connection before a read runs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_reads_see_the_sessions_variables_and_schema() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE DATABASE other; CREATE TABLE other.t (x INT); INSERT INTO other.t VALUES (42); \
             CREATE TABLE app.t (x INT); INSERT INTO app.t VALUES (7)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop("SET time_zone = '+05:30'").await?;
    c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'").await?;
    c.query_drop("SET NAMES latin1").await?;
    c.query_drop("USE other").await?;
    // Each setting shows in what the read returns, not in `@@` reads (those
    // are the primary session's to answer): the time zone in FROM_UNIXTIME,
    // ANSI_QUOTES in "x" naming the column, the connection charset in a
    // literal's CHARSET().
    let row: Option<(String, i64, String, i64, u32)> = c
        .query_first(
            "SELECT CAST(FROM_UNIXTIME(0) AS CHAR), \"x\", CHARSET('a'), x, (SELECT id FROM tern_whoami.server) FROM t",
        )
        .await?;
    let (time, quoted, cs, x, server) = row.context("row")?;
    assert_eq!(server, ids.replica, "read did not go to the replica");
    assert_eq!(
        (time.as_str(), quoted, cs.as_str(), x),
        ("1970-01-01 05:30:00", 42, "latin1", 42)
    );
    // COM_INIT_DB too: an unqualified name now reads app.t.
    c.query_drop("USE app").await?;
    let db: Option<(i64, u32)> = c
        .query_first("SELECT x, (SELECT id FROM tern_whoami.server) FROM t")
        .await?;
    assert_eq!(db, Some((7, ids.replica)));
    // tern_consistency is Tern's own session variable.
    c.query_drop("SET tern_consistency = 'eventual'").await?;
    let bad = c.query_drop("SET tern_consistency = 'sometimes'").await;
    assert!(bad.is_err());
    Ok(())
}

/// (d) A replica killed and restarted under read load: no client sees an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_killed_and_restarted_under_load_no_client_errors() -> Result<()> {
    let s = Arc::new(Setup::start(1, &[])?);
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.kl (id INT PRIMARY KEY, v INT); INSERT INTO app.kl VALUES (1, 1)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let mut c = s.app_via_tern().await?;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v: Option<i64> = c.query_first("SELECT v FROM kl WHERE id = 1").await?;
                ensure!(v == Some(1), "wrong value {v:?}");
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.cluster.replicas()[0].kill9()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.cluster.replicas()[0].start_again()?;
    until_replica_serves(&s, &ids).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for r in readers {
        total += r.await?.context("a reader saw an error")?;
    }
    println!("reads during the kill: {total}");
    assert!(total > 100);
    Ok(())
}

/// (e) `/* tern:after=GTID */` gives causal reads across connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hint_gives_causal_reads_across_connections() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE TABLE app.cz (id INT PRIMARY KEY)")
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    // A replica that applies everything 3 s late, yet is healthy.
    let mut r = replica_admin(&s).await?;
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3; START SLAVE")
        .await?;
    until_replica_serves(&s, &ids).await?;

    let mut writer = s.app_via_tern().await?;
    let mut reader = s.app_via_tern().await?;
    writer.query_drop("INSERT INTO cz VALUES (1)").await?;
    let gtid: String = writer
        .query_first("SELECT @@last_gtid")
        .await?
        .context("gtid")?;
    assert!(!gtid.is_empty());
    // Without the token the other connection may read the lagging replica.
    let plain: Option<(i64, u32)> = reader
        .query_first("SELECT COUNT(*), (SELECT id FROM tern_whoami.server) FROM cz")
        .await?;
    assert_eq!(
        plain,
        Some((0, ids.replica)),
        "expected a stale replica read as the control"
    );
    let causal: Option<i64> = reader
        .query_first(format!("SELECT /* tern:after={gtid} */ COUNT(*) FROM cz"))
        .await?;
    assert_eq!(
        causal,
        Some(1),
        "the after= hint did not make the read causal"
    );
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
        .await?;
    Ok(())
}

/// Prepared statements: reads execute on the replica (prepared there behind the
/// client's back), writes on the primary, and read-your-writes holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_reads_run_on_the_replica_with_read_your_writes() -> Result<()> {
    // A read after the session's own write goes to the replica once it has
    // caught up: a long wait keeps a slow machine's replica in the count.
    let s = Setup::start(1, &["--read-wait-timeout-ms", "2000"])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.ps (id INT PRIMARY KEY, v BIGINT); INSERT INTO app.ps VALUES (1, 0)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let mut c = s.app_via_tern().await?;
    let read = c
        .prep("SELECT v, (SELECT id FROM tern_whoami.server) FROM ps WHERE id = ?")
        .await?;
    let write = c.prep("UPDATE ps SET v = ? WHERE id = ?").await?;
    let mut on_replica = 0;
    for k in 1..=300i64 {
        c.exec_drop(&write, (k, 1)).await?;
        let (v, server): (i64, u32) = c.exec_first(&read, (1,)).await?.context("row")?;
        assert_eq!(v, k, "stale prepared read");
        if server == ids.replica {
            on_replica += 1;
        }
    }
    assert!(
        on_replica > 250,
        "only {on_replica} of 300 prepared reads on the replica"
    );
    // Closing the statement closes every copy; a new one with the same text works.
    c.close(read).await?;
    let again: Option<(i64, u32)> = c
        .exec_first(
            "SELECT v, (SELECT id FROM tern_whoami.server) FROM ps WHERE id = ?",
            (1,),
        )
        .await?;
    assert_eq!(again.map(|r| r.0), Some(300));
    // Inside a transaction prepared reads stay on the primary.
    c.query_drop("BEGIN").await?;
    let inside: Option<(i64, u32)> = c
        .exec_first(
            "SELECT v, (SELECT id FROM tern_whoami.server) FROM ps WHERE id = ?",
            (1,),
        )
        .await?;
    assert_eq!(inside.map(|r| r.1), Some(ids.primary));
    c.query_drop("COMMIT").await?;
    Ok(())
}

/// A client that sends parameter types only on a statement's first execute (as
/// the protocol allows) still gets correct answers when a later execute is the
/// first to reach the replica: Tern adds the types it saw earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_execute_without_types_gets_them_from_an_earlier_execute() -> Result<()> {
    use common::{com_query, RawClient};
    let s = Setup::start(1, &[])?;
    let ids = server_ids(&s).await?;
    until_replica_serves(&s, &ids).await?;
    let mut c = RawClient::login(
        s.tern.port(),
        tern_tests::cluster::APP_USER,
        tern_tests::cluster::APP_PASSWORD,
        Some("app"),
        0,
    )
    .await?;
    let mut prepare = vec![0x16];
    prepare.extend_from_slice(b"SELECT (SELECT id FROM tern_whoami.server) * 1000 + ?");
    c.send(0, &prepare).await?;
    let ok = c.read().await?.payload;
    ensure!(ok[0] == 0, "prepare failed");
    let id = [ok[1], ok[2], ok[3], ok[4]];
    // One param definition + EOF, one column definition + EOF.
    for _ in 0..4 {
        c.read().await?;
    }
    let execute = |bound: bool, value: i64| {
        let mut p = vec![0x17];
        p.extend_from_slice(&id);
        p.push(0);
        p.extend_from_slice(&1u32.to_le_bytes());
        p.push(0); // NULL bitmap
        p.push(u8::from(bound));
        if bound {
            p.extend_from_slice(&[0x08, 0x00]); // LONGLONG
        }
        p.extend_from_slice(&value.to_le_bytes());
        p
    };
    let result_of = |packets: &[tern::protocol::framing::Packet]| -> Result<i64> {
        let row = packets
            .iter()
            .find(|p| p.payload.first() == Some(&0x00) && p.payload.len() == 10)
            .context("no binary row")?;
        Ok(i64::from_le_bytes(row.payload[2..10].try_into()?))
    };
    // First execute inside a transaction: on the primary, with types.
    c.send(0, &com_query("BEGIN")).await?;
    c.read().await?;
    c.send(0, &execute(true, 1)).await?;
    let first = result_of(&c.read_query_response().await?)?;
    assert_eq!(first, ids.primary as i64 * 1000 + 1);
    c.send(0, &com_query("COMMIT")).await?;
    c.read().await?;
    // Later executes omit the types; the replica must still get them.
    let mut on_replica = false;
    for value in 2..40 {
        c.send(0, &execute(false, value)).await?;
        let got = result_of(&c.read_query_response().await?)?;
        assert_eq!(got % 1000, value, "wrong parameter value");
        if got / 1000 == ids.replica as i64 {
            on_replica = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(on_replica, "no execute reached the replica");
    Ok(())
}

/// Regression: a primary that does not report `last_gtid` in OK packets must not
/// make session reads stale; Tern falls back to the primary's whole position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untracked_gtids_fall_back_to_global_consistency() -> Result<()> {
    let cluster = tern_tests::cluster::Cluster::start(1)?;
    {
        let mut p = Conn::new(cluster.primary().opts(
            tern_tests::cluster::ADMIN_USER,
            tern_tests::cluster::ADMIN_PASSWORD,
            None,
        ))
        .await?;
        p.query_drop("SET GLOBAL session_track_system_variables = 'autocommit'; CREATE TABLE app.ut (id INT PRIMARY KEY, v INT); INSERT INTO app.ut VALUES (1, 0)")
            .await?;
    }
    cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let tern = tern_tests::tern::TernProcess::start(&cluster, &[])?;
    let s = Setup { tern, cluster };
    let ids = server_ids(&s).await?;
    until_replica_serves(&s, &ids).await?;
    s.tern
        .wait_for_log("falls back to global consistency", Duration::from_secs(10))?;
    let mut r = replica_admin(&s).await?;
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 2; START SLAVE")
        .await?;
    let mut c = s.app_via_tern().await?;
    for k in 1..=20 {
        c.query_drop(format!("UPDATE ut SET v = {k} WHERE id = 1"))
            .await?;
        let v: Option<i64> = c.query_first("SELECT v FROM ut WHERE id = 1").await?;
        assert_eq!(v, Some(k), "stale read without GTID tracking");
    }
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
        .await?;
    Ok(())
}

/// Regression: COM_RESET_CONNECTION keeps the default schema; replica reads after
/// it must run in that schema, not the one the session logged in with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_keeps_the_schema_for_replica_reads() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE DATABASE other2; CREATE TABLE other2.t (x INT); INSERT INTO other2.t VALUES (2); \
             CREATE TABLE app.t (x INT); INSERT INTO app.t VALUES (1)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let mut c = s.app_via_tern().await?;
    let mut direct = s.app_direct().await?;
    for conn in [&mut c, &mut direct] {
        conn.query_drop("USE other2").await?;
        conn.reset().await?;
    }
    let expected: Option<i64> = direct.query_first("SELECT x FROM t").await?;
    let (x, server): (i64, u32) = c
        .query_first("SELECT x, (SELECT id FROM tern_whoami.server) FROM t")
        .await?
        .context("row")?;
    assert_eq!(Some(x), expected);
    assert_eq!(server, ids.replica, "the read did not go to the replica");
    Ok(())
}

/// The primary loses `last_gtid` tracking at runtime (as after a restart that
/// drops a `SET GLOBAL`), then gets it back. While it is lost, sessions read
/// with global consistency; a session whose connection was opened meanwhile
/// keeps global consistency even after tracking is back (its connection still
/// does not report commits); new sessions return to session consistency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_follows_tracking_lost_and_back() -> Result<()> {
    // The replica runs 2 s behind on purpose; on a loaded machine its lag may
    // pass the default 5 s bound, which would take it out of the rotation and
    // hide what this test asserts (which consistency a read gets).
    let s = Setup::start(
        1,
        &[
            "--monitor-interval-ms",
            "100",
            "--max-replica-lag-ms",
            "60000",
        ],
    )?;
    let ids = server_ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.tb (id INT PRIMARY KEY, v INT); INSERT INTO app.tb VALUES (1, 0)",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_replica_serves(&s, &ids).await?;
    let tracked: String = admin
        .query_first("SELECT @@global.session_track_system_variables")
        .await?
        .context("tracking")?;

    // Lost: Tern falls back to global consistency.
    admin
        .query_drop("SET GLOBAL session_track_system_variables = 'autocommit'")
        .await?;
    s.tern
        .wait_for_log("falls back to global consistency", Duration::from_secs(10))?;
    let mut r = replica_admin(&s).await?;
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 2; START SLAVE")
        .await?;
    let mut opened_untracked = s.app_via_tern().await?;
    for k in 1..=5 {
        opened_untracked
            .query_drop(format!("UPDATE tb SET v = {k} WHERE id = 1"))
            .await?;
        let v: Option<i64> = opened_untracked
            .query_first("SELECT v FROM tb WHERE id = 1")
            .await?;
        assert_eq!(v, Some(k), "stale read while tracking is lost");
    }

    // Back: noticed within a monitor interval.
    admin
        .query_drop(format!(
            "SET GLOBAL session_track_system_variables = '{tracked}'"
        ))
        .await?;
    s.tern
        .wait_for_log("tracks last_gtid again", Duration::from_secs(10))?;
    // The connection opened while tracking was lost still does not report its
    // commits: an INSERT shows it, and its reads stay consistent.
    for k in 10..=14 {
        opened_untracked
            .query_drop(format!("INSERT INTO tb VALUES ({k}, {k})"))
            .await?;
        let v: Option<i64> = opened_untracked
            .query_first(format!("SELECT v FROM tb WHERE id = {k}"))
            .await?;
        assert_eq!(v, Some(k), "stale read on a connection that does not track");
    }
    // A new session reads with session consistency again: with no writes of its
    // own, a replica that is 2 s behind may answer (direct write not yet there).
    until_replica_serves(&s, &ids).await?;
    admin
        .query_drop("UPDATE app.tb SET v = 1000 WHERE id = 1")
        .await?;
    let mut fresh = s.app_via_tern().await?;
    let row: Option<(i64, u32)> = fresh
        .query_first(format!(
            "SELECT v, {} FROM tb WHERE id = 1",
            tern_tests::cluster::WHOAMI
        ))
        .await?;
    let (v, server) = row.context("row")?;
    assert_eq!(
        server,
        ids.replica,
        "a fresh session's read left the replica:\n{}",
        s.tern.log_tail()
    );
    assert_ne!(
        v, 1000,
        "session consistency would not wait for others' writes"
    );
    r.query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
        .await?;
    Ok(())
}
