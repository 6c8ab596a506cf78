//! The client side of a session: its stream, read buffer and write buffer.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use super::stream::ClientStream;
use crate::protocol::framing::{write_packet, PacketReader};
use crate::protocol::packets::err_payload;

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

    /// Sends an ERR packet with the server's SQLSTATE for `code`. Failures are
    /// ignored: the error is usually the last thing said before closing.
    pub async fn send_err(&mut self, seq: u8, code: u16, message: &str) {
        let _ = self.send(seq, &err_payload(code, message)).await;
    }

    /// Writes raw, already framed bytes (relayed from a backend).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush().await
    }
}
