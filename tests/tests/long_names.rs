//! Tables with long names migrate online: the shadow and old tables get
//! names within 64 characters that still sort after the original (the
//! cut-over's lock order rests on it), `SHOW TERN MIGRATIONS` lists them, and
//! writes during the copy and the cut-over all land in the new table. A name
//! that leaves no such room runs natively with a Note. Real primary + replica,
//! real Tern.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use common::migrations::parked_old_table;
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::Row;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER};

fn column(row: &Row, name: &str) -> Option<String> {
    let at = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == name)?;
    row.get_opt::<Option<String>, _>(at)?.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_and_sixty_four_character_tables_migrate_online_under_writes() -> Result<()> {
    let s = Setup::start(1, &["--migration-chunk-ms", "5"])?;
    let mut c = s.app_via_tern().await?;
    let mut steer = mysql_async::Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
    let mut admin = s.admin_direct().await?;
    for len in [60, 64] {
        let table = format!("t{}", "a".repeat(len - 1));
        c.query_drop(format!(
            "CREATE TABLE `{table}` (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO `{table}` SELECT seq, seq FROM seq_1_to_20000;"
        ))
        .await?;
        // A writer through Tern for the whole ALTER, the cut-over included.
        let stop = Arc::new(AtomicBool::new(false));
        let mut writer = s.app_via_tern().await?;
        let (writer_stop, writer_table) = (stop.clone(), table.clone());
        let writes = tokio::spawn(async move {
            let mut id = 100_000;
            while !writer_stop.load(Ordering::Relaxed) {
                id += 1;
                writer
                    .query_drop(format!(
                        "INSERT INTO `{writer_table}` (id, v) VALUES ({id}, {id})"
                    ))
                    .await?;
            }
            anyhow::Ok(id - 100_000)
        });
        c.query_drop(format!(
            "ALTER TABLE `{table}` ADD COLUMN w INT NOT NULL DEFAULT 7, FORCE"
        ))
        .await?;
        stop.store(true, Ordering::Relaxed);
        let inserted = writes.await??;
        let rows: Vec<Row> = steer.query("SHOW TERN MIGRATIONS").await?;
        let row = rows
            .iter()
            .find(|r| column(r, "table").is_some_and(|t| t.ends_with(&table)))
            .with_context(|| format!("{table} not in SHOW TERN MIGRATIONS"))?;
        let shadow = column(row, "shadow_table").context("shadow_table")?;
        let old = column(row, "old_table").context("old_table")?;
        ensure!(column(row, "state").as_deref() == Some("done"), "not done");
        for name in [&shadow, &old] {
            ensure!(
                name.chars().count() <= 64 && name.as_bytes() > table.as_bytes(),
                "{name} should be at most 64 characters and sort after {table}"
            );
        }
        let (count, with_w): (u64, u64) = c
            .query_first(format!("SELECT COUNT(*), SUM(w = 7) FROM `{table}`"))
            .await?
            .context("count")?;
        ensure!(
            count == 20_000 + inserted && with_w == count,
            "{table}: {count} rows, {with_w} with the new column, {inserted} inserted during the ALTER"
        );
        // Kept in Tern's schema; a name that long is cut, never lengthened.
        let kept = parked_old_table(&mut admin, &old).await?;
        let kept_rows: Option<u64> = admin
            .query_first(format!("SELECT COUNT(*) FROM {kept}"))
            .await?;
        ensure!(kept_rows.is_some(), "the old table {old} should be kept");
        eprintln!("{table}: shadow {shadow}, old {old}, {inserted} writes during the ALTER");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_name_with_no_room_for_a_later_sorting_name_runs_natively_with_a_note() -> Result<()>
{
    let s = Setup::start(0, &[])?;
    let mut c = s.app_via_tern().await?;
    // 46 characters: past what fits appended (45 with a ten-digit id), and
    // no ASCII character to cut at. (The server's own limit on such names is
    // lower than 64: each character takes five bytes of the file name.)
    let table = "가".repeat(46);
    c.query_drop(format!(
        "CREATE TABLE `{table}` (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO `{table}` VALUES (1, 1)"
    ))
    .await?;
    c.query_drop(format!("ALTER TABLE `{table}` ADD COLUMN w INT, FORCE"))
        .await?;
    let warnings: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await?;
    ensure!(
        warnings.iter().any(|(level, code, text)| level == "Note"
            && *code == 1846
            && text.contains("sorts after")),
        "expected the Note naming the reason: {warnings:?}"
    );
    let w: Option<Option<i64>> = c.query_first(format!("SELECT w FROM `{table}`")).await?;
    ensure!(w == Some(None), "the change ran natively: {w:?}");
    Ok(())
}
