//! Validation errors for a rule file. Every problem found is reported, each
//! at the line and column of the key or value it is about, so an operator
//! fixes a file in one pass (`tern check-rules FILE`).

use std::fmt;

/// Everything wrong with one rule file, in file order. Displays one error per
/// line as `LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors {
    errors: Vec<RuleError>,
}

impl RuleErrors {
    pub(crate) fn new(mut errors: Vec<RuleError>) -> RuleErrors {
        // Stable sort: errors found at the same place keep the order in
        // which the checks ran.
        errors.sort_by_key(|e| (e.line, e.column));
        RuleErrors { errors }
    }

    /// The errors, in file order. Never empty.
    pub fn errors(&self) -> &[RuleError] {
        &self.errors
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `RuleErrors` is only made when something is wrong.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, RuleError> {
        self.errors.iter()
    }
}

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

impl<'a> IntoIterator for &'a RuleErrors {
    type Item = &'a RuleError;
    type IntoIter = std::slice::Iter<'a, RuleError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// One problem, at a 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct RuleError {
    pub line: usize,
    pub column: usize,
    pub kind: RuleErrorKind,
}

/// What is wrong. The messages name the key and suggest the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleErrorKind {
    /// The file is not valid TOML. Parsing stops at the first such error.
    #[error("TOML syntax: {0}")]
    Syntax(String),
    #[error("unknown top-level key `{0}`: a rule file holds only `[[rule]]` tables")]
    UnknownTopLevelKey(String),
    #[error("`rule` must be an array of tables: write each rule under its own `[[rule]]` header")]
    RuleNotTable,
    #[error("unknown key `{key}` in a rule{}; the keys are {expected}", did_you_mean(*.suggestion))]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
        expected: &'static str,
    },
    #[error("unknown key `{key}` in `reject`; the keys are `code`, `message`, `sqlstate`")]
    UnknownRejectKey { key: String },
    #[error("`{key}` must be {expected}, not {found}")]
    WrongType {
        key: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "`{key}` is an empty list, which would match nothing; remove the key to match everything"
    )]
    EmptyList { key: &'static str },
    #[error("`{key}` is empty; leave the key out instead")]
    EmptyString { key: &'static str },
    #[error("unknown statement kind `{0}`; the kinds are select, insert, update, delete, replace, ddl, transaction, set, other")]
    UnknownKind(String),
    #[error("bad glob `{pattern}` in `{key}`: {reason}")]
    BadGlob {
        key: &'static str,
        pattern: String,
        reason: String,
    },
    #[error("bad regex in `pattern`: {0}")]
    BadRegex(String),
    #[error("the `pattern` regexes together are too large to compile as one set: {0}")]
    RegexSetTooLarge(String),
    #[error("bad address in `client`: {0}")]
    BadCidr(String),
    #[error("bad `hint` `{value}`: {reason}")]
    BadHint { value: String, reason: &'static str },
    #[error("bad `route` `{0}`: expected \"primary\", \"replica\" or \"group:NAME\" (NAME of letters, digits, `_`, `-`, `.`)")]
    BadRoute(String),
    #[error("bad `consistency` `{0}`: expected \"session\", \"global\" or \"eventual\"")]
    BadConsistency(String),
    #[error("`reject.code` {0} is out of range: MySQL error codes here are 1000 to 65534 (65535 marks a MariaDB progress report)")]
    RejectCodeOutOfRange(i64),
    #[error("`reject.sqlstate` `{0}` must be exactly 5 characters, digits and capital letters (e.g. \"42000\")")]
    BadSqlstate(String),
    #[error("`reject.message` {0}")]
    BadRejectMessage(&'static str),
    #[error("`reject` needs `{0}`")]
    MissingRejectKey(&'static str),
    #[error("the rule has no action: give it `route`, `reject` or `consistency`")]
    NoAction,
    #[error("a rule that rejects cannot also `route` or set `consistency`: the statement never reaches a server")]
    RejectWithOtherAction,
    #[error("`kind` includes `{0}`, a write, but `route` sends to replicas: writes only ever go to the primary")]
    WriteToReplica(&'static str),
    #[error(
        "`consistency` has no effect with `route = \"primary\"`: the primary is always current"
    )]
    ConsistencyWithPrimary,
    #[error("rule name `{name}` is already used by the rule at line {first_line}")]
    DuplicateName { name: String, first_line: usize },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}
