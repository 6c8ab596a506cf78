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
//! wherever it runs, as it would be on the server.

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

    fn replica_read_of(&self, session_id: u32) -> Option<(usize, u32)> {
        self.backends.get(&session_id).and_then(|v| v.replica_read)
    }
}

/// If `sql` is `KILL [HARD|SOFT] QUERY <id>` of a Tern session that is running
/// a read on a replica: that replica and the read's thread there. The server
/// stops the session's statement wherever it runs; so must Tern.
pub fn replica_query_to_kill(sql: &[u8], registry: &SessionRegistry) -> Option<(usize, u32)> {
    let (id_start, id_end) = kill_target(sql)?;
    let before = &sql[..id_start];
    let is_query = before
        .split(|b| b.is_ascii_whitespace())
        .any(|w| w.eq_ignore_ascii_case(b"QUERY"));
    if !is_query {
        return None;
    }
    let id: u32 = std::str::from_utf8(&sql[id_start..id_end])
        .ok()?
        .parse()
        .ok()?;
    registry.replica_read_of(id)
}

/// If `sql` is a KILL naming a Tern session id, returns the statement rewritten
/// to name the backend thread (None when there is nothing to translate).
pub fn translate_kill(sql: &[u8], registry: &SessionRegistry) -> Option<Vec<u8>> {
    let (id_start, id_end) = kill_target(sql)?;
    let id: u32 = std::str::from_utf8(&sql[id_start..id_end])
        .ok()?
        .parse()
        .ok()?;
    if !(FIRST_SESSION_ID..=LAST_SESSION_ID).contains(&id) {
        return None;
    }
    // An id in Tern's range that names no live session is left alone: the server
    // answers it with its own "Unknown thread id" error.
    let backend = registry.backend_of(id)?;
    let mut out = Vec::with_capacity(sql.len());
    out.extend_from_slice(&sql[..id_start]);
    out.extend_from_slice(backend.to_string().as_bytes());
    out.extend_from_slice(&sql[id_end..]);
    Some(out)
}

/// Byte range of the numeric id in `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>`.
fn kill_target(sql: &[u8]) -> Option<(usize, usize)> {
    let mut words = Words { sql, pos: 0 };
    if !words.next()?.eq_ignore_ascii_case(b"KILL") {
        return None;
    }
    let mut word = words.next()?;
    if word.eq_ignore_ascii_case(b"HARD") || word.eq_ignore_ascii_case(b"SOFT") {
        word = words.next()?;
    }
    if word.eq_ignore_ascii_case(b"CONNECTION") || word.eq_ignore_ascii_case(b"QUERY") {
        word = words.next()?;
    }
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        // `KILL QUERY ID n`, `KILL USER u` and expressions are not thread ids.
        return None;
    }
    let end = words.pos;
    let start = end - word.len();
    // Only a statement that ends here (optionally with `;` and spaces) is taken.
    let rest = &sql[end..];
    if !rest.iter().all(|b| b.is_ascii_whitespace() || *b == b';') {
        return None;
    }
    Some((start, end))
}

struct Words<'a> {
    sql: &'a [u8],
    pos: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.sql.len() && self.sql[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < self.sql.len() && self.sql[self.pos].is_ascii_alphanumeric() {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.sql[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> SessionRegistry {
        let r = SessionRegistry::default();
        r.register(FIRST_SESSION_ID + 4, 17);
        r
    }

    #[test]
    fn translates_tern_ids_only() {
        let r = registry();
        let id = FIRST_SESSION_ID + 4;
        for (sql, want) in [
            (
                format!("KILL QUERY {id}"),
                Some("KILL QUERY 17".to_string()),
            ),
            (format!("kill {id};"), Some("kill 17;".to_string())),
            (
                format!("KILL HARD CONNECTION {id}"),
                Some("KILL HARD CONNECTION 17".to_string()),
            ),
            ("KILL QUERY 5".to_string(), None),
            (format!("KILL QUERY ID {id}"), None),
            ("KILL USER app".to_string(), None),
            (format!("KILL {}", FIRST_SESSION_ID + 99), None),
            (format!("KILL {id} + 1"), None),
            ("SELECT 1".to_string(), None),
        ] {
            let got =
                translate_kill(sql.as_bytes(), &r).map(|v| String::from_utf8(v).expect("utf8"));
            assert_eq!(got, want, "{sql}");
        }
    }

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
    fn ids_past_the_range_are_not_translated() {
        let r = SessionRegistry::default();
        r.register(LAST_SESSION_ID + 1, 17);
        assert_eq!(
            translate_kill(format!("KILL {}", LAST_SESSION_ID + 1).as_bytes(), &r),
            None
        );
    }

    #[test]
    fn unregistered_sessions_are_forgotten() {
        let r = registry();
        r.unregister(FIRST_SESSION_ID + 4);
        assert_eq!(r.backend_of(FIRST_SESSION_ID + 4), None);
    }

    #[test]
    fn kill_query_of_a_session_reading_on_a_replica_names_the_replica_thread() {
        let r = SessionRegistry::default();
        r.register(FIRST_SESSION_ID, 7);
        let kill = format!("KILL QUERY {FIRST_SESSION_ID}");
        assert_eq!(replica_query_to_kill(kill.as_bytes(), &r), None);
        r.set_replica_read(FIRST_SESSION_ID, Some((1, 99)));
        assert_eq!(replica_query_to_kill(kill.as_bytes(), &r), Some((1, 99)));
        let hard = format!("kill hard query {FIRST_SESSION_ID};");
        assert_eq!(replica_query_to_kill(hard.as_bytes(), &r), Some((1, 99)));
        // KILL CONNECTION ends the primary thread, which ends the session.
        let conn = format!("KILL {FIRST_SESSION_ID}");
        assert_eq!(replica_query_to_kill(conn.as_bytes(), &r), None);
        r.set_replica_read(FIRST_SESSION_ID, None);
        assert_eq!(replica_query_to_kill(kill.as_bytes(), &r), None);
    }
}
