//! The `tern` proxy as a child process, in front of a [`Cluster`].
//!
//! The binary is `<target>/<profile>/tern` (profile `release` when `TERN_TEST_RELEASE` is set,
//! else `debug`), rebuilt once per test process so that a test never runs a stale proxy.
//! `TERN_BIN` names a binary to use instead and skips the build.

use std::ffi::OsString;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use crate::cluster::{Cluster, ADMIN_PASSWORD, ADMIN_USER};
use crate::process::{self, POLL_INTERVAL};
use crate::{scratch, sql, target_dir, workspace_root};

/// How long the proxy gets to say `listening on` and accept connections. It needs one round
/// trip to each backend; 30 s covers a debug build on a loaded 2-core machine.
pub const TERN_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of the proxy's log quoted in an error.
const LOG_TAIL_LINES: usize = 60;

/// What the proxy prints once its listener is bound.
const LISTENING_MARKER: &str = "listening on ";

/// What the proxy prints once its HTTP endpoint is bound.
const HTTP_MARKER: &str = "http endpoint on ";

/// How long the HTTP endpoint gets after the proxy listens.
const HTTP_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `tern serve`. Dropping it kills the proxy.
pub struct TernProcess {
    port: u16,
    pid: u32,
    log: PathBuf,
    child: Mutex<Option<Child>>,
    /// Declared last so that the log survives until the process is gone.
    _dir: TempDir,
}

impl TernProcess {
    /// `tern serve` on a port the kernel picks (`--listen 127.0.0.1:0`, learned from the
    /// `listening on` line, so no other process can take it between picking and binding) in
    /// front of `cluster`, logging in to the backends as the admin user, with `extra_args`
    /// appended.
    pub fn start(cluster: &Cluster, extra_args: &[&str]) -> Result<TernProcess> {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--primary".into(),
            cluster.primary().addr(),
        ];
        for replica in cluster.replicas() {
            args.push("--replica".into());
            args.push(replica.addr());
        }
        args.extend(
            [
                "--admin-user",
                ADMIN_USER,
                "--admin-password",
                ADMIN_PASSWORD,
            ]
            .iter()
            .chain(extra_args)
            .map(|arg| (*arg).to_owned()),
        );
        Self::start_with(args)
    }

    /// `tern` with exactly `args` (starting with the subcommand), for tests that need the whole
    /// command line, such as pointing the proxy at a dead primary. The port is taken from
    /// `--listen`, or else from the address in the `listening on` line.
    pub fn start_with(args: Vec<String>) -> Result<TernProcess> {
        let binary = tern_binary()?;
        let dir = scratch::owned_tempdir("tern").context("creating a directory for tern's log")?;
        let log = dir.path().join("tern.log");
        let open_log = || {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .with_context(|| format!("opening {}", log.display()))
        };
        let mut command = Command::new(&binary);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(open_log()?)
            .stderr(open_log()?)
            // Colour codes would split the `listening on` line and clutter the log.
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            // A backtrace on the error `main` returns would push the error itself out of
            // the log tail a failing test quotes; panics keep theirs.
            .env("RUST_LIB_BACKTRACE", "0");
        let child = process::spawn_tied(command)
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        // Lets the sweep of abandoned directories see that this one is in use.
        fs::write(dir.path().join("tern.pid"), pid.to_string())
            .context("writing tern's pid file")?;
        let mut tern = TernProcess {
            port: listen_port(&args).unwrap_or(0),
            pid,
            log,
            child: Mutex::new(Some(child)),
            _dir: dir,
        };
        tern.await_listening(&args, TERN_START_TIMEOUT)?;
        Ok(tern)
    }

    fn await_listening(&mut self, args: &[String], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log_contents();
            if let Some(line) = log.lines().find(|line| line.contains(LISTENING_MARKER)) {
                if self.port == 0 {
                    self.port = port_in_line(line).ok_or_else(|| {
                        anyhow!(
                            "tern's `{LISTENING_MARKER}` line names no address and its \
                             arguments have no --listen: {line:?}"
                        )
                    })?;
                }
                if process::port_accepts(self.port) {
                    return Ok(());
                }
            }
            let exited = match self.child().as_mut() {
                Some(child) => child.try_wait().context("checking on tern")?,
                None => bail!("tern was stopped while starting"),
            };
            if let Some(status) = exited {
                bail!(
                    "tern {} exited with {status} while starting; log:\n{}",
                    args.join(" "),
                    self.log_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "tern {} did not listen within {timeout:?}; log:\n{}",
                    args.join(" "),
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn is_running(&self) -> bool {
        match self.child().as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Connection options for a client of the proxy.
    pub fn opts(&self, user: &str, password: &str, db: Option<&str>) -> mysql_async::Opts {
        sql::tcp_opts(self.port, user, password, db)
    }

    /// SIGKILL, as in a crash; returns once the process is reaped.
    pub fn kill9(&self) -> Result<()> {
        if let Some(mut child) = self.child().take() {
            process::kill_and_reap(&mut child).context("killing tern")?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the exit (SIGKILL after [`process::TERM_GRACE`]). The status tells a
    /// test whether the proxy shut down cleanly; `None` if it had already been stopped.
    pub fn terminate(&self) -> Result<Option<ExitStatus>> {
        match self.child().take() {
            Some(mut child) => process::terminate(&mut child)
                .map(Some)
                .context("terminating tern"),
            None => Ok(None),
        }
    }

    /// Everything the proxy printed on stdout and stderr so far.
    pub fn log_contents(&self) -> String {
        process::read_from(&self.log, 0)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_tail(&self) -> String {
        process::tail(&self.log, LOG_TAIL_LINES)
    }

    /// The address of the HTTP endpoint (`--http`, e.g. `127.0.0.1:0` for one the kernel
    /// picks), once the proxy says it listens there.
    pub fn http_addr(&self) -> Result<String> {
        self.wait_for_log(HTTP_MARKER, HTTP_START_TIMEOUT)?;
        let log = self.log_contents();
        log.lines()
            .find_map(|line| addr_after(line, HTTP_MARKER))
            .map(|addr| addr.to_string())
            .ok_or_else(|| anyhow!("tern's `{HTTP_MARKER}` line names no address"))
    }

    /// Waits until the log contains `needle`, e.g. a line a test expects the proxy to print.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log_contents().contains(needle) {
            if Instant::now() >= deadline {
                bail!(
                    "tern's log did not show {needle:?} within {timeout:?}; log:\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
        Ok(())
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for TernProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child().take() {
            // Nothing useful to do with a failure here.
            let _ = process::kill_and_reap(&mut child);
        }
    }
}

/// The path of the `tern` binary: `TERN_BIN`, or the workspace's own build, made fresh by one
/// `cargo build` per test process.
pub fn tern_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("TERN_BIN") {
        return Ok(PathBuf::from(path));
    }
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_tern().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_tern() -> Result<PathBuf> {
    let release = std::env::var_os("TERN_TEST_RELEASE").is_some();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace_root())
        // `--workspace` resolves features as `cargo test --workspace` does, so this reuses the
        // test build's tern and dependencies; `-p tern` would compile a second copy of each.
        .args(["build", "-q", "--workspace", "--bin", "tern"]);
    if release {
        command.arg("--release");
    }
    let output = command
        .output()
        .with_context(|| format!("running {} build --bin tern", cargo.to_string_lossy()))?;
    if !output.status.success() {
        bail!(
            "cargo build --workspace --bin tern{} failed ({}):\n{}",
            if release { " --release" } else { "" },
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let binary = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("tern");
    if !binary.is_file() {
        bail!("cargo built tern, but {} does not exist", binary.display());
    }
    Ok(binary)
}

/// The port of `--listen ADDR` or `--listen=ADDR`.
fn listen_port(args: &[String]) -> Option<u16> {
    let value = args.iter().enumerate().find_map(|(i, arg)| {
        if arg == "--listen" {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix("--listen=")
        }
    })?;
    value.parse::<SocketAddr>().ok().map(|addr| addr.port())
}

/// The port of the first `IP:PORT` after the marker in a `listening on` line.
fn port_in_line(line: &str) -> Option<u16> {
    addr_after(line, LISTENING_MARKER).map(|addr| addr.port())
}

/// The first `IP:PORT` after `marker` in `line`.
fn addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once(marker)?;
    rest.split(|c: char| c.is_whitespace() || matches!(c, ',' | '"' | '\'' | '='))
        .find_map(|word| word.parse::<SocketAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_port_reads_both_spellings() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            listen_port(&args(&["serve", "--listen", "127.0.0.1:6033"])),
            Some(6033)
        );
        assert_eq!(
            listen_port(&args(&["serve", "--listen=127.0.0.1:7000"])),
            Some(7000)
        );
        assert_eq!(listen_port(&args(&["serve"])), None);
    }

    #[test]
    fn port_in_line_finds_the_address_after_the_marker() {
        assert_eq!(
            port_in_line("2026-01-01T00:00:00Z  INFO tern: listening on 127.0.0.1:6033"),
            Some(6033)
        );
        assert_eq!(
            port_in_line("INFO listening on addr=\"127.0.0.1:41000\""),
            Some(41000)
        );
        assert_eq!(
            port_in_line("INFO listening on addr=127.0.0.1:41001"),
            Some(41001)
        );
        assert_eq!(
            port_in_line("INFO listening on [::1]:6033, ready"),
            Some(6033)
        );
    }

    #[test]
    fn addr_after_reads_the_http_line() {
        assert_eq!(
            addr_after(
                "INFO tern::admin::http: http endpoint on 127.0.0.1:45678 addr=127.0.0.1:45678",
                HTTP_MARKER
            ),
            "127.0.0.1:45678".parse().ok()
        );
        assert_eq!(
            addr_after("INFO listening on 127.0.0.1:1", HTTP_MARKER),
            None
        );
    }
}
