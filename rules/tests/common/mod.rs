//! Helpers shared by the integration tests: a statement builder that owns
//! what `StatementFacts` borrows, and shorthands for loading rule files.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::IpAddr;

use tern_rules::{RuleSet, StatementFacts, StatementKind, TableName};

/// A statement as the proxy's classifier would describe it.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub kind: StatementKind,
    pub tables: Vec<TableName<'static>>,
    pub user: &'static str,
    pub schema: Option<&'static str>,
    pub client: IpAddr,
    pub text: &'static str,
    pub hints: Vec<(&'static str, Option<&'static str>)>,
}

impl Stmt {
    /// A statement of `kind` from user `app` at 10.0.0.5, no schema, no
    /// tables, no hints.
    pub fn new(kind: StatementKind, text: &'static str) -> Stmt {
        Stmt {
            kind,
            tables: Vec::new(),
            user: "app",
            schema: None,
            client: IpAddr::from([10, 0, 0, 5]),
            text,
            hints: Vec::new(),
        }
    }

    pub fn select(text: &'static str) -> Stmt {
        Stmt::new(StatementKind::Select, text)
    }

    /// Tables as written: `name` or `schema.name`.
    pub fn tables(mut self, tables: &[&'static str]) -> Stmt {
        self.tables = tables
            .iter()
            .map(|t| match t.split_once('.') {
                Some((schema, name)) => TableName {
                    schema: Some(schema),
                    name,
                },
                None => TableName {
                    schema: None,
                    name: t,
                },
            })
            .collect();
        self
    }

    pub fn user(mut self, user: &'static str) -> Stmt {
        self.user = user;
        self
    }

    pub fn schema(mut self, schema: &'static str) -> Stmt {
        self.schema = Some(schema);
        self
    }

    pub fn client(mut self, addr: &str) -> Stmt {
        self.client = addr.parse().expect("test address");
        self
    }

    pub fn hint(mut self, key: &'static str, value: Option<&'static str>) -> Stmt {
        self.hints.push((key, value));
        self
    }

    pub fn facts(&self) -> StatementFacts<'_> {
        StatementFacts {
            kind: self.kind,
            tables: &self.tables,
            user: self.user,
            schema: self.schema,
            client_addr: self.client,
            text: self.text,
            hints: &self.hints,
        }
    }
}

/// Loads a rule file that must be valid.
pub fn rules(toml: &str) -> RuleSet {
    RuleSet::from_toml(toml).unwrap_or_else(|e| panic!("rule file refused:\n{e}"))
}

/// Loads a rule file that must be refused; returns `(line, message)` pairs.
pub fn errors(toml: &str) -> Vec<(usize, String)> {
    match RuleSet::from_toml(toml) {
        Ok(set) => panic!("rule file accepted ({} rules), expected errors", set.len()),
        Err(errors) => errors
            .iter()
            .map(|e| (e.line, e.kind.to_string()))
            .collect(),
    }
}
