//! The online ALTER engine.
//!
//! A session hands an ALTER to the [`Engine`]; the engine checks it, creates
//! the shadow table, and runs the migration as a task of its own (so a client
//! that disconnects does not cancel it): copy in key chunks while change
//! capture reads the binlog, verify with a checksum in one snapshot, then cut
//! over with the write gate and the sentry-table swap. Each step lives in its
//! own module, with the invariants it keeps at its top:
//!
//! - [`plan`]: ALTER text → table, specs, renames
//! - [`check`]: refusals, one rule per file
//! - [`table`], [`mapping`]: columns, key, literals; old → new columns
//! - [`copy`], [`binlog`], [`apply`]: copier, change capture, applier
//! - [`verify`], [`cutover`], [`gate`]: checksum, freeze and swap, write gate
//! - [`throttle`], [`store`]: replica lag and load; control table and resume
//! - [`runner`]: one migration's life, in order

pub mod apply;
pub mod binlog;
pub mod check;
pub mod copy;
pub mod cutover;
pub mod fetch;
pub mod gate;
pub mod mapping;
pub mod plan;
pub mod runner;
pub mod store;
pub mod table;
pub mod throttle;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::{watch, Notify};

use crate::backend::monitor::ReplicaHealth;
use crate::sql::alter::OnlineAlter;
use gate::WriteGate;
use store::State;

/// Errors of the engine. `Server` carries the database's own error for the
/// client (an unknown column, a duplicate key for a new UNIQUE index); the
/// others map to one code each in [`MigrateError::client_error`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum MigrateError {
    #[error("{message}")]
    Server {
        code: u16,
        state: String,
        message: String,
    },
    /// Tern will not run this change online.
    #[error("{0}")]
    Refused(String),
    /// The table does not exist: the session lets the server answer natively.
    #[error("table not found")]
    NoSuchTable,
    #[error("a migration of {0} is already running")]
    Busy(String),
    #[error("migration cancelled")]
    Cancelled,
    /// Tern is shutting down: the migration checkpointed and resumes at the next start.
    #[error("Tern is shutting down; the migration resumes when Tern starts again")]
    Stopping,
    /// The copy stayed throttled, without copying a chunk, past
    /// `--migration-max-throttle-secs`.
    #[error("the copy was throttled for {waited_secs} s without progress, past the bound of {bound_secs} s (--migration-max-throttle-secs); last reason: {reason}. The original table is unchanged")]
    Throttled {
        waited_secs: u64,
        bound_secs: u64,
        reason: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl From<mysql_async::Error> for MigrateError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => MigrateError::Server {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            other => MigrateError::Internal(other.to_string()),
        }
    }
}

impl MigrateError {
    /// Code, SQLSTATE and message for the client.
    pub fn client_error(&self) -> (u16, String, String) {
        match self {
            MigrateError::Server {
                code,
                state,
                message,
            } => (*code, state.clone(), message.clone()),
            MigrateError::Refused(why) => (
                1846,
                "0A000".into(),
                format!("Online ALTER is not supported. Reason: {why}. Try SET SESSION tern_ddl = 'native'"),
            ),
            MigrateError::Busy(_) => (1205, "HY000".into(), format!("Tern: {self}")),
            MigrateError::Cancelled => (1317, "70100".into(), "Query execution was interrupted".into()),
            MigrateError::Stopping => (1053, "08S01".into(), format!("Server shutdown in progress: {self}")),
            // ER_UNKNOWN_ERROR like every other engine failure: the server has
            // no code for a throttle, and 1205 (lock wait timeout) would invite
            // drivers to retry an ALTER that would wait just as long again.
            MigrateError::NoSuchTable
            | MigrateError::Internal(_)
            | MigrateError::Throttled { .. } => {
                (1105, "HY000".into(), format!("Tern online ALTER failed: {self}"))
            }
        }
    }
}

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
    /// How table changes run in sessions that did not `SET tern_ddl`.
    pub ddl_mode: plan::DdlMode,
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
            ddl_mode: plan::DdlMode::Online,
        }
    }
}

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
}

impl Progress {
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
}

/// The server's default max_error_count.
pub const DEFAULT_MAX_ERROR_COUNT: u64 = 64;

/// One row of `SHOW WARNINGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub level: String,
    pub code: u16,
    pub message: String,
}

/// The answer the server's own ALTER gives, rebuilt from the copy: a COPY
/// ALTER affects (and reports as `Records`) every row it copies, an in-place
/// one reports 0; both count every warning but keep only the first
/// `max_error_count` for `SHOW WARNINGS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlterReport {
    /// Affected rows and `Records:` of the OK.
    pub records: u64,
    /// Every warning the copy raised, kept or not.
    pub warnings: u64,
    /// The first `max_error_count` of them, in order.
    pub conditions: Vec<Condition>,
}

impl AlterReport {
    /// The OK packet's info text, in the server's format.
    pub fn info(&self) -> String {
        format!(
            "Records: {}  Duplicates: 0  Warnings: {}",
            self.records, self.warnings
        )
    }
}

pub type Outcome = Result<Finished, MigrateError>;

pub struct Migration {
    pub id: u64,
    pub schema: String,
    pub table: String,
    pub statement: String,
    progress: Mutex<Progress>,
    paused: AtomicBool,
    postponed: AtomicBool,
    cancelled: AtomicBool,
    wake: Notify,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Migration {
    fn new(id: u64, schema: &str, table: &str, statement: &str, progress: Progress) -> Migration {
        let postponed = progress.postponed;
        Migration {
            id,
            schema: schema.into(),
            table: table.into(),
            statement: statement.into(),
            progress: Mutex::new(progress),
            paused: AtomicBool::new(false),
            postponed: AtomicBool::new(postponed),
            cancelled: AtomicBool::new(false),
            wake: Notify::new(),
            outcome: watch::channel(None).0,
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

    fn update(&self, f: impl FnOnce(&mut Progress)) {
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

    fn finish(&self, outcome: Outcome) {
        self.outcome.send_replace(Some(outcome));
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
    pub fn is_postponed(&self) -> bool {
        self.postponed.load(Ordering::Relaxed)
    }
}

/// An operator command from `TERN <verb> <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
    Postpone,
    Complete,
}

impl Control {
    pub fn from_word(w: &str) -> Option<Control> {
        match w.to_ascii_uppercase().as_str() {
            "PAUSE" => Some(Control::Pause),
            "RESUME" => Some(Control::Resume),
            "CANCEL" => Some(Control::Cancel),
            "POSTPONE" => Some(Control::Postpone),
            "COMPLETE" => Some(Control::Complete),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Control::Pause => "PAUSE",
            Control::Resume => "RESUME",
            Control::Cancel => "CANCEL",
            Control::Postpone => "POSTPONE",
            Control::Complete => "COMPLETE",
        }
    }
}

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
    settings: std::sync::RwLock<MigrateSettings>,
    pub opts: Opts,
    pub gate: Arc<WriteGate>,
    replicas: Vec<(String, Arc<ReplicaHealth>)>,
    ignored_replicas: throttle::IgnoredReplicas,
    migrations: Mutex<BTreeMap<u64, Arc<Migration>>>,
    /// Set at shutdown: runners checkpoint and stop at their next step.
    stopping: AtomicBool,
    /// Migration tasks still running, and a wake-up when one ends.
    running: std::sync::atomic::AtomicUsize,
    task_ended: Notify,
}

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

/// How often the old-table sweeper looks for tables past their keep time: a
/// quarter of the keep time, within these bounds.
const SWEEP_INTERVAL_MIN: Duration = Duration::from_secs(1);
const SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(60);
/// How often to retry reaching the control table when the primary is down at start.
const START_RETRY: Duration = Duration::from_secs(5);
/// How often a running migration looks for commands other instances left.
const REQUEST_POLL: Duration = Duration::from_secs(1);

impl Engine {
    pub fn new(
        settings: MigrateSettings,
        opts: Opts,
        replicas: Vec<(String, Arc<ReplicaHealth>)>,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            settings: std::sync::RwLock::new(settings),
            opts,
            gate: Arc::new(WriteGate::default()),
            replicas,
            ignored_replicas: Default::default(),
            migrations: Mutex::new(BTreeMap::new()),
            stopping: AtomicBool::new(false),
            running: std::sync::atomic::AtomicUsize::new(0),
            task_ended: Notify::new(),
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
        self.stopping.load(Ordering::Relaxed)
    }

    /// Asks every running migration to checkpoint and stop at its next step
    /// (cut-overs already under way finish first), without waiting. A session
    /// waiting on a synchronous ALTER then gets its answer, as a server
    /// shutdown interrupts a running ALTER TABLE, instead of holding the
    /// shutdown for its whole bound.
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for m in self.list() {
            m.wake.notify_waiters();
        }
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

    /// Unfinished migrations in the control table that this instance does not
    /// run: another Tern instance's (several behind one load balancer), or one
    /// whose instance stopped and that no instance has resumed yet. For
    /// `SHOW TERN MIGRATIONS`; bounded so the statement never hangs on a slow
    /// primary, and empty when the table cannot be read.
    pub async fn elsewhere(&self) -> Vec<store::Record> {
        const READ_BOUND: Duration = Duration::from_secs(2);
        let read = async {
            let mut conn = Conn::new(self.opts.clone()).await.ok()?;
            let records = store::unfinished(&mut conn).await.ok();
            let _ = conn.disconnect().await;
            records
        };
        let records = match tokio::time::timeout(READ_BOUND, read).await {
            Ok(Some(records)) => records,
            _ => {
                tracing::debug!("control table not readable for SHOW TERN MIGRATIONS");
                Vec::new()
            }
        };
        records
            .into_iter()
            .filter(|r| self.get(r.id).is_none())
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

    /// Applies an operator command; the error text is for the client.
    pub async fn control(&self, id: u64, what: Control) -> Result<(), String> {
        let Some(m) = self.get(id) else {
            return self.request_elsewhere(id, what).await;
        };
        if m.progress().state.is_final() {
            return Err(format!("Migration {id} has already ended"));
        }
        match what {
            Control::Pause => m.paused.store(true, Ordering::Relaxed),
            Control::Resume => m.paused.store(false, Ordering::Relaxed),
            Control::Cancel => m.cancelled.store(true, Ordering::Relaxed),
            Control::Postpone | Control::Complete => {
                let postpone = what == Control::Postpone;
                m.postponed.store(postpone, Ordering::Relaxed);
                if let Ok(mut conn) = Conn::new(self.opts.clone()).await {
                    let _ = store::set_postponed(&mut conn, id, postpone).await;
                    let _ = conn.disconnect().await;
                }
            }
        }
        m.wake.notify_waiters();
        tracing::info!(migration = id, command = ?what, "operator command");
        Ok(())
    }

    /// A command for a migration another instance runs: left in its row of
    /// the control table, which its instance polls (`REQUEST_POLL`).
    async fn request_elsewhere(&self, id: u64, what: Control) -> Result<(), String> {
        let unknown = || format!("Unknown migration {id}, or it has already ended");
        let mut conn = Conn::new(self.opts.clone())
            .await
            .map_err(|e| format!("Cannot reach the control table: {e}"))?;
        let left = store::request(&mut conn, id, what.word()).await;
        let _ = conn.disconnect().await;
        match left {
            Ok(true) => {
                tracing::info!(migration = id, command = ?what, "operator command left for the instance running it");
                Ok(())
            }
            Ok(false) => Err(unknown()),
            Err(e) => Err(format!("Cannot reach the control table: {e}")),
        }
    }

    /// Applies commands other instances left for `m` until it ends.
    async fn watch_requests(self: Arc<Self>, m: Arc<Migration>) {
        let mut conn: Option<Conn> = None;
        loop {
            tokio::time::sleep(REQUEST_POLL).await;
            if m.progress().state.is_final() {
                break;
            }
            if conn.is_none() {
                conn = Conn::new(self.opts.clone()).await.ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            match store::take_request(c, m.id).await {
                Ok(Some(word)) => match Control::from_word(&word) {
                    Some(what) => {
                        if let Err(e) = self.control(m.id, what).await {
                            tracing::warn!(migration = m.id, error = %e, "operator command from another instance not applied");
                        }
                    }
                    None => tracing::warn!(
                        migration = m.id,
                        word,
                        "unknown command in the control table"
                    ),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(migration = m.id, error = %e, "cannot read operator commands");
                    conn = None;
                }
            }
        }
        if let Some(c) = conn {
            let _ = c.disconnect().await;
        }
    }

    /// Checks the request, creates the shadow table and starts the migration.
    /// Errors here leave nothing behind.
    pub async fn submit(
        self: &Arc<Self>,
        req: AlterRequest,
    ) -> Result<Arc<Migration>, MigrateError> {
        let started = runner::prepare(self, req).await?;
        let m = started.migration.clone();
        self.register(m.clone());
        self.spawn_run(started);
        Ok(m)
    }

    /// Runs a migration as its own task. Should the task ever panic, the
    /// sessions waiting on it get an error instead of waiting forever; its
    /// control-table row stays unfinished, so the next start resumes it.
    fn spawn_run(self: &Arc<Self>, started: runner::Started) {
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
        loop {
            match self.resume_all().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read unfinished migrations yet");
                    tokio::time::sleep(START_RETRY).await;
                }
            }
        }
        let engine = self.clone();
        let interval = (self.settings().keep_old / 4).clamp(SWEEP_INTERVAL_MIN, SWEEP_INTERVAL_MAX);
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.sweep_old_tables().await {
                    tracing::warn!(error = %e, "cannot drop old tables");
                }
                tokio::time::sleep(interval).await;
            }
        });
    }

    async fn resume_all(self: &Arc<Self>) -> Result<(), MigrateError> {
        let mut conn = connect(&self.opts).await?;
        store::ensure_control_table(&mut conn).await?;
        let records = store::unfinished(&mut conn).await?;
        let _ = conn.disconnect().await;
        for record in records {
            let id = record.id;
            match runner::resume(self, record).await {
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

    async fn sweep_old_tables(&self) -> Result<(), MigrateError> {
        let mut conn = connect(&self.opts).await?;
        for (id, schema, old) in
            store::old_tables_due(&mut conn, self.settings().keep_old.as_secs()).await?
        {
            if !old.is_empty() {
                conn.query_drop(format!(
                    "DROP TABLE IF EXISTS {}",
                    table::qualified(&schema, &old)
                ))
                .await?;
                tracing::info!(migration = id, table = %crate::logsafe::untrusted(&old), "dropped the old table after its keep time");
            }
            store::mark_old_dropped(&mut conn, id).await?;
        }
        let _ = conn.disconnect().await;
        Ok(())
    }
}
