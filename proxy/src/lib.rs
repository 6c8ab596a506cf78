//! Tern: a MySQL/MariaDB wire-protocol proxy.
//!
//! Rooms: `protocol` (framing and the packets Tern reads or writes), `server`
//! (listener, login, one session per client), `backend` (server connections and
//! accounts), `config`.

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
