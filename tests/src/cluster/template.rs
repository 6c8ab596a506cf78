//! A freshly installed datadir, made once and copied for every server.
//!
//! `mariadb-install-db` spends 1.5-3 s here, nearly all of it in ~1000 fsyncs of the system
//! tables, while a copy of the result takes ~50 ms and a server starts from it in ~200 ms. A
//! fresh install holds nothing that differs between servers (no binlog, no server UUID; the
//! server id and ports come from the config file), so one install serves every server of every
//! cluster. It is kept under the system temp dir, keyed by the `mariadbd` version, so later test
//! processes skip the install too.

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use anyhow::{bail, Context, Result};

use crate::{process, scratch};

/// Bumped whenever the way the template is made changes, so stale templates are not reused.
const TEMPLATE_FORMAT: u32 = 1;

/// The redo log size the template is installed with. Servers configured with another size
/// resize it on their first start (MariaDB >= 10.5 does that by itself), so a small template
/// keeps copies cheap.
const TEMPLATE_REDO_LOG_SIZE: &str = "16M";

/// The datadir template's path, installing it if neither this process nor an earlier one left
/// one behind (or if it was deleted since, as a /tmp cleaner might).
pub fn datadir_template() -> Result<PathBuf> {
    static TEMPLATE: Mutex<Option<PathBuf>> = Mutex::new(None);
    // Held across the install so that parallel servers wait for one install, not race N.
    let mut cached = TEMPLATE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = cached.as_ref() {
        if path.join("mysql").is_dir() {
            return Ok(path.clone());
        }
    }
    let path = find_or_install().context("preparing the MariaDB datadir template")?;
    *cached = Some(path.clone());
    Ok(path)
}

fn find_or_install() -> Result<PathBuf> {
    let version = Command::new("mariadbd")
        .arg("--version")
        .output()
        .context("running `mariadbd --version` (is mariadb-server installed?)")?;
    if !version.status.success() {
        bail!(
            "`mariadbd --version` failed: {}",
            String::from_utf8_lossy(&version.stderr)
        );
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (TEMPLATE_FORMAT, TEMPLATE_REDO_LOG_SIZE, &version.stdout).hash(&mut hasher);
    let final_dir =
        std::env::temp_dir().join(format!("tern-mariadb-template-{:016x}", hasher.finish()));
    if final_dir.join("data/mysql").is_dir() {
        return Ok(final_dir.join("data"));
    }

    // Install somewhere private, then rename into place: a concurrent test process either
    // sees no template or a complete one.
    // A staging directory of a process killed mid-install is swept like any other.
    let staging = scratch::owned_tempdir("template-staging")
        .context("creating a staging directory for the datadir template")?;
    install(staging.path())?;
    let staged = staging.keep();
    if let Err(rename_error) = fs::rename(&staged, &final_dir) {
        let _ = fs::remove_dir_all(&staged);
        // Losing the race to another process is fine; anything else is not.
        if !final_dir.join("data/mysql").is_dir() {
            return Err(rename_error).with_context(|| {
                format!("moving the datadir template to {}", final_dir.display())
            });
        }
    }
    Ok(final_dir.join("data"))
}

fn install(root: &Path) -> Result<()> {
    let config = root.join("install.cnf");
    let error_log = root.join("install-error.log");
    fs::write(
        &config,
        format!(
            "[mysqld]\n\
             user=root\n\
             datadir={datadir}\n\
             socket={root}/install.sock\n\
             pid-file={root}/install.pid\n\
             tmpdir={root}\n\
             log_error={error_log}\n\
             skip-name-resolve\n\
             innodb_log_file_size={TEMPLATE_REDO_LOG_SIZE}\n",
            datadir = root.join("data").display(),
            root = root.display(),
            error_log = error_log.display(),
        ),
    )
    .with_context(|| format!("writing {}", config.display()))?;
    let output = Command::new("mariadb-install-db")
        .arg(format!("--defaults-file={}", config.display()))
        // A password login for root; otherwise root@localhost is unix_socket only.
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .output()
        .context("running mariadb-install-db (is mariadb-server installed?)")?;
    if !output.status.success() || !root.join("data/mysql").is_dir() {
        bail!(
            "mariadb-install-db failed ({}):\n{}\n{}\nerror log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            process::tail(&error_log, 30)
        );
    }
    Ok(())
}

/// Copies a datadir (a tree of regular files and directories) to `to`, which must not exist.
pub fn copy_datadir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry.with_context(|| format!("listing {}", from.display()))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting {}", source.display()))?;
        if kind.is_dir() {
            copy_datadir(&source, &target)?;
        } else {
            fs::copy(&source, &target)
                .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}
