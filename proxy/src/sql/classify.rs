//! Placeholder; see mod.rs.
