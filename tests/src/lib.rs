//! Harness for Tern's integration tests: throwaway MariaDB clusters (a primary plus GTID
//! replicas, started from the installed `mariadbd`) and the `tern` proxy process in front of
//! them.
//!
//! Everything here is blocking and uses plain `std::process`, so it can be called from inside a
//! tokio test without needing (or starving) the test's runtime. The SQL the harness itself runs
//! goes through `mysql_async` on a private runtime on its own thread (see the `sql` module).
//!
//! Every process the harness starts is tied to the test process: it is stopped on `Drop`, and the
//! kernel kills it if the test process dies without running destructors (see [`process`]).

pub mod cluster;
pub mod process;
mod scratch;
mod sql;
pub mod tern;

pub use cluster::{
    Cluster, ClusterConfig, Role, Server, ADMIN_PASSWORD, ADMIN_USER, APP_PASSWORD, APP_USER,
    REPL_PASSWORD, REPL_USER, ROOT_PASSWORD,
};
pub use tern::TernProcess;

use std::path::PathBuf;

/// The workspace root, derived from this crate's location so that it does not depend on the
/// directory a test happens to run in.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.parent() {
        Some(parent) => parent.to_path_buf(),
        None => manifest_dir,
    }
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when the caller set one, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}
