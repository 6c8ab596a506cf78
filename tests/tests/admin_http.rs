//! `--http`: Prometheus metrics, the JSON API, the health check and the status
//! page, against a real primary + replica with traffic and a migration.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_api_health_and_status_page() -> Result<()> {
    let (s, http) = Setup::start_with_http(1, &[])?;
    let mut c = s.app_via_tern().await?;
    c.query_drop("CREATE TABLE hm (id INT PRIMARY KEY, v INT NOT NULL)")
        .await?;
    c.query_drop("INSERT INTO hm SELECT seq, seq FROM seq_1_to_1000")
        .await?;
    let _: Vec<i64> = c.query("SELECT v FROM hm WHERE id < 5").await?;
    let _ = c.query_drop("SELECT nosuch FROM hm").await;
    // A prepared statement counts too.
    c.exec_drop("UPDATE hm SET v = v WHERE id = ?", (1,))
        .await?;
    let id: Option<String> = c
        .query_first("/* tern:async tern:postpone */ ALTER TABLE hm MODIFY v BIGINT NOT NULL")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;

    let (code, body) = common::http_get(&http, "/metrics").await?;
    ensure!(code == 200, "{code}");
    for needle in [
        "tern_queries_total{kind=\"insert\",route=\"primary\"}",
        "tern_queries_total{kind=\"update\",route=\"primary\"}",
        "tern_query_duration_seconds_bucket",
        "tern_errors_total{code=\"1054\"}",
        "tern_client_connections",
        "tern_backend_up{role=\"primary\"",
        "tern_backend_up{role=\"replica\"",
        "tern_replica_lag_ms",
        "tern_backend_connections{role=\"primary\"",
        "tern_migration_rows_total",
        "tern_ryw_waits_total",
        "tern_write_gate_holds_total",
    ] {
        ensure!(body.contains(needle), "/metrics lacks {needle}:\n{body}");
    }

    let (code, body) = common::http_get(&http, "/api/status").await?;
    ensure!(code == 200);
    let status = common::json_of(&body)?;
    ensure!(status["primary"]["healthy"] == true, "{status}");
    ensure!(
        status["primary"]["connections"].as_u64() >= Some(1),
        "{status}"
    );
    ensure!(
        status["replicas"].as_array().map(Vec::len) == Some(1),
        "{status}"
    );
    let (code, body) = common::http_get(&http, "/api/migrations").await?;
    ensure!(code == 200);
    let list = common::json_of(&body)?;
    ensure!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|m| m["id"] == id && m["table"] == "app.hm")),
        "{list}"
    );
    let (code, body) = common::http_get(&http, "/").await?;
    ensure!(code == 200 && body.contains("<title>Tern status</title>"));
    let (code, _) = common::http_get(&http, "/healthz").await?;
    ensure!(code == 200);

    c.query_drop(format!("TERN CANCEL {id}")).await?;
    s.cluster.primary().stop()?;
    let (code, _) = common::http_get(&http, "/healthz").await?;
    ensure!(code == 503, "healthz with the primary down: {code}");
    Ok(())
}

/// The status page as headless Chromium renders it, after its scripts ran.
fn rendered_page(url: &str) -> Result<String> {
    let profile = tempfile::tempdir()?;
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=2000",
            "--dump-dom",
            url,
        ])
        .output()
        .context("running chromium (apt-get install chromium)")?;
    ensure!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The progress the page shows for migration `id`, in percent.
fn shown_progress(dom: &str, id: u64) -> Option<f64> {
    let row = dom.find(&format!("data-id=\"{id}\""))?;
    let rest = &dom[row..];
    let at = rest.find("data-pct=\"")? + "data-pct=\"".len();
    rest[at..].split('"').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_migration_progress_advancing_in_chromium() -> Result<()> {
    // Slow chunks, and no lag throttling: a busy test machine must not stop the copy.
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE sp (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) NOT NULL);
             INSERT INTO sp SELECT seq, seq, REPEAT('p', 200) FROM seq_1_to_300000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first("/* tern:async */ ALTER TABLE sp ADD COLUMN w INT NOT NULL DEFAULT 1, FORCE")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    let url = format!("http://{http}/");
    let first = tokio::task::block_in_place(|| rendered_page(&url))?;
    let a =
        shown_progress(&first, id).with_context(|| format!("no progress for {id} in:\n{first}"))?;
    // Render again until the page shows more (each render takes a second or two).
    let mut second = String::new();
    let mut b = a;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        second = tokio::task::block_in_place(|| rendered_page(&url))?;
        b = shown_progress(&second, id)
            .with_context(|| format!("no progress for {id} in:\n{second}"))?;
        if b > a {
            break;
        }
    }
    eprintln!("status page progress: {a}% then {b}%");
    ensure!(b > a, "progress did not advance: {a}% then {b}%");
    ensure!(second.contains("app.sp") && second.contains("TERN CANCEL"));
    Ok(())
}

/// The value of attribute `attr` on the first element after `anchor` in `dom`.
fn attr_after<'a>(dom: &'a str, anchor: &str, attr: &str) -> Option<&'a str> {
    let from = dom.find(anchor)?;
    let rest = &dom[from..];
    let at = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    rest[at..].split('"').next()
}

/// Points of the line `series` drawn in chart `chart`.
fn chart_points(dom: &str, chart: &str, series: &str) -> Option<Vec<(f64, f64)>> {
    let figure = dom.find(&format!("id=\"{chart}\""))?;
    let points = attr_after(
        &dom[figure..],
        &format!("data-series=\"{series}\""),
        "points",
    )?;
    points
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_charts_render_and_move_in_chromium() -> Result<()> {
    let (s, http) = Setup::start_with_http(
        1,
        &[
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE ch (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) NOT NULL);
             INSERT INTO ch SELECT seq, seq, REPEAT('p', 200) FROM seq_1_to_200000;",
        )
        .await?;
    // Reads and writes through Tern for the whole test, so every chart has data.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = s.app_via_tern().await?;
    let load_stop = stop.clone();
    let workload = tokio::spawn(async move {
        let mut i = 0u64;
        while !load_stop.load(std::sync::atomic::Ordering::Relaxed) {
            i += 1;
            load.exec_drop("UPDATE ch SET v = v + 1 WHERE id = ?", (i % 1000 + 1,))
                .await?;
            let _: Option<i64> = load.query_first("SELECT v FROM ch WHERE id = 7").await?;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        anyhow::Ok(())
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut c = s.app_via_tern().await?;
    let id: Option<String> = c
        .query_first("/* tern:async */ ALTER TABLE ch ADD COLUMN w INT NOT NULL DEFAULT 1, FORCE")
        .await?;
    let id: u64 = id.context("migration id")?.parse()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let url = format!("http://{http}/");
    let first = tokio::task::block_in_place(|| rendered_page(&url))?;
    let replica = s.cluster.replicas()[0].addr();
    let migration_chart = format!("chart-migration-{id}");
    for (chart, series) in [
        ("chart-statements", "primary"),
        ("chart-statements", "replica"),
        ("chart-write-p99", "p99"),
        ("chart-lag", replica.as_str()),
        (migration_chart.as_str(), "rows/s"),
    ] {
        let points = chart_points(&first, chart, series)
            .with_context(|| format!("no line {series} in {chart}:\n{first}"))?;
        ensure!(
            points.len() >= 2,
            "{chart}/{series} has {} points",
            points.len()
        );
    }
    let busiest = chart_points(&first, "chart-statements", "primary").unwrap_or_default();
    ensure!(
        busiest.iter().any(|&(_, y)| y < 100.0),
        "statements/s never rose above the axis: {busiest:?}"
    );
    // The charts move: a later render ends at a later sample and draws other lines.
    let t0: u64 = attr_after(&first, "id=\"chart-statements\"", "data-last-t")
        .context("data-last-t")?
        .parse()?;
    let mut moved = false;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let later = tokio::task::block_in_place(|| rendered_page(&url))?;
        let t1: u64 = attr_after(&later, "id=\"chart-statements\"", "data-last-t")
            .context("data-last-t")?
            .parse()?;
        if t1 > t0
            && chart_points(&later, "chart-statements", "primary")
                != chart_points(&first, "chart-statements", "primary")
        {
            moved = true;
            break;
        }
    }
    ensure!(moved, "the charts did not move");
    // The cut-over shows in the history once the migration is done.
    common::eventually(Duration::from_secs(120), "migration done", || async {
        let (_, body) = common::http_get(&http, "/api/migrations").await?;
        let list = common::json_of(&body)?;
        Ok(list
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["id"] == id && m["state"] == "done")))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let last = tokio::task::block_in_place(|| rendered_page(&url))?;
    let cutovers = &last[last.find("id=\"cutovers\"").context("cut-over table")?..];
    let row = &cutovers[..cutovers.find("</table>").context("table end")?];
    ensure!(
        row.contains(&format!("<td>{id}</td>")) && row.contains(".ch</td>"),
        "cut-over of {id} not listed: {row}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    workload.await??;
    Ok(())
}
