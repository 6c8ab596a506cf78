//! The client side of a session: its stream, read buffer and write buffer.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use super::stream::ClientStream;
use crate::protocol::framing::{write_packet, FrameError, Packet, PacketReader};
use crate::protocol::packets::err_payload;

/// How long a refused client's remaining input is drained before closing.
const DRAIN_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

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

    /// Tells the client its statement died with the backend connection, with
    /// the code its driver expects for a lost server.
    pub async fn send_lost(&mut self, seq: u8) {
        self.send_err(
            seq,
            crate::protocol::errcode::CR_SERVER_LOST,
            "Lost connection to server during query",
        )
        .await;
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

    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush().await
    }
}
