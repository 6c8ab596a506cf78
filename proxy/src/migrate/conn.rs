//! Connections to the primary for the engine's own statements.
//!
//! Invariant: every connection that reads or writes rows is set up by
//! [`engine_conn`] (raw-byte results, READ COMMITTED, the client's sql_mode),
//! so the copier, the applier and the checksum convert values the same way.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::MigrateError;

/// Opens a connection set up the way every engine statement expects: results
/// as raw bytes (key literals are built from them), READ COMMITTED (copy reads
/// take no locks), and the client's sql_mode.
pub async fn engine_conn(opts: &Opts, sql_mode: &str) -> Result<Conn, MigrateError> {
    let mut conn = connect(opts).await?;
    conn.query_drop("SET NAMES utf8mb4").await?;
    conn.query_drop("SET character_set_results = binary")
        .await?;
    conn.exec_drop("SET SESSION sql_mode = ?", (sql_mode,))
        .await?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await?;
    Ok(conn)
}

/// Connection attempts before a connect failure is the migration's failure: a
/// busy server can drop a connection during its handshake.
const CONNECT_ATTEMPTS: u32 = 3;
const CONNECT_RETRY: Duration = Duration::from_millis(200);

/// Opens a connection, trying again after a failure that is not the server's
/// answer (a refused login is final; a dropped handshake is not).
pub async fn connect(opts: &Opts) -> Result<Conn, MigrateError> {
    let mut attempt = 1;
    loop {
        match Conn::new(opts.clone()).await {
            Ok(c) => return Ok(c),
            Err(mysql_async::Error::Server(e)) => return Err(mysql_async::Error::Server(e).into()),
            Err(e) if attempt < CONNECT_ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "connecting to the primary again");
                attempt += 1;
                tokio::time::sleep(CONNECT_RETRY).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
