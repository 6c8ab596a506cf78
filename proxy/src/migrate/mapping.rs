//! Which column of the shadow table each original column feeds.
//!
//! Built from the two tables as they are (not from the ALTER text), plus the
//! renames the plan found: a shadow column is fed by the original column of
//! the same name, or by the original column renamed to it. Generated columns
//! are never written; new columns take their defaults.

use super::table::{Column, Table};
use crate::sql::alter::OnlineAlter;
use crate::sql::quote_ident;

#[derive(Debug, Clone)]
pub struct ColumnPair {
    pub source: Column,
    pub target: Column,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub source: Table,
    pub shadow: Table,
    pub pairs: Vec<ColumnPair>,
    /// `` `a`, `b` `` in the shadow.
    pub insert_list: String,
    /// `` `a`, `old_b` `` in the original, in the same order.
    pub select_list: String,
    /// Shadow columns no original column feeds that a new row must be given
    /// a value for (NOT NULL without a default), with that value as SQL.
    /// Only a keeper's mapping has them (see `keeper`); a shadow's new
    /// columns take their defaults.
    pub fill: Vec<(String, String)>,
}

impl Mapping {
    pub fn new(source: Table, shadow: Table, alter: &OnlineAlter) -> Mapping {
        let mut pairs = Vec::new();
        for target in shadow.columns.iter().filter(|c| !c.generated) {
            let from = source.columns.iter().find(|s| {
                !s.generated
                    && alter
                        .new_name_of(&s.name)
                        .is_some_and(|n| n.eq_ignore_ascii_case(&target.name))
            });
            if let Some(source_col) = from {
                pairs.push(ColumnPair {
                    source: source_col.clone(),
                    target: target.clone(),
                });
            }
        }
        Mapping::from_pairs(source, shadow, pairs)
    }

    fn from_pairs(source: Table, shadow: Table, pairs: Vec<ColumnPair>) -> Mapping {
        let insert_list = pairs
            .iter()
            .map(|p| quote_ident(&p.target.name))
            .collect::<Vec<_>>()
            .join(", ");
        let select_list = pairs
            .iter()
            .map(|p| quote_ident(&p.source.name))
            .collect::<Vec<_>>()
            .join(", ");
        Mapping {
            source,
            shadow,
            pairs,
            insert_list,
            select_list,
            fill: Vec::new(),
        }
    }

    /// The other way round: the shadow's columns feed the original's (a
    /// revert; see `keeper`).
    pub fn inverse(self) -> Mapping {
        let pairs = self
            .pairs
            .into_iter()
            .map(|p| ColumnPair {
                source: p.target,
                target: p.source,
            })
            .collect();
        Mapping::from_pairs(self.shadow, self.source, pairs)
    }

    /// Do the key's columns compare the same way in both tables (same type,
    /// charset and collation)? Only then do key ranges select the same rows
    /// on both sides.
    pub fn key_compares_alike(&self) -> bool {
        self.source.key_columns().all(|col| {
            self.pairs.iter().any(|p| {
                p.source.name == col.name
                    && p.target.column_type == col.column_type
                    && p.target.charset == col.charset
                    && p.target.collation == col.collation
            })
        })
    }

    /// The shadow's names for the original key's columns; `None` when the
    /// change drops one of them (rows could not be matched by key any more).
    pub fn shadow_key(&self) -> Option<Table> {
        let mut t = self.shadow.clone();
        let mut key = Vec::new();
        for col in self.source.key_columns() {
            let pair = self.pairs.iter().find(|p| p.source.name == col.name)?;
            let pos = t.columns.iter().position(|c| c.name == pair.target.name)?;
            // Literals are rendered from the original's values: keep its class.
            t.columns[pos].class = col.class.clone();
            key.push(pos);
        }
        t.key = key;
        t.key_name = None;
        Some(t)
    }
}
