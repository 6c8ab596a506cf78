//! The throttler: the copier waits while a replica lags or the primary is busy.
//!
//! Replica lag is the monitor's GTID-based figure in milliseconds (how long ago
//! the primary had the position the replica has applied), so it is measured
//! the same way as for read routing. Load is the primary's `Threads_running`,
//! read in the same status query as InnoDB's checkpoint age and history
//! length, which the throttle hands on to the pace (`pace`) without judging
//! them itself. Only the copier waits; change capture and applying keep going, because
//! falling behind the binlog would make the cut-over longer.
//!
//! Two bounds keep a throttle from lasting forever:
//!
//! - A replica whose replication does not apply (SQL thread stopped or stopped
//!   on an error, IO thread not running) will not catch up by itself, however
//!   long the copy waits. Once the monitor has seen it so for the replica grace
//!   (`--migration-replica-grace-secs`), it leaves the throttle's set; it comes
//!   back as soon as both threads run again, and its lag then throttles the copy
//!   as before until it has caught up. Each change is logged once per Tern
//!   instance, not once per migration. An unreachable replica was never in the
//!   set: its lag is unknown.
//! - The runner fails a migration whose copy stays throttled, without copying a
//!   chunk, for longer than `--migration-max-throttle-secs` (see `runner`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::pace::ServerPressure;
use super::MigrateError;
use crate::backend::monitor::{ReplicaHealth, ReplicaStatus};

/// Replicas currently left out of the throttle, by address; shared by every
/// migration of the engine so that leaving and coming back are logged once.
pub type IgnoredReplicas = Arc<Mutex<BTreeSet<String>>>;

pub struct Throttle {
    pub replicas: Vec<(String, Arc<ReplicaHealth>)>,
    pub max_lag_ms: u64,
    pub max_threads_running: u64,
    /// How long a replica may not apply before it leaves the throttle's set.
    pub replica_grace: Duration,
    pub ignored: IgnoredReplicas,
}

/// One look at the throttle's inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why the copier should wait now, if it should.
    pub reason: Option<String>,
    /// Replicas left out because their replication stopped, with what stopped.
    pub ignored: Vec<String>,
    /// The largest lag among the replicas the throttle watches, for display.
    pub lag_ms: u64,
    /// What InnoDB said about its redo log and purge, for the pace (`None`
    /// when the server does not report them, as MySQL does not).
    pub pressure: Option<ServerPressure>,
}

/// What the throttle makes of one replica.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Its lag is unknown: not part of the decision.
    Unreachable,
    /// Not applying for longer than the grace: left out.
    Ignored,
    /// Watched; `stopped_for` is how long it has not applied, if it has not.
    Watched { stopped_for: Option<Duration> },
}

fn standing(status: &ReplicaStatus, grace: Duration) -> Standing {
    if !status.reachable {
        return Standing::Unreachable;
    }
    match status.applier_stopped_since {
        Some(since) if status.applier_stopped() => {
            let stopped_for = since.elapsed();
            if stopped_for >= grace {
                Standing::Ignored
            } else {
                Standing::Watched {
                    stopped_for: Some(stopped_for),
                }
            }
        }
        _ => Standing::Watched { stopped_for: None },
    }
}

struct ServerStatus {
    threads_running: u64,
    pressure: Option<ServerPressure>,
}

/// The primary's load and InnoDB pressure, in one status read.
async fn server_status(conn: &mut Conn) -> Result<ServerStatus, MigrateError> {
    let rows: Vec<(String, String)> = conn
        .all_as(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_running', \
             'Innodb_checkpoint_age', 'Innodb_checkpoint_max_age', 'Innodb_history_list_length', \
             'Innodb_lsn_current')",
        )
        .await?;
    let value = |name: &str| {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let pressure = match (
        value("Innodb_checkpoint_age"),
        value("Innodb_checkpoint_max_age"),
    ) {
        (Some(checkpoint_age), Some(checkpoint_max_age)) => Some(ServerPressure {
            checkpoint_age,
            checkpoint_max_age,
            history_length: value("Innodb_history_list_length").unwrap_or(0),
            lsn: value("Innodb_lsn_current").unwrap_or(0),
        }),
        _ => None,
    };
    Ok(ServerStatus {
        threads_running: value("Threads_running").unwrap_or(0),
        pressure,
    })
}

/// How many status reads make the pressure before a copy, and how far apart:
/// the checkpoint age swings with the page cleaner's flushes, so one read
/// could land in a trough and take the workload's usual level for the copy's.
const PRESSURE_SAMPLES: u32 = 5;
const PRESSURE_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The highest checkpoint age and history length over half a second of reads,
/// taken before the copy's first chunk (`None`: the server does not say).
pub async fn pressure_before_copy(conn: &mut Conn) -> Result<Option<ServerPressure>, MigrateError> {
    let mut highest: Option<ServerPressure> = None;
    for sample in 0..PRESSURE_SAMPLES {
        if sample > 0 {
            tokio::time::sleep(PRESSURE_SAMPLE_EVERY).await;
        }
        let Some(now) = server_status(conn).await?.pressure else {
            return Ok(None);
        };
        highest = Some(match highest {
            None => now,
            Some(h) => ServerPressure {
                checkpoint_age: h.checkpoint_age.max(now.checkpoint_age),
                checkpoint_max_age: now.checkpoint_max_age,
                history_length: h.history_length.max(now.history_length),
                lsn: now.lsn,
            },
        });
    }
    Ok(highest)
}

/// How much redo the server has written (`Innodb_lsn_current`; `None`: not
/// reported), read after a chunk to learn its redo per row.
pub async fn lsn_now(conn: &mut Conn) -> Result<Option<u64>, MigrateError> {
    let row: Option<(String, String)> = conn
        .first_as("SHOW GLOBAL STATUS LIKE 'Innodb\\_lsn\\_current'")
        .await?;
    Ok(row.and_then(|(_, v)| v.parse().ok()))
}

impl Throttle {
    /// Looks at every replica and at the primary's load.
    pub async fn check(&self, conn: &mut Conn) -> Result<Verdict, MigrateError> {
        let mut verdict = Verdict::default();
        for (addr, health) in &self.replicas {
            let status = health.snapshot();
            match standing(&status, self.replica_grace) {
                Standing::Unreachable => {}
                Standing::Ignored => {
                    self.note(addr, Some(&status));
                    verdict
                        .ignored
                        .push(format!("{addr} ({})", status.applier_state()));
                }
                Standing::Watched { stopped_for } => {
                    self.note(addr, None);
                    verdict.lag_ms = verdict.lag_ms.max(status.lag_ms);
                    if status.lag_ms > self.max_lag_ms && verdict.reason.is_none() {
                        let mut reason = format!("replica {addr} is {} ms behind", status.lag_ms);
                        if let Some(stopped_for) = stopped_for {
                            let left = self.replica_grace.saturating_sub(stopped_for);
                            reason.push_str(&format!(
                                " ({}; ignored in {} s)",
                                status.applier_state(),
                                left.as_secs() + u64::from(left.subsec_nanos() > 0)
                            ));
                        }
                        verdict.reason = Some(reason);
                    }
                }
            }
        }
        let status = server_status(conn).await?;
        verdict.pressure = status.pressure;
        if verdict.reason.is_none()
            && self.max_threads_running > 0
            && status.threads_running > self.max_threads_running
        {
            verdict.reason = Some(format!(
                "primary has {} threads running",
                status.threads_running
            ));
        }
        Ok(verdict)
    }

    /// Records whether `addr` is left out (`Some` with its status) or watched,
    /// logging the change.
    fn note(&self, addr: &str, ignored: Option<&ReplicaStatus>) {
        let mut set = self.ignored.lock().unwrap_or_else(|e| e.into_inner());
        match ignored {
            Some(status) => {
                if set.insert(addr.to_string()) {
                    tracing::warn!(
                        replica = %addr,
                        state = %status.applier_state(),
                        grace_secs = self.replica_grace.as_secs(),
                        "replica left the copy throttle: its replication has not applied for longer than the grace"
                    );
                }
            }
            None => {
                if set.remove(addr) {
                    tracing::info!(replica = %addr, "replica back in the copy throttle: its replication applies again");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::errcode::ER_DUP_ENTRY;
    use std::time::Instant;

    fn replicating() -> ReplicaStatus {
        ReplicaStatus {
            reachable: true,
            io_running: true,
            sql_running: true,
            ..ReplicaStatus::default()
        }
    }

    #[test]
    fn a_replica_that_stopped_applying_is_ignored_after_the_grace() {
        let grace = Duration::from_secs(30);
        let ok = replicating();
        assert_eq!(
            standing(&ok, grace),
            Standing::Watched { stopped_for: None }
        );

        let mut sql_stopped = replicating();
        sql_stopped.sql_running = false;
        sql_stopped.applier_stopped_since = Some(Instant::now());
        assert!(matches!(
            standing(&sql_stopped, grace),
            Standing::Watched {
                stopped_for: Some(_)
            }
        ));
        let Some(long_ago) = Instant::now().checked_sub(Duration::from_secs(31)) else {
            return;
        };
        sql_stopped.applier_stopped_since = Some(long_ago);
        assert_eq!(standing(&sql_stopped, grace), Standing::Ignored);

        let mut errored = replicating();
        errored.sql_errno = u32::from(ER_DUP_ENTRY);
        errored.applier_stopped_since = Some(long_ago);
        assert_eq!(standing(&errored, grace), Standing::Ignored);
        assert!(errored.applier_state().contains("error 1062"));

        let mut io_stopped = replicating();
        io_stopped.io_running = false;
        io_stopped.applier_stopped_since = Some(long_ago);
        assert_eq!(standing(&io_stopped, grace), Standing::Ignored);

        let mut gone = sql_stopped.clone();
        gone.reachable = false;
        assert_eq!(standing(&gone, grace), Standing::Unreachable);

        // Replicating again: watched at once, whatever the old timestamp says.
        let mut back = replicating();
        back.applier_stopped_since = Some(long_ago);
        assert_eq!(
            standing(&back, grace),
            Standing::Watched { stopped_for: None }
        );
    }
}
