//! SQL understanding at the level routing needs: a lexer-level classifier for the
//! hot path (no full parse), and later the sqlparser-based ALTER analysis.

pub mod classify;
