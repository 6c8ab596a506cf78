//! Migrations other Tern instances run (several behind one load balancer):
//! commands for them left in the control table, commands left for ours
//! picked up, and theirs listed in `SHOW TERN MIGRATIONS`.
//!
//! Invariants: the control table is the only channel between instances; a
//! command is taken from it by the instance that runs the migration (the one
//! holding its ownership lock) and applied exactly as a local command; every
//! read of it is bounded, so a slow primary never hangs a statement.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::Conn;

use super::control::Control;
use super::engine::Engine;
use super::migration::Migration;
use super::store;

/// How often a running migration looks for commands other instances left.
const REQUEST_POLL: Duration = Duration::from_secs(1);

impl Engine {
    /// Unfinished migrations in the control table that this instance does not
    /// run: another Tern instance's (several behind one load balancer), or one
    /// whose instance stopped and that no instance has resumed yet. For
    /// `SHOW TERN MIGRATIONS`; bounded so the statement never hangs on a slow
    /// primary, and empty when the table cannot be read.
    pub async fn elsewhere(&self) -> Vec<store::Record> {
        const READ_BOUND: Duration = Duration::from_secs(2);
        let read = async {
            let mut conn = Conn::new(self.opts.clone()).await.ok()?;
            let records = store::unfinished(&mut conn).await.ok();
            let _ = conn.disconnect().await;
            records
        };
        let records = match tokio::time::timeout(READ_BOUND, read).await {
            Ok(Some(records)) => records,
            _ => {
                tracing::debug!("control table not readable for SHOW TERN MIGRATIONS");
                Vec::new()
            }
        };
        records
            .into_iter()
            .filter(|r| self.get(r.id).is_none())
            .collect()
    }

    /// A command for a migration another instance runs: left in its row of
    /// the control table, which its instance polls (`REQUEST_POLL`).
    pub(super) async fn request_elsewhere(&self, id: u64, what: Control) -> Result<(), String> {
        let unknown = || format!("Unknown migration {id}, or it has already ended");
        let mut conn = Conn::new(self.opts.clone())
            .await
            .map_err(|e| format!("Cannot reach the control table: {e}"))?;
        let left = store::request(&mut conn, id, what.word()).await;
        let _ = conn.disconnect().await;
        match left {
            Ok(true) => {
                tracing::info!(migration = id, command = ?what, "operator command left for the instance running it");
                Ok(())
            }
            Ok(false) => Err(unknown()),
            Err(e) => Err(format!("Cannot reach the control table: {e}")),
        }
    }

    /// Applies commands other instances left for `m` until it ends.
    pub(super) async fn watch_requests(self: Arc<Self>, m: Arc<Migration>) {
        let mut conn: Option<Conn> = None;
        loop {
            tokio::time::sleep(REQUEST_POLL).await;
            if m.progress().state.is_final() {
                break;
            }
            if conn.is_none() {
                conn = Conn::new(self.opts.clone()).await.ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            match store::take_request(c, m.id).await {
                Ok(Some(word)) => match Control::from_word(&word) {
                    Some(what) => {
                        if let Err(e) = self.control(m.id, what).await {
                            tracing::warn!(migration = m.id, error = %e, "operator command from another instance not applied");
                        }
                    }
                    None => tracing::warn!(
                        migration = m.id,
                        word,
                        "unknown command in the control table"
                    ),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(migration = m.id, error = %e, "cannot read operator commands");
                    conn = None;
                }
            }
        }
        if let Some(c) = conn {
            let _ = c.disconnect().await;
        }
    }
}
