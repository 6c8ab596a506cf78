//! Reading and waiting on migrations from a test: `SHOW TERN MIGRATIONS`
//! rows, states, the async ALTER's id, `SHOW CREATE TABLE`, Tern's JSON API.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// Columns of `SHOW TERN MIGRATIONS`, by position.
pub const COL_STATE: usize = 3;
pub const COL_ROWS_COPIED: usize = 4;
pub const COL_ROWS_TOTAL: usize = 5;
pub const COL_THROTTLED: usize = 13;
pub const COL_ERROR: usize = 14;

/// The `SHOW TERN MIGRATIONS` row of migration `id`, as text.
pub async fn migration_row(c: &mut Conn, id: u64) -> Result<Vec<Option<String>>> {
    let rows: Vec<mysql_async::Row> = c.query("SHOW TERN MIGRATIONS").await?;
    for row in rows {
        let values: Vec<Option<String>> = (0..row.len())
            .map(|i| row.get::<Option<String>, _>(i).flatten())
            .collect();
        if values.first().cloned().flatten() == Some(id.to_string()) {
            return Ok(values);
        }
    }
    bail!("migration {id} not listed")
}

/// Column `i` of a row, empty for NULL.
pub fn column(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// Waits up to `bound` until migration `id` is in state `want`; returns its
/// row. A migration that ends in another state fails the wait at once.
pub async fn wait_for_state(
    c: &mut Conn,
    id: u64,
    want: &str,
    bound: Duration,
) -> Result<Vec<Option<String>>> {
    let deadline = Instant::now() + bound;
    loop {
        let row = migration_row(c, id).await?;
        let state = column(&row, COL_STATE);
        if state == want {
            return Ok(row);
        }
        ensure!(
            !["done", "failed", "cancelled"].contains(&state.as_str()),
            "migration {id} ended before reaching {want}: {row:?}"
        );
        ensure!(
            Instant::now() < deadline,
            "migration {id} never reached {want}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends an async ALTER (`/* tern:async */`) and returns its migration id.
pub async fn start_async(c: &mut Conn, sql: &str) -> Result<u64> {
    let id: Option<String> = c.query_first(sql).await?;
    Ok(id.context("no migration id")?.parse()?)
}

pub async fn show_create(conn: &mut Conn, table: &str) -> Result<String> {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await?;
    Ok(row.context("no such table")?.1)
}

/// Waits until the one old table whose name is LIKE `like` has moved out of
/// the application's schema into Tern's (where a finished migration's
/// previous table is kept); returns its qualified name.
pub async fn parked_old_table(admin: &mut Conn, like: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<(String, String)> = admin
            .exec(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA IN ('app', '_tern') AND TABLE_NAME LIKE ?",
                (like,),
            )
            .await?;
        if let [(schema, name)] = found.as_slice() {
            if schema == "_tern" {
                return Ok(format!("`_tern`.`{name}`"));
            }
        }
        ensure!(
            Instant::now() < deadline,
            "old table {like} not parked in _tern: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain HTTP/1.1 GET of a JSON document.
pub async fn get_json(addr: &str, path: &str) -> Result<serde_json::Value> {
    let (_, body) = super::http_get(addr, path).await?;
    super::json_of(&body)
}

/// Whether `table` exists in the connection's default schema.
pub async fn table_exists(c: &mut Conn, table: &str) -> Result<bool> {
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (table,),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// Waits until Tern (`/api/status` at `http`) sees its first replica more than
/// `over_ms` behind: a stopped replica's lag grows, but a throttle check
/// only sees it once Tern's monitor has.
pub async fn replica_lag_seen(http: &str, over_ms: u64) -> Result<()> {
    super::eventually(
        Duration::from_secs(30),
        "Tern to see the replica lag",
        || async {
            let (_, body) = super::http_get(http, "/api/status").await?;
            let status = super::json_of(&body)?;
            Ok(status["replicas"][0]["lag_ms"]
                .as_u64()
                .is_some_and(|lag| lag > over_ms))
        },
    )
    .await
}
