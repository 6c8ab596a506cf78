//! The client side of a session: its stream, read buffer and write buffer.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use super::stream::ClientStream;
use crate::backend::BackendError;
use crate::protocol::framing::{write_packet, FrameError, Packet, PacketReader};
use crate::protocol::packets::err_payload;

/// How long a refused client's remaining input is drained before closing.
const DRAIN_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// How a server ended a connection, as far as Tern can see it.
///
/// MariaDB ends a connection that sat idle past `wait_timeout` or
/// `idle_*transaction_timeout` with a reset (it sets a zero linger before
/// closing), and one that was killed or shut down with an orderly close.
/// Clients tell the two apart: writing the next statement to a reset
/// connection fails (`2006 Server has gone away` in libmariadb), while after an
/// orderly close the write succeeds and the read finds the end of the stream
/// (`2013 Lost connection to server during query`). Over a unix socket both
/// look like an orderly close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerClose {
    Orderly,
    Reset,
}

impl ServerClose {
    /// How the backend closed, judged from the error its connection gave.
    pub fn from_frame(error: &FrameError) -> Self {
        match error {
            FrameError::Io(e) => Self::from_io(e),
            _ => Self::Orderly,
        }
    }

    pub fn from_backend(error: &BackendError) -> Self {
        match error {
            BackendError::Lost(e) => Self::from_frame(e),
            _ => Self::Orderly,
        }
    }

    fn from_io(error: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        match error.kind() {
            // A write to a connection the peer reset fails with a broken pipe.
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                Self::Reset
            }
            _ => Self::Orderly,
        }
    }
}

pub struct ClientConn {
    pub stream: ClientStream,
    pub reader: PacketReader,
    out: BytesMut,
    pub peer: SocketAddr,
}

impl ClientConn {
    pub fn new(stream: ClientStream, peer: SocketAddr) -> Self {
        Self {
            stream,
            reader: PacketReader::new(),
            out: BytesMut::with_capacity(256),
            peer,
        }
    }

    /// Writes one packet and flushes; returns the next sequence id.
    pub async fn send(&mut self, seq: u8, payload: &[u8]) -> std::io::Result<u8> {
        self.out.clear();
        let next = write_packet(&mut self.out, seq, payload);
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await?;
        if self.out.capacity() > 64 * 1024 {
            self.out = BytesMut::with_capacity(256);
        }
        Ok(next)
    }

    /// Sends one packet of a login exchange and reads the client's answer.
    pub async fn ask(&mut self, seq: u8, payload: &[u8], max: usize) -> Result<Packet, FrameError> {
        let seq = self.send(seq, payload).await?;
        self.reader
            .read_packet(&mut self.stream, Some(seq), max)
            .await
    }

    /// Sends an ERR packet with the server's SQLSTATE for `code`. Failures are
    /// ignored: the error is usually the last thing said before closing.
    pub async fn send_err(&mut self, seq: u8, code: u16, message: &str) {
        let _ = self.send(seq, &err_payload(code, message)).await;
    }

    /// Ends the client's connection after the backend ended Tern's, the way the
    /// server ended it, and says nothing more: whatever the server sent before
    /// closing has been relayed already, and anything Tern added would be a
    /// packet the server never sent. (An ERR with a client-side code such as
    /// 2013 is not even valid from a server: libmariadb reports it as
    /// `2027 Received malformed packet`.) Clients then report the lost server
    /// themselves, with the error they give for a server that closed the same way.
    pub async fn close_like(&mut self, how: ServerClose) {
        let _ = self.stream.flush().await;
        match how {
            ServerClose::Reset => {
                // Dropping the socket with a zero linger sends a reset, as the
                // server's own close did; the session drops it as it ends.
                if let Some(tcp) = self.stream.tcp() {
                    let _ = tcp.set_zero_linger();
                }
            }
            ServerClose::Orderly => {
                let _ = self.stream.shutdown().await;
            }
        }
    }

    /// Refuses a connection before the greeting, as the server does.
    pub async fn refuse_before_greeting(&mut self, code: u16, message: &str) {
        let _ = self
            .send(
                0,
                &crate::protocol::packets::err_payload_before_greeting(code, message),
            )
            .await;
    }

    /// Writes raw, already framed bytes (relayed from a backend).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads and discards what the client is still sending, for a bounded time,
    /// before the connection is closed. Closing a socket with unread input makes
    /// the kernel send a reset, which can destroy the error packet just written
    /// before the client reads it.
    pub async fn drain_before_close(&mut self) {
        let _ = self.stream.flush().await;
        let _ = self.stream.shutdown().await;
        let mut sink = tokio::io::sink();
        let _ =
            tokio::time::timeout(DRAIN_BOUND, tokio::io::copy(&mut self.stream, &mut sink)).await;
    }

    /// Writes a whole answer Tern built and flushes it.
    pub async fn send_built(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush().await
    }
}
