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
//! - A single integer key is chunked by value (`id > lo AND id <= lo + step`),
//!   with the step following the key's density: no index scan to find where a
//!   chunk ends. The copy ends at the largest key it saw when it started (its
//!   `ceiling`); rows inserted above it later are the applier's, which brings
//!   every key above the ceiling up to date like a key already copied. A copy
//!   that chased the table's growth instead would never end while inserts
//!   outran it (a copy slowed to yield to the clients, seen in the gentle
//!   benchmark).
//! - Each chunk's warnings are counted, and the first `max_error_count` of
//!   them kept with their row number counted from the start of the copy, as
//!   the server's own ALTER numbers them: what the waiting client is told.
//!   Only the copier's chunks count: rows the applier or a checksum round
//!   writes again are rows already counted.
//! - A chunk capped from outside (`cap_next`, the redo room) copies at most
//!   the cap and leaves the timed size alone: a small chunk's quick time
//!   says nothing about a full one.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::mapping::Mapping;
use super::table::KeyTuple;
use super::{AlterReport, Condition, MigrateError, DEFAULT_MAX_ERROR_COUNT};

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
    /// Value-range chunking of a single integer key, once its bounds are read.
    span: Option<IntegerSpan>,
    warnings: WarningLog,
    /// The next chunk's cap, if the runner set one.
    cap: Option<u64>,
}

impl Copier {
    /// The largest key the copy goes up to, once known: keys above it are
    /// the applier's (module doc).
    pub fn ceiling(&self) -> Option<KeyTuple> {
        self.span.map(|s| vec![s.max.to_string()])
    }
}

/// The copy's warnings: all counted, the first `keep` kept.
#[derive(Debug, Default)]
struct WarningLog {
    total: u64,
    kept: Vec<Condition>,
    keep: usize,
}

impl WarningLog {
    /// Reads the warnings of the chunk that just ran on `conn` (it reported
    /// `reported` in its OK) whose first row was row `rows_before + 1` of the copy.
    async fn collect(
        &mut self,
        conn: &mut Conn,
        reported: u16,
        rows_before: u64,
    ) -> Result<(), MigrateError> {
        let room = self.keep.saturating_sub(self.kept.len());
        if room > 0 {
            let rows: Vec<(Vec<u8>, u16, Vec<u8>)> =
                conn.query(format!("SHOW WARNINGS LIMIT {room}")).await?;
            self.kept
                .extend(rows.into_iter().map(|(level, code, message)| Condition {
                    level: String::from_utf8_lossy(&level).into_owned(),
                    code,
                    message: renumber_row(&String::from_utf8_lossy(&message), rows_before),
                }));
        }
        // The OK's count stops at 65535; the session variable does not.
        let total = if reported == u16::MAX {
            let n: Option<u64> = conn.query_first("SELECT @@warning_count").await?;
            n.unwrap_or(u64::from(reported))
        } else {
            u64::from(reported)
        };
        self.total += total;
        Ok(())
    }
}

/// A chunk numbers its rows from 1 (`... at row 3`); the server's ALTER counts
/// from the table's first row.
fn renumber_row(message: &str, rows_before: u64) -> String {
    const AT_ROW: &str = " at row ";
    if let Some(at) = message.rfind(AT_ROW) {
        let digits = &message[at + AT_ROW.len()..];
        if let Ok(n) = digits.parse::<u64>() {
            return format!("{}{AT_ROW}{}", &message[..at], n + rows_before);
        }
    }
    message.to_string()
}

#[derive(Debug, Clone, Copy)]
struct IntegerSpan {
    min: i128,
    max: i128,
    step: i128,
}

impl Copier {
    pub fn new(high_water: HighWater, rows_copied: u64, target: Duration) -> Copier {
        Copier {
            high_water,
            chunk_rows: FIRST_CHUNK_ROWS,
            rows_copied,
            target,
            span: None,
            warnings: WarningLog {
                keep: DEFAULT_MAX_ERROR_COUNT as usize,
                ..WarningLog::default()
            },
            cap: None,
        }
    }

    /// How many warnings to keep: the client's max_error_count.
    pub fn keep_warnings(&mut self, n: u64) {
        self.warnings.keep = usize::try_from(n).unwrap_or(usize::MAX);
    }

    /// What the server's own ALTER would answer for this copy: the rows it
    /// copied when it copies (`native_copies`), none when it works in place.
    pub fn report(&self, native_copies: bool) -> AlterReport {
        AlterReport {
            records: if native_copies { self.rows_copied } else { 0 },
            warnings: self.warnings.total,
            conditions: self.warnings.kept.clone(),
        }
    }

    pub fn set_target(&mut self, target: Duration) {
        self.target = target;
    }

    pub fn done(&self) -> bool {
        self.high_water == HighWater::All
    }

    /// At most `rows` rows in the next chunk only (`None`: as timed).
    pub fn cap_next(&mut self, rows: Option<u64>) {
        self.cap = rows.map(|r| r.max(1));
    }

    /// The rows the next chunk asks for, and whether a cap cut them.
    fn rows_now(&mut self) -> (u64, bool) {
        match self.cap.take() {
            Some(cap) if cap < self.chunk_rows => (cap, true),
            _ => (self.chunk_rows, false),
        }
    }

    /// Copies the next chunk; returns the rows it copied.
    pub async fn copy_chunk(&mut self, conn: &mut Conn, m: &Mapping) -> Result<u64, MigrateError> {
        let integer_key = m.source.key.len() == 1
            && m.source
                .key_columns()
                .all(|c| c.class == super::table::ColumnClass::Integer);
        if integer_key {
            return self.copy_integer_chunk(conn, m).await;
        }
        self.copy_scanned_chunk(conn, m).await
    }

    async fn key_bounds(
        conn: &mut Conn,
        m: &Mapping,
    ) -> Result<Option<(i128, i128)>, MigrateError> {
        let key = m.source.key_list();
        let row: Option<(Option<String>, Option<String>)> = conn
            .first_as(format!(
                "SELECT MIN({key}), MAX({key}) FROM {}",
                m.source.qualified()
            ))
            .await?;
        Ok(match row {
            Some((Some(lo), Some(hi))) => lo.parse().ok().zip(hi.parse().ok()),
            _ => None,
        })
    }

    async fn copy_integer_chunk(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
    ) -> Result<u64, MigrateError> {
        let lower = match &self.high_water {
            HighWater::All => return Ok(0),
            HighWater::Start => None,
            HighWater::Key(k) => Some(k[0].parse::<i128>().map_err(|_| {
                MigrateError::Internal(format!("high-water key {k:?} is not an integer"))
            })?),
        };
        if self.span.is_none() {
            self.span = Self::key_bounds(conn, m)
                .await?
                .map(|(min, max)| IntegerSpan {
                    min,
                    max,
                    step: self.chunk_rows as i128,
                });
        }
        let (rows_now, capped) = self.rows_now();
        let Some(mut span) = self.span else {
            // Empty table: one chunk takes whatever arrived since.
            return self
                .run_chunk(
                    conn,
                    m,
                    lower.map(|l| vec![l.to_string()]),
                    None,
                    None,
                    true,
                )
                .await;
        };
        let lo = lower.unwrap_or(span.min - 1);
        if lo >= span.max {
            // At the ceiling: what lies above is the applier's.
            self.high_water = HighWater::All;
            return Ok(0);
        }
        let before = self.chunk_rows;
        let step_now = if capped {
            (span.step.saturating_mul(rows_now as i128) / before.max(1) as i128).max(1)
        } else {
            span.step
        };
        let upper = (lo + step_now).min(span.max);
        // However sparse the keys looked, a chunk takes at most twice the rows
        // asked for: a range sized on a sparse stretch can end in a dense run
        // (seen: one chunk of 500,000 rows, and a cut-over that then caught
        // up for 200 ms). A capped chunk takes at most its cap.
        let limit = if capped {
            rows_now
        } else {
            before.saturating_mul(2).max(MIN_CHUNK_ROWS)
        };
        let copied = self
            .run_chunk(
                conn,
                m,
                Some(vec![lo.to_string()]),
                Some(vec![upper.to_string()]),
                Some(limit),
                !capped,
            )
            .await?;
        let mut step = upper - lo;
        if copied >= limit {
            // Cut short: the copy reached the last key it wrote.
            let last = Self::last_copied(conn, m, lo, upper).await?;
            self.high_water = HighWater::Key(vec![last.to_string()]);
            step = (last - lo).max(1);
        }
        // Next step: the rows the timing asks for, at the density just seen.
        let wanted = self.chunk_rows.max(1) as f64;
        span.step = if copied == 0 {
            step.saturating_mul(2)
        } else {
            ((wanted * step as f64 / copied as f64) as i128).max(1)
        }
        .clamp(
            1,
            (before.max(self.chunk_rows) as i128).saturating_mul(1024),
        );
        self.span = Some(span);
        Ok(copied)
    }

    /// The largest key the shadow holds in `(lo, upper]`: where a chunk cut
    /// short by its row limit stopped (nothing else writes there).
    async fn last_copied(
        conn: &mut Conn,
        m: &Mapping,
        lo: i128,
        upper: i128,
    ) -> Result<i128, MigrateError> {
        let key = m
            .source
            .key_columns()
            .next()
            .and_then(|k| m.pairs.iter().find(|p| p.source.name == k.name))
            .map(|p| crate::sql::quote_ident(&p.target.name))
            .ok_or_else(|| MigrateError::Internal("the shadow lost the key column".into()))?;
        let last: Option<Option<String>> = conn
            .first_as(format!(
                "SELECT MAX({key}) FROM {} WHERE {key} > {lo} AND {key} <= {upper}",
                m.shadow.qualified()
            ))
            .await?;
        last.flatten()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| MigrateError::Internal("a cut-short chunk left no key".into()))
    }

    /// Chunk ends found by scanning the key index (`LIMIT 1 OFFSET n`): any key type.
    async fn copy_scanned_chunk(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
    ) -> Result<u64, MigrateError> {
        if self.high_water == HighWater::All {
            return Ok(0);
        }
        let (rows_now, capped) = self.rows_now();
        let upper = m
            .source
            .key_rows_after(conn, self.high_water.key(), rows_now)
            .await?;
        let lower = self.high_water.key().cloned();
        self.run_chunk(conn, m, lower, upper, None, !capped).await
    }

    /// Copies `(lower, upper]` (open where `None`) and moves the high-water
    /// mark to `upper`; `tune`: let its time move the chunk size.
    async fn run_chunk(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
        lower: Option<KeyTuple>,
        upper: Option<KeyTuple>,
        limit: Option<u64>,
        tune: bool,
    ) -> Result<u64, MigrateError> {
        let source = &m.source;
        let mut conditions: Vec<String> = lower.iter().map(|l| source.key_after(l)).collect();
        if let Some(u) = &upper {
            conditions.push(source.key_at_most(u));
        }
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} {} {}{}",
            m.shadow.qualified(),
            m.insert_list,
            m.select_list,
            source.qualified(),
            source.force_key(),
            if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            },
            limit.map_or_else(String::new, |n| format!(
                " ORDER BY {} LIMIT {n}",
                source.key_list()
            ))
        );
        let started = Instant::now();
        conn.query_drop(sql).await?;
        let copied = conn.affected_rows();
        let took = started.elapsed();
        let warnings = conn.get_warnings();
        if warnings > 0 {
            self.warnings
                .collect(conn, warnings, self.rows_copied)
                .await?;
        }
        tracing::trace!(
            ?lower,
            ?upper,
            copied,
            warnings,
            took_ms = took.as_millis() as u64,
            "chunk"
        );
        if tune {
            self.tune(took, copied);
        }
        self.rows_copied += copied;
        self.high_water = match upper {
            Some(u) => HighWater::Key(u),
            None => HighWater::All,
        };
        Ok(copied)
    }

    /// Moves the chunk size towards the target time, at most doubling or
    /// halving. A chunk that copied under half its rows grows nothing: its
    /// quick time says nothing about a full one (a run of empty ranges once
    /// grew the size to its maximum just before a dense run of keys).
    fn tune(&mut self, took: Duration, copied: u64) {
        let took = took.as_secs_f64().max(0.000_1);
        let mut ratio = (self.target.as_secs_f64() / took).clamp(0.5, 2.0);
        if copied < self.chunk_rows / 2 {
            ratio = ratio.min(1.0);
        }
        self.chunk_rows =
            ((self.chunk_rows as f64 * ratio) as u64).clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_rows_count_from_the_copy_start() {
        assert_eq!(
            renumber_row("Data truncated for column 'c' at row 3", 1000),
            "Data truncated for column 'c' at row 1003"
        );
        assert_eq!(
            renumber_row("Column 'd' cannot be null", 10),
            "Column 'd' cannot be null"
        );
        assert_eq!(renumber_row("at row x", 10), "at row x");
    }

    #[test]
    fn chunk_size_follows_the_target_time() {
        let mut c = Copier::new(HighWater::Start, 0, Duration::from_millis(100));
        let full = |c: &Copier| c.chunk_rows;
        c.tune(Duration::from_millis(10), full(&c));
        assert_eq!(c.chunk_rows, 2_000);
        c.tune(Duration::from_millis(400), full(&c));
        assert_eq!(c.chunk_rows, 1_000);
        for _ in 0..30 {
            c.tune(Duration::from_secs(5), full(&c));
        }
        assert_eq!(c.chunk_rows, MIN_CHUNK_ROWS);
        for _ in 0..30 {
            c.tune(Duration::from_micros(1), full(&c));
        }
        assert_eq!(c.chunk_rows, MAX_CHUNK_ROWS);
    }

    #[test]
    fn quick_sparse_chunks_do_not_grow_the_size() {
        let mut c = Copier::new(HighWater::Start, 0, Duration::from_millis(100));
        for _ in 0..10 {
            c.tune(Duration::from_micros(100), 0);
        }
        assert_eq!(c.chunk_rows, FIRST_CHUNK_ROWS);
        c.tune(Duration::from_secs(1), 0);
        assert_eq!(c.chunk_rows, FIRST_CHUNK_ROWS / 2);
    }
}
