//! The engine's settings and their defaults.
//!
//! Invariant: a running migration reads them afresh at every step (a SIGHUP
//! replaces them whole), so no step keeps a value past its own use.

use std::time::Duration;

use super::pace::PaceLimits;
use super::plan;

/// Engine settings; see the README's configuration table for the reasons behind the defaults.
#[derive(Debug, Clone)]
pub struct MigrateSettings {
    /// Target time of one copy chunk.
    pub chunk_target: Duration,
    /// Longest time client writes to a table are held by a freeze.
    pub hold_bound: Duration,
    pub max_lag_ms: u64,
    pub max_threads_running: u64,
    /// How long the old table is kept after a cut-over.
    pub keep_old: Duration,
    /// How long a replica whose replication does not apply keeps throttling
    /// the copy before the throttle leaves it out.
    pub replica_grace: Duration,
    /// Longest continuous throttle (no chunk copied) before the migration
    /// fails; zero means no bound.
    pub max_throttle: Duration,
    /// How many migrations may be in their copy phase at once; zero means
    /// no limit. Verify, postponement and cut-over take no slot.
    pub max_concurrent: usize,
    /// How table changes run in sessions that did not `SET tern_ddl`.
    pub ddl_mode: plan::DdlMode,
    /// The limits the copy's pace holds client latency and server pressure to.
    pub pace: PaceLimits,
}

/// A replica whose SQL or IO thread stopped keeps throttling for this long: an
/// operator's `STOP SLAVE` / `START SLAVE` around a change, or an IO thread
/// reconnecting after a network blip, is over well within it, while a broken
/// replica stalls the copy for half a minute, not until someone notices.
pub const DEFAULT_REPLICA_GRACE: Duration = Duration::from_secs(30);
/// A copy that has not moved for this long is not riding out a burst: it waits
/// on something an operator must fix. Ten minutes outlasts a batch job's lag
/// spike or a replica restart, and is still a time a client (a deploy's
/// migration step) can wait for an answer.
pub const DEFAULT_MAX_THROTTLE: Duration = Duration::from_secs(600);

/// One copy at a time: copies of different tables compete for the same
/// disk, buffer pool, redo log and replica apply thread, so two at once take
/// about as long as one after the other while each one's pace signals see the
/// other's load; an operator with headroom raises it.
pub const DEFAULT_MAX_CONCURRENT: usize = 1;

impl Default for MigrateSettings {
    fn default() -> Self {
        MigrateSettings {
            chunk_target: Duration::from_millis(100),
            hold_bound: Duration::from_secs(2),
            max_lag_ms: 500,
            max_threads_running: 64,
            keep_old: Duration::from_secs(86_400),
            replica_grace: DEFAULT_REPLICA_GRACE,
            max_throttle: DEFAULT_MAX_THROTTLE,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            ddl_mode: plan::DdlMode::Online,
            pace: PaceLimits::default(),
        }
    }
}
