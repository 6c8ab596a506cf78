//! What the engine knows about a table: its columns, the key it copies by, and
//! how to write a key value back into SQL.
//!
//! Key values travel as SQL literals (`KeyTuple`), whether they come from a
//! result set (the copier's high-water mark) or from a binlog row (a change to
//! apply). Strings are written as hex with the column's charset introducer, so a
//! key compares exactly as the stored bytes whatever the connection charset,
//! and a checkpoint can be stored as text and used again after a restart.

use mysql_async::prelude::Queryable;

use crate::migrate::fetch::Fetch;
use mysql_async::{Conn, Value};

use super::MigrateError;
use crate::sql::quote_ident;

/// How a column's values are written as literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnClass {
    Integer,
    /// DECIMAL and floating point: written as their text.
    Numeric,
    Temporal,
    /// Character data in this charset (CHAR, VARCHAR, TEXT, ENUM, SET).
    Text(String),
    /// Bytes with no charset (BINARY, VARBINARY, BLOB, BIT, and anything else).
    Bytes,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// Position in the table, from 0: the index of the column in a binlog row.
    pub ordinal: usize,
    pub data_type: String,
    pub column_type: String,
    pub charset: Option<String>,
    pub collation: Option<String>,
    pub class: ColumnClass,
    /// Generated (virtual or stored) columns are never written.
    pub generated: bool,
    pub nullable: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// Name of the index the engine chunks and applies by (PRIMARY or a NOT NULL UNIQUE key).
    pub key_name: Option<String>,
    /// Positions in `columns` of the key's columns, in key order.
    pub key: Vec<usize>,
    pub engine: String,
    pub rows_estimate: u64,
    pub auto_increment: Option<u64>,
}

/// One key value as SQL literals, one per key column.
pub type KeyTuple = Vec<String>;

fn classify(data_type: &str, charset: Option<&str>) -> ColumnClass {
    match data_type {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "year" => ColumnClass::Integer,
        "decimal" | "float" | "double" => ColumnClass::Numeric,
        "date" | "datetime" | "timestamp" | "time" => ColumnClass::Temporal,
        _ => match charset {
            Some(cs) => ColumnClass::Text(cs.to_string()),
            None => ColumnClass::Bytes,
        },
    }
}

/// The table's columns, in their order.
async fn load_columns(
    conn: &mut Conn,
    schema: &str,
    name: &str,
) -> Result<Vec<Column>, MigrateError> {
    type ColumnRow = (
        String,
        u64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let rows: Vec<ColumnRow> = conn
        .exec_all_as(
            "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, \
             COLLATION_NAME, IS_NULLABLE, IS_GENERATED FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (schema, name),
        )
        .await?;
    let columns: Vec<Column> = rows
        .into_iter()
        .map(
            |(name, ordinal, data_type, column_type, charset, collation, nullable, generated)| {
                Column {
                    class: classify(&data_type, charset.as_deref()),
                    name,
                    ordinal: ordinal.saturating_sub(1) as usize,
                    data_type,
                    column_type,
                    charset,
                    collation,
                    generated: generated != "NEVER",
                    nullable: nullable == "YES",
                }
            },
        )
        .collect();
    Ok(columns)
}

/// The key the engine copies by: its name and column positions, or `(None,
/// [])` when the table has no usable one.
async fn choose_key(
    conn: &mut Conn,
    schema: &str,
    name: &str,
    columns: &[Column],
) -> Result<(Option<String>, Vec<usize>), MigrateError> {
    // PRIMARY first, then the unique key with the fewest columns whose columns are all NOT NULL.
    let stats: Vec<(String, String, u64)> = conn
        .exec_all_as(
            "SELECT INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
            (schema, name),
        )
        .await?;
    let mut candidates: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, column, _) in stats {
        let pos = columns.iter().position(|c| c.name == column);
        match candidates.last_mut() {
            Some((name, cols)) if *name == index => {
                if let Some(p) = pos {
                    cols.push(p)
                } else {
                    cols.push(usize::MAX)
                }
            }
            _ => candidates.push((index, vec![pos.unwrap_or(usize::MAX)])),
        }
    }
    let usable = |cols: &Vec<usize>| {
        cols.iter()
            .all(|&p| columns.get(p).is_some_and(|c| !c.nullable && !c.generated))
    };
    let key = candidates
        .iter()
        .find(|(n, cols)| n == "PRIMARY" && usable(cols))
        .or_else(|| {
            candidates
                .iter()
                .filter(|(_, cols)| usable(cols))
                .min_by_key(|(_, cols)| cols.len())
        })
        .cloned();
    let (key_name, key) = match key {
        Some((n, k)) => (Some(n), k),
        None => (None, Vec::new()),
    };
    Ok((key_name, key))
}

impl Table {
    /// Reads a table's columns and key from information_schema. `None` when
    /// the table does not exist.
    pub async fn load(
        conn: &mut Conn,
        schema: &str,
        name: &str,
    ) -> Result<Option<Table>, MigrateError> {
        let meta: Option<(String, Option<u64>, Option<u64>)> = conn
            .exec_first_as(
                "SELECT ENGINE, TABLE_ROWS, AUTO_INCREMENT FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'",
                (schema, name),
            )
            .await?;
        let Some((engine, rows_estimate, auto_increment)) = meta else {
            return Ok(None);
        };
        let columns = load_columns(conn, schema, name).await?;
        let (key_name, key) = choose_key(conn, schema, name, &columns).await?;
        Ok(Some(Table {
            schema: schema.to_string(),
            name: name.to_string(),
            columns,
            key_name,
            key,
            engine,
            rows_estimate: rows_estimate.unwrap_or(0),
            auto_increment,
        }))
    }

    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.key.iter().filter_map(|&i| self.columns.get(i))
    }

    /// `FORCE INDEX (...)` for the key, so range scans never pick another plan.
    pub fn force_key(&self) -> String {
        match &self.key_name {
            Some(n) => format!("FORCE INDEX ({})", quote_ident(n)),
            None => String::new(),
        }
    }

    /// Key column list: `` `a`, `b` ``.
    pub fn key_list(&self) -> String {
        self.key_columns()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `key > lower` for a (possibly composite) key.
    pub fn key_after(&self, lower: &KeyTuple) -> String {
        self.key_compare(lower, ">")
    }

    /// `key <= upper`.
    pub fn key_at_most(&self, upper: &KeyTuple) -> String {
        self.key_compare(upper, "<=")
    }

    /// Lexicographic comparison written out as ORs of ANDs, which the range
    /// optimizer turns into one index range (row constructors it may not).
    fn key_compare(&self, value: &KeyTuple, op: &str) -> String {
        let cols: Vec<String> = self.key_columns().map(|c| quote_ident(&c.name)).collect();
        let strict = if op == "<=" { "<" } else { op };
        let mut terms = Vec::new();
        for i in 0..cols.len() {
            let mut parts = Vec::new();
            for j in 0..i {
                parts.push(format!("{} = {}", cols[j], value[j]));
            }
            let last_op = if i + 1 == cols.len() { op } else { strict };
            parts.push(format!("{} {last_op} {}", cols[i], value[i]));
            terms.push(format!("({})", parts.join(" AND ")));
        }
        format!("({})", terms.join(" OR "))
    }

    /// `key IN (...)` for a set of keys.
    pub fn key_in(&self, keys: &[&KeyTuple]) -> String {
        let cols: Vec<String> = self.key_columns().map(|c| quote_ident(&c.name)).collect();
        if cols.len() == 1 {
            let list: Vec<&str> = keys.iter().map(|k| k[0].as_str()).collect();
            return format!("{} IN ({})", cols[0], list.join(", "));
        }
        let terms: Vec<String> = keys
            .iter()
            .map(|k| {
                let parts: Vec<String> = cols
                    .iter()
                    .zip(k.iter())
                    .map(|(c, v)| format!("{c} = {v}"))
                    .collect();
                format!("({})", parts.join(" AND "))
            })
            .collect();
        format!("({})", terms.join(" OR "))
    }

    /// The key `rows` rows past `after` in key order (the end of a range of
    /// that many rows), or `None` when fewer rows remain. Scans the key index.
    pub async fn key_rows_after(
        &self,
        conn: &mut Conn,
        after: Option<&KeyTuple>,
        rows: u64,
    ) -> Result<Option<KeyTuple>, MigrateError> {
        let keys = self.key_list();
        let sql = format!(
            "SELECT {keys} FROM {} {} {} ORDER BY {keys} LIMIT 1 OFFSET {}",
            self.qualified(),
            self.force_key(),
            after
                .map(|k| format!("WHERE {}", self.key_after(k)))
                .unwrap_or_default(),
            rows.max(1) - 1
        );
        let row: Option<mysql_async::Row> = conn.first_as(sql).await?;
        match row {
            Some(r) => self.key_from_row(&r).map(Some).ok_or_else(|| {
                MigrateError::Internal("a key value of the original table cannot be read".into())
            }),
            None => Ok(None),
        }
    }

    /// The key of a row read with the key columns first (as `SELECT key_list`
    /// returns them), as literals.
    pub fn key_from_row(&self, row: &mysql_async::Row) -> Option<KeyTuple> {
        self.key_columns()
            .enumerate()
            .map(|(i, c)| row.as_ref(i).and_then(|v| literal(&c.class, v)))
            .collect()
    }
}

pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

fn looks_numeric(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
}

fn looks_temporal(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'.' | b' '))
}

/// A value as a SQL literal for a column of this class. `None` for NULL or a
/// value Tern cannot write back faithfully.
pub fn literal(class: &ColumnClass, value: &Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(format!("{f:?}")),
        Value::Double(f) => Some(format!("{f:?}")),
        Value::Date(y, mo, d, h, mi, s, us) => Some(format!(
            "'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'"
        )),
        Value::Time(neg, days, h, mi, s, us) => Some(format!(
            "'{}{}:{mi:02}:{s:02}.{us:06}'",
            if *neg { "-" } else { "" },
            u64::from(*days) * 24 + u64::from(*h)
        )),
        Value::Bytes(b) => Some(match class {
            ColumnClass::Integer | ColumnClass::Numeric if looks_numeric(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            ColumnClass::Temporal if looks_temporal(b) => {
                format!("'{}'", String::from_utf8_lossy(b))
            }
            ColumnClass::Text(cs) => format!("_{cs} X'{}'", hex(b)),
            _ => format!("X'{}'", hex(b)),
        }),
    }
}

/// Runs a statement that must not fail silently, mapping server errors.
pub async fn exec(conn: &mut Conn, sql: &str) -> Result<(), MigrateError> {
    conn.query_drop(sql).await?;
    Ok(())
}

/// A table of NOT NULL INT columns keyed by all of them, for unit tests.
#[cfg(test)]
pub(crate) fn int_table(key: &[&str]) -> Table {
    let columns = key
        .iter()
        .enumerate()
        .map(|(i, n)| Column {
            name: n.to_string(),
            ordinal: i,
            data_type: "int".into(),
            column_type: "int(11)".into(),
            charset: None,
            collation: None,
            class: ColumnClass::Integer,
            generated: false,
            nullable: false,
        })
        .collect();
    Table {
        schema: "s".into(),
        name: "t".into(),
        columns,
        key_name: Some("PRIMARY".into()),
        key: (0..key.len()).collect(),
        engine: "InnoDB".into(),
        rows_estimate: 0,
        auto_increment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_key_ranges_are_lexicographic() {
        let t = int_table(&["a", "b"]);
        let k = vec!["1".to_string(), "2".to_string()];
        assert_eq!(t.key_after(&k), "((`a` > 1) OR (`a` = 1 AND `b` > 2))");
        assert_eq!(t.key_at_most(&k), "((`a` < 1) OR (`a` = 1 AND `b` <= 2))");
        assert_eq!(t.key_in(&[&k]), "((`a` = 1 AND `b` = 2))");
        let one = int_table(&["id"]);
        assert_eq!(
            one.key_in(&[&vec!["5".into()], &vec!["7".into()]]),
            "`id` IN (5, 7)"
        );
    }

    #[test]
    fn literals_keep_bytes_exact() {
        let text = ColumnClass::Text("latin1".into());
        assert_eq!(
            literal(&text, &Value::Bytes(vec![0xE9, b'\''])).unwrap(),
            "_latin1 X'E927'"
        );
        assert_eq!(
            literal(&ColumnClass::Bytes, &Value::Bytes(vec![0, 1])).unwrap(),
            "X'0001'"
        );
        assert_eq!(
            literal(&ColumnClass::Integer, &Value::Bytes(b"-12".to_vec())).unwrap(),
            "-12"
        );
        assert_eq!(
            literal(&ColumnClass::Integer, &Value::Bytes(b"1; DROP".to_vec())).unwrap(),
            "X'313B2044524F50'"
        );
        assert_eq!(
            literal(&ColumnClass::Integer, &Value::UInt(u64::MAX)).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            literal(
                &ColumnClass::Temporal,
                &Value::Date(2024, 2, 29, 1, 2, 3, 4)
            )
            .unwrap(),
            "'2024-02-29 01:02:03.000004'"
        );
        assert_eq!(
            literal(&ColumnClass::Temporal, &Value::Time(true, 1, 2, 3, 4, 0)).unwrap(),
            "'-26:03:04.000000'"
        );
        assert!(literal(&text, &Value::NULL).is_none());
    }
}
