//! Operator commands (`TERN PAUSE|RESUME|CANCEL|POSTPONE|COMPLETE <id>`) on a
//! migration this instance runs.
//!
//! Invariants: a command on a migration that has ended is refused, never
//! applied; POSTPONE and COMPLETE are also written to the control table, so a
//! resumed migration keeps them; a command for a migration this instance does
//! not run is handed to the instance that does (see `remote`).

use std::sync::atomic::Ordering;

use mysql_async::Conn;

use super::engine::Engine;
use super::store;

/// An operator command from `TERN <verb> <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
    Postpone,
    Complete,
}

impl Control {
    pub fn from_word(w: &str) -> Option<Control> {
        match w.to_ascii_uppercase().as_str() {
            "PAUSE" => Some(Control::Pause),
            "RESUME" => Some(Control::Resume),
            "CANCEL" => Some(Control::Cancel),
            "POSTPONE" => Some(Control::Postpone),
            "COMPLETE" => Some(Control::Complete),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Control::Pause => "PAUSE",
            Control::Resume => "RESUME",
            Control::Cancel => "CANCEL",
            Control::Postpone => "POSTPONE",
            Control::Complete => "COMPLETE",
        }
    }
}

impl Engine {
    /// Applies an operator command; the error text is for the client.
    pub async fn control(&self, id: u64, what: Control) -> Result<(), String> {
        let Some(m) = self.get(id) else {
            return self.request_elsewhere(id, what).await;
        };
        if m.progress().state.is_final() {
            return Err(format!("Migration {id} has already ended"));
        }
        match what {
            Control::Pause => m.paused.store(true, Ordering::Relaxed),
            Control::Resume => m.paused.store(false, Ordering::Relaxed),
            Control::Cancel => m.cancel.cancel(),
            Control::Postpone | Control::Complete => {
                let postpone = what == Control::Postpone;
                m.postponed.store(postpone, Ordering::Relaxed);
                if let Ok(mut conn) = Conn::new(self.opts.clone()).await {
                    let _ = store::set_postponed(&mut conn, id, postpone).await;
                    let _ = conn.disconnect().await;
                }
            }
        }
        m.wake.notify_waiters();
        tracing::info!(migration = id, command = ?what, "operator command");
        Ok(())
    }
}
