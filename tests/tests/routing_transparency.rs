//! Reads that write, and reads that ask about the session: each statement runs
//! directly on the primary and through Tern (with a healthy replica), and the
//! two must agree. The replica runs `read_only=ON` and the app user lacks
//! READ_ONLY ADMIN, so a write Tern sent to the replica fails loudly; the row
//! counts on both servers show that every write reached the primary once and
//! the replica only by replication.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, WHOAMI};

struct Ids {
    primary: u32,
    replica: u32,
}

async fn replica_admin(s: &Setup) -> Result<Conn> {
    Ok(Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, None)).await?)
}

/// Functions that write are created with binary logging on: every server
/// (the replica replays the CREATE) must allow it.
async fn create_schema(s: &Setup) -> Result<Conn> {
    let trust = "SET GLOBAL log_bin_trust_function_creators = 1";
    replica_admin(s).await?.query_drop(trust).await?;
    let mut admin = s.admin_direct().await?;
    admin.query_drop(trust).await?;
    admin.query_drop(SCHEMA).await?;
    Ok(admin)
}

async fn ids(s: &Setup) -> Result<Ids> {
    let mut p = s.admin_direct().await?;
    let mut r = replica_admin(s).await?;
    let q = format!("SELECT {WHOAMI}");
    let primary: u32 = p.query_first(&q).await?.context("primary id")?;
    let replica: u32 = r.query_first(&q).await?.context("replica id")?;
    ensure!(primary != replica);
    Ok(Ids { primary, replica })
}

/// Which server answers `SELECT <expr>, WHOAMI` through `c`.
async fn answered_by(c: &mut Conn, expr: &str) -> Result<u32> {
    let row: Option<(Value, u32)> = c.query_first(format!("SELECT {expr}, {WHOAMI}")).await?;
    Ok(row.context("no row")?.1)
}

/// Waits until a read that calls a read-only stored function reaches the
/// replica: the replica is healthy and Tern's catalog is loaded.
async fn until_catalog_lets_reads_through(s: &Setup, ids: &Ids) -> Result<()> {
    let mut c = s.app_via_tern().await?;
    for _ in 0..200 {
        if answered_by(&mut c, "f_nosql()").await? == ids.replica {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "reads calling a NO SQL function never reached the replica:\n{}",
        s.tern.log_tail()
    )
}

/// Waits until `SELECT <expr>` through `c` is answered by the replica.
async fn until_read_reaches_replica(c: &mut Conn, expr: &str, ids: &Ids) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while answered_by(c, expr).await? != ids.replica {
        ensure!(
            std::time::Instant::now() < deadline,
            "SELECT {expr} never reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// What a statement returned, comparable across servers: rows as text, or
/// the error code.
async fn outcome(c: &mut Conn, sql: &str) -> std::result::Result<Vec<Vec<Value>>, u16> {
    match c.query::<Row, _>(sql).await {
        Ok(rows) => Ok(rows.into_iter().map(|r| r.unwrap()).collect()),
        Err(mysql_async::Error::Server(e)) => Err(e.code),
        Err(e) => panic!("{sql}: {e}"),
    }
}

async fn count(c: &mut Conn, table: &str) -> Result<i64> {
    let n: Option<i64> = c
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .await?;
    n.context("count")
}

async fn replica_sql_error(r: &mut Conn) -> Result<(String, u32)> {
    let row: Row = r
        .query_first("SHOW SLAVE STATUS")
        .await?
        .context("no slave status")?;
    let running: String = row.get("Slave_SQL_Running").context("Slave_SQL_Running")?;
    let errno: u32 = row.get("Last_SQL_Errno").context("Last_SQL_Errno")?;
    Ok((running, errno))
}

const SCHEMA: &str = "
CREATE TABLE app.r6 (id INT AUTO_INCREMENT PRIMARY KEY, v INT);
CREATE FUNCTION app.f6() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO r6 (v) VALUES (1); RETURN 1; END;
CREATE FUNCTION app.f_liar() RETURNS INT READS SQL DATA BEGIN INSERT INTO r6 (v) VALUES (2); RETURN 2; END;
CREATE FUNCTION app.f_default() RETURNS INT BEGIN INSERT INTO r6 (v) VALUES (3); RETURN 3; END;
CREATE FUNCTION app.f_calls() RETURNS INT NO SQL RETURN f6() + 1;
CREATE FUNCTION app.f_nosql() RETURNS INT NO SQL RETURN 42;
CREATE FUNCTION app.f_reads() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) >= 0 FROM r6);
CREATE VIEW app.v6 AS SELECT f6() AS x;
CREATE VIEW app.v_over_v6 AS SELECT x FROM v6;
CREATE VIEW app.v_reads AS SELECT f_reads() AS x;
CREATE SEQUENCE app.s1;
";

/// Statements that look like reads and write through a stored function: each
/// inserts exactly one row into `r6`.
const WRITES_THROUGH_FUNCTIONS: &[&str] = &[
    "SELECT f6()",
    "SELECT app.f6()",
    "SELECT `f6`()",
    "SELECT f6 ()",
    "SELECT /*!50000 f6() */",
    "SELECT 1 FROM DUAL WHERE f6() > 0",
    "SELECT 1 UNION SELECT f6()",
    "WITH c AS (SELECT f6() AS x) SELECT * FROM c",
    "VALUES (f6())",
    "(SELECT f6())",
    "SELECT x FROM (SELECT f6() AS x) AS d",
    "SELECT f_nosql(), f6()",
    "SELECT f_liar()",
    "SELECT f_default()",
    "SELECT f_calls()",
    "SELECT * FROM v6",
    "SELECT * FROM app.v6",
    "SELECT * FROM v_over_v6",
    "SET STATEMENT max_statement_time = 10 FOR SELECT f6()",
];

/// Statements that change the session or the server without a table write;
/// through Tern they must succeed as directly (on the replica the sequence
/// ones fail with read_only; the session ones leave their effect where the
/// session cannot see it, checked below).
const OTHER_WRITES: &[&str] = &[
    "SELECT NEXTVAL(s1) > 0",
    "SELECT NEXT VALUE FOR s1 > 0",
    "SELECT SETVAL(s1, 1000)",
    "SELECT GET_LOCK('rt_lock', 0)",
    "SELECT RELEASE_LOCK('rt_lock')",
    "SELECT LAST_INSERT_ID(77)",
    "SELECT 5 INTO @into_var",
    "SELECT @assigned := 6",
    "SELECT id FROM r6 ORDER BY id LIMIT 1 FOR UPDATE",
    "SELECT id FROM r6 ORDER BY id LIMIT 1 LOCK IN SHARE MODE",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_write_never_run_on_a_replica() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    let mut admin = create_schema(&s).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_catalog_lets_reads_through(&s, &ids).await?;
    let mut replica = replica_admin(&s).await?;

    for sql in WRITES_THROUGH_FUNCTIONS {
        let before = count(&mut admin, "app.r6").await?;
        let mut direct = s.app_direct().await?;
        let mut tern = s.app_via_tern().await?;
        let expected = outcome(&mut direct, sql).await;
        let got = outcome(&mut tern, sql).await;
        assert_eq!(got, expected, "{sql}: Tern and the server disagree");
        assert!(expected.is_ok(), "{sql}: {expected:?}");
        let after = count(&mut admin, "app.r6").await?;
        assert_eq!(
            after,
            before + 2,
            "{sql}: the primary did not get both writes"
        );
    }
    for sql in OTHER_WRITES {
        let mut direct = s.app_direct().await?;
        let expected = outcome(&mut direct, sql).await;
        // Its locks and session end before Tern's session starts.
        direct.disconnect().await?;
        let mut tern = s.app_via_tern().await?;
        let got = outcome(&mut tern, sql).await;
        assert_eq!(
            got.is_ok(),
            expected.is_ok(),
            "{sql}: {got:?} vs {expected:?}"
        );
    }
    // The session effects are where the session sees them.
    let mut tern = s.app_via_tern().await?;
    tern.query_drop("SELECT 5 INTO @into_var").await?;
    tern.query_drop("SELECT LAST_INSERT_ID(77)").await?;
    let seen: Option<(i64, i64)> = tern
        .query_first("SELECT @into_var, LAST_INSERT_ID()")
        .await?;
    assert_eq!(seen, Some((5, 77)));
    tern.query_drop("SELECT GET_LOCK('held_by_tern_session', 0)")
        .await?;
    let holder: Option<Option<u64>> = admin
        .query_first("SELECT IS_USED_LOCK('held_by_tern_session')")
        .await?;
    assert!(
        matches!(holder, Some(Some(_))),
        "the lock is not held on the primary"
    );

    // The replica applied every write by replication and nothing else.
    s.cluster.wait_replicas_caught_up(Duration::from_secs(20))?;
    assert_eq!(
        count(&mut replica, "app.r6").await?,
        count(&mut admin, "app.r6").await?,
        "the replica diverged"
    );
    assert_eq!(replica_sql_error(&mut replica).await?, ("Yes".into(), 0));

    // Reads the catalog vouches for still go to the replica.
    let mut c = s.app_via_tern().await?;
    for expr in [
        "f_nosql()",
        "f_reads()",
        "app.f_reads() + 1",
        "(SELECT x FROM v_reads)",
    ] {
        assert_eq!(answered_by(&mut c, expr).await?, ids.replica, "{expr}");
    }
    Ok(())
}

/// A function created or replaced through Tern is judged by its new
/// definition from the next statement on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_replaced_through_tern_is_judged_again_at_once() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    let mut admin = create_schema(&s).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_catalog_lets_reads_through(&s, &ids).await?;

    let mut c = s.app_via_tern().await?;
    c.query_drop("CREATE FUNCTION f7() RETURNS INT NO SQL RETURN 7")
        .await?;
    let prepared = c.prep("SELECT f7()").await?;
    c.query_drop(
        "CREATE OR REPLACE FUNCTION f7() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO r6 (v) VALUES (7); RETURN 7; END",
    )
    .await?;
    let before = count(&mut admin, "app.r6").await?;
    let v: Option<i64> = c.query_first("SELECT f7()").await?;
    assert_eq!(v, Some(7));
    // A statement prepared while f7 was read-only: its executes are judged again.
    let v: Option<i64> = c.exec_first(&prepared, ()).await?;
    assert_eq!(v, Some(7));
    assert_eq!(count(&mut admin, "app.r6").await?, before + 2);
    s.cluster.wait_replicas_caught_up(Duration::from_secs(20))?;
    let mut replica = replica_admin(&s).await?;
    assert_eq!(replica_sql_error(&mut replica).await?, ("Yes".into(), 0));
    Ok(())
}

/// `@@` variables and session functions are answered by the session's own
/// primary connection, with the values a direct session gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_facts_come_from_the_primary_session() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    create_schema(&s).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_catalog_lets_reads_through(&s, &ids).await?;

    let setup = "SET @uv = 11; SET SESSION sql_mode = 'ANSI_QUOTES'; \
                 INSERT INTO r6 (v) VALUES (9)";
    let mut direct = s.app_direct().await?;
    let mut tern = s.app_via_tern().await?;
    direct.query_drop(setup).await?;
    tern.query_drop(setup).await?;
    for expr in [
        "@@datadir",
        "@@server_id",
        "@@hostname",
        "@@session.sql_mode",
        "@@sql_mode",
        "@@warning_count",
        "DATABASE()",
        "SCHEMA()",
        "USER() LIKE 'app@%'",
        "CURRENT_USER()",
        "CURRENT_USER",
        "VERSION()",
        "@uv",
        "IS_USED_LOCK('nobody_holds_this')",
    ] {
        assert_eq!(
            answered_by(&mut tern, expr).await?,
            ids.primary,
            "{expr} answered by the replica"
        );
        let q = format!("SELECT {expr}");
        assert_eq!(
            outcome(&mut tern, &q).await,
            outcome(&mut direct, &q).await,
            "{expr}"
        );
    }
    // Functions about the previous statement and the connection go to the
    // primary too.
    for expr in [
        "CONNECTION_ID()",
        "LAST_INSERT_ID()",
        "ROW_COUNT()",
        "FOUND_ROWS()",
    ] {
        assert_eq!(
            answered_by(&mut tern, expr).await?,
            ids.primary,
            "{expr} answered by the replica"
        );
    }
    Ok(())
}

/// In `global` consistency Tern reads the primary's position on a connection of
/// its own: the client's session never runs a statement it did not send (the
/// primary's general log shows every statement of the session's thread). A
/// session that turns on profiling stays on the primary, so `SHOW PROFILES`
/// lists its reads as it would without Tern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_statements_never_run_in_the_clients_session() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    let mut admin = create_schema(&s).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_catalog_lets_reads_through(&s, &ids).await?;
    admin
        .query_drop("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1")
        .await?;

    let mut c = s.app_via_tern().await?;
    c.query_drop("SET tern_consistency = 'global'").await?;
    c.query_drop("INSERT INTO r6 (v) VALUES (1)").await?;
    let thread: u64 = c
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .context("thread")?;
    let mut served_by_replica = 0;
    for _ in 0..5 {
        let server: Option<u32> = c
            .query_first(format!("SELECT {WHOAMI} FROM r6 LIMIT 1"))
            .await?;
        if server == Some(ids.replica) {
            served_by_replica += 1;
        }
    }
    assert!(served_by_replica > 0, "no global read reached the replica");
    admin.query_drop("SET GLOBAL general_log = 0").await?;
    let foreign: Vec<String> = admin
        .exec(
            "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log \
             WHERE thread_id = ? AND command_type = 'Query' \
             AND (argument LIKE '%gtid_binlog_pos%' OR argument LIKE '%GTID_WAIT%')",
            (thread,),
        )
        .await?;
    assert!(
        foreign.is_empty(),
        "Tern's statements in the client's session: {foreign:?}"
    );
    let seen: Option<i64> = admin
        .exec_first(
            "SELECT COUNT(*) FROM mysql.general_log WHERE thread_id = ? AND argument LIKE 'INSERT INTO r6%'",
            (thread,),
        )
        .await?;
    assert_eq!(
        seen,
        Some(1),
        "the general log does not show the session's own statement"
    );

    // Profiling pins the session: its reads are in its own SHOW PROFILES.
    let mut p = s.app_via_tern().await?;
    p.query_drop("SET profiling = 1").await?;
    let server: Option<u32> = p
        .query_first(format!("SELECT {WHOAMI} FROM r6 LIMIT 1"))
        .await?;
    assert_eq!(
        server,
        Some(ids.primary),
        "a profiled read left the primary"
    );
    let profiles: Vec<Row> = p.query("SHOW PROFILES").await?;
    let texts: Vec<String> = profiles
        .iter()
        .filter_map(|r| r.get::<String, _>("Query"))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("FROM r6 LIMIT 1")),
        "the read is missing from SHOW PROFILES: {texts:?}"
    );
    Ok(())
}

/// Session state a replica's connection cannot be given keeps the session's
/// reads on the primary, so they answer as the session would. Found by
/// MariaDB's own suite run through Tern: a `SET` from a user variable was not
/// replayed (replicas lack the variable), so the replica kept the old value
/// (type_newdecimal, ctype_cp1250_ch); `sql_auto_is_null` lookups went to a
/// replica that knows no last insert id (odbc); an XPath reading `$@i` went
/// to a replica that has no `@i` (xml).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_replicas_lack_keeps_reads_on_the_primary() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    create_schema(&s).await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    until_catalog_lets_reads_through(&s, &ids).await?;

    // A session variable set back from a user variable, one statement at a time.
    let mut direct = s.app_direct().await?;
    let mut tern = s.app_via_tern().await?;
    for sql in [
        "SET @saved = @@div_precision_increment",
        "SET div_precision_increment = 15",
    ] {
        direct.query_drop(sql).await?;
        tern.query_drop(sql).await?;
    }
    ensure!(
        answered_by(&mut tern, "1/3").await? == ids.replica,
        "a replayable SET should leave reads on the replica"
    );
    let restore = "SET div_precision_increment = @saved";
    direct.query_drop(restore).await?;
    tern.query_drop(restore).await?;
    let third = "SELECT 1/3";
    ensure!(
        outcome(&mut tern, third).await == outcome(&mut direct, third).await,
        "{third}: {:?} through Tern, {:?} directly",
        outcome(&mut tern, third).await,
        outcome(&mut direct, third).await
    );
    ensure!(answered_by(&mut tern, "1/3").await? == ids.primary);

    // sql_auto_is_null: `WHERE key IS NULL` finds the session's last insert.
    let mut tern = s.app_via_tern().await?;
    tern.query_drop("CREATE TABLE ain (a INT AUTO_INCREMENT PRIMARY KEY, b INT)")
        .await?;
    tern.query_drop("SET sql_auto_is_null = 1").await?;
    tern.query_drop("INSERT INTO ain SET b = 2").await?;
    let id = tern.last_insert_id().context("insert id")?;
    let found: Vec<(u64, i64)> = tern.query("SELECT a, b FROM ain WHERE a IS NULL").await?;
    ensure!(found == [(id, 2)], "{found:?}");

    // An XPath that reads a user variable.
    let mut direct = s.app_direct().await?;
    let mut tern = s.app_via_tern().await?;
    let xpath = "SELECT ExtractValue('<a><b>b1</b><b>b2</b></a>', '/a/b[$@i]')";
    direct.query_drop("SET @i = 2").await?;
    tern.query_drop("SET @i = 2").await?;
    ensure!(
        outcome(&mut tern, xpath).await == outcome(&mut direct, xpath).await,
        "{xpath}: {:?} through Tern",
        outcome(&mut tern, xpath).await
    );
    Ok(())
}

/// A statement that fails may still leave rows behind (a multi-row INSERT into
/// a MyISAM table keeps those before the duplicate), and its error reports no
/// GTID: the next read must still see them. Found by MariaDB's own suite
/// through Tern (check_constraint, auto_increment); here the replica's
/// applier is stopped so that a read there could only be stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_a_failed_statement_left_are_read_back() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    let mut tern = s.app_via_tern().await?;
    tern.query_drop("CREATE TABLE part_rows (a INT PRIMARY KEY) ENGINE=MyISAM")
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let count = "SELECT COUNT(*) FROM part_rows";
    until_read_reaches_replica(&mut tern, "(SELECT COUNT(*) FROM part_rows)", &ids).await?;
    let mut replica = replica_admin(&s).await?;
    replica.query_drop("STOP SLAVE SQL_THREAD").await?;
    let failed = tern
        .query_drop("INSERT INTO part_rows VALUES (1), (2), (1)")
        .await;
    ensure!(
        matches!(&failed, Err(mysql_async::Error::Server(e)) if e.code == 1062),
        "{failed:?}"
    );
    let seen: Option<i64> = tern.query_first(count).await?;
    replica.query_drop("START SLAVE SQL_THREAD").await?;
    ensure!(seen == Some(2), "{count} through Tern: {seen:?}");
    Ok(())
}

/// `SELECT @@warning_count` and `SELECT FOUND_ROWS()` describe the previous
/// statement: after a read on a replica they are answered there, as `SHOW
/// WARNINGS` is, not by the primary session that did not run the read. Found
/// by MariaDB's own suite through Tern (show, empty_table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_about_a_replica_read_are_answered_where_it_ran() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let ids = ids(&s).await?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.fr (a INT PRIMARY KEY, b CHAR(1));
             INSERT INTO app.fr VALUES (1, 'x'), (2, 'y'), (3, 'z');",
        )
        .await?;
    s.cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let mut direct = s.app_direct().await?;
    let mut tern = s.app_via_tern().await?;
    until_read_reaches_replica(&mut tern, "(SELECT COUNT(*) FROM fr)", &ids).await?;
    for (read, question) in [
        ("SELECT * FROM fr WHERE b = 1e0", "SELECT @@warning_count"),
        ("SELECT * FROM fr", "SELECT FOUND_ROWS()"),
        (
            "SELECT * FROM fr WHERE b = 1e0",
            "SELECT @@session.error_count",
        ),
    ] {
        let mut answers = Vec::new();
        for c in [&mut direct, &mut tern] {
            c.query_drop(read).await?;
            answers.push(outcome(c, question).await);
        }
        ensure!(
            answers[0] == answers[1],
            "{question} after {read}: {:?} directly, {:?} through Tern",
            answers[0],
            answers[1]
        );
    }
    Ok(())
}
