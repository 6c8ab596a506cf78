//! The write gate: while a table is being frozen (verify snapshot, cut-over),
//! new write statements on it wait inside Tern instead of queueing in the
//! database.
//!
//! Invariants:
//! - The gate is an optimisation for the clients, not the safety net: the
//!   table lock in the database is. A statement that slips past the gate (a
//!   session already inside a transaction, a stored procedure, another proxy)
//!   waits on that lock and lands in whichever table holds the name after it.
//! - A closed gate always opens: the guard opens it when dropped, and a session
//!   never waits longer than its own bound, after which it goes on to the
//!   database (and its lock).
//! - Checking an idle gate costs one atomic load: the hot path pays nothing
//!   while no migration is freezing a table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

type TableKey = (String, String);

#[derive(Default)]
pub struct WriteGate {
    closed: Mutex<HashMap<TableKey, watch::Receiver<bool>>>,
    closed_count: AtomicUsize,
    /// Statements held, and their total wait, for metrics and the status page.
    held_statements: AtomicUsize,
}

/// Keeps a table's gate closed while alive.
pub struct GateGuard {
    gate: Arc<WriteGate>,
    key: TableKey,
    open: watch::Sender<bool>,
    pub closed_at: Instant,
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        let _ = self.open.send(true);
        let mut closed = self.gate.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.remove(&self.key);
        self.gate
            .closed_count
            .store(closed.len(), Ordering::Release);
    }
}

impl WriteGate {
    pub fn close(self: &Arc<Self>, schema: &str, table: &str) -> GateGuard {
        let (tx, rx) = watch::channel(false);
        let key = (schema.to_string(), table.to_string());
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.insert(key.clone(), rx);
        self.closed_count.store(closed.len(), Ordering::Release);
        GateGuard {
            gate: self.clone(),
            key,
            open: tx,
            closed_at: Instant::now(),
        }
    }

    /// True when no table is gated: the common case, one atomic load.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.closed_count.load(Ordering::Acquire) == 0
    }

    fn closed_on(&self, schema: &str, table: &str) -> Option<watch::Receiver<bool>> {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed
            .get(&(schema.to_string(), table.to_string()))
            .cloned()
    }

    /// Waits while `schema.table` is gated, at most `bound`. Returns how long it waited.
    pub async fn pass(&self, schema: &str, table: &str, bound: Duration) -> Option<Duration> {
        let mut rx = self.closed_on(schema, table)?;
        let started = Instant::now();
        self.held_statements.fetch_add(1, Ordering::Relaxed);
        let _ = tokio::time::timeout(bound, rx.wait_for(|open| *open)).await;
        Some(started.elapsed())
    }

    pub fn held_statements(&self) -> usize {
        self.held_statements.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_write_goes_on_when_the_guard_drops() {
        let gate = Arc::new(WriteGate::default());
        assert!(gate.is_idle());
        let guard = gate.close("app", "t");
        assert!(!gate.is_idle());
        assert!(gate
            .pass("app", "u", Duration::from_secs(5))
            .await
            .is_none());
        let g2 = gate.clone();
        let waiter = tokio::spawn(async move { g2.pass("app", "t", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished());
        drop(guard);
        let waited = waiter.await.unwrap().unwrap();
        assert!(waited >= Duration::from_millis(20));
        assert!(gate.is_idle());
    }

    #[tokio::test]
    async fn a_held_write_never_waits_past_its_bound() {
        let gate = Arc::new(WriteGate::default());
        let _guard = gate.close("app", "t");
        let waited = gate
            .pass("app", "t", Duration::from_millis(20))
            .await
            .unwrap();
        assert!(waited < Duration::from_secs(2));
    }
}
