//! KILL on a session: `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>` (read by
//! [`crate::sql::admin`]) and COM_PROCESS_KILL, with Tern's session ids
//! translated to the backend threads they stand for (see
//! [`crate::server::kill`] for why the ids differ and the registry).
//!
//! Invariants: only an id in Tern's range that names a live session is
//! rewritten, and only the id's digits change, so the server answers every
//! other KILL (an unknown id, `KILL USER`, a privilege refusal) itself, as
//! if the client had sent it there; a `KILL QUERY` of a session whose read
//! runs on a replica stops that read there first, as the session's own user,
//! so the statement is interrupted wherever it runs.

use super::{Session, SessionEnd};
use crate::protocol::command::{COM_PROCESS_KILL, COM_QUERY};
use crate::protocol::packets::command;
use crate::server::kill::{SessionRegistry, FIRST_SESSION_ID, LAST_SESSION_ID};
use crate::sql::admin::{Kill, KillScope};

impl Session {
    /// A KILL statement (COM_QUERY `payload`, its text read as `kill`): runs on
    /// the primary with Tern's id translated.
    pub(super) async fn kill(
        &mut self,
        seq: u8,
        payload: &[u8],
        kill: &Kill,
    ) -> Result<(), SessionEnd> {
        if let Some((idx, thread)) = replica_read_to_stop(kill, &self.shared.sessions) {
            self.kill_replica_query(idx, thread).await;
        }
        let sql = &payload[1..];
        match translate_kill(sql, kill, &self.shared.sessions) {
            Some(sql) => {
                let translated = command(COM_QUERY, &sql);
                self.on_primary(COM_QUERY, seq, &translated).await
            }
            None => self.on_primary(COM_QUERY, seq, payload).await,
        }
    }

    /// COM_PROCESS_KILL: the connection of the thread id it carries, which is
    /// translated when it names a Tern session.
    pub(super) async fn process_kill(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        let backend = payload
            .get(1..5)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .and_then(|id| self.shared.sessions.backend_of(id));
        match backend {
            Some(backend) => {
                let translated = command(COM_PROCESS_KILL, &backend.to_le_bytes());
                self.on_primary(COM_PROCESS_KILL, seq, &translated).await
            }
            None => self.on_primary(COM_PROCESS_KILL, seq, payload).await,
        }
    }

    /// Stops the read another session runs on replica `idx` (as `thread`
    /// there), as this session's own user, so the server's rules on whose
    /// queries a user may kill apply there too. The KILL then goes to the
    /// primary as usual, and its answer is the client's.
    async fn kill_replica_query(&mut self, idx: usize, thread: u32) {
        if idx >= self.replicas.len() || self.prepare_link(idx).await.is_err() {
            return;
        }
        let deprecate_eof = self.deprecate_eof;
        if let Some(link) = self.replicas[idx].as_mut() {
            let sql = format!("\x03KILL QUERY {thread}");
            if let Err(e) = link.conn.internal(sql.as_bytes(), deprecate_eof).await {
                tracing::debug!(error = %crate::logsafe::untrusted(&e), "KILL QUERY on the replica failed");
                self.replicas[idx] = None;
            }
        }
    }
}

/// If `kill` is `KILL [HARD|SOFT] QUERY <id>` of a Tern session that is
/// running a read on a replica: that replica and the read's thread there. The
/// server stops the session's statement wherever it runs; so must Tern.
fn replica_read_to_stop(kill: &Kill, registry: &SessionRegistry) -> Option<(usize, u32)> {
    if kill.scope != KillScope::Query {
        return None;
    }
    let id = u32::try_from(kill.target.as_ref()?.id).ok()?;
    registry.replica_read_of(id)
}

/// `sql` (the text `kill` was read from) rewritten to name the backend thread
/// of the Tern session it names; `None` when there is nothing to translate.
fn translate_kill(sql: &[u8], kill: &Kill, registry: &SessionRegistry) -> Option<Vec<u8>> {
    let target = kill.target.as_ref()?;
    let id = u32::try_from(target.id).ok()?;
    if !(FIRST_SESSION_ID..=LAST_SESSION_ID).contains(&id) {
        return None;
    }
    // An id in Tern's range that names no live session is left alone: the server
    // answers it with its own "Unknown thread id" error.
    let backend = registry.backend_of(id)?;
    let mut out = Vec::with_capacity(sql.len());
    out.extend_from_slice(sql.get(..target.start)?);
    out.extend_from_slice(backend.to_string().as_bytes());
    out.extend_from_slice(sql.get(target.end..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::admin::{parse, TernStatement};

    fn parsed(sql: &str) -> Kill {
        match parse(sql) {
            Some(TernStatement::Kill(kill)) => kill,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn translated(sql: &str, registry: &SessionRegistry) -> Option<String> {
        let kill = match parse(sql) {
            Some(TernStatement::Kill(kill)) => kill,
            _ => return None,
        };
        translate_kill(sql.as_bytes(), &kill, registry).map(|v| String::from_utf8(v).expect("utf8"))
    }

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
            (
                format!("KILL /* Ctrl-C */ QUERY {id}"),
                Some("KILL /* Ctrl-C */ QUERY 17".to_string()),
            ),
            (format!("/*!KILL*/ {id}"), Some("/*!KILL*/ 17".to_string())),
            ("KILL QUERY 5".to_string(), None),
            (format!("KILL QUERY ID {id}"), None),
            ("KILL USER app".to_string(), None),
            (format!("KILL {}", FIRST_SESSION_ID + 99), None),
            (format!("KILL {id} + 1"), None),
            ("SELECT 1".to_string(), None),
        ] {
            assert_eq!(translated(&sql, &r), want, "{sql}");
        }
    }

    #[test]
    fn ids_past_the_range_are_not_translated() {
        let r = SessionRegistry::default();
        r.register(LAST_SESSION_ID + 1, 17);
        assert_eq!(
            translated(&format!("KILL {}", LAST_SESSION_ID + 1), &r),
            None
        );
    }

    #[test]
    fn kill_query_of_a_session_reading_on_a_replica_names_the_replica_thread() {
        let r = SessionRegistry::default();
        r.register(FIRST_SESSION_ID, 7);
        let kill = parsed(&format!("KILL QUERY {FIRST_SESSION_ID}"));
        assert_eq!(replica_read_to_stop(&kill, &r), None);
        r.set_replica_read(FIRST_SESSION_ID, Some((1, 99)));
        assert_eq!(replica_read_to_stop(&kill, &r), Some((1, 99)));
        let hard = parsed(&format!("kill hard query {FIRST_SESSION_ID};"));
        assert_eq!(replica_read_to_stop(&hard, &r), Some((1, 99)));
        // KILL CONNECTION ends the primary thread, which ends the session.
        let conn = parsed(&format!("KILL {FIRST_SESSION_ID}"));
        assert_eq!(replica_read_to_stop(&conn, &r), None);
        r.set_replica_read(FIRST_SESSION_ID, None);
        assert_eq!(replica_read_to_stop(&kill, &r), None);
    }
}
