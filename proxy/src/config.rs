//! Configuration: command-line flags, `TERN_*` environment variables and an
//! optional TOML file, in that order of precedence, resolved into [`Settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use crate::migrate::plan::DdlMode;

/// Logins in progress at once. A real login takes milliseconds; 256 pending
/// covers a reconnect storm of a large pool, while a flood of sockets that never
/// log in costs at most this many slots, and sheds its own oldest first.
pub const DEFAULT_MAX_PENDING_LOGINS: usize = 256;

/// Tern's default listening address: the port ProxySQL made familiar for a MySQL
/// proxy, on loopback so that a demo never exposes a database by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6033";
/// Most client connections Tern accepts at once; each one also holds a backend
/// connection, so this should stay below the primary's `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Largest client packet Tern buffers (64 MiB). Larger ones are refused with
/// ER_NET_PACKET_TOO_LARGE, as the server does past `max_allowed_packet`.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 64 * 1024 * 1024;
/// A client must finish the handshake within this time, so that half-open or
/// silent connections cannot pin a connection slot (the server's connect_timeout).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often replica health and positions are polled. Sessions also learn
/// positions from their own waits, so this bounds staleness, not correctness.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_millis(100);
/// A replica lagging more than this leaves the read rotation.
pub const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(5);
/// Longest a read waits for a replica to apply the session's last write before
/// it is sent to the primary instead. Short: the primary is always a correct
/// answer, and a slow read is worse than a busier primary.
pub const DEFAULT_READ_WAIT_TIMEOUT: Duration = Duration::from_millis(100);
/// Session worker threads. One thread with no cross-thread wake-ups measured
/// cheaper per query than two work-stealing threads on a 2-core machine shared
/// with the database (bench/RESULTS.md); raise it on larger machines.
pub const DEFAULT_WORKER_THREADS: usize = 1;
/// On SIGTERM: how long statements in flight and migrations get before exit.
/// Long enough for an ordinary statement and a migration's checkpoint; an
/// orchestrator's own kill timeout (Kubernetes: 30 s) should be longer.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on opening and logging in to a backend connection.
pub const DEFAULT_BACKEND_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Parser)]
#[command(
    name = "tern",
    version,
    about = "MySQL/MariaDB proxy: online ALTER TABLE, read-your-writes replica reads, routing rules"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Serve(Box<ServeArgs>),
    /// Run one online ALTER against a primary, without the proxy in front, with
    /// the same engine, checks and control table; a progress bar on a terminal.
    Alter(Box<AlterArgs>),
    /// Validate a routing rule file; prints every error with its line number and
    /// exits non-zero if there is one.
    CheckRules {
        /// The TOML rule file.
        file: PathBuf,
    },
}

/// Flags of `tern alter`: the connection and migration settings of `tern
/// serve` (the proxy-only ones are ignored), plus the statement.
#[derive(Debug, Args)]
pub struct AlterArgs {
    #[command(flatten)]
    pub settings: ServeArgs,
    /// Schema of an unqualified table name.
    #[arg(long, short = 'D')]
    pub database: Option<String>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Put migration ID's previous table back online, with every write made
    /// since its cut-over (as `TERN REVERT ID`), instead of running a statement.
    #[arg(long, value_name = "ID", conflicts_with = "statement")]
    pub revert: Option<u64>,
    /// `ALTER TABLE ...`, `CREATE INDEX ... ON ...` or `DROP INDEX ... ON ...`.
    #[arg(required_unless_present = "revert")]
    pub statement: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How sessions reach a backend on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendSocket {
    /// Through the server's unix socket when it runs on this machine (learned
    /// from `@@socket`), falling back to TCP.
    Auto,
    /// Always through the configured TCP address. The default: over the socket
    /// the server sees the sessions as `user@localhost`, which can match another
    /// account (other privileges) than `user@127.0.0.1` does, so the switch is
    /// the operator's choice.
    #[default]
    Off,
}

/// Flags of `tern serve`. Every flag may also come from a `TERN_*` environment
/// variable or from the TOML file given with `--config` (same names, with `_`
/// instead of `-`; `replica` is the list `replicas`).
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "TERN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to accept MySQL clients on [default: 127.0.0.1:6033].
    #[arg(long, env = "TERN_LISTEN")]
    pub listen: Option<String>,
    /// The primary server, HOST:PORT.
    #[arg(long, env = "TERN_PRIMARY")]
    pub primary: Option<String>,
    /// A replica server, HOST:PORT or GROUP=HOST:PORT (a named replica group that
    /// routing rules can address); repeat for several (comma-separated in the
    /// environment variable).
    #[arg(long = "replica", env = "TERN_REPLICAS", value_delimiter = ',')]
    pub replicas: Vec<String>,
    /// Tern's own control-plane account on the primary (reads `mysql.user`,
    /// monitors replicas, runs migrations). Clients log in as themselves.
    #[arg(long, env = "TERN_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// Password of the admin account.
    #[arg(long, env = "TERN_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// PEM certificate chain for TLS towards clients (needs --tls-key).
    #[arg(long, env = "TERN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS towards clients.
    #[arg(long, env = "TERN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most client connections at once; more get ERROR 1040 [default: 4096].
    #[arg(long, env = "TERN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most connections still logging in at once; past it the oldest pending
    /// login of the address with the most of them is closed [default: 256].
    #[arg(long, env = "TERN_MAX_PENDING_LOGINS")]
    pub max_pending_logins: Option<usize>,
    /// Largest client packet in bytes; larger ones get ERROR 1153 [default: 67108864].
    #[arg(long, env = "TERN_MAX_PACKET_SIZE")]
    pub max_packet_size: Option<usize>,
    /// Seconds a client has to complete its login [default: 10].
    #[arg(long, env = "TERN_HANDSHAKE_TIMEOUT_SECS")]
    pub handshake_timeout_secs: Option<u64>,
    /// Routing rule file (TOML); SIGHUP reloads it.
    #[arg(long, env = "TERN_RULES")]
    pub rules: Option<PathBuf>,
    /// Replica health poll interval in milliseconds [default: 100].
    #[arg(long, env = "TERN_MONITOR_INTERVAL_MS")]
    pub monitor_interval_ms: Option<u64>,
    /// A replica lagging more than this many milliseconds leaves the read rotation [default: 5000].
    #[arg(long, env = "TERN_MAX_REPLICA_LAG_MS")]
    pub max_replica_lag_ms: Option<u64>,
    /// Longest a read waits for a replica to catch up with the session's writes
    /// before it goes to the primary, in milliseconds [default: 100].
    #[arg(long, env = "TERN_READ_WAIT_TIMEOUT_MS")]
    pub read_wait_timeout_ms: Option<u64>,
    /// Threads that run client sessions; 0 means one per CPU [default: 1].
    #[arg(long, env = "TERN_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// How sessions reach a backend on this machine: `auto` uses the server's
    /// unix socket (cheaper than loopback TCP; the server then sees sessions as
    /// `user@localhost`) and falls back to TCP; `off` always uses TCP [default: off].
    #[arg(long, env = "TERN_BACKEND_SOCKET", value_enum)]
    pub backend_socket: Option<BackendSocket>,
    /// Log format [default: text].
    #[arg(long, env = "TERN_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter in `tracing` syntax, e.g. `info` or `tern=debug` [default: info].
    #[arg(long, env = "TERN_LOG")]
    pub log: Option<String>,
    /// Longest time an online ALTER may hold writes to its table (cut-over and
    /// verify snapshot), in milliseconds; past it the attempt backs out and
    /// retries later [default: 2000].
    #[arg(long, env = "TERN_CUTOVER_HOLD_MS")]
    pub cutover_hold_ms: Option<u64>,
    /// Target time of one copy chunk of an online ALTER, in milliseconds [default: 100].
    #[arg(long, env = "TERN_MIGRATION_CHUNK_MS")]
    pub migration_chunk_ms: Option<u64>,
    /// The copy waits while a replica lags more than this many milliseconds [default: 500].
    #[arg(long, env = "TERN_MIGRATION_MAX_LAG_MS")]
    pub migration_max_lag_ms: Option<u64>,
    /// The copy waits while the primary's Threads_running exceeds this; 0 turns it off [default: 64].
    #[arg(long, env = "TERN_MIGRATION_MAX_THREADS_RUNNING")]
    pub migration_max_threads_running: Option<u64>,
    /// Seconds the old table is kept after a cut-over before Tern drops it [default: 86400].
    #[arg(long, env = "TERN_MIGRATION_KEEP_OLD_SECS")]
    pub migration_keep_old_secs: Option<u64>,
    /// A replica whose SQL thread is stopped or stopped on an error, or whose IO
    /// thread is not running, stops throttling the copy after this many seconds
    /// [default: 30].
    #[arg(long, env = "TERN_MIGRATION_REPLICA_GRACE_SECS")]
    pub migration_replica_grace_secs: Option<u64>,
    /// An online ALTER whose copy stays throttled this many seconds without
    /// copying a chunk fails (shadow dropped, table unchanged); 0 means no bound
    /// [default: 600].
    #[arg(long, env = "TERN_MIGRATION_MAX_THROTTLE_SECS")]
    pub migration_max_throttle_secs: Option<u64>,
    /// How many online ALTERs (of different tables) copy rows at the same
    /// time; the others wait for a copy slot. 0 means no limit [default: 1].
    #[arg(long, env = "TERN_MIGRATION_MAX_CONCURRENT")]
    pub migration_max_concurrent: Option<usize>,
    /// The copy of an online ALTER slows down while the p99 of client writes
    /// through Tern exceeds this multiple of its p99 before the migration
    /// (plus 5 ms); 0 turns the signal off [default: 2].
    #[arg(long, env = "TERN_MIGRATION_LATENCY_FACTOR")]
    pub migration_latency_factor: Option<f64>,
    /// The copy slows down while any single client write through Tern takes
    /// longer than this many milliseconds; 0 turns the signal off [default: 50].
    #[arg(long, env = "TERN_MIGRATION_MAX_WRITE_MS")]
    pub migration_max_write_ms: Option<u64>,
    /// The copy slows down while InnoDB's checkpoint age exceeds this percentage
    /// of its capacity (redo log pressure); 0 turns the signal off [default: 85].
    #[arg(long, env = "TERN_MIGRATION_MAX_CHECKPOINT_AGE_PCT")]
    pub migration_max_checkpoint_age_pct: Option<f64>,
    /// The copy slows down while InnoDB's history list is longer than this;
    /// 0 turns the signal off [default: 1000000].
    #[arg(long, env = "TERN_MIGRATION_MAX_HISTORY_LENGTH")]
    pub migration_max_history_length: Option<u64>,
    /// How table changes run in sessions that do not `SET tern_ddl`: `online`
    /// (what cannot run online runs as sent, with a Note), `online_strict`
    /// (that is refused with ERROR 1846), `native` or `async` [default: online].
    #[arg(long, env = "TERN_DDL")]
    pub tern_ddl: Option<String>,
    /// A role whose holders may use the TERN admin statements besides SUPER users.
    #[arg(long, env = "TERN_ADMIN_ROLE")]
    pub admin_role: Option<String>,
    /// Serve metrics, the JSON API, the health check and the status page here
    /// (HOST:PORT); off unless given.
    #[arg(long, env = "TERN_HTTP")]
    pub http: Option<String>,
    /// On SIGTERM, how long statements in flight and migrations get to finish
    /// or checkpoint before Tern exits, in seconds [default: 30].
    #[arg(long, env = "TERN_SHUTDOWN_TIMEOUT_SECS")]
    pub shutdown_timeout_secs: Option<u64>,
}

/// The TOML file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub primary: Option<String>,
    #[serde(default)]
    pub replicas: Vec<String>,
    pub admin_user: Option<String>,
    pub admin_password: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_connections: Option<usize>,
    pub max_pending_logins: Option<usize>,
    pub max_packet_size: Option<usize>,
    pub handshake_timeout_secs: Option<u64>,
    pub log_format: Option<LogFormat>,
    pub log: Option<String>,
    pub rules: Option<PathBuf>,
    pub monitor_interval_ms: Option<u64>,
    pub max_replica_lag_ms: Option<u64>,
    pub read_wait_timeout_ms: Option<u64>,
    pub worker_threads: Option<usize>,
    pub backend_socket: Option<BackendSocket>,
    pub cutover_hold_ms: Option<u64>,
    pub migration_chunk_ms: Option<u64>,
    pub migration_max_lag_ms: Option<u64>,
    pub migration_max_threads_running: Option<u64>,
    pub migration_keep_old_secs: Option<u64>,
    pub migration_replica_grace_secs: Option<u64>,
    pub migration_max_throttle_secs: Option<u64>,
    pub migration_max_concurrent: Option<usize>,
    pub migration_latency_factor: Option<f64>,
    pub migration_max_write_ms: Option<u64>,
    pub migration_max_checkpoint_age_pct: Option<f64>,
    pub migration_max_history_length: Option<u64>,
    pub tern_ddl: Option<String>,
    pub admin_role: Option<String>,
    pub shutdown_timeout_secs: Option<u64>,
    pub http: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "missing setting `{0}` (flag --{1}, environment TERN_{2}, or `{0}` in the config file)"
    )]
    Missing(&'static str, &'static str, &'static str),
    #[error("invalid address `{0}` for {1}: expected HOST:PORT")]
    Address(String, &'static str),
    #[error("--tls-cert and --tls-key must be given together")]
    TlsPair,
    #[error("invalid tern_ddl `{0}`: expected online, online_strict, native or async")]
    DdlMode(String),
}

/// A configured replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetting {
    pub addr: String,
    pub group: Option<String>,
}

/// Resolved settings, every value present.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub primary: String,
    pub replicas: Vec<ReplicaSetting>,
    pub admin_user: String,
    pub admin_password: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_connections: usize,
    /// Connections that have not logged in yet; they do not count against
    /// `max_connections`.
    pub max_pending_logins: usize,
    pub max_packet_size: usize,
    pub handshake_timeout: Duration,
    pub backend_connect_timeout: Duration,
    pub log_format: LogFormat,
    pub log: String,
    pub rules: Option<PathBuf>,
    pub monitor_interval: Duration,
    pub max_replica_lag: Duration,
    pub read_wait_timeout: Duration,
    pub worker_threads: usize,
    pub backend_socket: BackendSocket,
    pub migrate: crate::migrate::MigrateSettings,
    pub admin_role: Option<String>,
    pub shutdown_timeout: Duration,
    pub http: Option<SocketAddr>,
}

impl ServeArgs {
    /// The online ALTER engine's settings (reloaded as a whole by SIGHUP).
    fn migrate_settings(
        &self,
        file: &FileConfig,
    ) -> Result<crate::migrate::MigrateSettings, ConfigError> {
        let d = crate::migrate::MigrateSettings::default();
        Ok(crate::migrate::MigrateSettings {
            max_concurrent: self
                .migration_max_concurrent
                .or(file.migration_max_concurrent)
                .unwrap_or(d.max_concurrent),
            chunk_target: self
                .migration_chunk_ms
                .or(file.migration_chunk_ms)
                .map_or(d.chunk_target, Duration::from_millis),
            hold_bound: self
                .cutover_hold_ms
                .or(file.cutover_hold_ms)
                .map_or(d.hold_bound, Duration::from_millis),
            max_lag_ms: self
                .migration_max_lag_ms
                .or(file.migration_max_lag_ms)
                .unwrap_or(d.max_lag_ms),
            max_threads_running: self
                .migration_max_threads_running
                .or(file.migration_max_threads_running)
                .unwrap_or(d.max_threads_running),
            keep_old: self
                .migration_keep_old_secs
                .or(file.migration_keep_old_secs)
                .map_or(d.keep_old, Duration::from_secs),
            replica_grace: self
                .migration_replica_grace_secs
                .or(file.migration_replica_grace_secs)
                .map_or(d.replica_grace, Duration::from_secs),
            max_throttle: self
                .migration_max_throttle_secs
                .or(file.migration_max_throttle_secs)
                .map_or(d.max_throttle, Duration::from_secs),
            pace: crate::migrate::pace::PaceLimits {
                latency_factor: self
                    .migration_latency_factor
                    .or(file.migration_latency_factor)
                    .unwrap_or(d.pace.latency_factor),
                latency_slack: d.pace.latency_slack,
                max_write: self
                    .migration_max_write_ms
                    .or(file.migration_max_write_ms)
                    .map_or(d.pace.max_write, Duration::from_millis),
                max_checkpoint_age_pct: self
                    .migration_max_checkpoint_age_pct
                    .or(file.migration_max_checkpoint_age_pct)
                    .unwrap_or(d.pace.max_checkpoint_age_pct),
                max_history_length: self
                    .migration_max_history_length
                    .or(file.migration_max_history_length)
                    .unwrap_or(d.pace.max_history_length),
            },
            ddl_mode: match self.tern_ddl.clone().or_else(|| file.tern_ddl.clone()) {
                None => d.ddl_mode,
                Some(v) => match DdlMode::from_name(&v) {
                    Some(DdlMode::Configured) | None => return Err(ConfigError::DdlMode(v)),
                    Some(mode) => mode,
                },
            },
        })
    }

    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let file = match &self.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let migrate = self.migrate_settings(&file)?;
        let listen_text = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text
            .parse()
            .map_err(|_| ConfigError::Address(listen_text.clone(), "listen"))?;
        let primary = self
            .primary
            .or(file.primary)
            .ok_or(ConfigError::Missing("primary", "primary", "PRIMARY"))?;
        check_host_port(&primary, "primary")?;
        let replicas = if self.replicas.is_empty() {
            file.replicas
        } else {
            self.replicas
        };
        let replicas = replicas
            .iter()
            .map(|r| {
                let (group, addr) = match r.split_once('=') {
                    Some((g, a)) if !g.is_empty() => (Some(g.to_string()), a),
                    _ => (None, r.as_str()),
                };
                check_host_port(addr, "replica")?;
                Ok(ReplicaSetting {
                    addr: addr.to_string(),
                    group,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let admin_user = self
            .admin_user
            .or(file.admin_user)
            .ok_or(ConfigError::Missing(
                "admin_user",
                "admin-user",
                "ADMIN_USER",
            ))?;
        let admin_password = self
            .admin_password
            .or(file.admin_password)
            .unwrap_or_default();
        let tls = match (
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        Ok(Settings {
            listen,
            primary,
            replicas,
            admin_user,
            admin_password,
            tls,
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            max_pending_logins: self
                .max_pending_logins
                .or(file.max_pending_logins)
                .unwrap_or(DEFAULT_MAX_PENDING_LOGINS)
                .max(1),
            max_packet_size: self
                .max_packet_size
                .or(file.max_packet_size)
                .unwrap_or(DEFAULT_MAX_PACKET_SIZE),
            handshake_timeout: self
                .handshake_timeout_secs
                .or(file.handshake_timeout_secs)
                .map_or(DEFAULT_HANDSHAKE_TIMEOUT, Duration::from_secs),
            backend_connect_timeout: DEFAULT_BACKEND_CONNECT_TIMEOUT,
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            log: self.log.or(file.log).unwrap_or_else(|| "info".into()),
            rules: self.rules.or(file.rules),
            monitor_interval: self
                .monitor_interval_ms
                .or(file.monitor_interval_ms)
                .map_or(DEFAULT_MONITOR_INTERVAL, Duration::from_millis),
            max_replica_lag: self
                .max_replica_lag_ms
                .or(file.max_replica_lag_ms)
                .map_or(DEFAULT_MAX_REPLICA_LAG, Duration::from_millis),
            read_wait_timeout: self
                .read_wait_timeout_ms
                .or(file.read_wait_timeout_ms)
                .map_or(DEFAULT_READ_WAIT_TIMEOUT, Duration::from_millis),
            worker_threads: self
                .worker_threads
                .or(file.worker_threads)
                .unwrap_or(DEFAULT_WORKER_THREADS),
            backend_socket: self
                .backend_socket
                .or(file.backend_socket)
                .unwrap_or_default(),
            migrate,
            admin_role: self.admin_role.or(file.admin_role),
            http: match self.http.or(file.http) {
                Some(text) => Some(
                    text.parse()
                        .map_err(|_| ConfigError::Address(text.clone(), "http"))?,
                ),
                None => None,
            },
            shutdown_timeout: self
                .shutdown_timeout_secs
                .or(file.shutdown_timeout_secs)
                .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs),
        })
    }
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: e.to_string(),
    })
}

fn check_host_port(addr: &str, what: &'static str) -> Result<(), ConfigError> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(ConfigError::Address(addr.into(), what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> ServeArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            a: ServeArgs,
        }
        let mut v = vec!["tern"];
        v.extend_from_slice(list);
        Wrap::try_parse_from(v).expect("parses").a
    }

    #[test]
    fn flags_override_file_and_defaults_fill_in() {
        let dir = std::env::temp_dir().join(format!("tern-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("tern.toml");
        std::fs::write(
            &file,
            "primary = \"db1:3306\"\nreplicas = [\"db2:3306\"]\nadmin_user = \"tern\"\nmax_connections = 10\nbackend_socket = \"auto\"\n",
        )
        .expect("write");
        let s = args(&[
            "--config",
            file.to_str().expect("utf8"),
            "--primary",
            "db9:3307",
        ])
        .resolve()
        .expect("resolves");
        assert_eq!(s.primary, "db9:3307");
        assert_eq!(s.backend_socket, BackendSocket::Auto);
        assert_eq!(
            s.replicas,
            vec![ReplicaSetting {
                addr: "db2:3306".into(),
                group: None
            }]
        );
        assert_eq!(s.max_connections, 10);
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.max_packet_size, DEFAULT_MAX_PACKET_SIZE);
    }

    #[test]
    fn throttle_bounds_come_from_flags_file_or_defaults() {
        let s = args(&["--primary", "p:1", "--admin-user", "a"])
            .resolve()
            .expect("resolves");
        assert_eq!(
            s.migrate.replica_grace,
            crate::migrate::DEFAULT_REPLICA_GRACE
        );
        assert_eq!(s.migrate.max_throttle, crate::migrate::DEFAULT_MAX_THROTTLE);
        assert_eq!(s.migrate.max_concurrent, 1);
        let dir = std::env::temp_dir().join(format!("tern-cfg-bounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("tern.toml");
        std::fs::write(
            &file,
            "migration_replica_grace_secs = 5\nmigration_max_throttle_secs = 0\nmigration_max_concurrent = 0\n",
        )
        .expect("write");
        let s = args(&[
            "--config",
            file.to_str().expect("utf8"),
            "--primary",
            "p:1",
            "--admin-user",
            "a",
            "--migration-max-throttle-secs",
            "7",
        ])
        .resolve()
        .expect("resolves");
        assert_eq!(s.migrate.replica_grace, Duration::from_secs(5));
        assert_eq!(s.migrate.max_throttle, Duration::from_secs(7));
        assert_eq!(s.migrate.max_concurrent, 0);
    }

    #[test]
    fn replica_groups_parse() {
        let s = args(&[
            "--primary",
            "p:1",
            "--admin-user",
            "a",
            "--replica",
            "reports=r1:3306",
            "--replica",
            "r2:3306",
        ])
        .resolve()
        .expect("resolves");
        assert_eq!(s.replicas[0].group.as_deref(), Some("reports"));
        assert_eq!(s.replicas[0].addr, "r1:3306");
        assert_eq!(s.replicas[1].group, None);
        assert_eq!(s.backend_socket, BackendSocket::Off);
    }

    #[test]
    fn missing_primary_is_a_clear_error() {
        let err = args(&["--admin-user", "x"]).resolve().unwrap_err();
        assert!(err.to_string().contains("--primary"), "{err}");
    }

    #[test]
    fn bad_address_and_unknown_keys_are_rejected() {
        let err = args(&["--primary", "nohostport", "--admin-user", "x"])
            .resolve()
            .unwrap_err();
        assert!(matches!(err, ConfigError::Address(..)));
        let bad: Result<FileConfig, _> = toml::from_str("primry = \"x:1\"");
        assert!(bad.is_err());
    }

    #[test]
    fn tern_ddl_default_parses_and_rejects_nonsense() {
        let base = ["--primary", "p:1", "--admin-user", "a"];
        let s = args(&base).resolve().expect("resolves");
        assert_eq!(s.migrate.ddl_mode, DdlMode::Online);
        let mut strict = base.to_vec();
        strict.extend(["--tern-ddl", "ONLINE_STRICT"]);
        let s = args(&strict).resolve().expect("resolves");
        assert_eq!(s.migrate.ddl_mode, DdlMode::OnlineStrict);
        for bad in ["default", "sometimes"] {
            let mut v = base.to_vec();
            v.extend(["--tern-ddl", bad]);
            assert!(matches!(args(&v).resolve(), Err(ConfigError::DdlMode(_))));
        }
    }
}
