//! One migration's life, in order: copy with catch-up, verify, wait while
//! postponed, cut over with retries, and record how it ended. Each step is a
//! function of its own, and [`drive`] reads as the list of them; a resumed
//! migration enters the same life at its checkpoint (see `start`).
//!
//! Invariants:
//! - Between steps, never inside one, the runner asks whether it was
//!   cancelled or Tern is stopping (`Migration::interrupted`); a cut-over
//!   attempt under way always finishes or backs out first.
//! - Stopping checkpoints and keeps the shadow for the next start; every
//!   other early end goes through [`abandon`], which drops the shadow and
//!   records the failure before anyone is told.
//! - Captured changes are applied whenever the copy waits (pause, throttle,
//!   backoff, postponement), so the final catch-up under the lock stays short.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::apply::{apply, with_cascaded};
use super::binlog::{Capture, Changes};
use super::conn::{connect, engine_conn};
use super::cutover::{self, FreezeContext, SwapOutcome};
use super::engine::Engine;
use super::foreign_keys;
use super::group::{self, MemberEnd};
use super::mapping::Mapping;
use super::migration::{Finished, Migration};
use super::pace::{self, ClientLatency, Pace, ServerPressure};
use super::redo_room::{self, RedoRoom, Room};
use super::settings::MigrateSettings;
use super::slots::SlotClaim;
use super::start::Started;
use super::store::{self, State};
use super::table::{qualified, Table};
use super::throttle;
use super::verify;
use super::MigrateError;
use crate::admin::latency::LatencySnapshot;
use crate::admin::near_copy::NearCopy;
use crate::gtid::GtidSet;

/// A checkpoint at most this often: each is one UPDATE on the primary.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// A progress line in the log this often while copying.
const LOG_PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How long the copier sleeps while throttled or paused before looking again.
const IDLE_STEP: Duration = Duration::from_millis(100);
/// How long a copy waiting for a slot sleeps before looking again: a freed
/// slot, an operator command, a cancel or a shutdown end the wait at once, so
/// the step only paces catch-up and picks up a raised limit (SIGHUP).
const SLOT_STEP: Duration = Duration::from_millis(500);
/// How long a postponed migration sleeps between catch-ups: COMPLETE ends the
/// wait at once, so the step only paces how often captured changes are applied.
const POSTPONED_STEP: Duration = Duration::from_millis(200);
/// How often changes are applied while a checksum reads.
const APPLY_DURING_CHECKSUM: Duration = Duration::from_millis(200);
/// Verify rounds (checksum, recopy what differs) before giving up.
const MAX_VERIFY_ROUNDS: u32 = 3;
/// Backoff between cut-over attempts, doubling up to the cap.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// The longest the copier gives back after one chunk, so that a pace that
/// recovers is acted on soon.
const MAX_PACE_WAIT: Duration = Duration::from_secs(2);
/// How far back the client-latency baseline looks when a copy starts...
const BASELINE_SPAN: Duration = Duration::from_secs(30);
/// ...in parts this long, taking the median part's quantile: one burst in
/// the span (clients connecting, one flush) is not the workload's normal.
/// Seen: a benchmark's writers connecting 5 s before the ALTER put 145-170 ms
/// stalls into the span, and the tail's limit came out at 2.3x the
/// workload's steady p99.9.
const BASELINE_SLICE: Duration = Duration::from_secs(5);
/// Fewer writes than this before the copy make no baseline: the latency
/// signal then holds writes to the absolute limit only.
const BASELINE_MIN_WRITES: u64 = 50;

fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_RETRY)
}

/// Runs the migration to its end and records the outcome.
pub async fn run(engine: Arc<Engine>, mut s: Started) {
    let m = s.migration.clone();
    let span = tracing::info_span!("migration", id = m.id, table = %crate::logsafe::untrusted(qualified(&m.schema, &m.table)));
    let result = tracing::Instrument::instrument(drive(&engine, &mut s), span.clone())
        .await
        .map_err(|e| e.about_source(&s.mapping.shadow.name, &s.mapping.source.name));
    let _e = span.enter();
    let mut conn = match connect(&engine.opts).await {
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
            record_done(conn.as_mut(), &m, finished, &s.old_name).await;
            if let Some(c) = conn.as_mut() {
                if let Err(e) = engine
                    .keep_after_cutover(c, m.clone(), &finished.kept_from)
                    .await
                {
                    tracing::warn!(error = %e, "cannot keep the old table current; the migration cannot be reverted");
                }
            }
        }
        Err(e) => {
            let sentry = (s.mapping.source.schema.as_str(), s.old_name.as_str());
            let shadow = s.mapping.shadow.qualified();
            let (state, message) = abandon(conn.as_mut(), m.id, &shadow, Some(sentry), e).await;
            m.update(|p| {
                p.state = state;
                p.error = Some(message);
            });
        }
    }
    if let Some(c) = conn {
        let _ = c.disconnect().await;
    }
    let _ = s.owner.query_drop("DO RELEASE_ALL_LOCKS()").await;
    m.finish(result);
}

async fn record_done(conn: Option<&mut Conn>, m: &Migration, finished: &Finished, old_name: &str) {
    if let Some(c) = conn {
        let held_ms = Some(finished.held.as_millis() as u64);
        let _ = store::finish(c, m.id, State::Done, held_ms, None).await;
    }
    m.update(|p| {
        p.state = State::Done;
        p.last_hold = Some(finished.held);
    });
    tracing::info!(
        held_ms = finished.held.as_millis() as u64,
        old_table = %old_name,
        "migration done"
    );
}

/// Ends a migration without a cut-over: drops the shadow (`shadow`, qualified)
/// and the sentry (`(schema, name)`) if one is given and still there, records
/// the end in the control table (cancelled after `TERN CANCEL`, failed
/// otherwise) and logs it. Best effort: with no connection, or when a
/// statement fails, the record stays unfinished and the next start looks at
/// it again (`start::resume`). Returns the state and the client's message.
pub(super) async fn abandon(
    conn: Option<&mut Conn>,
    id: u64,
    shadow: &str,
    sentry: Option<(&str, &str)>,
    error: &MigrateError,
) -> (State, String) {
    let state = if matches!(error, MigrateError::Cancelled) {
        State::Cancelled
    } else {
        State::Failed
    };
    let (code, _, message) = error.client_error();
    if let Some(c) = conn {
        let _ = c.query_drop(format!("DROP TABLE IF EXISTS {shadow}")).await;
        if let Some((schema, name)) = sentry {
            let _ = cutover::drop_sentry(c, schema, name).await;
        }
        let _ = store::finish(c, id, state, None, Some((code, &message))).await;
    }
    tracing::warn!(state = state.name(), code, error = %crate::logsafe::untrusted(&message), "migration ended without a cut-over");
    (state, message)
}

/// The migration's steps, in order. Change capture runs from the start
/// position (or the checkpoint's) until the cut-over is done or given up.
async fn drive(engine: &Arc<Engine>, s: &mut Started) -> Result<Finished, MigrateError> {
    let capture = Capture::start(
        engine.opts.clone(),
        &s.mapping.source,
        &s.cascades,
        s.position.clone(),
    )
    .await?;
    let changes = &capture.changes;
    copy_phase(engine, s, changes).await?;
    verify_phase(engine, s, changes).await?;
    if let Some(finished) = wait_while_postponed(engine, s, changes).await? {
        // Cut over with others in one RENAME (`TERN COMPLETE a, b`).
        return Ok(finished);
    }
    // Fresh statistics, as a native rebuild leaves them, measured before the
    // write hold so the swap does not wait for them. InnoDB keeps them across
    // the RENAME.
    analyze(&mut s.work, &s.mapping.shadow.qualified()).await;
    cut_over(engine, s, changes).await
}

/// When the copy last checkpointed, logged, and since when it is throttled;
/// and its pace, with what the pace last looked at.
struct CopyClock {
    last_checkpoint: Instant,
    last_log: Instant,
    throttled_since: Option<Instant>,
    pace: Pace,
    last_look: Instant,
    last_writes: LatencySnapshot,
    /// `last_writes`' share that ran alongside a copy chunk.
    last_alongside: LatencySnapshot,
    slowed_since: Option<Instant>,
    /// The pace's throttle reason while it is below full pace.
    pace_note: Option<String>,
    /// What the server said at the last throttle check.
    last_pressure: Option<ServerPressure>,
    /// How many rows the next chunk has redo room for.
    room: RedoRoom,
    /// How many times a chunk waited for redo room.
    room_waits: u64,
}

impl CopyClock {
    fn start(engine: &Engine) -> CopyClock {
        let now = Instant::now();
        let history = &engine.client_writes;
        let baseline = history.typical_quantile(
            BASELINE_SPAN,
            BASELINE_SLICE,
            0.99,
            BASELINE_MIN_WRITES,
            now,
        );
        let tail = history.typical_quantile(
            BASELINE_SPAN,
            BASELINE_SLICE,
            0.999,
            pace::P999_MIN_WRITES,
            now,
        );
        CopyClock {
            last_checkpoint: now,
            last_log: now,
            throttled_since: None,
            pace: Pace::new(baseline).with_baseline_p999(tail),
            last_look: now,
            last_alongside: engine.near_copy.writes.snapshot(),
            last_writes: engine.client_writes.buckets.snapshot(),
            slowed_since: None,
            pace_note: None,
            last_pressure: None,
            room: RedoRoom::default(),
            room_waits: 0,
        }
    }
}

/// Copies every row in key chunks, applying captured changes between chunks,
/// until the copier has reached the end of the key. Pauses and throttles wait
/// here; a shutdown checkpoints first.
async fn copy_phase(
    engine: &Engine,
    s: &mut Started,
    changes: &Changes,
) -> Result<(), MigrateError> {
    let m = s.migration.clone();
    store::set_state(&mut s.work, m.id, State::Copying).await?;
    let mut clock = CopyClock::start(engine);
    let baseline = clock.pace.baseline_p99();
    m.update(|p| {
        p.state = State::Copying;
        p.baseline_p99 = baseline;
    });
    let mut slot = engine.copy_slots.claim(m.id);
    while !s.copier.done() {
        if let Err(e) = m.interrupted() {
            if matches!(e, MigrateError::Stopping) {
                let position = apply_pending(s, changes).await?;
                checkpoint(s, &position).await?;
            }
            return Err(e);
        }
        if m.is_paused() {
            // A pause is the operator's wait, not a throttle: it does not count
            // towards the throttle bound, which starts again after RESUME.
            // Another copy may use the slot meanwhile.
            if clock.throttled_since.take().is_some() {
                m.update(|p| p.throttled = None);
            }
            slot.give_back();
            apply_pending(s, changes).await?;
            m.idle(IDLE_STEP).await;
            continue;
        }
        // Settings may change under a running migration (SIGHUP).
        let settings = engine.settings();
        if !slot.held() {
            if !wait_for_slot(engine, &settings, s, changes, &mut clock, &mut slot).await? {
                continue;
            }
            if clock.pace.baseline_pressure().is_none() {
                let before = throttle::pressure_before_copy(&mut s.work).await?;
                clock.pace.note_pressure_before_copy(before);
            }
            m.update(|p| {
                p.throttled = None;
                p.copy_started.get_or_insert_with(Instant::now);
            });
            let before = clock.pace.baseline_pressure();
            if let Some(age) = before
                .filter(ServerPressure::flushing_ahead)
                .and_then(|b| b.checkpoint_age_pct())
            {
                // Not something the pace can fix: measured with the copy done
                // and only the change capture running, writers stalled 114-167 ms
                // at checkpoints on a 96 MiB redo log kept 91 % full.
                tracing::warn!(
                    checkpoint_age_pct = age,
                    flush_ahead_pct = pace::FLUSH_AHEAD_PCT,
                    "the workload alone keeps InnoDB's redo log past the point where it flushes \
                     ahead of its checkpoints; the change capture doubles this table's dirty pages, \
                     so writers may stall at checkpoints whatever the copy's pace; a larger \
                     innodb_log_file_size (dynamic since MariaDB 10.11) avoids it"
                );
            }
            tracing::info!(
                baseline_write_p99_ms = baseline.map(|b| b.as_secs_f64() * 1000.0),
                checkpoint_age_before = before.map(|b| b.checkpoint_age),
                checkpoint_max_age = before.map(|b| b.checkpoint_max_age),
                history_length_before = before.map(|b| b.history_length),
                copies_running = engine.copy_slots.in_use(),
                "copy starts at full pace"
            );
        }
        s.copier.set_target(settings.chunk_target);
        let Some(verdict) = wait_if_throttled(engine, &settings, s, changes, &mut clock).await?
        else {
            continue;
        };
        if !make_room(s, changes, &settings, &mut clock, verdict.pressure.as_ref()).await? {
            continue;
        }
        let chunk_started = Instant::now();
        let lsn_before = verdict.pressure.map(|p| p.lsn).filter(|&l| l > 0);
        copy_chunk(
            s,
            changes,
            &mut clock,
            &engine.near_copy,
            verdict.lag_ms,
            lsn_before,
        )
        .await?;
        keep_pace(
            engine,
            &settings,
            s,
            changes,
            &mut clock,
            verdict.pressure,
            chunk_started.elapsed(),
        )
        .await?;
    }
    let position = apply_pending(s, changes).await?;
    checkpoint(s, &position).await?;
    tracing::info!(rows_copied = s.copier.rows_copied, "copy done");
    // Freed here, once the copy is done and checkpointed (the slot would go
    // with `slot` anyway; the log then shows one copy ending before the next starts).
    drop(slot);
    Ok(())
}

/// Takes a copy slot (`--migration-max-concurrent`), or, while none is free,
/// shows why in `throttled`, applies changes and idles until a slot is freed
/// or an operator command, a cancel or a shutdown arrives. Waiting for a slot
/// is not a throttle: it never counts towards `max_throttle`. Whether the slot
/// is held.
async fn wait_for_slot(
    engine: &Engine,
    settings: &MigrateSettings,
    s: &mut Started,
    changes: &Changes,
    clock: &mut CopyClock,
    slot: &mut SlotClaim<'_>,
) -> Result<bool, MigrateError> {
    let m = s.migration.clone();
    // Registered before the look, so a slot freed in between still wakes us.
    let freed = engine.copy_slots.freed.notified();
    let Err(reason) = slot.take(settings.max_concurrent) else {
        return Ok(true);
    };
    clock.throttled_since = None;
    if m.progress().throttled.as_deref() != Some(reason.as_str()) {
        tracing::info!(reason = %reason, "copy waits for a slot");
    }
    m.update(|p| p.throttled = Some(reason));
    apply_pending(s, changes).await?;
    tokio::select! {
        () = m.idle(SLOT_STEP) => {}
        () = freed => {}
    }
    Ok(false)
}

/// Asks the throttle. While it says wait, applies changes and idles one step
/// and returns `None`; past `max_throttle` without a chunk, fails. Otherwise
/// returns the verdict (replica lag for the progress log, server pressure for
/// the pace).
async fn wait_if_throttled(
    engine: &Engine,
    settings: &MigrateSettings,
    s: &mut Started,
    changes: &Changes,
    clock: &mut CopyClock,
) -> Result<Option<throttle::Verdict>, MigrateError> {
    let m = s.migration.clone();
    let mut verdict = engine.throttle().check(&mut s.work).await?;
    let lag = verdict.lag_ms;
    let ignored = std::mem::take(&mut verdict.ignored);
    m.update(|p| {
        p.ignored_replicas = ignored;
        p.lag_ms = lag;
    });
    let Some(reason) = verdict.reason.take() else {
        if let Some(since) = clock.throttled_since.take() {
            tracing::info!(
                throttled_ms = since.elapsed().as_millis() as u64,
                "copy resumed"
            );
        }
        return Ok(Some(verdict));
    };
    let since = *clock.throttled_since.get_or_insert_with(|| {
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
    apply_pending(s, changes).await?;
    m.idle(IDLE_STEP).await;
    Ok(None)
}

/// Caps the next chunk at the rows the redo log has room for (`redo_room`),
/// or, while it has none, shows why, applies captured changes and idles one
/// short step. Whether the chunk may run.
async fn make_room(
    s: &mut Started,
    changes: &Changes,
    settings: &MigrateSettings,
    clock: &mut CopyClock,
    pressure: Option<&ServerPressure>,
) -> Result<bool, MigrateError> {
    let m = s.migration.clone();
    let limit = clock.pace.redo_limit_pct(&settings.pace);
    let waiting_since = clock.room.held_since();
    let room = clock.room.room(pressure, limit);
    if room != Room::Full {
        if let Some(since) = waiting_since {
            tracing::debug!(
                waited_ms = since.elapsed().as_millis() as u64,
                room = ?room,
                "copy has redo room again"
            );
            m.update(|p| p.throttled = clock.pace_note.clone());
        }
        s.copier.cap_next(match room {
            Room::Rows(rows) => Some(rows),
            _ => None,
        });
        return Ok(true);
    }
    let age = pressure
        .and_then(ServerPressure::checkpoint_age_pct)
        .unwrap_or(0.0);
    if waiting_since.is_none() {
        clock.room_waits += 1;
        tracing::debug!(
            checkpoint_age_pct = age,
            limit_pct = limit,
            "copy waits for redo room"
        );
    }
    m.update(|p| {
        p.throttled = Some(format!(
            "redo room: checkpoint age {age:.1}% at its limit {limit:.1}%, chunk waits"
        ))
    });
    apply_pending(s, changes).await?;
    m.idle(redo_room::HOLD_STEP).await;
    Ok(false)
}

/// Copies one chunk, applies what capture read meanwhile, and checkpoints and
/// logs progress when they are due. With the LSN before the chunk, reads it
/// after to learn the chunk's redo per row. The chunk itself is marked in
/// `near` while it runs (the pace's blame).
async fn copy_chunk(
    s: &mut Started,
    changes: &Changes,
    clock: &mut CopyClock,
    near: &NearCopy,
    lag_ms: u64,
    lsn_before: Option<u64>,
) -> Result<(), MigrateError> {
    let m = s.migration.clone();
    let copied = {
        let _chunk = near.chunk();
        s.copier.copy_chunk(&mut s.work, &s.mapping).await?
    };
    if let Some(before) = lsn_before {
        if let Some(after) = throttle::lsn_now(&mut s.work).await? {
            clock.room.measured(before, after, copied);
        }
    }
    let position = apply_pending(s, changes).await?;
    if clock.last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
        checkpoint(s, &position).await?;
        clock.last_checkpoint = Instant::now();
    }
    let rows = s.copier.rows_copied;
    m.update(|p| {
        p.rows_copied = rows;
        p.rows_total = p.rows_total.max(rows);
        p.throttled = clock.pace_note.clone();
    });
    if clock.last_log.elapsed() >= LOG_PROGRESS_EVERY {
        let p = m.progress();
        tracing::info!(
            rows_copied = p.rows_copied,
            rows_total = p.rows_total,
            chunk_rows = s.copier.chunk_rows,
            pending_changes = changes.pending_keys(),
            replica_lag_ms = lag_ms,
            redo_bytes_per_row = clock.room.bytes_per_row().map(|b| b.round() as u64),
            redo_room_waits = clock.room_waits,
            "copy progress"
        );
        clock.last_log = Instant::now();
    }
    Ok(())
}

/// Reads the pace signals, then gives back the share of time the pace asks
/// for after a chunk that took `chunk_took`, applying captured changes
/// meanwhile. The wait is cut in slices of `pace::MIN_WINDOW` with a look
/// after each, so a pace that recovers shortens the wait at once.
async fn keep_pace(
    engine: &Engine,
    settings: &MigrateSettings,
    s: &mut Started,
    changes: &Changes,
    clock: &mut CopyClock,
    pressure: Option<ServerPressure>,
    chunk_took: Duration,
) -> Result<(), MigrateError> {
    let m = s.migration.clone();
    clock.last_pressure = pressure;
    look_at_pace(engine, settings, &m, clock);
    let started = Instant::now();
    loop {
        let wait = clock.pace.wait_after(chunk_took).min(MAX_PACE_WAIT);
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() || m.interrupted().is_err() {
            return Ok(());
        }
        apply_pending(s, changes).await?;
        m.idle(left.min(pace::MIN_WINDOW)).await;
        look_at_pace(engine, settings, &m, clock);
    }
}

/// One look at the pace signals, at most every `pace::MIN_WINDOW`: moves the
/// pace, shows it and logs when it drops or is back at full.
fn look_at_pace(engine: &Engine, settings: &MigrateSettings, m: &Migration, clock: &mut CopyClock) {
    let now = Instant::now();
    let window = now.duration_since(clock.last_look);
    if window < pace::MIN_WINDOW {
        return;
    }
    // The subset first: a write recorded in between is then in the whole.
    let alongside = engine.near_copy.writes.snapshot();
    let writes = engine.client_writes.buckets.snapshot();
    let recent = writes.since(&clock.last_writes);
    let recent_alongside = alongside.since(&clock.last_alongside);
    let before = clock.pace.level();
    let clients = ClientLatency {
        window,
        writes: &recent,
        alongside: Some(&recent_alongside),
    };
    let level = clock
        .pace
        .look(&settings.pace, Some(clients), clock.last_pressure);
    clock.last_look = now;
    clock.last_writes = writes;
    clock.last_alongside = alongside;
    let pct = (level * 100.0).round() as u8;
    let reason = clock.pace.reason();
    if level < before {
        tracing::info!(
            pace_pct = pct,
            reason = reason.as_deref().unwrap_or(""),
            "copy slowed"
        );
        clock.slowed_since.get_or_insert(now);
    } else if level >= 1.0 && before < 1.0 {
        let slowed_ms = clock
            .slowed_since
            .take()
            .map_or(0, |t| t.elapsed().as_millis() as u64);
        tracing::info!(slowed_ms, "copy back at full pace");
    }
    clock.pace_note = (level < 1.0).then(|| match &reason {
        Some(r) => format!("pace {pct}%: {r}"),
        None => format!("pace {pct}%, recovering"),
    });
    let readings = clock.pace.readings().to_vec();
    let note = clock.pace_note.clone();
    m.update(|p| {
        p.pace_pct = pct;
        p.signals = readings;
        p.throttled = note;
    });
}

/// Compares the shadow with the original in one snapshot and copies again
/// what differs, up to `MAX_VERIFY_ROUNDS` checksums; a snapshot that could
/// not be taken within the hold bound is retried with backoff.
async fn verify_phase(
    engine: &Engine,
    s: &mut Started,
    changes: &Changes,
) -> Result<(), MigrateError> {
    let m = s.migration.clone();
    store::set_state(&mut s.work, m.id, State::Verifying).await?;
    m.update(|p| p.state = State::Verifying);
    let mut backoff = FIRST_RETRY;
    let mut round = 0;
    while round < MAX_VERIFY_ROUNDS {
        m.interrupted()?;
        let Some(differ) = checksum_round(engine, s, changes).await? else {
            tracing::info!(
                retry_in_ms = backoff.as_millis() as u64,
                "verify snapshot backed out"
            );
            apply_pending(s, changes).await?;
            m.idle(backoff).await;
            backoff = next_backoff(backoff);
            continue;
        };
        round += 1;
        if differ.is_empty() {
            tracing::info!("checksum matches");
            return Ok(());
        }
        tracing::warn!(
            ranges = differ.len(),
            round,
            "checksum found differences; copying those ranges again"
        );
        for range in &differ {
            verify::recopy(&mut s.work, &s.mapping, &s.shadow_key, range).await?;
        }
        apply_pending(s, changes).await?;
    }
    Err(MigrateError::Internal(format!(
        "the shadow table still differs from the original after {MAX_VERIFY_ROUNDS} checksum rounds"
    )))
}

/// One checksum of both tables, read in two snapshots of the same frozen
/// moment side by side. The key ranges that differ, or `None` when the freeze
/// backed out.
async fn checksum_round(
    engine: &Engine,
    s: &mut Started,
    changes: &Changes,
) -> Result<Option<Vec<verify::Range>>, MigrateError> {
    let mut snapshot = engine_conn(&engine.opts, &s.sql_mode).await?;
    let mut shadow_snapshot = engine_conn(&engine.opts, &s.sql_mode).await?;
    for c in [&mut snapshot, &mut shadow_snapshot] {
        c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
    }
    let cx = freeze_context(
        engine,
        s.migration.id,
        &s.sql_mode,
        &s.mapping,
        &s.shadow_key,
        (&s.foreign_keys, &s.cascades),
        changes,
    );
    let lock_sql = format!(
        "LOCK TABLES {} READ, {} WRITE",
        s.mapping.source.qualified(),
        s.mapping.shadow.qualified()
    );
    // As before a cut-over: the freeze then waits only for what is written
    // from here on, not for change capture's lag behind the copy's last chunks.
    cutover::catch_up(&cx, &mut s.work).await?;
    let Some(frozen) = cutover::freeze(&cx, lock_sql).await? else {
        return Ok(None);
    };
    for c in [&mut snapshot, &mut shadow_snapshot] {
        c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
    }
    let steps = frozen.steps;
    let held = frozen.release().await;
    let ms = |d: Duration| d.as_millis() as u64;
    tracing::info!(
        held_ms = ms(held),
        locked_ms = ms(steps.locked),
        read_ms = ms(steps.read),
        caught_up_ms = ms(steps.caught_up),
        keys = steps.keys,
        "verify snapshot taken"
    );
    // Bigger ranges than copy chunks: a checksum only reads.
    let chunk = (s.copier.chunk_rows * 4).max(10_000);
    let (mapping, shadow_key) = (s.mapping.clone(), s.shadow_key.clone());
    // Changes keep being applied while the checksum reads (it takes seconds
    // on a big table): left for after it, they were applied in one burst
    // that filled the redo log and stalled every writer for 390 ms (seen
    // twice in the gentle benchmark, just before the cut-over).
    let differ = {
        let checksum = verify::differing_ranges(
            &mut snapshot,
            &mut shadow_snapshot,
            &mapping,
            &shadow_key,
            chunk,
        );
        tokio::pin!(checksum);
        loop {
            tokio::select! {
                differ = &mut checksum => break differ?,
                () = tokio::time::sleep(APPLY_DURING_CHECKSUM) => {
                    apply_pending(s, changes).await?;
                }
            }
        }
    };
    for mut c in [snapshot, shadow_snapshot] {
        let _ = c.query_drop("COMMIT").await;
        let _ = c.disconnect().await;
    }
    Ok(Some(differ))
}

/// Postponed: keeps up with the binlog until an operator says COMPLETE. A
/// `TERN COMPLETE a, b` takes part in the group's cut-over here: the end
/// when the group swapped, else the migration stays postponed.
async fn wait_while_postponed(
    engine: &Engine,
    s: &mut Started,
    changes: &Changes,
) -> Result<Option<Finished>, MigrateError> {
    let m = s.migration.clone();
    if !m.is_postponed() {
        return Ok(None);
    }
    store::set_state(&mut s.work, m.id, State::Postponed).await?;
    m.update(|p| p.state = State::Postponed);
    tracing::info!("cut-over postponed until TERN COMPLETE");
    while m.is_postponed() {
        m.interrupted()?;
        if let Some(ticket) = m.take_ticket() {
            match group::member(engine, s, changes, ticket).await? {
                MemberEnd::Swapped(finished) => return Ok(Some(finished)),
                MemberEnd::BackedOut => continue,
            }
        }
        apply_pending(s, changes).await?;
        m.idle(POSTPONED_STEP).await;
    }
    Ok(None)
}

/// Cuts over, backing off while the lock is not granted within the bound. A
/// POSTPONE that arrives between attempts is honoured here too.
async fn cut_over(
    engine: &Engine,
    s: &mut Started,
    changes: &Changes,
) -> Result<Finished, MigrateError> {
    let m = s.migration.clone();
    store::set_state(&mut s.work, m.id, State::CuttingOver).await?;
    m.update(|p| p.state = State::CuttingOver);
    let mut attempts = m.progress().cutover_attempts;
    let mut backoff = FIRST_RETRY;
    loop {
        m.interrupted()?;
        if m.is_postponed() {
            apply_pending(s, changes).await?;
            m.idle(POSTPONED_STEP).await;
            continue;
        }
        apply_pending(s, changes).await?;
        attempts += 1;
        store::note_attempt(&mut s.work, m.id, attempts).await?;
        m.update(|p| p.cutover_attempts = attempts);
        let cx = freeze_context(
            engine,
            m.id,
            &s.sql_mode,
            &s.mapping,
            &s.shadow_key,
            (&s.foreign_keys, &s.cascades),
            changes,
        );
        match cutover::swap(&cx, &mut s.work, &s.old_name).await? {
            SwapOutcome::Swapped {
                held,
                gtid,
                steps,
                position,
            } => {
                steps.log_done("cut-over", attempts, held, &gtid);
                store::clear_children(&mut s.work, m.id).await?;
                m.update(|p| p.last_hold = Some(held));
                return Ok(Finished {
                    gtid,
                    held,
                    report: s.copier.report(s.native_copies),
                    kept_from: position,
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
                m.idle(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
    }
}

pub(super) async fn apply_pending(
    s: &mut Started,
    changes: &Changes,
) -> Result<GtidSet, MigrateError> {
    let mut taken = changes.take().map_err(MigrateError::Internal)?;
    let keys = with_cascaded(
        &mut s.work,
        &s.mapping,
        &s.shadow_key,
        &s.cascades,
        std::mem::take(&mut taken.keys),
        &taken.cascade_hits,
    )
    .await?;
    let left = if keys.is_empty() {
        Vec::new()
    } else {
        apply(
            &mut s.work,
            &s.mapping,
            &s.shadow_key,
            &keys,
            &s.copier.high_water,
            s.copier.ceiling().as_ref(),
            true,
        )
        .await?
    };
    Ok(changes.settle(&taken, left))
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
    id: u64,
    sql_mode: &'a str,
    mapping: &'a Mapping,
    shadow_key: &'a Table,
    foreign_keys: (&'a foreign_keys::Plan, &'a [foreign_keys::Cascade]),
    changes: &'a Changes,
) -> FreezeContext<'a> {
    FreezeContext {
        id,
        opts: &engine.opts,
        sql_mode,
        gate: &engine.gate,
        changes,
        mapping,
        shadow_key,
        foreign_keys: foreign_keys.0,
        cascades: foreign_keys.1,
        bound: engine.settings().hold_bound,
        merge: false,
    }
}

/// `ANALYZE TABLE`; stale statistics are no reason to fail the change.
pub(super) async fn analyze(work: &mut Conn, table: &str) {
    let started = Instant::now();
    match work.query_drop(format!("ANALYZE TABLE {table}")).await {
        Ok(()) => tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "shadow table analyzed"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot analyze the shadow table"),
    }
}
