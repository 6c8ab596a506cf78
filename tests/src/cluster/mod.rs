//! A throwaway MariaDB cluster: one primary and N GTID replicas on 127.0.0.1.
//!
//! Start-up, in order:
//! 1. every server gets its own directory and a copy of a freshly installed datadir
//!    (see `template.rs`), in parallel;
//! 2. every `mariadbd` is launched at once, then each is awaited (its error log says "ready for
//!    connections" and its port answers);
//! 3. on the primary: anonymous users go, root gets [`ROOT_PASSWORD`] on every host entry, and
//!    the admin, app and replication users and the `app` database are created;
//! 4. each replica is pointed at the primary from GTID position '' (the start of the primary's
//!    binlog), so it replays step 3 and ends up with the same users and data;
//! 5. `wait_replicas_caught_up`, so the users exist on the replicas before any test uses them.
//!
//! The servers are stopped (SIGTERM, then SIGKILL after [`process::TERM_GRACE`]) when the
//! cluster is dropped, panicking tests included, and their directories removed.

mod server;
mod template;

pub use server::{Role, Server, START_TIMEOUT};

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::{process, sql};
use server::{Location, Settings};

/// Root's password on every server, for every root host entry.
pub const ROOT_PASSWORD: &str = "root";
/// The proxy's control-plane login: all privileges, with grant option.
pub const ADMIN_USER: &str = "tern_admin";
pub const ADMIN_PASSWORD: &str = "tern_admin_pw";
/// An ordinary application user: all privileges on `*.*`, no grant option.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app_pw";
/// The replicas' login to the primary.
pub const REPL_USER: &str = "tern_repl";
pub const REPL_PASSWORD: &str = "tern_repl_pw";
/// The database created for tests.
pub const APP_DATABASE: &str = "app";
/// A read that names the server answering it (each server has its own row in
/// `tern_whoami.server`, written outside the binlog), for tests that check
/// where Tern sent a read. `@@server_id` cannot tell: Tern answers every
/// `@@variable` from the session's primary connection.
pub const WHOAMI: &str = "(SELECT id FROM tern_whoami.server)";

/// How long the replicas get to replay the bootstrap (users, database) during start-up. It
/// takes milliseconds; the bound turns a broken replication into an error with its status.
const BOOTSTRAP_CATCH_UP: Duration = Duration::from_secs(30);

/// How to start a cluster. `ClusterConfig::new(1).start()` is `Cluster::start(1)`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub replicas: usize,
    /// Small by default so that many clusters fit on a CI machine; benchmarks ask for more.
    pub innodb_buffer_pool_size: String,
    /// Larger than the template's, so bulk copies in tests do not spend their time in
    /// checkpoint flushing; benchmarks may want more.
    pub innodb_log_file_size: String,
    /// Fixed ports `base`, `base + 1`, ... (primary first) instead of free ones.
    pub base_port: Option<u16>,
    /// Keep the servers' files in `dir/primary`, `dir/replica1`, ... instead of temporary
    /// directories; datadirs found there are reused, not re-created.
    pub dir: Option<PathBuf>,
    /// Extra `[mysqld]` lines for every server, e.g. `binlog_row_image=MINIMAL` for a test of
    /// what Tern refuses.
    pub extra_settings: Vec<String>,
    /// Bound on each server's start and on the replicas' catch-up during start-up.
    pub start_timeout: Duration,
}

impl ClusterConfig {
    pub fn new(replicas: usize) -> Self {
        ClusterConfig {
            replicas,
            innodb_buffer_pool_size: "64M".into(),
            innodb_log_file_size: "64M".into(),
            base_port: None,
            dir: None,
            extra_settings: Vec::new(),
            start_timeout: START_TIMEOUT,
        }
    }

    pub fn start(self) -> Result<Cluster> {
        Cluster::start_with(self)
    }
}

/// A running primary plus replicas. Dropping it stops every server.
#[derive(Debug)]
pub struct Cluster {
    /// The primary first, then the replicas in order.
    servers: Vec<Server>,
}

impl Cluster {
    /// A primary and `replicas` GTID replicas with the users and database of the module doc.
    pub fn start(replicas: usize) -> Result<Cluster> {
        ClusterConfig::new(replicas).start()
    }

    pub fn start_with(config: ClusterConfig) -> Result<Cluster> {
        let settings = Settings {
            innodb_buffer_pool_size: config.innodb_buffer_pool_size.clone(),
            innodb_log_file_size: config.innodb_log_file_size.clone(),
            extra: config.extra_settings.clone(),
        };
        let cluster = Cluster {
            servers: prepare_servers(&config, &settings)?,
        };
        // From here on, an error drops `cluster`, which stops whatever was started.
        let mut launches = Vec::with_capacity(cluster.servers.len());
        for server in &cluster.servers {
            launches.push(server.launch()?);
        }
        for (server, launch) in cluster.servers.iter().zip(launches) {
            server.await_ready(launch, config.start_timeout, true)?;
        }
        cluster
            .bootstrap(config.start_timeout.max(BOOTSTRAP_CATCH_UP))
            .context("bootstrapping the cluster")?;
        Ok(cluster)
    }

    pub fn primary(&self) -> &Server {
        &self.servers[0]
    }

    pub fn replicas(&self) -> &[Server] {
        &self.servers[1..]
    }

    /// The primary first, then the replicas.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Waits until every replica has applied all that the primary had binlogged when this was
    /// called (`@@gtid_binlog_pos` on the primary, `MASTER_GTID_WAIT` on each replica). A
    /// replica that is down or not replicating makes this fail after `timeout`, with its
    /// replication status in the error.
    pub fn wait_replicas_caught_up(&self, timeout: Duration) -> Result<()> {
        let primary_port = self.primary().port();
        let replicas: Vec<(String, u16)> = self
            .replicas()
            .iter()
            .map(|r| (r.name().to_owned(), r.port()))
            .collect();
        sql::block_on(async move {
            let mut primary =
                sql::connect(sql::tcp_opts(primary_port, "root", ROOT_PASSWORD, None))
                    .await
                    .context("connecting to the primary")?;
            let mut conns = Vec::with_capacity(replicas.len());
            for (name, port) in replicas {
                let conn = sql::connect(sql::tcp_opts(port, "root", ROOT_PASSWORD, None))
                    .await
                    .with_context(|| format!("connecting to {name}"))?;
                conns.push((name, conn));
            }
            sql::wait_caught_up(&mut primary, &mut conns, timeout).await?;
            sql::mark_server(&mut primary, "primary").await?;
            for (name, conn) in &mut conns {
                sql::mark_server(conn, name).await?;
            }
            disconnect(primary, conns).await;
            Ok(())
        })?
    }

    fn bootstrap(&self, timeout: Duration) -> Result<()> {
        let primary = self.primary();
        let primary_port = primary.port();
        let primary_fresh = primary.is_fresh();
        let replicas: Vec<(String, u16, bool)> = self
            .replicas()
            .iter()
            .map(|r| (r.name().to_owned(), r.port(), r.is_fresh()))
            .collect();
        sql::block_on(async move {
            let mut primary = sql::connect_root(primary_port, root_passwords(primary_fresh))
                .await
                .context("connecting to the primary")?;
            if primary_fresh {
                let accounts = [
                    sql::Account {
                        user: ADMIN_USER,
                        password: ADMIN_PASSWORD,
                        grants: "ALL PRIVILEGES ON *.*",
                        with_grant_option: true,
                    },
                    sql::Account {
                        user: APP_USER,
                        password: APP_PASSWORD,
                        grants: "ALL PRIVILEGES ON *.*",
                        with_grant_option: false,
                    },
                    sql::Account {
                        user: REPL_USER,
                        password: REPL_PASSWORD,
                        grants: "REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, \
                                 REPLICATION SLAVE ADMIN ON *.*",
                        with_grant_option: false,
                    },
                ];
                sql::bootstrap_primary(&mut primary, ROOT_PASSWORD, &accounts, &[APP_DATABASE])
                    .await
                    .context("creating users and databases on the primary")?;
                // Replicas run read_only; without this privilege (which ALL
                // PRIVILEGES includes) a write Tern misroutes to a replica fails
                // loudly instead of diverging the replica.
                sql::run(
                    &mut primary,
                    &format!(
                        "REVOKE READ_ONLY ADMIN ON *.* FROM {}@'%'",
                        sql::quote(APP_USER)
                    ),
                )
                .await
                .context("taking READ_ONLY ADMIN from the app user")?;
            }
            let mut conns = Vec::with_capacity(replicas.len());
            for (name, port, fresh) in replicas {
                // A fresh replica's root has no password until it replays the bootstrap; this
                // connection stays usable after that.
                let mut conn = sql::connect_root(port, root_passwords(fresh))
                    .await
                    .with_context(|| format!("connecting to {name}"))?;
                sql::wire_replica(&mut conn, primary_port, REPL_USER, REPL_PASSWORD, fresh)
                    .await
                    .with_context(|| format!("pointing {name} at the primary"))?;
                conns.push((name, conn));
            }
            sql::wait_caught_up(&mut primary, &mut conns, timeout).await?;
            sql::mark_server(&mut primary, "primary").await?;
            for (name, conn) in &mut conns {
                sql::mark_server(conn, name).await?;
            }
            disconnect(primary, conns).await;
            Ok(())
        })?
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // All at once: each server's shutdown then overlaps the others'.
        for server in &self.servers {
            server.begin_stop();
        }
        let deadline = Instant::now() + process::TERM_GRACE;
        for server in &self.servers {
            server.finish_stop(deadline);
        }
    }
}

/// Creates every server's directory and datadir, in parallel: the copies are I/O that
/// overlaps well, and the first one may have to install the template.
fn prepare_servers(config: &ClusterConfig, settings: &Settings) -> Result<Vec<Server>> {
    let count = config.replicas + 1;
    let specs: Vec<(String, Role, Option<u16>)> = (0..count)
        .map(|i| {
            let (name, role) = if i == 0 {
                ("primary".to_owned(), Role::Primary)
            } else {
                (format!("replica{i}"), Role::Replica)
            };
            let port = match config.base_port {
                Some(base) => u16::try_from(usize::from(base) + i)
                    .map(Some)
                    .map_err(|_| anyhow!("--base-port {base} + {i} is past 65535")),
                None => Ok(None),
            };
            port.map(|port| (name, role, port))
        })
        .collect::<Result<_>>()?;
    thread::scope(|scope| {
        let workers: Vec<_> = specs
            .into_iter()
            .enumerate()
            .map(|(i, (name, role, port))| {
                let location = match &config.dir {
                    Some(dir) => Location::Kept(dir.join(&name)),
                    None => Location::Temporary,
                };
                let settings = settings.clone();
                let server_id = u32::try_from(i + 1).unwrap_or(u32::MAX);
                scope
                    .spawn(move || Server::prepare(name, role, server_id, port, location, settings))
            })
            .collect();
        let mut servers = Vec::with_capacity(count);
        let mut first_error = None;
        for worker in workers {
            match worker.join() {
                Ok(Ok(server)) => servers.push(server),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow!("preparing a server panicked"));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(servers),
        }
    })
}

/// Root's password on a server, most likely first: none on a fresh datadir.
fn root_passwords(fresh: bool) -> [&'static str; 2] {
    if fresh {
        ["", ROOT_PASSWORD]
    } else {
        [ROOT_PASSWORD, ""]
    }
}

async fn disconnect(primary: mysql_async::Conn, replicas: Vec<(String, mysql_async::Conn)>) {
    // A failed goodbye changes nothing for the caller.
    let _ = primary.disconnect().await;
    for (_, conn) in replicas {
        let _ = conn.disconnect().await;
    }
}
