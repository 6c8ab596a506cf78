//! A table change on a table that is being migrated waits its turn, as the
//! server queues a second ALTER behind the first one's metadata lock.
//!
//! The migration's ownership lock (`store::ownership_lock_name`, held for the
//! migration's whole life by whichever Tern instance runs it) is the queue:
//! the session waits for it with `GET_LOCK` on its own primary connection,
//! bounded by the session's own `lock_wait_timeout` as the server would bound
//! it, and lets it go at once; the change is then planned again against the
//! table as the finished migration left it. Waiting on the session's own
//! connection means a `KILL QUERY` of the session ends the wait as it ends a
//! server-side lock wait, and a migration another instance runs is waited
//! for just the same.
//!
//! An async ALTER (`tern_ddl = 'async'`, `/* tern:async */`) does not wait:
//! its client asked for an answer at once, so it is refused with the running
//! migration named (ERROR 1205 with Tern's text).

use std::time::{Duration, Instant};

use super::super::{Session, SessionEnd};
use super::{DdlMode, PendingConditions};
use crate::backend::conn::InternalReply;
use crate::migrate::store::ownership_lock_name;
use crate::migrate::MigrateError;
use crate::protocol::errcode::{ER_LOCK_WAIT_TIMEOUT, ER_QUERY_INTERRUPTED, ER_SERVER_SHUTDOWN};

/// What the wait left to do.
pub(in crate::server::session) enum Turn {
    /// The table is free: plan and run the change now.
    Go,
    /// The client has its answer (timeout, interrupted, async refused).
    Answered,
}

/// When the session started waiting and for how long it may wait: one
/// `lock_wait_timeout` for the whole statement, however often it waits.
pub(in crate::server::session) struct TurnClock {
    started: Instant,
    timeout: Duration,
}

impl TurnClock {
    fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.started.elapsed())
    }
}

/// The server's own text for ER_LOCK_WAIT_TIMEOUT.
const LOCK_WAIT_TIMEOUT_MESSAGE: &str = "Lock wait timeout exceeded; try restarting transaction";

fn text(rows: &[Vec<Option<Vec<u8>>>], i: usize) -> Option<String> {
    rows.first()
        .and_then(|r| r.get(i).cloned().flatten())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

impl Session {
    /// Waits while a migration of `schema.table` runs (here or in another
    /// Tern instance). `clock` keeps the statement's wait bound across the
    /// retries of one statement.
    pub(in crate::server::session) async fn wait_table_turn(
        &mut self,
        schema: &str,
        table: &str,
        mode: DdlMode,
        clock: &mut Option<TurnClock>,
    ) -> Result<Turn, SessionEnd> {
        // Hex digits only: safe inside quotes.
        let lock = format!("'{}'", ownership_lock_name(schema, table));
        let reply = self
            .own_query(&format!(
                "SELECT IS_USED_LOCK({lock}), @@SESSION.lock_wait_timeout"
            ))
            .await?;
        let (holder, timeout) = match reply {
            InternalReply::Rows(rows) => (text(&rows, 0), text(&rows, 1)),
            InternalReply::Err { code, message } => {
                return self.answer_error(code, &message).await;
            }
            InternalReply::Ok => (None, None),
        };
        if holder.is_none() {
            return Ok(Turn::Go);
        }
        let running = self.running_migration(schema, table);
        if mode == DdlMode::Async {
            let e = MigrateError::Busy(match running {
                Some(id) => format!("`{schema}`.`{table}` (migration {id})"),
                None => format!("`{schema}`.`{table}` (by another Tern instance)"),
            });
            let (code, _, message) = e.client_error();
            return self.answer_error(code, &message).await;
        }
        let timeout = timeout
            .and_then(|t| t.parse::<f64>().ok())
            .map_or(Duration::ZERO, |t| Duration::from_secs_f64(t.max(0.0)));
        let clock = clock.get_or_insert_with(|| TurnClock {
            started: Instant::now(),
            timeout,
        });
        let remaining = clock.remaining();
        tracing::info!(
            table = %crate::logsafe::untrusted(format!("{schema}.{table}")),
            migration = running,
            wait_bound_ms = remaining.as_millis() as u64,
            "ALTER waits for the running migration of its table"
        );
        let reply = self
            .own_query(&format!(
                "SELECT GET_LOCK({lock}, {:.3})",
                remaining.as_secs_f64()
            ))
            .await?;
        let got = match reply {
            InternalReply::Rows(rows) => text(&rows, 0),
            InternalReply::Err { code, message } => {
                return self.answer_error(code, &message).await;
            }
            InternalReply::Ok => None,
        };
        match got.as_deref() {
            Some("1") => {
                // Only the wait was wanted: the migration takes the lock itself.
                if let InternalReply::Err { code, message } =
                    self.own_query(&format!("DO RELEASE_LOCK({lock})")).await?
                {
                    return self.answer_error(code, &message).await;
                }
                if self.shared.migrations.is_stopping() {
                    // The migration ended because Tern is stopping: no new
                    // one starts now, as a server shutting down starts no ALTER.
                    return self
                        .answer_error(ER_SERVER_SHUTDOWN, "Server shutdown in progress")
                        .await;
                }
                tracing::info!(
                    waited_ms = clock.started.elapsed().as_millis() as u64,
                    "ALTER's turn: the table's migration has ended"
                );
                Ok(Turn::Go)
            }
            Some("0") => self.lock_wait_timeout().await,
            // NULL: the wait was killed.
            _ => {
                self.answer_error(ER_QUERY_INTERRUPTED, "Query execution was interrupted")
                    .await
            }
        }
    }

    /// The statement's wait bound has run out: the server's answer to a
    /// lock wait that timed out.
    pub(in crate::server::session) async fn lock_wait_timeout(
        &mut self,
    ) -> Result<Turn, SessionEnd> {
        self.answer_error(ER_LOCK_WAIT_TIMEOUT, LOCK_WAIT_TIMEOUT_MESSAGE)
            .await
    }

    /// Whether the statement may still wait; `None` before it ever waited.
    pub(in crate::server::session) fn turn_left(clock: &Option<TurnClock>) -> Option<Duration> {
        clock.as_ref().map(TurnClock::remaining)
    }

    /// The id of the migration of `schema.table` this instance runs, if any.
    fn running_migration(&self, schema: &str, table: &str) -> Option<u64> {
        self.shared
            .migrations
            .list()
            .iter()
            .find(|m| m.schema == schema && m.table == table && !m.progress().state.is_final())
            .map(|m| m.id)
    }

    async fn answer_error(&mut self, code: u16, message: &str) -> Result<Turn, SessionEnd> {
        let state = match code {
            ER_QUERY_INTERRUPTED => "70100",
            ER_SERVER_SHUTDOWN => "08S01",
            _ => "HY000",
        };
        self.send_error(code, state, message).await?;
        self.ddl_note = Some(PendingConditions::error(code, message));
        Ok(Turn::Answered)
    }
}
