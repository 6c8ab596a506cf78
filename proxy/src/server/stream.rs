//! The client's byte stream: plain TCP, or TLS after an SSLRequest; either
//! wrapped in the compressed protocol after the login when the client asked
//! for it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::protocol::compress::CompressedStream;

pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// `CLIENT_COMPRESS` after the login, over a plain or TLS stream.
    Compressed(Box<CompressedStream<ClientStream>>),
    /// Transitional state while the TLS handshake owns the socket.
    Upgrading,
}

impl ClientStream {
    pub fn is_tls(&self) -> bool {
        match self {
            ClientStream::Tls(_) => true,
            ClientStream::Compressed(c) => c.get_ref().is_tls(),
            _ => false,
        }
    }

    /// The socket under any TLS or compression.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(tcp) => Some(tcp),
            ClientStream::Tls(tls) => Some(tls.get_ref().0),
            ClientStream::Compressed(c) => c.get_ref().tcp(),
            ClientStream::Upgrading => None,
        }
    }

    /// Speaks the compressed protocol from now on.
    pub fn start_compression(&mut self) {
        let inner = std::mem::replace(self, ClientStream::Upgrading);
        *self = ClientStream::Compressed(Box::new(CompressedStream::new(inner)));
    }

    /// Negotiated cipher suite, for logs.
    pub fn cipher(&self) -> Option<String> {
        match self {
            ClientStream::Tls(t) => t
                .get_ref()
                .1
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite())),
            ClientStream::Compressed(c) => c.get_ref().cipher(),
            _ => None,
        }
    }
}

fn upgrading() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TLS upgrade in progress")
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ClientStream::Compressed(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ClientStream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ClientStream::Compressed(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ClientStream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            ClientStream::Compressed(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            ClientStream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            ClientStream::Tls(s) => s.is_write_vectored(),
            ClientStream::Compressed(_) => false,
            ClientStream::Upgrading => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ClientStream::Compressed(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ClientStream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ClientStream::Compressed(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ClientStream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}
