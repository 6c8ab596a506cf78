//! The session's replica side: connections to replicas that mirror the
//! session's schema and replayed variables, the choice of a replica for one
//! read, the bounded GTID wait in front of it, and retries elsewhere.
//!
//! Invariant: a read reaches the client from a replica only after that
//! replica has applied everything the read must see (the session's own
//! writes, or the primary's position for `global`, plus the route's `after`:
//! hinted GTIDs and table changes to the tables it names); otherwise the answer is
//! discarded unread and the read runs on the primary. A replica connection
//! that fails before any of its answer was relayed is dropped and the read
//! retried; once part of an answer is out, the client's connection ends as
//! the replica's did.

use std::collections::HashMap;

use tern_rules::Consistency;

use super::prepared::execute_for_replica;
use super::{Session, SessionEnd};
use crate::backend::conn::{BackendConn, InternalReply};
use crate::backend::BackendError;
use crate::gtid::GtidSet;
use crate::protocol::command::*;
use crate::protocol::packets::command;
use crate::route::{Route, Target};
use crate::server::client::ServerClose;
use crate::server::relay::{
    end_like_backend, relay_replica_response, RelayError, RelayOptions, RelayOutcome,
};

/// A session's connection to one replica and how far it mirrors the session.
pub(super) struct ReplicaLink {
    pub(super) conn: BackendConn,
    /// How many entries of the session's replay log it has executed.
    pub(super) replayed: usize,
    /// Its default schema.
    pub(super) schema: Option<Vec<u8>>,
    /// Client statement id → the same statement prepared on this replica.
    pub(super) statements: HashMap<u32, ReplicaStatement>,
    /// Counts this connection in its replica's total while alive.
    _counted: crate::server::ConnectionCount,
}

pub(super) struct ReplicaStatement {
    pub(super) id: u32,
    /// The replica has been sent parameter types for it (the first execute must
    /// carry them; later ones may omit them).
    pub(super) typed: bool,
}

/// How a read on one replica went.
pub(super) enum ReplicaRead {
    Served(RelayOutcome),
    /// The replica failed before any of its answer reached the client.
    Failed,
    /// The replica did not apply what the read must see within the bound.
    TooFarBehind,
}

/// What a read sends to the replica that serves it.
#[derive(Clone, Copy)]
pub(super) enum ReadCommand<'a> {
    Query(&'a [u8]),
    /// COM_STMT_EXECUTE of the client's statement `id`.
    Execute {
        id: u32,
        payload: &'a [u8],
    },
}

impl Session {
    /// A read routed to replicas: find one that has (or soon has) what the read
    /// must see, else run it on the primary.
    pub(super) async fn read(
        &mut self,
        route: &Route,
        seq: u8,
        command: ReadCommand<'_>,
    ) -> Result<RelayOutcome, SessionEnd> {
        let on_primary = |this: &mut Self| {
            this.last_replica = None;
            match command {
                ReadCommand::Query(p) => (COM_QUERY, p),
                ReadCommand::Execute { payload, .. } => (COM_STMT_EXECUTE, payload),
            }
        };
        let required = match self.required_position(route).await {
            Some(r) => r,
            None => {
                let (cmd, payload) = on_primary(self);
                self.forward(seq, payload).await?;
                return self.relay_primary(cmd).await;
            }
        };
        let group = match &route.target {
            Target::Replica { group } => group.as_deref(),
            Target::Primary => None,
        };
        for idx in self.candidates(group, &required) {
            let node_has_it = self.shared.replicas[idx].health.has_applied(&required);
            if let Err(e) = self.prepare_link(idx).await {
                tracing::debug!(replica = %self.shared.replicas[idx].target.addr, error = %crate::logsafe::untrusted(&e), "replica unusable for this session");
                self.replicas[idx] = None;
                continue;
            }
            let wait = (!node_has_it).then_some(&required);
            if wait.is_some() {
                self.shared.metrics.ryw_waits.inc();
            }
            let served = match command {
                ReadCommand::Query(payload) => {
                    self.on_replica(idx, COM_QUERY, seq, payload, wait).await?
                }
                ReadCommand::Execute { id, payload } => {
                    match self.replica_execute_packet(idx, id, payload).await {
                        Some(rewritten) => {
                            let served = self
                                .on_replica(idx, COM_STMT_EXECUTE, seq, &rewritten, wait)
                                .await?;
                            if matches!(served, ReplicaRead::Served(_)) {
                                if let Some(st) = self.replicas[idx]
                                    .as_mut()
                                    .and_then(|l| l.statements.get_mut(&id))
                                {
                                    st.typed = true;
                                }
                            }
                            served
                        }
                        None => ReplicaRead::Failed,
                    }
                }
            };
            let served = match served {
                ReplicaRead::Served(outcome) => Some(outcome),
                ReplicaRead::Failed => None,
                // Replicas lag behind what this read must see: the primary answers.
                ReplicaRead::TooFarBehind => break,
            };
            if let Some(outcome) = served {
                return Ok(outcome);
            }
        }
        self.shared.metrics.ryw_primary_fallbacks.inc();
        let (cmd, payload) = on_primary(self);
        self.forward(seq, payload).await?;
        self.relay_primary(cmd).await
    }

    /// What the read must see, or None when only the primary can tell (a global
    /// read whose primary position could not be read).
    pub(super) async fn required_position(&mut self, route: &Route) -> Option<GtidSet> {
        // Without the server reporting commits' GTIDs, a session's own writes are
        // invisible to Tern: only the primary's whole position is a safe bound.
        // So after a failed statement, which reports none (`unreported_change`).
        let unreported = std::mem::take(&mut self.unreported_change);
        let consistency = match route.consistency {
            Consistency::Session
                if unreported
                    || self.own_gtids_untracked
                    || !self.shared.primary_history.gtids_tracked() =>
            {
                Consistency::Global
            }
            other => other,
        };
        let mut required = match consistency {
            Consistency::Eventual => GtidSet::new(),
            Consistency::Session => self.last_write.clone(),
            Consistency::Global => {
                // Everything committed anywhere before this read: the primary's
                // position now, read on a connection of Tern's own, never on the
                // session's: the client's session must not see Tern's statement
                // (in SHOW PROFILES, FOUND_ROWS(), ROW_COUNT(), the optimizer
                // trace).
                let mut set = self.shared.primary_position.current().await?;
                set.merge(&self.last_write);
                set
            }
        };
        if let Some(after) = &route.after {
            required.merge(after);
        }
        Some(required)
    }

    /// Healthy replicas of `group` in the order to try them: those known to have
    /// `required` first, then the freshest; a replica this session already has a
    /// connection to wins ties.
    fn candidates(&self, group: Option<&str>, required: &GtidSet) -> Vec<usize> {
        let mut list: Vec<(bool, bool, u64, usize)> = self
            .shared
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, n)| group.is_none() || n.group.as_deref() == group)
            .filter(|(_, n)| n.health.is_healthy())
            .map(|(i, n)| {
                (
                    !n.health.has_applied(required),
                    self.replicas[i].is_none(),
                    n.health.lag_ms(),
                    i,
                )
            })
            .collect();
        list.sort_unstable();
        list.into_iter().map(|(_, _, _, i)| i).collect()
    }

    /// Opens the session's connection to replica `idx` if needed and brings it to
    /// the session's schema and session variables.
    pub(super) async fn prepare_link(&mut self, idx: usize) -> Result<(), BackendError> {
        if self.replicas[idx].is_none() {
            let node = &self.shared.replicas[idx];
            let (conn, _ok) =
                BackendConn::connect(&node.target, &self.identity.backend_login()).await?;
            let counted = crate::server::ConnectionCount::new(&node.connections);
            self.replicas[idx] = Some(ReplicaLink {
                conn,
                replayed: 0,
                schema: self.identity.database.clone(),
                statements: HashMap::new(),
                _counted: counted,
            });
        }
        let deprecate_eof = self.deprecate_eof;
        let Some(link) = self.replicas[idx].as_mut() else {
            return Err(BackendError::Protocol("replica link vanished".into()));
        };
        if link.schema != self.schema {
            let Some(schema) = &self.schema else {
                return Err(BackendError::Protocol(
                    "cannot clear the default schema".into(),
                ));
            };
            let cmd = command(COM_INIT_DB, schema);
            expect_ok(link.conn.internal(&cmd, deprecate_eof).await?)?;
            link.schema = Some(schema.clone());
        }
        while link.replayed < self.replay_log.len() {
            let stmt = &self.replay_log[link.replayed];
            expect_ok(link.conn.internal(stmt, deprecate_eof).await?)?;
            link.replayed += 1;
        }
        Ok(())
    }

    /// Runs a read on replica `idx`. With `wait`, a bounded GTID wait goes out
    /// in the same write just before the read: the replica runs the read only
    /// after the wait returns, so a successful wait makes the read's answer
    /// consistent, and on a timeout that answer is discarded unread. One round
    /// trip either way.
    pub(super) async fn on_replica(
        &mut self,
        idx: usize,
        command: u8,
        seq: u8,
        payload: &[u8],
        wait: Option<&GtidSet>,
    ) -> Result<ReplicaRead, SessionEnd> {
        // While the read runs there, a KILL QUERY of this session reaches it.
        let thread = self.replicas[idx]
            .as_ref()
            .map(|link| link.conn.server_connection_id);
        let sessions = &self.shared.sessions;
        sessions.set_replica_read(self.session_id, thread.map(|t| (idx, t)));
        let read = self.run_on_replica(idx, command, seq, payload, wait).await;
        self.shared.sessions.set_replica_read(self.session_id, None);
        read
    }

    async fn run_on_replica(
        &mut self,
        idx: usize,
        command: u8,
        seq: u8,
        payload: &[u8],
        wait: Option<&GtidSet>,
    ) -> Result<ReplicaRead, SessionEnd> {
        if let Some(early) = self.send_read(idx, command, seq, payload, wait).await {
            return Ok(early);
        }
        let opts = RelayOptions {
            command,
            deprecate_eof: self.deprecate_eof,
            client_tracks: self.client_tracks,
        };
        self.relay_read(idx, &opts).await
    }

    /// Sends the read to replica `idx`, behind the GTID wait when there is
    /// one. `Some` when the read ends here: the replica failed, or did not
    /// reach `wait` in time (its answer to the read is then discarded).
    async fn send_read(
        &mut self,
        idx: usize,
        command: u8,
        seq: u8,
        payload: &[u8],
        wait: Option<&GtidSet>,
    ) -> Option<ReplicaRead> {
        let deprecate_eof = self.deprecate_eof;
        let timeout = self.shared.settings.read_wait_timeout;
        let Some(link) = self.replicas[idx].as_mut() else {
            return Some(ReplicaRead::Failed);
        };
        if let Some(required) = wait {
            let sql = crate::gtid::wait_statement(required, timeout);
            let cmd = crate::protocol::packets::command(COM_QUERY, sql.as_bytes());
            let reached = match link.conn.send_pair(&cmd, seq, payload).await {
                Ok(()) => link.conn.internal_reply(deprecate_eof).await,
                Err(e) => Err(e),
            };
            let reached = match reached {
                Ok(InternalReply::Rows(rows)) => {
                    rows.first()
                        .and_then(|r| r.first())
                        .and_then(|v| v.as_deref())
                        == Some(b"0".as_slice())
                }
                Ok(_) => false,
                Err(e) => {
                    self.replica_failed(idx, &e.to_string());
                    return Some(ReplicaRead::Failed);
                }
            };
            if !reached {
                if let Err(e) = link.conn.discard_response(command, deprecate_eof).await {
                    self.replica_failed(idx, &e.to_string());
                }
                return Some(ReplicaRead::TooFarBehind);
            }
            self.shared.replicas[idx].health.note_applied(required);
        } else if let Err(e) = link.conn.send(seq, payload).await {
            self.replica_failed(idx, &e.to_string());
            return Some(ReplicaRead::Failed);
        }
        None
    }

    /// Relays the replica's answer to the read sent by [`Self::send_read`].
    async fn relay_read(
        &mut self,
        idx: usize,
        opts: &RelayOptions,
    ) -> Result<ReplicaRead, SessionEnd> {
        let Some(link) = self.replicas[idx].as_mut() else {
            return Ok(ReplicaRead::Failed);
        };
        match relay_replica_response(&mut self.client, &mut link.conn, &mut self.primary, opts)
            .await
        {
            Ok(outcome) => {
                self.last_replica = Some(idx);
                Ok(ReplicaRead::Served(outcome))
            }
            Err(RelayError::Client(e)) => Err(SessionEnd::Client(e)),
            Err(RelayError::PrimaryClosed(error)) => {
                // The replica is fine; only this session's statement on it is
                // abandoned with the connection.
                self.replicas[idx] = None;
                Err(SessionEnd::Backend(BackendError::Lost(error)))
            }
            Err(RelayError::Backend {
                error,
                forwarded: false,
                ..
            }) => {
                self.replica_failed(idx, &error.to_string());
                Ok(ReplicaRead::Failed)
            }
            Err(RelayError::Backend { error, .. }) => {
                // Part of the answer is out: it cannot be retried, and no packet
                // the server did not send can finish it. The client sees what a
                // server that went away mid-answer looks like.
                if let Some(link) = self.replicas[idx].as_mut() {
                    let how = ServerClose::from_frame(&error);
                    end_like_backend(&mut self.client, &mut link.conn, how).await;
                }
                self.replica_failed(idx, &error.to_string());
                Err(SessionEnd::Backend(BackendError::Lost(error)))
            }
        }
    }

    fn replica_failed(&mut self, idx: usize, why: &str) {
        self.replicas[idx] = None;
        self.shared.replicas[idx]
            .health
            .mark_unreachable(why.to_string());
        tracing::warn!(replica = %self.shared.replicas[idx].target.addr, error = %crate::logsafe::untrusted(why), "replica connection failed; read retried elsewhere");
    }

    /// The execute packet for replica `idx`: the statement prepared there first
    /// if needed, its id swapped in, and parameter types added when the client
    /// omitted them (it sent them to the primary's copy earlier).
    pub(super) async fn replica_execute_packet(
        &mut self,
        idx: usize,
        id: u32,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let ps = self.prepared.get(&id)?;
        let (sql, params, types) = (ps.sql.clone(), ps.params, ps.param_types.clone());
        let deprecate_eof = self.deprecate_eof;
        let link = self.replicas[idx].as_mut()?;
        if !link.statements.contains_key(&id) {
            let cmd = command(COM_STMT_PREPARE, &sql);
            let replica_id = match link.conn.internal_prepare(&cmd, deprecate_eof).await {
                Ok(Some(replica_id)) => replica_id,
                Ok(None) => return None,
                Err(_) => {
                    self.replicas[idx] = None;
                    return None;
                }
            };
            link.statements.insert(
                id,
                ReplicaStatement {
                    id: replica_id,
                    typed: false,
                },
            );
        }
        let st = link.statements.get(&id)?;
        execute_for_replica(payload, st.id, params, st.typed, types.as_deref())
    }
}

fn expect_ok(reply: InternalReply) -> Result<(), BackendError> {
    match reply {
        InternalReply::Ok | InternalReply::Rows(_) => Ok(()),
        InternalReply::Err { code, message } => Err(BackendError::Protocol(format!(
            "replaying session state failed: {code} {message}"
        ))),
    }
}
