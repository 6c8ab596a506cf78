//! The copy of an online ALTER yields to the application: while client writes
//! through Tern are slow, the copy's pace drops and the reason names the
//! signal; when they are fast again, the pace climbs back to full. The server's
//! own pressure signals (InnoDB checkpoint age, history length) are read and
//! shown with their limits. Real primary + replica, real Tern, `/api/migrations`.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use serde_json::Value;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER};

async fn migration(http: &str, id: u64) -> Result<Value> {
    let (_, body) = common::http_get(http, "/api/migrations").await?;
    common::json_of(&body)?
        .as_array()
        .and_then(|l| l.iter().find(|m| m["id"] == id).cloned())
        .with_context(|| format!("migration {id} not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_writes_slow_the_copy_and_fast_ones_bring_it_back() -> Result<()> {
    // Small chunks and no lag throttle, so that only the pace decides.
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
            "--migration-max-write-ms",
            "40",
            // Read and shown, but never over: the test machine's 64 MiB redo
            // log must not decide this test's pace (the unit tests cover it).
            "--migration-max-checkpoint-age-pct",
            "99",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE paced (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) NOT NULL);
             INSERT INTO paced SELECT seq, seq, REPEAT('p', 200) FROM seq_1_to_400000;
             CREATE TABLE slow_writes (id INT PRIMARY KEY, n INT NOT NULL);
             INSERT INTO slow_writes VALUES (1, 0);",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first(
            "/* tern:async */ ALTER TABLE paced ADD COLUMN w INT NOT NULL DEFAULT 1, FORCE",
        )
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;

    // Writes through Tern that each take about 80 ms: over the 40 ms limit.
    let mut slow = s.app_via_tern().await?;
    let mut slowed = None;
    for _ in 0..40 {
        slow.query_drop("UPDATE slow_writes SET n = n + SLEEP(0.08) WHERE id = 1")
            .await?;
        let m = migration(&http, id).await?;
        ensure!(m["state"] == "copying", "the copy ended too soon: {m}");
        if m["pace_pct"].as_u64().is_some_and(|p| p < 100) {
            slowed = Some(m);
            break;
        }
    }
    let slowed = slowed.context("the pace never dropped under slow client writes")?;
    // The same in SHOW TERN MIGRATIONS, for the person on call.
    let mut steer = mysql_async::Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    let rows: Vec<mysql_async::Row> = steer.query("SHOW TERN MIGRATIONS").await?;
    let row = rows.first().context("SHOW TERN MIGRATIONS is empty")?;
    let column = |name: &str| -> Option<String> {
        let at = row
            .columns_ref()
            .iter()
            .position(|c| c.name_str() == name)?;
        row.get_opt::<Option<String>, _>(at)?.ok().flatten()
    };
    let shown_pace: Option<u64> = column("pace_pct").and_then(|p| p.parse().ok());
    let shown_signals = column("signals").unwrap_or_default();
    ensure!(
        shown_pace.is_some() && shown_signals.contains("worst_write"),
        "SHOW TERN MIGRATIONS: pace {shown_pace:?}, signals {shown_signals:?}"
    );
    let reason = slowed["throttled"].as_str().unwrap_or_default();
    ensure!(
        reason.contains("worst_write") && reason.contains("OVER"),
        "the throttle reason should name the slow writes: {slowed}"
    );
    let signals = slowed["signals"].as_array().cloned().unwrap_or_default();
    let named: Vec<&str> = signals
        .iter()
        .filter_map(|g| g["signal"].as_str())
        .collect();
    for signal in ["worst_write", "checkpoint_age", "history_length"] {
        ensure!(named.contains(&signal), "{signal} missing from {signals:?}");
    }
    let over_limit = signals
        .iter()
        .find(|g| g["signal"] == "worst_write")
        .and_then(|g| Some((g["value"].as_f64()?, g["limit"].as_f64()?)));
    ensure!(
        over_limit.is_some_and(|(v, l)| v > l && l == 40.0),
        "worst_write reading: {over_limit:?}"
    );

    // No more slow writes, only quick ones: the pace climbs back to full.
    let mut recovered = false;
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        slow.query_drop("UPDATE slow_writes SET n = n + 1 WHERE id = 1")
            .await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let m = migration(&http, id).await?;
        if m["state"] != "copying" || m["pace_pct"] == 100 {
            recovered = m["pace_pct"] == 100;
            break;
        }
        last = m;
    }
    ensure!(recovered, "the pace did not come back to 100%: {last}");
    common::eventually(Duration::from_secs(180), "migration done", || async {
        Ok(migration(&http, id).await?["state"] == "done")
    })
    .await?;
    ensure!(
        {
            let log = s.tern.log_contents();
            log.contains("copy slowed") && log.contains("copy back at full pace")
        },
        "the log should say when the copy slowed and when it recovered"
    );
    Ok(())
}

/// A copy slowed to its lowest pace while clients insert faster than it
/// copies still ends: it copies up to the largest key it saw when it started,
/// and the rows inserted above that reach the new table through the applier.
/// (It once chased the table's growth, and never ended.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_outrun_by_inserts_ends_at_its_ceiling() -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
            // Nearly every window has a write over this: the copy runs at
            // its lowest pace.
            "--migration-max-write-ms",
            "1",
            "--migration-max-checkpoint-age-pct",
            "99",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE grows (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
             INSERT INTO grows SELECT seq, seq FROM seq_1_to_50000;",
        )
        .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicU64::new(0));
    // Ids above every existing one, in the order they are taken.
    let next_id = Arc::new(AtomicU64::new(1_000_000));
    let mut writers = Vec::new();
    for _ in 0..3 {
        let mut conn = s.app_via_tern().await?;
        let (stop, inserted, next_id) = (stop.clone(), inserted.clone(), next_id.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                conn.exec_drop("INSERT INTO grows (id, v) VALUES (?, ?)", (id, id))
                    .await?;
                inserted.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = s.app_via_tern().await?;
    let before_alter = inserted.load(Ordering::Relaxed);
    let id: Option<String> = c
        .query_first(
            "/* tern:async */ ALTER TABLE grows ADD COLUMN w INT NOT NULL DEFAULT 1, FORCE",
        )
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let done = loop {
        let m = migration(&http, id).await?;
        if m["state"] == "done" {
            break m;
        }
        ensure!(
            m["state"] != "failed",
            "the migration failed: {m}\n{}",
            s.tern.log_tail()
        );
        ensure!(
            std::time::Instant::now() < deadline,
            "the copy never ended while inserts outran it: {m}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await??;
    }
    let total = inserted.load(Ordering::Relaxed);
    let after_alter = total - before_alter;
    ensure!(
        after_alter > 1000,
        "too few inserts to outrun the copy: {after_alter}"
    );
    // Most rows inserted after the start were the applier's, not the copy's.
    let copied = done["rows_copied"].as_u64().context("rows_copied")?;
    ensure!(
        copied < 50_000 + before_alter + after_alter / 2,
        "the copy chased the inserts: copied {copied}, {before_alter} inserted before the ALTER and {after_alter} after"
    );
    // Every acknowledged row is in the new table, which has the new column.
    let n: Option<u64> = admin
        .query_first("SELECT COUNT(*) FROM grows WHERE w = 1")
        .await?;
    ensure!(
        n == Some(50_000 + total),
        "{n:?} rows, want {}",
        50_000 + total
    );
    Ok(())
}
