//! Routing rules in a running Tern: rejects, group routing, `tern check-rules`,
//! and SIGHUP reloads that keep every connection.

mod common;

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;

const V1: &str = r#"
[[rule]]
name = "no-blocked-table"
tables = ["blocked"]
reject = { code = 1142, message = "blocked is off limits" }

[[rule]]
name = "reports-to-group"
tables = ["report_*"]
route = "group:reports"
"#;

#[test]
fn check_rules_reports_line_numbers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("good.toml");
    std::fs::write(&good, V1)?;
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\nkind = [\"selct\"]\nroute = \"replica\"\n\n[[rule]]\npattern = \"(\"\nroute = \"primary\"\n")?;
    let tern = tern_tests::tern::tern_binary()?;
    let ok = Command::new(&tern).arg("check-rules").arg(&good).output()?;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 rules"));
    let out = Command::new(&tern).arg("check-rules").arg(&bad).output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.iter().any(|l| l.contains("bad.toml:2:")), "{stderr}");
    assert!(lines.iter().any(|l| l.contains("bad.toml:6:")), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_reject_route_and_reload_on_sighup() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, V1)?;
    let cluster = tern_tests::cluster::Cluster::start(1)?;
    let replica = cluster.replicas()[0].addr();
    let tern = tern_tests::tern::TernProcess::start_with(vec![
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--primary".into(),
        cluster.primary().addr(),
        "--replica".into(),
        format!("reports={replica}"),
        "--admin-user".into(),
        tern_tests::cluster::ADMIN_USER.into(),
        "--admin-password".into(),
        tern_tests::cluster::ADMIN_PASSWORD.into(),
        "--rules".into(),
        file.display().to_string(),
    ])?;
    let s = Setup { tern, cluster };
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE TABLE app.blocked (x INT); CREATE TABLE app.report_daily (x INT); INSERT INTO app.report_daily VALUES (7)")
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let replica_id: u32 = {
        let mut r = mysql_async::Conn::new(s.cluster.replicas()[0].opts(
            tern_tests::cluster::ADMIN_USER,
            tern_tests::cluster::ADMIN_PASSWORD,
            None,
        ))
        .await?;
        r.query_first("SELECT (SELECT id FROM tern_whoami.server)")
            .await?
            .context("id")?
    };

    let mut c = s.app_via_tern().await?;
    let refused = server_error(c.query_drop("SELECT * FROM blocked").await)?;
    assert_eq!(
        (refused.0, refused.1.as_str(), refused.2.as_str()),
        (1142, "42000", "blocked is off limits")
    );
    // The group's replica serves the report reads once the monitor sees it healthy.
    let mut served = false;
    for _ in 0..100 {
        let row: Option<(i64, u32)> = c
            .query_first("SELECT x, (SELECT id FROM tern_whoami.server) FROM report_daily")
            .await?;
        if row == Some((7, replica_id)) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "report reads never reached the reports group");

    // Reload without the reject: the same connection now reads `blocked`.
    std::fs::write(&file, "# no rules\n")?;
    tern_tests::process::send_signal(s.tern.pid(), libc::SIGHUP)?;
    s.tern
        .wait_for_log("routing rules reloaded", Duration::from_secs(10))?;
    c.query_drop("SELECT * FROM blocked").await?;

    // An invalid file keeps the rules in force and says why.
    std::fs::write(
        &file,
        "[[rule]]\nkind = [\"nonsense\"]\nroute = \"primary\"\n",
    )?;
    tern_tests::process::send_signal(s.tern.pid(), libc::SIGHUP)?;
    s.tern
        .wait_for_log("keeping the previous rules", Duration::from_secs(10))?;
    c.query_drop("SELECT * FROM blocked").await?;
    assert_eq!(c.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}
