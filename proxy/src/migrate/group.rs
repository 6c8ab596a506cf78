//! Group cut-over: `TERN COMPLETE a, b, ...` swaps several postponed
//! migrations in one atomic `RENAME TABLE a TO a_old, a_new TO a, b TO b_old,
//! b_new TO b`, for application code that needs both changes live at the
//! same moment.
//!
//! It is the sentry protocol of `cutover`, once per member, around one
//! RENAME:
//! 1. **prepare**: each member's runner applies its pending changes, analyzes
//!    its shadow, creates its sentry (named as its original will be renamed
//!    to) and carries AUTO_INCREMENT over; no write is held yet;
//! 2. **freeze**: each member closes its gate and takes `LOCK TABLES original
//!    WRITE, sentry WRITE, shadow WRITE` on its own lock connection, catches
//!    up and moves its triggers onto the shadow (as `cutover` does), every
//!    member bounded by one deadline: the hold bound from the moment the
//!    coordinator let the first gate close;
//! 3. the coordinator sends the combined RENAME on one connection: it queues
//!    behind every member's lock, and fails outright if it ever runs while
//!    any sentry exists, so a member that dies can never let it swap a part;
//! 4. once the RENAME is seen queued, the members drop their sentry and
//!    unlock **one at a time, each only once the RENAME waits on its
//!    original table**, as [`mdl_probe`] sees it. The RENAME takes its
//!    locks one after the other, so a member let go before the RENAME waits
//!    on its table would let the writes queued behind its lock in first,
//!    into the table about to become the old one, after its catch-up: a lost
//!    write (a writer that bypasses Tern showed it). The coordinator tries
//!    the members in the server's lock order; were that order wrong, the
//!    probe would never see the wait and the group would back out (safe,
//!    nothing lost);
//! 5. the RENAME's answer (or, if its connection died, the tables read back:
//!    one RENAME swapped all or nothing) goes to every member, which opens its
//!    gate and records its end.
//!
//! Any failure while a member still holds its lock (a lock not granted, a
//! catch-up, the RENAME or its wait on a table not seen within the deadline,
//! a sentry that cannot be dropped) kills the RENAME and backs every member
//! out: triggers moved back, locks released, sentries dropped, gates open;
//! they all stay postponed, and the operator is told which member failed and
//! why. Each gate stays closed until the RENAME's outcome is known.
//!
//! The members run in their own tasks (each migration's runner, which owns
//! its connections and change capture); the coordinator talks to them
//! through a [`Ticket`] each: orders on a watch channel, reports back on one
//! queue. A member whose coordinator vanishes backs out (before step 4) or
//! reads the outcome back from the tables (after it).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::conn::engine_conn;
use super::cutover::{self, FreezeContext, KILL_GRACE};
use super::engine::Engine;
use super::fetch::Fetch;
use super::foreign_keys;
use super::mdl_probe;
use super::migration::{Finished, Migration};
use super::start::Started;
use super::store::State;
use super::table::qualified;
use super::triggers;
use super::MigrateError;

/// How long the members get to prepare (apply, ANALYZE, sentry): nothing is
/// held meanwhile, but an operator is waiting for the answer.
const PREPARE_BOUND: Duration = Duration::from_secs(60);

/// What the coordinator tells the members, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Order {
    Prepare,
    /// Freeze, every step bounded by this deadline.
    Freeze(Instant),
    /// The RENAME waits behind every lock: drop the sentry and unlock.
    Go,
    /// Back out: unlock, drop the sentry, open the gate; stay postponed.
    Abort,
    /// The RENAME's outcome: its GTID, or why nothing was swapped.
    Done(Result<String, String>),
}

/// What a member tells the coordinator.
#[derive(Debug)]
enum Report {
    /// Ready to freeze; the shadow's and the sentry's (old table's) names.
    Prepared {
        shadow: String,
        old: String,
    },
    Frozen,
    Unlocked,
    Failed(String),
}

/// A member's link to its coordinator, handed over through the migration.
pub struct Ticket {
    orders: watch::Receiver<Order>,
    reports: mpsc::UnboundedSender<(u64, Report)>,
    /// The member has dropped its sentry and unlocked: from here on the
    /// RENAME may have run, and only the tables can say whether it did.
    unlocked: bool,
}

impl Ticket {
    fn report(&mut self, id: u64, report: Report) {
        if matches!(report, Report::Unlocked) {
            self.unlocked = true;
        }
        let _ = self.reports.send((id, report));
    }

    /// The next order other than the one already seen, until `deadline`.
    /// A vanished coordinator or a passed deadline reads as `Abort`.
    async fn next(&mut self, deadline: Option<Instant>) -> Order {
        let changed = async {
            match self.orders.changed().await {
                Ok(()) => self.orders.borrow_and_update().clone(),
                Err(_) => Order::Abort,
            }
        };
        match deadline {
            Some(d) => tokio::time::timeout_at(d, changed)
                .await
                .unwrap_or(Order::Abort),
            None => changed.await,
        }
    }
}

/// How a member's part ended.
pub(super) enum MemberEnd {
    Swapped(Finished),
    /// Backed out: the migration stays postponed.
    BackedOut,
}

/// A member's side of the protocol of the module doc, run by its runner
/// while postponed. Errors are the member's own connection failing; the
/// coordinator then backs the others out.
pub(super) async fn member(
    engine: &Engine,
    s: &mut Started,
    changes: &super::binlog::Changes,
    mut ticket: Ticket,
) -> Result<MemberEnd, MigrateError> {
    let id = s.migration.id;
    match member_steps(engine, s, changes, &mut ticket).await {
        Ok(end) => Ok(end),
        // Before its unlock the member's failure swapped nothing: like every
        // other failure of the group, it stays postponed.
        Err(e) if !ticket.unlocked => {
            tracing::warn!(error = %e, "group cut-over member failed");
            ticket.report(id, Report::Failed(e.to_string()));
            back_out(s, None, &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}

async fn member_steps(
    engine: &Engine,
    s: &mut Started,
    changes: &super::binlog::Changes,
    ticket: &mut Ticket,
) -> Result<MemberEnd, MigrateError> {
    let m = s.migration.clone();
    let schema = s.mapping.source.schema.clone();
    let source = s.mapping.source.qualified();
    let shadow = s.mapping.shadow.qualified();
    let sentry = qualified(&schema, &s.old_name);
    // 1. Prepare.
    if !foreign_keys::children_of(&mut s.work, &schema, &s.mapping.source.name)
        .await?
        .is_empty()
    {
        return Err(MigrateError::Internal(
            "other tables reference it by foreign key, which a group cut-over does not handle yet; complete it alone".into(),
        ));
    }
    super::runner::apply_pending(s, changes).await?;
    super::runner::analyze(&mut s.work, &shadow).await;
    cutover::drop_sentry(&mut s.work, &schema, &s.old_name).await?;
    cutover::create_sentry(&mut s.work, &schema, &s.old_name).await?;
    cutover::carry_auto_increment(&mut s.work, &s.mapping).await?;
    ticket.report(
        m.id,
        Report::Prepared {
            shadow: s.mapping.shadow.name.clone(),
            old: s.old_name.clone(),
        },
    );
    let deadline = match ticket.next(Some(Instant::now() + PREPARE_BOUND)).await {
        Order::Freeze(deadline) => deadline,
        _ => return back_out(s, None, "the group backed out before the freeze").await,
    };
    // 2. Freeze on this member's own lock connection, by the group's deadline.
    let cx = FreezeContext {
        id: m.id,
        opts: &engine.opts,
        sql_mode: &s.sql_mode,
        gate: &engine.gate,
        changes,
        mapping: &s.mapping,
        shadow_key: &s.shadow_key,
        foreign_keys: &s.foreign_keys,
        cascades: &s.cascades,
        bound: engine.settings().hold_bound,
        merge: false,
    };
    let lock_sql = format!("LOCK TABLES {source} WRITE, {sentry} WRITE, {shadow} WRITE");
    let Some(mut frozen) = cutover::freeze_until(&cx, lock_sql, Some(deadline)).await? else {
        let why = "table lock or catch-up not within the bound";
        ticket.report(m.id, Report::Failed(why.into()));
        return back_out(s, None, why).await;
    };
    // The triggers go to the shadow under the lock, as in a cut-over alone.
    let carried = match cutover::carry_triggers(&cx, &mut frozen).await {
        Ok(_) => cutover::carry_foreign_keys(&cx, &mut frozen).await,
        Err(why) => Err(why),
    };
    if let Err(why) = carried {
        ticket.report(m.id, Report::Failed(why.clone()));
        return back_out(s, Some(frozen), &why).await;
    }
    ticket.report(m.id, Report::Frozen);
    // 3. The coordinator queues the RENAME.
    match ticket.next(Some(deadline + KILL_GRACE)).await {
        Order::Go => {}
        _ => return back_out(s, Some(frozen), "the group backed out").await,
    }
    // 4. Drop the sentry and unlock: the RENAME may run once every member has.
    if let Err(e) = frozen.lock.query_drop(format!("DROP TABLE {sentry}")).await {
        let why = format!("cannot drop the sentry: {e}");
        ticket.report(m.id, Report::Failed(why.clone()));
        // Still locked: the coordinator kills the RENAME before anyone unlocks it.
        let _ = ticket.next(Some(deadline + KILL_GRACE * 2)).await;
        return back_out(s, Some(frozen), &why).await;
    }
    let _ = frozen.lock.query_drop("UNLOCK TABLES").await;
    frozen.steps.unlocked = frozen.guard.closed_at.elapsed();
    ticket.report(m.id, Report::Unlocked);
    // 5. The RENAME's answer; without one, the tables say what happened.
    let outcome = ticket
        .next(Some(deadline + cx.bound + KILL_GRACE * 2))
        .await;
    // The gate stays closed until the outcome is known: a RENAME that did not
    // swap gets its triggers back on the original before writes resume.
    let gtid = match outcome {
        Order::Done(Ok(gtid)) => gtid,
        Order::Done(Err(why)) => return back_out(s, Some(frozen), &why).await,
        _ => {
            let shadow_gone = !cutover::table_exists(
                &mut s.work,
                &s.mapping.shadow.schema,
                &s.mapping.shadow.name,
            )
            .await?;
            if !shadow_gone {
                let why = "the group's RENAME did not complete";
                return back_out(s, Some(frozen), why).await;
            }
            let pos: Option<String> = s.work.first_as("SELECT @@gtid_binlog_pos").await?;
            pos.unwrap_or_default()
        }
    };
    let steps = frozen.steps;
    let kept_from = frozen.position.clone();
    let held = frozen.release().await;
    steps.log_done("cut-over as part of a group", 1, held, &gtid);
    m.update(|p| p.last_hold = Some(held));
    Ok(MemberEnd::Swapped(Finished {
        gtid,
        held,
        report: s.copier.report(s.native_copies),
        kept_from,
    }))
}

/// Releases what the member holds (the lock and gate when `frozen`), moves
/// any triggers and foreign keys it carried back to the original and drops
/// its sentry; the
/// migration stays postponed. Only called while the RENAME cannot have run
/// or is known not to have.
async fn back_out(
    s: &mut Started,
    frozen: Option<cutover::Frozen>,
    why: &str,
) -> Result<MemberEnd, MigrateError> {
    let schema = s.mapping.source.schema.clone();
    let (shadow, original) = (&s.mapping.shadow.name, &s.mapping.source.name);
    // Under the lock only the lock connection may touch the tables.
    let (triggers, foreign_keys) = match frozen {
        Some(mut frozen) => {
            let c = &mut frozen.lock;
            let t = triggers::return_from_shadow(c, &schema, shadow, original).await;
            let f = foreign_keys::move_back(c, &schema, original, shadow, &s.foreign_keys).await;
            frozen.release().await;
            (t, f)
        }
        None => {
            let c = &mut s.work;
            let t = triggers::return_from_shadow(c, &schema, shadow, original).await;
            let f = foreign_keys::move_back(c, &schema, original, shadow, &s.foreign_keys).await;
            (t, f)
        }
    };
    if let Err(e) = triggers {
        tracing::error!(error = %e, "cannot move the triggers back to the original; the next start moves them");
    }
    if let Err(e) = foreign_keys {
        tracing::error!(error = %e, "cannot give the original its foreign keys back; the next start does");
    }
    cutover::drop_sentry(&mut s.work, &schema, &s.old_name).await?;
    tracing::info!(reason = %why, "group cut-over backed out; the migration stays postponed");
    Ok(MemberEnd::BackedOut)
}

/// A member as the coordinator sees it; the names once it has prepared.
struct Member {
    migration: Arc<Migration>,
    old_name: String,
    shadow_name: String,
    /// Orders for this member alone: the unlocks go one member at a time.
    orders: watch::Sender<Order>,
}

fn tell_all(members: &[Member], order: &Order) {
    for m in members {
        m.orders.send_replace(order.clone());
    }
}

impl Engine {
    /// `TERN COMPLETE id1, id2, ...`: checks the group, then cuts every member
    /// over in one RENAME (module doc). The error text is for the client.
    pub async fn complete_group(self: &Arc<Self>, ids: &[u64]) -> Result<(), String> {
        let members = self.group_members(ids).await?;
        let engine = self.clone();
        // Its own task: a client that goes away mid-protocol must not leave
        // members frozen until their deadline.
        tokio::spawn(async move { engine.coordinate(members).await })
            .await
            .map_err(|e| format!("the group cut-over failed: {e}"))?
    }

    /// Every id known here, postponed and verified, listed once.
    async fn group_members(&self, ids: &[u64]) -> Result<Vec<Member>, String> {
        let mut seen = BTreeSet::new();
        let mut members = Vec::new();
        for &id in ids {
            if !seen.insert(id) {
                return Err(format!("Migration {id} is listed twice"));
            }
            let Some(m) = self.get(id) else {
                return Err(self.not_here(id).await);
            };
            let p = m.progress();
            match p.state {
                State::Postponed => {}
                State::Copying | State::Verifying if p.postponed => {
                    return Err(format!(
                        "Migration {id} has not been verified yet (it is {}); complete it once it is postponed",
                        p.state.name()
                    ))
                }
                s if s.is_final() => return Err(format!("Migration {id} has already ended")),
                s => return Err(format!("Migration {id} is not postponed (it is {})", s.name())),
            }
            if members
                .iter()
                .any(|o: &Member| o.migration.schema == m.schema && o.migration.table == m.table)
            {
                return Err(format!(
                    "Migration {id} changes a table already in the group"
                ));
            }
            members.push(Member {
                migration: m,
                old_name: String::new(),
                shadow_name: String::new(),
                orders: watch::channel(Order::Prepare).0,
            });
        }
        Ok(members)
    }

    /// Why `id` cannot be in a group here: another instance runs it, or it
    /// is unknown.
    async fn not_here(&self, id: u64) -> String {
        let elsewhere = self.elsewhere().await;
        if elsewhere.iter().any(|r| r.id == id) {
            format!("Migration {id} is run by another Tern instance; a group cut-over needs every migration of the group in one instance")
        } else {
            format!("Unknown migration {id}, or it has already ended")
        }
    }

    async fn coordinate(self: Arc<Self>, mut members: Vec<Member>) -> Result<(), String> {
        let ids: Vec<u64> = members.iter().map(|m| m.migration.id).collect();
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        let mut handed = Ok(());
        for member in &members {
            let ticket = Ticket {
                orders: member.orders.subscribe(),
                reports: reports_tx.clone(),
                unlocked: false,
            };
            if !member.migration.hand_ticket(ticket) {
                handed = Err(format!(
                    "Migration {} is already cutting over in another group",
                    member.migration.id
                ));
                break;
            }
            // Its runner takes the ticket at its next look.
            member.migration.wake.notify_waiters();
        }
        drop(reports_tx);
        let result = match handed {
            Ok(()) => {
                tracing::info!(migrations = ?ids, "group cut-over starts");
                self.group_steps(&mut members, &mut reports).await
            }
            Err(e) => Err(e),
        };
        match &result {
            Ok(gtid) => {
                tracing::info!(migrations = ?ids, gtid = %gtid, "group cut-over done");
                tell_all(&members, &Order::Done(Ok(gtid.clone())));
                // The runners record their own end.
                for member in &members {
                    member
                        .migration
                        .postponed
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Err(why) => {
                tracing::warn!(migrations = ?ids, reason = %why, "group cut-over backed out; every member stays postponed");
                tell_all(&members, &Order::Abort);
            }
        }
        // Members that have not taken their ticket yet never will.
        for member in &members {
            member.migration.take_ticket();
        }
        result.map(|_| ())
    }

    /// Steps 1-5 of the module doc from the coordinator's side; the RENAME's
    /// GTID, or which member failed and why.
    async fn group_steps(
        &self,
        members: &mut [Member],
        reports: &mut mpsc::UnboundedReceiver<(u64, Report)>,
    ) -> Result<String, String> {
        let failed = |id: u64, why: &str| {
            format!("Group cut-over backed out: migration {id}: {why}; every migration of the group stays postponed")
        };
        let group_failed = |why: &str| {
            format!(
                "Group cut-over backed out: {why}; every migration of the group stays postponed"
            )
        };
        // 1. Prepare.
        let prepared = await_all(
            reports,
            members,
            Instant::now() + PREPARE_BOUND,
            "Prepared",
            |r| matches!(r, Report::Prepared { .. }),
        )
        .await
        .map_err(|(id, why)| failed(id, &why))?;
        for (id, report) in prepared {
            if let (Some(member), Report::Prepared { shadow, old }) =
                (members.iter_mut().find(|m| m.migration.id == id), report)
            {
                member.shadow_name = shadow;
                member.old_name = old;
            }
        }
        let members: &[Member] = members;
        let settings = self.settings();
        let rename = cutover::session_for_locks(&self.opts, "", settings.hold_bound)
            .await
            .map_err(|e| group_failed(&format!("cannot open the RENAME connection: {e}")))?;
        let mut work = engine_conn(&self.opts, "")
            .await
            .map_err(|e| group_failed(&format!("cannot open a connection: {e}")))?;
        let rename_id = rename.id();
        // 2. Freeze, all by one deadline from the first gate's closing.
        let deadline = Instant::now() + settings.hold_bound;
        tell_all(members, &Order::Freeze(deadline));
        if let Err((id, why)) = await_all(reports, members, deadline, "Frozen", |r| {
            matches!(r, Report::Frozen)
        })
        .await
        {
            let _ = rename.disconnect().await;
            return Err(failed(id, &why));
        }
        // 3. One RENAME for the whole group.
        let pairs: Vec<String> = members
            .iter()
            .map(|m| {
                let schema = &m.migration.schema;
                let original = qualified(schema, &m.migration.table);
                format!(
                    "{original} TO {}, {} TO {original}",
                    qualified(schema, &m.old_name),
                    qualified(schema, &m.shadow_name)
                )
            })
            .collect();
        let rename_sql = format!("RENAME TABLE {}", pairs.join(", "));
        let mut renaming = cutover::spawn_rename(rename, rename_sql);
        let queued = cutover::rename_queued(&mut work, rename_id, deadline, &renaming)
            .await
            .unwrap_or(false);
        if !queued {
            cutover::kill_query(&self.opts, rename_id).await;
            let answer = tokio::time::timeout(KILL_GRACE, &mut renaming).await;
            let why = match answer {
                Ok(Ok(Err(e))) => format!("the RENAME failed: {e}"),
                _ => "the RENAME was not queued within the bound".to_string(),
            };
            let _ = work.disconnect().await;
            return Err(group_failed(&why));
        }
        // 4. Every member drops its sentry and unlocks, one at a time, each
        // once the RENAME waits on its original (module doc).
        let mut probe = match mdl_probe::connect(&self.opts).await {
            Ok(probe) => probe,
            Err(e) => {
                cutover::kill_query(&self.opts, rename_id).await;
                let _ = tokio::time::timeout(KILL_GRACE, &mut renaming).await;
                let _ = work.disconnect().await;
                return Err(group_failed(&format!(
                    "cannot open the probe connection: {e}"
                )));
            }
        };
        let mut unlock_order: Vec<usize> = (0..members.len()).collect();
        unlock_order
            .sort_by(|&x, &y| lock_order_key(&members[x]).cmp(&lock_order_key(&members[y])));
        for &i in &unlock_order {
            let member = &members[i];
            let waited_on = mdl_probe::exclusive_waits_on(
                &mut probe,
                &member.migration.schema,
                &member.migration.table,
                deadline,
            )
            .await;
            let step = if waited_on {
                member.orders.send_replace(Order::Go);
                await_all(
                    reports,
                    &members[i..=i],
                    deadline + KILL_GRACE,
                    "Unlocked",
                    |r| matches!(r, Report::Unlocked),
                )
                .await
                .map(|_| ())
            } else {
                Err((
                    member.migration.id,
                    "the RENAME did not come to wait on its table within the bound".into(),
                ))
            };
            if let Err((id, why)) = step {
                // A member still holds its lock and its sentry: the RENAME
                // cannot have run. Kill it before that member lets go.
                cutover::kill_query(&self.opts, rename_id).await;
                let _ = tokio::time::timeout(KILL_GRACE, &mut renaming).await;
                let _ = probe.disconnect().await;
                let swapped = self.read_back(&mut work, members).await;
                let _ = work.disconnect().await;
                if let Some(gtid) = swapped {
                    return Ok(gtid);
                }
                return Err(failed(id, &why));
            }
        }
        let _ = probe.disconnect().await;
        // 5. The RENAME's answer.
        let answer = tokio::time::timeout(settings.hold_bound + KILL_GRACE, &mut renaming).await;
        let result = match answer {
            Ok(Ok(Ok(gtid))) => Ok(gtid),
            other => match self.read_back(&mut work, members).await {
                Some(gtid) => Ok(gtid),
                None => Err(group_failed(&format!(
                    "the RENAME did not complete: {other:?}"
                ))),
            },
        };
        let _ = work.disconnect().await;
        result
    }

    /// After a RENAME whose answer was lost: whether it swapped (all members
    /// or none, it is one statement), with the primary's position then.
    async fn read_back(&self, work: &mut mysql_async::Conn, members: &[Member]) -> Option<String> {
        let first = members.first()?;
        let schema = &first.migration.schema;
        let shadow_gone = !cutover::table_exists(work, schema, &first.shadow_name)
            .await
            .ok()?;
        let old_there = cutover::table_exists(work, schema, &first.old_name)
            .await
            .ok()?;
        if !(shadow_gone && old_there) {
            return None;
        }
        let pos: Option<String> = work.first_as("SELECT @@gtid_binlog_pos").await.ok()?;
        Some(pos.unwrap_or_default())
    }
}

/// A member's original table as the server orders metadata lock requests:
/// by schema, then name, compared as bytes.
fn lock_order_key(m: &Member) -> (&[u8], &[u8]) {
    (m.migration.schema.as_bytes(), m.migration.table.as_bytes())
}

/// How often the coordinator looks whether a member it waits for has ended
/// (cancelled, or stopped with Tern) and will never report.
const MEMBER_LOOK: Duration = Duration::from_millis(200);

/// Waits until every member reported `want` (as `is`), and returns those
/// reports; the first failure, a member that ended or the deadline passing is
/// `(id, why)`.
async fn await_all(
    reports: &mut mpsc::UnboundedReceiver<(u64, Report)>,
    members: &[Member],
    deadline: Instant,
    want: &str,
    is: impl Fn(&Report) -> bool,
) -> Result<Vec<(u64, Report)>, (u64, String)> {
    let mut missing: BTreeSet<u64> = members.iter().map(|m| m.migration.id).collect();
    let mut got = Vec::new();
    while let Some(&first) = missing.first() {
        if let Some(ended) = members
            .iter()
            .find(|m| missing.contains(&m.migration.id) && m.migration.progress().state.is_final())
        {
            return Err((ended.migration.id, "it has ended".into()));
        }
        let step = deadline.min(Instant::now() + MEMBER_LOOK);
        match tokio::time::timeout_at(step, reports.recv()).await {
            Ok(Some((id, r))) if is(&r) => {
                missing.remove(&id);
                got.push((id, r));
            }
            Err(_) if Instant::now() < deadline => continue,
            Ok(Some((id, Report::Failed(why)))) => return Err((id, why)),
            Ok(Some((id, other))) => {
                return Err((id, format!("reported {other:?} while {want} was awaited")))
            }
            Ok(None) => return Err((first, "its runner ended".into())),
            Err(_) => {
                return Err((
                    first,
                    format!("not {} within the bound", want.to_lowercase()),
                ))
            }
        }
    }
    Ok(got)
}
