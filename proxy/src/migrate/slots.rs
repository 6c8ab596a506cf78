//! Copy slots: how many migrations copy rows at the same time
//! (`--migration-max-concurrent`).
//!
//! Invariants:
//! - Only the copy phase holds a slot; verify, postponement and cut-over take
//!   none, so a migration waiting for a slot never blocks one that is about to
//!   finish. A paused copy gives its slot back.
//! - A slot is held by a [`CopySlot`] guard: whatever way the copy ends (done,
//!   error, cancel, shutdown, a panic) the slot is freed and the waiters are
//!   woken at once.
//! - Waiters are served in migration id order (the order the ALTERs were
//!   started in), so a later migration never overtakes an earlier one.
//! - The limit is read at every attempt, so a SIGHUP that raises it lets
//!   waiting copies start at their next look, and one that lowers it lets the
//!   running copies finish (nobody is stopped mid-copy).

use std::collections::BTreeSet;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub struct CopySlots {
    state: Mutex<SlotState>,
    /// Woken whenever a slot is freed.
    pub(super) freed: Notify,
}

#[derive(Default)]
struct SlotState {
    holders: BTreeSet<u64>,
    waiting: BTreeSet<u64>,
}

/// Migration `id`'s claim on a slot, held for its copy phase: it holds a
/// slot or waits for one. Dropping it frees the slot and leaves the line.
pub struct SlotClaim<'a> {
    slots: &'a CopySlots,
    id: u64,
    held: bool,
}

impl Drop for SlotClaim<'_> {
    fn drop(&mut self) {
        self.slots.leave(self.id);
    }
}

impl SlotClaim<'_> {
    /// Whether the claim holds a slot now.
    pub fn held(&self) -> bool {
        self.held
    }

    /// Takes a slot when one is free under `max` (0: no limit) and no
    /// earlier migration waits for it; otherwise stays in line and says who
    /// holds the slots, for the progress line.
    pub fn take(&mut self, max: usize) -> Result<(), String> {
        if self.held {
            return Ok(());
        }
        let mut s = self.slots.state.lock().unwrap_or_else(|e| e.into_inner());
        let free = if max == 0 {
            usize::MAX
        } else {
            max.saturating_sub(s.holders.len())
        };
        let earlier = s.waiting.range(..self.id).count();
        if earlier < free {
            s.waiting.remove(&self.id);
            s.holders.insert(self.id);
            self.held = true;
            return Ok(());
        }
        s.waiting.insert(self.id);
        let by: Vec<String> = s.holders.iter().map(u64::to_string).collect();
        let who = match by.len() {
            0 => "earlier migrations are first in line".to_string(),
            1 => format!("by migration {}", by[0]),
            _ => format!("by migrations {}", by.join(", ")),
        };
        Err(format!(
            "waiting for a copy slot ({} of {max} in use, {who})",
            s.holders.len()
        ))
    }

    /// Gives the slot back (a pause), without leaving the line for good.
    pub fn give_back(&mut self) {
        if std::mem::take(&mut self.held) {
            self.slots.leave(self.id);
        }
    }
}

impl CopySlots {
    /// A claim for migration `id`, holding nothing yet.
    pub fn claim(&self, id: u64) -> SlotClaim<'_> {
        SlotClaim {
            slots: self,
            id,
            held: false,
        }
    }

    fn leave(&self, id: u64) {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.holders.remove(&id);
            s.waiting.remove(&id);
        }
        self.freed.notify_waiters();
    }

    /// How many slots are in use.
    pub fn in_use(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .holders
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_is_handed_on_in_id_order() {
        let slots = CopySlots::default();
        let mut a = slots.claim(7);
        let mut b = slots.claim(8);
        let mut c = slots.claim(9);
        assert!(a.take(1).is_ok());
        assert_eq!(
            c.take(1),
            Err("waiting for a copy slot (1 of 1 in use, by migration 7)".into())
        );
        assert!(b.take(1).is_err());
        drop(a);
        // 8 was started before 9: 9 does not overtake it.
        assert!(c.take(1).is_err());
        assert!(b.take(1).is_ok());
        assert_eq!(slots.in_use(), 1);
        drop(b);
        assert!(c.take(1).is_ok());
        assert!(c.held());
        drop(c);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn no_limit_and_raised_limit() {
        let slots = CopySlots::default();
        let (mut a, mut b, mut c) = (slots.claim(1), slots.claim(2), slots.claim(3));
        assert!(a.take(0).is_ok());
        assert!(b.take(0).is_ok());
        assert_eq!(
            c.take(2),
            Err("waiting for a copy slot (2 of 2 in use, by migrations 1, 2)".into())
        );
        assert!(c.take(3).is_ok(), "a raised limit lets the waiter in");
        assert_eq!(slots.in_use(), 3);
    }

    #[test]
    fn a_waiter_that_ends_or_pauses_does_not_block_the_next() {
        let slots = CopySlots::default();
        let mut a = slots.claim(1);
        let mut b = slots.claim(2);
        let mut c = slots.claim(3);
        assert!(a.take(1).is_ok());
        assert!(b.take(1).is_err());
        assert!(c.take(1).is_err());
        a.give_back();
        assert!(!a.held());
        drop(b);
        assert!(c.take(1).is_ok());
        assert!(a.take(1).is_err(), "a paused copy queues again");
    }
}
