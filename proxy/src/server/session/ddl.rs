//! A session's side of online ALTER: table changes handed to the migration
//! engine, the `tern_ddl` mode, and the write gate (Tern's statements that
//! steer migrations are in `admin.rs`).
//!
//! Tern never changes what the server would answer: a change it cannot run
//! online runs as the server's own ALTER, exactly as sent, and never gets an
//! error of Tern's in place of the server's answer (strict mode excepted, on
//! request). Decision order for ALTER TABLE, CREATE INDEX and DROP INDEX ... ON:
//! 1. As sent, silently: `tern_ddl = 'native'` or a `/* tern:native */` hint,
//!    a statement that names `ALGORITHM=` or `LOCK=` (or `ALTER ONLINE`: the
//!    client chose how the server runs it, and the server's refusal is its
//!    answer), a table in a system schema (`mysql`, `sys`,
//!    `performance_schema`, `information_schema`), and statements that are not
//!    table changes at all.
//! 2. As sent, with a Note: a session holding LOCK TABLES, temporary tables or
//!    `sql_log_bin = 0`, and forms a shadow copy cannot express (partitioning,
//!    tablespaces, renaming the table, `ORDER BY`, `ALTER IGNORE`).
//! 3. Ask the server to do it without a copy, as the client's own user and
//!    with the client's own text (`SET STATEMENT alter_algorithm=... FOR
//!    <statement>`, so privileges and plain mistakes are answered by the
//!    server): `INSTANT`, then `NOCOPY` unless it builds an index (an index
//!    build on a big table is long and replays serially on every replica).
//! 4. Otherwise an online migration; the client gets the OK when the change is
//!    live, or with `tern_ddl = 'async'` / `/* tern:async */` a result set with
//!    the migration id at once. `/* tern:postpone */` stops it before the
//!    cut-over until `TERN COMPLETE <id>`. A table the engine refuses (no
//!    usable key, triggers, foreign keys, a non-transactional engine, ...)
//!    runs as sent with a Note, or with `tern_ddl = 'online_strict'` gets
//!    ERROR 1846.
//!
//! The Note (level `Note`, code 1846, the server's ER_ALTER_OPERATION_NOT_
//! SUPPORTED_REASON, whose text shape it borrows) is counted in the OK
//! packet's warnings and merged into the session's next diagnostics
//! statements (see [`note`]).

mod note;
mod turn;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mysql_common::constants::MariadbCapabilities;

use super::{Session, SessionEnd};
use crate::backend::conn::InternalReply;
use crate::backend::BackendError;
use crate::gtid::GtidSet;
use crate::migrate::plan::in_place_probe;
pub use crate::migrate::plan::DdlMode;
use crate::migrate::{AlterRequest, MigrateError, Migration};
use crate::protocol::command::COM_QUERY;
use crate::protocol::errcode::{self, ER_LOCK_WAIT_TIMEOUT};
use crate::protocol::framing::frame_len;
use crate::protocol::packets::{command, is_progress_report, parse_err, progress_payload};
use crate::server::client::ServerClose;
use crate::server::relay::{client_ok, observe_ok, RelayOutcome};
use crate::sql::alter::{plan, AlterPlan, OnlineAlter};
use crate::sql::classify::Classified;
pub(super) use note::PendingConditions;
use tern_rules::StatementKind;

/// Schemas whose tables belong to the server: never migrated online.
const SYSTEM_SCHEMAS: &[&str] = &["mysql", "sys", "performance_schema", "information_schema"];

/// ER_ALTER_OPERATION_NOT_SUPPORTED and ..._REASON: the server cannot do it in place.
const ER_ALTER_NOT_SUPPORTED: u16 = errcode::ER_ALTER_OPERATION_NOT_SUPPORTED;
const ER_ALTER_NOT_SUPPORTED_REASON: u16 = errcode::ER_ALTER_OPERATION_NOT_SUPPORTED_REASON;

/// Is this DDL one Tern may run online? DDL is rare: the plan (a lexer pass)
/// decides for real.
pub fn is_table_change(c: &Classified<'_>) -> bool {
    c.kind == StatementKind::Ddl && !c.multi_statement
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeekedPacket {
    Ok,
    Progress,
    /// An ERR or a result set: relayed as the server sent it.
    Other,
}

/// How a change of a table no migration runs on ended.
enum Changed {
    /// The client has its answer; the outcome when the primary gave it.
    Answered(Option<RelayOutcome>),
    /// A migration of the table started meanwhile (another session's change
    /// won the race for it): the change waits its turn again.
    Busy,
}

enum Probe {
    /// The server answered (done natively, or an error the client must see).
    Answered,
    /// The server needs a copy: run it online.
    NeedsCopy,
}

impl Session {
    /// A write that would touch a table being frozen waits here, bounded.
    pub(super) async fn pass_write_gate(&self, c: &Classified<'_>) {
        let gate = &self.shared.migrations.gate;
        if gate.is_idle() || self.in_transaction {
            // Inside a transaction the statement may hold locks the freeze
            // waits for: let it run into the database lock instead.
            return;
        }
        if !matches!(
            c.kind,
            StatementKind::Insert
                | StatementKind::Update
                | StatementKind::Delete
                | StatementKind::Replace
        ) {
            return;
        }
        let bound = self.shared.migrations.settings().hold_bound + Duration::from_secs(1);
        let session_schema = self
            .schema
            .as_deref()
            .and_then(|s| std::str::from_utf8(s).ok());
        for t in c.tables.as_slice() {
            let Some(schema) = t.schema.or(session_schema) else {
                continue;
            };
            if let Some(waited) = gate.pass(schema, t.name, bound).await {
                tracing::debug!(
                    table = t.name,
                    waited_ms = waited.as_millis() as u64,
                    "write held at the gate"
                );
            }
        }
    }

    /// ALTER TABLE, CREATE INDEX, DROP INDEX. Returns the outcome when the
    /// statement was relayed to the primary.
    pub(super) async fn table_change(
        &mut self,
        seq: u8,
        payload: &Bytes,
        c: &Classified<'_>,
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        let mode = if c.hints.get("native").is_some() {
            DdlMode::Native
        } else if c.hints.get("async").is_some() {
            DdlMode::Async
        } else {
            self.ddl_mode
        }
        .or_configured(self.shared.migrations.settings().ddl_mode);
        if mode == DdlMode::Native {
            return self.as_sent(seq, payload, c).await;
        }
        let alter = match std::str::from_utf8(&payload[1..]).map(plan) {
            Ok(AlterPlan::Online(a)) => a,
            Ok(AlterPlan::NotTableChange) => return self.as_sent(seq, payload, c).await,
            Ok(AlterPlan::Native(why)) => return self.run_natively(seq, payload, c, why).await,
            Err(_) => {
                return self
                    .run_natively(seq, payload, c, "the statement is not UTF-8 text")
                    .await
            }
        };
        let schema = alter.table.schema.clone().or_else(|| {
            self.schema
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok())
                .map(str::to_string)
        });
        let Some(schema) = schema else {
            // No database selected: the server says so.
            return self.as_sent(seq, payload, c).await;
        };
        if SYSTEM_SCHEMAS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&schema))
        {
            return self.as_sent(seq, payload, c).await;
        }
        // A second change of a table being migrated waits for that migration
        // to end, then is planned against the table as it left it.
        let mut turn = None;
        loop {
            if let turn::Turn::Answered = self
                .wait_table_turn(&schema, &alter.table.name, mode, &mut turn)
                .await?
            {
                return Ok(None);
            }
            let postponed = c.hints.get("postpone").is_some();
            match self
                .change_table(
                    seq,
                    payload,
                    c,
                    mode,
                    alter.clone(),
                    schema.clone(),
                    postponed,
                )
                .await?
            {
                Changed::Answered(outcome) => return Ok(outcome),
                // Another change of the table started in between: wait again.
                Changed::Busy => {
                    if Self::turn_left(&turn).is_some_and(|left| left.is_zero()) {
                        self.lock_wait_timeout().await?;
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The change of a table no migration is running on: as the client chose
    /// (ALGORITHM=, LOCK=), as sent when the session is bound to it, in place
    /// when the server can, or online.
    #[allow(clippy::too_many_arguments)]
    async fn change_table(
        &mut self,
        seq: u8,
        payload: &Bytes,
        c: &Classified<'_>,
        mode: DdlMode,
        alter: OnlineAlter,
        schema: String,
        postponed: bool,
    ) -> Result<Changed, SessionEnd> {
        if alter.client_chose_algorithm() {
            // The client's ALGORITHM/LOCK is the client's decision: the
            // server's answer, a refusal included, is the answer.
            return self.as_sent(seq, payload, c).await.map(Changed::Answered);
        }
        let session_bound = self.session_bound_reason();
        if let Some(why) = session_bound {
            return self
                .run_natively(seq, payload, c, why)
                .await
                .map(Changed::Answered);
        }
        if !alter.names_engine {
            if let Probe::Answered = self.try_without_copy(&payload[1..], c, &alter).await? {
                return Ok(Changed::Answered(None));
            }
        }
        let (sql_mode, max_error_count) = self.copy_context().await?;
        let request = AlterRequest {
            statement: String::from_utf8_lossy(&payload[1..]).into_owned(),
            alter,
            schema,
            sql_mode,
            postponed,
            max_error_count,
        };
        let migration = match self.shared.migrations.submit(request).await {
            Ok(m) => m,
            Err(MigrateError::NoSuchTable) => {
                return self.as_sent(seq, payload, c).await.map(Changed::Answered)
            }
            Err(MigrateError::Refused(why)) if mode != DdlMode::OnlineStrict => {
                return self
                    .run_natively(seq, payload, c, &why)
                    .await
                    .map(Changed::Answered);
            }
            Err(MigrateError::Busy(_)) if mode != DdlMode::Async => return Ok(Changed::Busy),
            Err(e) => {
                let (code, state, message) = e.client_error();
                self.send_error(code, &state, &message).await?;
                self.ddl_note = Some(PendingConditions::error(code, &message));
                return Ok(Changed::Answered(None));
            }
        };
        tracing::info!(migration = migration.id, user = %crate::logsafe::untrusted(&self.identity.user), async_mode = mode == DdlMode::Async, "online ALTER started");
        if mode == DdlMode::Async {
            self.follow_migration(migration.clone());
            self.send_rows(&["migration_id"], &[vec![Some(migration.id.to_string())]])
                .await?;
            return Ok(Changed::Answered(None));
        }
        self.await_migration(&migration).await?;
        Ok(Changed::Answered(None))
    }

    /// Why this session's change must run as the server's own ALTER, if it
    /// must: a session holding LOCK TABLES would block the copy's own cut-over
    /// lock; with a temporary table the name may mean that table, which only
    /// this connection sees; with sql_log_bin off the client asked for a
    /// change replicas do not get. The server's own ALTER keeps all three.
    fn session_bound_reason(&self) -> Option<&'static str> {
        if self.pins.lock_tables {
            Some("the session holds LOCK TABLES")
        } else if self.pins.temporary_table {
            Some("the session has temporary tables")
        } else if self.pins.sql_log_bin {
            Some("the session turned sql_log_bin off")
        } else {
            None
        }
    }

    /// The client's `sql_mode` and `max_error_count`, which the copy takes
    /// over. Reading a (derived) table makes the server start a new
    /// diagnostics area, as the client's own statement would: the in-place
    /// tries' refusals are not the client's warnings, and the copy's warnings
    /// are then the whole list. A SELECT without a table would leave them there.
    async fn copy_context(&mut self) -> Result<(String, u64), SessionEnd> {
        let reply = self
            .own_query(
                "SELECT @@SESSION.sql_mode, @@SESSION.max_error_count FROM (SELECT 1) AS tern_diagnostics_reset",
            )
            .await?;
        Ok(match reply {
            InternalReply::Rows(rows) => {
                let value = |i: usize| {
                    rows.first()
                        .and_then(|r| r.get(i).cloned().flatten())
                        .map(|v| String::from_utf8_lossy(&v).into_owned())
                };
                (
                    value(0).unwrap_or_default(),
                    value(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(crate::migrate::DEFAULT_MAX_ERROR_COUNT),
                )
            }
            _ => (String::new(), crate::migrate::DEFAULT_MAX_ERROR_COUNT),
        })
    }

    /// Runs the client's statement as sent, because Tern cannot run it online
    /// (`why`). A successful answer counts one more warning, the Note that the
    /// session's next diagnostics statement shows; progress reports and
    /// errors reach the client as the server sent them.
    async fn run_natively(
        &mut self,
        seq: u8,
        payload: &[u8],
        c: &Classified<'_>,
        why: &str,
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        self.shared.metrics.ddl_native_fallbacks.inc();
        tracing::info!(user = %crate::logsafe::untrusted(&self.identity.user), reason = why, "ALTER not run online: running it as sent");
        self.relay_change(seq, payload, c, Some(why)).await
    }

    /// Runs the client's statement as sent, as the server answers it.
    async fn as_sent(
        &mut self,
        seq: u8,
        payload: &[u8],
        c: &Classified<'_>,
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        self.relay_change(seq, payload, c, None).await
    }

    /// Sends a table change to the primary and relays its answer. The OK is
    /// held until the change is recorded for replica reads (no session may
    /// read the table on a replica that lacks the change once the client
    /// learns it returned), and with a `note` counts one more warning.
    async fn relay_change(
        &mut self,
        seq: u8,
        payload: &[u8],
        c: &Classified<'_>,
        note: Option<&str>,
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        self.forward(seq, payload).await?;
        loop {
            // Look at the next packet without taking it: only an OK is Tern's
            // to touch; anything else is relayed as it stands.
            let peeked = match self.peek_primary_packet().await {
                Ok(p) => p,
                Err(e) => {
                    self.client.close_like(ServerClose::from_frame(&e)).await;
                    return Err(SessionEnd::Backend(BackendError::Lost(e)));
                }
            };
            if peeked == PeekedPacket::Other {
                return self.relay_primary(COM_QUERY).await.map(Some);
            }
            let max = self.shared.settings.max_packet_size;
            let packet = match self
                .primary
                .reader
                .read_packet(&mut self.primary.stream, None, max)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    self.client.close_like(ServerClose::from_frame(&e)).await;
                    return Err(SessionEnd::Backend(BackendError::Lost(e)));
                }
            };
            if peeked == PeekedPacket::Progress {
                self.send_client(packet.seq, &packet.payload).await?;
                continue;
            }
            let ok = match note {
                Some(_) => note::with_one_more_warning(&packet.payload),
                None => packet.payload.to_vec(),
            };
            let mut outcome = RelayOutcome::default();
            observe_ok(&ok, &mut outcome);
            self.note_table_change(c, &payload[1..], &outcome.gtids)
                .await;
            self.absorb(&outcome);
            let mut scratch = BytesMut::new();
            let out = client_ok(&ok, self.client_tracks, &mut scratch).to_vec();
            self.send_client(packet.seq, &out).await?;
            if let Some(why) = note {
                self.ddl_note = Some(PendingConditions::fallback_note(why));
            }
            let more = outcome
                .status
                .is_some_and(|s| s & crate::protocol::status::MORE_RESULTS_EXISTS != 0);
            if more {
                // A result after the OK (the server's business): relayed as is.
                return self.relay_primary(COM_QUERY).await.map(Some);
            }
            return Ok(Some(outcome));
        }
    }

    /// What the next packet from the primary is, once its first bytes are in.
    async fn peek_primary_packet(
        &mut self,
    ) -> Result<PeekedPacket, crate::protocol::framing::FrameError> {
        loop {
            let buf = self.primary.reader.buffered();
            if buf.len() >= 7 || (buf.len() >= 4 && buf.len() >= 4 + frame_len(buf)) {
                let payload = &buf[4..];
                return Ok(match payload.first() {
                    Some(0x00) => PeekedPacket::Ok,
                    _ if is_progress_report(payload) => PeekedPacket::Progress,
                    _ => PeekedPacket::Other,
                });
            }
            self.primary.reader.fill(&mut self.primary.stream).await?;
        }
    }

    async fn await_migration(&mut self, migration: &Migration) -> Result<(), SessionEnd> {
        let every = self.progress_report_every().await?;
        let mut seq = 1u8;
        let outcome = {
            let mut outcome = std::pin::pin!(migration.wait());
            match every {
                None => outcome.await,
                Some(every) => {
                    let mut tick =
                        tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                    loop {
                        tokio::select! {
                            o = &mut outcome => break o,
                            _ = tick.tick() => {
                                let report = progress_report(&migration.progress());
                                self.send_client(seq, &report).await?;
                                seq = seq.wrapping_add(1);
                            }
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(finished) => {
                // The session's next reads must see the new table, and so
                // must every session's once the client learns it is done.
                if let Ok(set) = GtidSet::parse(&finished.gtid) {
                    self.note_migration_done(&migration.schema, &migration.table, &set);
                    self.last_write.merge(&set);
                }
                self.in_transaction = false;
                // Rows, info and warnings as the server's own ALTER answers them.
                let ok = note::alter_ok(&finished.report, self.status_flags());
                self.send_client(seq, &ok).await?;
                self.ddl_note = PendingConditions::copy_warnings(&finished.report);
                Ok(())
            }
            Err(e) => {
                // The statement failed on Tern's connections: the client's own
                // diagnostics area must still show the error.
                let (code, state, message) = e.client_error();
                self.send_error_at(seq, code, &state, &message).await?;
                self.ddl_note = Some(PendingConditions::error(code, &message));
                Ok(())
            }
        }
    }

    /// How often a client waiting on an online ALTER gets a progress report,
    /// as the server decides for its own ALTER: only when the client asked
    /// for them (MARIADB_CLIENT_PROGRESS), every `progress_report_time`
    /// seconds of its session, and never when that is 0.
    async fn progress_report_every(&mut self) -> Result<Option<Duration>, SessionEnd> {
        if !self
            .identity
            .mariadb_capabilities
            .contains(MariadbCapabilities::MARIADB_CLIENT_PROGRESS)
        {
            return Ok(None);
        }
        let secs = match self.own_query("SELECT @@progress_report_time").await? {
            InternalReply::Rows(rows) => rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u64>().ok())
                .unwrap_or(0),
            _ => 0,
        };
        Ok((secs > 0).then(|| Duration::from_secs(secs)))
    }

    /// Asks the server to make the change without a copy, as the client's
    /// user, with the client's statement unchanged.
    async fn try_without_copy(
        &mut self,
        statement: &[u8],
        c: &Classified<'_>,
        alter: &OnlineAlter,
    ) -> Result<Probe, SessionEnd> {
        let lock_secs = self
            .shared
            .migrations
            .settings()
            .hold_bound
            .as_secs()
            .max(1);
        let algorithms: &[&str] = if alter.adds_index {
            &["INSTANT"]
        } else {
            &["INSTANT", "NOCOPY"]
        };
        for algorithm in algorithms {
            let probe = in_place_probe(statement, algorithm, lock_secs);
            let payload = command(COM_QUERY, &probe);
            let reply = match self.primary.statement_reply(&payload).await {
                Ok(r) => r,
                Err(e) => {
                    self.client.close_like(ServerClose::from_backend(&e)).await;
                    return Err(SessionEnd::Backend(e));
                }
            };
            if reply.first() == Some(&0x00) {
                let mut outcome = RelayOutcome::default();
                observe_ok(&reply, &mut outcome);
                self.note_table_change(c, statement, &outcome.gtids).await;
                self.absorb(&outcome);
                let mut scratch = BytesMut::new();
                let ok = client_ok(&reply, self.client_tracks, &mut scratch).to_vec();
                self.send_client(1, &ok).await?;
                tracing::info!(table = %crate::logsafe::untrusted(&alter.table), algorithm, "ALTER done by the server without a copy");
                return Ok(Probe::Answered);
            }
            let code = parse_err(&reply).map_or(0, |e| e.code);
            match code {
                ER_ALTER_NOT_SUPPORTED | ER_ALTER_NOT_SUPPORTED_REASON => continue,
                // A long transaction holds the table: the copy does not need its lock.
                ER_LOCK_WAIT_TIMEOUT => return Ok(Probe::NeedsCopy),
                _ => {
                    self.send_client(1, &reply).await?;
                    return Ok(Probe::Answered);
                }
            }
        }
        Ok(Probe::NeedsCopy)
    }
}

/// The progress report for a migration at `p`: three stages as the mariadb
/// CLI shows them (`Stage: 1 of 3 'copy' 45.3% of stage done`); the copy's
/// percentage is its rows against the estimate, the other stages report 0
/// until they end.
fn progress_report(p: &crate::migrate::Progress) -> BytesMut {
    use crate::migrate::store::State;
    let (stage, name, percent) = match p.state {
        State::Copying => (
            1,
            "copy",
            if p.rows_total == 0 {
                0.0
            } else {
                p.rows_copied as f64 * 100.0 / p.rows_total as f64
            },
        ),
        State::Verifying | State::Postponed => (2, "verify", 0.0),
        _ => (3, "cut-over", 0.0),
    };
    progress_payload(stage, 3, percent, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_modes_parse() {
        assert_eq!(DdlMode::from_name("ASYNC"), Some(DdlMode::Async));
        assert_eq!(DdlMode::from_name("native"), Some(DdlMode::Native));
        assert_eq!(
            DdlMode::from_name("Online_Strict"),
            Some(DdlMode::OnlineStrict)
        );
        assert_eq!(
            DdlMode::from_name("default").map(|m| m.or_configured(DdlMode::OnlineStrict)),
            Some(DdlMode::OnlineStrict)
        );
        assert_eq!(
            DdlMode::Async.or_configured(DdlMode::Native),
            DdlMode::Async
        );
        assert_eq!(DdlMode::from_name("later"), None);
    }
}
