//! Migration state kept in the primary, so that a restarted Tern (or another
//! instance) picks up where the last one stopped.
//!
//! Invariants:
//! - A checkpoint `(copied_key, binlog_pos)` is written only after every change
//!   read from the binlog up to `binlog_pos` whose key is at or below
//!   `copied_key` has been applied to the shadow table. Resuming therefore
//!   deletes shadow rows above `copied_key` (a chunk that committed after its
//!   checkpoint), copies from `copied_key` on and re-reads the binlog from
//!   `binlog_pos`; replaying a change twice is harmless because applying reads
//!   the row's current state from the original table.
//! - Exactly one Tern runs a given table's migration: it holds a named lock
//!   (`GET_LOCK`) on a dedicated connection for the migration's whole life. The
//!   lock dies with the connection, so a crashed owner frees it at once.

use mysql_async::prelude::Queryable;

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;
use sha1::{Digest, Sha1};

use super::table::KeyTuple;
use super::MigrateError;
use crate::sql::quote_ident;

/// Where the control table lives; MariaDB replicates it like any table.
pub const CONTROL_SCHEMA: &str = "_tern";
pub const CONTROL_TABLE: &str = "migrations";

pub fn control_table() -> String {
    format!(
        "{}.{}",
        quote_ident(CONTROL_SCHEMA),
        quote_ident(CONTROL_TABLE)
    )
}

pub async fn ensure_control_table(conn: &mut Conn) -> Result<(), MigrateError> {
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS {}",
        quote_ident(CONTROL_SCHEMA)
    ))
    .await?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {} (
            id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            table_schema VARCHAR(64) NOT NULL,
            table_name VARCHAR(64) NOT NULL,
            statement LONGTEXT NOT NULL,
            specs LONGTEXT NOT NULL,
            sql_mode VARCHAR(1024) NOT NULL,
            state VARCHAR(16) NOT NULL,
            postponed TINYINT NOT NULL DEFAULT 0,
            copied_key LONGTEXT NULL,
            copy_done TINYINT NOT NULL DEFAULT 0,
            binlog_pos VARCHAR(4096) NULL,
            rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
            rows_total BIGINT UNSIGNED NOT NULL DEFAULT 0,
            cutover_attempts INT UNSIGNED NOT NULL DEFAULT 0,
            hold_ms INT UNSIGNED NULL,
            shadow_table VARCHAR(64) NOT NULL,
            old_table VARCHAR(64) NOT NULL,
            old_dropped TINYINT NOT NULL DEFAULT 0,
            error_code INT UNSIGNED NULL,
            error_message TEXT NULL,
            created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
            finished_at DATETIME(6) NULL,
            requested VARCHAR(16) NULL,
            foreign_keys LONGTEXT NULL,
            reverts INT UNSIGNED NOT NULL DEFAULT 0,
            kept_since DATETIME(6) NULL,
            revert_note TEXT NULL,
            children LONGTEXT NULL,
            KEY by_table (table_schema, table_name, state)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        control_table()
    ))
    .await?;
    // Tables made before a column existed get it (an instant change).
    for (column, definition) in [
        ("requested", "VARCHAR(16) NULL"),
        ("foreign_keys", "LONGTEXT NULL"),
        ("reverts", "INT UNSIGNED NOT NULL DEFAULT 0"),
        ("kept_since", "DATETIME(6) NULL"),
        ("revert_note", "TEXT NULL"),
        ("children", "LONGTEXT NULL"),
    ] {
        let has: Option<u64> = conn
            .exec_first_as(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
                 AND TABLE_NAME = 'migrations' AND COLUMN_NAME = ?",
                (CONTROL_SCHEMA, column),
            )
            .await?;
        if has == Some(0) {
            conn.query_drop(format!(
                "ALTER TABLE {} ADD COLUMN {column} {definition}",
                control_table()
            ))
            .await?;
        }
    }
    Ok(())
}

/// Records how the shadow holds the original's foreign keys
/// (`foreign_keys::Plan`), for a later start to put them back.
pub async fn set_foreign_keys(conn: &mut Conn, id: u64, plan: &str) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET foreign_keys = ? WHERE id = ?",
            control_table()
        ),
        (plan, id),
    )
    .await?;
    Ok(())
}

/// Records the tables that reference the migrated one as a cut-over (or a
/// revert) found them, before it re-points any (`foreign_keys::restore_children`).
pub async fn set_children(conn: &mut Conn, id: u64, json: &str) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!("UPDATE {} SET children = ? WHERE id = ?", control_table()),
        (json, id),
    )
    .await?;
    Ok(())
}

/// The cut-over re-pointed every child: nothing for a later start to restore.
pub async fn clear_children(conn: &mut Conn, id: u64) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET children = NULL WHERE id = ?",
            control_table()
        ),
        (id,),
    )
    .await?;
    Ok(())
}

/// Leaves an operator command for the instance that runs migration `id`
/// (it polls its row); false when no unfinished migration has that id.
pub async fn request(conn: &mut Conn, id: u64, word: &str) -> Result<bool, MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET requested = ? WHERE id = ? \
             AND state NOT IN ('done', 'failed', 'cancelled')",
            control_table()
        ),
        (word, id),
    )
    .await?;
    Ok(conn.affected_rows() > 0)
}

/// Takes the operator command left for migration `id`, if any.
pub async fn take_request(conn: &mut Conn, id: u64) -> Result<Option<String>, MigrateError> {
    let word: Option<Option<String>> = conn
        .exec_first_as(
            format!("SELECT requested FROM {} WHERE id = ?", control_table()),
            (id,),
        )
        .await?;
    let Some(word) = word.flatten() else {
        return Ok(None);
    };
    conn.exec_drop(
        format!(
            "UPDATE {} SET requested = NULL WHERE id = ? AND requested = ?",
            control_table()
        ),
        (id, &word),
    )
    .await?;
    Ok(Some(word))
}

/// States a migration goes through; the text is what the control table and
/// `SHOW TERN MIGRATIONS` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Copying,
    Verifying,
    Postponed,
    CuttingOver,
    Done,
    Failed,
    Cancelled,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Copying => "copying",
            State::Verifying => "verifying",
            State::Postponed => "postponed",
            State::CuttingOver => "cutting-over",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<State> {
        [
            State::Copying,
            State::Verifying,
            State::Postponed,
            State::CuttingOver,
            State::Done,
            State::Failed,
            State::Cancelled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// A migration as the control table records it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: u64,
    pub schema: String,
    pub table: String,
    pub statement: String,
    pub specs: String,
    pub sql_mode: String,
    pub state: State,
    pub postponed: bool,
    pub copied_key: Option<KeyTuple>,
    pub copy_done: bool,
    pub binlog_pos: String,
    pub rows_copied: u64,
    pub rows_total: u64,
    pub cutover_attempts: u32,
    pub shadow_table: String,
    pub old_table: String,
    /// `foreign_keys::Plan` as JSON; `None` before the shadow was made.
    pub foreign_keys: Option<String>,
    /// The referencing tables' keys as the last cut-over found them (JSON).
    pub children: Option<String>,
}

/// Key tuples are stored as their literals, one per line: literals never hold
/// a newline (strings are hex, dates are digits and punctuation).
pub fn encode_key(key: &KeyTuple) -> String {
    key.join("\n")
}

pub fn decode_key(text: &str) -> KeyTuple {
    text.split('\n').map(str::to_string).collect()
}

/// Names derived from the table and the migration id: shadow
/// `<table>_tern<id>_new`, old table (and cut-over sentry) `<table>_tern<id>_old`.
///
/// Both must sort after the original's name: MariaDB takes a RENAME's
/// metadata locks in the byte order of their names, so the swap then queues
/// on the original table's lock first, ahead of every write waiting there,
/// and those writes land in the new table (`cutover_bypassing_writer_not_lost`).
/// With names that sort first, the RENAME waits on another table while writes
/// queued on the original slip into the old table at unlock.
///
/// Appending keeps that order (the original is a prefix). A name too long to
/// append to within MariaDB's 64 characters is cut instead, and `~` goes
/// where the cut falls: `<first k characters>~tern<id>_new`, with `k` chosen
/// so that the original's character at `k` is ASCII below `~`; the new name
/// then sorts after the original at that byte. `None` when no such cut exists
/// (a long name with no ASCII character below `~` in reach, such as one all
/// in Hangul): such a table cannot be migrated online.
pub fn shadow_names(table: &str, id: u64) -> Option<(String, String)> {
    let appended = |kind: &str| format!("{table}_tern{id}_{kind}");
    let (new, old) = (appended("new"), appended("old"));
    if new.chars().count() <= MAX_NAME {
        return Some((new, old));
    }
    let tail_len = format!("~tern{id}_new").chars().count();
    let chars: Vec<(usize, char)> = table.char_indices().collect();
    let room = MAX_NAME
        .saturating_sub(tail_len)
        .min(chars.len().saturating_sub(1));
    let cut = (0..=room).rev().find(|&k| chars[k].1 < '~')?;
    let prefix = &table[..chars[cut].0];
    Some((
        format!("{prefix}~tern{id}_new"),
        format!("{prefix}~tern{id}_old"),
    ))
}

/// The longest table name MariaDB accepts, in characters.
pub const MAX_NAME: usize = 64;

/// The largest migration id the name rules are checked against (ids come
/// from an AUTO_INCREMENT column; ten digits outlast any real use).
pub const LARGEST_ID: u64 = 9_999_999_999;

pub struct NewRecord<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub statement: &'a str,
    pub specs: &'a str,
    pub sql_mode: &'a str,
    pub postponed: bool,
    pub rows_total: u64,
}

/// Inserts a record and names its tables after the id it got.
pub async fn insert(
    conn: &mut Conn,
    r: &NewRecord<'_>,
) -> Result<(u64, String, String), MigrateError> {
    conn.exec_drop(
        format!(
            "INSERT INTO {} (table_schema, table_name, statement, specs, sql_mode, state, postponed, \
             rows_total, shadow_table, old_table) VALUES (?, ?, ?, ?, ?, 'copying', ?, ?, '', '')",
            control_table()
        ),
        (
            r.schema,
            r.table,
            r.statement,
            r.specs,
            r.sql_mode,
            r.postponed,
            r.rows_total,
        ),
    )
    .await?;
    let id = conn
        .last_insert_id()
        .ok_or_else(|| MigrateError::Internal("control table gave no id".into()))?;
    let (shadow, old) = shadow_names(r.table, id).ok_or_else(|| {
        MigrateError::Refused(format!("no shadow table name sorts after {}", r.table))
    })?;
    conn.exec_drop(
        format!(
            "UPDATE {} SET shadow_table = ?, old_table = ? WHERE id = ?",
            control_table()
        ),
        (&shadow, &old, id),
    )
    .await?;
    Ok((id, shadow, old))
}

pub async fn checkpoint(
    conn: &mut Conn,
    id: u64,
    copied_key: Option<&KeyTuple>,
    copy_done: bool,
    binlog_pos: &str,
    rows_copied: u64,
) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET copied_key = ?, copy_done = ?, binlog_pos = ?, rows_copied = ? WHERE id = ?",
            control_table()
        ),
        (
            copied_key.map(encode_key),
            copy_done,
            binlog_pos,
            rows_copied,
            id,
        ),
    )
    .await?;
    Ok(())
}

pub async fn set_state(conn: &mut Conn, id: u64, state: State) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!("UPDATE {} SET state = ? WHERE id = ?", control_table()),
        (state.name(), id),
    )
    .await?;
    Ok(())
}

pub async fn set_postponed(conn: &mut Conn, id: u64, postponed: bool) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!("UPDATE {} SET postponed = ? WHERE id = ?", control_table()),
        (postponed, id),
    )
    .await?;
    Ok(())
}

pub async fn note_attempt(conn: &mut Conn, id: u64, attempts: u32) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET cutover_attempts = ? WHERE id = ?",
            control_table()
        ),
        (attempts, id),
    )
    .await?;
    Ok(())
}

pub async fn finish(
    conn: &mut Conn,
    id: u64,
    state: State,
    hold_ms: Option<u64>,
    error: Option<(u16, &str)>,
) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET state = ?, hold_ms = ?, error_code = ?, error_message = ?, \
             finished_at = NOW(6) WHERE id = ?",
            control_table()
        ),
        (
            state.name(),
            hold_ms,
            error.map(|(c, _)| c),
            error.map(|(_, m)| m),
            id,
        ),
    )
    .await?;
    Ok(())
}

/// The id of an unfinished migration of `schema.table`, if there is one
/// (run here or by another instance).
pub async fn unfinished_on(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Option<u64>, MigrateError> {
    conn.exec_first_as(
        format!(
            "SELECT id FROM {} WHERE table_schema = ? AND table_name = ? \
             AND state NOT IN ('done', 'failed', 'cancelled') ORDER BY id LIMIT 1",
            control_table()
        ),
        (schema, table),
    )
    .await
}

/// Migrations that were running when their Tern stopped.
pub async fn unfinished(conn: &mut Conn) -> Result<Vec<Record>, MigrateError> {
    let rows: Vec<mysql_async::Row> = conn
        .all_as(format!(
            "SELECT id, table_schema, table_name, statement, specs, sql_mode, state, postponed, \
             copied_key, copy_done, binlog_pos, rows_copied, cutover_attempts, shadow_table, old_table, \
             rows_total, foreign_keys, children FROM {} WHERE state NOT IN ('done', 'failed', 'cancelled') ORDER BY id",
            control_table()
        ))
        .await?;
    rows.into_iter().map(record_from_row).collect()
}

/// Column `i` of a control-table row.
fn take<T: mysql_async::prelude::FromValue>(
    r: &mut mysql_async::Row,
    i: usize,
) -> Result<T, MigrateError> {
    r.take_opt::<T, usize>(i)
        .ok_or_else(|| MigrateError::Internal(format!("control table column {i} missing")))?
        .map_err(|e| MigrateError::Internal(format!("control table column {i}: {e}")))
}

fn record_from_row(mut r: mysql_async::Row) -> Result<Record, MigrateError> {
    let state: String = take(&mut r, 6)?;
    let copied_key: Option<String> = take(&mut r, 8)?;
    let binlog_pos: Option<String> = take(&mut r, 10)?;
    Ok(Record {
        id: take(&mut r, 0)?,
        schema: take(&mut r, 1)?,
        table: take(&mut r, 2)?,
        statement: take(&mut r, 3)?,
        specs: take(&mut r, 4)?,
        sql_mode: take(&mut r, 5)?,
        state: State::from_name(&state).unwrap_or(State::Copying),
        postponed: take(&mut r, 7)?,
        copied_key: copied_key.as_deref().map(decode_key),
        copy_done: take(&mut r, 9)?,
        binlog_pos: binlog_pos.unwrap_or_default(),
        rows_copied: take(&mut r, 11)?,
        cutover_attempts: take(&mut r, 12)?,
        shadow_table: take(&mut r, 13)?,
        old_table: take(&mut r, 14)?,
        rows_total: take(&mut r, 15)?,
        foreign_keys: take(&mut r, 16)?,
        children: take(&mut r, 17)?,
    })
}

/// Old tables of finished migrations kept longer than `keep_secs`.
/// The kept table's name: the old table, or after an odd number of reverts
/// the new one (under the shadow's name, see `keeper`).
const KEPT_TABLE: &str = "IF(reverts % 2 = 1, shadow_table, old_table)";
/// Since when the kept table has been kept: the cut-over, or the last revert.
const KEPT_SINCE: &str = "COALESCE(kept_since, finished_at)";

pub async fn old_tables_due(
    conn: &mut Conn,
    keep_secs: u64,
) -> Result<Vec<(u64, String, String)>, MigrateError> {
    let rows: Vec<(u64, String, String)> = conn
        .exec_all_as(
            format!(
                "SELECT id, table_schema, {KEPT_TABLE} FROM {} WHERE state = 'done' AND old_dropped = 0 \
                 AND {KEPT_SINCE} < NOW(6) - INTERVAL ? SECOND",
                control_table()
            ),
            (keep_secs,),
        )
        .await?;
    Ok(rows)
}

pub async fn mark_old_dropped(conn: &mut Conn, id: u64) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET old_dropped = 1 WHERE id = ?",
            control_table()
        ),
        (id,),
    )
    .await?;
    Ok(())
}

/// A finished migration whose previous table is kept (see `keeper`).
#[derive(Debug, Clone)]
pub struct KeptRecord {
    pub id: u64,
    pub schema: String,
    pub table: String,
    pub statement: String,
    pub sql_mode: String,
    pub shadow_table: String,
    pub old_table: String,
    pub reverts: u32,
    /// Every change to the live table before this position is in the kept one.
    pub position: String,
    pub foreign_keys: Option<String>,
    /// Seconds of keep time left.
    pub secs_left: f64,
    /// When the keep time ends, in the primary's time zone.
    pub until: String,
    /// Why it cannot be reverted, once it cannot.
    pub revert_note: Option<String>,
    pub old_dropped: bool,
    pub state: State,
    /// Whether a keeper ever started for it (a cut-over whose end Tern did
    /// not see, because it stopped during it, has none).
    pub keeping: bool,
    /// The referencing tables' keys as the last revert found them (JSON).
    pub children: Option<String>,
}

/// The columns [`kept_from_row`] reads; the one `?` is the keep time in seconds.
const KEPT_COLUMNS: &str =
    "id, table_schema, table_name, statement, sql_mode, shadow_table, old_table, \
     reverts, binlog_pos, foreign_keys, revert_note, old_dropped, state, \
     TIMESTAMPDIFF(MICROSECOND, COALESCE(kept_since, finished_at), NOW(6)) / 1e6, \
     DATE_FORMAT(COALESCE(kept_since, finished_at) + INTERVAL ? SECOND, '%Y-%m-%d %H:%i:%s'), \
     kept_since IS NOT NULL, children";

fn kept_from_row(mut r: mysql_async::Row, keep_secs: u64) -> Result<KeptRecord, MigrateError> {
    let position: Option<String> = take(&mut r, 8)?;
    let state: String = take(&mut r, 12)?;
    let age: Option<f64> = take(&mut r, 13)?;
    let until: Option<String> = take(&mut r, 14)?;
    let keeping: bool = take(&mut r, 15)?;
    let children: Option<String> = take(&mut r, 16)?;
    Ok(KeptRecord {
        id: take(&mut r, 0)?,
        schema: take(&mut r, 1)?,
        table: take(&mut r, 2)?,
        statement: take(&mut r, 3)?,
        sql_mode: take(&mut r, 4)?,
        shadow_table: take(&mut r, 5)?,
        old_table: take(&mut r, 6)?,
        reverts: take(&mut r, 7)?,
        position: position.unwrap_or_default(),
        foreign_keys: take(&mut r, 9)?,
        revert_note: take(&mut r, 10)?,
        old_dropped: take(&mut r, 11)?,
        state: State::from_name(&state).unwrap_or(State::Failed),
        secs_left: age.map_or(0.0, |a| keep_secs as f64 - a),
        until: until.unwrap_or_default(),
        keeping,
        children,
    })
}

/// Finished migrations whose kept table may still be kept current: within
/// their keep time, not dropped, not known to be unrevertible.
pub async fn kept(conn: &mut Conn, keep_secs: u64) -> Result<Vec<KeptRecord>, MigrateError> {
    let rows: Vec<mysql_async::Row> = conn
        .exec_all_as(
            format!(
                "SELECT {KEPT_COLUMNS} FROM {} \
                 WHERE state = 'done' AND old_dropped = 0 AND revert_note IS NULL \
                 AND kept_since IS NOT NULL AND {KEPT_SINCE} > NOW(6) - INTERVAL ? SECOND ORDER BY id",
                control_table()
            ),
            (keep_secs, keep_secs),
        )
        .await?;
    rows.into_iter()
        .map(|r| kept_from_row(r, keep_secs))
        .collect()
}

/// One migration as [`kept`] reads it, whatever its state.
pub async fn kept_record(
    conn: &mut Conn,
    id: u64,
    keep_secs: u64,
) -> Result<Option<KeptRecord>, MigrateError> {
    let row: Option<mysql_async::Row> = conn
        .exec_first_as(
            format!(
                "SELECT {KEPT_COLUMNS} FROM {} WHERE id = ?",
                control_table()
            ),
            (keep_secs, id),
        )
        .await?;
    row.map(|r| kept_from_row(r, keep_secs)).transpose()
}

/// The keeper starts: the kept table holds every change before `position`.
pub async fn keep_from(conn: &mut Conn, id: u64, position: &str) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET binlog_pos = ?, kept_since = COALESCE(kept_since, finished_at, NOW(6)), \
             revert_note = NULL WHERE id = ?",
            control_table()
        ),
        (position, id),
    )
    .await?;
    Ok(())
}

/// The keeper's checkpoint: every change before `position` is applied.
pub async fn keeper_position(conn: &mut Conn, id: u64, position: &str) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET binlog_pos = ? WHERE id = ? AND revert_note IS NULL",
            control_table()
        ),
        (position, id),
    )
    .await?;
    Ok(())
}

/// The migration can no longer be reverted, and why.
pub async fn not_revertible(conn: &mut Conn, id: u64, why: &str) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET revert_note = ? WHERE id = ? AND revert_note IS NULL",
            control_table()
        ),
        (why, id),
    )
    .await?;
    Ok(())
}

/// Ends revertibility of every kept migration of a table: it is being
/// changed again (`by`).
pub async fn supersede(
    conn: &mut Conn,
    schema: &str,
    table: &str,
    by: u64,
) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET revert_note = ? WHERE table_schema = ? AND table_name = ? \
             AND id < ? AND state = 'done' AND revert_note IS NULL",
            control_table()
        ),
        (
            format!("the table is being changed again by migration {by}"),
            schema,
            table,
            by,
        ),
    )
    .await?;
    Ok(())
}

/// A revert swapped the tables: the kept one is now the other version, kept
/// from now, with every change before `position` in it.
pub async fn record_revert(
    conn: &mut Conn,
    id: u64,
    reverts: u32,
    position: &str,
) -> Result<(), MigrateError> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET reverts = ?, binlog_pos = ?, kept_since = NOW(6), children = NULL WHERE id = ?",
            control_table()
        ),
        (reverts, position, id),
    )
    .await?;
    Ok(())
}

/// The named lock that makes one Tern the owner of a table's migration.
pub fn ownership_lock_name(schema: &str, table: &str) -> String {
    let digest = Sha1::digest(format!("{schema}.{table}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("tern-migration-{}", &hex[..32])
}

/// Takes the ownership lock without waiting; `false` when someone holds it.
pub async fn take_ownership(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<bool, MigrateError> {
    let got: Option<Option<i64>> = conn
        .exec_first_as(
            "SELECT GET_LOCK(?, 0)",
            (ownership_lock_name(schema, table),),
        )
        .await?;
    Ok(got.flatten() == Some(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_names_sort_after_the_original() {
        let names = |t: &str, id| shadow_names(t, id).unwrap_or_default();
        let (new, old) = names("orders", 7);
        assert_eq!(
            (new.as_str(), old.as_str()),
            ("orders_tern7_new", "orders_tern7_old")
        );
        let hangul = "가".repeat(30);
        let tilde_at_every_cut = format!("{}{}", "a".repeat(3), "~".repeat(61));
        for table in [
            "orders".to_string(),
            "x".repeat(45),
            "x".repeat(46),
            "x".repeat(60),
            "x".repeat(64),
            format!("{}~~~{}", "a".repeat(40), "b".repeat(21)),
            format!("{}{}", "z".repeat(20), "가".repeat(44)),
            format!("a{hangul}"),
            tilde_at_every_cut,
        ] {
            for id in [1, 77, LARGEST_ID] {
                let (new, old) = names(&table, id);
                assert_ne!(new, old);
                for name in [&new, &old] {
                    assert!(
                        name.chars().count() <= MAX_NAME,
                        "{name} is longer than {MAX_NAME}"
                    );
                    assert!(
                        name.as_bytes() > table.as_bytes(),
                        "{name} sorts before {table}"
                    );
                }
            }
        }
        let cut = names(&"x".repeat(60), 12).0;
        assert_eq!(cut, format!("{}~tern12_new", "x".repeat(53)));
        assert_eq!(shadow_names(&"가".repeat(64), 1), None);
    }

    #[test]
    fn keys_round_trip() {
        let k = vec![
            "1".to_string(),
            "_utf8mb4 X'41'".to_string(),
            "'2020-01-01'".to_string(),
        ];
        assert_eq!(decode_key(&encode_key(&k)), k);
    }
}
