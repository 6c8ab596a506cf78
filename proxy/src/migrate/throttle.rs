//! The throttler: the copier waits while a replica lags or the primary is busy.
//!
//! Replica lag is the monitor's GTID-based figure in milliseconds (how long ago
//! the primary had the position the replica has applied), so it is measured
//! the same way as for read routing. Load is the primary's `Threads_running`.
//! Only the copier waits; change capture and applying keep going, because
//! falling behind the binlog would make the cut-over longer.

use std::sync::Arc;

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::MigrateError;
use crate::backend::monitor::ReplicaHealth;

pub struct Throttle {
    pub replicas: Vec<(String, Arc<ReplicaHealth>)>,
    pub max_lag_ms: u64,
    pub max_threads_running: u64,
}

impl Throttle {
    /// Why the copier should wait now, if it should.
    pub async fn reason(&self, conn: &mut Conn) -> Result<Option<String>, MigrateError> {
        for (addr, health) in &self.replicas {
            let status = health.snapshot();
            if status.reachable && status.lag_ms > self.max_lag_ms {
                return Ok(Some(format!(
                    "replica {addr} is {} ms behind",
                    status.lag_ms
                )));
            }
        }
        if self.max_threads_running > 0 {
            let row: Option<(String, String)> = conn
                .first_as("SHOW GLOBAL STATUS LIKE 'Threads_running'")
                .await?;
            let running: u64 = row.and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            if running > self.max_threads_running {
                return Ok(Some(format!("primary has {running} threads running")));
            }
        }
        Ok(None)
    }

    /// The largest lag among reachable replicas, for display.
    pub fn max_lag_ms(&self) -> u64 {
        self.replicas
            .iter()
            .map(|(_, h)| h.snapshot())
            .filter(|s| s.reachable)
            .map(|s| s.lag_ms)
            .max()
            .unwrap_or(0)
    }
}
