//! `--http`: Prometheus metrics, the JSON API, the health check and the status
//! page, against a real primary + replica with traffic and a migration.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;

fn json_of(body: &str) -> Result<serde_json::Value> {
    // Strip chunked-encoding size lines if present.
    let start = body.find(['{', '[']).context("no JSON")?;
    let end = body.rfind(['}', ']']).context("no JSON end")?;
    Ok(serde_json::from_str(&body[start..=end])?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_api_health_and_status_page() -> Result<()> {
    let port = tern_tests::process::free_port()?;
    let http = format!("127.0.0.1:{port}");
    let s = Setup::start(1, &["--http", &http])?;
    s.tern
        .wait_for_log("http endpoint on", Duration::from_secs(10))?;
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
    let status = json_of(&body)?;
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
    let list = json_of(&body)?;
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
    let port = tern_tests::process::free_port()?;
    let http = format!("127.0.0.1:{port}");
    // Slow chunks, and no lag throttling: a busy test machine must not stop the copy.
    let s = Setup::start(
        1,
        &[
            "--http",
            &http,
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    s.tern
        .wait_for_log("http endpoint on", Duration::from_secs(10))?;
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
