//! Foreign keys of the migrated table, where it is the child.
//!
//! **The shadow has no foreign keys while the copy runs.** With them, a
//! client's delete of a parent row would be refused (`RESTRICT`) because of
//! a shadow row the applier has not removed yet, and the copier's chunks
//! would take locks on the parents and deadlock with the clients' cascades.
//! The shadow gets them inside the cut-over's freeze instead, in place and
//! without reading a row (`foreign_key_checks = 0`), after the original lost
//! its own (it is about to become the old table, whose rows must neither
//! hold back a parent's delete nor take its cascades). A swap that backs out
//! puts both back before the lock is released.
//!
//! **Cascades.** A parent's `ON DELETE CASCADE | SET NULL` and `ON UPDATE
//! CASCADE | SET NULL` change the child inside InnoDB: the binlog has the
//! parent's row event and nothing for the child. So change capture also
//! reads the parents' events ([`Cascade`]): a parent row deleted, or whose
//! referenced columns changed, names the child rows that referenced its old
//! values. Those are found in the shadow (which still has them as they were)
//! and copied again from the original, like any other changed row. Rows the
//! copier has not reached yet are not in the shadow and need nothing. A
//! chunk that read a row just before its cascade is caught the same way: the
//! lookup runs after the chunk committed, in the same task. A cascade two
//! levels away (a grandparent's delete cascading through a parent) leaves no
//! event for the parent either, so a table reached that way is refused.
//!
//! **Parents.** Tables that reference the migrated table (its children)
//! reference it by name, and a RENAME makes them follow it to its old name,
//! with or without `foreign_key_checks` (measured). So inside the freeze the
//! children are locked with the table, and each child's foreign keys are
//! dropped and added again referencing the shadow ([`repoint`]): the RENAME
//! then takes them along to the new table. A child keeps its own names,
//! rules and indexes (its indexes are pinned beforehand, see
//! [`pin_indexes`]). A shadow that could not take a child's foreign key (a
//! referenced column changed or without an index) is refused up front, as
//! the server's own ALTER would refuse it. A cut-over that backs out makes
//! the children reference the original again ([`return_children`]), and so
//! does the next start after a crash inside the freeze. The parent is never
//! without its children's constraints for a write: the children stay
//! locked from before the re-point until after the RENAME.
//!
//! **Names.** The new table ends with the names the server would have given:
//! the original's names, and for a name InnoDB generated (`t_ibfk_3`) the
//! same. To learn the final set, the empty shadow is first given the
//! original's foreign keys under names of its own (`t_tern7_new_ibfk_3` for
//! a generated name, which keeps InnoDB's numbering; `tern7_fk2` for
//! another), the change is applied to it with its `DROP FOREIGN KEY` names
//! translated, so that the server applies all its own rules (an index a
//! foreign key needs cannot go, a dropped column takes its key along), and
//! the result is read back and recorded before they are dropped again.
//!
//! Invariants:
//! - Outside the frozen moment of a cut-over, the original has exactly its
//!   recorded foreign keys and the shadow has none, and no table references
//!   the shadow.
//! - Should Tern die inside that moment, the next start finds the original
//!   without its recorded foreign keys and puts them back ([`move_back`]),
//!   as it does for triggers; until then the original has none (documented
//!   for the person on call, with the statements to run by hand).

use std::collections::HashSet;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};

use super::fetch::Fetch;
use super::mapping::Mapping;
use super::table::{literal, qualified, KeyTuple, Table};
use super::MigrateError;
use crate::sql::quote_ident;

/// A foreign key as `information_schema` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `RESTRICT`, `CASCADE`, `SET NULL`, `NO ACTION` or `SET DEFAULT`.
    pub on_update: String,
    pub on_delete: String,
}

/// A rule that makes InnoDB change the child when the parent changes.
fn cascades(rule: &str) -> bool {
    matches!(rule, "CASCADE" | "SET NULL" | "SET DEFAULT")
}

impl ForeignKey {
    /// `CONSTRAINT name FOREIGN KEY (...) REFERENCES ... [ON ...]`, as the
    /// server would print it back. `RESTRICT` is the default and is left
    /// out, as `SHOW CREATE TABLE` leaves it out.
    pub fn clause(&self, name: &str) -> String {
        let list = |cols: &[String]| {
            cols.iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut clause = format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            quote_ident(name),
            list(&self.columns),
            qualified(&self.ref_schema, &self.ref_table),
            list(&self.ref_columns)
        );
        for (event, rule) in [("DELETE", &self.on_delete), ("UPDATE", &self.on_update)] {
            if rule != "RESTRICT" {
                clause.push_str(&format!(" ON {event} {rule}"));
            }
        }
        clause
    }

    /// The parent's changes reach this table's rows inside InnoDB.
    pub fn cascades(&self) -> bool {
        cascades(&self.on_delete) || cascades(&self.on_update)
    }
}

/// The foreign keys `schema.table` has (as the child), by name.
pub async fn of_table(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<ForeignKey>, MigrateError> {
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = conn
        .exec_all_as(
            "SELECT rc.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, \
             k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.UPDATE_RULE, rc.DELETE_RULE \
             FROM information_schema.REFERENTIAL_CONSTRAINTS rc \
             JOIN information_schema.KEY_COLUMN_USAGE k \
               ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA \
              AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME \
             WHERE rc.CONSTRAINT_SCHEMA = ? AND rc.TABLE_NAME = ? \
             ORDER BY rc.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            (schema, table),
        )
        .await?;
    let mut keys: Vec<ForeignKey> = Vec::new();
    for (name, column, ref_schema, ref_table, ref_column, on_update, on_delete) in rows {
        match keys.last_mut() {
            Some(k) if k.name == name => {
                k.columns.push(column);
                k.ref_columns.push(ref_column);
            }
            _ => keys.push(ForeignKey {
                name,
                columns: vec![column],
                ref_schema,
                ref_table,
                ref_columns: vec![ref_column],
                on_update,
                on_delete,
            }),
        }
    }
    Ok(keys)
}

/// The `_ibfk_<n>` tail of a name InnoDB generated for `table`'s foreign
/// key, which InnoDB renames with the table.
fn generated_tail<'a>(name: &'a str, table: &str) -> Option<&'a str> {
    let tail = name.strip_prefix(table)?;
    let digits = tail.strip_prefix("_ibfk_")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(tail)
}

/// The longest constraint name MariaDB accepts, in characters.
const MAX_NAME: usize = 64;
/// Room kept for the number of a generated name (`_ibfk_99`).
const GENERATED_TAIL_ROOM: usize = "_ibfk_99".len();

/// Whether the names InnoDB generates for the shadow's foreign keys
/// (`<shadow>_ibfk_<n>`) fit in a name.
pub fn generated_names_fit(shadow: &str) -> bool {
    shadow.chars().count() + GENERATED_TAIL_ROOM <= MAX_NAME
}

/// The names the empty shadow gives the original's foreign keys while the
/// change is tried on it (module doc).
pub struct Trial {
    table: String,
    shadow: String,
    original: Vec<ForeignKey>,
    /// (the shadow's name, the original name) for names InnoDB did not generate.
    named: Vec<(String, String)>,
}

impl Trial {
    /// `Err` says why the names cannot be made (a generated name that would
    /// not fit).
    pub fn new(
        original: Vec<ForeignKey>,
        table: &str,
        shadow: &str,
        id: u64,
    ) -> Result<Trial, String> {
        let mut named = Vec::new();
        for (k, fk) in original.iter().enumerate() {
            if generated_tail(&fk.name, table).is_none() {
                named.push((format!("tern{id}_fk{}", k + 1), fk.name.clone()));
            } else if !generated_names_fit(shadow) {
                return Err(format!(
                    "the shadow table's name {shadow} leaves no room for the names InnoDB gives its foreign keys"
                ));
            }
        }
        Ok(Trial {
            table: table.to_string(),
            shadow: shadow.to_string(),
            original,
            named,
        })
    }

    /// The name the shadow gives the original's foreign key `name`.
    pub fn shadow_name(&self, name: &str) -> Option<String> {
        if let Some(tail) = generated_tail(name, &self.table) {
            return Some(format!("{}{tail}", self.shadow));
        }
        self.named
            .iter()
            .find(|(_, original)| original.eq_ignore_ascii_case(name))
            .map(|(shadow, _)| shadow.clone())
    }

    /// The name the new table gives the shadow's foreign key `name`.
    fn final_name(&self, name: &str) -> String {
        if let Some(tail) = generated_tail(name, &self.shadow) {
            return format!("{}{tail}", self.table);
        }
        self.named
            .iter()
            .find(|(shadow, _)| shadow == name)
            .map_or_else(|| name.to_string(), |(_, original)| original.clone())
    }

    /// Gives the empty shadow the original's foreign keys under its names,
    /// its indexes pinned first (see [`pin_indexes`]).
    pub async fn add_to_shadow(&self, conn: &mut Conn, schema: &str) -> Result<(), MigrateError> {
        if self.original.is_empty() {
            return Ok(());
        }
        pin_indexes(conn, schema, &self.shadow).await?;
        let shadow_q = qualified(schema, &self.shadow);
        let clauses: Vec<String> = self
            .original
            .iter()
            .filter_map(|fk| Some(format!("ADD {}", fk.clause(&self.shadow_name(&fk.name)?))))
            .collect();
        alter_unchecked(conn, &shadow_q, &clauses).await
    }

    /// After the change was applied to the shadow: reads the foreign keys
    /// it left, under their final names, and drops them from the shadow.
    pub async fn finish(self, conn: &mut Conn, schema: &str) -> Result<Plan, MigrateError> {
        let left = of_table(conn, schema, &self.shadow).await?;
        let drops: Vec<String> = left
            .iter()
            .map(|fk| format!("DROP FOREIGN KEY {}", quote_ident(&fk.name)))
            .collect();
        alter_unchecked(conn, &qualified(schema, &self.shadow), &drops).await?;
        let final_keys = left
            .into_iter()
            .map(|fk| ForeignKey {
                name: self.final_name(&fk.name),
                ..fk
            })
            .collect();
        Ok(Plan {
            original: self.original,
            final_keys,
        })
    }
}

/// Renames a table's indexes away and back. MariaDB marks an index it made
/// for a foreign key, and a foreign key added later on its columns replaces
/// such an index with one named after the constraint, or moves it last
/// (measured on 10.11: `KEY qid` became `KEY c_ibfk_1`); a rename clears the
/// mark, so that adding a foreign key again leaves the indexes as they were.
/// Instant; waits for the table's metadata lock at most [`PIN_WAIT_SECS`].
pub async fn pin_indexes(conn: &mut Conn, schema: &str, table: &str) -> Result<(), MigrateError> {
    let indexes: Vec<String> = conn
        .exec_all_as(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY'",
            (schema, table),
        )
        .await?;
    if indexes.is_empty() {
        return Ok(());
    }
    let renames = |to_temporary: bool| -> String {
        indexes
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let temporary = format!("tern_ix{}", k + 1);
                let (from, to) = if to_temporary {
                    (name.as_str(), temporary.as_str())
                } else {
                    (temporary.as_str(), name.as_str())
                };
                format!("RENAME INDEX {} TO {}", quote_ident(from), quote_ident(to))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let table_q = qualified(schema, table);
    for to_temporary in [true, false] {
        conn.query_drop(format!(
            "SET STATEMENT lock_wait_timeout = {PIN_WAIT_SECS} FOR ALTER TABLE {table_q} {}",
            renames(to_temporary)
        ))
        .await?;
    }
    Ok(())
}

/// How long pinning a child's indexes may wait for its metadata lock.
pub const PIN_WAIT_SECS: u64 = 5;

/// A foreign key of another table (a child) that references the migrated
/// table (module doc: parents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildKey {
    pub schema: String,
    pub table: String,
    pub key: ForeignKey,
}

impl ChildKey {
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.table)
    }
}

/// The foreign keys of other tables that reference `schema.table`.
pub async fn children_of(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<ChildKey>, MigrateError> {
    let tables: Vec<(String, String)> = conn
        .exec_all_as(
            "SELECT DISTINCT CONSTRAINT_SCHEMA, TABLE_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ? \
               AND NOT (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) \
             ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME",
            (schema, table, schema, table),
        )
        .await?;
    let mut children = Vec::new();
    for (child_schema, child_table) in tables {
        for key in of_table(conn, &child_schema, &child_table).await? {
            if key.ref_schema == schema && key.ref_table == table {
                children.push(ChildKey {
                    schema: child_schema.clone(),
                    table: child_table.clone(),
                    key,
                });
            }
        }
    }
    Ok(children)
}

/// Makes each of `children` reference `to` (in the parent's schema) with
/// the referenced columns `columns` gives it, same name and rules: per child
/// table one ALTER dropping its keys and one adding them back (a name cannot
/// be dropped and added in one ALTER: ERROR 1826), in place with
/// `foreign_key_checks = 0`.
pub async fn repoint(
    conn: &mut Conn,
    children: &[ChildKey],
    to: &str,
    columns: impl Fn(&ChildKey) -> Vec<String>,
) -> Result<(), MigrateError> {
    let mut tables: Vec<(&str, &str)> = children
        .iter()
        .map(|c| (c.schema.as_str(), c.table.as_str()))
        .collect();
    tables.dedup();
    for (schema, table) in tables {
        let keys: Vec<&ChildKey> = children
            .iter()
            .filter(|c| c.schema == schema && c.table == table)
            .collect();
        let table_q = qualified(schema, table);
        let drops: Vec<String> = keys
            .iter()
            .map(|c| format!("DROP FOREIGN KEY {}", quote_ident(&c.key.name)))
            .collect();
        alter_unchecked(conn, &table_q, &drops).await?;
        let adds: Vec<String> = keys
            .iter()
            .map(|c| {
                let moved = ForeignKey {
                    ref_table: to.to_string(),
                    ref_columns: columns(c),
                    ..c.key.clone()
                };
                format!("ADD {}", moved.clause(&c.key.name))
            })
            .collect();
        alter_unchecked(conn, &table_q, &adds).await?;
    }
    Ok(())
}

/// The shadow's names of the columns a child references, or why the shadow
/// cannot take the child's foreign key: each referenced column must be in
/// the shadow with the same type and collation, and lead an index in order.
pub async fn shadow_columns_for(
    conn: &mut Conn,
    child: &ChildKey,
    mapping: &Mapping,
) -> Result<Result<Vec<String>, String>, MigrateError> {
    let mut columns = Vec::new();
    for name in &child.key.ref_columns {
        let pair = mapping
            .pairs
            .iter()
            .find(|p| p.source.name.eq_ignore_ascii_case(name));
        let Some(pair) = pair.filter(|p| {
            p.source.column_type == p.target.column_type && p.source.collation == p.target.collation
        }) else {
            return Ok(Err(format!(
                "the change alters or drops column `{name}`, which foreign key `{}` of `{}`.`{}` references",
                child.key.name, child.schema, child.table
            )));
        };
        columns.push(pair.target.name.clone());
    }
    let indexes: Vec<(String, u64, String)> = conn
        .exec_all_as(
            "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (&mapping.shadow.schema, &mapping.shadow.name),
        )
        .await?;
    let leads = |index: &str| {
        columns.iter().enumerate().all(|(i, col)| {
            indexes.iter().any(|(n, seq, c)| {
                n == index && *seq == i as u64 + 1 && c.eq_ignore_ascii_case(col)
            })
        })
    };
    if !indexes.iter().any(|(n, _, _)| leads(n)) {
        return Ok(Err(format!(
            "the change leaves no index on the columns foreign key `{}` of `{}`.`{}` references",
            child.key.name, child.schema, child.table
        )));
    }
    Ok(Ok(columns))
}

/// Children that reference the shadow, left so by a cut-over that did not
/// swap, made to reference the original again (the shadow's column names
/// translated back through `mapping`); says how many.
pub async fn return_children(conn: &mut Conn, mapping: &Mapping) -> Result<usize, MigrateError> {
    let (source, shadow) = (&mapping.source, &mapping.shadow);
    let stranded = children_of(conn, &shadow.schema, &shadow.name).await?;
    let original_names = |c: &ChildKey| {
        c.key
            .ref_columns
            .iter()
            .map(|n| {
                mapping
                    .pairs
                    .iter()
                    .find(|p| p.target.name.eq_ignore_ascii_case(n))
                    .map_or_else(|| n.clone(), |p| p.source.name.clone())
            })
            .collect()
    };
    repoint(conn, &stranded, &source.name, original_names).await?;
    Ok(stranded.len())
}

/// Gives each child in `recorded` (the children as a cut-over found them,
/// before it re-pointed any) back a key it lost: re-pointing drops a key
/// before adding it again under the same name, so a Tern stopped between
/// the two leaves the child without it. Idempotent; says how many it added.
pub async fn restore_children(
    conn: &mut Conn,
    recorded: &[ChildKey],
) -> Result<usize, MigrateError> {
    let mut tables: Vec<(&str, &str)> = recorded
        .iter()
        .map(|c| (c.schema.as_str(), c.table.as_str()))
        .collect();
    tables.dedup();
    let mut added = 0;
    for (schema, table) in tables {
        let present = of_table(conn, schema, table).await?;
        let adds: Vec<String> = recorded
            .iter()
            .filter(|c| c.schema == schema && c.table == table)
            .filter(|c| !present.iter().any(|p| p.name == c.key.name))
            .map(|c| format!("ADD {}", c.key.clause(&c.key.name)))
            .collect();
        added += adds.len();
        alter_unchecked(conn, &qualified(schema, table), &adds).await?;
    }
    Ok(added)
}

/// The children as JSON, for the control table.
pub fn children_json(children: &[ChildKey]) -> String {
    serde_json::to_string(children).unwrap_or_default()
}

pub fn children_from_json(text: &str) -> Result<Vec<ChildKey>, MigrateError> {
    serde_json::from_str(text)
        .map_err(|e| MigrateError::Internal(format!("unreadable child key record: {e}")))
}

/// The original's foreign keys and the new table's, recorded with the
/// migration so that a later start can put the original's back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub original: Vec<ForeignKey>,
    /// Under their final names.
    pub final_keys: Vec<ForeignKey>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.original.is_empty() && self.final_keys.is_empty()
    }

    /// The foreign keys the change adds (none of the original's has their
    /// name): the server would check the existing rows against them.
    pub fn added(&self) -> impl Iterator<Item = &ForeignKey> {
        self.final_keys
            .iter()
            .filter(|f| !self.original.iter().any(|o| o.name == f.name))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Plan, MigrateError> {
        serde_json::from_str(text)
            .map_err(|e| MigrateError::Internal(format!("unreadable foreign key record: {e}")))
    }
}

/// `ALTER TABLE` with `foreign_key_checks = 0`: a change of constraints
/// only, which MariaDB then makes in place without reading a row.
async fn alter_unchecked(
    conn: &mut Conn,
    table: &str,
    clauses: &[String],
) -> Result<(), MigrateError> {
    if clauses.is_empty() {
        return Ok(());
    }
    conn.query_drop(format!(
        "SET STATEMENT foreign_key_checks = 0 FOR ALTER TABLE {table} {}",
        clauses.join(", ")
    ))
    .await?;
    Ok(())
}

fn drops(keys: &[ForeignKey]) -> Vec<String> {
    keys.iter()
        .map(|fk| format!("DROP FOREIGN KEY {}", quote_ident(&fk.name)))
        .collect()
}

/// Inside the freeze, on the connection that holds the lock: the original
/// loses its foreign keys and the shadow gets the new table's (module doc).
/// On an error the caller backs out with [`move_back`].
pub async fn move_to_shadow(
    lock: &mut Conn,
    schema: &str,
    table: &str,
    shadow: &str,
    plan: &Plan,
) -> Result<(), MigrateError> {
    if plan.is_empty() {
        return Ok(());
    }
    let present = of_table(lock, schema, table).await?;
    alter_unchecked(lock, &qualified(schema, table), &drops(&present)).await?;
    let on_shadow = of_table(lock, schema, shadow).await?;
    let adds: Vec<String> = plan
        .final_keys
        .iter()
        .filter(|fk| !on_shadow.iter().any(|s| s.name == fk.name))
        .map(|fk| format!("ADD {}", fk.clause(&fk.name)))
        .collect();
    alter_unchecked(lock, &qualified(schema, shadow), &adds).await
}

/// Undoes [`move_to_shadow`], from any point of it: the shadow loses its
/// foreign keys and the original gets back each recorded one it lacks.
/// Idempotent; says whether it changed anything.
pub async fn move_back(
    conn: &mut Conn,
    schema: &str,
    table: &str,
    shadow: &str,
    plan: &Plan,
) -> Result<bool, MigrateError> {
    if plan.is_empty() {
        return Ok(false);
    }
    let on_shadow = of_table(conn, schema, shadow).await?;
    alter_unchecked(conn, &qualified(schema, shadow), &drops(&on_shadow)).await?;
    let present = of_table(conn, schema, table).await?;
    let missing: Vec<String> = plan
        .original
        .iter()
        .filter(|fk| !present.iter().any(|p| p.name == fk.name))
        .map(|fk| format!("ADD {}", fk.clause(&fk.name)))
        .collect();
    alter_unchecked(conn, &qualified(schema, table), &missing).await?;
    Ok(!on_shadow.is_empty() || !missing.is_empty())
}

/// A parent whose changes cascade into the migrated table: what change
/// capture reads in its row events (module doc).
#[derive(Debug, Clone)]
pub struct Cascade {
    pub parent_schema: String,
    pub parent_table: String,
    /// Columns in the parent's rows, to recognise its row events.
    pub parent_columns: usize,
    /// The referenced columns' positions in the parent's rows, with their
    /// classes, in the foreign key's order.
    pub referenced: Vec<(usize, super::table::ColumnClass)>,
    pub on_delete: bool,
    pub on_update: bool,
    /// The child's columns in the shadow, in the foreign key's order.
    pub shadow_columns: Vec<String>,
}

/// The cascades that reach the original through `plan.original`, or why one
/// cannot be followed. `parents` loads a parent table.
pub async fn cascades_of(
    conn: &mut Conn,
    plan: &Plan,
    mapping: &Mapping,
) -> Result<Result<Vec<Cascade>, String>, MigrateError> {
    let mut out = Vec::new();
    for fk in plan.original.iter().filter(|fk| fk.cascades()) {
        let Some(parent) = Table::load(conn, &fk.ref_schema, &fk.ref_table).await? else {
            return Ok(Err(format!(
                "the parent of foreign key `{}` is gone",
                fk.name
            )));
        };
        // Its own cascades would change it without a row event.
        let grand = of_table(conn, &fk.ref_schema, &fk.ref_table).await?;
        if let Some(g) = grand.iter().find(|g| g.cascades()) {
            return Ok(Err(format!(
                "changes cascade into it from `{}`.`{}` through `{}`.`{}` (foreign key `{}`), which leaves no row event to follow",
                g.ref_schema, g.ref_table, fk.ref_schema, fk.ref_table, g.name
            )));
        }
        let mut referenced = Vec::new();
        for col in &fk.ref_columns {
            let Some(c) = parent.column(col) else {
                return Ok(Err(format!("the parent lacks column `{col}`")));
            };
            referenced.push((c.ordinal, c.class.clone()));
        }
        let mut shadow_columns = Vec::new();
        for col in &fk.columns {
            let Some(pair) = mapping
                .pairs
                .iter()
                .find(|p| p.source.name.eq_ignore_ascii_case(col))
            else {
                return Ok(Err(format!(
                    "the change drops column `{col}`, which the parent's cascades of foreign key `{}` change",
                    fk.name
                )));
            };
            shadow_columns.push(pair.target.name.clone());
        }
        out.push(Cascade {
            parent_schema: fk.ref_schema.clone(),
            parent_table: fk.ref_table.clone(),
            parent_columns: parent.columns.len(),
            referenced,
            on_delete: cascades(&fk.on_delete),
            on_update: cascades(&fk.on_update),
            shadow_columns,
        });
    }
    Ok(Ok(out))
}

/// What change capture found for cascades: (index into the cascades, the
/// parent's old referenced values as literals).
pub type CascadeHits = HashSet<(usize, KeyTuple)>;

/// Rows per lookup statement.
const LOOKUP_BATCH: usize = 500;

/// The keys of the shadow rows that referenced the parent values in `hits`:
/// the rows a cascade changed in the original (module doc). Runs after every
/// chunk written so far has committed.
pub async fn cascaded_keys(
    conn: &mut Conn,
    shadow: &str,
    shadow_key: &Table,
    cascades: &[Cascade],
    hits: &CascadeHits,
) -> Result<Vec<KeyTuple>, MigrateError> {
    let mut keys = Vec::new();
    let key_list: Vec<String> = shadow_key
        .key_columns()
        .map(|c| quote_ident(&c.name))
        .collect();
    for (i, cascade) in cascades.iter().enumerate() {
        let values: Vec<&KeyTuple> = hits
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, v)| v)
            .collect();
        for batch in values.chunks(LOOKUP_BATCH) {
            let columns: Vec<String> = cascade
                .shadow_columns
                .iter()
                .map(|c| quote_ident(c))
                .collect();
            let tuples: Vec<String> = batch
                .iter()
                .map(|v| format!("({})", v.join(", ")))
                .collect();
            let rows: Vec<mysql_async::Row> = conn
                .all_as(format!(
                    "SELECT {} FROM {shadow} WHERE ({}) IN ({})",
                    key_list.join(", "),
                    columns.join(", "),
                    tuples.join(", ")
                ))
                .await?;
            for row in rows {
                let key: Option<KeyTuple> = shadow_key
                    .key_columns()
                    .enumerate()
                    .map(|(j, c)| row.as_ref(j).and_then(|v| literal(&c.class, v)))
                    .collect();
                if let Some(k) = key {
                    keys.push(k);
                }
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(name: &str, on_delete: &str) -> ForeignKey {
        ForeignKey {
            name: name.into(),
            columns: vec!["pid".into(), "k`2".into()],
            ref_schema: "app".into(),
            ref_table: "p".into(),
            ref_columns: vec!["id".into(), "k2".into()],
            on_update: "RESTRICT".into(),
            on_delete: on_delete.into(),
        }
    }

    #[test]
    fn clause_reads_as_show_create_table_prints_it() {
        assert_eq!(
            fk("fk_a", "CASCADE").clause("x"),
            "CONSTRAINT `x` FOREIGN KEY (`pid`, `k``2`) REFERENCES `app`.`p` (`id`, `k2`) ON DELETE CASCADE"
        );
        assert_eq!(
            fk("fk_a", "RESTRICT").clause("fk_a"),
            "CONSTRAINT `fk_a` FOREIGN KEY (`pid`, `k``2`) REFERENCES `app`.`p` (`id`, `k2`)"
        );
        assert!(fk("a", "SET NULL").cascades());
        assert!(!fk("a", "NO ACTION").cascades());
    }

    #[test]
    fn names_go_to_the_shadows_form_and_back() {
        let trial = Trial::new(
            vec![
                fk("t_ibfk_1", "CASCADE"),
                fk("fk_user", "SET NULL"),
                fk("t_ibfk_x", "CASCADE"),
            ],
            "t",
            "t_tern7_new",
            7,
        )
        .expect("trial");
        assert_eq!(
            trial.shadow_name("t_ibfk_1").as_deref(),
            Some("t_tern7_new_ibfk_1")
        );
        assert_eq!(trial.shadow_name("FK_USER").as_deref(), Some("tern7_fk2"));
        assert_eq!(trial.shadow_name("t_ibfk_x").as_deref(), Some("tern7_fk3"));
        assert_eq!(trial.shadow_name("other"), None);
        assert_eq!(trial.final_name("t_tern7_new_ibfk_1"), "t_ibfk_1");
        assert_eq!(trial.final_name("t_tern7_new_ibfk_4"), "t_ibfk_4");
        assert_eq!(trial.final_name("tern7_fk2"), "fk_user");
        assert_eq!(trial.final_name("fk_added"), "fk_added");
    }

    #[test]
    fn a_generated_name_that_cannot_fit_is_refused() {
        let shadow = "s".repeat(60);
        assert!(Trial::new(vec![fk("t_ibfk_1", "CASCADE")], "t", &shadow, 7).is_err());
        assert!(Trial::new(vec![fk("named", "CASCADE")], "t", &shadow, 7).is_ok());
    }

    #[test]
    fn plan_survives_its_record_and_knows_what_the_change_adds() {
        let plan = Plan {
            original: vec![fk("a", "CASCADE")],
            final_keys: vec![fk("a", "CASCADE"), fk("b", "RESTRICT")],
        };
        assert_eq!(Plan::from_json(&plan.to_json()).expect("json"), plan);
        let added: Vec<&str> = plan.added().map(|f| f.name.as_str()).collect();
        assert_eq!(added, ["b"]);
    }
}
