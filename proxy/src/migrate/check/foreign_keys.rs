//! Foreign keys would point at (or from) the old table after the swap:
//! refused, in both directions, unless the server can make the change in place.

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::Refusal;
use crate::migrate::MigrateError;

pub async fn no_foreign_keys(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Result<(), Refusal>, MigrateError> {
    let n: Option<u64> = conn
        .exec_first_as(
            "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) \
                OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)",
            (schema, table, schema, table),
        )
        .await?;
    Ok(match n.unwrap_or(0) {
        0 => Ok(()),
        _ => Err(Refusal(format!(
            "table `{schema}`.`{table}` has or is referenced by foreign keys"
        ))),
    })
}
