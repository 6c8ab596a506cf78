//! The client side: listener, login and one session task per client connection.

pub mod client;
pub mod kill;
pub mod login;
pub mod pending;
pub mod relay;
pub mod session;
pub mod stream;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::backend::monitor::{PrimaryHistory, ReplicaHealth};
use crate::backend::users::UserDirectory;
use crate::backend::BackendTarget;
use crate::config::Settings;
use crate::logsafe::untrusted;
use crate::protocol::errcode::ER_CON_COUNT_ERROR;
use client::ClientConn;
use stream::ClientStream;

/// A replica and what the monitor knows about it.
pub struct ReplicaNode {
    pub target: BackendTarget,
    pub group: Option<String>,
    pub health: Arc<ReplicaHealth>,
    /// Sessions' connections to it open now.
    pub connections: Arc<AtomicUsize>,
}

/// Counts one backend connection in a total while alive.
pub struct ConnectionCount(Arc<AtomicUsize>);

impl ConnectionCount {
    pub fn new(total: &Arc<AtomicUsize>) -> Self {
        total.fetch_add(1, Ordering::Relaxed);
        ConnectionCount(total.clone())
    }
}

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// State every session shares.
pub struct Shared {
    pub settings: Settings,
    pub primary: BackendTarget,
    pub replicas: Vec<ReplicaNode>,
    pub primary_history: Arc<PrimaryHistory>,
    /// Swapped whole on reload; sessions take a cheap clone of the Arc.
    pub rules: std::sync::RwLock<Arc<tern_rules::RuleSet>>,
    pub users: UserDirectory,
    pub tls: Option<TlsAcceptor>,
    pub sessions: kill::SessionRegistry,
    /// The online ALTER engine and its write gate.
    pub migrations: Arc<crate::migrate::Engine>,
    pub metrics: crate::admin::metrics::Metrics,
    /// Connections still logging in, bounded apart from sessions.
    pub pending_logins: Arc<pending::PendingLogins>,
    /// Stored functions and views, for routing reads that use them.
    pub catalog: Arc<crate::backend::catalog::Catalog>,
    /// The primary's position for `global` reads, read on Tern's connections.
    pub primary_position: crate::backend::monitor::PrimaryPosition,
    /// Table changes through Tern that some replica may not have applied:
    /// replica reads naming those tables wait for them.
    pub schema_changes: Arc<crate::backend::schema_changes::SchemaChanges>,
    active_sessions: AtomicUsize,
    /// Sessions running a command right now; shutdown waits for them.
    busy_sessions: BusyCounter,
    /// Sessions started so far; [`kill::session_id`] turns it into the greeting's id.
    next_connection_id: AtomicU32,
}

/// Sessions running a command; a session keeps a clone for its whole life,
/// so marking a command costs two atomic adds and nothing else.
#[derive(Clone, Default)]
pub struct BusyCounter(Arc<AtomicUsize>);

impl BusyCounter {
    /// Marks one command running until the guard drops.
    pub fn enter(&self) -> BusyGuard<'_> {
        self.0.fetch_add(1, Ordering::Acquire);
        BusyGuard(&self.0)
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Counts a command as running while alive.
pub struct BusyGuard<'a>(&'a AtomicUsize);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("rule file {path}:\n{errors}")]
    Rules { path: String, errors: String },
}

/// Rules naming a replica group that no `--replica GROUP=HOST:PORT` defines send
/// their reads to the primary; say so once, at load.
fn warn_unknown_groups(rules: &tern_rules::RuleSet, settings: &Settings) {
    for group in rules.replica_groups() {
        if !settings
            .replicas
            .iter()
            .any(|r| r.group.as_deref() == Some(group.as_str()))
        {
            tracing::warn!(group = %group, "rules name a replica group with no replicas; its reads go to the primary");
        }
    }
}

/// Reads and compiles a rule file.
pub fn load_rules(path: &std::path::Path) -> Result<tern_rules::RuleSet, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServeError::Rules {
        path: path.display().to_string(),
        errors: e.to_string(),
    })?;
    tern_rules::RuleSet::from_toml(&text).map_err(|e| ServeError::Rules {
        path: path.display().to_string(),
        errors: e.to_string(),
    })
}

impl Shared {
    pub fn new(settings: Settings) -> Result<Arc<Self>, ServeError> {
        let tls = match &settings.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let (host, port) = settings
            .primary
            .rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.parse::<u16>().unwrap_or(3306)))
            .unwrap_or_else(|| (settings.primary.clone(), 3306));
        let admin_opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(settings.admin_user.clone()))
            .pass(Some(settings.admin_password.clone()))
            .pool_opts(
                mysql_async::PoolOpts::default()
                    .with_constraints(mysql_async::PoolConstraints::new(0, 4).unwrap_or_default()),
            );
        let users = UserDirectory::new(mysql_async::Pool::new(admin_opts));
        let rules = match &settings.rules {
            Some(path) => load_rules(path)?,
            None => tern_rules::RuleSet::empty(),
        };
        warn_unknown_groups(&rules, &settings);
        let max_lag_ms = settings.max_replica_lag.as_millis() as u64;
        let replicas = settings
            .replicas
            .iter()
            .map(|r| ReplicaNode {
                target: BackendTarget::new(r.addr.clone(), settings.backend_connect_timeout),
                group: r.group.clone(),
                health: Arc::new(ReplicaHealth::new(max_lag_ms)),
                connections: Arc::new(AtomicUsize::new(0)),
            })
            .collect();
        let replicas: Vec<ReplicaNode> = replicas;
        let metrics = crate::admin::metrics::Metrics::new();
        let migrations = crate::migrate::Engine::new(
            settings.migrate.clone(),
            crate::backend::monitor::admin_opts(
                &settings.primary,
                &settings.admin_user,
                &settings.admin_password,
            ),
            replicas
                .iter()
                .map(|r| (r.target.addr.clone(), r.health.clone()))
                .collect(),
            metrics.writes.clone(),
            metrics.near_copy.clone(),
        );
        Ok(Arc::new(Self {
            migrations,
            metrics,
            catalog: Arc::default(),
            pending_logins: pending::PendingLogins::new(settings.max_pending_logins),
            primary_position: crate::backend::monitor::PrimaryPosition::new(
                crate::backend::monitor::admin_opts(
                    &settings.primary,
                    &settings.admin_user,
                    &settings.admin_password,
                ),
            ),
            primary: BackendTarget::new(settings.primary.clone(), settings.backend_connect_timeout),
            replicas,
            primary_history: Arc::new(PrimaryHistory::default()),
            schema_changes: Arc::default(),
            rules: std::sync::RwLock::new(Arc::new(rules)),
            users,
            tls,
            settings,
            sessions: kill::SessionRegistry::default(),
            active_sessions: AtomicUsize::new(0),
            busy_sessions: BusyCounter::default(),
            next_connection_id: AtomicU32::new(0),
        }))
    }

    pub fn active_sessions(&self) -> usize {
        self.active_sessions.load(Ordering::Relaxed)
    }

    /// The count of sessions running a command, for a session to mark its own.
    pub fn busy_counter(&self) -> BusyCounter {
        self.busy_sessions.clone()
    }

    /// After the listener is closed: lets commands in flight finish and
    /// running migrations checkpoint and stop, each within the shutdown bound.
    /// Idle client connections are closed by the exit, as a server's would be.
    pub async fn drain(&self) {
        let bound = self.settings.shutdown_timeout;
        let deadline = std::time::Instant::now() + bound;
        let busy = || self.busy_sessions.get();
        // Migrations are told first: a session waiting on a synchronous ALTER
        // is busy until its migration stops, which it would otherwise only be
        // asked to do once the whole bound had passed.
        self.migrations.begin_shutdown();
        if busy() > 0 {
            tracing::info!(statements = busy(), "waiting for statements in flight");
        }
        while busy() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if busy() > 0 {
            tracing::warn!(
                statements = busy(),
                "shutdown bound reached with statements still running"
            );
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        self.migrations.shutdown(left).await;
    }

    pub fn current_rules(&self) -> Arc<tern_rules::RuleSet> {
        self.rules
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|_| Arc::new(tern_rules::RuleSet::empty()))
    }

    /// Re-reads the rule file; an invalid file keeps the old rules.
    pub fn reload_rules(&self) {
        let Some(path) = &self.settings.rules else {
            return;
        };
        match load_rules(path) {
            Ok(rules) => {
                warn_unknown_groups(&rules, &self.settings);
                let count = rules.len();
                if let Ok(mut current) = self.rules.write() {
                    *current = Arc::new(rules);
                }
                tracing::info!(path = %path.display(), rules = count, "routing rules reloaded");
            }
            Err(e) => tracing::error!(error = %e, "rule file invalid; keeping the previous rules"),
        }
    }

    /// Learns the unix sockets of backends on this machine, all at once.
    pub async fn discover_sockets(&self) {
        let user = &self.settings.admin_user;
        let password = &self.settings.admin_password;
        let primary = self
            .primary
            .discover_socket(crate::backend::monitor::admin_opts(
                &self.primary.addr,
                user,
                password,
            ));
        let replicas = self.replicas.iter().map(|node| {
            node.target
                .discover_socket(crate::backend::monitor::admin_opts(
                    &node.target.addr,
                    user,
                    password,
                ))
        });
        tokio::join!(primary, futures_util::future::join_all(replicas));
    }

    /// Starts the health and position monitors (one task per server).
    pub fn spawn_monitors(self: &Arc<Self>) {
        if self.replicas.is_empty() {
            return;
        }
        let interval = self.settings.monitor_interval;
        let user = &self.settings.admin_user;
        let password = &self.settings.admin_password;
        tokio::spawn(
            self.catalog
                .clone()
                .watch(crate::backend::monitor::admin_opts(
                    &self.settings.primary,
                    user,
                    password,
                )),
        );
        tokio::spawn(crate::backend::monitor::watch_primary(
            crate::backend::monitor::admin_opts(&self.settings.primary, user, password),
            self.primary_history.clone(),
            interval,
        ));
        tokio::spawn(self.schema_changes.clone().watch(
            self.replicas.iter().map(|n| n.health.clone()).collect(),
            interval,
        ));
        for node in &self.replicas {
            tokio::spawn(crate::backend::monitor::watch_replica(
                node.target.addr.clone(),
                crate::backend::monitor::admin_opts(&node.target.addr, user, password),
                node.health.clone(),
                self.primary_history.clone(),
                interval,
            ));
        }
    }
}

/// Binds the listener; returns it so callers can learn the bound address.
pub async fn bind(shared: &Shared) -> Result<TcpListener, ServeError> {
    let addr = shared.settings.listen;
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Accepts clients forever, one task each.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    if let Err(e) = shared.users.refresh_after(std::time::Instant::now()).await {
        // Not fatal: the primary may come up later; logins retry the read.
        tracing::warn!(error = %e, "cannot read accounts from the primary yet");
    }
    if shared.settings.backend_socket == crate::config::BackendSocket::Auto {
        shared.discover_sockets().await;
    }
    shared.spawn_monitors();
    tokio::spawn(shared.migrations.clone().start());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, primary = %shared.primary.addr, "listening on {addr}");
    }
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move { handle_client(shared, tcp, peer).await });
    }
}

/// Decrements the live-session count however the session task ends.
struct SessionSlot(Arc<Shared>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.active_sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle_client(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let connection_id = kill::session_id(shared.next_connection_id.fetch_add(1, Ordering::Relaxed));
    let span = tracing::info_span!("session", id = connection_id, %peer);
    let mut client = ClientConn::new(ClientStream::Plain(tcp), peer);
    // Only logged-in sessions count here: connections still logging in have
    // their own bound (`pending.rs`), so sockets that never log in cannot lock
    // real clients out. Logins that finish together may pass the limit by at
    // most the number of pending logins.
    if shared.active_sessions.load(Ordering::Relaxed) >= shared.settings.max_connections {
        // The server answers an over-limit connection with this ERR in place of
        // its greeting.
        client
            .refuse_before_greeting(ER_CON_COUNT_ERROR, "Too many connections")
            .await;
        tracing::warn!(parent: &span, limit = shared.settings.max_connections, "connection refused: too many connections");
        return;
    }
    async move {
        let pending = shared.pending_logins.admit(peer.ip());
        let login = tokio::select! {
            login = tokio::time::timeout(
                shared.settings.handshake_timeout,
                login::login(&shared, &mut client, connection_id),
            ) => login,
            _ = pending.shed.cancelled() => {
                tracing::info!("login abandoned: closed to make room for other logins");
                return;
            }
        };
        drop(pending);
        let (identity, backend, login_status) = match login {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::info!(error = %untrusted(&e), "login failed");
                return;
            }
            Err(_) => {
                tracing::info!("login timed out");
                return;
            }
        };
        shared.active_sessions.fetch_add(1, Ordering::Relaxed);
        let _slot = SessionSlot(shared.clone());
        tracing::debug!(user = %untrusted(&identity.user), tls = client.stream.is_tls(), cipher = ?client.stream.cipher(), backend_id = backend.server_connection_id, "session started");
        shared.sessions.register(connection_id, backend.server_connection_id);
        let session = session::Session::new(
            shared.clone(),
            client,
            backend,
            identity,
            login_status,
            connection_id,
        );
        let end = session.run().await;
        shared.sessions.unregister(connection_id);
        tracing::debug!(reason = %untrusted(&end), "session ended");
    }
    .instrument(span.clone())
    .await;
}
