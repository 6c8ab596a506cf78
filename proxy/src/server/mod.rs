//! The client side: listener, login and one session task per client connection.

pub mod client;
pub mod kill;
pub mod login;
pub mod session;
pub mod stream;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::backend::users::UserDirectory;
use crate::backend::BackendTarget;
use crate::config::Settings;
use crate::protocol::errcode::ER_CON_COUNT_ERROR;
use client::ClientConn;
use stream::ClientStream;

/// State every session shares.
pub struct Shared {
    pub settings: Settings,
    pub primary: BackendTarget,
    pub users: UserDirectory,
    pub tls: Option<TlsAcceptor>,
    pub sessions: kill::SessionRegistry,
    active_sessions: AtomicUsize,
    next_connection_id: AtomicU32,
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
        Ok(Arc::new(Self {
            primary: BackendTarget::new(settings.primary.clone(), settings.backend_connect_timeout),
            users,
            tls,
            settings,
            sessions: kill::SessionRegistry::default(),
            active_sessions: AtomicUsize::new(0),
            next_connection_id: AtomicU32::new(kill::FIRST_SESSION_ID),
        }))
    }

    pub fn active_sessions(&self) -> usize {
        self.active_sessions.load(Ordering::Relaxed)
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
    let connection_id = shared
        .next_connection_id
        .fetch_add(1, Ordering::Relaxed)
        .max(kill::FIRST_SESSION_ID);
    let span = tracing::info_span!("session", id = connection_id, %peer);
    let before = shared.active_sessions.fetch_add(1, Ordering::Relaxed);
    let _slot = SessionSlot(shared.clone());
    let mut client = ClientConn::new(ClientStream::Plain(tcp), peer);
    if before >= shared.settings.max_connections {
        // The server answers an over-limit connection with this ERR in place of
        // its greeting.
        client
            .refuse_before_greeting(ER_CON_COUNT_ERROR, "Too many connections")
            .await;
        tracing::warn!(parent: &span, limit = shared.settings.max_connections, "connection refused: too many connections");
        return;
    }
    async move {
        let login = tokio::time::timeout(
            shared.settings.handshake_timeout,
            login::login(&shared, &mut client, connection_id),
        )
        .await;
        let (identity, backend) = match login {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "login failed");
                return;
            }
            Err(_) => {
                tracing::info!("login timed out");
                return;
            }
        };
        tracing::debug!(user = %identity.user, tls = client.stream.is_tls(), cipher = ?client.stream.cipher(), backend_id = backend.server_connection_id, "session started");
        shared.sessions.register(connection_id, backend.server_connection_id);
        let session = session::Session::new(shared.clone(), client, backend, identity);
        let end = session.run().await;
        shared.sessions.unregister(connection_id);
        tracing::debug!(reason = %end, "session ended");
    }
    .instrument(span.clone())
    .await;
}
