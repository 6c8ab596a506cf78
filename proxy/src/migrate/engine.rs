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
use super::migration::Migration;
use super::settings::MigrateSettings;
use super::slots::CopySlots;
use super::store::{self, State};
use super::{runner, start, sweeper, throttle, MigrateError};
use crate::admin::latency::{LatencyBuckets, LatencyHistory};
use crate::backend::monitor::ReplicaHealth;
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
}

/// How often to retry reaching the control table when the primary is down at start.
const START_RETRY: Duration = Duration::from_secs(5);

impl Engine {
    pub fn new(
        settings: MigrateSettings,
        opts: Opts,
        replicas: Vec<(String, Arc<ReplicaHealth>)>,
        client_writes: Arc<LatencyBuckets>,
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
        let _ = conn.disconnect().await;
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
