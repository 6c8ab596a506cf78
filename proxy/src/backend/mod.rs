//! Backends: what Tern knows about the servers behind it, and connections to them.

pub mod catalog;
pub mod conn;
pub mod monitor;
pub mod schema_changes;
pub mod stream;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use mysql_common::io::ParseBuf;
use mysql_common::packets::HandshakePacket;
use mysql_common::proto::MyDeserialize;
use tokio::net::TcpStream;
use tokio::sync::RwLock;

use crate::protocol::framing::PacketReader;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("timed out connecting to {0}")]
    Timeout(String),
    #[error("connection to backend lost: {0}")]
    Lost(#[from] crate::protocol::framing::FrameError),
    #[error("backend protocol error: {0}")]
    Protocol(String),
    /// The server refused the login; the payload is its ERR packet, relayed as is.
    #[error("backend refused login")]
    Refused(bytes::Bytes),
}

/// The primary's greeting, as learned from one connection: what Tern offers
/// clients is derived from it so that packets can pass through unchanged.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub server_version: Vec<u8>,
    pub capabilities: CapabilityFlags,
    pub mariadb_capabilities: MariadbCapabilities,
    pub default_collation: u8,
}

impl ServerInfo {
    /// Reads a server greeting from `reader`.
    pub fn from_greeting(payload: &[u8]) -> Result<(Self, Vec<u8>, u32), BackendError> {
        if payload.first() == Some(&0xFF) {
            return Err(BackendError::Refused(bytes::Bytes::copy_from_slice(
                payload,
            )));
        }
        let hs = HandshakePacket::deserialize((), &mut ParseBuf(payload))
            .map_err(|e| BackendError::Protocol(format!("bad server greeting: {e}")))?;
        let info = ServerInfo {
            server_version: hs.server_version_ref().to_vec(),
            capabilities: hs.capabilities(),
            mariadb_capabilities: hs.mariadb_ext_capabilities(),
            default_collation: hs.default_collation(),
        };
        Ok((info, hs.nonce(), hs.connection_id()))
    }

    /// Capabilities Tern offers clients: the server's, minus what the relay does
    /// not follow. Compression would hide packet boundaries; query attributes
    /// change COM_QUERY's layout; SSL is Tern's own business towards the client.
    pub fn client_capabilities(&self, tls: bool) -> CapabilityFlags {
        let mut caps = self.capabilities
            - (CapabilityFlags::CLIENT_COMPRESS
                | CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM
                | CapabilityFlags::CLIENT_QUERY_ATTRIBUTES
                | CapabilityFlags::CLIENT_SSL
                | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT
                | CapabilityFlags::CLIENT_OPTIONAL_RESULTSET_METADATA);
        caps |= CapabilityFlags::CLIENT_PLUGIN_AUTH | CapabilityFlags::CLIENT_SECURE_CONNECTION;
        if tls {
            caps |= CapabilityFlags::CLIENT_SSL;
        }
        caps
    }

    /// MariaDB extensions offered to clients. Metadata caching omits column
    /// definitions that a statement executed elsewhere would need, and bulk
    /// execution has a response format of its own; drivers fall back cleanly
    /// without them.
    pub fn client_mariadb_capabilities(&self) -> MariadbCapabilities {
        self.mariadb_capabilities
            & (MariadbCapabilities::MARIADB_CLIENT_PROGRESS
                | MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA)
    }
}

/// A backend server address and what Tern has learned about it.
pub struct BackendTarget {
    pub addr: String,
    info: RwLock<Option<Arc<ServerInfo>>>,
    connect_timeout: Duration,
    /// The server's unix socket, when it runs on this machine and said where
    /// its socket is (see `stream`).
    socket: std::sync::RwLock<Option<PathBuf>>,
}

impl BackendTarget {
    pub fn new(addr: String, connect_timeout: Duration) -> Self {
        Self {
            addr,
            info: RwLock::new(None),
            connect_timeout,
            socket: std::sync::RwLock::new(None),
        }
    }

    /// The unix socket sessions connect through, if one is known.
    pub fn socket(&self) -> Option<PathBuf> {
        self.socket.read().ok().and_then(|s| s.clone())
    }

    /// Stops using the socket (it failed); sessions use the TCP address.
    pub fn forget_socket(&self) {
        if let Ok(mut s) = self.socket.write() {
            if let Some(path) = s.take() {
                tracing::warn!(backend = %self.addr, socket = %path.display(), "unix socket unusable; using TCP");
            }
        }
    }

    /// Asks a server on this machine for its unix socket (with the admin
    /// account) and uses it if a server answers there with a greeting. Anything
    /// short of that leaves the TCP address in use.
    pub async fn discover_socket(&self, admin: mysql_async::Opts) {
        use mysql_async::prelude::Queryable;
        if !stream::is_loopback(&self.addr) {
            return;
        }
        let find = async {
            let mut conn = mysql_async::Conn::new(admin).await.ok()?;
            let path: Option<String> = conn.query_first("SELECT @@socket").await.ok()?;
            let _ = conn.disconnect().await;
            let path = PathBuf::from(path?);
            let mut stream = tokio::net::UnixStream::connect(&path).await.ok()?;
            let mut reader = PacketReader::new();
            let greeting = reader
                .read_packet(&mut stream, Some(0), 64 * 1024)
                .await
                .ok()?;
            ServerInfo::from_greeting(&greeting.payload).ok()?;
            Some(path)
        };
        match tokio::time::timeout(self.connect_timeout, find).await {
            Ok(Some(path)) => {
                tracing::info!(backend = %self.addr, socket = %path.display(), "connecting sessions through the server's unix socket");
                if let Ok(mut s) = self.socket.write() {
                    *s = Some(path);
                }
            }
            _ => tracing::debug!(backend = %self.addr, "no usable unix socket; using TCP"),
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The server's greeting facts, probing the server the first time.
    pub async fn info(&self) -> Result<Arc<ServerInfo>, BackendError> {
        if let Some(info) = self.info.read().await.as_ref() {
            return Ok(info.clone());
        }
        let probe = async {
            let mut stream =
                TcpStream::connect(&self.addr)
                    .await
                    .map_err(|source| BackendError::Connect {
                        addr: self.addr.clone(),
                        source,
                    })?;
            let mut reader = PacketReader::new();
            let greeting = reader.read_packet(&mut stream, Some(0), 64 * 1024).await?;
            ServerInfo::from_greeting(&greeting.payload)
        };
        let (info, _, _) = tokio::time::timeout(self.connect_timeout, probe)
            .await
            .map_err(|_| BackendError::Timeout(self.addr.clone()))??;
        let info = Arc::new(info);
        *self.info.write().await = Some(info.clone());
        Ok(info)
    }
}
