//! One running migration as the rest of Tern sees it: its live progress, the
//! operator's switches (pause, postpone, cancel), and its outcome.
//!
//! Invariants:
//! - A migration stops early for exactly two reasons, checked in this order
//!   by [`Migration::interrupted`]: `TERN CANCEL` (its own token; the shadow
//!   is dropped) and Tern shutting down (the engine's token, shared by every
//!   migration; the migration checkpoints and resumes at the next start). The
//!   runner asks between steps, never inside one, so a cut-over under way
//!   finishes first.
//! - Every wait of the runner is [`Migration::idle`], which any operator
//!   command, a cancel or a shutdown ends at once.
//! - The outcome is set once, after the control table and the tables are
//!   settled: whoever sees it sees the migration's final state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::group::Ticket;
use super::pace::Reading;
use super::report::AlterReport;
use super::store::State;
use super::MigrateError;
use crate::gtid::GtidSet;

/// A live view of one migration, for SHOW TERN MIGRATIONS and the sessions waiting on it.
#[derive(Debug, Clone)]
pub struct Progress {
    pub state: State,
    pub rows_copied: u64,
    pub rows_total: u64,
    pub started: Instant,
    pub copy_started: Option<Instant>,
    pub throttled: Option<String>,
    /// Replicas the throttle leaves out because their replication stopped.
    pub ignored_replicas: Vec<String>,
    pub lag_ms: u64,
    pub cutover_attempts: u32,
    pub last_hold: Option<Duration>,
    pub paused: bool,
    pub postponed: bool,
    pub error: Option<String>,
    /// The copy's pace in percent (100: back to back; see `pace`).
    pub pace_pct: u8,
    /// Every pace signal with its value and limit, as last read.
    pub signals: Vec<Reading>,
    /// Client write p99 before the migration started, the latency signal's base.
    pub baseline_p99: Option<Duration>,
    /// Until when `TERN REVERT` can undo it (the primary's time), while its
    /// previous table is kept current (see `keeper`).
    pub revertible_until: Option<String>,
    /// Why it can no longer be reverted, once it cannot.
    pub revert_note: Option<String>,
    /// How many times it was reverted (odd: the previous version is live).
    pub reverts: u32,
}

impl Progress {
    /// A migration at `state`, starting now.
    pub(super) fn new(
        state: State,
        rows_copied: u64,
        rows_total: u64,
        postponed: bool,
    ) -> Progress {
        Progress {
            state,
            rows_copied,
            rows_total,
            started: Instant::now(),
            copy_started: None,
            throttled: None,
            ignored_replicas: Vec::new(),
            lag_ms: 0,
            cutover_attempts: 0,
            last_hold: None,
            paused: false,
            postponed,
            error: None,
            pace_pct: 100,
            signals: Vec::new(),
            baseline_p99: None,
            revertible_until: None,
            revert_note: None,
            reverts: 0,
        }
    }

    /// The pace signals as one line (`write_p99 3.1ms/8ms, ...`), NULL-able.
    pub fn signals_text(&self) -> Option<String> {
        (!self.signals.is_empty()).then(|| {
            self.signals
                .iter()
                .map(Reading::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The ignored replicas as one line, NULL-able for a result column.
    pub fn ignored_replicas_text(&self) -> Option<String> {
        (!self.ignored_replicas.is_empty()).then(|| self.ignored_replicas.join(", "))
    }
}

/// What a finished migration gives the session that asked for it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// GTID of the RENAME: the session's reads must see it.
    pub gtid: String,
    pub held: Duration,
    /// What the server's own ALTER would have answered.
    pub report: AlterReport,
    /// Where the new table's row events begin (the freeze's position): the
    /// keeper of the old table reads from here (see `keeper`).
    pub kept_from: GtidSet,
}

pub type Outcome = Result<Finished, MigrateError>;

pub struct Migration {
    pub id: u64,
    pub schema: String,
    pub table: String,
    pub statement: String,
    progress: Mutex<Progress>,
    pub(super) paused: AtomicBool,
    pub(super) postponed: AtomicBool,
    /// `TERN CANCEL`: this migration only.
    pub(super) cancel: CancellationToken,
    /// Tern shutting down: the engine's token, shared by every migration.
    stopping: CancellationToken,
    /// Operator commands that change what the runner waits for (pause,
    /// resume, postpone, complete) end its current wait.
    pub(super) wake: Notify,
    outcome: watch::Sender<Option<Outcome>>,
    /// A group cut-over's ticket (`TERN COMPLETE a, b`), until the runner
    /// takes it.
    group: Mutex<Option<Ticket>>,
}

impl Migration {
    /// The shadow table's and the old table's names (as recorded in the
    /// control table; see `store::shadow_names`).
    pub fn side_tables(&self) -> (Option<String>, Option<String>) {
        match super::store::shadow_names(&self.table, self.id) {
            Some((shadow, old)) => (Some(shadow), Some(old)),
            None => (None, None),
        }
    }

    pub(super) fn new(
        id: u64,
        schema: &str,
        table: &str,
        statement: &str,
        progress: Progress,
        stopping: CancellationToken,
    ) -> Migration {
        let postponed = progress.postponed;
        Migration {
            id,
            schema: schema.into(),
            table: table.into(),
            statement: statement.into(),
            progress: Mutex::new(progress),
            paused: AtomicBool::new(false),
            postponed: AtomicBool::new(postponed),
            cancel: CancellationToken::new(),
            stopping,
            wake: Notify::new(),
            outcome: watch::channel(None).0,
            group: Mutex::new(None),
        }
    }

    pub fn progress(&self) -> Progress {
        let mut p = self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        p.paused = self.paused.load(Ordering::Relaxed);
        p.postponed = self.postponed.load(Ordering::Relaxed);
        p
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Waits for the migration to end.
    pub async fn wait(&self) -> Outcome {
        let mut rx = self.outcome.subscribe();
        loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                return o;
            }
            if rx.changed().await.is_err() {
                return Err(MigrateError::Internal("the migration task ended".into()));
            }
        }
    }

    pub(super) fn finish(&self, outcome: Outcome) {
        self.outcome.send_replace(Some(outcome));
    }

    /// Whether the runner must stop before its next step: `Cancelled` after
    /// `TERN CANCEL`, `Stopping` once Tern shuts down. A cancel wins: the
    /// operator asked for the migration's end, not for a later resume.
    pub(super) fn interrupted(&self) -> Result<(), MigrateError> {
        if self.cancel.is_cancelled() {
            return Err(MigrateError::Cancelled);
        }
        if self.stopping.is_cancelled() {
            return Err(MigrateError::Stopping);
        }
        Ok(())
    }

    /// Sleeps `step`, or less when an operator command arrives or the
    /// migration is interrupted.
    pub(super) async fn idle(&self, step: Duration) {
        tokio::select! {
            () = tokio::time::sleep(step) => {}
            () = self.wake.notified() => {}
            () = self.cancel.cancelled() => {}
            () = self.stopping.cancelled() => {}
        }
    }

    /// Hands the runner a group cut-over's ticket; false when it has one
    /// already.
    pub(super) fn hand_ticket(&self, ticket: Ticket) -> bool {
        let mut slot = self.group.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return false;
        }
        *slot = Some(ticket);
        true
    }

    /// The group cut-over's ticket, if one was handed.
    pub(super) fn take_ticket(&self) -> Option<Ticket> {
        self.group.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
    pub fn is_postponed(&self) -> bool {
        self.postponed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(stopping: &CancellationToken) -> Migration {
        let progress = Progress::new(State::Copying, 0, 0, false);
        Migration::new(
            1,
            "s",
            "t",
            "ALTER TABLE t FORCE",
            progress,
            stopping.clone(),
        )
    }

    #[test]
    fn cancel_wins_over_shutdown() {
        let stopping = CancellationToken::new();
        let m = migration(&stopping);
        assert!(m.interrupted().is_ok());
        stopping.cancel();
        assert!(matches!(m.interrupted(), Err(MigrateError::Stopping)));
        m.cancel.cancel();
        assert!(matches!(m.interrupted(), Err(MigrateError::Cancelled)));
    }

    #[tokio::test]
    async fn idle_ends_at_once_on_cancel_and_on_shutdown() {
        const LONG: Duration = Duration::from_secs(600);
        const PROMPT: Duration = Duration::from_secs(5);
        let stopping = CancellationToken::new();
        let m = migration(&stopping);
        let cancel_soon = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            m.cancel.cancel();
        };
        let (idled, ()) = tokio::join!(tokio::time::timeout(PROMPT, m.idle(LONG)), cancel_soon);
        assert!(idled.is_ok(), "a cancel did not end the wait");

        let other = migration(&stopping);
        stopping.cancel();
        let idled = tokio::time::timeout(PROMPT, other.idle(LONG)).await;
        assert!(idled.is_ok(), "a shutdown did not end the wait");
    }
}
