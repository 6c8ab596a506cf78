//! Verification: a chunked checksum of the original and the shadow, read in one
//! consistent snapshot, over the columns they share.
//!
//! The snapshot is opened while the original is briefly locked and the applier
//! has caught up with the binlog (see `cutover::freeze`), so both tables are
//! compared at the same instant and a difference is a real difference, never a
//! write in flight. Where a column's type changed, the original's side is cast
//! to the shadow's type, the conversion the copy made; a column whose
//! conversion cannot be written as a CAST is left out of the checksum.

use crate::migrate::fetch::Fetch;
use mysql_async::Conn;

use super::mapping::{ColumnPair, Mapping};
use super::table::{ColumnClass, KeyTuple, Table};
use super::MigrateError;
use crate::sql::quote_ident;

/// A key range: `(lower, upper]`, open where `None`.
pub type Range = (Option<KeyTuple>, Option<KeyTuple>);

fn precision(column_type: &str) -> Option<&str> {
    let open = column_type.find('(')?;
    let close = column_type[open..].find(')')? + open;
    Some(&column_type[open..=close])
}

/// How the original's value is written so it compares with the shadow's.
fn source_expr(pair: &ColumnPair) -> Option<String> {
    let s = &pair.source;
    let t = &pair.target;
    let col = quote_ident(&s.name);
    if s.data_type == t.data_type && s.column_type == t.column_type && s.charset == t.charset {
        return Some(col);
    }
    let cast = match (&t.class, t.data_type.as_str()) {
        // The length too: a shorter column truncates (with a warning outside
        // strict mode), and the cast must truncate the same way.
        (ColumnClass::Text(cs), "varchar" | "char") => {
            format!("CHAR{} CHARACTER SET {cs}", precision(&t.column_type)?)
        }
        (ColumnClass::Text(cs), _) => format!("CHAR CHARACTER SET {cs}"),
        (ColumnClass::Integer, _) if t.column_type.contains("unsigned") => "UNSIGNED".into(),
        (ColumnClass::Integer, _) => "SIGNED".into(),
        (ColumnClass::Numeric, "decimal") => format!("DECIMAL{}", precision(&t.column_type)?),
        (ColumnClass::Temporal, "date") => "DATE".into(),
        (ColumnClass::Temporal, "datetime" | "timestamp") => {
            format!("DATETIME{}", precision(&t.column_type).unwrap_or(""))
        }
        (ColumnClass::Temporal, "time") => {
            format!("TIME{}", precision(&t.column_type).unwrap_or(""))
        }
        (ColumnClass::Bytes, "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob") => {
            "BINARY".into()
        }
        _ => return None,
    };
    Some(format!("CAST({col} AS {cast})"))
}

/// `SELECT COUNT(*), <hash>` over a range of one side.
fn checksum_sql(table: &Table, exprs: &[String], range: &Range) -> String {
    let mut parts = Vec::with_capacity(exprs.len() * 2);
    for e in exprs {
        parts.push(e.clone());
        parts.push(format!("ISNULL({e})"));
    }
    let mut conditions = Vec::new();
    if let Some(l) = &range.0 {
        conditions.push(table.key_after(l));
    }
    if let Some(u) = &range.1 {
        conditions.push(table.key_at_most(u));
    }
    // CRC32 per row, combined order-free by XOR and by sum: cheap enough to
    // scan both tables whole, and a difference must fool both to go unseen.
    format!(
        "SELECT COUNT(*), COALESCE(BIT_XOR(h), 0), COALESCE(SUM(h), 0) FROM \
         (SELECT CRC32(CONCAT_WS('#', {})) AS h FROM {} {}) AS rows_of_range",
        parts.join(", "),
        table.qualified(),
        if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        }
    )
}

type Sums = Option<(u64, u64, u64)>;

/// Checksums one range of each table at once, one connection per table.
async fn both(
    conn: &mut Conn,
    shadow_conn: &mut Conn,
    source_sql: String,
    shadow_sql: String,
) -> Result<(Sums, Sums), MigrateError> {
    let (a, b) = tokio::join!(conn.first_as(source_sql), shadow_conn.first_as(shadow_sql));
    Ok((a?, b?))
}

/// Checksums both tables range by range; `conn` (the original) and
/// `shadow_conn` (the shadow) each have a snapshot open that was taken at the
/// same frozen moment. Returns the ranges that differ.
pub async fn differing_ranges(
    conn: &mut Conn,
    shadow_conn: &mut Conn,
    m: &Mapping,
    shadow_key: &Table,
    chunk_rows: u64,
) -> Result<Vec<Range>, MigrateError> {
    let mut source_exprs = Vec::new();
    let mut shadow_exprs = Vec::new();
    for pair in &m.pairs {
        match source_expr(pair) {
            Some(e) => {
                source_exprs.push(e);
                shadow_exprs.push(quote_ident(&pair.target.name));
            }
            None => tracing::debug!(
                column = %pair.target.name,
                "column left out of the checksum: its conversion has no CAST"
            ),
        }
    }
    let source = &m.source;
    let mut lower: Option<KeyTuple> = None;
    let mut differ = Vec::new();
    // A key whose type or collation changed orders rows differently in the
    // shadow: then the whole tables are compared as one range.
    let chunked = m.key_compares_alike();
    loop {
        let upper = if chunked {
            source
                .key_rows_after(conn, lower.as_ref(), chunk_rows)
                .await?
        } else {
            None
        };
        let range = (lower.clone(), upper.clone());
        let (a, b) = both(
            conn,
            shadow_conn,
            checksum_sql(source, &source_exprs, &range),
            checksum_sql(shadow_key, &shadow_exprs, &range),
        )
        .await?;
        if a != b {
            tracing::warn!(?range, source = ?a, shadow = ?b, "checksum differs");
            differ.push(range);
        }
        match upper {
            Some(u) => lower = Some(u),
            None => break,
        }
    }
    Ok(differ)
}

/// Copies a range again: delete it from the shadow, insert it from the original.
pub async fn recopy(
    conn: &mut Conn,
    m: &Mapping,
    shadow_key: &Table,
    range: &Range,
) -> Result<(), MigrateError> {
    let mut source_conditions = Vec::new();
    let mut shadow_conditions = Vec::new();
    if let Some(l) = &range.0 {
        source_conditions.push(m.source.key_after(l));
        shadow_conditions.push(shadow_key.key_after(l));
    }
    if let Some(u) = &range.1 {
        source_conditions.push(m.source.key_at_most(u));
        shadow_conditions.push(shadow_key.key_at_most(u));
    }
    let where_of = |c: &Vec<String>| {
        if c.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", c.join(" AND "))
        }
    };
    let delete = format!(
        "DELETE FROM {} {}",
        m.shadow.qualified(),
        where_of(&shadow_conditions)
    );
    let insert = format!(
        "INSERT INTO {} ({}) SELECT {} FROM {} {}",
        m.shadow.qualified(),
        m.insert_list,
        m.select_list,
        m.source.qualified(),
        where_of(&source_conditions)
    );
    super::apply::run_batch(conn, &[&delete, &insert], true).await
}
