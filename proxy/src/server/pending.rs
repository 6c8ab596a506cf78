//! Connections that have not logged in yet.
//!
//! They are kept apart from logged-in sessions: a flood of sockets that never
//! send a handshake must not take the slots of `--max-connections` and lock
//! real clients out until the handshake timeout. Pending logins have their own
//! bound (`--max-pending-logins`); when it is reached, the oldest pending login
//! of the client address holding the most of them is closed to make room. A
//! real login completes in milliseconds, so under a flood it is the flood's
//! own old sockets that go, and one address cannot push out another's logins
//! while it holds more of them.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct State {
    next_ticket: u64,
    /// Ticket (age order) → its address and how to close it.
    pending: BTreeMap<u64, (IpAddr, CancellationToken)>,
    per_address: HashMap<IpAddr, usize>,
}

/// The registry of pending logins.
pub struct PendingLogins {
    limit: usize,
    state: Mutex<State>,
}

/// One pending login; dropping it (logged in, refused, closed) frees its slot.
pub struct PendingLogin {
    registry: Arc<PendingLogins>,
    ticket: u64,
    /// Cancelled when the login is shed to make room for others.
    pub shed: CancellationToken,
}

impl PendingLogins {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(PendingLogins {
            limit: limit.max(1),
            state: Mutex::new(State::default()),
        })
    }

    /// Counts a new connection from `addr`, shedding one if the bound is reached.
    pub fn admit(self: &Arc<Self>, addr: IpAddr) -> PendingLogin {
        let shed = CancellationToken::new();
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.pending.len() >= self.limit {
            if let Some(victim) = oldest_of_busiest(&state) {
                if let Some((victim_addr, token)) = state.pending.remove(&victim) {
                    token.cancel();
                    release(&mut state.per_address, victim_addr);
                    tracing::info!(client = %victim_addr, limit = self.limit, "pending login closed to make room (too many connections logging in)");
                }
            }
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.pending.insert(ticket, (addr, shed.clone()));
        *state.per_address.entry(addr).or_insert(0) += 1;
        PendingLogin {
            registry: self.clone(),
            ticket,
            shed,
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.pending.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The oldest pending login of the address with the most pending logins.
fn oldest_of_busiest(state: &State) -> Option<u64> {
    let busiest = state
        .per_address
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(addr, _)| *addr)?;
    state
        .pending
        .iter()
        .find(|(_, (addr, _))| *addr == busiest)
        .map(|(ticket, _)| *ticket)
}

fn release(per_address: &mut HashMap<IpAddr, usize>, addr: IpAddr) {
    if let Some(n) = per_address.get_mut(&addr) {
        *n -= 1;
        if *n == 0 {
            per_address.remove(&addr);
        }
    }
}

impl Drop for PendingLogin {
    fn drop(&mut self) {
        let mut state = match self.registry.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((addr, _)) = state.pending.remove(&self.ticket) {
            release(&mut state.per_address, addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn the_oldest_login_of_the_busiest_address_makes_room() {
        let registry = PendingLogins::new(3);
        let flood_1 = registry.admit(ip(9));
        let real = registry.admit(ip(1));
        let flood_2 = registry.admit(ip(9));
        assert_eq!(registry.len(), 3);
        let newcomer = registry.admit(ip(2));
        assert!(flood_1.shed.is_cancelled(), "the flood's oldest goes first");
        assert!(!real.shed.is_cancelled() && !flood_2.shed.is_cancelled());
        assert_eq!(registry.len(), 3);
        drop(newcomer);
        drop(real);
        assert_eq!(registry.len(), 1);
        drop(flood_1);
        drop(flood_2);
        assert!(registry.is_empty());
    }
}
