//! Change capture: reads the primary's binlog as a replica would and keeps the
//! keys of the migrated table's changed rows.
//!
//! Invariants:
//! - Only keys are kept, coalesced in a set: ten updates to one row are one
//!   entry, and applying an entry copies the row's current state (or its
//!   absence) from the original table, so replay order does not matter.
//! - An UPDATE contributes its before key and its after key: a key change is a
//!   delete of the old key and an insert of the new one.
//! - `position` only moves past a transaction once all of its events have been
//!   read (XID, COMMIT, or the single event of a standalone group), so a
//!   checkpoint that stores it never skips half a transaction on resume.
//! - A lost connection reconnects from `position`; events read twice are harmless.
//! - Keys the applier could not apply yet (a transaction still held their
//!   rows, see `apply`) are put back with [`Changes::settle`], and the
//!   position it reports as applied stays where it was before the round that
//!   took them until a round leaves nothing behind: a checkpoint never claims
//!   a change that is still waiting.
//! - A parent whose changes cascade into the table (see `foreign_keys`)
//!   contributes, for each row it deletes or whose referenced columns it
//!   changes, the old referenced values: the child rows that held them are
//!   found in the shadow when the changes are applied.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, QueryEvent};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Opts};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::foreign_keys::{Cascade, CascadeHits};
use super::table::{literal, KeyTuple, Table};
use crate::gtid::{Gtid, GtidSet, MariaGtid};

const GTID_EVENT: u8 = 162;
const XID_EVENT: u8 = 16;
const QUERY_EVENT: u8 = 2;
/// MariaDB GTID event flag: the group is one event (DDL, non-transactional).
const FL_STANDALONE: u8 = 1;
/// How long to wait before reconnecting a lost binlog stream.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// A stream that fails this many times in a row gives up; the migration fails
/// and can be resumed.
const MAX_RECONNECTS: u32 = 20;

#[derive(Default)]
struct Pending {
    keys: HashSet<KeyTuple>,
    cascade_hits: CascadeHits,
    /// Every transaction up to here has been read completely.
    position: GtidSet,
    /// `position` at the last take: where the next take's changes begin.
    taken_up_to: GtidSet,
    /// While keys are put back: the position everything before which is
    /// applied (the start of the first round that put keys back).
    held_at: Option<GtidSet>,
    error: Option<String>,
    /// A changed row whose key could not be read: the table changed under us.
    schema_changed: bool,
}

/// Changes collected so far, shared between the reader task and the migration.
pub struct Changes {
    pending: Mutex<Pending>,
    advanced: Notify,
}

impl Changes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the changes collected so far, with the position they are
    /// complete up to.
    pub fn take(&self) -> Result<Taken, String> {
        let mut p = self.lock();
        if let Some(e) = &p.error {
            return Err(e.clone());
        }
        if p.schema_changed {
            return Err("the table's columns changed while it was being migrated".into());
        }
        let position = p.position.clone();
        let from = std::mem::replace(&mut p.taken_up_to, position.clone());
        Ok(Taken {
            keys: p.keys.drain().collect(),
            cascade_hits: std::mem::take(&mut p.cascade_hits),
            position,
            from,
        })
    }

    /// Ends the round that took `taken`: puts back the keys it left for
    /// later, and returns the position everything before which is applied.
    pub fn settle(&self, taken: &Taken, left: Vec<KeyTuple>) -> GtidSet {
        let mut p = self.lock();
        if left.is_empty() {
            p.held_at = None;
            return taken.position.clone();
        }
        p.keys.extend(left);
        p.held_at.get_or_insert_with(|| taken.from.clone()).clone()
    }

    pub fn pending_keys(&self) -> usize {
        self.lock().keys.len()
    }

    pub fn position(&self) -> GtidSet {
        self.lock().position.clone()
    }

    /// Waits until everything up to `target` has been read, or the deadline passes.
    pub async fn wait_for(
        &self,
        target: &GtidSet,
        deadline: tokio::time::Instant,
    ) -> Result<bool, String> {
        loop {
            let notified = self.advanced.notified();
            {
                let p = self.lock();
                if let Some(e) = &p.error {
                    return Err(e.clone());
                }
                if p.position.contains_set(target) {
                    return Ok(true);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(false);
            }
        }
    }
}

/// What [`Changes::take`] hands over.
pub struct Taken {
    /// Keys of the table's changed rows.
    pub keys: Vec<KeyTuple>,
    /// Parent values whose children a cascade changed (`foreign_keys`).
    pub cascade_hits: CascadeHits,
    /// Every transaction up to here is in the above.
    pub position: GtidSet,
    /// Where these changes begin: the previous take's `position`.
    pub from: GtidSet,
}

pub struct Capture {
    pub changes: Arc<Changes>,
    task: JoinHandle<()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the reader needs to know about the table.
#[derive(Clone)]
struct Watch {
    schema: String,
    table: String,
    columns: usize,
    key: Vec<(usize, super::table::ColumnClass)>,
    cascades: Vec<Cascade>,
}

impl Capture {
    /// Starts reading at `from` (a GTID position: everything after it arrives).
    pub async fn start(
        opts: Opts,
        table: &Table,
        cascades: &[Cascade],
        from: GtidSet,
    ) -> Result<Capture, super::MigrateError> {
        let watch = Watch {
            schema: table.schema.clone(),
            table: table.name.clone(),
            columns: table.columns.len(),
            key: table
                .key_columns()
                .map(|c| (c.ordinal, c.class.clone()))
                .collect(),
            cascades: cascades.to_vec(),
        };
        let changes = Arc::new(Changes {
            pending: Mutex::new(Pending {
                position: from.clone(),
                taken_up_to: from.clone(),
                ..Pending::default()
            }),
            advanced: Notify::new(),
        });
        // Connect once here so a bad position or missing privilege fails the request.
        let stream = open_stream(&opts, &from).await?;
        let task = tokio::spawn(read_loop(opts, watch, changes.clone(), stream));
        Ok(Capture { changes, task })
    }
}

/// A server id for the binlog connection: random in a range real servers rarely use.
fn reader_server_id() -> u32 {
    0x4000_0000 | (rand::random::<u32>() & 0x3fff_ffff)
}

async fn open_stream(
    opts: &Opts,
    from: &GtidSet,
) -> Result<mysql_async::BinlogStream, super::MigrateError> {
    let mut conn = super::connect(opts).await?;
    // GTID events instead of dummy BEGIN queries, and start at a GTID position.
    conn.query_drop("SET @mariadb_slave_capability = 4").await?;
    let state: String = from
        .maria_positions()
        .map(|g| format!("{}-{}-{}", g.domain, g.server, g.seq))
        .collect::<Vec<_>>()
        .join(",");
    conn.exec_drop("SET @slave_connect_state = ?", (state,))
        .await?;
    let request = BinlogStreamRequest::new(reader_server_id())
        .with_filename(b"")
        .with_pos(4u64);
    Ok(conn.get_binlog_stream(request).await?)
}

async fn read_loop(
    opts: Opts,
    watch: Watch,
    changes: Arc<Changes>,
    first: mysql_async::BinlogStream,
) {
    let mut stream = Some(first);
    let mut failures = 0u32;
    loop {
        let s = match stream.take() {
            Some(s) => s,
            None => {
                tokio::time::sleep(RECONNECT_DELAY).await;
                let from = changes.position();
                match open_stream(&opts, &from).await {
                    Ok(s) => s,
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, failures, "binlog reconnect failed");
                        if failures >= MAX_RECONNECTS {
                            changes.lock().error = Some(format!("binlog stream lost: {e}"));
                            changes.advanced.notify_waiters();
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        match read_events(s, &watch, &changes, &mut failures).await {
            Ok(()) => tracing::warn!("binlog stream ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "binlog stream failed; reconnecting"),
        }
    }
}

async fn read_events(
    mut stream: mysql_async::BinlogStream,
    watch: &Watch,
    changes: &Changes,
    failures: &mut u32,
) -> Result<(), mysql_async::Error> {
    let mut current: Option<(MariaGtid, bool)> = None;
    while let Some(event) = stream.next().await {
        let event = event?;
        *failures = 0;
        let header = event.header();
        let kind = header.event_type_raw();
        let mut complete = false;
        match kind {
            GTID_EVENT => {
                let d = event.data();
                if d.len() >= 13 {
                    let seq = u64::from_le_bytes(d[0..8].try_into().unwrap_or_default());
                    let domain = u32::from_le_bytes(d[8..12].try_into().unwrap_or_default());
                    current = Some((
                        MariaGtid {
                            domain,
                            server: header.server_id(),
                            seq,
                        },
                        d[12] & FL_STANDALONE != 0,
                    ));
                }
            }
            XID_EVENT => complete = true,
            QUERY_EVENT => {
                if let Some((_, standalone)) = current {
                    complete = standalone
                        || event
                            .read_event::<QueryEvent<'_>>()
                            .map(|q| q.query().trim().eq_ignore_ascii_case("COMMIT"))
                            .unwrap_or(false);
                }
            }
            23..=25 | 30..=32 => {
                if let Ok(Some(EventData::RowsEvent(rows))) = event.read_data() {
                    if let Some(tme) = stream.get_tme(rows.table_id()) {
                        if tme.database_name() == watch.schema && tme.table_name() == watch.table {
                            collect_keys(&rows, tme, watch, changes);
                        }
                        for (i, cascade) in watch.cascades.iter().enumerate() {
                            if tme.database_name() == cascade.parent_schema
                                && tme.table_name() == cascade.parent_table
                            {
                                collect_cascade_hits(&rows, tme, i, cascade, changes);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if complete {
            if let Some((gtid, _)) = current.take() {
                changes.lock().position.add(&Gtid::Maria(gtid));
                changes.advanced.notify_waiters();
            }
        }
    }
    Ok(())
}

fn collect_keys(
    rows: &mysql_async::binlog::events::RowsEventData<'_>,
    tme: &mysql_async::binlog::events::TableMapEvent<'_>,
    watch: &Watch,
    changes: &Changes,
) {
    let mut keys = Vec::new();
    let mut unreadable = tme.columns_count() as usize != watch.columns;
    for row in rows.rows(tme) {
        let Ok((before, after)) = row else {
            unreadable = true;
            break;
        };
        for image in [before, after].into_iter().flatten() {
            let key: Option<KeyTuple> = watch
                .key
                .iter()
                .map(|(pos, class)| match image.as_ref(*pos) {
                    Some(BinlogValue::Value(v)) => literal(class, v),
                    _ => None,
                })
                .collect();
            match key {
                Some(k) => keys.push(k),
                None => unreadable = true,
            }
        }
    }
    let mut p = changes.lock();
    p.keys.extend(keys);
    if unreadable {
        p.schema_changed = true;
    }
}

/// The referenced values in a parent row image: `Ok(None)` when one is NULL
/// (no child can hold it), `Err` when the image lacks a column (a minimal
/// row image).
fn referenced_values(
    image: &mysql_async::binlog::row::BinlogRow,
    cascade: &Cascade,
) -> Result<Option<KeyTuple>, ()> {
    let mut values = Vec::with_capacity(cascade.referenced.len());
    for (pos, class) in &cascade.referenced {
        match image.as_ref(*pos) {
            Some(BinlogValue::Value(v)) => match literal(class, v) {
                Some(l) => values.push(l),
                None => return Ok(None),
            },
            _ => return Err(()),
        }
    }
    Ok(Some(values))
}

/// The old referenced values of the parent rows this event deletes, or whose
/// referenced values it changes, where the foreign key cascades that way.
fn collect_cascade_hits(
    rows: &mysql_async::binlog::events::RowsEventData<'_>,
    tme: &mysql_async::binlog::events::TableMapEvent<'_>,
    index: usize,
    cascade: &Cascade,
    changes: &Changes,
) {
    let mut hits = Vec::new();
    let mut unreadable = tme.columns_count() as usize != cascade.parent_columns;
    for row in rows.rows(tme) {
        let (before, after) = match row {
            Ok((Some(before), after)) => (before, after),
            // An insert (no before image) cascades nothing.
            Ok((None, _)) => continue,
            Err(_) => {
                unreadable = true;
                break;
            }
        };
        let Ok(old) = referenced_values(&before, cascade) else {
            unreadable = true;
            break;
        };
        let cascaded = match &after {
            None => cascade.on_delete,
            Some(after) => match referenced_values(after, cascade) {
                Ok(new) => cascade.on_update && new != old,
                Err(()) => {
                    unreadable = true;
                    break;
                }
            },
        };
        if let Some(old) = old.filter(|_| cascaded) {
            hits.push((index, old));
        }
    }
    let mut p = changes.lock();
    p.cascade_hits.extend(hits);
    if unreadable {
        p.error = Some(format!(
            "the rows of `{}`.`{}`, whose changes cascade into the table, could not be read from the binlog",
            cascade.parent_schema, cascade.parent_table
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes_from(position: &str) -> Changes {
        let from = GtidSet::parse(position).expect("position");
        Changes {
            pending: Mutex::new(Pending {
                position: from.clone(),
                taken_up_to: from,
                ..Pending::default()
            }),
            advanced: Notify::new(),
        }
    }

    fn read(changes: &Changes, keys: &[&str], position: &str) {
        let mut p = changes.lock();
        p.keys.extend(keys.iter().map(|k| vec![k.to_string()]));
        p.position = GtidSet::parse(position).expect("position");
    }

    #[test]
    fn keys_put_back_hold_the_applied_position_until_a_round_leaves_none() {
        let changes = changes_from("0-1-10");
        read(&changes, &["1", "2"], "0-1-20");
        let first = changes.take().expect("take");
        // Key 2's row was still held: it waits, and nothing after 0-1-10
        // counts as applied.
        let applied = changes.settle(&first, vec![vec!["2".into()]]);
        assert_eq!(applied.to_string(), "0-1-10");
        read(&changes, &["3"], "0-1-30");
        let second = changes.take().expect("take");
        let mut keys = second.keys.clone();
        keys.sort();
        assert_eq!(keys, vec![vec!["2".to_string()], vec!["3".to_string()]]);
        assert_eq!(
            changes.settle(&second, vec![vec!["2".into()]]).to_string(),
            "0-1-10",
            "still held since the first round"
        );
        let third = changes.take().expect("take");
        assert_eq!(third.keys, vec![vec!["2".to_string()]]);
        assert_eq!(changes.settle(&third, Vec::new()).to_string(), "0-1-30");
    }
}
