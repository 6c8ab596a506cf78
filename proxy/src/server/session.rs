//! One client session: a task that reads client commands in order, decides where
//! each runs (primary, or a replica for reads that may go there), and streams the
//! response back.
//!
//! Invariants:
//! - commands are handled strictly one at a time; pipelined commands wait in the
//!   read buffer, so responses can never interleave;
//! - a response is relayed as the backend's bytes, as they arrive (OK packets are
//!   only reshaped to the layout the server uses for clients without session
//!   tracking);
//! - the primary connection carries the session's real state; a replica
//!   connection is brought to the same default schema and session variables
//!   (replayed `SET` statements) before it serves a read;
//! - a read goes to a replica only with the session's last write applied there
//!   (or whatever the consistency mode requires), else it waits a bounded time on
//!   the replica, else it runs on the primary;
//! - when the primary connection dies (under a command or while idle), the
//!   client gets what the server sent before closing and then the same kind of
//!   close, with no packet of Tern's own, and the session ends (its server-side
//!   state is gone); when a replica connection dies before any of its answer was
//!   relayed, the read is retried elsewhere, and after part of it was, the
//!   client's connection is closed as the replica's was.

mod ddl;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mysql_common::constants::CapabilityFlags;
use tern_rules::{Consistency, StatementFacts, StatementKind};

use super::client::{ClientConn, ServerClose};
use super::login::{authenticate, client_proof, Identity};
use super::relay::{
    await_command, client_ok, end_like_backend, observe_ok, relay_replica_response, relay_response,
    RelayError, RelayOptions, RelayOutcome,
};
use super::Shared;
use crate::admin::metrics::RouteLabel;
use crate::backend::catalog::{Catalog, CatalogSnapshot};
use crate::backend::conn::{BackendConn, InternalReply};
use crate::backend::BackendError;
use crate::gtid::GtidSet;
use crate::protocol::auth::NATIVE_PASSWORD;
use crate::protocol::command::*;
use crate::protocol::errcode::*;
use crate::protocol::framing::FrameError;
use crate::protocol::packets::{ok_payload, ChangeUserRequest};
use crate::protocol::status::{AUTOCOMMIT, IN_TRANS};
use crate::route::{plan, Pins, Plan, Route, SessionView, Target};
use crate::sql::classify::{classify_bytes, Classified};

/// Most session-variable statements kept for replaying on replica connections.
/// A session past it stays on the primary: unbounded state per session would let
/// one client grow Tern's memory without limit.
const MAX_REPLAYED_STATEMENTS: usize = 256;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    #[error("client quit")]
    Quit,
    #[error("client connection: {0}")]
    Client(FrameError),
    #[error("backend connection: {0}")]
    Backend(BackendError),
}

/// A session's connection to one replica and how far it mirrors the session.
struct ReplicaLink {
    conn: BackendConn,
    /// How many entries of the session's replay log it has executed.
    replayed: usize,
    /// Its default schema.
    schema: Option<Vec<u8>>,
    /// Client statement id → the same statement prepared on this replica.
    statements: HashMap<u32, ReplicaStatement>,
    /// Counts this connection in its replica's total while alive.
    _counted: super::ConnectionCount,
}

struct ReplicaStatement {
    id: u32,
    /// The replica has been sent parameter types for it (the first execute must
    /// carry them; later ones may omit them).
    typed: bool,
}

/// What Tern remembers of a statement the client prepared (on the primary).
struct PreparedStatement {
    /// The statement text, to prepare it again on a replica.
    sql: Bytes,
    /// A plain read that may run on a replica when the session allows.
    replica_safe: bool,
    params: u16,
    /// Parameter types from the last execute that sent them.
    param_types: Option<Vec<u8>>,
    /// Long data was sent to the primary's copy: its executes stay there.
    long_data: bool,
    /// Statement kind, for the metrics of its executes.
    kind: StatementKind,
    /// The catalog (and schema) `replica_safe` was judged against.
    catalog_generation: u64,
}

/// How a read on one replica went.
enum ReplicaRead {
    Served(RelayOutcome),
    /// The replica failed before any of its answer reached the client.
    Failed,
    /// The replica did not apply what the read must see within the bound.
    TooFarBehind,
}

/// What a read sends to the replica that serves it.
#[derive(Clone, Copy)]
enum ReadCommand<'a> {
    Query(&'a [u8]),
    /// COM_STMT_EXECUTE of the client's statement `id`.
    Execute {
        id: u32,
        payload: &'a [u8],
    },
}

pub struct Session {
    shared: Arc<Shared>,
    client: ClientConn,
    primary: BackendConn,
    /// One slot per configured replica, opened on first use.
    replicas: Vec<Option<ReplicaLink>>,
    identity: Identity,
    deprecate_eof: bool,
    client_tracks: bool,
    in_transaction: bool,
    autocommit: bool,
    pins: Pins,
    consistency: Consistency,
    /// `SET SESSION tern_ddl`: how table changes run.
    ddl_mode: ddl::DdlMode,
    /// A condition of Tern's for the next diagnostics statements: why the last
    /// table change ran as sent, or the error its online migration ended with.
    ddl_note: Option<ddl::PendingConditions>,
    /// GTIDs of the session's own writes: what its reads must see.
    last_write: GtidSet,
    /// Session-variable statements (COM_QUERY payloads) replayed on replicas.
    replay_log: Vec<Bytes>,
    schema: Option<Vec<u8>>,
    /// The replica that served the last statement, for SHOW WARNINGS and friends.
    last_replica: Option<usize>,
    /// The client replaced `session_track_system_variables` with a list
    /// without `last_gtid` (Connector/J does): the server no longer reports
    /// this session's commits, so its reads need `global` consistency.
    own_gtids_untracked: bool,
    /// The id the client was given (Tern's, see `kill.rs`).
    session_id: u32,
    /// The client's prepared statements, by id. The server bounds how many a
    /// session may hold (max_prepared_stmt_count), which bounds this map too.
    prepared: HashMap<u32, PreparedStatement>,
}

impl Session {
    pub fn new(
        shared: Arc<Shared>,
        client: ClientConn,
        primary: BackendConn,
        identity: Identity,
        login_status: u16,
        session_id: u32,
    ) -> Self {
        let deprecate_eof = identity
            .capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        let client_tracks = identity.client_tracks_session;
        let replicas = (0..shared.replicas.len()).map(|_| None).collect();
        let schema = identity.database.clone();
        Self {
            shared,
            client,
            primary,
            replicas,
            identity,
            deprecate_eof,
            client_tracks,
            in_transaction: login_status & IN_TRANS != 0,
            autocommit: login_status & AUTOCOMMIT != 0,
            pins: Pins::default(),
            consistency: Consistency::Session,
            ddl_mode: ddl::DdlMode::default(),
            ddl_note: None,
            last_write: GtidSet::new(),
            replay_log: Vec::new(),
            schema,
            last_replica: None,
            own_gtids_untracked: false,
            session_id,
            prepared: HashMap::new(),
        }
    }

    pub fn user(&self) -> &str {
        &self.identity.user
    }

    pub async fn run(mut self) -> SessionEnd {
        let busy = self.shared.busy_counter();
        loop {
            self.client.reader.shrink_if_idle();
            self.primary.reader.shrink_if_idle();
            match await_command(&mut self.client, &mut self.primary).await {
                Ok(()) => {}
                Err(RelayError::Client(e)) => return SessionEnd::Client(e),
                Err(RelayError::Backend { error, .. } | RelayError::PrimaryClosed(error)) => {
                    return SessionEnd::Backend(BackendError::Lost(error))
                }
            }
            let max = self.shared.settings.max_packet_size;
            let packet = match self
                .client
                .reader
                .read_packet(&mut self.client.stream, Some(0), max)
                .await
            {
                Ok(p) => p,
                Err(FrameError::TooLarge { size, limit }) => {
                    self.client
                        .send_err(
                            1,
                            ER_NET_PACKET_TOO_LARGE,
                            "Got a packet bigger than 'max_allowed_packet' bytes",
                        )
                        .await;
                    self.client.drain_before_close().await;
                    return SessionEnd::Client(FrameError::TooLarge { size, limit });
                }
                Err(FrameError::OutOfOrder { expected, got }) => {
                    // The server numbers its answer from the sequence it expected.
                    self.client
                        .send_err(
                            expected,
                            ER_NET_PACKETS_OUT_OF_ORDER,
                            "Got packets out of order",
                        )
                        .await;
                    return SessionEnd::Client(FrameError::OutOfOrder { expected, got });
                }
                Err(e) => return SessionEnd::Client(e),
            };
            let Some(&command) = packet.payload.first() else {
                self.client
                    .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                    .await;
                continue;
            };
            let _busy = busy.enter();
            if !matches!(command, COM_QUERY | COM_PING) {
                // A condition Tern keeps for the session ends with the next statement.
                self.ddl_note = None;
            }
            let result = match command {
                COM_QUIT => {
                    // Tell the servers too, so they do not log aborted connections.
                    let _ = self.primary.send(0, &[COM_QUIT]).await;
                    for link in self.replicas.iter_mut().flatten() {
                        let _ = link.conn.send(0, &[COM_QUIT]).await;
                    }
                    return SessionEnd::Quit;
                }
                COM_CHANGE_USER => self.change_user(&packet.payload).await,
                COM_STMT_SEND_LONG_DATA => {
                    if let Some(ps) =
                        statement_id(&packet.payload).and_then(|id| self.prepared.get_mut(&id))
                    {
                        ps.long_data = true;
                    }
                    self.forward(packet.seq, &packet.payload).await
                }
                COM_STMT_CLOSE => self.close_statement(packet.seq, &packet.payload).await,
                COM_STMT_PREPARE => self.prepare(packet.seq, packet.payload).await,
                COM_STMT_EXECUTE => self.execute(packet.seq, &packet.payload).await,
                // Replication through Tern is not offered (a binlog stream is
                // no response the relay can carry): both are refused as the
                // server refuses a user without the replication privilege,
                // and the session goes on, as there.
                COM_BINLOG_DUMP => {
                    self.client
                        .send_err(
                            1,
                            ER_SPECIFIC_ACCESS_DENIED_ERROR,
                            "Access denied; you need (at least one of) the REPLICATION SLAVE \
                             privilege(s) for this operation",
                        )
                        .await;
                    Ok(())
                }
                COM_REGISTER_SLAVE => {
                    let message = self.register_slave_refusal();
                    self.client
                        .send_err(1, ER_ACCESS_DENIED_ERROR, &message)
                        .await;
                    Ok(())
                }
                // Statement ids are the primary's, so the primary answers it
                // (the bulk capability is not offered: it answers 1835).
                COM_STMT_BULK_EXECUTE => {
                    self.on_primary(COM_STMT_EXECUTE, packet.seq, &packet.payload)
                        .await
                }
                COM_BINLOG_DUMP_GTID | COM_SLEEP => {
                    self.client
                        .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                        .await;
                    Ok(())
                }
                COM_QUERY | COM_PROCESS_KILL if self.names_tern_session(&packet.payload) => {
                    self.kill_replica_query(&packet.payload).await;
                    let translated = self.translate_kill(&packet.payload);
                    self.on_primary(command, packet.seq, &translated).await
                }
                COM_QUERY => self.query(packet.seq, packet.payload).await,
                COM_RESET_CONNECTION => {
                    let r = self.on_primary(command, packet.seq, &packet.payload).await;
                    // The server keeps the default schema across a reset.
                    self.reset_session_state(self.schema.clone());
                    r
                }
                _ => self.on_primary(command, packet.seq, &packet.payload).await,
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// The server's answer to COM_REGISTER_SLAVE from a user without the
    /// replication privilege: 1045 naming the account the session matched.
    fn register_slave_refusal(&self) -> String {
        let user = &self.identity.user;
        let host = self
            .shared
            .users
            .find(
                user,
                crate::backend::users::normalize_ip(self.client.peer.ip()),
            )
            .map(|a| a.host)
            .unwrap_or_else(|| "%".into());
        format!(
            "Access denied for user '{}'@'{host}' (using password: {})",
            super::login::user_as_quoted(user),
            if self.identity.stage1.is_some() {
                "YES"
            } else {
                "NO"
            }
        )
    }

    /// COM_QUERY: classify, consult rules and hints, run where the plan says.
    async fn query(&mut self, seq: u8, payload: Bytes) -> Result<(), SessionEnd> {
        let started = std::time::Instant::now();
        let sql = &payload[1..];
        if let Some(command) = ddl::admin_command(sql) {
            return self.admin(command).await;
        }
        // Text in another charset than UTF-8 (a latin1 literal) is classified on
        // a lossy copy: identifiers are ASCII either way, and a rule blocking a
        // table must not be bypassed by one non-UTF-8 byte in a string.
        let lossy = match std::str::from_utf8(sql) {
            Ok(_) => None,
            Err(_) => Some(String::from_utf8_lossy(sql).into_owned()),
        };
        let c = match &lossy {
            Some(text) => crate::sql::classify::classify(text),
            None => classify_bytes(sql),
        };
        if let Some(outcome) = self.diagnostics_with_note(seq, &payload).await? {
            self.record_statement(c.kind, started, &outcome);
            return Ok(());
        }
        if c.kind == StatementKind::Set && contains_ci(sql, b"tern_") {
            return self.tern_set(sql).await;
        }
        let rules = self.shared.current_rules();
        let decision = if rules.is_empty() {
            None
        } else {
            let text = lossy
                .as_deref()
                .unwrap_or_else(|| std::str::from_utf8(sql).unwrap_or(""));
            let schema = self
                .schema
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok());
            let facts = StatementFacts {
                kind: c.kind,
                tables: c.tables.as_slice(),
                user: &self.identity.user,
                schema,
                client_addr: self.client.peer.ip(),
                text,
                hints: c.hints.as_slice(),
            };
            Some(rules.evaluate(&facts))
        };
        let changes_catalog =
            (c.kind == StatementKind::Ddl || c.multi_statement) && Catalog::ddl_may_change(sql);
        if changes_catalog {
            // Stale while the change runs, and read again once it is done.
            self.shared.catalog.invalidate();
        }
        let catalog = self.catalog_for(&c);
        let view = SessionView {
            in_transaction: self.in_transaction,
            autocommit: self.autocommit,
            pinned: self.pins.reason(),
            consistency: self.consistency,
            has_replicas: !self.shared.replicas.is_empty(),
            schema: self
                .schema
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok()),
            catalog: catalog.as_deref(),
        };
        let mut outcome = None;
        let planned = plan(&c, &view, decision.as_ref());
        drop(catalog);
        match planned {
            Plan::Reject(reject) => {
                let message = reject.message.clone();
                self.client
                    .send(
                        1,
                        &crate::protocol::packets::err_payload_with_state(
                            reject.code,
                            &reject.sqlstate,
                            &message,
                        ),
                    )
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
                return Ok(());
            }
            Plan::Send(route) => {
                if route.target == Target::Primary && is_diagnostics_query(sql) {
                    if let Some(idx) = self.last_replica {
                        if self.replicas.get(idx).is_some_and(Option::is_some) {
                            // Warnings belong to the server that ran the last statement.
                            if let ReplicaRead::Served(o) =
                                self.on_replica(idx, COM_QUERY, seq, &payload, None).await?
                            {
                                outcome = Some(o);
                            }
                        }
                    }
                }
                if outcome.is_none() && ddl::is_table_change(&c) {
                    self.last_replica = None;
                    match self.table_change(seq, &payload, &c).await? {
                        Some(o) => outcome = Some(o),
                        None => return Ok(()),
                    }
                }
                if outcome.is_none() {
                    outcome = Some(match &route.target {
                        Target::Primary => {
                            self.last_replica = None;
                            self.pass_write_gate(&c).await;
                            self.primary_query(seq, &payload).await?
                        }
                        Target::Replica { .. } => {
                            self.read(&route, seq, ReadCommand::Query(&payload)).await?
                        }
                    });
                }
            }
        }
        if changes_catalog {
            self.shared.catalog.invalidate();
        }
        if let Some(outcome) = outcome {
            self.after_query(&c, &payload, &outcome);
            self.record_statement(c.kind, started, &outcome);
        }
        Ok(())
    }

    /// The catalog of functions and views, when routing needs it: for a read
    /// that calls a function or names a table. `None` also when it is stale.
    fn catalog_for(&self, c: &Classified<'_>) -> Option<Arc<CatalogSnapshot>> {
        let needed = c.kind == StatementKind::Select
            && (!c.routine_calls.is_empty() || !c.tables.is_empty())
            && !self.shared.replicas.is_empty();
        if needed {
            self.shared.catalog.fresh()
        } else {
            None
        }
    }

    /// Records what a statement did to the session: pins and replayable state.
    fn after_query(&mut self, c: &Classified<'_>, payload: &Bytes, outcome: &RelayOutcome) {
        for pin in c.pins.iter() {
            self.pins.apply(Some(pin));
        }
        if c.kind == StatementKind::Set && !outcome.error {
            if let Some(tracked) = tracks_own_gtids(&payload[1..]) {
                self.own_gtids_untracked = !tracked;
            }
            // SHOW PROFILES and the optimizer trace describe the session's own
            // statements: from now on they all run where those are kept.
            let sql = &payload[1..];
            if contains_ci(sql, b"profiling") || contains_ci(sql, b"optimizer_trace") {
                self.pins.self_inspection = true;
            }
        }
        self.check_commit_reported(c, outcome);
        if c.kind == StatementKind::Set && !c.routine_calls.is_empty() && !outcome.error {
            // Replaying it would call the function again on each replica, which
            // may write there; without the replay the replicas lack the value.
            self.pins.too_much_state = true;
            return;
        }
        if outcome.error || c.kind != StatementKind::Set || !is_replayable_set(c, &payload[1..]) {
            return;
        }
        if self.replay_log.last() == Some(payload) {
            return;
        }
        if self.replay_log.len() >= MAX_REPLAYED_STATEMENTS {
            if !self.pins.too_much_state {
                tracing::info!(
                    statements = self.replay_log.len(),
                    "session keeps too much session state for replicas; its reads stay on the primary"
                );
            }
            self.pins.too_much_state = true;
            return;
        }
        self.replay_log.push(payload.clone());
    }

    /// A committed row change must come back with its GTID. When it does not,
    /// the server does not track this connection's commits (its connection was
    /// opened while the primary's `session_track_system_variables` lacked
    /// `last_gtid`, after a restart lost the runtime setting, say): its reads
    /// need `global` consistency for as long as it lives, even after the
    /// primary tracks again for new connections. INSERT, REPLACE and DELETE
    /// only: an UPDATE reports matched rows to CLIENT_FOUND_ROWS clients and
    /// may change nothing, so commit nothing.
    fn check_commit_reported(&mut self, c: &Classified<'_>, outcome: &RelayOutcome) {
        if !outcome.gtids.is_empty() {
            self.own_gtids_untracked = false;
            return;
        }
        let committed_change = matches!(
            c.kind,
            StatementKind::Insert | StatementKind::Replace | StatementKind::Delete
        ) && !outcome.error
            && outcome.affected_rows > 0
            && !c.multi_statement
            && !self.in_transaction
            && self.autocommit
            && self.last_replica.is_none()
            && self.pins.reason().is_none();
        if committed_change && !self.own_gtids_untracked {
            tracing::info!(
                user = %self.identity.user,
                "the server did not report this session's commit GTID; its reads use global consistency"
            );
            self.own_gtids_untracked = true;
        }
    }

    /// `SET [SESSION] tern_consistency = 'session' | 'global' | 'eventual'` and
    /// `SET [SESSION] tern_ddl = 'online' | 'native' | 'async'`.
    async fn tern_set(&mut self, sql: &[u8]) -> Result<(), SessionEnd> {
        let text = String::from_utf8_lossy(sql).to_ascii_lowercase();
        let value_after = |name: &str| {
            text.split_once(name)
                .and_then(|(_, rest)| rest.trim_start().strip_prefix('='))
                .map(|v| {
                    v.trim()
                        .trim_end_matches(';')
                        .trim()
                        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
                        .to_string()
                })
        };
        let bad_value =
            |name: &str, v: &str| format!("Variable '{name}' can't be set to the value of '{v}'");
        let reply = if text.contains("tern_ddl") {
            match value_after("tern_ddl") {
                Some(v) => match ddl::DdlMode::from_name(&v) {
                    Some(mode) => {
                        self.ddl_mode = mode;
                        Ok(())
                    }
                    None => Err(bad_value("tern_ddl", &v)),
                },
                None => Err("Unknown system variable".to_string()),
            }
        } else {
            match value_after("tern_consistency").as_deref() {
                Some("default") => {
                    self.consistency = Consistency::Session;
                    Ok(())
                }
                Some(v) => match Consistency::from_name(v) {
                    Some(mode) => {
                        self.consistency = mode;
                        Ok(())
                    }
                    None => Err(bad_value("tern_consistency", v)),
                },
                None => Err("Unknown system variable".to_string()),
            }
        };
        let result = match reply {
            Ok(()) => {
                let status = self.status_flags();
                self.client.send(1, &ok_payload(0, 0, status, 0)).await
            }
            Err(message) => {
                // The server's code for a bad value of a known variable.
                self.client
                    .send(
                        1,
                        &crate::protocol::packets::err_payload_with_state(1231, b"42000", &message),
                    )
                    .await
            }
        };
        result.map(|_| ()).map_err(|e| SessionEnd::Client(e.into()))
    }

    /// Runs a non-query command on the primary.
    async fn on_primary(&mut self, command: u8, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        self.forward(seq, payload).await?;
        self.last_replica = None;
        self.relay_primary(command).await.map(|_| ())
    }

    async fn primary_query(&mut self, seq: u8, payload: &[u8]) -> Result<RelayOutcome, SessionEnd> {
        self.forward(seq, payload).await?;
        self.relay_primary(COM_QUERY).await
    }

    async fn relay_primary(&mut self, command: u8) -> Result<RelayOutcome, SessionEnd> {
        let opts = RelayOptions {
            command,
            deprecate_eof: self.deprecate_eof,
            client_tracks: self.client_tracks,
        };
        match relay_response(&mut self.client, &mut self.primary, &opts).await {
            Ok(outcome) => {
                self.absorb(&outcome);
                Ok(outcome)
            }
            Err(RelayError::Client(e)) => Err(SessionEnd::Client(e)),
            Err(RelayError::Backend { error, .. } | RelayError::PrimaryClosed(error)) => {
                let how = ServerClose::from_frame(&error);
                end_like_backend(&mut self.client, &mut self.primary, how).await;
                Err(SessionEnd::Backend(BackendError::Lost(error)))
            }
        }
    }

    /// Takes in what a primary response said about the session.
    fn absorb(&mut self, outcome: &RelayOutcome) {
        if let Some(status) = outcome.status {
            self.in_transaction = status & IN_TRANS != 0;
            self.autocommit = status & AUTOCOMMIT != 0;
        }
        for g in &outcome.gtids {
            self.last_write.add(g);
        }
        if let Some(schema) = &outcome.schema {
            self.schema = Some(schema.clone());
        }
    }

    /// A read routed to replicas: find one that has (or soon has) what the read
    /// must see, else run it on the primary.
    async fn read(
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

    /// COM_STMT_PREPARE runs on the primary; Tern notes the statement so that its
    /// executes can run on replicas when they are plain reads.
    async fn prepare(&mut self, seq: u8, payload: Bytes) -> Result<(), SessionEnd> {
        self.forward(seq, &payload).await?;
        self.last_replica = None;
        let outcome = self.relay_primary(COM_STMT_PREPARE).await?;
        if let Some((id, params)) = outcome.prepared {
            let sql = payload.slice(1..);
            let (replica_safe, kind) = self.prepared_replica_safe(&sql);
            self.prepared.insert(
                id,
                PreparedStatement {
                    sql,
                    replica_safe,
                    params,
                    param_types: None,
                    long_data: false,
                    kind,
                    catalog_generation: self.shared.catalog.generation(),
                },
            );
        }
        Ok(())
    }

    /// Whether executes of `sql` may run on a replica when the session allows,
    /// judged as a plain read outside a transaction, and the statement's kind.
    fn prepared_replica_safe(&self, sql: &[u8]) -> (bool, StatementKind) {
        let c = classify_bytes(sql);
        let catalog = self.catalog_for(&c);
        let view = SessionView {
            in_transaction: false,
            autocommit: true,
            pinned: None,
            consistency: self.consistency,
            has_replicas: true,
            schema: self
                .schema
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok()),
            catalog: catalog.as_deref(),
        };
        let safe = matches!(
            plan(&c, &view, None),
            Plan::Send(Route {
                target: Target::Replica { .. },
                ..
            })
        );
        (safe, c.kind)
    }

    /// COM_STMT_EXECUTE: on a replica when the statement is a plain read, the
    /// session may read from replicas and no cursor is asked for.
    async fn execute(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        let started = std::time::Instant::now();
        let id = statement_id(payload);
        let mut to_replica = false;
        // The catalog changed since the statement was judged (a function it
        // calls may write now, or the schema moved): judge it again.
        let generation = self.shared.catalog.generation();
        if let Some(sql) = id
            .and_then(|id| self.prepared.get(&id))
            .filter(|ps| ps.kind == StatementKind::Select && ps.catalog_generation != generation)
            .map(|ps| ps.sql.clone())
        {
            let (safe, _) = self.prepared_replica_safe(&sql);
            if let Some(ps) = id.and_then(|id| self.prepared.get_mut(&id)) {
                ps.replica_safe = safe;
                ps.catalog_generation = generation;
            }
        }
        if let Some(ps) = id.and_then(|id| self.prepared.get_mut(&id)) {
            if let Some(types) = execute_param_types(payload, ps.params) {
                ps.param_types = Some(types.to_vec());
            }
            let cursor = payload.get(5).is_some_and(|flags| *flags != 0);
            to_replica = ps.replica_safe
                && !ps.long_data
                && !cursor
                && !self.shared.replicas.is_empty()
                && !self.in_transaction
                && self.autocommit
                && self.pins.reason().is_none();
        }
        match (to_replica, id) {
            (true, Some(id)) => {
                let route = Route {
                    target: Target::Replica { group: None },
                    consistency: self.consistency,
                    after: None,
                    why: "prepared read",
                };
                let outcome = self
                    .read(&route, seq, ReadCommand::Execute { id, payload })
                    .await?;
                self.record_execute(id, started, &outcome);
                Ok(())
            }
            _ => {
                if !self.shared.migrations.gate.is_idle() {
                    if let Some(sql) = id
                        .and_then(|id| self.prepared.get(&id))
                        .map(|ps| ps.sql.clone())
                    {
                        self.pass_write_gate(&classify_bytes(&sql)).await;
                    }
                }
                let ddl = id
                    .and_then(|id| self.prepared.get(&id))
                    .is_some_and(|ps| ps.kind == StatementKind::Ddl);
                if ddl {
                    self.shared.catalog.invalidate();
                }
                self.forward(seq, payload).await?;
                self.last_replica = None;
                let outcome = self.relay_primary(COM_STMT_EXECUTE).await?;
                if ddl {
                    self.shared.catalog.invalidate();
                }
                if let Some(id) = id {
                    self.record_execute(id, started, &outcome);
                }
                Ok(())
            }
        }
    }

    fn record_execute(&self, id: u32, started: std::time::Instant, outcome: &RelayOutcome) {
        let kind = self
            .prepared
            .get(&id)
            .map_or(StatementKind::Other, |ps| ps.kind);
        self.record_statement(kind, started, outcome);
    }

    /// Metrics for one statement, on the server that answered it.
    fn record_statement(
        &self,
        kind: StatementKind,
        started: std::time::Instant,
        outcome: &RelayOutcome,
    ) {
        let route = if self.last_replica.is_some() {
            RouteLabel::Replica
        } else {
            RouteLabel::Primary
        };
        let code = if outcome.error { outcome.error_code } else { 0 };
        self.shared
            .metrics
            .record_query(route, kind, started.elapsed(), code);
    }

    /// The execute packet for replica `idx`: the statement prepared there first
    /// if needed, its id swapped in, and parameter types added when the client
    /// omitted them (it sent them to the primary's copy earlier).
    async fn replica_execute_packet(
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
            let mut cmd = Vec::with_capacity(sql.len() + 1);
            cmd.push(COM_STMT_PREPARE);
            cmd.extend_from_slice(&sql);
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
        let mut out = payload.to_vec();
        out.get_mut(1..5)?.copy_from_slice(&st.id.to_le_bytes());
        if params > 0 && !st.typed {
            let bound_at = 10 + (params as usize).div_ceil(8);
            if *out.get(bound_at)? == 0 {
                let types = types?;
                out[bound_at] = 1;
                out.splice(bound_at + 1..bound_at + 1, types);
            }
        }
        Some(out)
    }

    /// COM_STMT_CLOSE: on the primary and on every replica that has a copy. No
    /// reply is expected from any of them.
    async fn close_statement(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        if let Some(id) = statement_id(payload) {
            self.prepared.remove(&id);
            let mut failed = Vec::new();
            for (idx, slot) in self.replicas.iter_mut().enumerate() {
                if let Some(link) = slot {
                    if let Some(st) = link.statements.remove(&id) {
                        let mut cmd = vec![COM_STMT_CLOSE];
                        cmd.extend_from_slice(&st.id.to_le_bytes());
                        if link.conn.send(0, &cmd).await.is_err() {
                            failed.push(idx);
                        }
                    }
                }
            }
            for idx in failed {
                self.replicas[idx] = None;
            }
        }
        self.forward(seq, payload).await
    }

    /// What the read must see, or None when only the primary can tell (a global
    /// read whose primary position could not be read).
    async fn required_position(&mut self, route: &Route) -> Option<GtidSet> {
        // Without the server reporting commits' GTIDs, a session's own writes are
        // invisible to Tern: only the primary's whole position is a safe bound.
        let consistency = match route.consistency {
            Consistency::Session
                if self.own_gtids_untracked || !self.shared.primary_history.gtids_tracked() =>
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
    async fn prepare_link(&mut self, idx: usize) -> Result<(), BackendError> {
        if self.replicas[idx].is_none() {
            let node = &self.shared.replicas[idx];
            let (conn, _ok) =
                BackendConn::connect(&node.target, &self.identity.backend_login()).await?;
            let counted = super::ConnectionCount::new(&node.connections);
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
            let mut cmd = Vec::with_capacity(schema.len() + 1);
            cmd.push(COM_INIT_DB);
            cmd.extend_from_slice(schema);
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
    async fn on_replica(
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
        let opts = RelayOptions {
            command,
            deprecate_eof: self.deprecate_eof,
            client_tracks: self.client_tracks,
        };
        let timeout = self.shared.settings.read_wait_timeout;
        let Some(link) = self.replicas[idx].as_mut() else {
            return Ok(ReplicaRead::Failed);
        };
        if let Some(required) = wait {
            let sql = crate::gtid::wait_statement(required, timeout);
            let mut cmd = Vec::with_capacity(sql.len() + 1);
            cmd.push(COM_QUERY);
            cmd.extend_from_slice(sql.as_bytes());
            let reached = match link.conn.send_pair(&cmd, seq, payload).await {
                Ok(()) => link.conn.internal_reply(opts.deprecate_eof).await,
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
                    return Ok(ReplicaRead::Failed);
                }
            };
            if !reached {
                if let Err(e) = link
                    .conn
                    .discard_response(command, opts.deprecate_eof)
                    .await
                {
                    self.replica_failed(idx, &e.to_string());
                }
                return Ok(ReplicaRead::TooFarBehind);
            }
            self.shared.replicas[idx].health.note_applied(required);
        } else if let Err(e) = link.conn.send(seq, payload).await {
            self.replica_failed(idx, &e.to_string());
            return Ok(ReplicaRead::Failed);
        }
        let Some(link) = self.replicas[idx].as_mut() else {
            return Ok(ReplicaRead::Failed);
        };
        match relay_replica_response(&mut self.client, &mut link.conn, &mut self.primary, &opts)
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

    /// Forgets session state after COM_RESET_CONNECTION or COM_CHANGE_USER (the
    /// server reset it). Replica connections are closed: reopening is simpler
    /// than resetting each and cannot leave stale state behind.
    fn reset_session_state(&mut self, schema: Option<Vec<u8>>) {
        self.pins = Pins::default();
        self.own_gtids_untracked = false;
        self.consistency = Consistency::Session;
        self.ddl_mode = ddl::DdlMode::default();
        self.replay_log.clear();
        self.prepared.clear();
        self.schema = schema;
        self.last_replica = None;
        for slot in &mut self.replicas {
            *slot = None;
        }
    }

    /// A cheap first look: is this a KILL that may name a Tern session id?
    fn names_tern_session(&self, payload: &[u8]) -> bool {
        match payload.first() {
            Some(&COM_PROCESS_KILL) => true,
            Some(&COM_QUERY) => payload
                .iter()
                .skip(1)
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| b.eq_ignore_ascii_case(&b'k')),
            _ => false,
        }
    }

    /// `KILL QUERY` of a session whose read runs on a replica: stops it there
    /// first, as this session's own user (so the server's rules on whose
    /// queries a user may kill apply there too). The KILL then goes to the
    /// primary as usual, and its answer is the client's.
    async fn kill_replica_query(&mut self, payload: &[u8]) {
        if payload.first() != Some(&COM_QUERY) {
            return;
        }
        let Some((idx, thread)) =
            super::kill::replica_query_to_kill(&payload[1..], &self.shared.sessions)
        else {
            return;
        };
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

    /// Rewrites a KILL of a Tern session id to the session's backend thread id.
    fn translate_kill(&self, payload: &[u8]) -> Vec<u8> {
        let registry = &self.shared.sessions;
        if payload[0] == COM_PROCESS_KILL {
            if let Some(id) = payload
                .get(1..5)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            {
                if let Some(backend) = registry.backend_of(id) {
                    let mut out = vec![COM_PROCESS_KILL];
                    out.extend_from_slice(&backend.to_le_bytes());
                    return out;
                }
            }
            return payload.to_vec();
        }
        match super::kill::translate_kill(&payload[1..], registry) {
            Some(sql) => [&[COM_QUERY][..], &sql].concat(),
            None => payload.to_vec(),
        }
    }

    /// Sends a client packet on to the primary; if that fails, the client's
    /// connection ends the way the primary's did.
    async fn forward(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        if let Err(e) = self.primary.send(seq, payload).await {
            let how = ServerClose::from_backend(&e);
            end_like_backend(&mut self.client, &mut self.primary, how).await;
            return Err(SessionEnd::Backend(e));
        }
        Ok(())
    }

    /// COM_CHANGE_USER: authenticate the new user for real, then log the backend
    /// connection in as that user (which resets its session, as on the server).
    async fn change_user(&mut self, payload: &[u8]) -> Result<(), SessionEnd> {
        let caps = self.identity.capabilities;
        let Some(request) = ChangeUserRequest::parse(
            payload,
            caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION),
            caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH),
            caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS),
        ) else {
            // The server answers a body it cannot read as a change of user
            // with "Unknown command" (after a pause of about a second) and
            // keeps the session as it was.
            self.client
                .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                .await;
            return Ok(());
        };
        let user = String::from_utf8_lossy(&request.user).into_owned();
        let plugin = request
            .plugin
            .clone()
            .unwrap_or_else(|| NATIVE_PASSWORD.as_bytes().to_vec());
        let collation = request.collation.unwrap_or(self.identity.collation as u16);

        // COM_CHANGE_USER's response answers the greeting's nonce.
        let (proof, seq) = client_proof(
            &self.shared,
            &mut self.client,
            &user,
            &plugin,
            self.identity.nonce,
            &request.auth_data,
            1,
        )
        .await
        .map_err(SessionEnd::Client)?;
        let stage1 = match authenticate(&self.shared, &self.client, &user, &proof).await {
            Ok(s) => s,
            Err(message) => {
                // As on the server, a refused change of user leaves the session
                // as it was; the backend has not been touched.
                self.client
                    .send_err(seq, ER_ACCESS_DENIED_ERROR, &message)
                    .await;
                return Ok(());
            }
        };
        let previous = (
            std::mem::replace(&mut self.identity.user, user),
            std::mem::replace(&mut self.identity.stage1, stage1),
        );
        self.identity.database = request.database.clone();
        self.identity.collation = collation as u8;
        if let Some(attrs) = request.attributes {
            self.identity.attributes = Some(attrs.into_iter().collect());
        }
        match self
            .primary
            .change_user(&self.identity.backend_login())
            .await
        {
            Ok(ok) => {
                // COM_CHANGE_USER resets the server session: so does Tern.
                self.reset_session_state(request.database.clone());
                let mut outcome = RelayOutcome::default();
                observe_ok(&ok, &mut outcome);
                self.absorb(&outcome);
                let mut scratch = BytesMut::new();
                let out = client_ok(&ok, self.client_tracks, &mut scratch);
                self.client
                    .send(seq, out)
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
                Ok(())
            }
            Err(BackendError::Refused(err)) => {
                // The server keeps its old user on a refused change; so do we.
                self.identity.user = previous.0;
                self.identity.stage1 = previous.1;
                self.client
                    .send(seq, &err)
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
                Ok(())
            }
            Err(e) => {
                self.client.close_like(ServerClose::from_backend(&e)).await;
                Err(SessionEnd::Backend(e))
            }
        }
    }
}

/// The statement id of a COM_STMT_* packet.
fn statement_id(payload: &[u8]) -> Option<u32> {
    payload
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The parameter types a COM_STMT_EXECUTE carries, if it carries them:
/// command, id (4), flags, iteration count (4), NULL bitmap, "new params bound"
/// flag, then two bytes per parameter.
fn execute_param_types(payload: &[u8], params: u16) -> Option<&[u8]> {
    if params == 0 {
        return None;
    }
    let bound_at = 10 + (params as usize).div_ceil(8);
    if *payload.get(bound_at)? != 1 {
        return None;
    }
    payload.get(bound_at + 1..bound_at + 1 + 2 * params as usize)
}

fn expect_ok(reply: InternalReply) -> Result<(), BackendError> {
    match reply {
        InternalReply::Ok | InternalReply::Rows(_) => Ok(()),
        InternalReply::Err { code, message } => Err(BackendError::Protocol(format!(
            "replaying session state failed: {code} {message}"
        ))),
    }
}

fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// After a session `SET session_track_system_variables = ...`: whether the
/// server still reports the session's commit GTIDs (the list names `last_gtid`
/// or `*`, or is the global default). `None` for any other statement, and for
/// `SET GLOBAL` or `SET STATEMENT ... FOR`, which leave the session's list alone.
fn tracks_own_gtids(sql: &[u8]) -> Option<bool> {
    const NAME: &[u8] = b"session_track_system_variables";
    let at = sql
        .windows(NAME.len())
        .position(|w| w.eq_ignore_ascii_case(NAME))?;
    let (before, value) = sql.split_at(at + NAME.len());
    if contains_ci(before, b"GLOBAL") || contains_ci(before, b"STATEMENT") {
        return None;
    }
    Some(
        contains_ci(value, b"last_gtid") || value.contains(&b'*') || contains_ci(value, b"DEFAULT"),
    )
}

/// `SHOW WARNINGS`, `SHOW ERRORS`, `SHOW COUNT(*) WARNINGS`: they describe the
/// previous statement, wherever it ran.
fn is_diagnostics_query(sql: &[u8]) -> bool {
    let trimmed = sql.trim_ascii_start();
    trimmed.len() >= 4
        && trimmed[..4].eq_ignore_ascii_case(b"SHOW")
        && (contains_ci(trimmed, b"WARNINGS") || contains_ci(trimmed, b"ERRORS"))
}

/// Can this SET statement be replayed on a replica connection to give it the
/// session's state? Only session-scoped assignments qualify: never GLOBAL ones,
/// passwords or roles' defaults (writes), `SET STATEMENT ... FOR` (one statement),
/// bare `SET TRANSACTION` (the next transaction only), autocommit (a replica
/// connection must never hold a transaction open), or user variables (their
/// values are computed on the primary).
fn is_replayable_set(c: &Classified<'_>, sql: &[u8]) -> bool {
    if c.side_effects || c.reads_user_variables || c.multi_statement || !c.pins.is_empty() {
        return false;
    }
    if c.sets_autocommit.is_some() {
        return false;
    }
    let text = sql.trim_ascii_start();
    let after_set = text.get(3..).unwrap_or_default().trim_ascii_start();
    let first_word: &[u8] = after_set
        .split(|b| !b.is_ascii_alphanumeric() && *b != b'_')
        .next()
        .unwrap_or_default();
    for banned in [
        &b"GLOBAL"[..],
        b"PASSWORD",
        b"DEFAULT",
        b"STATEMENT",
        b"TRANSACTION",
    ] {
        if first_word.eq_ignore_ascii_case(banned) {
            return false;
        }
    }
    !contains_ci(text, b"GLOBAL")
}

#[cfg(test)]
mod tests {
    use super::tracks_own_gtids;

    #[test]
    fn a_session_tracking_list_without_last_gtid_is_noticed() {
        let t = |sql: &str| tracks_own_gtids(sql.as_bytes());
        assert_eq!(
            t("SET session_track_system_variables='auto_increment_increment'"),
            Some(false)
        );
        assert_eq!(
            t("SET SESSION session_track_system_variables = 'autocommit,last_gtid'"),
            Some(true)
        );
        assert_eq!(t("set @@session_track_system_variables='*'"), Some(true));
        assert_eq!(
            t("SET session_track_system_variables = DEFAULT"),
            Some(true)
        );
        assert_eq!(t("SET GLOBAL session_track_system_variables = ''"), None);
        assert_eq!(
            t("SET STATEMENT session_track_system_variables='' FOR SELECT 1"),
            None
        );
        assert_eq!(t("SET NAMES utf8mb4"), None);
    }
}
