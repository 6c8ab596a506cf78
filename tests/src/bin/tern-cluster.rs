//! Starts a MariaDB primary plus GTID replicas for a local demo, prints where they are, and
//! stops them cleanly on SIGINT or SIGTERM.
//!
//! Output (stdout), one line each, then `ready`:
//! ```text
//! primary 127.0.0.1:3307
//! replica 127.0.0.1:3308
//! root root root
//! admin tern_admin tern_admin_pw
//! app app app_pw
//! database app
//! ready
//! ```

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tern_tests::cluster::{
    ClusterConfig, ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE, APP_PASSWORD, APP_USER, ROOT_PASSWORD,
};

#[derive(Parser, Debug)]
#[command(
    name = "tern-cluster",
    about = "Run a throwaway MariaDB primary + GTID replicas until SIGINT/SIGTERM"
)]
struct Args {
    /// Number of replicas.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Use ports N (primary), N+1, ... instead of free ones.
    #[arg(long, value_name = "N")]
    base_port: Option<u16>,
    /// Keep the servers' files here (reused on the next run) instead of a temporary directory.
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// innodb_log_file_size of every server: benchmarks that write a lot need
    /// more than the tests' small default, or InnoDB stalls on checkpoints.
    #[arg(long, value_name = "SIZE", default_value = "64M")]
    redo_log: String,
    /// innodb_buffer_pool_size of every server.
    #[arg(long, value_name = "SIZE", default_value = "64M")]
    buffer_pool: String,
    /// A line added to every server's option file (`name=value`), after Tern's own settings,
    /// so it wins: `--server-setting innodb_flush_log_at_trx_commit=1` gives back MariaDB's
    /// durable default that the throwaway servers trade for commit latency.
    #[arg(long = "server-setting", value_name = "NAME=VALUE")]
    server_settings: Vec<String>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tern-cluster: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    // Blocked before any thread exists, so every thread inherits the mask and the signals wait
    // for `sigwait` below instead of killing the process before the servers are stopped.
    let signals = block_termination_signals()?;
    let mut config = ClusterConfig::new(args.replicas);
    config.base_port = args.base_port;
    config.dir = args.dir;
    config.innodb_buffer_pool_size = args.buffer_pool;
    config.innodb_log_file_size = args.redo_log;
    config.extra_settings = args.server_settings;
    let cluster = config.start().context("starting the cluster")?;

    let mut out = io::stdout().lock();
    writeln!(out, "primary {}", cluster.primary().addr())?;
    for replica in cluster.replicas() {
        writeln!(out, "replica {}", replica.addr())?;
    }
    writeln!(out, "root root {ROOT_PASSWORD}")?;
    writeln!(out, "admin {ADMIN_USER} {ADMIN_PASSWORD}")?;
    writeln!(out, "app {APP_USER} {APP_PASSWORD}")?;
    writeln!(out, "database {APP_DATABASE}")?;
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);

    let signal = wait_for(&signals)?;
    eprintln!("tern-cluster: signal {signal}, stopping the servers");
    drop(cluster);
    Ok(())
}

fn block_termination_signals() -> Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset and pthread_sigmask only read and
    // write the set we own.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        let set = set.assume_init();
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc)).context("blocking SIGINT/SIGTERM");
        }
        Ok(set)
    }
}

fn wait_for(set: &libc::sigset_t) -> Result<libc::c_int> {
    let mut signal: libc::c_int = 0;
    // SAFETY: `set` is an initialised sigset_t and `signal` a valid out-pointer.
    let rc = unsafe { libc::sigwait(set, &mut signal) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc)).context("waiting for SIGINT/SIGTERM");
    }
    Ok(signal)
}
