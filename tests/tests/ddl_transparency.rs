//! Every ALTER the server accepts is accepted through Tern, and every ALTER it
//! refuses gets the server's own error: each case runs directly on the primary
//! (database `side_direct`) and through Tern (database `side_tern`) on fresh
//! tables, and the outcomes are compared: OK or error code and SQLSTATE,
//! affected rows, warnings, SHOW CREATE TABLE afterwards. Where Tern ran a
//! change as sent because it cannot run it online, its Note must come on top
//! of the server's warnings, and be gone after the next other statement.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern::protocol::framing::Packet;
use tern::protocol::session_state::parse_ok;
use tern_tests::cluster::{APP_PASSWORD, APP_USER};

const DIRECT_DB: &str = "side_direct";
const TERN_DB: &str = "side_tern";

type Warning = (String, u32, String);

/// What a statement got back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Affected rows and the OK packet's warning count.
    Ok { affected: u64, warnings: u16 },
    /// The message with each side's database name made the same.
    Err {
        code: u16,
        state: String,
        message: String,
    },
}

async fn answer(conn: &mut Conn, sql: &str) -> Result<Answer> {
    match conn.query_drop(sql).await {
        Ok(()) => Ok(Answer::Ok {
            affected: conn.affected_rows(),
            warnings: conn.get_warnings(),
        }),
        Err(mysql_async::Error::Server(e)) => Ok(Answer::Err {
            code: e.code,
            state: e.state,
            message: same_db(&e.message),
        }),
        Err(e) => Err(e).context(sql.to_string()),
    }
}

/// `text` with each side's database name made the same.
fn same_db(text: &str) -> String {
    text.replace(DIRECT_DB, "db").replace(TERN_DB, "db")
}

/// SHOW WARNINGS with each side's database name made the same.
async fn warnings(conn: &mut Conn) -> Result<Vec<Warning>> {
    let rows: Vec<Warning> = conn.query("SHOW WARNINGS").await?;
    Ok(rows
        .into_iter()
        .map(|(l, c, m)| (l, c, same_db(&m)))
        .collect())
}

async fn warning_counts(conn: &mut Conn) -> Result<(u64, u64)> {
    let shown: Option<u64> = conn.query_first("SHOW COUNT(*) WARNINGS").await?;
    let selected: Option<u64> = conn.query_first("SELECT @@warning_count").await?;
    Ok((shown.unwrap_or(0), selected.unwrap_or(0)))
}

async fn show_create(conn: &mut Conn, table: &str) -> Result<Option<String>> {
    match conn
        .query_first::<(String, String), _>(format!("SHOW CREATE TABLE {table}"))
        .await
    {
        Ok(row) => Ok(row.map(|r| r.1)),
        Err(mysql_async::Error::Server(e)) if e.code == 1146 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

struct Sides {
    direct: Conn,
    tern: Conn,
}

impl Sides {
    async fn open(s: &Setup) -> Result<Sides> {
        let mut admin = s.admin_direct().await?;
        admin
            .query_drop(format!(
                "CREATE DATABASE IF NOT EXISTS {DIRECT_DB}; CREATE DATABASE IF NOT EXISTS {TERN_DB}"
            ))
            .await?;
        let mut direct = s.app_direct().await?;
        direct.query_drop(format!("USE {DIRECT_DB}")).await?;
        let mut tern = Conn::new(s.tern_opts(APP_USER, APP_PASSWORD)).await?;
        tern.query_drop(format!("USE {TERN_DB}")).await?;
        Ok(Sides { direct, tern })
    }

    /// Creates the case's tables on both sides, directly.
    async fn setup(&mut self, s: &Setup, sql: &str) -> Result<()> {
        for db in [DIRECT_DB, TERN_DB] {
            let mut c = s.app_direct().await?;
            c.query_drop(format!("USE {db}")).await?;
            c.query_drop(sql).await.with_context(|| sql.to_string())?;
            c.disconnect().await?;
        }
        Ok(())
    }

    /// Runs `sql` on both sides and checks that Tern answered like the
    /// server, with its Note (whose text must contain `note`) on top when it
    /// ran a change as sent for want of an online way. Returns the answer.
    async fn compare(&mut self, sql: &str, tables: &[&str], note: Option<&str>) -> Result<Answer> {
        let direct = answer(&mut self.direct, sql).await?;
        let direct_warnings = warnings(&mut self.direct).await?;
        let direct_counts = warning_counts(&mut self.direct).await?;
        let through = answer(&mut self.tern, sql).await?;
        let through_warnings = warnings(&mut self.tern).await?;
        let through_counts = warning_counts(&mut self.tern).await?;
        let noted = note.is_some() && matches!(direct, Answer::Ok { .. });
        let extra = u16::from(noted);
        match (&direct, &through) {
            (
                Answer::Ok { affected, warnings },
                Answer::Ok {
                    affected: a,
                    warnings: w,
                },
            ) => {
                ensure!(
                    affected == a,
                    "{sql}: affected rows {affected} directly, {a} through Tern"
                );
                ensure!(
                    *w == warnings + extra,
                    "{sql}: OK warnings {warnings} directly, {w} through Tern"
                );
            }
            (d, t) => ensure!(d == t, "{sql}: {d:?} directly, {t:?} through Tern"),
        }
        let mut expected = direct_warnings.clone();
        if noted {
            let Some(last) = through_warnings.last() else {
                bail!("{sql}: no Note through Tern");
            };
            ensure!(
                last.0 == "Note"
                    && last.1 == 1846
                    && last
                        .2
                        .starts_with("Online ALTER is not supported. Reason: ")
                    && last.2.contains(note.unwrap_or_default()),
                "{sql}: Note {last:?}"
            );
            expected.push(last.clone());
        }
        ensure!(
            through_warnings == expected,
            "{sql}: SHOW WARNINGS {through_warnings:?} through Tern, {direct_warnings:?} directly"
        );
        let plus = u64::from(extra);
        ensure!(
            through_counts == (direct_counts.0 + plus, direct_counts.1 + plus),
            "{sql}: warning counts {through_counts:?} through Tern, {direct_counts:?} directly"
        );
        // Diagnostics statements keep the Note...
        ensure!(
            warnings(&mut self.tern).await? == expected,
            "{sql}: Note lost"
        );
        // ...a statement that reads a table ends it, as it ends the server's
        // own conditions.
        let reset = "SELECT COUNT(*) FROM (SELECT 1) AS t";
        self.direct.query_drop(reset).await?;
        self.tern.query_drop(reset).await?;
        let after_direct = warnings(&mut self.direct).await?;
        let after_tern = warnings(&mut self.tern).await?;
        ensure!(
            after_direct == after_tern,
            "{sql}: after {reset}, {after_tern:?} through Tern, {after_direct:?} directly"
        );
        for table in tables {
            let d = show_create(&mut self.direct, table).await?;
            let t = show_create(&mut self.tern, table).await?;
            ensure!(d == t, "{sql}: {table} differs:\n{d:?}\n{t:?}");
        }
        Ok(direct)
    }
}

fn is_ok(a: &Answer) -> bool {
    matches!(a, Answer::Ok { .. })
}

fn is_err(a: &Answer, want: u16) -> bool {
    matches!(a, Answer::Err { code, .. } if *code == want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_tern_cannot_migrate_online_are_altered_natively_with_a_note() -> Result<()> {
    let (s, http) = Setup::start_with_http(0, &[])?;
    let mut sides = Sides::open(&s).await?;

    // Neither a PRIMARY KEY nor a NOT NULL UNIQUE key, MyISAM (used to be ERROR 1846).
    sides
        .setup(
            &s,
            "CREATE TABLE r1 (a INT, b INT) ENGINE=MyISAM; INSERT INTO r1 VALUES (1, 1), (2, 2)",
        )
        .await?;
    let a = sides
        .compare(
            "CREATE INDEX ia ON r1 (a)",
            &["r1"],
            Some("neither a PRIMARY KEY"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");

    // InnoDB without a usable key: its only UNIQUE key allows NULL.
    sides
        .setup(
            &s,
            "CREATE TABLE nk (a INT, b INT, UNIQUE KEY (b)); INSERT INTO nk VALUES (1, 1), (2, NULL)",
        )
        .await?;
    let a = sides
        .compare(
            "ALTER TABLE nk MODIFY a BIGINT",
            &["nk"],
            Some("neither a PRIMARY KEY"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");

    // A non-transactional engine with a key: its copy could not be verified.
    sides
        .setup(
            &s,
            "CREATE TABLE my (id INT PRIMARY KEY, a INT) ENGINE=MyISAM; INSERT INTO my VALUES (1, 1)",
        )
        .await?;
    let a = sides
        .compare("ALTER TABLE my MODIFY a BIGINT", &["my"], Some("MyISAM"))
        .await?;
    ensure!(is_ok(&a), "{a:?}");

    // A table with a trigger migrates online now: the same answer as the
    // server's, no Note. A change that would move an InnoDB table to MyISAM
    // still runs as sent, with the Note.
    sides
        .setup(
            &s,
            "CREATE TABLE tg (id INT PRIMARY KEY, n INT); CREATE TABLE tg_log (id INT);
             CREATE TRIGGER tg_ai AFTER INSERT ON tg FOR EACH ROW INSERT INTO tg_log VALUES (NEW.id);
             CREATE TABLE to_my (id INT PRIMARY KEY, a INT);",
        )
        .await?;
    let a = sides
        .compare("ALTER TABLE tg MODIFY n BIGINT", &["tg"], None)
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let a = sides
        .compare(
            "ALTER TABLE to_my ENGINE=MyISAM",
            &["to_my"],
            Some("MyISAM"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");

    // What the server refuses gets the server's error, never Tern's 1846.
    sides
        .setup(
            &s,
            "CREATE TABLE d (a INT, b INT); INSERT INTO d VALUES (1, 1), (1, 2);
             CREATE TABLE dk (id INT PRIMARY KEY, a INT); INSERT INTO dk VALUES (1, 5), (2, 5);",
        )
        .await?;
    let a = sides
        .compare("ALTER TABLE d ADD UNIQUE (a)", &["d"], Some("neither"))
        .await?;
    ensure!(is_err(&a, 1062), "{a:?}");
    // The online copy meets the duplicate on Tern's connections: the same
    // error, and the client's SHOW WARNINGS / SHOW ERRORS show it.
    let a = sides
        .compare("ALTER TABLE dk ADD UNIQUE (a)", &["dk"], None)
        .await?;
    ensure!(is_err(&a, 1062), "{a:?}");
    for c in [&mut sides.direct, &mut sides.tern] {
        let _ = c.query_drop("ALTER TABLE dk ADD UNIQUE (a)").await;
    }
    let direct: Vec<Warning> = sides.direct.query("SHOW ERRORS").await?;
    let through: Vec<Warning> = sides.tern.query("SHOW ERRORS").await?;
    ensure!(
        direct == through && direct.len() == 1,
        "{direct:?} {through:?}"
    );
    let direct: Option<u64> = sides.direct.query_first("SELECT @@error_count").await?;
    let through: Option<u64> = sides.tern.query_first("SELECT @@error_count").await?;
    ensure!(
        direct == through && direct == Some(1),
        "{direct:?} {through:?}"
    );
    let a = sides
        .compare("ALTER TABLE d MODIFY nosuch INT", &["d"], None)
        .await?;
    ensure!(is_err(&a, 1054), "{a:?}");

    // A change the server makes instantly needs no Note, on any table.
    let a = sides
        .compare("ALTER TABLE d ADD COLUMN c INT", &["d"], None)
        .await?;
    ensure!(is_ok(&a), "{a:?}");

    // Tern says why in its log, and counts: r1, nk, my, tg, to_my and d's
    // ADD UNIQUE ran as sent (the last one failing as the server said).
    ensure!(
        s.tern.log_contents().contains("ALTER not run online"),
        "no log line for the fallbacks"
    );
    let (_, metrics) = common::http_get(&http, "/metrics").await?;
    ensure!(
        metrics
            .lines()
            .any(|l| l == "tern_ddl_native_fallbacks_total 5"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("fallbacks"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

/// An online ALTER that a row makes fail answers as the native one: the
/// server's error about the copy into the shadow once named the shadow
/// (`CONSTRAINT `CONSTRAINT_1` failed for `db`.`t1_tern1_new``).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_fails_an_online_alter_is_reported_against_the_table_named() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides
        .setup(
            &s,
            "CREATE TABLE ck (id INT, d DATE NOT NULL, b BOOL NOT NULL DEFAULT 0, PRIMARY KEY (id, d));
             INSERT INTO ck VALUES (0, '2000-01-02', 0), (1, '2020-01-02', 10);",
        )
        .await?;
    let a = sides
        .compare("ALTER TABLE ck ADD CHECK (b IN (0, 1))", &["ck"], None)
        .await?;
    ensure!(is_err(&a, 4025), "{a:?}");
    let a = sides
        .compare("ALTER TABLE ck ADD CHECK (b IN (0, 10))", &["ck"], None)
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clauses_that_must_come_last_are_never_reshaped() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides
        .setup(
            &s,
            "CREATE TABLE r9 (id INT PRIMARY KEY, b INT); INSERT INTO r9 VALUES (1, 2), (2, 1);
             CREATE TABLE r9m (id INT, b INT) ENGINE=MyISAM; INSERT INTO r9m VALUES (1, 2), (2, 1);
             CREATE TABLE r3b (id INT PRIMARY KEY, v INT); INSERT INTO r3b VALUES (1, 1), (4, 4);
             CREATE TABLE r3i (id INT PRIMARY KEY, v INT); INSERT INTO r3i VALUES (1, 1), (4, 4);
             CREATE TABLE p (id INT PRIMARY KEY, v INT) PARTITION BY RANGE (id)
                 (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (20));
             INSERT INTO p VALUES (1, 1), (15, 15);",
        )
        .await?;
    // ORDER BY (used to be ERROR 1064: `, ALGORITHM=INSTANT` after it).
    let a = sides
        .compare("ALTER TABLE r9 ORDER BY b", &["r9"], Some("ORDER BY"))
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let a = sides
        .compare("ALTER TABLE r9m ORDER BY b", &["r9m"], Some("ORDER BY"))
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let rows: Vec<(i32, i32)> = sides.tern.query("SELECT id, b FROM r9m").await?;
    ensure!(
        rows == vec![(2, 1), (1, 2)],
        "MyISAM rows not sorted: {rows:?}"
    );
    // PARTITION BY after a table option, MyISAM and InnoDB.
    let a = sides
        .compare(
            "ALTER TABLE r3b ENGINE=MyISAM PARTITION BY RANGE (id) (PARTITION p1 VALUES LESS THAN (5))",
            &["r3b"],
            Some("partitioning"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let a = sides
        .compare(
            "ALTER TABLE r3i PARTITION BY HASH (id) PARTITIONS 2",
            &["r3i"],
            Some("partitioning"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let a = sides
        .compare(
            "ALTER TABLE r3i /*!50100 REMOVE PARTITIONING */",
            &["r3i"],
            Some("partition"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    // CONVERT PARTITION TO TABLE and back.
    let a = sides
        .compare(
            "ALTER TABLE p CONVERT PARTITION p1 TO TABLE p1t",
            &["p", "p1t"],
            Some("partition"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    let a = sides
        .compare(
            "ALTER TABLE p CONVERT TABLE p1t TO PARTITION p1 VALUES LESS THAN (20)",
            &["p", "p1t"],
            Some("partition"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    Ok(())
}

/// `CREATE OR REPLACE` of a table, view, routine or sequence is no index
/// change: it once got a Note 1846 "CREATE OR REPLACE INDEX" (found by
/// MariaDB's own test suite, main.create_drop_function). Only `CREATE OR
/// REPLACE INDEX` runs as sent with the Note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_replace_of_anything_but_an_index_gets_no_note() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    for sql in [
        "CREATE OR REPLACE TABLE cr (id INT PRIMARY KEY, a INT)",
        "CREATE OR REPLACE TABLE cr (id INT PRIMARY KEY, a INT, b INT)",
        "CREATE OR REPLACE VIEW crv AS SELECT 1 AS a",
        "CREATE OR REPLACE FUNCTION crf(s CHAR(20)) RETURNS CHAR(100) DETERMINISTIC RETURN CONCAT('Hello, ', s)",
        "CREATE OR REPLACE FUNCTION crf(s CHAR(20)) RETURNS CHAR(100) DETERMINISTIC RETURN CONCAT('Hello5, ', s)",
        "CREATE OR REPLACE PROCEDURE crp() SELECT 1",
        "CREATE OR REPLACE SEQUENCE crs",
    ] {
        let a = sides.compare(sql, &["cr"], None).await?;
        ensure!(is_ok(&a), "{sql}: {a:?}");
    }
    let a = sides
        .compare(
            "CREATE OR REPLACE INDEX ia ON cr (a)",
            &["cr"],
            Some("CREATE OR REPLACE INDEX"),
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_algorithm_or_lock_gets_the_servers_answer() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides
        .setup(
            &s,
            "CREATE TABLE ai (id INT PRIMARY KEY, a INT); INSERT INTO ai VALUES (1, 1);
             CREATE TABLE pi (pk INT NOT NULL, x INT NOT NULL, v INT, PRIMARY KEY (pk, x))
                 PARTITION BY KEY (pk) PARTITIONS 2;
             INSERT INTO pi VALUES (1, 1, 1), (2, 2, 2);
             CREATE TABLE ln (id INT PRIMARY KEY, a INT); INSERT INTO ln VALUES (1, 1);
             CREATE TABLE ac (id INT PRIMARY KEY, a INT);",
        )
        .await?;
    // Refused by the server: the refusal is the answer (it used to be an online copy).
    for (sql, table) in [
        ("ALTER TABLE ai MODIFY a BIGINT, ALGORITHM=INPLACE", "ai"),
        ("ALTER TABLE pi MODIFY v BIGINT, ALGORITHM=INPLACE", "pi"),
        ("ALTER TABLE ln MODIFY a BIGINT, LOCK=NONE", "ln"),
        ("ALTER ONLINE TABLE ln MODIFY a BIGINT", "ln"),
        (
            "ALTER TABLE ai MODIFY a BIGINT /*!, ALGORITHM=INPLACE */",
            "ai",
        ),
    ] {
        let a = sides.compare(sql, &[table], None).await?;
        ensure!(is_err(&a, 1846), "{sql}: {a:?}");
    }
    // Accepted by the server, as sent, without a Note.
    for (sql, table) in [
        (
            "ALTER TABLE pi DROP PRIMARY KEY, DROP COLUMN x, ADD PRIMARY KEY (pk), ALGORITHM=INPLACE",
            "pi",
        ),
        ("ALTER TABLE ln ADD INDEX (a), LOCK=NONE", "ln"),
        ("CREATE INDEX ia ON ai (a) ALGORITHM=INPLACE LOCK=NONE", "ai"),
        ("ALTER TABLE ai MODIFY a BIGINT, ALGORITHM=COPY", "ai"),
        ("ALTER TABLE ln ADD COLUMN c INT, ALGORITHM=DEFAULT", "ln"),
    ] {
        let a = sides.compare(sql, &[table], None).await?;
        ensure!(is_ok(&a), "{sql}: {a:?}");
    }
    // The words in a string or a comment are not a clause: online, no Note.
    let a = sides
        .compare(
            "ALTER TABLE ac MODIFY a BIGINT COMMENT 'ALGORITHM=INPLACE' /* LOCK=NONE */",
            &["ac"],
            None,
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_schema_alter_runs_natively() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    let sql = "ALTER TABLE mysql.event DROP PRIMARY KEY, ADD PRIMARY KEY(db,name)";
    let before = show_create(&mut sides.direct, "mysql.event").await?;
    // Idempotent: the key it drops is the key it adds. Twice on each side.
    for _ in 0..2 {
        let a = sides.compare(sql, &["mysql.event"], None).await?;
        ensure!(is_ok(&a), "{a:?}");
    }
    ensure!(show_create(&mut sides.direct, "mysql.event").await? == before);
    // `USE mysql` then an unqualified name is a system table too.
    sides.tern.query_drop("USE mysql").await?;
    sides.direct.query_drop("USE mysql").await?;
    let a = sides
        .compare(
            "ALTER TABLE event DROP PRIMARY KEY, ADD PRIMARY KEY(db,name)",
            &["event"],
            None,
        )
        .await?;
    ensure!(is_ok(&a), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_strict_keeps_the_refusal() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE sn (a INT, b INT); INSERT INTO sn VALUES (1, 1);
             CREATE TABLE so (a INT, b INT) ENGINE=MyISAM;",
        )
        .await?;
    let original = show_create(&mut admin, "sn").await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop("SET SESSION tern_ddl = 'online_strict'")
        .await?;
    let (code, state, message) =
        server_error(c.query_drop("ALTER TABLE sn MODIFY a BIGINT").await)?;
    ensure!((code, state.as_str()) == (1846, "0A000"), "{code} {state}");
    ensure!(message.contains("neither a PRIMARY KEY"), "{message}");
    // The refusal is in the session's diagnostics like a server error.
    let shown: Vec<Warning> = c.query("SHOW ERRORS").await?;
    ensure!(
        shown == vec![("Error".to_string(), 1846, message.clone())],
        "{shown:?}"
    );
    ensure!(
        show_create(&mut admin, "sn").await? == original,
        "the table changed"
    );
    // Instant changes are still made on any table.
    c.query_drop("ALTER TABLE sn ADD COLUMN c INT").await?;
    // Back to the default: as sent, with a Note.
    c.query_drop("SET SESSION tern_ddl = DEFAULT").await?;
    c.query_drop("ALTER TABLE sn MODIFY a BIGINT").await?;
    ensure!(c.get_warnings() == 1, "{}", c.get_warnings());

    // The same as the configured default for every session, reloaded on SIGHUP.
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("tern.toml");
    std::fs::write(&config, "tern_ddl = \"online_strict\"\n")?;
    let strict = tern_tests::tern::TernProcess::start(
        &s.cluster,
        &["--config", &config.display().to_string()],
    )?;
    let mut c2 = Conn::new(strict.opts(APP_USER, APP_PASSWORD, Some("app"))).await?;
    let (code, _, _) = server_error(c2.query_drop("CREATE INDEX ia ON so (a)").await)?;
    ensure!(code == 1846, "{code}");
    std::fs::write(&config, "tern_ddl = \"online\"\n")?;
    tern_tests::process::send_signal(strict.pid(), libc::SIGHUP)?;
    common::eventually(Duration::from_secs(10), "the reload", || async {
        Ok(strict
            .log_contents()
            .contains("migration settings reloaded"))
    })
    .await?;
    // The open session did not choose a mode: it follows the setting.
    c2.query_drop("CREATE INDEX ia ON so (a)").await?;
    let notes: Vec<Warning> = c2.query("SHOW WARNINGS").await?;
    ensure!(
        notes.len() == 1 && notes[0].0 == "Note" && notes[0].1 == 1846,
        "{notes:?}"
    );
    // A session's own choice outranks the setting.
    c2.query_drop("SET SESSION tern_ddl = 'online_strict'")
        .await?;
    let (code, _, _) = server_error(c2.query_drop("CREATE INDEX ib ON so (b)").await)?;
    ensure!(code == 1846, "{code}");
    // A bad value is refused like the server refuses a bad value.
    let (code, _, _) = server_error(c2.query_drop("SET SESSION tern_ddl = 'strictish'").await)?;
    ensure!(code == 1231, "{code}");
    Ok(())
}

/// One whole answer to a COM_QUERY, for a client with or without DEPRECATE_EOF.
async fn raw_answer(c: &mut common::RawClient, deprecate_eof: bool) -> Result<Vec<Packet>> {
    let first = c.read().await?;
    let columns = match first.payload.first() {
        Some(0x00 | 0xFF) => return Ok(vec![first]),
        Some(&n) if n < 0xFB => n,
        other => bail!("unexpected first packet {other:?}"),
    };
    let mut out = vec![first];
    for _ in 0..columns {
        out.push(c.read().await?);
    }
    if !deprecate_eof {
        out.push(c.read().await?);
    }
    loop {
        let p = c.read().await?;
        let end = match p.payload.first() {
            Some(0xFF) => true,
            Some(0xFE) => deprecate_eof || p.payload.len() < 9,
            _ => false,
        };
        out.push(p);
        if end {
            return Ok(out);
        }
    }
}

async fn raw_query(
    c: &mut common::RawClient,
    sql: &str,
    deprecate_eof: bool,
) -> Result<Vec<Packet>> {
    c.send(0, &common::com_query(sql)).await?;
    raw_answer(c, deprecate_eof).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_warnings_keeps_the_servers_bytes_and_appends_the_note() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut sides = Sides::open(&s).await?;
    sides
        .setup(
            &s,
            "CREATE TABLE rw (id INT PRIMARY KEY, b INT); INSERT INTO rw VALUES (1, 2)",
        )
        .await?;
    const CLIENT_DEPRECATE_EOF: u32 = 0x0100_0000;
    for deprecate_eof in [false, true] {
        let caps = if deprecate_eof {
            CLIENT_DEPRECATE_EOF
        } else {
            0
        };
        let port = s.cluster.primary().port();
        let mut d =
            common::RawClient::login(port, APP_USER, APP_PASSWORD, Some(DIRECT_DB), caps).await?;
        let mut t =
            common::RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(TERN_DB), caps)
                .await?;
        let alter = "ALTER TABLE rw ORDER BY b";
        let d_ok = raw_query(&mut d, alter, deprecate_eof).await?;
        let t_ok = raw_query(&mut t, alter, deprecate_eof).await?;
        let (Some(dp), Some(tp)) = (d_ok.first(), t_ok.first()) else {
            bail!("no answer");
        };
        let (Some(dv), Some(tv)) = (parse_ok(&dp.payload), parse_ok(&tp.payload)) else {
            bail!("not OK: {dp:?} {tp:?}");
        };
        ensure!(
            (dv.affected_rows, dv.status, dv.info) == (tv.affected_rows, tv.status, tv.info)
                && tv.warnings == dv.warnings + 1
                && dv.warnings == 1,
            "OK {dp:?} directly, {tp:?} through Tern"
        );
        // SHOW WARNINGS: the server's packets, then the Note's row, then the
        // server's end packet one sequence id later.
        let dw = raw_query(&mut d, "SHOW WARNINGS", deprecate_eof).await?;
        let tw = raw_query(&mut t, "SHOW WARNINGS", deprecate_eof).await?;
        ensure!(
            tw.len() == dw.len() + 1,
            "{} packets directly, {} through Tern",
            dw.len(),
            tw.len()
        );
        let n = dw.len() - 1;
        for (a, b) in dw[..n].iter().zip(&tw[..n]) {
            ensure!(
                a.seq == b.seq && a.payload == b.payload,
                "{a:?} directly, {b:?} through Tern"
            );
        }
        let note = &tw[n];
        ensure!(note.seq == dw[n].seq, "note row seq {}", note.seq);
        let text = String::from_utf8_lossy(&note.payload);
        ensure!(
            note.payload.starts_with(b"\x04Note\x041846")
                && text.contains("ORDER BY")
                && text.contains("Online ALTER is not supported"),
            "{text}"
        );
        ensure!(
            tw[n + 1].payload == dw[n].payload && tw[n + 1].seq == dw[n].seq.wrapping_add(1),
            "end packet {:?} directly, {:?} through Tern",
            dw[n],
            tw[n + 1]
        );
        // SHOW COUNT(*) WARNINGS: the same packets, the count one higher.
        let dc = raw_query(&mut d, "SHOW COUNT(*) WARNINGS", deprecate_eof).await?;
        let tc = raw_query(&mut t, "SHOW COUNT(*) WARNINGS", deprecate_eof).await?;
        ensure!(dc.len() == tc.len(), "{dc:?} {tc:?}");
        for (i, (a, b)) in dc.iter().zip(&tc).enumerate() {
            if i == dc.len() - 2 {
                ensure!(
                    a.payload[..] == b"\x011"[..] && b.payload[..] == b"\x012"[..],
                    "{a:?} {b:?}"
                );
            } else {
                ensure!(
                    a.seq == b.seq && a.payload == b.payload,
                    "{a:?} directly, {b:?} through Tern"
                );
            }
        }
    }
    Ok(())
}
