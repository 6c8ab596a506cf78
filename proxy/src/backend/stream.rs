//! The byte stream to a backend: TCP, or the server's unix socket when the
//! server runs on this machine.
//!
//! Loopback TCP costs the kernel roughly twice what a unix socket does per
//! packet, and a proxy pays it twice per statement (client side and backend
//! side), so a co-located server is reached through its socket. The socket is
//! learned from the server itself (`@@socket`, read with the admin account at
//! start-up) and is only a faster road to the same server: any failure to use
//! it falls back to the TCP address.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

pub enum BackendStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl BackendStream {
    pub async fn tcp(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // Replies are small and latency-bound; never wait for Nagle.
        let _ = stream.set_nodelay(true);
        Ok(BackendStream::Tcp(stream))
    }

    pub async fn unix(path: &Path) -> io::Result<Self> {
        Ok(BackendStream::Unix(UnixStream::connect(path).await?))
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, BackendStream::Unix(_))
    }
}

/// Is `addr` (HOST:PORT) on this machine, so that its unix socket is reachable?
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl AsyncRead for BackendStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            BackendStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for BackendStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            BackendStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            BackendStream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            BackendStream::Tcp(s) => s.is_write_vectored(),
            BackendStream::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            BackendStream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            BackendStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_addresses() {
        assert!(is_loopback("127.0.0.1:3306"));
        assert!(is_loopback("localhost:3306"));
        assert!(is_loopback("[::1]:3306"));
        assert!(is_loopback("127.0.0.2:3306"));
        assert!(!is_loopback("10.0.0.5:3306"));
        assert!(!is_loopback("db.example.com:3306"));
    }
}
