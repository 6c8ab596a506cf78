//! Tern's routing rules: the rule file format and a pure matcher with no I/O.
//!
//! The proxy classifies each statement (kind, tables, hints) at lexer level and
//! hands the facts to [`RuleSet::evaluate`]; this crate decides nothing else.
//! The caller reads the rule file and passes its text to
//! [`RuleSet::from_toml`], which validates everything and reports every error
//! with its line. The file format and the matching semantics are documented
//! for operators in `docs/rules.md`, and for readers of the code at the top
//! of `ruleset.rs`.
//!
//! ```
//! use std::net::IpAddr;
//! use tern_rules::{Destination, RuleSet, StatementFacts, StatementKind, TableName};
//!
//! let rules = RuleSet::from_toml(r#"
//!     [[rule]]
//!     kind = ["select"]
//!     tables = ["reports.*"]
//!     route = "group:analytics"
//! "#).expect("valid rules");
//!
//! let tables = [TableName { schema: Some("reports"), name: "daily" }];
//! let facts = StatementFacts {
//!     kind: StatementKind::Select,
//!     tables: &tables,
//!     user: "bi",
//!     schema: None,
//!     client_addr: IpAddr::from([10, 0, 0, 7]),
//!     text: "SELECT * FROM reports.daily",
//!     hints: &[],
//! };
//! let decision = rules.evaluate(&facts);
//! assert_eq!(decision.route, Some(&Destination::ReplicaGroup("analytics".into())));
//! assert_eq!(rules.rule(0).map(|r| r.line), Some(2));
//! ```

mod cidr;
mod decision;
mod error;
mod facts;
mod glob;
mod parse;
mod rule;
mod ruleset;

pub use decision::{Decision, Reject};
pub use error::{RuleError, RuleErrorKind, RuleErrors};
pub use facts::{Consistency, Destination, StatementFacts, StatementKind, TableName};
pub use ruleset::{RuleInfo, RuleSet};
