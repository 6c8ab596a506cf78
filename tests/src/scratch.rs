//! Temporary directories for servers and proxies, and the removal of ones left behind.
//!
//! A server's directory holds ~100 MB (InnoDB's system tablespace and redo log). `TempDir` removes
//! it on drop, but a test process that is killed never drops anything, and CI machines are kept
//! between runs. So each directory records the pid of the process that owns it, and the first
//! directory made by a process sweeps away those whose owner and children are all gone.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Once;

use tempfile::TempDir;

/// Prefix of every directory made by [`owned_tempdir`]; the sweep looks only at these.
const PREFIX: &str = "tern-tests-";

/// The file in each directory that names its owner's pid.
const OWNER_FILE: &str = "owner.pid";

/// A fresh directory under the system temp dir whose name starts with `tern-tests-<kind>-`.
/// Other `*.pid` files written directly inside it (a server's pid file, the proxy's) name
/// processes that keep the directory alive for the sweep.
pub fn owned_tempdir(kind: &str) -> io::Result<TempDir> {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(sweep_abandoned);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{kind}-"))
        .tempdir()?;
    fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
    Ok(dir)
}

fn sweep_abandoned() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let path = entry.path();
        if is_abandoned(&path) {
            // Best effort: another process may be sweeping the same directory right now.
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Abandoned: it has an owner file, and no pid file in it names a live process. A pid that was
/// reused by an unrelated process keeps the directory; that errs on the safe side.
fn is_abandoned(dir: &Path) -> bool {
    let Ok(owner) = fs::read_to_string(dir.join(OWNER_FILE)) else {
        return false;
    };
    if pid_alive(&owner) {
        return false;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "pid") {
            if let Ok(pid) = fs::read_to_string(&path) {
                if pid_alive(&pid) {
                    return false;
                }
            }
        }
    }
    true
}

fn pid_alive(pid: &str) -> bool {
    match pid.trim().parse::<u32>() {
        Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        // Unreadable means we cannot tell; keep the directory.
        Err(_) => true,
    }
}
