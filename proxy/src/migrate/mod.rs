//! The online ALTER engine.
//!
//! A session hands an ALTER to the [`Engine`]; the engine checks it, creates
//! the shadow table, and runs the migration as a task of its own (so a client
//! that disconnects does not cancel it): copy in key chunks while change
//! capture reads the binlog, verify with a checksum in one snapshot, then cut
//! over with the write gate and the sentry-table swap. Each concept lives in
//! its own file, with the invariants it keeps at its top:
//!
//! - [`engine`]: the registry of running migrations; each runs as its own task, shutdown is bounded
//! - [`migration`]: one migration's progress and switches; it stops early only for cancel or shutdown
//! - [`control`]: operator commands; never applied to a migration that has ended
//! - [`remote`]: other instances' migrations; the control table is the only channel between them
//! - [`start`]: prepare or resume; nothing is created before the checks pass, nothing left on failure
//! - [`runner`]: copy, verify, postpone, cut over, in order; every early end is abandoned in one place
//! - [`plan`]: how a change runs (DDL modes, the in-place probe); reading the ALTER text is `sql::alter`
//! - [`check`]: the refusals, one rule per file; a refusal leaves nothing behind
//! - [`table`]: columns and key; key literals compare as the stored bytes
//! - [`mapping`]: each shadow column is fed by the original column of its name or renamed to it
//! - [`copy`]: chunks take no locks on the original; rows above the high-water mark are not copied yet
//! - [`binlog`]: change capture keeps keys only; its position never splits a transaction
//! - [`apply`]: replay re-reads the current rows, so it is idempotent and order-free
//! - [`verify`]: both checksums read the same frozen moment
//! - [`cutover`]: freeze and sentry swap; clients are held no longer than the hold bound
//! - [`foreign_keys`]: a child's shadow gets its constraints only inside the freeze; parents' cascades are followed from their row events
//! - [`triggers`]: on the original until the frozen moment of the cut-over, then on the new table; never on two at once
//! - [`gate`]: Tern-side write hold during a freeze; a closed gate always opens
//! - [`group`]: several postponed migrations swapped in one RENAME; any failure backs every member out
//! - [`mdl_probe`]: sees a RENAME wait on a table; true only when the server refused the probe
//! - [`throttle`]: the copy waits on lag and load; a replica that stopped applying leaves after its grace
//! - [`pace`]: the copy slows before clients feel it; slowing is fast, speeding up gradual
//! - [`slots`]: how many copies run at once; only the copy phase holds a slot, handed on in id order
//! - [`store`]: the control table; a checkpoint never claims an unapplied change; one owner per table
//! - [`keeper`]: keeps the previous table current after a cut-over and reverts to it; never reverts with a write missing
//! - [`sweeper`]: drops only recorded old tables past their keep time
//! - [`conn`]: every connection that moves rows converts values the same way
//! - [`fetch`]: typed reads that return an error where mysql_async would panic
//! - [`error`]: one error type; its mapping to MySQL codes lives in one place
//! - [`report`]: the client is told what the native ALTER would have told it
//! - [`settings`]: read afresh at every step, so a SIGHUP reaches running migrations
//!
//! **Own crate?** Not now. What the engine takes from the rest of Tern is
//! small: `gtid` and `logsafe` (standard library only), `backend::monitor`
//! (replica lag for the throttle; itself only `gtid` and mysql_async),
//! `protocol::errcode` (constants) and the ALTER planner (`plan`, moving to
//! `sql::alter`, which the sessions use too). A `tern-migrate` crate would
//! have to take `gtid`, the monitor and the planner with it (or sit on a base
//! crate holding them), while its one other user, `tern alter`, lives in the
//! same binary and builds the whole `server::Shared` to get its engine and
//! monitors. Worth doing once a user outside this binary appears, or once
//! `tern alter` builds an `Engine` on its own.

pub mod apply;
pub mod binlog;
pub mod check;
pub mod conn;
pub mod control;
pub mod copy;
pub mod cutover;
pub mod engine;
pub mod error;
pub mod fetch;
pub mod foreign_keys;
pub mod gate;
pub mod group;
pub mod keeper;
pub mod mapping;
pub mod mdl_probe;
pub mod migration;
pub mod pace;
pub mod plan;
pub mod redo_room;
pub mod remote;
pub mod report;
pub mod runner;
pub mod settings;
pub mod slots;
pub mod start;
pub mod store;
pub mod sweeper;
pub mod table;
pub mod throttle;
pub mod triggers;
pub mod verify;

pub use conn::{connect, engine_conn};
pub use control::Control;
pub use engine::{AlterRequest, Engine};
pub use error::MigrateError;
pub use migration::{Finished, Migration, Outcome, Progress};
pub use report::{AlterReport, Condition, DEFAULT_MAX_ERROR_COUNT};
pub use settings::{MigrateSettings, DEFAULT_MAX_THROTTLE, DEFAULT_REPLICA_GRACE};
