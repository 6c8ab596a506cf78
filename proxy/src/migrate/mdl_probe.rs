//! Whether an exclusive metadata lock request waits on a table that Tern
//! holds with `LOCK TABLES ... WRITE`.
//!
//! A statement's metadata lock requests are sorted by schema and name and
//! taken one after the other, so a RENAME of several tables has a pending
//! request only on the first one it cannot have yet. Letting a table go
//! before the RENAME waits on it lets the writes queued behind the table
//! lock in first; letting it go while the RENAME waits on it hands the table
//! to the RENAME, since a pending exclusive request outranks the writes
//! queued with it.
//!
//! The probe: `PREPARE` of a read takes the weakest metadata lock
//! (`MDL_SHARED`), which a granted `LOCK TABLES ... WRITE` lets through and
//! only a pending exclusive request holds back. With `lock_wait_timeout = 0`
//! the prepare is refused with ER_LOCK_WAIT_TIMEOUT exactly when such a
//! request waits. The statement is prepared, never run: the probe reads
//! nothing and holds its lock only for the prepare.
//!
//! Invariant: [`exclusive_waits_on`] answers true only after the server
//! refused the probe for that table; any other answer or error is false.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::time::Instant;

use super::conn::engine_conn;
use super::table::qualified;
use super::MigrateError;
use crate::protocol::errcode::ER_LOCK_WAIT_TIMEOUT;

/// How often the probe looks again.
const POLL: Duration = Duration::from_millis(1);

/// A connection for [`exclusive_waits_on`]: a lock it cannot have at once is
/// refused at once.
pub async fn connect(opts: &Opts) -> Result<Conn, MigrateError> {
    let mut probe = engine_conn(opts, "").await?;
    probe
        .query_drop("SET SESSION lock_wait_timeout = 0")
        .await?;
    Ok(probe)
}

/// Whether, by `deadline`, an exclusive metadata lock request waits on
/// `schema.table` (module doc). `probe` comes from [`connect`].
pub async fn exclusive_waits_on(
    probe: &mut Conn,
    schema: &str,
    table: &str,
    deadline: Instant,
) -> bool {
    let read = format!("SELECT 1 FROM {}", qualified(schema, table));
    let prepare = format!(
        "PREPARE tern_lock_probe FROM {}",
        crate::sql::string_literal(&read)
    );
    loop {
        match probe.query_drop(&prepare).await {
            Err(mysql_async::Error::Server(e)) if e.code == ER_LOCK_WAIT_TIMEOUT => return true,
            Ok(()) => {}
            // The table is gone or cannot be read: nothing will wait on it.
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}
