//! Which client writes ran alongside a migration's copy chunk.
//!
//! The copy's pace slows down when writes through Tern get slower than they
//! were before the migration. Under a heavy write load something other than
//! the chunks may be what slowed them: the change capture applying every
//! write to the shadow table too, or the server on its own (a page flush, a
//! writeback burst). Slowing the copy cannot help with those; it only makes
//! the migration, and the time the application lives with its change
//! capture, longer (measured: a copy held at its floor for minutes by a p99
//! the capture alone kept at the limit). So writes are also counted apart:
//! those that overlapped a chunk, and the rest. The pace blames the copy for
//! a slow signal only when the writes alongside chunks are the slow ones.
//!
//! Invariants:
//! - Recording sits on the statement path: two relaxed loads while no chunk
//!   has run since start, plus one clock read once one has.
//! - A write overlapped a chunk when one was running as the write ended, or
//!   the last one ended after the write started (less [`TRAIL`] before it:
//!   a chunk's commit reaches other writers just after it returns).
//! - Chunks mark themselves with a guard, so a chunk that fails or is
//!   cancelled still ends.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::latency::LatencyBuckets;

/// How long after a chunk a write that started before its end still counts
/// as alongside it.
pub const TRAIL: Duration = Duration::from_millis(10);

/// Copy chunks running now and when the last one ended, and the latency of
/// the client writes that ran alongside them.
pub struct NearCopy {
    epoch: Instant,
    running: AtomicU32,
    /// Microseconds after `epoch` the last chunk ended; 0: none has.
    last_end_us: AtomicU64,
    /// Client writes that overlapped a chunk (a subset of all writes).
    pub writes: LatencyBuckets,
}

impl Default for NearCopy {
    fn default() -> Self {
        NearCopy {
            epoch: Instant::now(),
            running: AtomicU32::new(0),
            last_end_us: AtomicU64::new(0),
            writes: LatencyBuckets::new(),
        }
    }
}

/// Marks one chunk as running until dropped.
pub struct ChunkMark<'a>(&'a NearCopy);

impl Drop for ChunkMark<'_> {
    fn drop(&mut self) {
        // The end first: a writer that sees no chunk running then sees it.
        let now = self.0.micros_now().max(1);
        self.0.last_end_us.fetch_max(now, Ordering::SeqCst);
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NearCopy {
    fn micros_now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// A copy chunk starts; it ends when the mark is dropped.
    pub fn chunk(&self) -> ChunkMark<'_> {
        self.running.fetch_add(1, Ordering::SeqCst);
        ChunkMark(self)
    }

    /// Whether a write that just ended after `took` overlapped a chunk.
    #[inline]
    pub fn overlapped(&self, took: Duration) -> bool {
        if self.running.load(Ordering::Relaxed) > 0 {
            return true;
        }
        let last_end = self.last_end_us.load(Ordering::Relaxed);
        if last_end == 0 {
            return false;
        }
        let started = self
            .micros_now()
            .saturating_sub(took.as_micros() as u64 + TRAIL.as_micros() as u64);
        last_end >= started
    }

    /// Counts a client write that just ended after `took` if it overlapped a chunk.
    #[inline]
    pub fn observe_write(&self, took: Duration) {
        if self.overlapped(took) {
            self.writes.observe(took);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_count_only_alongside_a_chunk() {
        let near = NearCopy::default();
        near.observe_write(Duration::from_millis(5));
        assert_eq!(near.writes.snapshot().count(), 0, "no chunk has run");
        {
            let _chunk = near.chunk();
            near.observe_write(Duration::from_millis(1));
        }
        assert_eq!(near.writes.snapshot().count(), 1, "during a chunk");
        // Started before the chunk ended: alongside it.
        near.observe_write(Duration::from_secs(1));
        assert_eq!(near.writes.snapshot().count(), 2);
        std::thread::sleep(TRAIL * 3);
        near.observe_write(Duration::from_millis(1));
        assert_eq!(
            near.writes.snapshot().count(),
            2,
            "a write that started after the chunk ended is not the chunk's"
        );
    }

    #[test]
    fn a_chunk_that_ends_by_unwinding_is_still_ended() {
        let near = NearCopy::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _chunk = near.chunk();
            panic!("chunk failed");
        }));
        assert!(result.is_err());
        assert_eq!(near.running.load(Ordering::SeqCst), 0);
        std::thread::sleep(TRAIL * 3);
        assert!(!near.overlapped(Duration::from_millis(1)));
    }
}
