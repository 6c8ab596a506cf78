//! The old-table sweeper: drops each cut-over's old table once its keep time
//! (`keep_old`) has passed.
//!
//! Invariant: it drops only tables the control table records as a finished
//! migration's old table and past their keep time, and marks each dropped in
//! the same row, so no other table is ever dropped and none twice. (The
//! keeper drops one sooner, the same way, when the live table is gone.)

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::conn::connect;
use super::engine::Engine;
use super::{store, table, MigrateError};

/// How often the old-table sweeper looks for tables past their keep time: a
/// quarter of the keep time, within these bounds.
const SWEEP_INTERVAL_MIN: Duration = Duration::from_secs(1);
const SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(60);

/// Starts the sweeper as a task of its own, for the life of the process.
pub(super) fn spawn(engine: Arc<Engine>) {
    let interval = (engine.settings().keep_old / 4).clamp(SWEEP_INTERVAL_MIN, SWEEP_INTERVAL_MAX);
    tokio::spawn(async move {
        loop {
            if let Err(e) = sweep_old_tables(&engine).await {
                tracing::warn!(error = %e, "cannot drop old tables");
            }
            tokio::time::sleep(interval).await;
        }
    });
}

async fn sweep_old_tables(engine: &Engine) -> Result<(), MigrateError> {
    let mut conn = connect(&engine.opts).await?;
    for (id, schema, old) in
        store::old_tables_due(&mut conn, engine.settings().keep_old.as_secs()).await?
    {
        drop_old_table(&mut conn, id, &schema, &old).await?;
        tracing::info!(migration = id, table = %crate::logsafe::untrusted(&old), "dropped the old table after its keep time");
    }
    let _ = conn.disconnect().await;
    Ok(())
}

/// Drops migration `id`'s old table `old` (none when `old` is empty), beside
/// its table in `schema` or parked in Tern's schema (see `keeper`), and
/// records it dropped.
pub(super) async fn drop_old_table(
    conn: &mut Conn,
    id: u64,
    schema: &str,
    old: &str,
) -> Result<(), MigrateError> {
    if !old.is_empty() {
        conn.query_drop(format!(
            "DROP TABLE IF EXISTS {}, {}",
            table::qualified(schema, old),
            table::qualified(store::CONTROL_SCHEMA, old)
        ))
        .await?;
    }
    store::mark_old_dropped(conn, id).await
}
