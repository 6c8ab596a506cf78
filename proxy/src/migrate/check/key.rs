//! Rows are copied and matched by a key: the table needs a PRIMARY KEY or a
//! UNIQUE key whose columns are all NOT NULL, and the change must keep those
//! columns (under new names is fine).

use super::Refusal;
use crate::migrate::mapping::Mapping;
use crate::migrate::table::Table;

pub fn has_usable_key(table: &Table) -> Result<(), Refusal> {
    if table.key.is_empty() {
        return Err(Refusal(format!(
            "table {} has neither a PRIMARY KEY nor a UNIQUE key on NOT NULL columns",
            table.qualified()
        )));
    }
    Ok(())
}

/// The shadow and old tables' names must sort after the original's (see
/// `store::shadow_names`); for every name but a long one without a usable
/// ASCII character they do.
pub fn name_leaves_room(table: &Table) -> Result<(), Refusal> {
    use crate::migrate::store::{shadow_names, LARGEST_ID, MAX_NAME};
    if shadow_names(&table.name, LARGEST_ID).is_none() {
        return Err(Refusal(format!(
            "table name {} leaves no room for a shadow table name that sorts after it within {MAX_NAME} characters (it needs an ASCII character below '~' among its first {} characters)",
            table.qualified(),
            MAX_NAME - format!("~tern{LARGEST_ID}_new").len()
        )));
    }
    Ok(())
}

pub fn keeps_key_columns(mapping: &Mapping) -> Result<(), Refusal> {
    if mapping.shadow_key().is_none() {
        return Err(Refusal(format!(
            "the change drops a column of the key Tern copies {} by",
            mapping.source.qualified()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::table::int_table;

    #[test]
    fn a_table_without_a_key_is_refused() {
        let mut t = int_table(&["a"]);
        t.key_name = None;
        t.key = vec![];
        assert!(has_usable_key(&t).is_err());
        t.key = vec![0];
        assert!(has_usable_key(&t).is_ok());
    }
}
