//! The copy, the catch-up and the verify snapshot rest on transactions: the
//! checksum compares both tables in one consistent snapshot, which only a
//! transactional engine gives. MyISAM, Aria, MEMORY and the other engines are
//! refused, on either side of the change (`ENGINE=MyISAM` on an InnoDB table
//! too).

use super::Refusal;
use crate::migrate::table::Table;

/// Engines whose reads take part in a consistent snapshot.
const TRANSACTIONAL: &[&str] = &["InnoDB"];

pub fn is_transactional(table: &Table) -> Result<(), Refusal> {
    if TRANSACTIONAL
        .iter()
        .any(|e| e.eq_ignore_ascii_case(&table.engine))
    {
        return Ok(());
    }
    Err(Refusal(format!(
        "table {} uses the {} engine, which has no consistent snapshot for the copy to be verified in",
        table.qualified(),
        table.engine
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::table::int_table;

    #[test]
    fn non_transactional_engines_are_refused() {
        let mut t = int_table(&["a"]);
        assert!(is_transactional(&t).is_ok());
        for engine in ["MyISAM", "Aria", "MEMORY", "CSV"] {
            t.engine = engine.into();
            assert!(is_transactional(&t).is_err(), "{engine}");
        }
        t.engine = "innodb".into();
        assert!(is_transactional(&t).is_ok());
    }
}
