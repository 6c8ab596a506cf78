//! The copier: fills the shadow table from the original in key-ordered chunks,
//! each one server-side `INSERT ... SELECT`.
//!
//! Invariants:
//! - Chunks run on a READ COMMITTED connection, so the SELECT half is a
//!   consistent read that takes no locks on the original: client writes never
//!   wait for the copier.
//! - `high_water` is the largest key of the last committed chunk. Rows above it
//!   are not in the shadow yet, so changes to them need not be applied: the
//!   copier will read their current state when it gets there.
//! - No IGNORE: a row that breaks a new unique key fails the chunk with the
//!   server's own duplicate-key error, as the native ALTER would. Nothing else
//!   writes above `high_water`, so a chunk never meets a row already copied.
//! - The chunk size follows the measured time per chunk towards a target, so
//!   one chunk never holds the shadow's rows (or the replica) for long.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::mapping::Mapping;
use super::table::KeyTuple;
use super::MigrateError;

/// Bounds on the chunk size, whatever the timing says.
const MIN_CHUNK_ROWS: u64 = 100;
const MAX_CHUNK_ROWS: u64 = 200_000;
/// The first chunk's size, before any timing is known.
const FIRST_CHUNK_ROWS: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HighWater {
    /// Nothing copied yet.
    Start,
    /// Everything up to and including this key is copied.
    Key(KeyTuple),
    /// The copy is complete.
    All,
}

impl HighWater {
    pub fn key(&self) -> Option<&KeyTuple> {
        match self {
            HighWater::Key(k) => Some(k),
            _ => None,
        }
    }
}

pub struct Copier {
    pub high_water: HighWater,
    pub chunk_rows: u64,
    pub rows_copied: u64,
    target: Duration,
}

impl Copier {
    pub fn new(high_water: HighWater, rows_copied: u64, target: Duration) -> Copier {
        Copier {
            high_water,
            chunk_rows: FIRST_CHUNK_ROWS,
            rows_copied,
            target,
        }
    }

    pub fn done(&self) -> bool {
        self.high_water == HighWater::All
    }

    /// Copies the next chunk; returns the rows it copied.
    pub async fn copy_chunk(&mut self, conn: &mut Conn, m: &Mapping) -> Result<u64, MigrateError> {
        let source = &m.source;
        let lower = match &self.high_water {
            HighWater::All => return Ok(0),
            HighWater::Start => None,
            HighWater::Key(k) => Some(source.key_after(k)),
        };
        let keys = source.key_list();
        let upper_sql = format!(
            "SELECT {keys} FROM {} {} {} ORDER BY {keys} LIMIT 1 OFFSET {}",
            source.qualified(),
            source.force_key(),
            lower
                .as_ref()
                .map(|c| format!("WHERE {c}"))
                .unwrap_or_default(),
            self.chunk_rows - 1
        );
        let upper_row: Option<mysql_async::Row> = conn.query_first(upper_sql).await?;
        let upper = match upper_row {
            Some(row) => Some(source.key_from_row(&row).ok_or_else(|| {
                MigrateError::Internal("a key value of the original table cannot be read".into())
            })?),
            None => None,
        };
        let mut conditions: Vec<String> = lower.into_iter().collect();
        if let Some(u) = &upper {
            conditions.push(source.key_at_most(u));
        }
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} {} {}",
            m.shadow.qualified(),
            m.insert_list,
            m.select_list,
            source.qualified(),
            source.force_key(),
            if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            }
        );
        let started = Instant::now();
        conn.query_drop(sql).await?;
        let copied = conn.affected_rows();
        self.tune(started.elapsed());
        self.rows_copied += copied;
        self.high_water = match upper {
            Some(u) => HighWater::Key(u),
            None => HighWater::All,
        };
        Ok(copied)
    }

    /// Moves the chunk size towards the target time, at most doubling or halving.
    fn tune(&mut self, took: Duration) {
        let took = took.as_secs_f64().max(0.000_1);
        let ratio = (self.target.as_secs_f64() / took).clamp(0.5, 2.0);
        self.chunk_rows =
            ((self.chunk_rows as f64 * ratio) as u64).clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_follows_the_target_time() {
        let mut c = Copier::new(HighWater::Start, 0, Duration::from_millis(100));
        c.tune(Duration::from_millis(10));
        assert_eq!(c.chunk_rows, 2_000);
        c.tune(Duration::from_millis(400));
        assert_eq!(c.chunk_rows, 1_000);
        for _ in 0..30 {
            c.tune(Duration::from_secs(5));
        }
        assert_eq!(c.chunk_rows, MIN_CHUNK_ROWS);
        for _ in 0..30 {
            c.tune(Duration::from_micros(1));
        }
        assert_eq!(c.chunk_rows, MAX_CHUNK_ROWS);
    }
}
