//! Triggers on the original would fire for client writes but not for the
//! copy, and would be lost or duplicated by the swap: refused.

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::Refusal;
use crate::migrate::MigrateError;

pub async fn no_triggers(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Result<(), Refusal>, MigrateError> {
    let n: Option<u64> = conn
        .exec_first_as(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?",
            (schema, table),
        )
        .await?;
    Ok(match n.unwrap_or(0) {
        0 => Ok(()),
        n => Err(Refusal(format!(
            "table `{schema}`.`{table}` has {n} trigger(s); drop them or use SET SESSION tern_ddl = 'native'"
        ))),
    })
}
