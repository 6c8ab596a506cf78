//! Tern: a MySQL/MariaDB wire-protocol proxy with online ALTER TABLE and
//! read-your-writes replica reads.
//!
//! # Crate map
//!
//! ```text
//! protocol/   framing (3-byte length + sequence, 16 MiB continuation), the
//!             packets Tern reads or writes, the response tracker that follows a
//!             relayed answer without decoding rows, the compressed protocol,
//!             the one table of error codes (errcode)
//! server/     listener and pending logins, login (accounts, auth plugins, TLS),
//!             one Session task per client, the relay, session ids for KILL
//!   session/  the session's rooms: replica reads (replica), prepared
//!             statements (prepared), ALTER interception, the write gate and
//!             the Note kept for SHOW WARNINGS (ddl), SHOW TERN / TERN / SET
//!             tern_* (admin), KILL translation (kill)
//! backend/    connections to the servers, the accounts directory, the replica
//!             monitor and primary position, the catalog of functions and views
//! sql/        all reading of statement text, on one lexer: the lexer-level
//!             statement classifier and the built-in function allow list;
//!             reading of routine bodies and view definitions; reading of
//!             ALTER TABLE / CREATE INDEX / DROP INDEX (alter); Tern's own
//!             statements and KILL (admin); the SETs and diagnostics
//!             statements the session follows (session_statements)
//! route/      the routing decision for one statement: rules + session view +
//!             catalog in, primary or replica (with a consistency) out
//! gtid.rs     GTIDs and GTID sets for MariaDB and MySQL
//! migrate/    the online ALTER engine, one file per concept: engine (the
//!             registry sessions hand ALTERs to), migration (progress and
//!             switches), control and remote (operator commands, other
//!             instances), start (prepare, resume), runner (copy, verify,
//!             postpone, cut over, in order), check/ (one refusal per file),
//!             table, mapping, copy, binlog, apply, verify, cutover, gate,
//!             throttle and pace (how fast the copy may go), store, sweeper,
//!             error, settings, report
//! admin/      Prometheus metrics, client write latency by window (latency),
//!             the last minutes sampled for the charts (history), the HTTP API
//!             and status page
//! alter.rs    `tern alter`: one online ALTER without the proxy
//! config.rs   flags, environment and TOML into Settings
//! logsafe.rs  escaping and bounding client text on its way into logs
//! ```
//!
//! # A statement's way
//!
//! ```text
//! client packet -> server::session (classify with sql::classify)
//!   -> route::plan (rules, pins, transaction, session facts, catalog)
//!   -> primary: forward on the session's own connection, relay the answer
//!   -> replica: mirror schema and SETs, wait for the GTID the read must see,
//!      relay the answer; else the primary
//!   -> absorb what the answer says (status flags, last GTID, schema)
//! ```
//!
//! # A migration's way
//!
//! ```text
//! ALTER from a client -> session/ddl, reading it with sql::alter: native (as
//!   sent, with a Note) or the in-place try (SET STATEMENT alter_algorithm=...
//!   FOR the statement as sent) -> migrate::Engine: plan + checks -> shadow
//!   table -> copy chunks (paced by client latency and server pressure)
//!   while the binlog applier follows changes -> checksum -> ANALYZE ->
//!   cut-over (write gate closed, table locked, catch-up, atomic RENAME) ->
//!   OK to the client (after progress reports if it asked) with the native
//!   ALTER's affected rows, info and warnings
//! ```

pub mod admin;
pub mod backend;
pub mod config;
pub mod gtid;
pub mod logsafe;
pub mod migrate;
pub mod protocol;
pub mod route;
pub mod server;
pub mod sql;
