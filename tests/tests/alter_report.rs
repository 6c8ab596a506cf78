//! An online ALTER answers what the server's own ALTER answers: affected
//! rows, the info text, the warning count and the `SHOW WARNINGS` rows (the
//! server keeps the first max_error_count and counts them all), and leaves
//! the table with statistics as fresh as a native rebuild's. Each case runs
//! directly on the primary (database `report_direct`) and through Tern
//! (database `report_tern`) on identical tables, and the change must really
//! have run as an online migration through Tern. Statements the server reads
//! in ways a careless reader would not (`--` without a space, executable
//! comments) must leave the same table.

mod common;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, APP_PASSWORD, APP_USER};

const DIRECT_DB: &str = "report_direct";
const TERN_DB: &str = "report_tern";

type Warning = (String, u32, String);

/// Everything a client can see of an ALTER's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    affected: u64,
    info: String,
    ok_warnings: u16,
    shown: Vec<Warning>,
    /// `SHOW WARNINGS LIMIT 62, 5`: a window across the kept list's end.
    window: Vec<Warning>,
    count: u64,
    warning_count: u64,
}

fn same_db(text: String) -> String {
    text.replace(DIRECT_DB, "db").replace(TERN_DB, "db")
}

async fn shown(conn: &mut Conn, sql: &str) -> Result<Vec<Warning>> {
    let rows: Vec<Warning> = conn.query(sql).await?;
    Ok(rows
        .into_iter()
        .map(|(l, c, m)| (l, c, same_db(m)))
        .collect())
}

async fn run(conn: &mut Conn, sql: &str) -> Result<Report> {
    if let Err(e) = conn.query_drop(sql).await {
        anyhow::bail!("{sql}: {e:?}");
    }
    let affected = conn.affected_rows();
    let info = conn.info().into_owned();
    let ok_warnings = conn.get_warnings();
    let shown_rows = shown(conn, "SHOW WARNINGS").await?;
    let window = shown(conn, "SHOW WARNINGS LIMIT 62, 5").await?;
    let count: Option<u64> = conn.query_first("SHOW COUNT(*) WARNINGS").await?;
    let warning_count: Option<u64> = conn.query_first("SELECT @@warning_count").await?;
    Ok(Report {
        affected,
        info,
        ok_warnings,
        shown: shown_rows,
        window,
        count: count.unwrap_or(0),
        warning_count: warning_count.unwrap_or(0),
    })
}

async fn contents(conn: &mut Conn, table: &str) -> Result<Vec<Vec<Value>>> {
    let rows: Vec<Row> = conn
        .query(format!("SELECT * FROM {table} ORDER BY 1, 2"))
        .await?;
    Ok(rows.into_iter().map(Row::unwrap).collect())
}

struct Sides {
    direct: Conn,
    tern: Conn,
    /// Through Tern, allowed to see SHOW TERN MIGRATIONS.
    admin: Conn,
}

impl Sides {
    async fn open(s: &Setup) -> Result<Sides> {
        let mut admin = s.admin_direct().await?;
        admin
            .query_drop(format!(
                "CREATE DATABASE IF NOT EXISTS {DIRECT_DB}; CREATE DATABASE IF NOT EXISTS {TERN_DB}"
            ))
            .await?;
        admin.disconnect().await?;
        let mut direct = s.app_direct().await?;
        direct.query_drop(format!("USE {DIRECT_DB}")).await?;
        let mut tern = Conn::new(s.tern_opts(APP_USER, APP_PASSWORD)).await?;
        tern.query_drop(format!("USE {TERN_DB}")).await?;
        let admin = Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?;
        Ok(Sides {
            direct,
            tern,
            admin,
        })
    }

    /// Runs `sql` on both sessions.
    async fn both(&mut self, sql: &str) -> Result<()> {
        self.direct.query_drop(sql).await?;
        self.tern.query_drop(sql).await?;
        Ok(())
    }

    /// Creates the case's table on both sides, directly.
    async fn setup(&mut self, s: &Setup, sql: &str) -> Result<()> {
        for db in [DIRECT_DB, TERN_DB] {
            let mut c = s.app_direct().await?;
            c.query_drop(format!("USE {db}")).await?;
            c.query_drop(sql).await.with_context(|| sql.to_string())?;
            c.disconnect().await?;
        }
        Ok(())
    }

    /// How many migrations of `table` with `sql` SHOW TERN MIGRATIONS lists as done.
    async fn done_online(&mut self, table: &str, sql: &str) -> Result<usize> {
        let rows: Vec<Row> = self.admin.query("SHOW TERN MIGRATIONS").await?;
        let want = format!("{TERN_DB}.{table}");
        Ok(rows
            .iter()
            .filter(|r| {
                r.get::<String, _>(1).as_deref() == Some(want.as_str())
                    && r.get::<String, _>(2).as_deref() == Some(sql)
                    && r.get::<String, _>(3).as_deref() == Some("done")
            })
            .count())
    }

    /// Runs `sql` on both sides, checks that Tern ran it online and answered
    /// what the server answered, and that both tables hold the same rows.
    async fn compare(&mut self, table: &str, sql: &str) -> Result<Report> {
        let before = self.done_online(table, sql).await?;
        let direct = run(&mut self.direct, sql).await?;
        let through = run(&mut self.tern, sql).await?;
        ensure!(
            self.done_online(table, sql).await? == before + 1,
            "{sql}: Tern did not run it as an online migration"
        );
        ensure!(
            direct == through,
            "{sql}: the answers differ\n directly:     {direct:?}\n through Tern: {through:?}"
        );
        let d = contents(&mut self.direct, table).await?;
        let t = contents(&mut self.tern, table).await?;
        ensure!(d == t, "{sql}: the tables differ afterwards");
        Ok(direct)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_alter_reported_no_rows_and_hid_truncation_warnings() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides.both("SET SESSION sql_mode = ''").await?;

    // Truncation across several chunks: 10 warnings in the first chunk and
    // 150 further on, so the kept 64 span chunks and their row numbers count
    // from the table's first row; 160 in all, past the default cap of 64.
    sides
        .setup(
            &s,
            "CREATE TABLE trunc (id INT PRIMARY KEY, c VARCHAR(10)); \
             INSERT INTO trunc SELECT seq, IF(seq <= 10 OR (seq > 1500 AND seq % 10 = 0), 'abcdefgh', 'ab') \
             FROM seq_1_to_3000",
        )
        .await?;
    let r = sides
        .compare("trunc", "ALTER TABLE trunc MODIFY c VARCHAR(3)")
        .await?;
    ensure!(
        r.affected == 3000
            && r.info == "Records: 3000  Duplicates: 0  Warnings: 160"
            && r.ok_warnings == 160
            && r.shown.len() == 64
            && r.window.len() == 2
            && r.count == 160
            && r.warning_count == 160,
        "{r:?}"
    );
    ensure!(
        r.shown[10].2 == "Data truncated for column 'c' at row 1510",
        "{:?}",
        r.shown[10]
    );

    // A smaller max_error_count keeps fewer rows; the count stays the total.
    sides
        .setup(
            &s,
            "CREATE TABLE capped (id INT PRIMARY KEY, c VARCHAR(10)); \
             INSERT INTO capped SELECT seq, 'abcdefgh' FROM seq_1_to_20",
        )
        .await?;
    sides.both("SET SESSION max_error_count = 5").await?;
    let r = sides
        .compare("capped", "ALTER TABLE capped MODIFY c VARCHAR(2)")
        .await?;
    ensure!(r.shown.len() == 5 && r.count == 20, "{r:?}");
    sides.both("SET SESSION max_error_count = DEFAULT").await?;

    // A copying change without warnings.
    sides
        .setup(
            &s,
            "CREATE TABLE retype (id INT PRIMARY KEY, c VARCHAR(10)); \
             INSERT INTO retype SELECT seq, seq * 7 FROM seq_1_to_500",
        )
        .await?;
    let r = sides
        .compare("retype", "ALTER TABLE retype MODIFY c BIGINT")
        .await?;
    ensure!(
        r.affected == 500 && r.info == "Records: 500  Duplicates: 0  Warnings: 0",
        "{r:?}"
    );

    // ADD COLUMN ... FORCE: the server rebuilds in place and reports no rows.
    sides
        .setup(
            &s,
            "CREATE TABLE forced (id INT PRIMARY KEY, c VARCHAR(10)); \
             INSERT INTO forced SELECT seq, 'x' FROM seq_1_to_400",
        )
        .await?;
    let r = sides
        .compare(
            "forced",
            "ALTER TABLE forced ADD COLUMN d INT NOT NULL DEFAULT 7, FORCE",
        )
        .await?;
    ensure!(
        r.affected == 0 && r.info == "Records: 0  Duplicates: 0  Warnings: 0",
        "{r:?}"
    );

    // An empty table.
    sides
        .setup(&s, "CREATE TABLE empty (id INT PRIMARY KEY, c VARCHAR(10))")
        .await?;
    let r = sides
        .compare("empty", "ALTER TABLE empty MODIFY c VARCHAR(3)")
        .await?;
    ensure!(
        r.affected == 0 && r.info == "Records: 0  Duplicates: 0  Warnings: 0",
        "{r:?}"
    );
    Ok(())
}

/// EXPLAIN rows, with each side's database name made the same.
async fn explain(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<String>>> {
    let rows: Vec<Row> = conn.query(format!("EXPLAIN {sql}")).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            r.unwrap()
                .into_iter()
                .map(|v| same_db(v.as_sql(true)))
                .collect()
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_after_an_online_key_change_were_stale() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides
        .setup(
            &s,
            "CREATE TABLE keyed (f1 INT NOT NULL, f2 INT NOT NULL, f3 INT NOT NULL, \
             PRIMARY KEY (f1), KEY k3 (f3)); \
             INSERT INTO keyed SELECT seq, seq % 37, seq % 11 FROM seq_1_to_4000",
        )
        .await?;
    let sql = "ALTER TABLE keyed DROP PRIMARY KEY, ADD PRIMARY KEY (f2, f1)";
    sides.compare("keyed", sql).await?;
    for query in [
        "SELECT * FROM keyed",
        "SELECT * FROM keyed WHERE f2 = 5",
        "SELECT * FROM keyed a JOIN keyed b ON b.f3 = a.f2",
        "SELECT * FROM keyed a JOIN keyed b ON b.f2 = a.f3",
    ] {
        let d = explain(&mut sides.direct, query).await?;
        let t = explain(&mut sides.tern, query).await?;
        ensure!(
            d == t,
            "EXPLAIN {query}:\n directly:     {d:?}\n through Tern: {t:?}"
        );
    }
    let rows = "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                AND TABLE_NAME = 'keyed'";
    let d: Option<u64> = sides.direct.query_first(rows).await?;
    let t: Option<u64> = sides.tern.query_first(rows).await?;
    ensure!(d == t, "TABLE_ROWS {d:?} directly, {t:?} through Tern");
    Ok(())
}

async fn show_create(conn: &mut Conn, table: &str) -> Result<String> {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await?;
    Ok(row.context("no such table")?.1)
}

/// Tern once read ALTER text with a lexer of its own that took `--` for a
/// comment without the whitespace the server requires after it, and cut the
/// specifications for the shadow inside executable comments. Each statement
/// here is one the server accepts; each broke the online run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_dash_without_space_and_executable_comment_edges_misread_the_alter() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    for (table, sql) in [
        // `5--1` is 5 - -1: the shadow got the specs cut at `(5`.
        (
            "dd_cut",
            "ALTER TABLE dd_cut MODIFY c BIGINT, ADD COLUMN d INT DEFAULT (5--1)",
        ),
        // The rest of the line hid the DROP, so the old `b` fed the new one.
        (
            "dd_drop",
            "ALTER TABLE dd_drop ADD COLUMN d INT DEFAULT (5--1), DROP COLUMN b,\n\
             ADD COLUMN b INT, MODIFY c BIGINT",
        ),
        // The specs ended inside the executable comment, before its `*/`.
        (
            "dd_tail",
            "ALTER TABLE dd_tail MODIFY c BIGINT /*!, ADD COLUMN d INT */",
        ),
        // The specs began inside it, after its `/*!`.
        (
            "dd_head",
            "ALTER TABLE dd_head /*!MODIFY c BIGINT*/, ADD COLUMN d INT",
        ),
    ] {
        sides
            .setup(
                &s,
                &format!(
                    "CREATE TABLE {table} (id INT PRIMARY KEY, b INT, c VARCHAR(10)); \
                     INSERT INTO {table} SELECT seq, seq * 3, seq FROM seq_1_to_300"
                ),
            )
            .await?;
        sides.compare(table, sql).await?;
        let d = show_create(&mut sides.direct, table).await?;
        let t = show_create(&mut sides.tern, table).await?;
        ensure!(d == t, "{sql}:\n directly:     {d}\n through Tern: {t}");
    }
    Ok(())
}
