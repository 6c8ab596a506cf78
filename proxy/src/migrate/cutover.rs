//! Freezing a table and swapping the shadow in.
//!
//! **Freeze** (used by verify and by the cut-over): close Tern's write gate for
//! the table, take the table lock in the database, read the primary's binlog
//! position under the lock, wait until change capture has read up to it, and
//! apply every pending change. From then until the lock is released the
//! shadow holds exactly the original's rows: every transaction that touched
//! the original committed before the lock was granted (the lock waits for
//! them), so it is in the binlog before the position read under the lock.
//!
//! **Swap on MariaDB** (RENAME under LOCK TABLES is error 1192 there), the
//! sentry-table protocol:
//! 1. create the sentry, a table named as the original will be renamed to;
//! 2. freeze with `LOCK TABLES original WRITE, sentry WRITE` (and the tables
//!    that reference the original) on connection L, and move the original's
//!    triggers and foreign keys onto the shadow and make those tables
//!    reference the shadow (see `triggers`, `foreign_keys`);
//! 3. on connection R, send `RENAME TABLE original TO old, shadow TO original`:
//!    it queues behind L's lock (and fails outright if it ever ran while the
//!    sentry exists, so a lost L can never let it swap early);
//! 4. see R waiting in the processlist, then on L drop the sentry and unlock.
//!    MariaDB grants the pending RENAME (an exclusive metadata lock) before the
//!    writes queued behind L, so those writes land in the new table;
//! 5. R returns: the swap happened in one atomic RENAME.
//!
//! Every step is bounded by the hold bound measured from the moment the gate
//! closed. A bound hit before step 4 backs out: kill R's query, move the
//! triggers, foreign keys and references back, unlock, drop the sentry, open the gate; the migration retries later and the clients
//! never wait longer than the bound. If R's connection dies during the
//! RENAME, whether it happened is read back from the tables themselves.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use mysql_async::{Conn, Opts};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apply::{apply, with_cascaded};
use super::binlog::{Changes, Taken};
use super::conn::engine_conn;
use super::copy::HighWater;
use super::fetch::Fetch;
use super::foreign_keys;
use super::gate::{GateGuard, WriteGate};
use super::mapping::Mapping;
use super::table::{qualified, KeyTuple, Table};
use super::triggers::{self, Trigger};
use super::MigrateError;
use crate::gtid::GtidSet;
use crate::protocol::errcode::ER_LOCK_WAIT_TIMEOUT;

/// Comment that marks a sentry table, so that only a sentry is ever dropped as one.
pub const SENTRY_COMMENT: &str = "tern cut-over sentry";
/// How long to wait for a killed query's connection to answer.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);
/// How often to look for the RENAME in the processlist.
const PROCESSLIST_POLL: Duration = Duration::from_millis(1);

pub struct FreezeContext<'a> {
    /// The migration's id, under which the children are recorded.
    pub id: u64,
    pub opts: &'a Opts,
    pub sql_mode: &'a str,
    pub gate: &'a Arc<WriteGate>,
    pub changes: &'a Changes,
    pub mapping: &'a Mapping,
    pub shadow_key: &'a Table,
    pub foreign_keys: &'a foreign_keys::Plan,
    pub cascades: &'a [foreign_keys::Cascade],
    /// Longest time clients' writes may be held, from gate close to gate open.
    pub bound: Duration,
    /// The shadow is a kept old table being swapped back (a revert): changes
    /// are merged into its rows (see `keeper`), not replaced.
    pub merge: bool,
}

/// A table frozen: locked in the database, gated in Tern, shadow caught up.
/// The lock connection also holds the shadow (written by the final apply,
/// which under LOCK TABLES must run on the connection that holds the locks).
pub struct Frozen {
    pub(super) lock: Conn,
    pub(super) guard: GateGuard,
    pub deadline: Instant,
    pub steps: HoldSteps,
    /// The primary's binlog position read under the lock: every write to the
    /// table before the freeze is inside it, none after it.
    pub position: GtidSet,
}

/// Where a hold's time went, each step measured from the gate's closing, so
/// that a long hold in the log says what it waited for.
#[derive(Debug, Default, Clone, Copy)]
pub struct HoldSteps {
    /// The table lock was granted (in-flight transactions on it had ended).
    pub locked: Duration,
    /// Change capture had read up to the locked position.
    pub read: Duration,
    /// The shadow had every change.
    pub caught_up: Duration,
    /// Rows the final catch-up applied under the lock.
    pub keys: usize,
    /// The RENAME was seen waiting behind the lock.
    pub rename_queued: Duration,
    /// The sentry was dropped and the lock released.
    pub unlocked: Duration,
}

impl HoldSteps {
    /// Logs a swap that happened (`what`: "cut-over", "revert", ...) with
    /// where its hold went.
    pub fn log_done(&self, what: &str, attempt: u32, held: Duration, gtid: &str) {
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::info!(
            attempt,
            held_ms = ms(held),
            locked_ms = ms(self.locked),
            read_ms = ms(self.read),
            caught_up_ms = ms(self.caught_up),
            keys = self.keys,
            rename_queued_ms = ms(self.rename_queued),
            unlocked_ms = ms(self.unlocked),
            gtid = %gtid,
            "{what} done"
        );
    }
}

impl Frozen {
    /// Unlocks and opens the gate; returns how long writes were held.
    pub async fn release(mut self) -> Duration {
        let _ = self.lock.query_drop("UNLOCK TABLES").await;
        let held = self.guard.closed_at.elapsed();
        drop(self.guard);
        held
    }
}

/// `lock_wait_timeout` takes whole seconds: the server-side backstop for the
/// bound Tern enforces itself with KILL QUERY.
fn lock_wait_secs(bound: Duration) -> u64 {
    bound.as_secs() + 1
}

pub(super) async fn kill_query(opts: &Opts, id: u32) {
    match Conn::new(opts.clone()).await {
        Ok(mut c) => {
            let _ = c.query_drop(format!("KILL QUERY {id}")).await;
            let _ = c.disconnect().await;
        }
        Err(e) => tracing::warn!(error = %e, "cannot connect to kill a lock wait"),
    }
}

/// Runs `sql` on `conn` until `deadline`; past it, kills the query. Returns the
/// connection (when still usable) and whether the statement completed.
async fn run_until(
    opts: &Opts,
    mut conn: Conn,
    sql: String,
    deadline: Instant,
) -> (Option<Conn>, Result<bool, MigrateError>) {
    let id = conn.id();
    let mut task = tokio::spawn(async move {
        let r = conn.query_drop(sql).await;
        (conn, r)
    });
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok((conn, Ok(())))) => (Some(conn), Ok(true)),
        Ok(Ok((conn, Err(mysql_async::Error::Server(e))))) if e.code == ER_LOCK_WAIT_TIMEOUT => {
            (Some(conn), Ok(false))
        }
        Ok(Ok((_, Err(e)))) => (None, Err(e.into())),
        Ok(Err(join)) => (None, Err(MigrateError::Internal(join.to_string()))),
        Err(_) => {
            kill_query(opts, id).await;
            let _ = tokio::time::timeout(KILL_GRACE, task).await;
            (None, Ok(false))
        }
    }
}

pub async fn session_for_locks(
    opts: &Opts,
    sql_mode: &str,
    bound: Duration,
) -> Result<Conn, MigrateError> {
    let mut conn = engine_conn(opts, sql_mode).await?;
    conn.query_drop(format!(
        "SET SESSION lock_wait_timeout = {}",
        lock_wait_secs(bound)
    ))
    .await?;
    Ok(conn)
}

/// How long the catch-up just before a freeze may read the binlog.
const CATCH_UP_BEFORE_FREEZE: Duration = Duration::from_secs(5);
/// How often that catch-up applies what it has read while it reads on.
const CATCH_UP_STEP: Duration = Duration::from_millis(100);
/// It goes round again while a round applied more rows than this, at most
/// this many rounds.
const SMALL_BACKLOG: usize = 100;
const CATCH_UP_ROUNDS: u32 = 4;

/// Reads the binlog up to the primary's current position and applies it
/// (in transactions, nothing is locked yet), so that the freeze waits only
/// for what is written from then on. Without it the freeze waited for
/// change capture's lag and for what was written while the cut-over got
/// ready (sentry, connections, children): 130-390 ms of the 160-410 ms holds
/// of the gentle benchmark (`bench/migrate/gentle.sh`), and the verify
/// snapshot's freeze, which had no catch-up of its own, held writes 230-720 ms
/// right after the copy's last chunk. Bounded: a capture that cannot reach
/// the position in time leaves the rest to the freeze, whose own bound
/// backs out.
pub(super) async fn catch_up(cx: &FreezeContext<'_>, work: &mut Conn) -> Result<(), MigrateError> {
    let deadline = Instant::now() + CATCH_UP_BEFORE_FREEZE;
    let mut target = super::start::primary_position(work).await?;
    let mut rounds = 1;
    let mut applied = 0;
    loop {
        let step = (Instant::now() + CATCH_UP_STEP).min(deadline);
        let read = cx
            .changes
            .wait_for(&target, step)
            .await
            .map_err(MigrateError::Internal)?;
        let (keys, taken) = taken_keys(cx, work).await?;
        let left = apply_keys(cx, work, &keys, true).await?;
        applied += keys.len();
        cx.changes.settle(&taken, left);
        if Instant::now() >= deadline {
            return Ok(());
        }
        if !read {
            continue;
        }
        // Writes kept coming while this round applied: another round on a
        // shorter backlog, so that the freeze applies only a few rows.
        if applied <= SMALL_BACKLOG || rounds == CATCH_UP_ROUNDS {
            return Ok(());
        }
        target = super::start::primary_position(work).await?;
        rounds += 1;
        applied = 0;
    }
}

/// What change capture has collected, with the rows the parents' cascades
/// changed, and the position it is complete up to.
async fn taken_keys(
    cx: &FreezeContext<'_>,
    conn: &mut Conn,
) -> Result<(Vec<KeyTuple>, Taken), MigrateError> {
    let mut taken = cx.changes.take().map_err(MigrateError::Internal)?;
    let keys = with_cascaded(
        conn,
        cx.mapping,
        cx.shadow_key,
        cx.cascades,
        std::mem::take(&mut taken.keys),
        &taken.cascade_hits,
    )
    .await?;
    Ok((keys, taken))
}

/// Brings the shadow's rows of `keys` up to date once the copy is done: a
/// kept table's are merged (a revert, see `keeper`), a shadow's replaced.
/// Returns the keys left for later (`apply`).
async fn apply_keys(
    cx: &FreezeContext<'_>,
    conn: &mut Conn,
    keys: &[KeyTuple],
    in_transaction: bool,
) -> Result<Vec<KeyTuple>, MigrateError> {
    if cx.merge {
        return super::keeper::merge(conn, cx.mapping, cx.shadow_key, keys, in_transaction).await;
    }
    apply(
        conn,
        cx.mapping,
        cx.shadow_key,
        keys,
        &HighWater::All,
        None,
        in_transaction,
    )
    .await
}

/// Freezes the table with `lock_sql`; `Ok(None)` when a bound was hit (nothing
/// is held any more).
pub async fn freeze(
    cx: &FreezeContext<'_>,
    lock_sql: String,
) -> Result<Option<Frozen>, MigrateError> {
    freeze_until(cx, lock_sql, None).await
}

/// [`freeze`], every step bounded by `deadline` when one is given (a group
/// cut-over: the hold bound counted from the first member's gate), else by
/// the hold bound from this gate's closing.
pub(super) async fn freeze_until(
    cx: &FreezeContext<'_>,
    lock_sql: String,
    deadline: Option<Instant>,
) -> Result<Option<Frozen>, MigrateError> {
    let lock = session_for_locks(cx.opts, cx.sql_mode, cx.bound).await?;
    let source = &cx.mapping.source;
    let guard = cx.gate.close(&source.schema, &source.name);
    let deadline = deadline.unwrap_or_else(|| Instant::now() + cx.bound);
    let (lock, locked) = run_until(cx.opts, lock, lock_sql, deadline).await;
    let mut steps = HoldSteps::default();
    let mut lock = match (lock, locked?) {
        (Some(conn), true) => {
            steps.locked = guard.closed_at.elapsed();
            conn
        }
        _ => {
            tracing::info!(table = %crate::logsafe::untrusted(source.qualified()), "table lock not granted within the bound");
            return Ok(None);
        }
    };
    let position: Option<String> = lock.first_as("SELECT @@gtid_binlog_pos").await?;
    let target = GtidSet::parse(position.as_deref().unwrap_or(""))
        .map_err(|e| MigrateError::Internal(e.to_string()))?;
    let caught_up = cx
        .changes
        .wait_for(&target, deadline)
        .await
        .map_err(MigrateError::Internal)?;
    if !caught_up {
        tracing::info!(table = %crate::logsafe::untrusted(source.qualified()), "binlog catch-up did not finish within the bound");
        let _ = lock.query_drop("UNLOCK TABLES").await;
        return Ok(None);
    }
    steps.read = guard.closed_at.elapsed();
    let (keys, taken) = taken_keys(cx, &mut lock).await?;
    tracing::debug!(keys = keys.len(), target = %target, position = %taken.position, "final catch-up under the lock");
    steps.keys = keys.len();
    // Autocommit statements: START TRANSACTION would release the table locks.
    // Under the lock no transaction holds a row of the table: nothing is left.
    let left = apply_keys(cx, &mut lock, &keys, false).await?;
    cx.changes.settle(&taken, left);
    steps.caught_up = guard.closed_at.elapsed();
    Ok(Some(Frozen {
        lock,
        guard,
        deadline,
        steps,
        position: target,
    }))
}

#[derive(Debug)]
pub enum SwapOutcome {
    /// The shadow is the table now; `gtid` is the RENAME's GTID. The
    /// table's row events from `position` on are the new table's.
    Swapped {
        held: Duration,
        gtid: String,
        steps: HoldSteps,
        position: GtidSet,
    },
    BackedOut {
        held: Duration,
        reason: String,
    },
}

/// Is `name` a sentry Tern created (and so safe to drop)?
async fn is_sentry(work: &mut Conn, schema: &str, name: &str) -> Result<bool, MigrateError> {
    let comment: Option<String> = work
        .exec_first_as(
            "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, name),
        )
        .await?;
    Ok(comment.as_deref() == Some(SENTRY_COMMENT))
}

pub async fn table_exists(work: &mut Conn, schema: &str, name: &str) -> Result<bool, MigrateError> {
    let n: Option<u64> = work
        .exec_first_as(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, name),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// Creates the sentry `name` in `schema`. A MEMORY table where the server
/// allows one: it is dropped while writes are held, and dropping an InnoDB
/// table also commits to the redo log. Under a write-heavy load drop + unlock
/// took 5.6 ms median and 44 ms worst against 7.9 and 67 ms for InnoDB
/// (bench/migrate/sentry.py). Keeping it out of the binary log did not help
/// there, and a replica would then fail on any logged DROP of it. InnoDB
/// where MEMORY is refused (`enforce_storage_engine`, say).
pub async fn create_sentry(work: &mut Conn, schema: &str, name: &str) -> Result<(), MigrateError> {
    let sentry = qualified(schema, name);
    let memory =
        format!("CREATE TABLE {sentry} (tern_sentry INT) ENGINE=MEMORY COMMENT='{SENTRY_COMMENT}'");
    if let Err(e) = work.query_drop(memory).await {
        tracing::debug!(error = %e, "no MEMORY sentry; an InnoDB one instead");
        work.query_drop(format!(
            "CREATE TABLE {sentry} (tern_sentry INT) ENGINE=InnoDB COMMENT='{SENTRY_COMMENT}'"
        ))
        .await?;
    }
    Ok(())
}

pub async fn drop_sentry(work: &mut Conn, schema: &str, name: &str) -> Result<(), MigrateError> {
    if is_sentry(work, schema, name).await? {
        work.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(schema, name)))
            .await?;
    }
    Ok(())
}

/// Keeps the new table's AUTO_INCREMENT at least the original's, so ids freed
/// by deleted tail rows are not handed out again. Runs just before the freeze
/// (under it the shadow is locked): rows inserted in between arrive with
/// their ids and move the shadow's counter themselves.
pub(super) async fn carry_auto_increment(work: &mut Conn, m: &Mapping) -> Result<(), MigrateError> {
    let q = "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";
    let source: Option<Option<u64>> = work
        .exec_first_as(q, (&m.source.schema, &m.source.name))
        .await?;
    let shadow: Option<Option<u64>> = work
        .exec_first_as(q, (&m.shadow.schema, &m.shadow.name))
        .await?;
    if let (Some(Some(s)), Some(Some(n))) = (source, shadow) {
        if s > n {
            work.query_drop(format!(
                "ALTER TABLE {} AUTO_INCREMENT = {s}",
                m.shadow.qualified()
            ))
            .await?;
        }
    }
    Ok(())
}

/// One cut-over attempt: the sentry protocol of the module doc, its steps
/// numbered as there.
pub async fn swap(
    cx: &FreezeContext<'_>,
    work: &mut Conn,
    old_name: &str,
) -> Result<SwapOutcome, MigrateError> {
    let source = &cx.mapping.source;
    let shadow = &cx.mapping.shadow;
    let sentry = qualified(&source.schema, old_name);
    // 1. The sentry, named as the original will be renamed to.
    drop_sentry(work, &source.schema, old_name).await?;
    create_sentry(work, &source.schema, old_name).await?;
    let rename = session_for_locks(cx.opts, cx.sql_mode, cx.bound).await?;
    let rename_id = rename.id();
    carry_auto_increment(work, cx.mapping).await?;
    // Tables that reference this one would follow it to its old name: they
    // are locked too, and made to reference the shadow (see `foreign_keys`).
    let children = match children_ready(cx, work).await? {
        Ok(children) => children,
        Err(reason) => {
            drop_sentry(work, &source.schema, old_name).await?;
            return Ok(SwapOutcome::BackedOut {
                held: Duration::ZERO,
                reason,
            });
        }
    };
    // Written before any child is touched: a Tern stopped while re-pointing
    // them leaves a child without its key, which the next start gives back.
    super::store::set_children(work, cx.id, &foreign_keys::children_json(&children.keys)).await?;
    let mut locked = vec![source.qualified(), sentry.clone(), shadow.qualified()];
    for child in &children.keys {
        if !locked.contains(&child.qualified()) {
            locked.push(child.qualified());
        }
    }
    // Everything before the freeze is done: what the freeze waits for is
    // only what is written from here on.
    catch_up(cx, work).await?;
    // 2. Freeze, the sentry locked with the tables.
    let lock_sql = format!("LOCK TABLES {} WRITE", locked.join(" WRITE, "));
    let frozen = freeze(cx, lock_sql).await?;
    let Some(mut frozen) = frozen else {
        drop_sentry(work, &source.schema, old_name).await?;
        return Ok(SwapOutcome::BackedOut {
            held: Duration::ZERO,
            reason: "table lock or catch-up not within the bound".into(),
        });
    };
    // The triggers go to the shadow under the lock, so that no write runs
    // between their leaving the original and the RENAME.
    let moved = match carry_triggers(cx, &mut frozen).await {
        Ok(moved) => moved,
        Err(reason) => {
            let held = frozen.release().await;
            drop_sentry(work, &source.schema, old_name).await?;
            return Ok(SwapOutcome::BackedOut { held, reason });
        }
    };
    // So do the foreign keys (see `foreign_keys`).
    let carried = match carry_foreign_keys(cx, &mut frozen).await {
        Ok(()) => carry_children(cx, &mut frozen, &children).await,
        Err(reason) => Err(reason),
    };
    if let Err(reason) = carried {
        return_foreign_keys(cx, &mut frozen.lock).await;
        return_triggers(cx, &mut frozen.lock, &moved).await;
        let held = frozen.release().await;
        drop_sentry(work, &source.schema, old_name).await?;
        return Ok(SwapOutcome::BackedOut { held, reason });
    }
    // 3. The RENAME on its own connection.
    let rename_sql = format!(
        "RENAME TABLE {} TO {sentry}, {} TO {}",
        source.qualified(),
        shadow.qualified(),
        source.qualified()
    );
    let mut renaming = spawn_rename(rename, rename_sql);
    // 4. Seen queued behind the lock: drop the sentry and unlock.
    let queued = wait_until_queued(work, rename_id, &mut frozen, &renaming).await;
    if !matches!(queued, Ok(true)) {
        let (held, failed) =
            abort_rename(cx, work, old_name, rename_id, renaming, frozen, &moved).await?;
        queued?;
        let reason = match failed {
            Some(e) => format!("RENAME failed: {e}"),
            None => "RENAME not queued within the bound".into(),
        };
        return Ok(SwapOutcome::BackedOut { held, reason });
    }
    let dropped = frozen.lock.query_drop(format!("DROP TABLE {sentry}")).await;
    if let Err(e) = dropped {
        let (held, _) =
            abort_rename(cx, work, old_name, rename_id, renaming, frozen, &moved).await?;
        return Ok(SwapOutcome::BackedOut {
            held,
            reason: format!("cannot drop the sentry: {e}"),
        });
    }
    let _ = frozen.lock.query_drop("UNLOCK TABLES").await;
    frozen.steps.unlocked = frozen.guard.closed_at.elapsed();
    let steps = frozen.steps;
    let position = frozen.position.clone();
    // 5. The RENAME's answer.
    let result = tokio::time::timeout(cx.bound + KILL_GRACE, &mut renaming).await;
    let held = frozen.release().await;
    match result {
        Ok(Ok(Ok(gtid))) => Ok(SwapOutcome::Swapped {
            held,
            gtid,
            steps,
            position,
        }),
        other => {
            let lost = format!("{other:?}");
            let swap = LostSwap {
                old_name,
                held,
                steps,
                position,
                lost,
            };
            read_back_rename(cx, work, swap, &moved).await
        }
    }
}

/// Moves the original's triggers onto the shadow on the lock connection.
/// On failure, whatever moved is moved back and the reason returned: the
/// caller backs out.
pub(super) async fn carry_triggers(
    cx: &FreezeContext<'_>,
    frozen: &mut Frozen,
) -> Result<Vec<Trigger>, String> {
    let source = &cx.mapping.source;
    let shadow = &cx.mapping.shadow;
    let found = triggers::on_table(&mut frozen.lock, &source.schema, &source.name)
        .await
        .map_err(|e| format!("cannot read the triggers: {e}"))?;
    if let Err(e) = triggers::move_to(&mut frozen.lock, &source.schema, &found, &shadow.name).await
    {
        return_triggers(cx, &mut frozen.lock, &found).await;
        return Err(format!("cannot move the triggers: {e}"));
    }
    Ok(found)
}

/// The RENAME on its own connection, answering the GTID it was written with.
pub(super) type Renaming = JoinHandle<Result<String, mysql_async::Error>>;

pub(super) fn spawn_rename(mut rename: Conn, rename_sql: String) -> Renaming {
    tokio::spawn(async move {
        let r = rename.query_drop(rename_sql).await;
        let gtid = match r {
            Ok(()) => rename
                .query_first::<String, _>("SELECT @@last_gtid")
                .await
                .map(Option::unwrap_or_default),
            Err(e) => Err(e),
        };
        let _ = rename.disconnect().await;
        gtid
    })
}

/// Step 4 needs the RENAME queued behind our lock, not merely sent: polls the
/// processlist until it waits on the metadata lock, it ended, or the hold
/// bound passed. Whether it was seen queued.
async fn wait_until_queued(
    work: &mut Conn,
    rename_id: u32,
    frozen: &mut Frozen,
    renaming: &Renaming,
) -> Result<bool, MigrateError> {
    let queued = rename_queued(work, rename_id, frozen.deadline, renaming).await?;
    if queued {
        frozen.steps.rename_queued = frozen.guard.closed_at.elapsed();
    }
    Ok(queued)
}

/// Polls the processlist until the RENAME waits on a metadata lock (true),
/// or it ended or `deadline` passed (false).
pub(super) async fn rename_queued(
    work: &mut Conn,
    rename_id: u32,
    deadline: Instant,
    renaming: &Renaming,
) -> Result<bool, MigrateError> {
    while Instant::now() < deadline && !renaming.is_finished() {
        let state: Option<Option<String>> = work
            .exec_first_as(
                "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?",
                (rename_id,),
            )
            .await?;
        if state.flatten().is_some_and(|s| s.contains("metadata lock")) {
            return Ok(true);
        }
        tokio::time::sleep(PROCESSLIST_POLL).await;
    }
    Ok(false)
}

/// Moves the original's foreign keys onto the shadow on the lock connection.
/// On failure, whatever moved is moved back and the reason returned: the
/// caller backs out.
pub(super) async fn carry_foreign_keys(
    cx: &FreezeContext<'_>,
    frozen: &mut Frozen,
) -> Result<(), String> {
    let (source, shadow) = (&cx.mapping.source, &cx.mapping.shadow);
    let moved = foreign_keys::move_to_shadow(
        &mut frozen.lock,
        &source.schema,
        &source.name,
        &shadow.name,
        cx.foreign_keys,
    )
    .await;
    if let Err(e) = moved {
        return_foreign_keys(cx, &mut frozen.lock).await;
        return Err(format!("cannot move the foreign keys: {e}"));
    }
    Ok(())
}

/// Puts back what [`carry_foreign_keys`] moved, on `conn` (the lock
/// connection while it holds the lock). A failure is logged: the next start
/// puts them back.
pub(super) async fn return_foreign_keys(cx: &FreezeContext<'_>, conn: &mut Conn) {
    let (source, shadow) = (&cx.mapping.source, &cx.mapping.shadow);
    let back = foreign_keys::move_back(
        conn,
        &source.schema,
        &source.name,
        &shadow.name,
        cx.foreign_keys,
    )
    .await;
    if let Err(e) = back {
        tracing::error!(error = %e, table = %crate::logsafe::untrusted(source.qualified()), "cannot give the original its foreign keys back; the next start does");
    }
}

/// The foreign keys of other tables that reference the original, with the
/// shadow's names of the columns each references.
pub(super) struct Children {
    keys: Vec<foreign_keys::ChildKey>,
    shadow_columns: Vec<Vec<String>>,
}

/// Reads the children before the freeze, checks that the shadow can take
/// each of their foreign keys and pins their indexes; `Err` says why the
/// cut-over cannot go on now.
pub(super) async fn children_ready(
    cx: &FreezeContext<'_>,
    work: &mut Conn,
) -> Result<Result<Children, String>, MigrateError> {
    let source = &cx.mapping.source;
    let keys = foreign_keys::children_of(work, &source.schema, &source.name).await?;
    let mut shadow_columns = Vec::with_capacity(keys.len());
    for child in &keys {
        match foreign_keys::shadow_columns_for(work, child, cx.mapping).await? {
            Ok(columns) => shadow_columns.push(columns),
            Err(why) => return Ok(Err(why)),
        }
    }
    let mut pinned: Vec<String> = Vec::new();
    for child in &keys {
        if pinned.contains(&child.qualified()) {
            continue;
        }
        if let Err(e) = foreign_keys::pin_indexes(work, &child.schema, &child.table).await {
            return Ok(Err(format!(
                "cannot prepare `{}`.`{}`, which references the table: {e}",
                child.schema, child.table
            )));
        }
        pinned.push(child.qualified());
    }
    Ok(Ok(Children {
        keys,
        shadow_columns,
    }))
}

/// On the lock connection: makes every child reference the shadow, which
/// the RENAME then makes the table. A table that came to reference the
/// original after `children_ready` read them fails the attempt.
async fn carry_children(
    cx: &FreezeContext<'_>,
    frozen: &mut Frozen,
    children: &Children,
) -> Result<(), String> {
    if children.keys.is_empty() {
        return Ok(());
    }
    let (source, shadow) = (&cx.mapping.source, &cx.mapping.shadow);
    let columns = |c: &foreign_keys::ChildKey| {
        children
            .keys
            .iter()
            .position(|k| k == c)
            .and_then(|i| children.shadow_columns.get(i).cloned())
            .unwrap_or_default()
    };
    let moved =
        foreign_keys::repoint(&mut frozen.lock, &children.keys, &shadow.name, columns).await;
    let left = match moved {
        Ok(()) => foreign_keys::children_of(&mut frozen.lock, &source.schema, &source.name)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match left {
        Ok(left) if left.is_empty() => Ok(()),
        other => {
            return_children(cx, &mut frozen.lock).await;
            Err(match other {
                Ok(left) => format!(
                    "`{}`.`{}` came to reference the table meanwhile",
                    left[0].schema, left[0].table
                ),
                Err(e) => {
                    format!("cannot make the tables that reference it reference the new table: {e}")
                }
            })
        }
    }
}

/// Makes the children that reference the shadow reference the original
/// again, on `conn`; a failure is logged, the next start does it.
pub(super) async fn return_children(cx: &FreezeContext<'_>, conn: &mut Conn) {
    if let Err(e) = foreign_keys::return_children(conn, cx.mapping).await {
        tracing::error!(error = %e, table = %crate::logsafe::untrusted(cx.mapping.source.qualified()), "cannot make the tables that reference the original reference it again; the next start does");
    }
}

/// Puts the triggers [`carry_triggers`] moved back on the original; a
/// failure is logged, the next start moves them.
async fn return_triggers(cx: &FreezeContext<'_>, conn: &mut Conn, moved: &[Trigger]) {
    let source = &cx.mapping.source;
    if let Err(e) = triggers::move_to(conn, &source.schema, moved, &source.name).await {
        tracing::error!(error = %e, table = %crate::logsafe::untrusted(source.qualified()), "cannot move the triggers back to the original; the next start moves them");
    }
}

/// Backs out while the sentry still exists (so the RENAME cannot have run):
/// kills the RENAME, gives it a moment to answer, unlocks, opens the gate and
/// drops the sentry. Returns how long writes were held and the RENAME's own
/// error, if it answered with one.
async fn abort_rename(
    cx: &FreezeContext<'_>,
    work: &mut Conn,
    old_name: &str,
    rename_id: u32,
    mut renaming: Renaming,
    mut frozen: Frozen,
    moved: &[Trigger],
) -> Result<(Duration, Option<mysql_async::Error>), MigrateError> {
    kill_query(cx.opts, rename_id).await;
    let finished = tokio::time::timeout(KILL_GRACE, &mut renaming).await;
    return_children(cx, &mut frozen.lock).await;
    return_foreign_keys(cx, &mut frozen.lock).await;
    return_triggers(cx, &mut frozen.lock, moved).await;
    let held = frozen.release().await;
    drop_sentry(work, &cx.mapping.source.schema, old_name).await?;
    let failed = match finished {
        Ok(Ok(Err(e))) => Some(e),
        _ => None,
    };
    Ok((held, failed))
}

/// A swap whose RENAME's answer was lost (`lost` says how).
struct LostSwap<'a> {
    old_name: &'a str,
    held: Duration,
    steps: HoldSteps,
    position: GtidSet,
    lost: String,
}

/// Whether a RENAME whose answer was lost happened is read from the tables
/// themselves.
async fn read_back_rename(
    cx: &FreezeContext<'_>,
    work: &mut Conn,
    swap: LostSwap<'_>,
    moved: &[Trigger],
) -> Result<SwapOutcome, MigrateError> {
    let LostSwap {
        old_name,
        held,
        steps,
        position,
        lost,
    } = swap;
    let source = &cx.mapping.source;
    let shadow = &cx.mapping.shadow;
    let swapped = !table_exists(work, &shadow.schema, &shadow.name).await?
        && table_exists(work, &source.schema, old_name).await?;
    if swapped {
        let gtid: Option<String> = work.first_as("SELECT @@gtid_binlog_pos").await?;
        return Ok(SwapOutcome::Swapped {
            held,
            gtid: gtid.unwrap_or_default(),
            steps,
            position,
        });
    }
    return_children(cx, work).await;
    return_foreign_keys(cx, work).await;
    triggers::move_to(work, &source.schema, moved, &source.name).await?;
    drop_sentry(work, &source.schema, old_name).await?;
    Ok(SwapOutcome::BackedOut {
        held,
        reason: format!("RENAME did not complete: {lost}"),
    })
}
