//! A table that other tables reference (a parent) is refused for now: after
//! the swap their foreign keys would follow the original to its old name. A
//! table that references itself is refused: its shadow's constraints would
//! reference the original. A table that only references others (a child)
//! migrates online, see `migrate::foreign_keys`.

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::Refusal;
use crate::migrate::MigrateError;

pub async fn not_referenced(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Result<(), Refusal>, MigrateError> {
    let by: Option<(String, String, String)> = conn
        .exec_first_as(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ? \
             ORDER BY CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? DESC LIMIT 1",
            (schema, table, schema, table),
        )
        .await?;
    Ok(match by {
        None => Ok(()),
        Some((s, t, name)) if s == schema && t == table => Err(Refusal(format!(
            "table `{schema}`.`{table}` references itself (foreign key `{name}`)"
        ))),
        Some((s, t, name)) => Err(Refusal(format!(
            "table `{schema}`.`{table}` is referenced by foreign key `{name}` of `{s}`.`{t}`"
        ))),
    })
}
