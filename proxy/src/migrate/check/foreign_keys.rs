//! A table that references itself is refused: its shadow's constraints
//! would reference the original, and the cut-over's re-pointing of the
//! tables that reference it would have to change the table being swapped.
//! Other tables with foreign keys, either way, migrate online (see
//! `migrate::foreign_keys`).

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::Refusal;
use crate::migrate::MigrateError;

pub async fn no_self_reference(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Result<(), Refusal>, MigrateError> {
    let name: Option<String> = conn
        .exec_first_as(
            "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? \
               AND UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ? LIMIT 1",
            (schema, table, schema, table),
        )
        .await?;
    Ok(match name {
        None => Ok(()),
        Some(name) => Err(Refusal(format!(
            "table `{schema}`.`{table}` references itself (foreign key `{name}`)"
        ))),
    })
}
