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
//!   (or whatever the consistency mode requires), and every table change made
//!   through Tern to a table it names, else it waits a bounded time on the
//!   replica, else it runs on the primary;
//! - when the primary connection dies (under a command or while idle), the
//!   client gets what the server sent before closing and then the same kind of
//!   close, with no packet of Tern's own, and the session ends (its server-side
//!   state is gone); when a replica connection dies before any of its answer was
//!   relayed, the read is retried elsewhere, and after part of it was, the
//!   client's connection is closed as the replica's was.
//!
//! Rooms: this file keeps the command loop, query dispatch and the session's
//! state; `replica.rs` the replica side of reads, `prepared.rs` the binary
//! protocol's statements, `ddl.rs` table changes and the write gate,
//! `table_changes.rs` what other sessions' replica reads must see of them,
//! `admin.rs` Tern's own statements, `kill.rs` KILL.

mod admin;
mod ddl;
mod kill;
mod prepared;
mod replica;
mod table_changes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use tern_rules::{Consistency, Decision, RuleSet, StatementFacts, StatementKind};

use super::client::{ClientConn, ServerClose};
use super::login::{authenticate, client_proof, Identity};
use super::relay::{
    await_command, client_ok, end_like_backend, observe_ok, relay_response, RelayError,
    RelayOptions, RelayOutcome,
};
use super::Shared;
use crate::admin::metrics::RouteLabel;
use crate::backend::catalog::{Catalog, CatalogSnapshot};
use crate::backend::conn::{BackendConn, InternalReply};
use crate::backend::BackendError;
use crate::gtid::GtidSet;
use crate::protocol::auth::{NativeStage1, NATIVE_PASSWORD};
use crate::protocol::command::*;
use crate::protocol::errcode::*;
use crate::protocol::framing::{FrameError, Packet};
use crate::protocol::packets::{command, err_payload_with_state, ChangeUserRequest};
use crate::protocol::resultset::{write_text_result, ResultShape};
use crate::protocol::status::{AUTOCOMMIT, IN_TRANS};
use crate::route::{plan, Pins, Plan, Route, SessionView, Target};
use crate::sql::admin::parse as parse_tern_statement;
use crate::sql::classify::{classify_bytes, Classified};
use crate::sql::session_statements;
use prepared::PreparedStatement;
use replica::{ReadCommand, ReplicaLink, ReplicaRead};

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
    /// A statement failed on the primary outside a transaction. It may still
    /// have changed rows that stay (a multi-row INSERT into a MyISAM table
    /// keeps the rows before the failing one), and an error reports no GTID:
    /// the next read waits for the primary's whole position, once.
    unreported_change: bool,
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
            unreported_change: false,
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
            let packet = match self.next_command().await {
                Ok(Some(packet)) => packet,
                Ok(None) => continue,
                Err(end) => return end,
            };
            let _busy = busy.enter();
            if let Err(end) = self.dispatch(packet).await {
                return end;
            }
        }
    }

    /// Waits for the client's next command (watching the idle primary
    /// connection meanwhile) and reads it. `None` for a packet answered here
    /// that is no command at all.
    async fn next_command(&mut self) -> Result<Option<Packet>, SessionEnd> {
        self.client.reader.shrink_if_idle();
        self.primary.reader.shrink_if_idle();
        match await_command(&mut self.client, &mut self.primary).await {
            Ok(()) => {}
            Err(RelayError::Client(e)) => return Err(SessionEnd::Client(e)),
            Err(RelayError::Backend { error, .. } | RelayError::PrimaryClosed(error)) => {
                return Err(SessionEnd::Backend(BackendError::Lost(error)))
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
                return Err(SessionEnd::Client(FrameError::TooLarge { size, limit }));
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
                return Err(SessionEnd::Client(FrameError::OutOfOrder { expected, got }));
            }
            Err(e) => return Err(SessionEnd::Client(e)),
        };
        if packet.payload.is_empty() {
            self.client
                .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                .await;
            return Ok(None);
        }
        Ok(Some(packet))
    }

    /// Runs one client command. `Err` ends the session.
    async fn dispatch(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        let Some(&command) = packet.payload.first() else {
            return Ok(());
        };
        if !matches!(command, COM_QUERY | COM_PING) {
            // A condition Tern keeps for the session ends with the next statement.
            self.ddl_note = None;
        }
        match command {
            COM_QUIT => {
                // Tell the servers too, so they do not log aborted connections.
                let _ = self.primary.send(0, &[COM_QUIT]).await;
                for link in self.replicas.iter_mut().flatten() {
                    let _ = link.conn.send(0, &[COM_QUIT]).await;
                }
                Err(SessionEnd::Quit)
            }
            COM_CHANGE_USER => self.change_user(&packet.payload).await,
            COM_STMT_SEND_LONG_DATA => self.send_long_data(packet.seq, &packet.payload).await,
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
            COM_PROCESS_KILL => self.process_kill(packet.seq, &packet.payload).await,
            COM_QUERY => self.query(packet.seq, packet.payload).await,
            COM_RESET_CONNECTION => {
                let r = self.on_primary(command, packet.seq, &packet.payload).await;
                // The server keeps the default schema across a reset.
                self.reset_session_state(self.schema.clone());
                r
            }
            _ => self.on_primary(command, packet.seq, &packet.payload).await,
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

    /// COM_QUERY: Tern's own statements and KILL first; everything else is
    /// classified, checked against rules and hints, and run where the plan says.
    async fn query(&mut self, seq: u8, payload: Bytes) -> Result<(), SessionEnd> {
        let started = Instant::now();
        let sql = &payload[1..];
        let text = std::str::from_utf8(sql).ok();
        if let Some(statement) = text.and_then(parse_tern_statement) {
            return self.tern_statement(seq, &payload, statement).await;
        }
        // Text in another charset than UTF-8 (a latin1 literal) is classified on
        // a lossy copy: identifiers are ASCII either way, and a rule blocking a
        // table must not be bypassed by one non-UTF-8 byte in a string.
        let lossy = match text {
            Some(_) => None,
            None => Some(String::from_utf8_lossy(sql).into_owned()),
        };
        let c = match &lossy {
            Some(text) => crate::sql::classify::classify(text),
            None => classify_bytes(sql),
        };
        if let Some(outcome) = self.diagnostics_with_note(seq, &payload).await? {
            self.record_statement(c.kind, started, &outcome);
            return Ok(());
        }
        let rules = self.shared.current_rules();
        let decision = self.rule_decision(&rules, &c, lossy.as_deref().or(text).unwrap_or(""));
        let changes_catalog =
            (c.kind == StatementKind::Ddl || c.multi_statement) && Catalog::ddl_may_change(sql);
        if changes_catalog {
            // Stale while the change runs, and read again once it is done.
            self.shared.catalog.invalidate();
        }
        let planned = {
            let catalog = self.catalog_for(&c);
            plan(
                &c,
                &self.session_view(catalog.as_deref()),
                decision.as_ref(),
            )
        };
        let route = match planned {
            Plan::Reject(reject) => {
                let err = err_payload_with_state(reject.code, &reject.sqlstate, &reject.message);
                return self.send_client(1, &err).await;
            }
            Plan::Send(route) => route,
        };
        let Some(outcome) = self.run_query(seq, &payload, &c, &route).await? else {
            return Ok(());
        };
        if changes_catalog {
            self.shared.catalog.invalidate();
        }
        if c.multi_statement && !outcome.gtids.is_empty() {
            // A single table change was recorded before its answer went out
            // (ddl.rs); one inside a text of several statements is recorded
            // once the whole answer has.
            self.note_table_change(&c, sql, &outcome.gtids).await;
        }
        self.after_query(&c, &payload, &outcome);
        self.record_statement(c.kind, started, &outcome);
        Ok(())
    }

    /// What the routing rules say of a statement; `None` without rules.
    fn rule_decision<'r>(
        &self,
        rules: &'r RuleSet,
        c: &Classified<'_>,
        text: &str,
    ) -> Option<Decision<'r>> {
        if rules.is_empty() {
            return None;
        }
        let facts = StatementFacts {
            kind: c.kind,
            tables: c.tables.as_slice(),
            user: &self.identity.user,
            schema: self.schema_name(),
            client_addr: self.client.peer.ip(),
            text,
            hints: c.hints.as_slice(),
        };
        Some(rules.evaluate(&facts))
    }

    /// Runs a routed statement. `None` when the client has been answered
    /// without a relayed response to learn from (an online table change).
    async fn run_query(
        &mut self,
        seq: u8,
        payload: &Bytes,
        c: &Classified<'_>,
        route: &Route,
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        // SHOW is of kind Other: the kind spares writes and reads the check.
        if route.target == Target::Primary
            && self.last_replica.is_some()
            && match c.kind {
                StatementKind::Other => session_statements::is_diagnostics_query(
                    &String::from_utf8_lossy(&payload[1..]),
                ),
                StatementKind::Select => session_statements::asks_about_previous_statement(
                    &String::from_utf8_lossy(&payload[1..]),
                ),
                _ => false,
            }
        {
            if let Some(outcome) = self.diagnostics_on_last_replica(seq, payload).await? {
                return Ok(Some(outcome));
            }
        }
        if ddl::is_table_change(c) {
            self.last_replica = None;
            return self.table_change(seq, payload, c).await;
        }
        let outcome = match &route.target {
            Target::Primary => {
                self.last_replica = None;
                self.pass_write_gate(c).await;
                self.primary_query(seq, payload).await?
            }
            Target::Replica { .. } => self.read(route, seq, ReadCommand::Query(payload)).await?,
        };
        Ok(Some(outcome))
    }

    /// Warnings belong to the server that ran the last statement: a
    /// diagnostics statement (or `SELECT @@warning_count`, `FOUND_ROWS()`)
    /// after a read on a replica runs there.
    async fn diagnostics_on_last_replica(
        &mut self,
        seq: u8,
        payload: &[u8],
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        let Some(idx) = self.last_replica else {
            return Ok(None);
        };
        if !self.replicas.get(idx).is_some_and(Option::is_some) {
            return Ok(None);
        }
        match self.on_replica(idx, COM_QUERY, seq, payload, None).await? {
            ReplicaRead::Served(outcome) => Ok(Some(outcome)),
            _ => Ok(None),
        }
    }

    /// The session as routing sees it.
    fn session_view<'a>(&'a self, catalog: Option<&'a CatalogSnapshot>) -> SessionView<'a> {
        SessionView {
            in_transaction: self.in_transaction,
            autocommit: self.autocommit,
            pinned: self.pins.reason(),
            consistency: self.consistency,
            has_replicas: !self.shared.replicas.is_empty(),
            schema: self.schema_name(),
            catalog,
            schema_changes: Some(&self.shared.schema_changes),
        }
    }

    /// The default schema, when it is UTF-8 text.
    fn schema_name(&self) -> Option<&str> {
        self.schema
            .as_deref()
            .and_then(|s| std::str::from_utf8(s).ok())
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
            let sql = String::from_utf8_lossy(&payload[1..]);
            if let Some(tracked) = session_statements::tracks_own_gtids(&sql) {
                self.own_gtids_untracked = !tracked;
            }
            // SHOW PROFILES and the optimizer trace describe the session's own
            // statements: from now on they all run where those are kept.
            if session_statements::sets_self_inspection(&sql) {
                self.pins.self_inspection = true;
            }
        }
        self.check_commit_reported(c, outcome);
        if outcome.error
            && !self.in_transaction
            && self.last_replica.is_none()
            && !matches!(c.kind, StatementKind::Set | StatementKind::Transaction)
        {
            self.unreported_change = true;
        }
        if c.kind == StatementKind::Set && !c.routine_calls.is_empty() && !outcome.error {
            // Replaying it would call the function again on each replica, which
            // may write there; without the replay the replicas lack the value.
            self.pins.too_much_state = true;
            return;
        }
        if outcome.error || c.kind != StatementKind::Set {
            return;
        }
        let sql = String::from_utf8_lossy(&payload[1..]);
        if !is_replayable_set(c, &payload[1..]) {
            // A session variable set from a user variable (which replicas
            // lack), or with others in one text: the replicas' connections
            // would keep the old value, and reads there would answer with it.
            if session_statements::sets_session_variable(&sql) {
                self.pins.too_much_state = true;
            }
            return;
        }
        if session_statements::sets_auto_is_null(&sql) {
            self.pins.too_much_state = true;
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

    /// Forgets session state after COM_RESET_CONNECTION or COM_CHANGE_USER (the
    /// server reset it). Replica connections are closed: reopening is simpler
    /// than resetting each and cannot leave stale state behind.
    fn reset_session_state(&mut self, schema: Option<Vec<u8>>) {
        self.pins = Pins::default();
        self.own_gtids_untracked = false;
        self.unreported_change = false;
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
        self.log_backend_in_as(seq, request, user, stage1).await
    }

    /// The second half of COM_CHANGE_USER: the client proved who it is; the
    /// primary connection now logs in as that user, and the client gets the
    /// server's answer (numbered `seq`).
    async fn log_backend_in_as(
        &mut self,
        seq: u8,
        request: ChangeUserRequest,
        user: String,
        stage1: Option<NativeStage1>,
    ) -> Result<(), SessionEnd> {
        let collation = request.collation.unwrap_or(self.identity.collation as u16);
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

    /// The status flags of an answer of Tern's own.
    fn status_flags(&self) -> u16 {
        let mut status = 0;
        if self.in_transaction {
            status |= IN_TRANS;
        }
        if self.autocommit {
            status |= AUTOCOMMIT;
        }
        status
    }

    async fn send_client(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        self.client
            .send(seq, payload)
            .await
            .map(|_| ())
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// An error of Tern's own, as the first packet of the answer.
    async fn send_error(
        &mut self,
        code: u16,
        state: &str,
        message: &str,
    ) -> Result<(), SessionEnd> {
        self.send_error_at(1, code, state, message).await
    }

    /// An error of Tern's own as packet `seq` of the answer (after progress
    /// reports, say).
    async fn send_error_at(
        &mut self,
        seq: u8,
        code: u16,
        state: &str,
        message: &str,
    ) -> Result<(), SessionEnd> {
        let mut sqlstate = [b'H', b'Y', b'0', b'0', b'0'];
        if state.len() == 5 {
            sqlstate.copy_from_slice(state.as_bytes());
        }
        let payload = err_payload_with_state(code, &sqlstate, message);
        self.send_client(seq, &payload).await
    }

    /// A text result set of Tern's own.
    async fn send_rows(
        &mut self,
        columns: &[&str],
        rows: &[Vec<Option<String>>],
    ) -> Result<(), SessionEnd> {
        let shape = ResultShape {
            deprecate_eof: self.deprecate_eof,
            extended_metadata: self
                .identity
                .mariadb_capabilities
                .contains(MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA),
            status: self.status_flags(),
        };
        let mut out = BytesMut::new();
        write_text_result(&mut out, &shape, columns, rows);
        self.client
            .send_built(&out)
            .await
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// Runs a small query of Tern's own on the session's primary connection.
    async fn own_query(&mut self, sql: &str) -> Result<InternalReply, SessionEnd> {
        let payload = command(COM_QUERY, sql.as_bytes());
        match self.primary.internal(&payload, self.deprecate_eof).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.client.close_like(ServerClose::from_backend(&e)).await;
                Err(SessionEnd::Backend(e))
            }
        }
    }
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
    let text = String::from_utf8_lossy(sql);
    let first_word = session_statements::set_first_word(&text).unwrap_or_default();
    for banned in ["GLOBAL", "PASSWORD", "DEFAULT", "STATEMENT", "TRANSACTION"] {
        if first_word.eq_ignore_ascii_case(banned) {
            return false;
        }
    }
    !session_statements::sets_global(&text)
}
