//! Replica health and positions, kept fresh by polling.
//!
//! One task per server. The primary's task records `@@gtid_binlog_pos` with the
//! time it was seen; a replica's task records `@@gtid_slave_pos` (what its SQL
//! thread applied) and whether its IO and SQL threads run. A replica's lag is the
//! age of the oldest primary position it has not applied yet: a GTID measure in
//! milliseconds, not the server's whole-second `Seconds_Behind_Master`.
//!
//! A replica is in the rotation while it answers, both threads run and its lag
//! stays within the configured bound. Sessions that wait on a replica and
//! succeed also advance its known position ([`ReplicaHealth::note_applied`]), so
//! the view is often fresher than the polling interval.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::gtid::GtidSet;

/// How much primary history is kept for lag measurement. Beyond it a replica's
/// lag is reported as at least this old, which is past any sensible bound.
pub const LAG_HISTORY: Duration = Duration::from_secs(120);

/// A replica's last known state.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    pub reachable: bool,
    pub io_running: bool,
    pub sql_running: bool,
    /// `Last_SQL_Errno`: non-zero once the SQL thread stopped on an error.
    pub sql_errno: u32,
    /// Since when the monitor has seen replication not applying (see
    /// [`ReplicaStatus::applier_stopped`]); `None` while it applies.
    pub applier_stopped_since: Option<Instant>,
    pub applied: GtidSet,
    pub lag_ms: u64,
    pub last_error: Option<String>,
    pub checked_at: Option<Instant>,
}

impl Default for ReplicaStatus {
    fn default() -> Self {
        Self {
            reachable: false,
            io_running: false,
            sql_running: false,
            sql_errno: 0,
            applier_stopped_since: None,
            applied: GtidSet::new(),
            lag_ms: u64::MAX,
            last_error: Some("not checked yet".into()),
            checked_at: None,
        }
    }
}

impl ReplicaStatus {
    /// Replication is not bringing this replica closer to the primary: the SQL
    /// thread is stopped or stopped on an error, or the IO thread is not
    /// running (stopped, or still `Connecting`), so nothing new reaches it.
    /// Waiting for such a replica to catch up waits for an operator.
    pub fn applier_stopped(&self) -> bool {
        !self.io_running || !self.sql_running || self.sql_errno != 0
    }

    /// What [`ReplicaStatus::applier_stopped`] saw, in words.
    pub fn applier_state(&self) -> String {
        let mut parts = Vec::new();
        if self.sql_errno != 0 {
            parts.push(format!("SQL thread stopped on error {}", self.sql_errno));
        } else if !self.sql_running {
            parts.push("SQL thread not running".to_string());
        }
        if !self.io_running {
            parts.push("IO thread not running".to_string());
        }
        if parts.is_empty() {
            "replicating".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Shared, lock-protected state of one replica. Critical sections are a clone or
/// a field update, so a std lock is fine on async paths.
#[derive(Debug, Default)]
pub struct ReplicaHealth {
    status: RwLock<ReplicaStatus>,
    max_lag_ms: u64,
}

impl ReplicaHealth {
    pub fn new(max_lag_ms: u64) -> Self {
        Self {
            status: RwLock::new(ReplicaStatus::default()),
            max_lag_ms,
        }
    }

    pub fn snapshot(&self) -> ReplicaStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn is_healthy(&self) -> bool {
        self.status
            .read()
            .map(|s| s.reachable && s.io_running && s.sql_running && s.lag_ms <= self.max_lag_ms)
            .unwrap_or(false)
    }

    /// Has this replica applied everything in `required`?
    pub fn has_applied(&self, required: &GtidSet) -> bool {
        self.status
            .read()
            .map(|s| s.applied.contains_set(required))
            .unwrap_or(false)
    }

    /// A session saw this replica reach `position` (its wait succeeded).
    pub fn note_applied(&self, position: &GtidSet) {
        if let Ok(mut s) = self.status.write() {
            s.applied.merge(position);
        }
    }

    /// Takes the replica out of the rotation until the next successful check
    /// (a session could not reach it).
    pub fn mark_unreachable(&self, why: String) {
        if let Ok(mut s) = self.status.write() {
            s.reachable = false;
            s.last_error = Some(why);
        }
    }

    fn update(&self, f: impl FnOnce(&mut ReplicaStatus)) {
        if let Ok(mut s) = self.status.write() {
            f(&mut s);
        }
    }

    pub fn lag_ms(&self) -> u64 {
        self.status.read().map(|s| s.lag_ms).unwrap_or(u64::MAX)
    }
}

/// The primary's recent positions, newest last.
#[derive(Debug, Default)]
pub struct PrimaryHistory {
    positions: RwLock<VecDeque<(Instant, GtidSet)>>,
    /// The primary reports each commit's GTID in OK packets (`last_gtid` is in
    /// its `session_track_system_variables`). Until a check says so, Tern
    /// assumes it does not.
    gtids_tracked: std::sync::atomic::AtomicBool,
}

impl PrimaryHistory {
    pub fn gtids_tracked(&self) -> bool {
        self.gtids_tracked
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn record(&self, at: Instant, position: GtidSet) {
        if let Ok(mut h) = self.positions.write() {
            if h.back().is_some_and(|(_, last)| *last == position) {
                return;
            }
            h.push_back((at, position));
            while h
                .front()
                .is_some_and(|(t, _)| at.duration_since(*t) > LAG_HISTORY)
                && h.len() > 1
            {
                h.pop_front();
            }
        }
    }

    pub fn latest(&self) -> Option<GtidSet> {
        self.positions.read().ok()?.back().map(|(_, p)| p.clone())
    }

    /// Milliseconds since the primary first had a position `applied` lacks.
    pub fn lag_ms(&self, applied: &GtidSet, now: Instant) -> u64 {
        let Ok(h) = self.positions.read() else {
            return u64::MAX;
        };
        // Positions only grow, so the first one not contained is the oldest missing.
        match h.iter().find(|(_, p)| !applied.contains_set(p)) {
            None => 0,
            Some((t, _)) => now.duration_since(*t).as_millis() as u64,
        }
    }
}

/// Admin connection options for one server.
pub fn admin_opts(addr: &str, user: &str, password: &str) -> mysql_async::Opts {
    let (host, port) = addr
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse::<u16>().unwrap_or(3306)))
        .unwrap_or_else(|| (addr.to_string(), 3306));
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(user.to_string()))
        .pass(Some(password.to_string()))
        .prefer_socket(false)
        .into()
}

/// Bound on one health check, so a hung server is seen as unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The monitor's connection, opened again after a failure.
async fn connected<'c>(
    conn: &'c mut Option<mysql_async::Conn>,
    opts: &mysql_async::Opts,
) -> Result<&'c mut mysql_async::Conn, mysql_async::Error> {
    if conn.is_none() {
        *conn = Some(mysql_async::Conn::new(opts.clone()).await?);
    }
    conn.as_mut().ok_or(mysql_async::Error::Driver(
        mysql_async::DriverError::PoolDisconnected,
    ))
}

/// Polls the primary's binlog position forever.
pub async fn watch_primary(
    opts: mysql_async::Opts,
    history: Arc<PrimaryHistory>,
    interval: Duration,
) {
    let mut conn: Option<mysql_async::Conn> = None;
    let mut reported_untracked: Option<bool> = None;
    loop {
        let result = tokio::time::timeout(CHECK_TIMEOUT, async {
            let c = connected(&mut conn, &opts).await?;
            let row: Option<(String, String)> = c
                .query_first(
                    "SELECT @@global.gtid_binlog_pos, @@global.session_track_system_variables",
                )
                .await?;
            Ok::<_, mysql_async::Error>(row.unwrap_or_default())
        })
        .await;
        match result {
            Ok(Ok((text, tracked))) => {
                let has = tracked.split(',').any(|v| {
                    let v = v.trim();
                    v == "*" || v.eq_ignore_ascii_case("last_gtid")
                });
                history
                    .gtids_tracked
                    .store(has, std::sync::atomic::Ordering::Relaxed);
                if has && reported_untracked == Some(true) {
                    tracing::info!(
                        "the primary tracks last_gtid again; new sessions read with session consistency"
                    );
                }
                if !has && reported_untracked != Some(true) {
                    tracing::warn!(
                        "the primary does not track last_gtid in session_track_system_variables; \
                         read-your-writes falls back to global consistency (a primary round trip per replica read)"
                    );
                }
                reported_untracked = Some(!has);
                match GtidSet::parse(&text) {
                    Ok(pos) => history.record(Instant::now(), pos),
                    Err(e) => tracing::warn!(error = %e, "unreadable primary GTID position"),
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "primary position check failed");
                conn = None;
            }
            Err(_) => conn = None,
        }
        tokio::time::sleep(interval).await;
    }
}

/// Polls one replica forever.
pub async fn watch_replica(
    addr: String,
    opts: mysql_async::Opts,
    health: Arc<ReplicaHealth>,
    primary: Arc<PrimaryHistory>,
    interval: Duration,
) {
    let mut conn: Option<mysql_async::Conn> = None;
    let mut was_healthy = None;
    loop {
        let result = tokio::time::timeout(CHECK_TIMEOUT, async {
            let c = connected(&mut conn, &opts).await?;
            let status: Option<mysql_async::Row> = c.query_first("SHOW SLAVE STATUS").await?;
            let applied: Option<String> = c.query_first("SELECT @@global.gtid_slave_pos").await?;
            Ok::<_, mysql_async::Error>((status, applied.unwrap_or_default()))
        })
        .await;
        let now = Instant::now();
        match result {
            Ok(Ok((status, applied_text))) => {
                let thread = |row: &Option<mysql_async::Row>, col: &str| {
                    row.as_ref()
                        .and_then(|r| r.get_opt::<String, _>(col))
                        .and_then(Result::ok)
                        .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
                };
                let io = thread(&status, "Slave_IO_Running");
                let sql = thread(&status, "Slave_SQL_Running");
                let sql_errno = status
                    .as_ref()
                    .and_then(|r| r.get_opt::<u32, _>("Last_SQL_Errno"))
                    .and_then(Result::ok)
                    .unwrap_or(0);
                let applied = GtidSet::parse(&applied_text).unwrap_or_default();
                health.update(|s| {
                    s.reachable = true;
                    s.io_running = io;
                    s.sql_running = sql;
                    s.sql_errno = sql_errno;
                    s.applier_stopped_since = if s.applier_stopped() {
                        s.applier_stopped_since.or(Some(now))
                    } else {
                        None
                    };
                    // Keep what sessions learned if it is ahead of the poll.
                    s.applied.merge(&applied);
                    s.lag_ms = primary.lag_ms(&s.applied, now);
                    s.last_error = (!io || !sql).then(|| {
                        if status.is_none() {
                            "not a replica".to_string()
                        } else {
                            format!("replication threads: io={io} sql={sql}")
                        }
                    });
                    s.checked_at = Some(now);
                });
            }
            Ok(Err(e)) => {
                conn = None;
                health.update(|s| {
                    s.reachable = false;
                    s.last_error = Some(e.to_string());
                    s.checked_at = Some(now);
                });
            }
            Err(_) => {
                conn = None;
                health.update(|s| {
                    s.reachable = false;
                    s.last_error = Some("health check timed out".into());
                    s.checked_at = Some(now);
                });
            }
        }
        let healthy = health.is_healthy();
        if was_healthy != Some(healthy) {
            let st = health.snapshot();
            if healthy {
                tracing::info!(replica = %addr, lag_ms = st.lag_ms, "replica in rotation");
            } else {
                tracing::warn!(replica = %addr, lag_ms = st.lag_ms, reason = ?st.last_error, "replica out of rotation");
            }
            was_healthy = Some(healthy);
        }
        tokio::time::sleep(interval).await;
    }
}

/// Reads the primary's current binlog position for reads that must see
/// everything committed before them (`global` consistency), on Tern's own
/// connections so that no client session runs a statement it did not send.
pub struct PrimaryPosition {
    pool: mysql_async::Pool,
}

/// Connections kept for position reads; more concurrent global reads queue.
const POSITION_CONNECTIONS: usize = 8;

impl PrimaryPosition {
    pub fn new(opts: mysql_async::Opts) -> Self {
        let constraints =
            mysql_async::PoolConstraints::new(0, POSITION_CONNECTIONS).unwrap_or_default();
        let opts = mysql_async::OptsBuilder::from_opts(opts)
            .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
        PrimaryPosition {
            pool: mysql_async::Pool::new(opts),
        }
    }

    /// The position now, or `None` when the primary cannot tell within
    /// `CHECK_TIMEOUT` (the caller then runs the read on the primary).
    pub async fn current(&self) -> Option<GtidSet> {
        let text = tokio::time::timeout(CHECK_TIMEOUT, async {
            let mut conn = self.pool.get_conn().await?;
            conn.query_first::<String, _>("SELECT @@global.gtid_binlog_pos")
                .await
        })
        .await
        .ok()?
        .ok()??;
        GtidSet::parse(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_age_of_oldest_missing_primary_position() {
        let h = PrimaryHistory::default();
        let t0 = Instant::now();
        h.record(t0, GtidSet::parse("0-1-10").expect("pos"));
        h.record(
            t0 + Duration::from_millis(100),
            GtidSet::parse("0-1-20").expect("pos"),
        );
        h.record(
            t0 + Duration::from_millis(200),
            GtidSet::parse("0-1-30").expect("pos"),
        );
        let now = t0 + Duration::from_millis(250);
        assert_eq!(h.lag_ms(&GtidSet::parse("0-1-30").expect("pos"), now), 0);
        assert_eq!(h.lag_ms(&GtidSet::parse("0-1-25").expect("pos"), now), 50);
        assert_eq!(h.lag_ms(&GtidSet::parse("0-1-10").expect("pos"), now), 150);
        assert_eq!(h.lag_ms(&GtidSet::new(), now), 250);
    }

    #[test]
    fn health_needs_threads_and_bounded_lag() {
        let r = ReplicaHealth::new(1000);
        assert!(!r.is_healthy());
        r.update(|s| {
            s.reachable = true;
            s.io_running = true;
            s.sql_running = true;
            s.lag_ms = 10;
        });
        assert!(r.is_healthy());
        r.update(|s| s.lag_ms = 5000);
        assert!(!r.is_healthy());
        r.update(|s| s.lag_ms = 0);
        r.mark_unreachable("gone".into());
        assert!(!r.is_healthy());
        r.note_applied(&GtidSet::parse("0-1-5").expect("pos"));
        assert!(r.has_applied(&GtidSet::parse("0-1-4").expect("pos")));
    }
}
