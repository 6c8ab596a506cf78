//! `KILL` with the thread id a client was given.
//!
//! A client learns its thread id from Tern's greeting, before Tern knows which
//! user to log in to the backend as, so that id cannot be the server's. Clients
//! use it: the `mariadb` CLI sends `KILL QUERY <id>` on Ctrl-C from a second
//! connection. Passed through unchanged it would name some other server thread
//! and kill an unrelated query. So Tern hands out ids from a range the server
//! does not reach in practice ([`FIRST_SESSION_ID`] to [`LAST_SESSION_ID`]) and translates
//! `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>` and COM_PROCESS_KILL for ids in
//! that range to the session's backend thread id. Every other KILL passes
//! through untouched. While a session runs a read on a replica, the registry
//! also knows that replica's thread, and `KILL QUERY <id>` stops the read
//! there before it reaches the primary: the client's statement is interrupted
//! wherever it runs, as it would be on the server. This file keeps the ids and
//! the registry; the KILL statements themselves are read by
//! [`crate::sql::admin`] and translated in `session/kill.rs`.

use dashmap::DashMap;

/// First id Tern hands out. Server thread ids count up from 1 per server start;
/// a billion connections into one server's life is far beyond any deployment.
pub const FIRST_SESSION_ID: u32 = 0x4000_0000;

/// Last id Tern hands out; the next session gets [`FIRST_SESSION_ID`] again.
/// The range stays below 2^31 because drivers read the greeting's id as a
/// signed 32-bit integer: MariaDB Connector/J 2.x then cancels a statement with
/// `KILL QUERY 18446744071562067976` (the id sign-extended), which names no
/// thread at all.
pub const LAST_SESSION_ID: u32 = i32::MAX as u32;

/// The id of the `sequence`-th session since Tern started, wrapping within
/// [`FIRST_SESSION_ID`]..=[`LAST_SESSION_ID`].
pub fn session_id(sequence: u32) -> u32 {
    FIRST_SESSION_ID + sequence % (LAST_SESSION_ID - FIRST_SESSION_ID + 1)
}

/// What a session runs on the servers right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SessionThreads {
    /// Its backend thread on the primary.
    primary: u32,
    /// The replica (index) and thread running its read, while one runs.
    replica_read: Option<(usize, u32)>,
}

/// Tern session id → the session's backend threads.
#[derive(Default)]
pub struct SessionRegistry {
    backends: DashMap<u32, SessionThreads>,
}

impl SessionRegistry {
    pub fn register(&self, session_id: u32, backend_thread_id: u32) {
        self.backends.insert(
            session_id,
            SessionThreads {
                primary: backend_thread_id,
                replica_read: None,
            },
        );
    }

    pub fn unregister(&self, session_id: u32) {
        self.backends.remove(&session_id);
    }

    pub fn backend_of(&self, session_id: u32) -> Option<u32> {
        self.backends.get(&session_id).map(|v| v.primary)
    }

    /// Marks the start (`Some`) or end (`None`) of a read the session runs on
    /// a replica, so that `KILL QUERY` of the session can stop it there.
    pub fn set_replica_read(&self, session_id: u32, read: Option<(usize, u32)>) {
        if let Some(mut threads) = self.backends.get_mut(&session_id) {
            threads.replica_read = read;
        }
    }

    pub fn replica_read_of(&self, session_id: u32) -> Option<(usize, u32)> {
        self.backends.get(&session_id).and_then(|v| v.replica_read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_fit_a_signed_32_bit_int_and_wrap_inside_the_range() {
        assert_eq!(session_id(0), FIRST_SESSION_ID);
        assert_eq!(session_id(7), FIRST_SESSION_ID + 7);
        assert_eq!(
            session_id(LAST_SESSION_ID - FIRST_SESSION_ID),
            LAST_SESSION_ID
        );
        assert_eq!(
            session_id(LAST_SESSION_ID - FIRST_SESSION_ID + 1),
            FIRST_SESSION_ID
        );
        // The counter itself wraps at 2^32, a multiple of the range's size.
        assert_eq!(session_id(u32::MAX), LAST_SESSION_ID);
        for sequence in [0, 1, 1 << 30, u32::MAX] {
            assert!(i32::try_from(session_id(sequence)).is_ok());
        }
    }

    #[test]
    fn unregistered_sessions_are_forgotten() {
        let r = SessionRegistry::default();
        r.register(FIRST_SESSION_ID + 4, 17);
        r.unregister(FIRST_SESSION_ID + 4);
        assert_eq!(r.backend_of(FIRST_SESSION_ID + 4), None);
    }
}
