//! One migration's life, in order: prepare (checks, shadow, start position),
//! copy with catch-up, verify, wait while postponed, cut over with retries,
//! finish. Resume re-enters the same life from the checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::apply::apply;
use super::binlog::{Capture, Changes};
use super::check;
use super::copy::{Copier, HighWater};
use super::cutover::{self, FreezeContext, SwapOutcome};
use super::mapping::Mapping;
use super::store::{self, State};
use super::table::{qualified, Table};
use super::verify;
use super::{engine_conn, AlterRequest, Engine, Finished, MigrateError, Migration, Progress};
use crate::gtid::GtidSet;
use crate::sql::alter::{plan, AlterPlan, OnlineAlter};

/// A checkpoint at most this often: each is one UPDATE on the primary.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// A progress line in the log this often while copying.
const LOG_PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How long the copier sleeps while throttled or paused before looking again.
const IDLE_STEP: Duration = Duration::from_millis(100);
/// Verify rounds (checksum, recopy what differs) before giving up.
const MAX_VERIFY_ROUNDS: u32 = 3;
/// Backoff between cut-over attempts, doubling up to the cap.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// A migration ready to run: its connections and where it stands.
pub struct Started {
    pub migration: Arc<Migration>,
    /// Holds the ownership lock for the migration's whole life.
    owner: Conn,
    work: Conn,
    mapping: Mapping,
    shadow_key: Table,
    copier: Copier,
    position: GtidSet,
    old_name: String,
    sql_mode: String,
    /// Whether the server's own ALTER would copy the rows (ALGORITHM=COPY)
    /// rather than work in place: it decides what the client is told.
    native_copies: bool,
}

fn refused(r: check::Refusal) -> MigrateError {
    MigrateError::Refused(r.0)
}

async fn primary_position(conn: &mut Conn) -> Result<GtidSet, MigrateError> {
    let pos: Option<String> = conn.first_as("SELECT @@gtid_binlog_pos").await?;
    GtidSet::parse(pos.as_deref().unwrap_or("")).map_err(|e| MigrateError::Internal(e.to_string()))
}

fn progress(state: State, rows_copied: u64, rows_total: u64, postponed: bool) -> Progress {
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
    }
}

/// Checks the request and creates the shadow table.
pub async fn prepare(engine: &Engine, req: AlterRequest) -> Result<Started, MigrateError> {
    let alter = &req.alter;
    let mut work = engine_conn(&engine.opts, &req.sql_mode).await?;
    store::ensure_control_table(&mut work).await?;
    check::binlog_is_row_based(&mut work)
        .await?
        .map_err(refused)?;
    let source = Table::load(&mut work, &req.schema, &alter.table.name)
        .await?
        .ok_or(MigrateError::NoSuchTable)?;
    check::has_usable_key(&source).map_err(refused)?;
    check::is_transactional(&source).map_err(refused)?;
    check::name_leaves_room(&source).map_err(refused)?;
    check::no_triggers(&mut work, &source.schema, &source.name)
        .await?
        .map_err(refused)?;
    check::no_foreign_keys(&mut work, &source.schema, &source.name)
        .await?
        .map_err(refused)?;
    if alter.adds_foreign_key {
        return Err(MigrateError::Refused(
            "the change adds a foreign key".into(),
        ));
    }
    let mut owner = super::connect(&engine.opts).await?;
    if !store::take_ownership(&mut owner, &source.schema, &source.name).await? {
        return Err(MigrateError::Busy(source.qualified()));
    }
    let (id, shadow_name, old_name) = store::insert(
        &mut work,
        &store::NewRecord {
            schema: &source.schema,
            table: &source.name,
            statement: &req.statement,
            specs: &alter.specs,
            sql_mode: &req.sql_mode,
            postponed: req.postponed,
            rows_total: source.rows_estimate,
        },
    )
    .await?;
    let span = tracing::info_span!("migration", id, table = %crate::logsafe::untrusted(source.qualified()));
    let _enter = span.enter();
    let shadow_q = qualified(&source.schema, &shadow_name);
    let created = async {
        work.query_drop(format!(
            "CREATE TABLE {shadow_q} LIKE {}",
            source.qualified()
        ))
        .await?;
        let native_copies = build_shadow(&mut work, &shadow_q, &alter.specs).await?;
        let shadow = Table::load(&mut work, &source.schema, &shadow_name)
            .await?
            .ok_or_else(|| MigrateError::Internal("the shadow table vanished".into()))?;
        check::is_transactional(&shadow).map_err(refused)?;
        let mapping = Mapping::new(source.clone(), shadow, alter);
        check::keeps_key_columns(&mapping).map_err(refused)?;
        let position = primary_position(&mut work).await?;
        store::checkpoint(&mut work, id, None, false, &position.to_string(), 0).await?;
        // The copy keeps as many of its warnings as the client's session would.
        work.query_drop(format!(
            "SET SESSION max_error_count = {}",
            req.max_error_count.min(65_535)
        ))
        .await?;
        Ok::<_, MigrateError>((mapping, position, native_copies))
    }
    .await;
    let (mapping, position, native_copies) = match created {
        Ok(v) => v,
        Err(e) => {
            let _ = work
                .query_drop(format!("DROP TABLE IF EXISTS {shadow_q}"))
                .await;
            let (code, _, message) = e.client_error();
            let _ = store::finish(&mut work, id, State::Failed, None, Some((code, &message))).await;
            return Err(e);
        }
    };
    let shadow_key = mapping
        .shadow_key()
        .ok_or_else(|| MigrateError::Internal("shadow key".into()))?;
    tracing::info!(
        statement = %crate::logsafe::untrusted(&req.statement),
        shadow = %shadow_name,
        key = ?source.key_name,
        columns = mapping.pairs.len(),
        rows_estimate = source.rows_estimate,
        start = %position,
        "migration planned"
    );
    let migration = Arc::new(Migration::new(
        id,
        &source.schema,
        &source.name,
        &req.statement,
        progress(State::Copying, 0, source.rows_estimate, req.postponed),
    ));
    Ok(Started {
        migration,
        owner,
        work,
        mapping,
        shadow_key,
        copier: {
            let mut c = Copier::new(HighWater::Start, 0, engine.settings().chunk_target);
            c.keep_warnings(req.max_error_count);
            c
        },
        position,
        old_name,
        sql_mode: req.sql_mode,
        native_copies,
    })
}

/// Gives the empty shadow its new shape, and finds out on it (where it costs
/// nothing) which algorithm the server would pick for the client's table:
/// the change works in place unless ALGORITHM=INPLACE is refused. Returns
/// whether the server's own ALTER would copy the rows.
async fn build_shadow(work: &mut Conn, shadow_q: &str, specs: &str) -> Result<bool, MigrateError> {
    let in_place = work
        .query_drop(format!(
            "SET STATEMENT alter_algorithm='INPLACE' FOR ALTER TABLE {shadow_q} {specs}"
        ))
        .await;
    match in_place {
        Ok(()) => Ok(false),
        Err(e) => {
            // Any other refusal is the plain ALTER's to give, with its own error.
            tracing::debug!(error = %e, "the change does not work in place");
            work.query_drop(format!("ALTER TABLE {shadow_q} {specs}"))
                .await?;
            Ok(true)
        }
    }
}

/// Picks up a migration from its control-table record. `None` when another
/// Tern owns it or it turned out to be finished.
pub async fn resume(
    engine: &Engine,
    record: store::Record,
) -> Result<Option<Started>, MigrateError> {
    let mut owner = super::connect(&engine.opts).await?;
    if !store::take_ownership(&mut owner, &record.schema, &record.table).await? {
        tracing::info!(
            migration = record.id,
            "migration is run by another Tern instance"
        );
        return Ok(None);
    }
    let mut work = engine_conn(&engine.opts, &record.sql_mode).await?;
    let fail = |why: String| MigrateError::Internal(why);
    let shadow_exists =
        cutover::table_exists(&mut work, &record.schema, &record.shadow_table).await?;
    if !shadow_exists {
        let swapped = cutover::table_exists(&mut work, &record.schema, &record.old_table).await?;
        let (state, error) = if swapped {
            (State::Done, None)
        } else {
            (State::Failed, Some((1105u16, "the shadow table is gone")))
        };
        store::finish(&mut work, record.id, state, None, error).await?;
        tracing::info!(
            migration = record.id,
            state = state.name(),
            "migration found finished at resume"
        );
        return Ok(None);
    }
    let result = async {
        let alter: OnlineAlter = match plan(&record.statement) {
            AlterPlan::Online(a) => a,
            AlterPlan::Native(why) => {
                return Err(fail(format!("statement no longer plans online: {why}")))
            }
            AlterPlan::NotTableChange => {
                return Err(fail("statement no longer plans online".into()))
            }
        };
        let source = Table::load(&mut work, &record.schema, &record.table)
            .await?
            .ok_or_else(|| fail("the original table is gone".into()))?;
        let shadow = Table::load(&mut work, &record.schema, &record.shadow_table)
            .await?
            .ok_or_else(|| fail("the shadow table is gone".into()))?;
        let mapping = Mapping::new(source, shadow, &alter);
        let shadow_key = mapping
            .shadow_key()
            .ok_or_else(|| fail("the shadow lost the key columns".into()))?;
        cutover::drop_sentry(&mut work, &record.schema, &record.old_table).await?;
        let high_water = if record.copy_done {
            HighWater::All
        } else {
            match &record.copied_key {
                Some(k) => HighWater::Key(k.clone()),
                None => HighWater::Start,
            }
        };
        // A chunk that committed after the last checkpoint is copied again.
        match &high_water {
            HighWater::Start => {
                work.query_drop(format!("DELETE FROM {}", mapping.shadow.qualified()))
                    .await?
            }
            HighWater::Key(k) => {
                work.query_drop(format!(
                    "DELETE FROM {} WHERE {}",
                    mapping.shadow.qualified(),
                    shadow_key.key_after(k)
                ))
                .await?
            }
            HighWater::All => {}
        }
        let position = GtidSet::parse(&record.binlog_pos).map_err(|e| fail(e.to_string()))?;
        Ok((mapping, shadow_key, high_water, position))
    }
    .await;
    let (mapping, shadow_key, high_water, position) = match result {
        Ok(v) => v,
        Err(e) => {
            let (code, _, message) = e.client_error();
            let _ = work
                .query_drop(format!(
                    "DROP TABLE IF EXISTS {}",
                    qualified(&record.schema, &record.shadow_table)
                ))
                .await;
            let _ = store::finish(
                &mut work,
                record.id,
                State::Failed,
                None,
                Some((code, &message)),
            )
            .await;
            return Err(e);
        }
    };
    let rows_total = mapping.source.rows_estimate;
    let migration = Arc::new(Migration::new(
        record.id,
        &record.schema,
        &record.table,
        &record.statement,
        progress(
            record.state,
            record.rows_copied,
            rows_total,
            record.postponed,
        ),
    ));
    tracing::info!(
        migration = record.id,
        copied_key = ?high_water,
        position = %position,
        "resuming from checkpoint"
    );
    Ok(Some(Started {
        migration,
        owner,
        work,
        mapping,
        shadow_key,
        copier: Copier::new(
            high_water,
            record.rows_copied,
            engine.settings().chunk_target,
        ),
        position,
        old_name: record.old_table,
        sql_mode: record.sql_mode,
        // Nobody waits for a resumed migration's answer.
        native_copies: true,
    }))
}

/// Runs the migration to its end and records the outcome.
pub async fn run(engine: Arc<Engine>, mut s: Started) {
    let m = s.migration.clone();
    let span = tracing::info_span!("migration", id = m.id, table = %crate::logsafe::untrusted(qualified(&m.schema, &m.table)));
    let result = tracing::Instrument::instrument(drive(&engine, &mut s), span.clone()).await;
    let _e = span.enter();
    let mut conn = match super::connect(&engine.opts).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the migration's end");
            None
        }
    };
    // The record and the tables are settled before the progress says so:
    // whoever sees a final state sees the shadow table gone.
    match &result {
        Err(MigrateError::Stopping) => {
            m.update(|p| p.error = Some("stopped with Tern; resumes at the next start".into()));
            tracing::info!(
                rows_copied = s.copier.rows_copied,
                "migration checkpointed for shutdown"
            );
        }
        Ok(finished) => {
            if let Some(c) = conn.as_mut() {
                let _ = store::finish(
                    c,
                    m.id,
                    State::Done,
                    Some(finished.held.as_millis() as u64),
                    None,
                )
                .await;
            }
            m.update(|p| {
                p.state = State::Done;
                p.last_hold = Some(finished.held);
            });
            tracing::info!(
                held_ms = finished.held.as_millis() as u64,
                old_table = %s.old_name,
                "migration done"
            );
        }
        Err(e) => {
            let state = if matches!(e, MigrateError::Cancelled) {
                State::Cancelled
            } else {
                State::Failed
            };
            let (code, _, message) = e.client_error();
            if let Some(c) = conn.as_mut() {
                let shadow = s.mapping.shadow.qualified();
                let _ = c.query_drop(format!("DROP TABLE IF EXISTS {shadow}")).await;
                let _ = cutover::drop_sentry(c, &s.mapping.source.schema, &s.old_name).await;
                let _ = store::finish(c, m.id, state, None, Some((code, &message))).await;
            }
            m.update(|p| {
                p.state = state;
                p.error = Some(message.clone());
            });
            tracing::warn!(state = state.name(), code, error = %crate::logsafe::untrusted(&message), "migration ended without a cut-over");
        }
    }
    if let Some(c) = conn {
        let _ = c.disconnect().await;
    }
    let _ = s.owner.query_drop("DO RELEASE_ALL_LOCKS()").await;
    m.finish(result);
}

async fn apply_pending(s: &mut Started, changes: &Changes) -> Result<GtidSet, MigrateError> {
    let (keys, position) = changes.take().map_err(MigrateError::Internal)?;
    if !keys.is_empty() {
        apply(
            &mut s.work,
            &s.mapping,
            &s.shadow_key,
            &keys,
            &s.copier.high_water,
            true,
        )
        .await?;
    }
    Ok(position)
}

async fn checkpoint(s: &mut Started, position: &GtidSet) -> Result<(), MigrateError> {
    let id = s.migration.id;
    store::checkpoint(
        &mut s.work,
        id,
        s.copier.high_water.key(),
        s.copier.done(),
        &position.to_string(),
        s.copier.rows_copied,
    )
    .await
}

/// What a freeze needs, with the hold bound as configured now (SIGHUP may change it).
fn freeze_context<'a>(
    engine: &'a Engine,
    sql_mode: &'a str,
    mapping: &'a Mapping,
    shadow_key: &'a Table,
    changes: &'a Changes,
) -> FreezeContext<'a> {
    FreezeContext {
        opts: &engine.opts,
        sql_mode,
        gate: &engine.gate,
        changes,
        mapping,
        shadow_key,
        bound: engine.settings().hold_bound,
    }
}

/// `ANALYZE TABLE`; stale statistics are no reason to fail the change.
async fn analyze(work: &mut Conn, table: &str) {
    let started = Instant::now();
    match work.query_drop(format!("ANALYZE TABLE {table}")).await {
        Ok(()) => tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "shadow table analyzed"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot analyze the shadow table"),
    }
}

/// Sleeps `step`, or less when an operator command arrives.
async fn idle(m: &Migration, step: Duration) {
    let _ = tokio::time::timeout(step, m.wake.notified()).await;
}

async fn drive(engine: &Arc<Engine>, s: &mut Started) -> Result<Finished, MigrateError> {
    let m = s.migration.clone();
    let capture =
        Capture::start(engine.opts.clone(), &s.mapping.source, s.position.clone()).await?;
    let changes = capture.changes.clone();

    // Copy, applying changes between chunks.
    store::set_state(&mut s.work, m.id, State::Copying).await?;
    m.update(|p| {
        p.state = State::Copying;
        p.copy_started = Some(Instant::now());
    });
    let mut last_checkpoint = Instant::now();
    let mut last_log = Instant::now();
    let mut throttled_since: Option<Instant> = None;
    while !s.copier.done() {
        if m.is_cancelled() {
            return Err(MigrateError::Cancelled);
        }
        if engine.is_stopping() {
            let position = apply_pending(s, &changes).await?;
            checkpoint(s, &position).await?;
            return Err(MigrateError::Stopping);
        }
        if m.is_paused() {
            // A pause is the operator's wait, not a throttle: it does not count
            // towards the throttle bound, which starts again after RESUME.
            if throttled_since.take().is_some() {
                m.update(|p| p.throttled = None);
            }
            apply_pending(s, &changes).await?;
            idle(&m, IDLE_STEP).await;
            continue;
        }
        // Settings may change under a running migration (SIGHUP).
        let settings = engine.settings();
        s.copier.set_target(settings.chunk_target);
        let verdict = engine.throttle().check(&mut s.work).await?;
        let lag = verdict.lag_ms;
        m.update(|p| {
            p.ignored_replicas = verdict.ignored;
            p.lag_ms = lag;
        });
        if let Some(reason) = verdict.reason {
            let since = *throttled_since.get_or_insert_with(|| {
                tracing::info!(reason = %crate::logsafe::untrusted(&reason), "copy throttled");
                Instant::now()
            });
            let bound = settings.max_throttle;
            if !bound.is_zero() && since.elapsed() >= bound {
                return Err(MigrateError::Throttled {
                    waited_secs: since.elapsed().as_secs(),
                    bound_secs: bound.as_secs(),
                    reason,
                });
            }
            m.update(|p| p.throttled = Some(reason));
            apply_pending(s, &changes).await?;
            idle(&m, IDLE_STEP).await;
            continue;
        }
        if let Some(since) = throttled_since.take() {
            tracing::info!(
                throttled_ms = since.elapsed().as_millis() as u64,
                "copy resumed"
            );
        }
        s.copier.copy_chunk(&mut s.work, &s.mapping).await?;
        let position = apply_pending(s, &changes).await?;
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            checkpoint(s, &position).await?;
            last_checkpoint = Instant::now();
        }
        let rows = s.copier.rows_copied;
        m.update(|p| {
            p.rows_copied = rows;
            p.rows_total = p.rows_total.max(rows);
            p.throttled = None;
        });
        if last_log.elapsed() >= LOG_PROGRESS_EVERY {
            let p = m.progress();
            tracing::info!(
                rows_copied = p.rows_copied,
                rows_total = p.rows_total,
                chunk_rows = s.copier.chunk_rows,
                pending_changes = changes.pending_keys(),
                replica_lag_ms = lag,
                "copy progress"
            );
            last_log = Instant::now();
        }
    }
    let position = apply_pending(s, &changes).await?;
    checkpoint(s, &position).await?;
    tracing::info!(rows_copied = s.copier.rows_copied, "copy done");

    // Verify in one snapshot; recopy what differs.
    store::set_state(&mut s.work, m.id, State::Verifying).await?;
    m.update(|p| p.state = State::Verifying);
    let mut verified = false;
    let mut backoff = FIRST_RETRY;
    let mut round = 0;
    while round < MAX_VERIFY_ROUNDS {
        if m.is_cancelled() {
            return Err(MigrateError::Cancelled);
        }
        if engine.is_stopping() {
            return Err(MigrateError::Stopping);
        }
        // Two snapshots of the same frozen moment: the checksums of the
        // original and of the shadow run side by side.
        let mut snapshot = engine_conn(&engine.opts, &s.sql_mode).await?;
        let mut shadow_snapshot = engine_conn(&engine.opts, &s.sql_mode).await?;
        for c in [&mut snapshot, &mut shadow_snapshot] {
            c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .await?;
        }
        let cx = freeze_context(engine, &s.sql_mode, &s.mapping, &s.shadow_key, &changes);
        let lock_sql = format!(
            "LOCK TABLES {} READ, {} WRITE",
            s.mapping.source.qualified(),
            s.mapping.shadow.qualified()
        );
        let Some(frozen) = cutover::freeze(&cx, lock_sql).await? else {
            tracing::info!(
                retry_in_ms = backoff.as_millis() as u64,
                "verify snapshot backed out"
            );
            apply_pending(s, &changes).await?;
            idle(&m, backoff).await;
            backoff = (backoff * 2).min(MAX_RETRY);
            continue;
        };
        for c in [&mut snapshot, &mut shadow_snapshot] {
            c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                .await?;
        }
        let held = frozen.release().await;
        tracing::info!(held_ms = held.as_millis() as u64, "verify snapshot taken");
        // Bigger ranges than copy chunks: a checksum only reads.
        let chunk = (s.copier.chunk_rows * 4).max(10_000);
        let differ = verify::differing_ranges(
            &mut snapshot,
            &mut shadow_snapshot,
            &s.mapping,
            &s.shadow_key,
            chunk,
        )
        .await?;
        for mut c in [snapshot, shadow_snapshot] {
            let _ = c.query_drop("COMMIT").await;
            let _ = c.disconnect().await;
        }
        round += 1;
        if differ.is_empty() {
            verified = true;
            break;
        }
        tracing::warn!(
            ranges = differ.len(),
            round,
            "checksum found differences; copying those ranges again"
        );
        for range in &differ {
            verify::recopy(&mut s.work, &s.mapping, &s.shadow_key, range).await?;
        }
        apply_pending(s, &changes).await?;
    }
    if !verified {
        return Err(MigrateError::Internal(format!(
            "the shadow table still differs from the original after {MAX_VERIFY_ROUNDS} checksum rounds"
        )));
    }
    tracing::info!("checksum matches");

    // Postponed: keep up with the binlog until an operator says COMPLETE.
    if m.is_postponed() {
        store::set_state(&mut s.work, m.id, State::Postponed).await?;
        m.update(|p| p.state = State::Postponed);
        tracing::info!("cut-over postponed until TERN COMPLETE");
        while m.is_postponed() {
            if m.is_cancelled() {
                return Err(MigrateError::Cancelled);
            }
            if engine.is_stopping() {
                return Err(MigrateError::Stopping);
            }
            apply_pending(s, &changes).await?;
            idle(&m, IDLE_STEP * 2).await;
        }
    }

    // Fresh statistics, as a native rebuild leaves them, measured before the
    // write hold so the swap does not wait for them. InnoDB keeps them across
    // the RENAME.
    analyze(&mut s.work, &s.mapping.shadow.qualified()).await;

    // Cut over, backing off while the lock is not granted within the bound.
    store::set_state(&mut s.work, m.id, State::CuttingOver).await?;
    m.update(|p| p.state = State::CuttingOver);
    let mut attempts = m.progress().cutover_attempts;
    let mut backoff = FIRST_RETRY;
    loop {
        if m.is_cancelled() {
            return Err(MigrateError::Cancelled);
        }
        if engine.is_stopping() {
            return Err(MigrateError::Stopping);
        }
        if m.is_postponed() {
            apply_pending(s, &changes).await?;
            idle(&m, IDLE_STEP * 2).await;
            continue;
        }
        apply_pending(s, &changes).await?;
        attempts += 1;
        store::note_attempt(&mut s.work, m.id, attempts).await?;
        m.update(|p| p.cutover_attempts = attempts);
        let cx = freeze_context(engine, &s.sql_mode, &s.mapping, &s.shadow_key, &changes);
        match cutover::swap(&cx, &mut s.work, &s.old_name).await? {
            SwapOutcome::Swapped { held, gtid, steps } => {
                let [locked_ms, caught_up_ms, rename_queued_ms, unlocked_ms] = steps.log_fields();
                tracing::info!(
                    attempt = attempts,
                    held_ms = held.as_millis() as u64,
                    locked_ms,
                    caught_up_ms,
                    rename_queued_ms,
                    unlocked_ms,
                    gtid = %gtid,
                    "cut-over done"
                );
                m.update(|p| p.last_hold = Some(held));
                return Ok(Finished {
                    gtid,
                    held,
                    report: s.copier.report(s.native_copies),
                });
            }
            SwapOutcome::BackedOut { held, reason } => {
                tracing::info!(
                    attempt = attempts,
                    held_ms = held.as_millis() as u64,
                    reason = %reason,
                    retry_in_ms = backoff.as_millis() as u64,
                    "cut-over backed out"
                );
                m.update(|p| p.last_hold = Some(held));
                idle(&m, backoff).await;
                backoff = (backoff * 2).min(MAX_RETRY);
            }
        }
    }
}
