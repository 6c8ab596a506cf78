//! SQL understanding at the level routing needs: a lexer-level classifier for the
//! hot path (no full parse), the built-in function allow list, the reading
//! of stored function bodies and view definitions for the catalog, and
//! `admin`: Tern's own statements (`TERN ...`, `SHOW TERN ...`, `SET tern_*`)
//! and KILL, read with the same lexer. No full SQL
//! parser is compiled into Tern: sqlparser serves only as the classifier's test
//! oracle (a dev-dependency).

pub mod admin;
pub mod classify;
pub mod keyword;
pub mod lexer;
