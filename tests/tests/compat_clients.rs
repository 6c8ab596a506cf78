//! Real clients through Tern and directly, outputs compared byte for byte: the
//! `mariadb` CLI, PyMySQL, mysql-connector-python (binary protocol), and sysbench.

mod common;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use common::Setup;
use tern_tests::cluster::{APP_DATABASE, APP_PASSWORD, APP_USER};

fn repo_path(rel: &str) -> PathBuf {
    tern_tests::workspace_root().join(rel)
}

/// Runs a battery program against `port` and returns its report (stdout).
fn run(program: &str, args: &[String]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn python_battery(script: &str, port: u16, prefix: &str) -> Result<String> {
    let args = vec![
        repo_path(script).display().to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--user".into(),
        APP_USER.into(),
        "--password".into(),
        APP_PASSWORD.into(),
        "--database".into(),
        APP_DATABASE.into(),
        "--schema-prefix".into(),
        prefix.into(),
    ];
    run("python3", &args)
}

/// Fails with the first differing line, which is what a reader needs.
fn assert_same(what: &str, direct: &str, through: &str) {
    if direct == through {
        return;
    }
    for (n, (a, b)) in direct.lines().zip(through.lines()).enumerate() {
        if a != b {
            panic!(
                "{what}: first difference at line {}:\n direct: {a}\n tern:   {b}",
                n + 1
            );
        }
    }
    panic!(
        "{what}: reports differ in length ({} vs {} lines)",
        direct.lines().count(),
        through.lines().count()
    );
}

#[test]
fn pymysql_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let direct = python_battery(
        "tests/py/compat_pymysql.py",
        s.cluster.primary().port(),
        "cmp_direct_",
    )?;
    let through = python_battery("tests/py/compat_pymysql.py", s.tern.port(), "cmp_proxy_")?;
    assert!(
        direct.lines().count() > 100,
        "report suspiciously short:\n{direct}"
    );
    assert_same("PyMySQL", &direct, &through);
    Ok(())
}

#[test]
fn mysql_connector_binary_protocol_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let direct = python_battery(
        "tests/py/compat_connector.py",
        s.cluster.primary().port(),
        "cmp_direct_",
    )?;
    let through = python_battery("tests/py/compat_connector.py", s.tern.port(), "cmp_proxy_")?;
    assert!(
        direct.lines().count() > 100,
        "report suspiciously short:\n{direct}"
    );
    assert_same("mysql-connector-python", &direct, &through);
    Ok(())
}

#[test]
fn mariadb_cli_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let runner = repo_path("tests/sql/run_cli_battery.sh")
        .display()
        .to_string();
    let args = |port: u16, tag: &str| {
        vec![
            runner.clone(),
            "127.0.0.1".into(),
            port.to_string(),
            tag.into(),
        ]
    };
    let direct = run("bash", &args(s.cluster.primary().port(), "direct"))?;
    let through = run("bash", &args(s.tern.port(), "proxied"))?;
    assert!(
        direct.contains("--column-type-info") || direct.contains("Collation"),
        "no column metadata in the report"
    );
    assert_same("mariadb CLI", &direct, &through);
    Ok(())
}

fn sysbench(port: u16, db: &str, command: &str, extra: &[&str]) -> Result<String> {
    let mut args: Vec<String> = vec![
        "oltp_read_write".into(),
        "--db-driver=mysql".into(),
        "--mysql-host=127.0.0.1".into(),
        format!("--mysql-port={port}"),
        format!("--mysql-user={APP_USER}"),
        format!("--mysql-password={APP_PASSWORD}"),
        format!("--mysql-db={db}"),
        "--tables=2".into(),
        "--table-size=10000".into(),
        "--threads=4".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push(command.into());
    run("sysbench", &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_read_write_prepare_and_run_through_tern() -> Result<()> {
    use mysql_async::prelude::Queryable;
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE DATABASE sb_direct; CREATE DATABASE sb_tern")
        .await?;
    let mut reports = Vec::new();
    for (port, db) in [
        (s.cluster.primary().port(), "sb_direct"),
        (s.tern.port(), "sb_tern"),
    ] {
        sysbench(port, db, "prepare", &[])?;
        let report = sysbench(port, db, "run", &["--time=3", "--report-interval=0"])?;
        reports.push(report);
    }
    for report in &reports {
        // sysbench exits non-zero on any error it does not expect; the errors it
        // ignores are deadlocks (1213), which the server raises under this
        // contention with or without a proxy. A reconnect would mean a dropped
        // session.
        let reconnects = report
            .lines()
            .find(|l| l.trim_start().starts_with("reconnects:"))
            .context("no reconnect line in sysbench output")?;
        assert!(
            reconnects.contains(" 0 "),
            "sysbench reconnected: {reconnects}\n{report}"
        );
        let tx = report
            .lines()
            .find(|l| l.trim_start().starts_with("transactions:"))
            .context("no transaction count")?;
        assert!(!tx.contains(" 0 "), "no transactions ran: {tx}");
    }
    // Both databases hold the prepared data.
    let counts: Option<(u64, u64)> = admin
        .query_first("SELECT (SELECT COUNT(*) FROM sb_direct.sbtest1), (SELECT COUNT(*) FROM sb_tern.sbtest1)")
        .await?;
    assert_eq!(counts, Some((10000, 10000)));
    Ok(())
}
