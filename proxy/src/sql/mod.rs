//! Reading statement text, every reader on one lexer (`lexer`, `keyword`), so
//! comments, quoting and `/*! */` mean the same to all of them: a lexer-level
//! classifier for the hot path (no full parse), the built-in function allow
//! list, the reading of stored function bodies and view definitions for the
//! catalog (`classify`), the reading of ALTER TABLE, CREATE INDEX and DROP
//! INDEX for online migrations (`alter`), Tern's own statements (`TERN
//! ...`, `SHOW TERN ...`, `SET tern_*`) and KILL (`admin`), and the `SET`s and
//! diagnostics statements whose effect on the session Tern follows
//! (`session_statements`). No full SQL parser
//! is compiled into Tern: sqlparser serves only as the classifier's test
//! oracle (a dev-dependency). `tests` holds the corpus of spellings every
//! reader must read alike.

pub mod admin;
pub mod alter;
pub mod classify;
pub mod keyword;
pub mod lexer;
pub mod session_statements;

#[cfg(test)]
mod tests;

/// Quotes an identifier for MariaDB: the inverse of how the lexer reads a
/// backtick-quoted name.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Quotes text as a string literal for a connection whose `sql_mode` lacks
/// `NO_BACKSLASH_ESCAPES` (Tern's own connections): it reads back as `text`.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}
