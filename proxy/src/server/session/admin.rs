//! Tern's own statements on a session: `SHOW TERN MIGRATIONS`,
//! `TERN PAUSE|RESUME|CANCEL|POSTPONE|COMPLETE|REVERT <id>`, `TERN COMPLETE <id>, <id>, ...` and
//! `SET [SESSION] tern_consistency | tern_ddl = ...`, read by
//! [`crate::sql::admin`] and answered here without reaching the server (a
//! KILL, read by the same parser, is handed on to `kill.rs`).
//!
//! Invariants: migration statements need the SUPER privilege (or the
//! configured admin role), checked on the session's own server connection as
//! the session's user, so Tern grants nothing the server would not; every
//! answer uses the server's own error codes; `SET tern_*` changes only this
//! session's state in Tern.

use tern_rules::Consistency;

use super::ddl::DdlMode;
use super::{Session, SessionEnd};
use crate::backend::conn::InternalReply;
use crate::migrate::{Control, Migration};
use crate::protocol::errcode::*;
use crate::protocol::packets::ok_payload;
use crate::sql::admin::{TernStatement, Verb};

impl Session {
    /// Answers one of Tern's statements; a KILL (COM_QUERY `payload`) goes
    /// on to the primary, translated.
    pub(super) async fn tern_statement(
        &mut self,
        seq: u8,
        payload: &[u8],
        statement: TernStatement<'_>,
    ) -> Result<(), SessionEnd> {
        match statement {
            TernStatement::Kill(kill) => self.kill(seq, payload, &kill).await,
            TernStatement::Malformed(message) => {
                self.send_error(ER_PARSE_ERROR, "42000", &message).await
            }
            TernStatement::Set { variable, value } => self.tern_set(variable, value).await,
            TernStatement::ShowMigrations => {
                if !self.administers().await? {
                    return Ok(());
                }
                self.show_migrations().await
            }
            TernStatement::Control { verb, id } => {
                if !self.administers().await? {
                    return Ok(());
                }
                match control(verb) {
                    Some(verb) => self.control(verb, id).await,
                    None => self.revert(id).await,
                }
            }
            TernStatement::CompleteGroup(ids) => {
                if !self.administers().await? {
                    return Ok(());
                }
                let done = self.shared.migrations.complete_group(&ids).await;
                self.answer_control(done).await
            }
        }
    }

    /// Whether the session may steer migrations; when it may not, it has been
    /// told so.
    async fn administers(&mut self) -> Result<bool, SessionEnd> {
        if self.may_administer().await? {
            return Ok(true);
        }
        self.send_error(
            ER_SPECIFIC_ACCESS_DENIED_ERROR,
            "42000",
            "Access denied; you need (at least one of) the SUPER privilege(s) for this operation",
        )
        .await?;
        Ok(false)
    }

    /// `SHOW TERN MIGRATIONS`: this instance's migrations and those the
    /// control table records for other instances, by id.
    async fn show_migrations(&mut self) -> Result<(), SessionEnd> {
        let mut rows: Vec<Vec<Option<String>>> = self
            .shared
            .migrations
            .list()
            .iter()
            .map(|m| migration_row(m))
            .collect();
        let elsewhere = self.shared.migrations.elsewhere().await;
        rows.extend(elsewhere.iter().map(recorded_row));
        rows.sort_by_key(|r| {
            r.first()
                .cloned()
                .flatten()
                .and_then(|id| id.parse::<u64>().ok())
        });
        self.send_rows(MIGRATION_COLUMNS, &rows).await
    }

    /// `TERN <verb> <id>`.
    async fn control(&mut self, verb: Control, id: u64) -> Result<(), SessionEnd> {
        let done = self.shared.migrations.control(id, verb).await;
        self.answer_control(done).await
    }

    /// `TERN REVERT <id>`: answered once the previous table is live again;
    /// the session's own reads then see the revert like any table change.
    async fn revert(&mut self, id: u64) -> Result<(), SessionEnd> {
        let reverted = self.shared.migrations.revert(id).await;
        let done = match reverted {
            Ok((schema, table, gtid)) => {
                if let Ok(set) = crate::gtid::GtidSet::parse(&gtid) {
                    self.note_migration_done(&schema, &table, &set);
                    self.last_write.merge(&set);
                }
                Ok(())
            }
            Err(why) => Err(why),
        };
        self.answer_control(done).await
    }

    /// OK, or ERROR 1105 with the engine's reason (the server has no code for
    /// a migration that cannot take a command).
    async fn answer_control(&mut self, done: Result<(), String>) -> Result<(), SessionEnd> {
        match done {
            Ok(()) => {
                let ok = ok_payload(0, 0, self.status_flags(), 0);
                self.send_client(1, &ok).await
            }
            Err(message) => self.send_error(ER_UNKNOWN_ERROR, "HY000", &message).await,
        }
    }

    async fn may_administer(&mut self) -> Result<bool, SessionEnd> {
        let role_check = match &self.shared.settings.admin_role {
            Some(role) => format!(
                " + (SELECT COUNT(*) FROM information_schema.APPLICABLE_ROLES WHERE ROLE_NAME = {})",
                crate::sql::string_literal(role)
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SUPER' \
             AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
             SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')){role_check}"
        );
        Ok(match self.own_query(&sql).await? {
            InternalReply::Rows(rows) => rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .is_some_and(|v| v != b"0"),
            _ => false,
        })
    }

    /// `SET [SESSION] tern_consistency = 'session' | 'global' | 'eventual'` and
    /// `SET [SESSION] tern_ddl = 'online' | 'native' | 'async'`.
    async fn tern_set(&mut self, variable: &str, value: Option<&str>) -> Result<(), SessionEnd> {
        let value = value.map(str::to_ascii_lowercase);
        let bad_value =
            |name: &str, v: &str| format!("Variable '{name}' can't be set to the value of '{v}'");
        let unknown = || "Unknown system variable".to_string();
        let reply = if variable.eq_ignore_ascii_case("tern_ddl") {
            match value {
                Some(v) => match DdlMode::from_name(&v) {
                    Some(mode) => {
                        self.ddl_mode = mode;
                        Ok(())
                    }
                    None => Err(bad_value("tern_ddl", &v)),
                },
                None => Err(unknown()),
            }
        } else if variable.eq_ignore_ascii_case("tern_consistency") {
            match value.as_deref() {
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
                None => Err(unknown()),
            }
        } else {
            Err(unknown())
        };
        match reply {
            Ok(()) => {
                let ok = ok_payload(0, 0, self.status_flags(), 0);
                self.send_client(1, &ok).await
            }
            // The server's code for a bad value of a known variable.
            Err(message) => {
                self.send_error(ER_WRONG_VALUE_FOR_VAR, "42000", &message)
                    .await
            }
        }
    }
}

/// The running migration's command for `verb`; `None` for REVERT, which
/// acts on a finished one.
fn control(verb: Verb) -> Option<Control> {
    Some(match verb {
        Verb::Pause => Control::Pause,
        Verb::Resume => Control::Resume,
        Verb::Cancel => Control::Cancel,
        Verb::Postpone => Control::Postpone,
        Verb::Complete => Control::Complete,
        Verb::Revert => return None,
    })
}

const MIGRATION_COLUMNS: &[&str] = &[
    "id",
    "table",
    "statement",
    "state",
    "rows_copied",
    "rows_total",
    "progress_pct",
    "eta_secs",
    "replica_lag_ms",
    "cutover_attempts",
    "last_hold_ms",
    "paused",
    "postponed",
    "throttled",
    "error",
    "runs_here",
    "ignored_replicas",
    "pace_pct",
    "signals",
    "shadow_table",
    "old_table",
    "reverts",
    "revertible_until",
    "revert_note",
];

/// Copy progress in percent; the total is an estimate, so never past 100.
fn progress_pct(copied: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (copied as f64 * 100.0 / total as f64).min(100.0)
}

/// A migration another instance runs, as the control table records it: what
/// only its instance knows (ETA, lag, paused, throttled) is NULL.
fn recorded_row(r: &crate::migrate::store::Record) -> Vec<Option<String>> {
    let pct = progress_pct(r.rows_copied, r.rows_total);
    vec![
        Some(r.id.to_string()),
        Some(format!("{}.{}", r.schema, r.table)),
        Some(r.statement.clone()),
        Some(r.state.name().to_string()),
        Some(r.rows_copied.to_string()),
        Some(r.rows_total.to_string()),
        Some(format!("{pct:.1}")),
        None,
        None,
        Some(r.cutover_attempts.to_string()),
        None,
        None,
        Some(u8::from(r.postponed).to_string()),
        None,
        None,
        Some("no".to_string()),
        None,
        None,
        None,
        Some(r.shadow_table.clone()),
        Some(r.old_table.clone()),
        None,
        None,
        None,
    ]
}

fn migration_row(m: &Migration) -> Vec<Option<String>> {
    let p = m.progress();
    let ignored = p.ignored_replicas_text();
    let signals = p.signals_text();
    let (shadow, old) = m.side_tables();
    let pct = if p.state == crate::migrate::store::State::Done {
        100.0
    } else {
        progress_pct(p.rows_copied, p.rows_total)
    };
    let eta = p.copy_started.and_then(|t| {
        let secs = t.elapsed().as_secs_f64();
        let rate = p.rows_copied as f64 / secs.max(0.001);
        (rate > 0.0 && p.state == crate::migrate::store::State::Copying)
            .then(|| (p.rows_total.saturating_sub(p.rows_copied) as f64 / rate).ceil() as u64)
    });
    vec![
        Some(m.id.to_string()),
        Some(format!("{}.{}", m.schema, m.table)),
        Some(m.statement.clone()),
        Some(p.state.name().to_string()),
        Some(p.rows_copied.to_string()),
        Some(p.rows_total.to_string()),
        Some(format!("{pct:.1}")),
        eta.map(|e| e.to_string()),
        Some(p.lag_ms.to_string()),
        Some(p.cutover_attempts.to_string()),
        p.last_hold.map(|h| h.as_millis().to_string()),
        Some(u8::from(p.paused).to_string()),
        Some(u8::from(p.postponed).to_string()),
        p.throttled,
        p.error,
        Some("yes".to_string()),
        ignored,
        Some(p.pace_pct.to_string()),
        signals,
        shadow,
        old,
        Some(p.reverts.to_string()),
        p.revertible_until,
        p.revert_note,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_never_passes_100_percent() {
        assert_eq!(progress_pct(0, 0), 0.0);
        assert_eq!(progress_pct(50, 200), 25.0);
        assert_eq!(progress_pct(300, 200), 100.0);
    }
}
