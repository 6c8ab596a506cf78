//! The redo room: how many rows the next chunk may copy before its redo
//! pushes InnoDB's checkpoint age past the pace's limit.
//!
//! When the checkpoint age reaches InnoDB's maximum, every writer waits for
//! the page cleaner (measured in the gentle benchmark: seven writers keep
//! the default 96 MiB redo log 60-93 % full by themselves, and a single
//! chunk of 4,000-10,000 rows, 1-3 MB of redo, took it to 98-99.6 % and
//! stalled every client 80-250 ms). The pace halves the copy's share of the
//! time after such a look, which is after the stall. The room is judged
//! before each chunk instead, from the status read the throttle makes
//! just before it.
//!
//! Invariants:
//! - A chunk is sized so that the checkpoint age it finds plus the redo it
//!   is expected to write stays within the limit: never more rows than the
//!   room holds at the redo per row last measured.
//! - With no room (the age already at the limit, or room for fewer than
//!   [`MIN_ROOM_ROWS`]) the chunk waits: the copier applies captured changes
//!   and looks again shortly. The page cleaner makes room as it flushes.
//! - A wait never lasts longer than [`MAX_HOLD`] in a row: then one chunk of
//!   [`MIN_ROOM_ROWS`] runs anyway, so a workload that keeps the age above
//!   the limit by itself slows the copy to a crawl but never stops it (the
//!   change capture's backlog stays bounded, and the copy ends).
//! - The redo per row is measured on every chunk (LSN before and after, so
//!   it includes the clients' redo written meanwhile: an overestimate, on the
//!   safe side) and follows the larger of the last measurement and a decayed
//!   earlier one, so one quiet chunk does not let the next one run too big.
//! - Servers that do not report the checkpoint age or the LSN (MySQL) are
//!   never held: the room is unknown, not zero.

use std::time::{Duration, Instant};

use super::pace::ServerPressure;

/// Fewer rows than this are not worth a chunk: wait for room instead.
pub const MIN_ROOM_ROWS: u64 = 100;
/// How long a chunk waits for room before one of [`MIN_ROOM_ROWS`] runs anyway.
pub const MAX_HOLD: Duration = Duration::from_secs(2);
/// How often a waiting chunk looks at the checkpoint age again.
pub const HOLD_STEP: Duration = Duration::from_millis(25);
/// How much of the earlier redo-per-row estimate survives each measurement.
const DECAY: f64 = 0.8;

/// What the room allows the next chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The age is not known, or the room is larger than any chunk: no cap.
    Open,
    /// At most this many rows.
    Rows(u64),
    /// No room: wait and look again.
    Full,
}

#[derive(Debug, Default)]
pub struct RedoRoom {
    bytes_per_row: Option<f64>,
    held_since: Option<Instant>,
}

impl RedoRoom {
    /// The room for the next chunk, given the checkpoint age just read and
    /// the limit in percent of the maximum age.
    pub fn room(&mut self, pressure: Option<&ServerPressure>, limit_pct: f64) -> Room {
        let Some(p) = pressure.filter(|p| p.checkpoint_max_age > 0 && limit_pct > 0.0) else {
            self.held_since = None;
            return Room::Open;
        };
        let limit = p.checkpoint_max_age as f64 * limit_pct / 100.0;
        let free = (limit - p.checkpoint_age as f64).max(0.0);
        let rows = match self.bytes_per_row {
            Some(b) if b > 0.0 => (free / b) as u64,
            // Nothing measured yet: only a full log holds the first chunk.
            _ if free > 0.0 => return self.release(Room::Open),
            _ => 0,
        };
        if rows >= MIN_ROOM_ROWS {
            return self.release(Room::Rows(rows));
        }
        let since = *self.held_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= MAX_HOLD {
            return self.release(Room::Rows(MIN_ROOM_ROWS));
        }
        Room::Full
    }

    fn release(&mut self, room: Room) -> Room {
        self.held_since = None;
        room
    }

    /// Since when the next chunk waits for room, if it does.
    pub fn held_since(&self) -> Option<Instant> {
        self.held_since
    }

    /// Learns from a chunk that copied `rows` while the LSN went from
    /// `before` to `after`.
    pub fn measured(&mut self, before: u64, after: u64, rows: u64) {
        if rows == 0 || after <= before {
            return;
        }
        let now = (after - before) as f64 / rows as f64;
        self.bytes_per_row = Some(match self.bytes_per_row {
            Some(earlier) => now.max(earlier * DECAY),
            None => now,
        });
    }

    pub fn bytes_per_row(&self) -> Option<f64> {
        self.bytes_per_row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(age: u64) -> ServerPressure {
        ServerPressure {
            checkpoint_age: age,
            checkpoint_max_age: 1_000_000,
            ..ServerPressure::default()
        }
    }

    #[test]
    fn a_chunk_takes_only_the_rows_the_room_holds() {
        let mut room = RedoRoom::default();
        assert_eq!(room.room(Some(&at(500_000)), 95.0), Room::Open);
        room.measured(1_000, 301_000, 1_000);
        // 950,000 - 500,000 bytes of room at 300 bytes a row.
        assert_eq!(room.room(Some(&at(500_000)), 95.0), Room::Rows(1_500));
        assert_eq!(room.room(None, 95.0), Room::Open);
    }

    #[test]
    fn a_full_log_holds_the_chunk_for_a_bounded_time() {
        let mut room = RedoRoom::default();
        room.measured(0, 300_000, 1_000);
        assert_eq!(room.room(Some(&at(949_000)), 95.0), Room::Full);
        assert!(room.held_since().is_some());
        room.held_since = Some(Instant::now() - MAX_HOLD);
        assert_eq!(
            room.room(Some(&at(990_000)), 95.0),
            Room::Rows(MIN_ROOM_ROWS)
        );
        assert!(room.held_since().is_none());
        assert_eq!(room.room(Some(&at(990_000)), 95.0), Room::Full);
        assert_eq!(room.room(Some(&at(100_000)), 95.0), Room::Rows(2_833));
        assert!(room.held_since().is_none());
    }

    #[test]
    fn one_quiet_chunk_does_not_make_the_next_one_big() {
        let mut room = RedoRoom::default();
        room.measured(0, 600_000, 1_000);
        room.measured(0, 100_000, 1_000);
        assert_eq!(room.bytes_per_row(), Some(480.0));
        room.measured(0, 900_000, 1_000);
        assert_eq!(room.bytes_per_row(), Some(900.0));
        room.measured(10, 10, 1_000);
        room.measured(0, 10, 0);
        assert_eq!(room.bytes_per_row(), Some(900.0));
    }
}
