//! Triggers of the migrated table, carried to the new table at the cut-over.
//!
//! During the copy the triggers stay on the original and fire for client
//! writes there; what they change reaches the shadow like any other change
//! (rows they alter through `NEW` are in the row events; rows they write to
//! other tables are those tables' business). The shadow has no triggers, so
//! the copy and the change applier never fire them a second time.
//!
//! At the cut-over, with the table frozen (client writes held in Tern, the
//! original and the shadow locked on the lock connection), each trigger is
//! dropped from the original and created on the shadow with the same name,
//! timing, event, body, definer, `sql_mode` and collation, in its original
//! order; the RENAME then makes the shadow the table, triggers and all, the
//! moment writes resume. A swap that backs out moves them back before the
//! lock is released.
//!
//! Invariants:
//! - Outside the frozen moment of a cut-over, a trigger is on the original
//!   and on no other table; no write is ever made without it or with it twice.
//! - The shadow holds triggers only inside that moment. Should Tern die
//!   there, the lock goes with its connection and the original is without
//!   its triggers until the next start, which moves every trigger it finds on
//!   the shadow back first (`start::resume`). That window is the one thing
//!   MariaDB's lack of transactional DDL leaves open; it is documented for
//!   the person on call, with the statements to run by hand.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::fetch::Fetch;
use super::table::qualified;
use super::MigrateError;
use crate::sql::quote_ident;

/// One trigger as `information_schema.TRIGGERS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub name: String,
    /// `BEFORE` or `AFTER`.
    pub timing: String,
    /// `INSERT`, `UPDATE` or `DELETE`.
    pub event: String,
    pub definer: String,
    pub sql_mode: String,
    pub character_set_client: String,
    pub collation_connection: String,
    pub body: String,
}

/// The triggers on `schema.table`, in the order they fire within each timing
/// and event (creating them again in this order keeps that order).
pub async fn on_table(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<Trigger>, MigrateError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = conn
        .exec_all_as(
            "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, DEFINER, SQL_MODE, \
             CHARACTER_SET_CLIENT, COLLATION_CONNECTION, ACTION_STATEMENT \
             FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? \
             ORDER BY ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
            (schema, table),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, timing, event, definer, sql_mode, charset, collation, body)| Trigger {
                name,
                timing,
                event,
                definer,
                sql_mode,
                character_set_client: charset,
                collation_connection: collation,
                body,
            },
        )
        .collect())
}

/// `user@host` as the server prints a definer, quoted for a statement. The
/// host is after the last `@`, since a user name may hold one.
fn definer_sql(definer: &str) -> String {
    match definer.rsplit_once('@') {
        Some((user, host)) => format!("{}@{}", quote_ident(user), quote_ident(host)),
        None => quote_ident(definer),
    }
}

/// The statements that create `t` on `schema.table`, preceded by the session
/// settings the trigger was created under (they are part of what it does).
/// The body is sent as UTF-8 text; a trigger created under another client
/// character set keeps that setting only when its body is ASCII, where the
/// two read alike.
pub fn create_statements(schema: &str, table: &str, t: &Trigger) -> [String; 2] {
    let charset = if t.body.is_ascii() {
        t.character_set_client.as_str()
    } else {
        "utf8mb4"
    };
    [
        format!(
            "SET SESSION sql_mode = {}, character_set_client = {}, collation_connection = {}",
            crate::sql::string_literal(&t.sql_mode),
            crate::sql::string_literal(charset),
            crate::sql::string_literal(&t.collation_connection),
        ),
        format!(
            "CREATE DEFINER={} TRIGGER {} {} {} ON {} FOR EACH ROW {}",
            definer_sql(&t.definer),
            qualified(schema, &t.name),
            t.timing,
            t.event,
            qualified(schema, table),
            t.body
        ),
    ]
}

/// Moves every trigger found on the shadow back onto the original, and says
/// how many there were. Tern creates shadows without triggers, so any found
/// there were moved by a cut-over that did not swap (see the module doc).
pub async fn return_from_shadow(
    conn: &mut Conn,
    schema: &str,
    shadow: &str,
    original: &str,
) -> Result<usize, MigrateError> {
    let stranded = on_table(conn, schema, shadow).await?;
    move_to(conn, schema, &stranded, original).await?;
    Ok(stranded.len())
}

/// Moves `triggers` (each by name, from whichever table holds it) onto
/// `schema.to`. The session's `sql_mode` and character settings are put back
/// afterwards. On an error the triggers moved so far stay where they went:
/// the caller moves them all back (see the module doc).
pub async fn move_to(
    conn: &mut Conn,
    schema: &str,
    triggers: &[Trigger],
    to: &str,
) -> Result<(), MigrateError> {
    if triggers.is_empty() {
        return Ok(());
    }
    let saved: Option<(String, String, String)> = conn
        .first_as("SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection")
        .await?;
    let mut result = Ok(());
    for t in triggers {
        let [settings, create] = create_statements(schema, to, t);
        let step = async {
            conn.query_drop(format!(
                "DROP TRIGGER IF EXISTS {}",
                qualified(schema, &t.name)
            ))
            .await?;
            conn.query_drop(settings).await?;
            conn.query_drop(create).await
        };
        if let Err(e) = step.await {
            result = Err(e.into());
            break;
        }
    }
    if let Some((sql_mode, charset, collation)) = saved {
        let _ = conn
            .query_drop(format!(
                "SET SESSION sql_mode = {}, character_set_client = {}, collation_connection = {}",
                crate::sql::string_literal(&sql_mode),
                crate::sql::string_literal(&charset),
                crate::sql::string_literal(&collation)
            ))
            .await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_is_created_again_as_it_was_on_the_other_table() {
        let t = Trigger {
            name: "audit`ins".into(),
            timing: "AFTER".into(),
            event: "INSERT".into(),
            definer: "app@ops@10.0.0.%".into(),
            sql_mode: "STRICT_TRANS_TABLES".into(),
            character_set_client: "latin1".into(),
            collation_connection: "latin1_swedish_ci".into(),
            body: "INSERT INTO audit VALUES (NEW.id, 'it''s')".into(),
        };
        let [settings, create] = create_statements("app", "t_tern7_new", &t);
        assert_eq!(
            settings,
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES', character_set_client = 'latin1', collation_connection = 'latin1_swedish_ci'"
        );
        assert_eq!(
            create,
            "CREATE DEFINER=`app@ops`@`10.0.0.%` TRIGGER `app`.`audit``ins` AFTER INSERT ON `app`.`t_tern7_new` FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'it''s')"
        );
        let non_ascii = Trigger {
            body: "SET NEW.note = 'é'".into(),
            ..t
        };
        assert!(create_statements("app", "t", &non_ascii)[0].contains("'utf8mb4'"));
    }
}
