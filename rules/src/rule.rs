//! One compiled rule: its conditions, ready to test against a statement's
//! facts, and its actions.
//!
//! Conditions are ANDed; each list condition is satisfied by any one of its
//! elements; a condition the file leaves out is `None` here and holds for
//! every statement. `kind` is not tested here: the rule set only offers a
//! rule the statements of its kinds. `pattern` is not tested here either:
//! it is answered for all rules at once by the rule set's regex set, and only
//! for rules whose cheap conditions all hold.

use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::glob::Glob;
use crate::{Consistency, Destination, Reject, StatementFacts, TableName};

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: Option<String>,
    /// 1-based line of the rule's `[[rule]]` header.
    pub(crate) line: usize,
    /// Bit `StatementKind::index()` set for each kind the rule applies to.
    pub(crate) kinds: u16,
    pub(crate) conditions: Conditions,
    /// Index of the rule's regex in the rule set's pattern set.
    pub(crate) pattern: Option<usize>,
    pub(crate) route: Option<Destination>,
    pub(crate) reject: Option<Reject>,
    pub(crate) consistency: Option<Consistency>,
    /// Stop looking at later rules once this one matched.
    pub(crate) last: bool,
}

/// The conditions other than `kind` and `pattern`, cheapest first.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) clients: Option<Box<[Cidr]>>,
    pub(crate) users: Option<Box<[Glob]>>,
    pub(crate) schemas: Option<Box<[Glob]>>,
    pub(crate) hints: Option<Box<[HintMatch]>>,
    pub(crate) tables: Option<Box<[TablePattern]>>,
}

impl Conditions {
    /// `client` must already be canonical (see `cidr::canonical`), so that
    /// the conversion is done once per statement, not once per rule. It is
    /// passed by reference because, by value, the compiler rebuilt the
    /// 17-byte `IpAddr` on the stack for every rule, which cost more than
    /// the rest of a rule's checks (measured).
    pub(crate) fn hold(&self, facts: &StatementFacts<'_>, client: &IpAddr) -> bool {
        if let Some(clients) = &self.clients {
            if !clients.iter().any(|c| c.contains(*client)) {
                return false;
            }
        }
        if let Some(users) = &self.users {
            if !users.iter().any(|g| g.matches(facts.user)) {
                return false;
            }
        }
        if let Some(schemas) = &self.schemas {
            // A session with no default schema has none to match.
            let Some(schema) = facts.schema else {
                return false;
            };
            if !schemas.iter().any(|g| g.matches(schema)) {
                return false;
            }
        }
        if let Some(hints) = &self.hints {
            let found = facts
                .hints
                .iter()
                .any(|&(key, value)| hints.iter().any(|h| h.matches(key, value)));
            if !found {
                return false;
            }
        }
        if let Some(tables) = &self.tables {
            let found = facts
                .tables
                .iter()
                .any(|t| tables.iter().any(|p| p.matches(t, facts.schema)));
            if !found {
                return false;
            }
        }
        true
    }
}

/// A `tables` element: `table` alone (any schema) or `schema.table`.
#[derive(Debug)]
pub(crate) struct TablePattern {
    /// `None` when the pattern has no dot.
    pub(crate) schema: Option<Glob>,
    pub(crate) table: Glob,
}

impl TablePattern {
    /// Parses one `tables` element; the error says why it is not one.
    pub(crate) fn parse(pattern: &str) -> Result<TablePattern, String> {
        let mut parts = pattern.split('.');
        let (first, second) = (parts.next().unwrap_or(""), parts.next());
        if parts.next().is_some() {
            return Err(
                "a table pattern is `table` or `schema.table`, with at most one dot".into(),
            );
        }
        match second {
            None => Ok(TablePattern {
                schema: None,
                table: Glob::new(first).map_err(String::from)?,
            }),
            Some(table) => {
                let schema = Glob::new(first).map_err(|e| format!("schema part: {e}"))?;
                let table = Glob::new(table).map_err(|e| format!("table part: {e}"))?;
                Ok(TablePattern {
                    // `*.orders` is the same as `orders`, and cheaper.
                    schema: (!schema.is_everything()).then_some(schema),
                    table,
                })
            }
        }
    }

    /// A table written without a schema is in the session's default schema,
    /// as the server resolves it; with neither, a `schema.table` pattern has
    /// no schema to compare and does not match.
    fn matches(&self, table: &TableName<'_>, default_schema: Option<&str>) -> bool {
        if !self.table.matches(table.name) {
            return false;
        }
        match &self.schema {
            None => true,
            Some(glob) => table
                .schema
                .or(default_schema)
                .is_some_and(|s| glob.matches(s)),
        }
    }
}

/// A `hint` element: `key` (any value, or none) or `key=value`. Both compare
/// ignoring ASCII case, like the rest of the rule file's names.
#[derive(Debug)]
pub(crate) struct HintMatch {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
}

impl HintMatch {
    /// Parses one `hint` element; the error says why it is not one.
    pub(crate) fn parse(text: &str) -> Result<HintMatch, &'static str> {
        let (key, value) = match text.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        if key.is_empty() {
            return Err("the hint key is empty");
        }
        if key
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("tern:"))
        {
            return Err("write the hint without its `tern:` prefix");
        }
        let is_word = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !is_word(key) {
            return Err("a hint key is letters, digits, `_`, `-` and `.`");
        }
        if let Some(v) = value {
            if v.is_empty() {
                return Err("the value after `=` is empty; write just the key to match any value");
            }
            if v.contains("*/") || v.chars().any(char::is_whitespace) {
                return Err("a hint value cannot contain spaces or `*/`");
            }
        }
        Ok(HintMatch {
            key: key.to_owned(),
            value: value.map(str::to_owned),
        })
    }

    fn matches(&self, key: &str, value: Option<&str>) -> bool {
        if !self.key.eq_ignore_ascii_case(key) {
            return false;
        }
        match &self.value {
            None => true,
            Some(want) => value.is_some_and(|v| v.eq_ignore_ascii_case(want)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatementKind;

    fn facts<'a>(tables: &'a [TableName<'a>], schema: Option<&'a str>) -> StatementFacts<'a> {
        StatementFacts {
            kind: StatementKind::Select,
            tables,
            user: "app",
            schema,
            client_addr: IpAddr::from([127, 0, 0, 1]),
            text: "",
            hints: &[],
        }
    }

    fn table<'a>(schema: Option<&'a str>, name: &'a str) -> TableName<'a> {
        TableName { schema, name }
    }

    #[test]
    fn undotted_table_pattern_matches_any_schema() {
        let p = TablePattern::parse("orders").expect("valid");
        assert!(p.matches(&table(None, "orders"), None));
        assert!(p.matches(&table(Some("shop"), "ORDERS"), None));
        assert!(!p.matches(&table(Some("shop"), "orders_old"), None));
    }

    #[test]
    fn dotted_table_pattern_uses_default_schema_for_unqualified_tables() {
        let p = TablePattern::parse("reports.*").expect("valid");
        assert!(p.matches(&table(Some("reports"), "daily"), None));
        assert!(p.matches(&table(None, "daily"), Some("reports")));
        assert!(!p.matches(&table(None, "daily"), Some("shop")));
        assert!(!p.matches(&table(None, "daily"), None));
        // Written schema wins over the default one.
        assert!(!p.matches(&table(Some("shop"), "daily"), Some("reports")));
    }

    #[test]
    fn star_schema_is_any_schema() {
        let p = TablePattern::parse("*.audit_*").expect("valid");
        assert!(p.schema.is_none());
        assert!(p.matches(&table(None, "audit_log"), None));
    }

    #[test]
    fn table_pattern_refusals() {
        assert!(TablePattern::parse("a.b.c").is_err());
        assert!(TablePattern::parse("shop.").is_err());
        assert!(TablePattern::parse(".orders").is_err());
        assert!(TablePattern::parse("").is_err());
    }

    #[test]
    fn tables_condition_holds_when_any_table_matches() {
        let conditions = Conditions {
            tables: Some(Box::new([TablePattern::parse("audit_*").expect("valid")])),
            ..Conditions::default()
        };
        let client = IpAddr::from([127, 0, 0, 1]);
        let tables = [table(None, "orders"), table(None, "audit_log")];
        assert!(conditions.hold(&facts(&tables, None), &client));
        assert!(!conditions.hold(&facts(&tables[..1], None), &client));
        assert!(
            !conditions.hold(&facts(&[], None), &client),
            "no tables, no match"
        );
    }

    #[test]
    fn hint_keys_and_values() {
        let key_only = HintMatch::parse("analytics").expect("valid");
        assert!(key_only.matches("analytics", None));
        assert!(key_only.matches("ANALYTICS", Some("x")));
        assert!(!key_only.matches("analytic", None));
        let pair = HintMatch::parse("route=reports").expect("valid");
        assert!(pair.matches("route", Some("reports")));
        assert!(pair.matches("Route", Some("REPORTS")));
        assert!(!pair.matches("route", None));
        assert!(!pair.matches("route", Some("other")));
    }

    #[test]
    fn hint_refusals() {
        for bad in ["", "=x", "route=", "a b", "route=a b", "x=*/", "tern:x"] {
            assert!(HintMatch::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
