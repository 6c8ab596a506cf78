//! How a migration starts: new from a client's ALTER ([`prepare`]), or again
//! from its control-table checkpoint after a restart ([`resume`]). Both end in
//! a [`Started`] that the runner takes from there.
//!
//! Invariants:
//! - Nothing is created before every preflight check on the original passed;
//!   a failure after the shadow exists abandons it (see `runner::abandon`),
//!   so a refused or failed start leaves nothing behind.
//! - The ownership lock is taken before anything is written, so two instances
//!   never run the same table's migration.
//! - A resume first deletes the shadow rows above the checkpoint's key (a
//!   chunk that committed after its checkpoint) and re-reads the binlog from
//!   the checkpoint's position, which `store` explains is safe.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::check;
use super::conn::{connect, engine_conn};
use super::copy::{Copier, HighWater};
use super::cutover;
use super::engine::{AlterRequest, Engine};
use super::fetch::Fetch;
use super::foreign_keys;
use super::mapping::Mapping;
use super::migration::{Migration, Progress};
use super::runner::abandon;
use super::store::{self, State};
use super::table::{qualified, Table};
use super::triggers;
use super::MigrateError;
use crate::gtid::GtidSet;
use crate::protocol::errcode::{ER_CANT_CREATE_TABLE, ER_UNKNOWN_ERROR};
use crate::sql::alter::{plan, AlterPlan, OnlineAlter};

/// A migration ready to run: its connections and where it stands.
pub struct Started {
    pub migration: Arc<Migration>,
    /// Holds the ownership lock for the migration's whole life.
    pub(super) owner: Conn,
    pub(super) work: Conn,
    pub(super) mapping: Mapping,
    pub(super) shadow_key: Table,
    pub(super) copier: Copier,
    pub(super) position: GtidSet,
    pub(super) old_name: String,
    pub(super) sql_mode: String,
    /// Whether the server's own ALTER would copy the rows (ALGORITHM=COPY)
    /// rather than work in place: it decides what the client is told.
    pub(super) native_copies: bool,
    /// The original's foreign keys and the new table's.
    pub(super) foreign_keys: foreign_keys::Plan,
    /// Parents whose changes cascade into the original.
    pub(super) cascades: Vec<foreign_keys::Cascade>,
}

fn refused(r: check::Refusal) -> MigrateError {
    MigrateError::Refused(r.0)
}

/// The primary's binlog position now.
pub(super) async fn primary_position(conn: &mut Conn) -> Result<GtidSet, MigrateError> {
    let pos: Option<String> = conn.first_as("SELECT @@gtid_binlog_pos").await?;
    GtidSet::parse(pos.as_deref().unwrap_or("")).map_err(|e| MigrateError::Internal(e.to_string()))
}

/// Checks the request and creates the shadow table.
pub async fn prepare(engine: &Engine, req: AlterRequest) -> Result<Started, MigrateError> {
    let mut work = engine_conn(&engine.opts, &req.sql_mode).await?;
    store::ensure_control_table(&mut work).await?;
    let source = checked_source(&mut work, &req).await?;
    let mut owner = connect(&engine.opts).await?;
    if !store::take_ownership(&mut owner, &source.schema, &source.name).await? {
        return Err(MigrateError::Busy(source.qualified()));
    }
    let (id, shadow_name, old_name) = store::insert(
        &mut work,
        &store::NewRecord {
            schema: &source.schema,
            table: &source.name,
            statement: &req.statement,
            specs: &req.alter.specs,
            sql_mode: &req.sql_mode,
            postponed: req.postponed,
            rows_total: source.rows_estimate,
        },
    )
    .await?;
    let span = tracing::info_span!("migration", id, table = %crate::logsafe::untrusted(source.qualified()));
    let _enter = span.enter();
    // An earlier migration of the table can no longer be reverted: its
    // keeper sees this and stops.
    store::supersede(&mut work, &source.schema, &source.name, id).await?;
    let ShadowMade {
        mapping,
        position,
        native_copies,
        foreign_keys: fk_plan,
        cascades,
    } = match create_shadow(&mut work, &source, &shadow_name, &req, id).await {
        Ok(v) => v,
        Err(e) => {
            let shadow_q = qualified(&source.schema, &shadow_name);
            abandon(Some(&mut work), id, &shadow_q, None, &e).await;
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
        Progress::new(State::Copying, 0, source.rows_estimate, req.postponed),
        engine.stopping.clone(),
    ));
    let mut copier = Copier::new(HighWater::Start, 0, engine.settings().chunk_target);
    copier.keep_warnings(req.max_error_count);
    Ok(Started {
        migration,
        owner,
        work,
        mapping,
        shadow_key,
        copier,
        position,
        old_name,
        sql_mode: req.sql_mode,
        native_copies,
        foreign_keys: fk_plan,
        cascades,
    })
}

/// The preflight checks that need only the original table, which they return.
async fn checked_source(work: &mut Conn, req: &AlterRequest) -> Result<Table, MigrateError> {
    check::binlog_is_row_based(work).await?.map_err(refused)?;
    let source = Table::load(work, &req.schema, &req.alter.table.name)
        .await?
        .ok_or(MigrateError::NoSuchTable)?;
    check::has_usable_key(&source).map_err(refused)?;
    check::is_transactional(&source).map_err(refused)?;
    check::name_leaves_room(&source).map_err(refused)?;
    check::no_self_reference(work, &source.schema, &source.name)
        .await?
        .map_err(refused)?;
    related_not_migrating(work, &source).await?;
    if req.alter.adds_foreign_key {
        // The server checks every row against a new foreign key; the copy
        // cannot hold the rows still for that without blocking writes.
        return Err(MigrateError::Refused(
            "the change adds a foreign key, which the server checks against every row".into(),
        ));
    }
    Ok(source)
}

/// A table whose parent or child is being migrated is refused: the cut-over
/// of one would change what the other's change capture and constraints
/// rest on (the parent's row layout, the children's references).
async fn related_not_migrating(work: &mut Conn, source: &Table) -> Result<(), MigrateError> {
    let mut related: Vec<(String, String)> =
        foreign_keys::of_table(work, &source.schema, &source.name)
            .await?
            .into_iter()
            .map(|fk| (fk.ref_schema, fk.ref_table))
            .collect();
    related.extend(
        foreign_keys::children_of(work, &source.schema, &source.name)
            .await?
            .into_iter()
            .map(|c| (c.schema, c.table)),
    );
    related.dedup();
    for (schema, table) in related {
        if let Some(id) = store::unfinished_on(work, &schema, &table).await? {
            return Err(MigrateError::Refused(format!(
                "`{schema}`.`{table}`, which it is linked to by a foreign key, is being migrated (migration {id}); send the change again once that one has ended"
            )));
        }
    }
    Ok(())
}

/// What [`create_shadow`] made and learnt.
struct ShadowMade {
    mapping: Mapping,
    /// Where change capture starts.
    position: GtidSet,
    /// Whether the native ALTER would copy the rows.
    native_copies: bool,
    foreign_keys: foreign_keys::Plan,
    cascades: Vec<foreign_keys::Cascade>,
}

/// Creates the shadow in its new shape, runs the checks that need it, and
/// records the binlog position the change capture starts from.
async fn create_shadow(
    work: &mut Conn,
    source: &Table,
    shadow_name: &str,
    req: &AlterRequest,
    id: u64,
) -> Result<ShadowMade, MigrateError> {
    let shadow_q = qualified(&source.schema, shadow_name);
    let created = work
        .query_drop(format!(
            "CREATE TABLE {shadow_q} LIKE {}",
            source.qualified()
        ))
        .await;
    match created {
        // The file system's limit on the table's file name, which spells
        // each non-ASCII character in five bytes: the native ALTER's short
        // `#sql-` names do not meet it, so the change can still run natively.
        Err(mysql_async::Error::Server(e))
            if e.code == ER_CANT_CREATE_TABLE && e.message.contains("File name too long") =>
        {
            return Err(MigrateError::Refused(format!(
                "the shadow table's name {shadow_name} makes a file name too long for the server"
            )));
        }
        other => other?,
    }
    // The shadow tries the change with the original's foreign keys, so that
    // the server applies its own rules to them (see `foreign_keys`).
    let original_keys = foreign_keys::of_table(work, &source.schema, &source.name).await?;
    let trial = foreign_keys::Trial::new(original_keys, &source.name, shadow_name, id)
        .map_err(MigrateError::Refused)?;
    trial.add_to_shadow(work, &source.schema).await?;
    let specs =
        crate::sql::alter::with_foreign_key_names(&req.alter.specs, |name| trial.shadow_name(name));
    let native_copies = build_shadow(work, &shadow_q, &specs).await?;
    let fk_plan = trial.finish(work, &source.schema).await?;
    store::set_foreign_keys(work, id, &fk_plan.to_json()).await?;
    let shadow = Table::load(work, &source.schema, shadow_name)
        .await?
        .ok_or_else(|| MigrateError::Internal("the shadow table vanished".into()))?;
    check::is_transactional(&shadow).map_err(refused)?;
    let mapping = Mapping::new(source.clone(), shadow, &req.alter);
    check::keeps_key_columns(&mapping).map_err(refused)?;
    let cascades = foreign_keys::cascades_of(work, &fk_plan, &mapping)
        .await?
        .map_err(MigrateError::Refused)?;
    for child in foreign_keys::children_of(work, &source.schema, &source.name).await? {
        foreign_keys::shadow_columns_for(work, &child, &mapping)
            .await?
            .map_err(MigrateError::Refused)?;
    }
    let position = primary_position(work).await?;
    store::checkpoint(work, id, None, false, &position.to_string(), 0).await?;
    // The copy keeps as many of its warnings as the client's session would.
    work.query_drop(format!(
        "SET SESSION max_error_count = {}",
        req.max_error_count.min(65_535)
    ))
    .await?;
    Ok(ShadowMade {
        mapping,
        position,
        native_copies,
        foreign_keys: fk_plan,
        cascades,
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
    let mut owner = connect(&engine.opts).await?;
    if !store::take_ownership(&mut owner, &record.schema, &record.table).await? {
        tracing::info!(
            migration = record.id,
            "migration is run by another Tern instance"
        );
        return Ok(None);
    }
    let mut work = engine_conn(&engine.opts, &record.sql_mode).await?;
    if !cutover::table_exists(&mut work, &record.schema, &record.shadow_table).await? {
        settle_without_shadow(&mut work, &record).await?;
        return Ok(None);
    }
    // Triggers on the shadow mean Tern stopped inside a cut-over: they belong
    // on the original (see `triggers`).
    let stranded = triggers::return_from_shadow(
        &mut work,
        &record.schema,
        &record.shadow_table,
        &record.table,
    )
    .await?;
    if stranded > 0 {
        tracing::warn!(
            migration = record.id,
            triggers = stranded,
            "moved the triggers an interrupted cut-over left on the shadow back to the original"
        );
    }
    // The same for foreign keys: the original lacks some it had.
    let fk_plan = match &record.foreign_keys {
        Some(json) => foreign_keys::Plan::from_json(json)?,
        None => foreign_keys::Plan::default(),
    };
    let moved_back = foreign_keys::move_back(
        &mut work,
        &record.schema,
        &record.table,
        &record.shadow_table,
        &fk_plan,
    )
    .await?;
    if moved_back {
        tracing::warn!(
            migration = record.id,
            "gave the original back the foreign keys an interrupted cut-over had moved to the shadow"
        );
    }
    let (mapping, shadow_key, high_water, position) = match reload(&mut work, &record).await {
        Ok(v) => v,
        Err(e) => {
            let shadow_q = qualified(&record.schema, &record.shadow_table);
            abandon(Some(&mut work), record.id, &shadow_q, None, &e).await;
            return Err(e);
        }
    };
    // And for the tables that reference it: some may reference the shadow,
    // one may have lost its key between the drop and the add.
    let returned = foreign_keys::return_children(&mut work, &mapping).await?;
    let recorded = match &record.children {
        Some(json) => foreign_keys::children_from_json(json)?,
        None => Vec::new(),
    };
    let restored = foreign_keys::restore_children(&mut work, &recorded).await?;
    if returned + restored > 0 {
        tracing::warn!(
            migration = record.id,
            foreign_keys = returned,
            restored,
            "made the tables an interrupted cut-over left referencing the shadow reference the original again"
        );
    }
    let cascades = match foreign_keys::cascades_of(&mut work, &fk_plan, &mapping).await? {
        Ok(c) => c,
        Err(why) => {
            let e = MigrateError::Internal(format!("cannot follow the cascades any more: {why}"));
            let shadow_q = qualified(&record.schema, &record.shadow_table);
            abandon(Some(&mut work), record.id, &shadow_q, None, &e).await;
            return Err(e);
        }
    };
    let rows_total = mapping.source.rows_estimate;
    let migration = Arc::new(Migration::new(
        record.id,
        &record.schema,
        &record.table,
        &record.statement,
        Progress::new(
            record.state,
            record.rows_copied,
            rows_total,
            record.postponed,
        ),
        engine.stopping.clone(),
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
        foreign_keys: fk_plan,
        cascades,
    }))
}

/// A record whose shadow is gone ended without recording it: done if the
/// old table exists (the RENAME happened), failed otherwise.
async fn settle_without_shadow(
    work: &mut Conn,
    record: &store::Record,
) -> Result<(), MigrateError> {
    let swapped = cutover::table_exists(work, &record.schema, &record.old_table).await?;
    let (state, error) = if swapped {
        (State::Done, None)
    } else {
        (
            State::Failed,
            Some((ER_UNKNOWN_ERROR, "the shadow table is gone")),
        )
    };
    store::finish(work, record.id, state, None, error).await?;
    tracing::info!(
        migration = record.id,
        state = state.name(),
        "migration found finished at resume"
    );
    Ok(())
}

/// Loads the tables again, drops a sentry a stopped cut-over left, and puts
/// the shadow back at its checkpoint. Returns the mapping, the shadow's key,
/// the copier's high-water mark and the binlog position to read from.
async fn reload(
    work: &mut Conn,
    record: &store::Record,
) -> Result<(Mapping, Table, HighWater, GtidSet), MigrateError> {
    let fail = |why: String| MigrateError::Internal(why);
    let alter: OnlineAlter = match plan(&record.statement) {
        AlterPlan::Online(a) => a,
        AlterPlan::Native(why) => {
            return Err(fail(format!("statement no longer plans online: {why}")))
        }
        AlterPlan::NotTableChange => return Err(fail("statement no longer plans online".into())),
    };
    let source = Table::load(work, &record.schema, &record.table)
        .await?
        .ok_or_else(|| fail("the original table is gone".into()))?;
    let shadow = Table::load(work, &record.schema, &record.shadow_table)
        .await?
        .ok_or_else(|| fail("the shadow table is gone".into()))?;
    let mapping = Mapping::new(source, shadow, &alter);
    let shadow_key = mapping
        .shadow_key()
        .ok_or_else(|| fail("the shadow lost the key columns".into()))?;
    cutover::drop_sentry(work, &record.schema, &record.old_table).await?;
    let high_water = if record.copy_done {
        HighWater::All
    } else {
        match &record.copied_key {
            Some(k) => HighWater::Key(k.clone()),
            None => HighWater::Start,
        }
    };
    discard_past_checkpoint(work, &mapping, &shadow_key, &high_water).await?;
    let position = GtidSet::parse(&record.binlog_pos).map_err(|e| fail(e.to_string()))?;
    Ok((mapping, shadow_key, high_water, position))
}

/// A chunk that committed after the last checkpoint is copied again: its
/// rows go now.
async fn discard_past_checkpoint(
    work: &mut Conn,
    mapping: &Mapping,
    shadow_key: &Table,
    high_water: &HighWater,
) -> Result<(), MigrateError> {
    match high_water {
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
    Ok(())
}
