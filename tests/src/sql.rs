//! The SQL the harness runs itself: bootstrapping users, wiring replicas, waiting for them.
//!
//! The harness API is blocking and must work from inside a tokio test. `block_on` therefore runs
//! each piece of async work on a private current-thread runtime on a scoped thread of its own:
//! calling `Runtime::block_on` on a thread that already runs a runtime would panic, and borrowing
//! the test's runtime would deadlock a current-thread test.

use std::fmt;
use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row};

/// One connection attempt to a server that is known to be up. Local connects take
/// milliseconds; this only turns a wedged server into an error instead of a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one MASTER_GTID_WAIT waits before the replica's status is checked for an applier
/// error, which would otherwise only surface at the end of the whole wait.
const CATCH_UP_SLICE: Duration = Duration::from_millis(500);

/// Runs `future` to completion on a private runtime, from any thread, inside a runtime or not.
pub fn block_on<F>(future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    thread::scope(|scope| {
        let worker = thread::Builder::new()
            .name("tern-tests-sql".into())
            .spawn_scoped(scope, || -> Result<F::Output> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("building a private tokio runtime for the harness")?;
                Ok(runtime.block_on(future))
            })
            .context("spawning the harness SQL thread")?;
        worker
            .join()
            .map_err(|_| anyhow!("the harness SQL thread panicked"))?
    })
}

/// Connection options for a server on 127.0.0.1 over TCP.
pub fn tcp_opts(port: u16, user: &str, password: &str, db: Option<&str>) -> Opts {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .db_name(db)
        // mysql_async otherwise switches to the server's unix socket when it sees 127.0.0.1; the
        // tests are about the TCP path (and a proxy has no socket to switch to).
        .prefer_socket(false)
        .into()
}

pub async fn connect(opts: Opts) -> Result<Conn> {
    let target = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts))
        .await
        .map_err(|_| anyhow!("connecting to {target} timed out after {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("connecting to {target}"))
}

/// Root's connection to a server whose root password may or may not be set yet: a fresh
/// datadir has a passwordless root; a reused one (`--dir`) or a replica that already
/// replicated the bootstrap has the root password. `passwords` are tried in order, the likely
/// one first, since each failed attempt leaves an "Access denied" warning in the error log.
pub async fn connect_root(port: u16, passwords: [&str; 2]) -> Result<Conn> {
    match connect(tcp_opts(port, "root", passwords[0], None)).await {
        Ok(conn) => Ok(conn),
        Err(first) => connect(tcp_opts(port, "root", passwords[1], None))
            .await
            .with_context(|| format!("after the other root password failed: {first:#}")),
    }
}

/// A single-quoted SQL string literal.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One user the bootstrap creates.
pub struct Account<'a> {
    pub user: &'a str,
    pub password: &'a str,
    /// `<privileges> ON <level>`, as in GRANT.
    pub grants: &'a str,
    pub with_grant_option: bool,
}

/// Users, passwords and the `app` database, run on the primary so that they reach the
/// replicas through the binlog like any other change.
pub async fn bootstrap_primary(
    conn: &mut Conn,
    root_password: &str,
    accounts: &[Account<'_>],
    databases: &[&str],
) -> Result<()> {
    // Under skip-name-resolve the server does not load accounts whose host is a name
    // (install-db creates root@<hostname>), and ALTER/DROP USER then fail or do nothing (error
    // 1396) for them. They would still log in without a password the day name resolution is
    // turned on, so both steps also edit the grant table itself and reload it.
    let anonymous: Vec<String> = conn
        .query("SELECT host FROM mysql.user WHERE user = ''")
        .await
        .context("listing anonymous users")?;
    for host in anonymous {
        run(conn, &format!("DROP USER IF EXISTS ''@{}", quote(&host))).await?;
    }
    run(conn, "DELETE FROM mysql.global_priv WHERE user = ''").await?;
    run(
        conn,
        &format!(
            "UPDATE mysql.global_priv SET priv = JSON_SET(priv, \
             '$.plugin', 'mysql_native_password', \
             '$.authentication_string', PASSWORD({})) \
             WHERE user = 'root'",
            quote(root_password)
        ),
    )
    .await?;
    run(conn, "FLUSH PRIVILEGES").await?;
    for account in accounts {
        let user = format!("{}@'%'", quote(account.user));
        run(
            conn,
            &format!(
                "CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {}",
                quote(account.password)
            ),
        )
        .await?;
        let option = if account.with_grant_option {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        run(conn, &format!("GRANT {} TO {user}{option}", account.grants)).await?;
    }
    for db in databases {
        run(conn, &format!("CREATE DATABASE IF NOT EXISTS `{db}`")).await?;
    }
    Ok(())
}

/// Gives the server its own row in `tern_whoami.server` (its `@@server_id` and
/// `name`), outside the binlog so that every server keeps its own.
pub async fn mark_server(conn: &mut Conn, name: &str) -> Result<()> {
    for statement in [
        "SET SESSION sql_log_bin = 0".to_string(),
        "CREATE DATABASE IF NOT EXISTS tern_whoami".to_string(),
        "CREATE TABLE IF NOT EXISTS tern_whoami.server \
         (id INT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL)"
            .to_string(),
        "DELETE FROM tern_whoami.server".to_string(),
        format!(
            "INSERT INTO tern_whoami.server VALUES (@@server_id, {})",
            quote(name)
        ),
        "SET SESSION sql_log_bin = 1".to_string(),
    ] {
        run(conn, &statement)
            .await
            .with_context(|| format!("marking {name}"))?;
    }
    Ok(())
}

/// Points a replica at the primary. A fresh replica starts from the very beginning of the
/// primary's binlog (`gtid_slave_pos=''`), which is where the bootstrap's users are; a reused
/// one keeps its position and only learns the primary's (possibly new) port.
pub async fn wire_replica(
    conn: &mut Conn,
    primary_port: u16,
    repl_user: &str,
    repl_password: &str,
    fresh: bool,
) -> Result<()> {
    run(conn, "STOP SLAVE").await?;
    if fresh {
        run(conn, "SET GLOBAL gtid_slave_pos = ''").await?;
    }
    // MASTER_CONNECT_RETRY defaults to 60 s: a test that restarts the primary would wait a
    // minute for the replica to notice it is back.
    run(
        conn,
        &format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary_port}, \
             MASTER_USER={}, MASTER_PASSWORD={}, MASTER_USE_GTID=slave_pos, \
             MASTER_CONNECT_RETRY=1",
            quote(repl_user),
            quote(repl_password)
        ),
    )
    .await?;
    run(conn, "START SLAVE").await
}

/// Waits until every replica has applied everything the primary had binlogged when this was
/// called. `replicas` pairs a name (for errors) with a root connection.
pub async fn wait_caught_up(
    primary: &mut Conn,
    replicas: &mut [(String, Conn)],
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let position: Option<String> = primary
        .query_first("SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .context("reading the primary's @@gtid_binlog_pos")?;
    let position = position.unwrap_or_default();
    if position.is_empty() {
        return Ok(());
    }
    for (name, conn) in replicas.iter_mut() {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let slice = remaining.min(CATCH_UP_SLICE);
            let waited: Option<i64> = conn
                .exec_first(
                    "SELECT MASTER_GTID_WAIT(?, ?)",
                    (position.as_str(), slice.as_secs_f64()),
                )
                .await
                .with_context(|| format!("MASTER_GTID_WAIT on {name}"))?;
            if waited == Some(0) {
                break;
            }
            let status = slave_status(conn).await?;
            // An applier error does not go away by itself; an I/O error may (the primary
            // restarting), so only the deadline ends that wait.
            if status.sql_errno != 0 && !status.sql_running {
                bail!("{name} stopped replicating: {status}");
            }
            if remaining <= slice {
                bail!(
                    "{name} did not reach the primary's GTID position {position} within \
                     {timeout:?}; {status}"
                );
            }
        }
    }
    Ok(())
}

/// The replication threads' state and last errors, as `SHOW SLAVE STATUS` reports them.
pub struct SlaveStatus {
    pub io_running: String,
    pub sql_running: bool,
    pub gtid_io_pos: String,
    pub io_error: String,
    pub sql_errno: u32,
    pub sql_error: String,
}

impl fmt::Display for SlaveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Slave_IO_Running={} Slave_SQL_Running={} Gtid_IO_Pos={} Last_IO_Error={:?} \
             Last_SQL_Errno={} Last_SQL_Error={:?}",
            self.io_running,
            if self.sql_running { "Yes" } else { "No" },
            self.gtid_io_pos,
            self.io_error,
            self.sql_errno,
            self.sql_error,
        )
    }
}

pub async fn slave_status(conn: &mut Conn) -> Result<SlaveStatus> {
    let row: Row = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .context("SHOW SLAVE STATUS")?
        .ok_or_else(|| anyhow!("the server is not configured as a replica"))?;
    let text = |name: &str| -> String {
        row.get_opt::<Option<String>, _>(name)
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_default()
    };
    Ok(SlaveStatus {
        io_running: text("Slave_IO_Running"),
        sql_running: text("Slave_SQL_Running") == "Yes",
        gtid_io_pos: text("Gtid_IO_Pos"),
        io_error: text("Last_IO_Error"),
        sql_errno: text("Last_SQL_Errno").parse().unwrap_or(0),
        sql_error: text("Last_SQL_Error"),
    })
}

pub async fn run(conn: &mut Conn, statement: &str) -> Result<()> {
    conn.query_drop(statement)
        .await
        .with_context(|| format!("running `{statement}`"))
}
