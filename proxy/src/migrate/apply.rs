//! The applier: brings the shadow rows of changed keys up to date.
//!
//! For each batch of keys, in one transaction: delete those keys from the
//! shadow, then insert them again from the original's current rows. A key that
//! no longer exists in the original stays deleted; a key changed by an UPDATE
//! arrives as its old key (deleted) and its new key (inserted). Reading the
//! current row instead of the binlog's image makes replay idempotent and
//! order-free, and copies values with the same server-side conversion the
//! copier uses. Keys above the copier's high-water mark are only deleted
//! (there is nothing to delete): the copier will copy them. Keys above the
//! copy's ceiling (inserted after the copy started, above every key it saw)
//! the copier never reaches: they are applied like copied ones.
//!
//! Plain INSERT, not REPLACE: a row that breaks a new unique key must fail the
//! migration with the server's error, never silently remove another row.
//!
//! A transaction's binlog events reach change capture before the transaction
//! is committed in InnoDB (the server writes the binlog, then commits in the
//! engine), so a key can be taken while its new row is not yet visible: a
//! copy of its "current" row would then be the old one, and no later event
//! would correct it (seen: the benchmark's verify found shadow rows that had
//! missed an UPDATE or a DELETE in 5 of 17 ALTERs, and copied them again). The
//! same holds for a key above the high-water mark, which the copier would
//! read in its old state. So outside a freeze each batch first asks, without
//! waiting, for a shared lock on its keys' rows (`LOCK IN SHARE MODE
//! NOWAIT`, autocommit, released at once): a transaction still between its
//! binlog write and its commit holds its row locks, so a key whose row is
//! locked is left for a later round (the caller puts it back) and the rest
//! have committed before the copy of their rows reads them. Never waiting
//! means the applier never takes part in a deadlock with a client. Under a
//! freeze the table lock already waited for every transaction on the table.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::copy::HighWater;
use super::foreign_keys::{cascaded_keys, Cascade, CascadeHits};
use super::mapping::Mapping;
use super::table::{KeyTuple, Table};
use super::MigrateError;

/// Keys per statement: big enough to amortise a round trip, small enough that
/// one transaction stays short.
const BATCH_KEYS: usize = 500;

/// MariaDB's and MySQL's error for a lock not granted (`NOWAIT` or timeout).
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;

/// Applies changes for `keys`; returns the keys left for a later round
/// because a transaction still held their rows (module doc; always none
/// under a freeze). Outside a freeze each batch is one transaction; inside
/// one (`in_transaction` false) the statements autocommit, since the table
/// locks already keep everyone out.
pub async fn apply(
    conn: &mut Conn,
    m: &Mapping,
    shadow_key: &Table,
    keys: &[KeyTuple],
    high_water: &HighWater,
    ceiling: Option<&KeyTuple>,
    in_transaction: bool,
) -> Result<Vec<KeyTuple>, MigrateError> {
    let mut later = Vec::new();
    for batch in keys.chunks(BATCH_KEYS) {
        let refs = ready_keys(conn, &m.source, batch, in_transaction, &mut later).await?;
        if refs.is_empty() {
            continue;
        }
        let delete = format!(
            "DELETE FROM {} WHERE {}",
            m.shadow.qualified(),
            shadow_key.key_in(&refs)
        );
        // Which of the keys the shadow holds rows for: copied, or above the ceiling.
        let above_ceiling = ceiling.map(|c| m.source.key_after(c));
        let held = match (high_water, above_ceiling) {
            (HighWater::All, _) => Some(String::new()),
            (HighWater::Key(k), None) => Some(format!(" AND {}", m.source.key_at_most(k))),
            (HighWater::Key(k), Some(above)) => {
                Some(format!(" AND ({} OR {above})", m.source.key_at_most(k)))
            }
            (HighWater::Start, Some(above)) => Some(format!(" AND {above}")),
            (HighWater::Start, None) => None,
        };
        let insert = held.map(|held| {
            format!(
                "INSERT INTO {} ({}) SELECT {} FROM {} WHERE {}{held}",
                m.shadow.qualified(),
                m.insert_list,
                m.select_list,
                m.source.qualified(),
                m.source.key_in(&refs)
            )
        });
        let statements: Vec<&str> = std::iter::once(delete.as_str())
            .chain(insert.as_deref())
            .collect();
        run_batch(conn, &statements, in_transaction).await?;
    }
    Ok(later)
}

/// The keys of `batch` to apply now: outside a freeze (`in_transaction`)
/// those whose rows no transaction holds, the others pushed onto `later`;
/// under one, all of them.
pub(super) async fn ready_keys<'k>(
    conn: &mut Conn,
    source: &Table,
    batch: &'k [KeyTuple],
    in_transaction: bool,
    later: &mut Vec<KeyTuple>,
) -> Result<Vec<&'k KeyTuple>, MigrateError> {
    let refs: Vec<&KeyTuple> = batch.iter().collect();
    if !in_transaction {
        return Ok(refs);
    }
    let (free, locked) = committed_keys(conn, source, refs).await?;
    later.extend(locked.into_iter().cloned());
    Ok(free)
}

/// Splits `keys` into those whose rows no transaction holds (every change
/// to them is committed) and those whose rows one does, halving a batch
/// that met a lock until the locked keys stand alone.
async fn committed_keys<'k>(
    conn: &mut Conn,
    source: &Table,
    keys: Vec<&'k KeyTuple>,
) -> Result<(Vec<&'k KeyTuple>, Vec<&'k KeyTuple>), MigrateError> {
    let mut free = Vec::with_capacity(keys.len());
    let mut locked = Vec::new();
    let mut todo = vec![keys];
    while let Some(part) = todo.pop() {
        let probe = format!(
            "SELECT 1 FROM {} WHERE {} LOCK IN SHARE MODE NOWAIT",
            source.qualified(),
            source.key_in(&part)
        );
        match conn.query_drop(probe).await {
            Ok(()) => free.extend(part),
            Err(mysql_async::Error::Server(e)) if e.code == ER_LOCK_WAIT_TIMEOUT => {
                if part.len() == 1 {
                    locked.extend(part);
                } else {
                    let mut first = part;
                    let second = first.split_off(first.len() / 2);
                    todo.push(first);
                    todo.push(second);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((free, locked))
}

/// Runs one batch's statements, in one transaction when `in_transaction`
/// (rolled back on an error), else each on its own: under LOCK TABLES,
/// START TRANSACTION would release the locks.
pub(super) async fn run_batch(
    conn: &mut Conn,
    statements: &[&str],
    in_transaction: bool,
) -> Result<(), MigrateError> {
    if !in_transaction {
        for sql in statements {
            conn.query_drop(*sql).await?;
        }
        return Ok(());
    }
    conn.query_drop("START TRANSACTION").await?;
    let result = async {
        for sql in statements {
            conn.query_drop(*sql).await?;
        }
        conn.query_drop("COMMIT").await
    }
    .await;
    if let Err(e) = result {
        let _ = conn.query_drop("ROLLBACK").await;
        return Err(e.into());
    }
    Ok(())
}

/// `keys` and the keys of the shadow rows the parents' cascades in `hits`
/// changed (see `foreign_keys`), once each.
pub async fn with_cascaded(
    conn: &mut Conn,
    m: &Mapping,
    shadow_key: &Table,
    cascades: &[Cascade],
    mut keys: Vec<KeyTuple>,
    hits: &CascadeHits,
) -> Result<Vec<KeyTuple>, MigrateError> {
    if hits.is_empty() {
        return Ok(keys);
    }
    let cascaded = cascaded_keys(conn, &m.shadow.qualified(), shadow_key, cascades, hits).await?;
    let mut seen: std::collections::HashSet<KeyTuple> = keys.iter().cloned().collect();
    keys.extend(cascaded.into_iter().filter(|k| seen.insert(k.clone())));
    Ok(keys)
}
