//! The engine: the registry of running migrations, their tasks, settings and
//! shutdown.
//!
//! Invariants:
//! - Each migration runs as a task of its own, so a client that disconnects
//!   does not cancel it; should that task panic, the sessions waiting on it
//!   still get an answer, and its control-table row stays unfinished so the
//!   next start resumes it.
//! - Shutdown asks every migration to checkpoint and stop (one token, see
//!   `migration`) and waits for them only up to its bound.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mysql_async::Opts;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::conn::connect;
use super::gate::WriteGate;
use super::keeper::{self, RevertRequest};
use super::migration::Migration;
use super::settings::MigrateSettings;
use super::slots::CopySlots;
use super::store::KeptRecord;
use super::store::{self, State};
use super::{runner, start, sweeper, throttle, MigrateError};
use crate::admin::latency::{LatencyBuckets, LatencyHistory};
use crate::admin::near_copy::NearCopy;
use crate::backend::monitor::ReplicaHealth;
use crate::gtid::GtidSet;
use crate::sql::alter::OnlineAlter;

/// A request from a session.
pub struct AlterRequest {
    pub alter: OnlineAlter,
    /// The table's schema, resolved against the session's default schema.
    pub schema: String,
    pub statement: String,
    /// The client's sql_mode: strictness decides whether a truncating copy fails, as natively.
    pub sql_mode: String,
    /// Stop before the cut-over until `TERN COMPLETE <id>`.
    pub postponed: bool,
    /// The client's max_error_count: how many of the copy's warnings to keep.
    pub max_error_count: u64,
}

pub struct Engine {
    /// Replaced whole by a SIGHUP reload; runners read it at every step.
    settings: RwLock<MigrateSettings>,
    pub opts: Opts,
    pub gate: Arc<WriteGate>,
    replicas: Vec<(String, Arc<ReplicaHealth>)>,
    ignored_replicas: throttle::IgnoredReplicas,
    migrations: Mutex<BTreeMap<u64, Arc<Migration>>>,
    /// Cancelled at shutdown: runners checkpoint and stop at their next step.
    pub(super) stopping: CancellationToken,
    /// Migration tasks still running, and a wake-up when one ends.
    running: AtomicUsize,
    task_ended: Notify,
    /// Copy phases running now, bounded by `--migration-max-concurrent`.
    pub(super) copy_slots: CopySlots,
    /// Latency of client writes through Tern: the copy's pace follows it
    /// (see `pace`). Empty for `tern alter`, which has no clients.
    pub client_writes: Arc<LatencyHistory>,
    /// Which of those writes ran alongside a copy chunk: chunks mark
    /// themselves here, and the pace blames them only for those writes.
    pub near_copy: Arc<NearCopy>,
    /// Keepers of finished migrations' previous tables, by migration id
    /// (see `keeper`): where a revert is asked for.
    keepers: Mutex<BTreeMap<u64, keeper::Requests>>,
}

/// How often to retry reaching the control table when the primary is down at start.
const START_RETRY: Duration = Duration::from_secs(5);

impl Engine {
    pub fn new(
        settings: MigrateSettings,
        opts: Opts,
        replicas: Vec<(String, Arc<ReplicaHealth>)>,
        client_writes: Arc<LatencyBuckets>,
        near_copy: Arc<NearCopy>,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            settings: RwLock::new(settings),
            opts,
            gate: Arc::new(WriteGate::default()),
            replicas,
            ignored_replicas: Default::default(),
            migrations: Mutex::new(BTreeMap::new()),
            stopping: CancellationToken::new(),
            running: AtomicUsize::new(0),
            task_ended: Notify::new(),
            copy_slots: CopySlots::default(),
            client_writes: Arc::new(LatencyHistory::new(client_writes)),
            near_copy,
            keepers: Mutex::new(BTreeMap::new()),
        })
    }

    /// The current settings.
    pub fn settings(&self) -> MigrateSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes new settings (SIGHUP); running migrations use them from their next step.
    pub fn update_settings(&self, settings: MigrateSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Asks every running migration to checkpoint and stop at its next step
    /// (cut-overs already under way finish first), without waiting. A session
    /// waiting on a synchronous ALTER then gets its answer, as a server
    /// shutdown interrupts a running ALTER TABLE, instead of holding the
    /// shutdown for its whole bound.
    pub fn begin_shutdown(&self) {
        self.stopping.cancel();
    }

    /// Asks every running migration to checkpoint and stop, and waits for
    /// them up to `bound`. Cut-overs already under way finish first.
    pub async fn shutdown(&self, bound: Duration) {
        self.begin_shutdown();
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let ended = self.task_ended.notified();
            let running = self.running.load(Ordering::Acquire);
            if running == 0 {
                return;
            }
            tracing::info!(migrations = running, "waiting for migrations to checkpoint");
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                tracing::warn!(
                    migrations = running,
                    "shutdown bound reached; migrations resume from their last checkpoint"
                );
                return;
            }
        }
    }

    pub fn list(&self) -> Vec<Arc<Migration>> {
        self.migrations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Migration>> {
        self.migrations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    fn register(&self, m: Arc<Migration>) {
        self.migrations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(m.id, m);
    }

    pub(crate) fn throttle(&self) -> throttle::Throttle {
        let settings = self.settings();
        throttle::Throttle {
            replicas: self.replicas.clone(),
            max_lag_ms: settings.max_lag_ms,
            max_threads_running: settings.max_threads_running,
            replica_grace: settings.replica_grace,
            ignored: self.ignored_replicas.clone(),
        }
    }

    /// Checks the request, creates the shadow table and starts the migration.
    /// Errors here leave nothing behind.
    pub async fn submit(
        self: &Arc<Self>,
        req: AlterRequest,
    ) -> Result<Arc<Migration>, MigrateError> {
        let started = start::prepare(self, req).await?;
        let m = started.migration.clone();
        self.register(m.clone());
        self.spawn_run(started);
        Ok(m)
    }

    /// Runs a migration as its own task. Should the task ever panic, the
    /// sessions waiting on it get an error instead of waiting forever; its
    /// control-table row stays unfinished, so the next start resumes it.
    fn spawn_run(self: &Arc<Self>, started: start::Started) {
        let m = started.migration.clone();
        let engine = self.clone();
        self.running.fetch_add(1, Ordering::AcqRel);
        let task = tokio::spawn(async move { runner::run(engine, started).await });
        let watcher = tokio::spawn(self.clone().watch_requests(m.clone()));
        let engine = self.clone();
        tokio::spawn(async move {
            let result = task.await;
            watcher.abort();
            engine.running.fetch_sub(1, Ordering::AcqRel);
            engine.task_ended.notify_waiters();
            if let Err(e) = result {
                tracing::error!(migration = m.id, error = %e, "migration task failed");
                m.update(|p| {
                    p.state = State::Failed;
                    p.error = Some("internal error; resumed at the next start".into());
                });
                m.finish(Err(MigrateError::Internal(
                    "the migration task failed unexpectedly".into(),
                )));
            }
        });
    }

    /// Starts keeping a just-finished migration's old table current, from
    /// `position` (the cut-over's freeze), so that it can be reverted.
    pub(super) async fn keep_after_cutover(
        self: &Arc<Self>,
        conn: &mut mysql_async::Conn,
        m: Arc<Migration>,
        position: &GtidSet,
    ) -> Result<(), MigrateError> {
        store::keep_from(conn, m.id, &position.to_string()).await?;
        let keep_secs = self.settings().keep_old.as_secs();
        if let Some(record) = store::kept_record(conn, m.id, keep_secs).await? {
            self.spawn_keeper(m, record);
        }
        Ok(())
    }

    /// The registry's entry for a finished migration whose old table is
    /// kept, made from its record when this instance did not run it.
    fn kept_migration(&self, record: &KeptRecord) -> Arc<Migration> {
        if let Some(m) = self.get(record.id) {
            return m;
        }
        let mut progress = super::migration::Progress::new(State::Done, 0, 0, false);
        progress.reverts = record.reverts;
        let m = Arc::new(Migration::new(
            record.id,
            &record.schema,
            &record.table,
            &record.statement,
            progress,
            self.stopping.clone(),
        ));
        self.register(m.clone());
        m
    }

    fn spawn_keeper(self: &Arc<Self>, m: Arc<Migration>, record: KeptRecord) -> keeper::Requests {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        self.keepers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(m.id, tx.clone());
        let engine = self.clone();
        tokio::spawn(async move {
            let id = m.id;
            keeper::run(engine.clone(), m, record, rx).await;
            engine
                .keepers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
        tx
    }

    /// `TERN REVERT <id>`: puts the table's previous version back online
    /// with every write since the cut-over. Answers the table and the
    /// revert RENAME's GTID, or why not (for the client).
    pub async fn revert(self: &Arc<Self>, id: u64) -> Result<(String, String, String), String> {
        let keeper = self
            .keepers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let keeper = match keeper {
            Some(k) => k,
            None => self.keeper_on_demand(id).await?,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        if keeper.send(RevertRequest { reply }).await.is_err() {
            return Err(self.why_not_revertible(id).await);
        }
        let gtid = match answer.await {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(format!(
                    "The revert of migration {id} was interrupted (Tern's log says why); \
                     SHOW TERN MIGRATIONS says whether it can be tried again"
                ))
            }
        };
        let m = self.get(id);
        tracing::info!(migration = id, gtid = %gtid, "migration reverted");
        Ok(match m {
            Some(m) => (m.schema.clone(), m.table.clone(), gtid),
            None => (String::new(), String::new(), gtid),
        })
    }

    /// Starts a keeper for a revertible migration no instance keeps now (its
    /// instance stopped, or it ran in `tern alter`): it catches up from its
    /// recorded position before it reverts. Fails with the reason when the
    /// record says it cannot be reverted.
    async fn keeper_on_demand(self: &Arc<Self>, id: u64) -> Result<keeper::Requests, String> {
        let keep_secs = self.settings().keep_old.as_secs();
        let record = match connect(&self.opts).await {
            Ok(mut c) => {
                let r = store::kept_record(&mut c, id, keep_secs).await;
                let _ = c.disconnect().await;
                r.ok().flatten()
            }
            Err(_) => None,
        };
        let keepable = record.filter(|r| {
            r.state == State::Done
                && !r.old_dropped
                && r.revert_note.is_none()
                && r.secs_left > 0.0
                && r.keeping
        });
        let Some(record) = keepable else {
            return Err(self.why_not_revertible(id).await);
        };
        let m = self.kept_migration(&record);
        Ok(self.spawn_keeper(m, record))
    }

    /// Why migration `id` has no keeper here, from its record.
    async fn why_not_revertible(&self, id: u64) -> String {
        let keep_secs = self.settings().keep_old.as_secs();
        let record = match connect(&self.opts).await {
            Ok(mut c) => {
                let r = store::kept_record(&mut c, id, keep_secs).await;
                let _ = c.disconnect().await;
                r
            }
            Err(e) => Err(e),
        };
        match record {
            Err(e) => format!("Cannot read migration {id}: {e}"),
            Ok(None) => format!("Unknown migration {id}"),
            Ok(Some(r)) if r.state != State::Done => format!(
                "Migration {id} has not finished ({}): only a finished migration can be reverted; TERN CANCEL stops a running one",
                r.state.name()
            ),
            // A keeper that drops the previous table early (its live table
            // is gone) says why in the note.
            Ok(Some(r)) if r.old_dropped && r.revert_note.is_none() => format!(
                "Migration {id} cannot be reverted: its previous table was dropped when its keep time (--migration-keep-old-secs) ended"
            ),
            Ok(Some(r)) => match r.revert_note {
                Some(why) => format!("Migration {id} cannot be reverted: {why}"),
                None if !r.keeping => format!(
                    "Migration {id} cannot be reverted: Tern stopped during its cut-over, so its old table was not kept current"
                ),
                None if r.secs_left <= 0.0 => format!(
                    "Migration {id} cannot be reverted: its keep time (--migration-keep-old-secs) ended at {}",
                    r.until
                ),
                None => format!(
                    "Migration {id} cannot be reverted here: another Tern instance keeps its previous table current; revert it there"
                ),
            },
        }
    }

    /// Resumes unfinished migrations and starts the old-table sweeper. Runs
    /// until the control table is reachable.
    pub async fn start(self: Arc<Self>) {
        tokio::spawn(self.client_writes.clone().keep_ticking());
        loop {
            match self.resume_all().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read unfinished migrations yet");
                    tokio::time::sleep(START_RETRY).await;
                }
            }
        }
        sweeper::spawn(self);
    }

    async fn resume_all(self: &Arc<Self>) -> Result<(), MigrateError> {
        let mut conn = connect(&self.opts).await?;
        store::ensure_control_table(&mut conn).await?;
        let records = store::unfinished(&mut conn).await?;
        let kept = store::kept(&mut conn, self.settings().keep_old.as_secs()).await?;
        let _ = conn.disconnect().await;
        for record in kept {
            let m = self.kept_migration(&record);
            self.spawn_keeper(m, record);
        }
        for record in records {
            let id = record.id;
            match start::resume(self, record).await {
                Ok(Some(started)) => {
                    tracing::info!(migration = id, "resuming migration");
                    self.register(started.migration.clone());
                    self.spawn_run(started);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(migration = id, error = %e, "cannot resume migration"),
            }
        }
        Ok(())
    }
}
