//! Keeping the previous table current after a cut-over, so that the change
//! can be undone (`TERN REVERT <id>`).
//!
//! After the swap the table's previous version stays for
//! `--migration-keep-old-secs` under the kept name: the old table's, or after
//! an odd number of reverts the shadow's (the name the other version took).
//! A keeper reads the live table's row events from the freeze's position on
//! and brings the kept table's rows up to date through the column mapping the
//! other way round. A revert is a cut-over towards the kept table: the same
//! sentry protocol, write gate and hold bound (`cutover`), the triggers and
//! foreign keys moving along; the table that was live becomes the kept one and
//! a new keeper follows it, so a revert can itself be reverted.
//!
//! Invariants:
//! - A kept row is updated in place ([`merge`]): its columns the live table
//!   lacks keep their values, and a row inserted since the swap takes their
//!   defaults. A row deleted from the live table goes from the kept one.
//! - The position in the control table is written only after every change
//!   before it has been merged, so a restarted Tern resumes from it; merging
//!   a change twice is harmless (it copies the row's current state).
//! - One keeper per migration across instances (a named lock on the primary).
//! - A keeper that cannot keep the kept table exact stops and records why
//!   (`revert_note`): the migration is then not revertible, never reverted
//!   with writes missing. That happens when the table's columns change, when
//!   the kept table refuses a row (its constraints), and when another
//!   migration of the table starts. At the end of the keep time it just stops.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::apply::{ready_keys, run_batch, with_cascaded};
use super::binlog::{Capture, Changes};
use super::conn::{connect, engine_conn};
use super::cutover::{self, FreezeContext, SwapOutcome};
use super::engine::Engine;
use super::fetch::Fetch;
use super::foreign_keys::{self, cascades_of, Cascade, Plan};
use super::mapping::Mapping;
use super::migration::Migration;
use super::store::{self, KeptRecord};
use super::table::{qualified, ColumnClass, KeyTuple, Table};
use super::triggers;
use super::MigrateError;
use crate::gtid::GtidSet;
use crate::sql::alter::{plan, AlterPlan};
use crate::sql::quote_ident;

/// How often captured changes are merged into the kept table.
const MERGE_EVERY: Duration = Duration::from_millis(200);
/// How often the record is read (a newer migration of the table ends the
/// keeping).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How often the position is written: each write is a row event every
/// replica applies, for as long as the old table is kept (a day by
/// default), and a stale position only means re-reading a little binlog.
const POSITION_EVERY: Duration = Duration::from_secs(10);
/// Keys per merge statement.
const BATCH_KEYS: usize = 500;
/// A keeper whose connection fails starts again from its recorded position
/// this many times in a row, this far apart, before it gives up.
const MAX_FAILURES: u32 = 12;
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// A revert tries this many freezes, backing off between them, before it
/// tells the operator to try again later.
const REVERT_ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// A revert asked of a keeper: the answer is the revert RENAME's GTID, or why
/// it did not happen (for the client).
pub struct RevertRequest {
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The keeper's side of the engine's registry.
pub type Requests = mpsc::Sender<RevertRequest>;

/// What one keeper follows and how.
struct Keeping {
    /// Live table to kept table.
    mapping: Mapping,
    /// The kept table with the live table's key, under the kept names.
    kept_key: Table,
    /// `original`: the live table's foreign keys; `final_keys`: the kept
    /// table's once it is live again.
    plan: Plan,
    cascades: Vec<Cascade>,
    /// The name the live table takes on a revert.
    away: String,
}

/// The kept table's name and the name the live table takes on a revert.
pub fn kept_names(r: &KeptRecord) -> (&str, &str) {
    if r.reverts % 2 == 0 {
        (&r.old_table, &r.shadow_table)
    } else {
        (&r.shadow_table, &r.old_table)
    }
}

fn lock_name(id: u64) -> String {
    format!("tern-keeper-{id}")
}

/// Where a kept table waits: Tern's own schema, so that the application's
/// database looks as it would without Tern (`SHOW TABLES`, schema dumps,
/// frameworks comparing the schema with their migrations). Its name holds the
/// migration id, so it is unique there. For a revert it goes back beside the
/// live table first ([`unpark`]): the revert moves the triggers onto it, and
/// a RENAME cannot take a table with triggers to another schema (1435).
const PARKED_IN: &str = super::store::CONTROL_SCHEMA;

/// The schema the kept table is in now, `None` when it is in neither.
async fn kept_schema(work: &mut Conn, r: &KeptRecord) -> Result<Option<String>, MigrateError> {
    let (kept, _) = kept_names(r);
    for schema in [r.schema.as_str(), PARKED_IN] {
        if cutover::table_exists(work, schema, kept).await? {
            return Ok(Some(schema.to_string()));
        }
    }
    Ok(None)
}

/// Renames the kept table `kept` from schema `from` to schema `to`; the
/// server's refusal is handed back, not raised.
async fn move_kept(
    work: &mut Conn,
    kept: &str,
    from: &str,
    to: &str,
) -> Result<Result<(), mysql_async::ServerError>, MigrateError> {
    let rename = format!(
        "RENAME TABLE {} TO {}",
        qualified(from, kept),
        qualified(to, kept)
    );
    match work.query_drop(rename).await {
        Ok(()) => Ok(Ok(())),
        Err(mysql_async::Error::Server(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

/// Moves the kept table from beside the live one into [`PARKED_IN`]. Where
/// the server refuses (something left on it that cannot change schema) it
/// stays where it is, as it was kept before parking existed.
async fn park(work: &mut Conn, r: &KeptRecord) -> Result<(), MigrateError> {
    let (kept, _) = kept_names(r);
    if !cutover::table_exists(work, &r.schema, kept).await? {
        return Ok(());
    }
    match move_kept(work, kept, &r.schema, PARKED_IN).await? {
        Ok(()) => {
            tracing::info!(kept = %kept, schema = PARKED_IN, "moved the previous table out of the application's schema")
        }
        Err(e) => {
            tracing::warn!(code = e.code, error = %crate::logsafe::untrusted(&e.message), "the previous table stays beside the table")
        }
    }
    Ok(())
}

/// Moves a parked kept table back beside the live one, for a revert;
/// `Err` says why it could not.
async fn unpark(work: &mut Conn, r: &KeptRecord) -> Result<Result<(), String>, MigrateError> {
    let (kept, _) = kept_names(r);
    if !cutover::table_exists(work, PARKED_IN, kept).await? {
        return Ok(Ok(()));
    }
    if cutover::table_exists(work, &r.schema, kept).await? {
        return Ok(Err(format!(
            "a table named `{kept}` exists beside the table, where the revert needs the previous table"
        )));
    }
    Ok(move_kept(work, kept, PARKED_IN, &r.schema)
        .await?
        .map_err(|e| {
            format!(
                "the previous table could not be moved back beside the table: {}",
                e.message
            )
        }))
}

/// Reads both tables and decides whether the kept one can be kept exact;
/// `Err` says why not, for the operator. With `parking`, a kept table
/// beside the live one is parked first.
async fn prepare(
    work: &mut Conn,
    r: &KeptRecord,
    parking: bool,
) -> Result<Result<Keeping, String>, MigrateError> {
    let AlterPlan::Online(alter) = plan(&r.statement) else {
        return Ok(Err("its statement no longer plans online".into()));
    };
    let (kept_name, away) = kept_names(r);
    let forward_keys = match &r.foreign_keys {
        Some(json) => Plan::from_json(json)?,
        None => Plan::default(),
    };
    let plan = if r.reverts % 2 == 0 {
        Plan {
            original: forward_keys.final_keys.clone(),
            final_keys: forward_keys.original.clone(),
        }
    } else {
        forward_keys
    };
    if let Err(why) = repair(work, r, &plan).await? {
        return Ok(Err(why));
    }
    if parking {
        park(work, r).await?;
    }
    let Some(kept_schema) = kept_schema(work, r).await? else {
        return Ok(Err(format!("the kept table `{kept_name}` is gone")));
    };
    // The kept table's indexes that MariaDB made for its foreign keys would
    // be replaced when a revert gives the keys back (see `foreign_keys`).
    if !plan.final_keys.is_empty() {
        foreign_keys::pin_indexes(work, &kept_schema, kept_name).await?;
    }
    let Some(live) = Table::load(work, &r.schema, &r.table).await? else {
        return Ok(Err("the table is gone".into()));
    };
    let Some(kept) = Table::load(work, &kept_schema, kept_name).await? else {
        return Ok(Err(format!("the kept table `{kept_name}` is gone")));
    };
    let mut mapping = if r.reverts % 2 == 0 {
        Mapping::new(kept, live, &alter).inverse()
    } else {
        Mapping::new(live, kept, &alter)
    };
    // Tables that a revert stopped inside its freeze left referencing the
    // kept table reference the live one again, and get back a key it
    // dropped before it could add it again.
    foreign_keys::return_children(work, &mapping).await?;
    if let Some(json) = &r.children {
        foreign_keys::restore_children(work, &foreign_keys::children_from_json(json)?).await?;
    }
    let kept_key = match keyed_alike(&mapping) {
        Ok(k) => k,
        Err(why) => return Ok(Err(why)),
    };
    match fill_for_new_rows(work, &mapping).await? {
        Ok(fill) => mapping.fill = fill,
        Err(why) => return Ok(Err(why)),
    }
    if let Err(why) = unique_keys_hold(work, &mapping).await? {
        return Ok(Err(why));
    }
    let cascades = match cascades_of(work, &plan, &mapping).await? {
        Ok(c) => c,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(Keeping {
        mapping,
        kept_key,
        plan,
        cascades,
        away: away.to_string(),
    }))
}

/// What a Tern stopped inside a revert's freeze leaves, put back as it was
/// before the freeze: triggers and foreign keys on the live table, no
/// sentry. A revert whose RENAME happened cannot be followed (where the
/// replaced table's row events begin is lost with the freeze): `Err`.
async fn repair(
    work: &mut Conn,
    r: &KeptRecord,
    plan: &Plan,
) -> Result<Result<(), String>, MigrateError> {
    let (kept_name, away) = kept_names(r);
    cutover::drop_sentry(work, &r.schema, away).await?;
    // A revert moves the kept table back beside the live one before its
    // freeze, so a parked one was never inside an interrupted revert.
    if cutover::table_exists(work, PARKED_IN, kept_name).await? {
        return Ok(Ok(()));
    }
    if !cutover::table_exists(work, &r.schema, kept_name).await? {
        if cutover::table_exists(work, &r.schema, away).await? {
            return Ok(Err(
                "Tern stopped during a revert after its RENAME: the revert happened, but the table it replaced was not kept current".into(),
            ));
        }
        return Ok(Err(format!("the kept table `{kept_name}` is gone")));
    }
    let stranded = triggers::return_from_shadow(work, &r.schema, kept_name, &r.table).await?;
    let moved_back = foreign_keys::move_back(work, &r.schema, &r.table, kept_name, plan).await?;
    if stranded > 0 || moved_back {
        tracing::warn!(
            triggers = stranded,
            foreign_keys = moved_back,
            "gave the live table back what an interrupted revert had moved to the kept table"
        );
    }
    Ok(Ok(()))
}

/// Rows are matched by the live table's key: the kept table must have the
/// same key, on columns that compare alike.
fn keyed_alike(m: &Mapping) -> Result<Table, String> {
    let kept_key = m
        .shadow_key()
        .ok_or("the change replaced the table's key columns: rows could not be matched")?;
    if !m.key_compares_alike() {
        return Err("the change altered a key column's type: rows could not be matched".into());
    }
    let mut own: Vec<String> = m
        .shadow
        .key_columns()
        .map(|c| c.name.to_ascii_lowercase())
        .collect();
    let mut via: Vec<String> = kept_key
        .key_columns()
        .map(|c| c.name.to_ascii_lowercase())
        .collect();
    own.sort();
    via.sort();
    if own.is_empty() || own != via {
        return Err("the change altered the table's key: rows could not be matched".into());
    }
    Ok(kept_key)
}

/// Kept columns no live column feeds and that have no default: a row
/// inserted since the swap takes the type's implicit default (0, empty), as
/// the server gives one when a column is added; `Err` for types that have no
/// such value that strict mode accepts.
async fn fill_for_new_rows(
    work: &mut Conn,
    m: &Mapping,
) -> Result<Result<Vec<(String, String)>, String>, MigrateError> {
    let no_default: Vec<String> = work
        .exec_all_as(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             AND IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' \
             AND IS_GENERATED = 'NEVER' ORDER BY ORDINAL_POSITION",
            (&m.shadow.schema, &m.shadow.name),
        )
        .await?;
    let mut fill = Vec::new();
    for name in no_default {
        if m.pairs
            .iter()
            .any(|p| p.target.name.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        let Some(col) = m.shadow.column(&name) else {
            continue;
        };
        let value = match (&col.class, col.data_type.as_str()) {
            (_, "enum") | (ColumnClass::Temporal, _) => {
                return Ok(Err(format!(
                    "the change dropped column `{name}`, which has no default: rows inserted since could not be given a value"
                )))
            }
            (ColumnClass::Integer | ColumnClass::Numeric, _) | (_, "bit") => "0",
            _ => "''",
        };
        fill.push((name, value.to_string()));
    }
    Ok(Ok(fill))
}

/// Unique keys per index of a table, as lists of lower-case column names.
async fn unique_keys(
    work: &mut Conn,
    table: &Table,
) -> Result<Vec<(String, Vec<String>)>, MigrateError> {
    let rows: Vec<(String, String)> = work
        .exec_all_as(
            "SELECT INDEX_NAME, LOWER(COLUMN_NAME) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (&table.schema, &table.name),
        )
        .await?;
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for (index, column) in rows {
        match keys.last_mut() {
            Some((name, cols)) if *name == index => cols.push(column),
            _ => keys.push((index, vec![column])),
        }
    }
    Ok(keys)
}

/// Every unique key of the kept table must follow from one of the live
/// table's: otherwise rows written since could break it, and a revert could
/// not bring them back.
async fn unique_keys_hold(
    work: &mut Conn,
    m: &Mapping,
) -> Result<Result<(), String>, MigrateError> {
    let live = unique_keys(work, &m.source).await?;
    let kept = unique_keys(work, &m.shadow).await?;
    for (name, cols) in &kept {
        let as_live: Option<Vec<String>> = cols
            .iter()
            .map(|c| {
                m.pairs
                    .iter()
                    .find(|p| p.target.name.eq_ignore_ascii_case(c))
                    .map(|p| p.source.name.to_ascii_lowercase())
            })
            .collect();
        let holds = as_live.is_some_and(|as_live| {
            live.iter()
                .any(|(_, l)| l.iter().all(|c| as_live.contains(c)))
        });
        if !holds {
            return Ok(Err(format!(
                "the table it would go back to has unique key `{name}`, which the live table does not enforce: rows written since could break it"
            )));
        }
    }
    Ok(Ok(()))
}

/// Brings the kept rows of `keys` (live keys) up to date: deletes those the
/// live table no longer has, then inserts the others or updates them in
/// place. Outside a freeze each batch is one transaction, after the same
/// check as the applier's that no transaction still holds the live rows
/// (`apply`); the keys whose rows one does are returned, for a later round.
/// Inside one (`in_transaction` false) the statements autocommit.
pub async fn merge(
    conn: &mut Conn,
    m: &Mapping,
    kept_key: &Table,
    keys: &[KeyTuple],
    in_transaction: bool,
) -> Result<Vec<KeyTuple>, MigrateError> {
    let (live, kept) = (m.source.qualified(), m.shadow.qualified());
    let join = m
        .source
        .key_columns()
        .zip(kept_key.key_columns())
        .map(|(l, k)| {
            format!(
                "{live}.{} = {kept}.{}",
                quote_ident(&l.name),
                quote_ident(&k.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let (mut insert_list, mut select_list) = (m.insert_list.clone(), m.select_list.clone());
    for (column, value) in &m.fill {
        insert_list.push_str(&format!(", {}", quote_ident(column)));
        select_list.push_str(&format!(", {value}"));
    }
    let update = m
        .pairs
        .iter()
        .map(|p| {
            let c = quote_ident(&p.target.name);
            format!("{kept}.{c} = VALUES({c})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut later = Vec::new();
    for batch in keys.chunks(BATCH_KEYS) {
        let refs = ready_keys(conn, &m.source, batch, in_transaction, &mut later).await?;
        if refs.is_empty() {
            continue;
        }
        let delete = format!(
            "DELETE FROM {kept} WHERE {} AND NOT EXISTS (SELECT 1 FROM {live} WHERE {join})",
            kept_key.key_in(&refs)
        );
        let upsert = format!(
            "INSERT INTO {kept} ({insert_list}) SELECT {select_list} FROM {live} WHERE {} \
             ON DUPLICATE KEY UPDATE {update}",
            m.source.key_in(&refs)
        );
        run_batch(conn, &[&delete, &upsert], in_transaction).await?;
    }
    Ok(later)
}

/// Merges what change capture has collected; returns the position
/// everything before which is now in the kept table.
async fn merge_pending(
    work: &mut Conn,
    k: &Keeping,
    changes: &Changes,
) -> Result<Result<GtidSet, String>, MigrateError> {
    let mut taken = match changes.take() {
        Ok(t) => t,
        Err(why) => return Ok(Err(why)),
    };
    let keys = with_cascaded(
        work,
        &k.mapping,
        &k.kept_key,
        &k.cascades,
        std::mem::take(&mut taken.keys),
        &taken.cascade_hits,
    )
    .await?;
    let left = if keys.is_empty() {
        Vec::new()
    } else {
        match merge(work, &k.mapping, &k.kept_key, &keys, true).await {
            Ok(left) => left,
            Err(e) => {
                return Ok(Err(format!(
                    "a change could not be applied to the kept table: {e}"
                )))
            }
        }
    };
    Ok(Ok(changes.settle(&taken, left)))
}

/// Why a keeper stopped.
enum Stop {
    /// Tern is stopping, or the keep time ended: nothing to record.
    Quietly,
    /// The migration cannot be reverted any more.
    NotRevertible(String),
    /// The live table was dropped or renamed away: there is nothing to
    /// revert, and the previous version goes too, as it would have without
    /// Tern (a table dropped for its data's sake keeps no copy).
    LiveTableGone,
}

/// The revert note of a migration whose table was dropped.
const LIVE_TABLE_GONE: &str =
    "the table was dropped or renamed away, and its previous version with it";

/// Keeps migration `m`'s previous table current from `record` on, answering
/// revert requests, until the keep time ends or it cannot go on.
pub(super) async fn run(
    engine: Arc<Engine>,
    m: Arc<Migration>,
    mut record: KeptRecord,
    mut requests: mpsc::Receiver<RevertRequest>,
) {
    let span = tracing::info_span!("keeper", migration = m.id, table = %crate::logsafe::untrusted(qualified(&m.schema, &m.table)));
    let _e = span.enter();
    let mut owner = match connect(&engine.opts).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start keeping the old table current");
            return;
        }
    };
    let got: Option<Option<i64>> = owner
        .exec_first_as("SELECT GET_LOCK(?, 0)", (lock_name(m.id),))
        .await
        .unwrap_or(None);
    if got.flatten() != Some(1) {
        tracing::info!("another Tern instance keeps the old table current");
        return;
    }
    let mut failures = 0;
    let mut live_table_gone = false;
    let why = loop {
        let stop = tracing::Instrument::instrument(
            keep(&engine, &m, &mut record, &mut requests),
            span.clone(),
        )
        .await;
        match stop {
            Ok(Stop::Quietly) => break None,
            Ok(Stop::NotRevertible(why)) => break Some(why),
            Ok(Stop::LiveTableGone) => {
                live_table_gone = true;
                break Some(LIVE_TABLE_GONE.to_string());
            }
            // A lost connection (the primary restarting): the position is
            // in the control table, so the keeper starts again from it.
            Err(e) if failures < MAX_FAILURES && !engine.is_stopping() => {
                failures += 1;
                tracing::warn!(error = %e, retry_in_s = RETRY_AFTER_FAILURE.as_secs(), "keeping the old table current failed; retrying");
                tokio::time::sleep(RETRY_AFTER_FAILURE).await;
            }
            Err(e) if engine.is_stopping() => {
                tracing::info!(error = %e, "keeper stopped with Tern");
                break None;
            }
            Err(e) => break Some(format!("keeping it current failed: {e}")),
        }
    };
    if let Some(why) = &why {
        if let Ok(mut c) = connect(&engine.opts).await {
            let _ = store::not_revertible(&mut c, m.id, why).await;
            let _ = c.disconnect().await;
        }
        tracing::warn!(reason = %crate::logsafe::untrusted(why), "the migration can no longer be reverted");
    }
    m.update(|p| {
        p.revertible_until = None;
        if why.is_some() {
            p.revert_note = why;
        }
    });
    // Only once the record says it cannot be reverted.
    if live_table_gone {
        drop_kept(&engine, &record).await;
    }
    let _ = owner.query_drop("DO RELEASE_ALL_LOCKS()").await;
}

/// Drops the kept table of a migration whose live table is gone; the
/// sweeper would otherwise keep it for the rest of the keep time.
async fn drop_kept(engine: &Engine, record: &KeptRecord) {
    let dropped = async {
        let mut conn = connect(&engine.opts).await?;
        let (kept, _) = kept_names(record);
        super::sweeper::drop_old_table(&mut conn, record.id, &record.schema, kept).await?;
        let _ = conn.disconnect().await;
        Ok::<_, MigrateError>(())
    };
    match dropped.await {
        Ok(()) => tracing::info!("the table is gone: dropped its previous version"),
        // The sweeper drops it at the end of the keep time instead.
        Err(e) => {
            tracing::warn!(error = %e, "the table is gone, but its previous version could not be dropped")
        }
    }
}

/// The keeper's loop over its generations: one per direction, a revert
/// starting the next.
async fn keep(
    engine: &Arc<Engine>,
    m: &Migration,
    record: &mut KeptRecord,
    requests: &mut mpsc::Receiver<RevertRequest>,
) -> Result<Stop, MigrateError> {
    let mut work = engine_conn(&engine.opts, &record.sql_mode).await?;
    loop {
        // A revert's RENAME swaps both names at once, so the live name is
        // missing only when the table itself is gone.
        if !cutover::table_exists(&mut work, &record.schema, &record.table).await? {
            return Ok(Stop::LiveTableGone);
        }
        let k = match prepare(&mut work, record, true).await? {
            Ok(k) => k,
            Err(why) => return Ok(Stop::NotRevertible(why)),
        };
        let position = GtidSet::parse(&record.position)
            .map_err(|e| MigrateError::Internal(format!("kept position: {e}")))?;
        let until = Instant::now() + Duration::from_secs_f64(record.secs_left.max(0.0));
        m.update(|p| {
            p.revertible_until = Some(record.until.clone());
            p.revert_note = None;
            p.reverts = record.reverts;
        });
        tracing::info!(kept = %kept_names(record).0, reverts = record.reverts, from = %position, "keeping the previous table current");
        let capture = Capture::start(
            engine.opts.clone(),
            &k.mapping.source,
            &k.cascades,
            position,
        )
        .await?;
        match follow(
            engine,
            &mut work,
            record,
            &k,
            &capture.changes,
            until,
            requests,
        )
        .await?
        {
            Followed::Reverted | Followed::Again => continue,
            Followed::Stopped(stop) => return Ok(stop),
        }
    }
}

enum Followed {
    /// A revert swapped the tables: `record` says how they stand now.
    Reverted,
    /// A revert did not happen, after it moved the kept table back beside
    /// the live one: prepare again (which parks it again).
    Again,
    Stopped(Stop),
}

/// Merges the live table's changes into the kept table until a revert, the
/// end of the keep time, Tern stopping, or a reason to stop.
async fn follow(
    engine: &Arc<Engine>,
    work: &mut Conn,
    record: &mut KeptRecord,
    k: &Keeping,
    changes: &Changes,
    until: Instant,
    requests: &mut mpsc::Receiver<RevertRequest>,
) -> Result<Followed, MigrateError> {
    let mut last_checkpoint = Instant::now();
    let mut last_position = Instant::now();
    loop {
        let stopping = engine.is_stopping();
        let over = Instant::now() >= until;
        let position = match merge_pending(work, k, changes).await? {
            Ok(p) => p,
            // A change to a table dropped since cannot be read from it.
            Err(_) if !cutover::table_exists(work, &record.schema, &record.table).await? => {
                return Ok(Followed::Stopped(Stop::LiveTableGone));
            }
            Err(why) => return Ok(Followed::Stopped(Stop::NotRevertible(why))),
        };
        if stopping || over || last_position.elapsed() >= POSITION_EVERY {
            store::keeper_position(work, record.id, &position.to_string()).await?;
            record.position = position.to_string();
            last_position = Instant::now();
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            last_checkpoint = Instant::now();
            if let Some(r) = store::kept_record(work, record.id, 0).await? {
                if let Some(why) = r.revert_note {
                    return Ok(Followed::Stopped(Stop::NotRevertible(why)));
                }
            }
            if !cutover::table_exists(work, &record.schema, &record.table).await? {
                return Ok(Followed::Stopped(Stop::LiveTableGone));
            }
        }
        if stopping || over {
            if over {
                tracing::info!("keep time over: the old table is no longer kept current");
            }
            return Ok(Followed::Stopped(Stop::Quietly));
        }
        let wait = MERGE_EVERY.min(until.saturating_duration_since(Instant::now()));
        let request = tokio::select! {
            r = requests.recv() => r,
            _ = tokio::time::sleep(wait) => continue,
            _ = engine.stopping.cancelled() => continue,
        };
        let Some(request) = request else {
            return Ok(Followed::Stopped(Stop::Quietly));
        };
        // The keeper looks at its record only every second: a newer
        // migration or a change of the table's columns may be younger.
        if let Some(stop) = changed_since(work, record, k).await? {
            let why = match &stop {
                Stop::NotRevertible(why) => why.as_str(),
                _ => LIVE_TABLE_GONE,
            };
            let _ = request.reply.send(Err(format!(
                "Migration {} cannot be reverted: {why}",
                record.id
            )));
            return Ok(Followed::Stopped(stop));
        }
        match revert(engine, work, record, k, changes).await? {
            Ok((gtid, position)) => {
                record.reverts += 1;
                store::record_revert(work, record.id, record.reverts, &position.to_string())
                    .await?;
                let keep_secs = engine.settings().keep_old.as_secs();
                if let Some(r) = store::kept_record(work, record.id, keep_secs).await? {
                    *record = r;
                }
                let _ = request.reply.send(Ok(gtid));
                return Ok(Followed::Reverted);
            }
            Err(why) => {
                let _ = request.reply.send(Err(why));
                // Read again, for the keep time left now.
                let keep_secs = engine.settings().keep_old.as_secs();
                if let Some(r) = store::kept_record(work, record.id, keep_secs).await? {
                    *record = r;
                }
                return Ok(Followed::Again);
            }
        }
    }
}

/// How the keeper stops if the live table is no longer the one it follows:
/// a newer migration of it started, its columns changed, or it is gone.
async fn changed_since(
    work: &mut Conn,
    record: &KeptRecord,
    k: &Keeping,
) -> Result<Option<Stop>, MigrateError> {
    if let Some(r) = store::kept_record(work, record.id, 0).await? {
        if let Some(why) = r.revert_note {
            return Ok(Some(Stop::NotRevertible(why)));
        }
    }
    let shape = |t: &Table| -> Vec<(String, String)> {
        t.columns
            .iter()
            .map(|c| (c.name.to_ascii_lowercase(), c.column_type.clone()))
            .collect()
    };
    let now = Table::load(work, &record.schema, &record.table).await?;
    Ok(match now {
        Some(t) if shape(&t) == shape(&k.mapping.source) => None,
        Some(_) => Some(Stop::NotRevertible(
            "the table's columns changed since its cut-over".into(),
        )),
        None => Some(Stop::LiveTableGone),
    })
}

/// How long a keeper may take to read up to the primary's position before
/// a revert (one resumed from an old position has the binlog to read).
const CATCH_UP_BOUND: Duration = Duration::from_secs(300);

/// Reads and merges up to the primary's current position, so that the
/// revert's freeze has only the last moments to apply.
async fn catch_up(
    work: &mut Conn,
    k: &Keeping,
    changes: &Changes,
) -> Result<Result<(), String>, MigrateError> {
    let target = super::start::primary_position(work).await?;
    let bound = Instant::now() + CATCH_UP_BOUND;
    loop {
        let step = (Instant::now() + CHECKPOINT_EVERY).min(bound);
        let read = changes.wait_for(&target, step).await;
        if let Err(why) = merge_pending(work, k, changes).await? {
            return Ok(Err(why));
        }
        match read {
            Ok(true) => return Ok(Ok(())),
            Err(why) => return Ok(Err(why)),
            Ok(false) if Instant::now() >= bound => {
                return Ok(Err(format!(
                    "the previous table is still catching up with the binlog after {} s; try again",
                    CATCH_UP_BOUND.as_secs()
                )))
            }
            Ok(false) => {}
        }
    }
}

/// One revert: the kept table is swapped in with a cut-over's freeze, up
/// to [`REVERT_ATTEMPTS`] times. `Ok(Err)` says why it did not happen.
async fn revert(
    engine: &Engine,
    work: &mut Conn,
    record: &KeptRecord,
    k: &Keeping,
    changes: &Changes,
) -> Result<Result<(String, GtidSet), String>, MigrateError> {
    if let Err(why) = catch_up(work, k, changes).await? {
        return Ok(Err(why));
    }
    if let Err(why) = unpark(work, record).await? {
        return Ok(Err(why));
    }
    let beside = match prepare(work, record, false).await? {
        Ok(k) => k,
        Err(why) => return Ok(Err(why)),
    };
    let k = &beside;
    cutover::drop_sentry(work, &record.schema, &k.away).await?;
    if cutover::table_exists(work, &record.schema, &k.away).await? {
        return Ok(Err(format!(
            "a table named `{}` exists, which the revert would rename the table to",
            k.away
        )));
    }
    let mut backoff = FIRST_RETRY;
    let mut last = String::new();
    for attempt in 1..=REVERT_ATTEMPTS {
        if let Err(why) = merge_pending(work, k, changes).await? {
            return Ok(Err(why));
        }
        let cx = FreezeContext {
            id: record.id,
            opts: &engine.opts,
            sql_mode: &record.sql_mode,
            gate: &engine.gate,
            changes,
            mapping: &k.mapping,
            shadow_key: &k.kept_key,
            foreign_keys: &k.plan,
            cascades: &k.cascades,
            bound: engine.settings().hold_bound,
            merge: true,
        };
        match cutover::swap(&cx, work, &k.away).await? {
            SwapOutcome::Swapped {
                held,
                gtid,
                steps,
                position,
            } => {
                steps.log_done("revert", attempt, held, &gtid);
                return Ok(Ok((gtid, position)));
            }
            SwapOutcome::BackedOut { held, reason } => {
                tracing::info!(attempt, held_ms = held.as_millis() as u64, reason = %reason, "revert backed out");
                last = reason;
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    Ok(Err(format!(
        "the revert backed out {REVERT_ATTEMPTS} times ({last}); the table is unchanged, try again"
    )))
}
