//! One `mariadbd`: its directory, its config file and its process.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use super::template;
use crate::process::{self, POLL_INTERVAL};
use crate::{scratch, sql};

/// How many times a server that lost its port to someone else is retried on a new one. Each
/// race needs another process to grab the same ephemeral port within ~200 ms, so more than a
/// couple in a row means something else is wrong.
const PORT_ATTEMPTS: usize = 5;

/// How long a server gets to accept connections. It takes ~200 ms here; InnoDB crash recovery
/// after a `kill9` or a 1 GiB buffer pool on a loaded 2-core CI machine take longer, but
/// 30 s means something is broken.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of the error log quoted in an error.
const LOG_TAIL_LINES: usize = 40;

/// What a server is in its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
}

/// Server settings a caller may choose, shared by every server of a cluster.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub innodb_buffer_pool_size: String,
    pub innodb_log_file_size: String,
    pub extra: Vec<String>,
}

/// Where a server's files live.
pub(crate) enum Location {
    /// A temporary directory, removed when the server is dropped.
    Temporary,
    /// A directory the caller keeps; an existing datadir in it is reused.
    Kept(PathBuf),
}

/// A started `mariadbd` that was launched but is not known to be ready yet.
pub(crate) struct Launch {
    /// Where this start's lines begin in the (appended-to) error log.
    log_offset: u64,
}

/// One MariaDB server of a [`super::Cluster`].
///
/// All methods take `&self`, so a test can restart a replica through a shared `&Cluster` (or an
/// `Arc<Cluster>`) while other tasks use the servers.
pub struct Server {
    name: String,
    role: Role,
    server_id: u32,
    port: AtomicU16,
    /// A port the caller chose is never swapped for another one on a bind failure.
    port_is_fixed: bool,
    root: PathBuf,
    /// The datadir was just copied from the template, so it needs bootstrapping and, for a
    /// replica, replication from the primary's first GTID.
    fresh: bool,
    settings: Settings,
    process: Mutex<Option<Child>>,
    last_pid: AtomicU32,
    /// Declared last so that it is removed after `Drop` stopped the server.
    _tempdir: Option<TempDir>,
}

impl Server {
    /// Creates the server's directory and datadir; starts nothing.
    pub(crate) fn prepare(
        name: String,
        role: Role,
        server_id: u32,
        fixed_port: Option<u16>,
        location: Location,
        settings: Settings,
    ) -> Result<Server> {
        let (root, tempdir) = match location {
            Location::Temporary => {
                let dir = scratch::owned_tempdir(&name)
                    .with_context(|| format!("creating a temporary directory for {name}"))?;
                (dir.path().to_path_buf(), Some(dir))
            }
            Location::Kept(root) => {
                fs::create_dir_all(&root)
                    .with_context(|| format!("creating {}", root.display()))?;
                (root, None)
            }
        };
        // Each server's own tmpdir: a starting server deletes every `#sql*`
        // file in its tmpdir, which in a shared /tmp would be the internal
        // temporary tables of servers already running.
        fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("creating {}/tmp", root.display()))?;
        let datadir = root.join("data");
        let fresh = !datadir.join("mysql").is_dir();
        if fresh {
            if datadir.exists() {
                // Left over from an interrupted copy; nothing in it is worth keeping.
                fs::remove_dir_all(&datadir)
                    .with_context(|| format!("removing {}", datadir.display()))?;
            }
            template::copy_datadir(&template::datadir_template()?, &datadir)
                .with_context(|| format!("creating {name}'s datadir"))?;
        }
        let port = match fixed_port {
            Some(port) => port,
            None => process::free_port().context("picking a free port")?,
        };
        Ok(Server {
            name,
            role,
            server_id,
            port: AtomicU16::new(port),
            port_is_fixed: fixed_port.is_some(),
            root,
            fresh,
            settings,
            process: Mutex::new(None),
            last_pid: AtomicU32::new(0),
            _tempdir: tempdir,
        })
    }

    /// `primary`, `replica1`, `replica2`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The directory holding the config file, the error log, the socket and the datadir.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    pub fn datadir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("my.cnf")
    }

    pub fn error_log(&self) -> PathBuf {
        self.root.join("error.log")
    }

    pub fn socket(&self) -> PathBuf {
        self.root.join("mysql.sock")
    }

    /// The last lines of the server's error log.
    pub fn error_log_tail(&self) -> String {
        process::tail(&self.error_log(), LOG_TAIL_LINES)
    }

    /// The pid of the most recently started `mariadbd`, which may have exited since (see
    /// [`Server::is_running`]).
    pub fn pid(&self) -> u32 {
        self.last_pid.load(Ordering::SeqCst)
    }

    pub fn is_running(&self) -> bool {
        match self.child().as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub(crate) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Connection options for this server over TCP.
    pub fn opts(&self, user: &str, password: &str, db: Option<&str>) -> mysql_async::Opts {
        sql::tcp_opts(self.port(), user, password, db)
    }

    /// SIGKILL, as in a crash; returns once the process is reaped.
    pub fn kill9(&self) -> Result<()> {
        if let Some(mut child) = self.child().take() {
            process::kill_and_reap(&mut child)
                .with_context(|| format!("killing {} (pid {})", self.name, child.id()))?;
        }
        Ok(())
    }

    /// A clean shutdown (SIGTERM), SIGKILL if it takes longer than [`process::TERM_GRACE`].
    pub fn stop(&self) -> Result<()> {
        if let Some(mut child) = self.child().take() {
            process::terminate(&mut child)
                .with_context(|| format!("stopping {} (pid {})", self.name, child.id()))?;
        }
        Ok(())
    }

    /// Starts the server again on the same datadir and port after [`Server::kill9`] or
    /// [`Server::stop`]. A replica resumes replicating by itself: its master info and GTID
    /// position are in the datadir.
    pub fn start_again(&self) -> Result<()> {
        if self.is_running() {
            bail!("{} is still running (pid {})", self.name, self.pid());
        }
        let launch = self.launch()?;
        // Others (replicas, a proxy) know this port, so losing it is an error, not a retry.
        self.await_ready(launch, START_TIMEOUT, false)
    }

    /// Writes the config for the current port and starts `mariadbd` without waiting for it.
    pub(crate) fn launch(&self) -> Result<Launch> {
        let mut slot = self.child();
        if let Some(child) = slot.as_mut() {
            if child.try_wait()?.is_none() {
                bail!("{} is already running (pid {})", self.name, child.id());
            }
        }
        let config = self.config_file();
        fs::write(&config, self.config_text(self.port()))
            .with_context(|| format!("writing {}", config.display()))?;
        let error_log = self.error_log();
        let log_offset = process::file_len(&error_log);
        // Messages printed before mariadbd opens its error log (an unknown option, say) go to
        // stderr; appending them to the same file keeps one place to look.
        let open_log = || {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&error_log)
                .with_context(|| format!("opening {}", error_log.display()))
        };
        let mut command = Command::new("mariadbd");
        command
            .arg(format!("--defaults-file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(open_log()?)
            .stderr(open_log()?);
        let child = process::spawn_tied(command)
            .with_context(|| format!("starting mariadbd for {}", self.name))?;
        self.last_pid.store(child.id(), Ordering::SeqCst);
        *slot = Some(child);
        Ok(Launch { log_offset })
    }

    /// Waits until the launched server accepts connections. If it lost its port to another
    /// process and the port was ours to choose, starts it again on a fresh port.
    pub(crate) fn await_ready(
        &self,
        mut launch: Launch,
        timeout: Duration,
        may_change_port: bool,
    ) -> Result<()> {
        let may_change_port = may_change_port && !self.port_is_fixed;
        let mut attempts = 1;
        loop {
            match self.poll_until_ready(&launch, timeout) {
                Ok(()) => return Ok(()),
                Err(StartError::PortTaken) if may_change_port && attempts < PORT_ATTEMPTS => {
                    attempts += 1;
                    let port = process::free_port().context("picking a free port")?;
                    self.port.store(port, Ordering::SeqCst);
                    launch = self.launch()?;
                }
                Err(StartError::PortTaken) => bail!(
                    "{} could not bind 127.0.0.1:{} (address in use); error log:\n{}",
                    self.name,
                    self.port(),
                    self.error_log_tail()
                ),
                Err(StartError::Failed(error)) => return Err(error),
            }
        }
    }

    fn poll_until_ready(&self, launch: &Launch, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        let error_log = self.error_log();
        loop {
            let log = process::read_from(&error_log, launch.log_offset);
            // The log line, not only an open port: another process may own that port.
            if log.contains("ready for connections") && process::port_accepts(self.port()) {
                return Ok(());
            }
            let exited = match self.child().as_mut() {
                Some(child) => child
                    .try_wait()
                    .with_context(|| format!("checking on {}", self.name))?,
                None => {
                    return Err(anyhow!("{} was stopped while starting", self.name).into());
                }
            };
            if let Some(status) = exited {
                if log.contains("Address already in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(anyhow!(
                    "{} ({}) exited with {status} while starting; error log:\n{}",
                    self.name,
                    self.addr(),
                    self.error_log_tail()
                )
                .into());
            }
            if Instant::now() >= deadline {
                return Err(anyhow!(
                    "{} ({}) did not accept connections within {timeout:?}; error log:\n{}",
                    self.name,
                    self.addr(),
                    self.error_log_tail()
                )
                .into());
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Sends SIGTERM without waiting, so a cluster can stop all its servers at once.
    pub(crate) fn begin_stop(&self) {
        if let Some(child) = self.child().as_mut() {
            if let Ok(None) = child.try_wait() {
                let _ = process::send_signal(child.id(), libc::SIGTERM);
            }
        }
    }

    /// Waits for a server sent SIGTERM by [`Server::begin_stop`] until `deadline`, then kills it.
    pub(crate) fn finish_stop(&self, deadline: Instant) {
        if let Some(mut child) = self.child().take() {
            // Nothing useful to do with a failure here: this runs from Drop.
            let _ = process::reap_by(&mut child, deadline);
        }
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        // A panic while holding the lock leaves the Option intact; keep using it.
        self.process.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn config_text(&self, port: u16) -> String {
        let root = self.root.display();
        let Settings {
            innodb_buffer_pool_size,
            innodb_log_file_size,
            extra,
        } = &self.settings;
        let mut text = format!(
            "# Written by tern-tests for {name}; rewritten at every start.\n\
             [mysqld]\n\
             user=root\n\
             datadir={root}/data\n\
             socket={root}/mysql.sock\n\
             pid-file={root}/mariadbd.pid\n\
             tmpdir={root}/tmp\n\
             log_error={root}/error.log\n\
             port={port}\n\
             bind-address=127.0.0.1\n\
             skip-name-resolve\n\
             server-id={server_id}\n\
             # Named explicitly: the default names derive from the host name.\n\
             log-bin=mariadb-bin\n\
             log-bin-index=mariadb-bin.index\n\
             relay-log=relay-bin\n\
             relay-log-index=relay-bin.index\n\
             binlog_format=ROW\n\
             binlog_row_image=FULL\n\
             # Without it BIGINT UNSIGNED max decodes from the binlog as -1.\n\
             binlog_row_metadata=FULL\n\
             gtid_strict_mode=ON\n\
             log_slave_updates=ON\n\
             # last_gtid is what read-your-writes learns from OK packets; not tracked by default.\n\
             session_track_system_variables=autocommit,character_set_client,character_set_connection,character_set_results,time_zone,last_gtid\n\
             # A packaged server (Debian's 50-server.cnf) defaults to utf8mb4; the compiled-in\n\
             # default is latin1, which no application expects any more.\n\
             character_set_server=utf8mb4\n\
             collation_server=utf8mb4_general_ci\n\
             max_connections=3000\n\
             # A cached thread hands a new connection the closed one's session,\n\
             # prepared-statement id counter included: byte-for-byte comparisons\n\
             # of direct and proxied transcripts need every session fresh.\n\
             thread_cache_size=0\n\
             max_allowed_packet=64M\n\
             local_infile=ON\n\
             innodb_buffer_pool_size={innodb_buffer_pool_size}\n\
             innodb_log_file_size={innodb_log_file_size}\n\
             # Durability is worthless for throwaway servers; commit latency is not.\n\
             innodb_flush_log_at_trx_commit=2\n\
             sync_binlog=0\n\
             # Dumping and reloading the buffer pool only slows stop and start.\n\
             innodb_buffer_pool_dump_at_shutdown=OFF\n\
             innodb_buffer_pool_load_at_startup=OFF\n\
             report_host=127.0.0.1\n\
             report_port={port}\n",
            name = self.name,
            server_id = self.server_id,
        );
        if self.role == Role::Replica {
            // A local write on a replica gets a local GTID, which gtid_strict_mode then refuses
            // to reconcile with the primary's stream.
            text.push_str("read_only=ON\n");
        }
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("addr", &self.addr())
            .field("pid", &self.pid())
            .field("root", &self.root)
            .finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.begin_stop();
        self.finish_stop(Instant::now() + process::TERM_GRACE);
    }
}

enum StartError {
    /// mariadbd exited because another process holds its port.
    PortTaken,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(error: anyhow::Error) -> Self {
        StartError::Failed(error)
    }
}
