//! mysql_async through Tern and directly: the same columns (every metadata field
//! the driver decodes), values, errors, affected rows, insert ids and warnings.

mod common;

use anyhow::Result;
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};

/// What one statement produced, rendered with the driver's own Debug output so
/// that any field the driver decodes takes part in the comparison.
async fn run_text(conn: &mut Conn, sql: &str) -> String {
    match conn.query_iter(sql).await {
        Err(e) => format!("{sql}\n  error: {e:?}\n"),
        Ok(mut result) => {
            let mut out = format!("{sql}\n");
            loop {
                let columns = result.columns();
                match result.collect::<mysql_async::Row>().await {
                    Ok(rows) => {
                        if let Some(cols) = columns {
                            for c in cols.iter() {
                                out.push_str(&format!("  col {c:?}\n"));
                            }
                        }
                        for r in rows {
                            let vals: Vec<Value> = r.unwrap();
                            out.push_str(&format!("  row {vals:?}\n"));
                        }
                    }
                    Err(e) => out.push_str(&format!("  error: {e:?}\n")),
                }
                out.push_str(&format!(
                    "  affected={} insert_id={:?} warnings={} info={:?}\n",
                    result.affected_rows(),
                    result.last_insert_id(),
                    result.warnings(),
                    result.info()
                ));
                if result.is_empty() {
                    break;
                }
            }
            out
        }
    }
}

async fn run_binary(conn: &mut Conn, sql: &str, params: Params) -> String {
    match conn.exec_iter(sql, params).await {
        Err(e) => format!("{sql} (binary)\n  error: {e:?}\n"),
        Ok(mut result) => {
            let mut out = format!("{sql} (binary)\n");
            let columns = result.columns();
            match result.collect::<mysql_async::Row>().await {
                Ok(rows) => {
                    if let Some(cols) = columns {
                        for c in cols.iter() {
                            out.push_str(&format!("  col {c:?}\n"));
                        }
                    }
                    for r in rows {
                        let vals: Vec<Value> = r.unwrap();
                        out.push_str(&format!("  row {vals:?}\n"));
                    }
                }
                Err(e) => out.push_str(&format!("  error: {e:?}\n")),
            }
            out.push_str(&format!(
                "  affected={} insert_id={:?} warnings={}\n",
                result.affected_rows(),
                result.last_insert_id(),
                result.warnings()
            ));
            out
        }
    }
}

const SETUP: &str = "CREATE TABLE every_type (
    id INT AUTO_INCREMENT PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT, biu BIGINT UNSIGNED,
    de DECIMAL(30,10), f FLOAT, d DOUBLE, b1 BIT(1), b17 BIT(17),
    dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(6), y YEAR,
    c CHAR(5), vc VARCHAR(50), bin BINARY(4), vb VARBINARY(10),
    tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
    l1 VARCHAR(20) CHARACTER SET latin1, u8 VARCHAR(20) CHARACTER SET utf8mb4,
    j JSON, e ENUM('a','b','c'), st SET('x','y','z'), u UUID, i6 INET6, g POINT,
    CHECK (i IS NULL OR i >= -1000000)
)";

const ROWS: &str = "INSERT INTO every_type (ti, tiu, si, mi, i, bi, biu, de, f, d, b1, b17, dt, dtm, ts, tm, y, c, vc, bin, vb,
    tt, tx, mt, lt, tb, bl, mb, lb, l1, u8, j, e, st, u, i6, g) VALUES
    (-128, 255, -32768, -8388608, -1000000, -9223372036854775808, 18446744073709551615, -12345678901234567890.0123456789,
     3.25, -2.5e300, b'1', b'10101010101010101', '2024-02-29', '2024-02-29 23:59:59.123456', '2024-01-01 00:00:00.5',
     '-838:59:59.000000', 2155, 'abc', 'hello', x'00ff10', x'deadbeef', 'tiny', 'text', 'medium', 'long',
     x'00', x'ff00fe', x'0102', x'c328', 'caf\u{e9}', '🦀 crab', '{\"k\": [1, 2, null]}', 'b', 'x,z',
     '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1', POINT(1, 2)),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', 0, '0000-00-00', '0000-00-00 00:00:00', NULL, '-00:00:01.5', 0, '', '', '', '',
     '', '', '', '', '', '', '', '', '', '', '[]', 'a', '', '00000000-0000-0000-0000-000000000000', '::', POINT(0, 0))";

fn battery() -> Vec<&'static str> {
    vec![
        "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'",
        SETUP,
        ROWS,
        "SELECT * FROM every_type ORDER BY id",
        "SELECT id, ST_AsText(g), HEX(b17), CAST(j AS CHAR) FROM every_type ORDER BY id",
        "INSERT INTO every_type (i) VALUES (1), (2), (3)",
        "UPDATE every_type SET vc = 'same' WHERE i IN (1, 2)",
        "UPDATE every_type SET vc = 'same' WHERE i IN (1, 2)",
        "INSERT INTO every_type (id, i) VALUES (1, 5) ON DUPLICATE KEY UPDATE i = 6",
        "DELETE FROM every_type WHERE i = 3",
        "INSERT INTO every_type (id) VALUES (1)",
        "SELECT no_such_column FROM every_type",
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'custom failure'",
        "INSERT INTO every_type (i) VALUES (-2000000)",
        "SELECT 1/0, CAST('12abc' AS SIGNED)",
        "SHOW WARNINGS",
        "INSERT INTO every_type (c) VALUES ('toolongvalue')",
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES'",
        "INSERT INTO every_type (c) VALUES ('toolongvalue')",
        "SELECT 1 AS a; SELECT 2 AS b, 'two' AS c; DO 3",
        "SELECT LAST_INSERT_ID(), ROW_COUNT(), FOUND_ROWS()",
        "SET NAMES latin1",
        "SELECT l1, u8 FROM every_type WHERE id = 1",
        "SET NAMES utf8mb4",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_sees_the_same_results_through_tern() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE DATABASE direct_db; CREATE DATABASE tern_db")
        .await?;
    let mut transcripts = Vec::new();
    for (db, via_tern) in [("direct_db", false), ("tern_db", true)] {
        let opts = if via_tern {
            s.tern.opts(
                tern_tests::cluster::APP_USER,
                tern_tests::cluster::APP_PASSWORD,
                Some(db),
            )
        } else {
            s.cluster.primary().opts(
                tern_tests::cluster::APP_USER,
                tern_tests::cluster::APP_PASSWORD,
                Some(db),
            )
        };
        let mut conn = Conn::new(opts).await?;
        let mut t = String::new();
        for sql in battery() {
            t.push_str(&run_text(&mut conn, sql).await);
        }
        t.push_str(
            &run_binary(
                &mut conn,
                "SELECT * FROM every_type WHERE id <= ? ORDER BY id",
                Params::Positional(vec![3.into()]),
            )
            .await,
        );
        t.push_str(
            &run_binary(
                &mut conn,
                "SELECT ?, ?, ?, ?, ?",
                Params::Positional(vec![
                    Value::NULL,
                    Value::Bytes(b"\x00\xff".to_vec()),
                    Value::Int(-5),
                    Value::Double(1.5),
                    Value::Date(2024, 2, 29, 12, 30, 1, 5),
                ]),
            )
            .await,
        );
        t.push_str(
            &run_binary(
                &mut conn,
                "INSERT INTO every_type (i, vc) VALUES (?, ?)",
                Params::Positional(vec![77.into(), "bound".into()]),
            )
            .await,
        );
        t.push_str(&run_binary(&mut conn, "SELECT no_such FROM every_type", Params::Empty).await);
        transcripts.push(t.replace(db, "<db>"));
    }
    let direct = &transcripts[0];
    let through = &transcripts[1];
    assert!(
        direct.contains("Server(ServerError { code: 4025"),
        "CHECK violation missing:\n{direct}"
    );
    assert!(direct.contains("code: 1644"), "SIGNAL missing");
    assert!(direct.contains("code: 1406"), "strict truncation missing");
    if direct != through {
        for (a, b) in direct.lines().zip(through.lines()) {
            if a != b {
                panic!("first difference:\n direct: {a}\n  tern:  {b}");
            }
        }
        panic!("transcripts differ in length");
    }
    Ok(())
}
