//! One client session: a task that reads client commands in order and relays each
//! to the session's own backend connection, streaming the response back.
//!
//! Invariants:
//! - commands are handled strictly one at a time; pipelined commands wait in the
//!   read buffer, so responses can never interleave;
//! - a response is relayed as the backend's bytes, unmodified, as they arrive;
//! - when the backend connection dies, the client gets an ERR packet at the right
//!   sequence position and the session ends (its server-side state is gone, so
//!   carrying on silently would be a lie).

use std::sync::Arc;

use bytes::Buf;
use mysql_common::constants::CapabilityFlags;
use tokio::io::AsyncWriteExt;

use super::client::ClientConn;
use super::login::{authenticate, Identity};
use super::Shared;
use crate::backend::conn::BackendConn;
use crate::backend::BackendError;
use crate::protocol::auth::{new_nonce, NATIVE_PASSWORD};
use crate::protocol::command::*;
use crate::protocol::errcode::*;
use crate::protocol::framing::FrameError;
use crate::protocol::packets::{auth_switch_payload, ChangeUserRequest};
use crate::protocol::response::{ResponseTracker, Step};
use crate::protocol::MAX_FRAME;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    #[error("client quit")]
    Quit,
    #[error("client connection: {0}")]
    Client(FrameError),
    #[error("backend connection: {0}")]
    Backend(BackendError),
}

pub struct Session {
    shared: Arc<Shared>,
    client: ClientConn,
    backend: BackendConn,
    identity: Identity,
    deprecate_eof: bool,
}

impl Session {
    pub fn new(
        shared: Arc<Shared>,
        client: ClientConn,
        backend: BackendConn,
        identity: Identity,
    ) -> Self {
        let deprecate_eof = identity
            .capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        Self {
            shared,
            client,
            backend,
            identity,
            deprecate_eof,
        }
    }

    pub fn user(&self) -> &str {
        &self.identity.user
    }

    pub async fn run(mut self) -> SessionEnd {
        loop {
            self.client.reader.shrink_if_idle();
            self.backend.reader.shrink_if_idle();
            let max = self.shared.settings.max_packet_size;
            let packet = match self
                .client
                .reader
                .read_packet(&mut self.client.stream, Some(0), max)
                .await
            {
                Ok(p) => p,
                Err(FrameError::TooLarge { .. }) => {
                    self.client
                        .send_err(
                            1,
                            ER_NET_PACKET_TOO_LARGE,
                            "Got a packet bigger than 'max_allowed_packet' bytes",
                        )
                        .await;
                    return SessionEnd::Client(FrameError::TooLarge {
                        size: 0,
                        limit: max,
                    });
                }
                Err(FrameError::OutOfOrder { expected, got }) => {
                    self.client
                        .send_err(
                            got.wrapping_add(1),
                            ER_NET_PACKETS_OUT_OF_ORDER,
                            "Got packets out of order",
                        )
                        .await;
                    return SessionEnd::Client(FrameError::OutOfOrder { expected, got });
                }
                Err(e) => return SessionEnd::Client(e),
            };
            let Some(&command) = packet.payload.first() else {
                self.client
                    .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                    .await;
                continue;
            };
            let result = match command {
                COM_QUIT => {
                    // Tell the server too, so it does not log an aborted connection.
                    let _ = self.backend.send(0, &[COM_QUIT]).await;
                    return SessionEnd::Quit;
                }
                COM_CHANGE_USER => self.change_user(&packet.payload).await,
                COM_STMT_SEND_LONG_DATA | COM_STMT_CLOSE => {
                    self.forward(packet.seq, &packet.payload).await
                }
                COM_QUERY | COM_PROCESS_KILL if self.names_tern_session(&packet.payload) => {
                    let translated = self.translate_kill(&packet.payload);
                    match self.forward(packet.seq, &translated).await {
                        Ok(()) => self.relay_response(command).await,
                        Err(e) => Err(e),
                    }
                }
                COM_BINLOG_DUMP
                | COM_BINLOG_DUMP_GTID
                | COM_REGISTER_SLAVE
                | COM_STMT_BULK_EXECUTE
                | COM_SLEEP => {
                    self.client
                        .send_err(1, ER_UNKNOWN_COM_ERROR, "Unknown command")
                        .await;
                    Ok(())
                }
                _ => match self.forward(packet.seq, &packet.payload).await {
                    Ok(()) => self.relay_response(command).await,
                    Err(e) => Err(e),
                },
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// A cheap first look: is this a KILL that may name a Tern session id?
    fn names_tern_session(&self, payload: &[u8]) -> bool {
        match payload.first() {
            Some(&COM_PROCESS_KILL) => true,
            Some(&COM_QUERY) => payload
                .iter()
                .skip(1)
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| b.eq_ignore_ascii_case(&b'k')),
            _ => false,
        }
    }

    /// Rewrites a KILL of a Tern session id to the session's backend thread id.
    fn translate_kill(&self, payload: &[u8]) -> Vec<u8> {
        let registry = &self.shared.sessions;
        if payload[0] == COM_PROCESS_KILL {
            if let Some(id) = payload
                .get(1..5)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            {
                if let Some(backend) = registry.backend_of(id) {
                    let mut out = vec![COM_PROCESS_KILL];
                    out.extend_from_slice(&backend.to_le_bytes());
                    return out;
                }
            }
            return payload.to_vec();
        }
        match super::kill::translate_kill(&payload[1..], registry) {
            Some(sql) => [&[COM_QUERY][..], &sql].concat(),
            None => payload.to_vec(),
        }
    }

    /// Sends a client packet on to the backend; the client is told if that fails.
    async fn forward(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        if let Err(e) = self.backend.send(seq, payload).await {
            self.client
                .send_err(
                    seq.wrapping_add(1),
                    CR_SERVER_LOST,
                    "Lost connection to server during query",
                )
                .await;
            return Err(SessionEnd::Backend(e));
        }
        Ok(())
    }

    /// Streams the backend's response to the current command to the client.
    async fn relay_response(&mut self, command: u8) -> Result<(), SessionEnd> {
        let mut tracker = ResponseTracker::new(command, self.deprecate_eof);
        let mut sent_any = false;
        loop {
            let (n, step) = tracker.scan(self.backend.reader.buffered());
            if n > 0 {
                let buf = self.backend.reader.buffer_mut();
                if let Err(e) = self.client.write_raw(&buf[..n]).await {
                    return Err(SessionEnd::Client(e.into()));
                }
                buf.advance(n);
                sent_any = true;
            }
            match step {
                Step::Done => {
                    return self
                        .client
                        .flush()
                        .await
                        .map_err(|e| SessionEnd::Client(e.into()));
                }
                Step::LocalInfile => {
                    self.relay_local_infile().await?;
                    tracker.resume_after_infile();
                    continue;
                }
                Step::NeedMore => {}
            }
            if sent_any {
                self.client
                    .flush()
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
            }
            if let Err(e) = self.backend.reader.fill(&mut self.backend.stream).await {
                let seq = if sent_any || tracker.last_seq != 0 {
                    tracker.last_seq.wrapping_add(1)
                } else {
                    1
                };
                self.client
                    .send_err(
                        seq,
                        CR_SERVER_LOST,
                        "Lost connection to server during query",
                    )
                    .await;
                return Err(SessionEnd::Backend(BackendError::Lost(e)));
            }
        }
    }

    /// Relays the client's LOCAL INFILE data to the backend: packets up to and
    /// including the empty one that ends the file. Data is relayed frame by frame
    /// as it arrives, never reassembled: the file's size is the server's business.
    async fn relay_local_infile(&mut self) -> Result<(), SessionEnd> {
        self.client
            .flush()
            .await
            .map_err(|e| SessionEnd::Client(e.into()))?;
        let mut continues_previous = false;
        loop {
            let reader = &mut self.client.reader;
            while reader.buffered().len() < 4 {
                reader
                    .fill(&mut self.client.stream)
                    .await
                    .map_err(SessionEnd::Client)?;
            }
            let len = crate::protocol::framing::frame_len(reader.buffered());
            let mut remaining = 4 + len;
            while remaining > 0 {
                if reader.buffered().is_empty() {
                    reader
                        .fill(&mut self.client.stream)
                        .await
                        .map_err(SessionEnd::Client)?;
                }
                let n = remaining.min(reader.buffered().len());
                let buf = reader.buffer_mut();
                self.backend
                    .stream
                    .write_all(&buf[..n])
                    .await
                    .map_err(|e| SessionEnd::Backend(BackendError::Lost(e.into())))?;
                buf.advance(n);
                remaining -= n;
            }
            // An empty frame ends the file, unless it closes a 16 MiB - 1 frame.
            if len == 0 && !continues_previous {
                return Ok(());
            }
            continues_previous = len == MAX_FRAME;
        }
    }

    /// COM_CHANGE_USER: authenticate the new user for real, then log the backend
    /// connection in as that user (which resets its session, as on the server).
    async fn change_user(&mut self, payload: &[u8]) -> Result<(), SessionEnd> {
        let caps = self.identity.capabilities;
        let Some(request) = ChangeUserRequest::parse(
            payload,
            caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION),
            caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH),
            caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS),
        ) else {
            self.client
                .send_err(1, ER_HANDSHAKE_ERROR, "Bad handshake")
                .await;
            return Err(SessionEnd::Client(FrameError::Closed));
        };
        let user = String::from_utf8_lossy(&request.user).into_owned();
        let plugin = request
            .plugin
            .clone()
            .unwrap_or_else(|| NATIVE_PASSWORD.as_bytes().to_vec());
        let collation = request.collation.unwrap_or(self.identity.collation as u16);

        let mut seq = 1u8;
        let mut nonce = self.identity.nonce;
        let mut scramble = request.auth_data.clone();
        if plugin != NATIVE_PASSWORD.as_bytes() {
            nonce = new_nonce();
            seq = self
                .client
                .send(seq, &auth_switch_payload(NATIVE_PASSWORD, &nonce))
                .await
                .map_err(|e| SessionEnd::Client(e.into()))?;
            let answer = self
                .client
                .reader
                .read_packet(&mut self.client.stream, Some(seq), 64 * 1024)
                .await
                .map_err(SessionEnd::Client)?;
            seq = answer.next_seq();
            scramble = answer.payload.to_vec();
        }
        let stage1 = match authenticate(&self.shared, &self.client, &user, &nonce, &scramble).await
        {
            Ok(s) => s,
            Err(message) => {
                // As on the server, a refused change of user leaves the session
                // as it was; the backend has not been touched.
                self.client
                    .send_err(seq, ER_ACCESS_DENIED_ERROR, &message)
                    .await;
                return Ok(());
            }
        };
        let previous = (
            std::mem::replace(&mut self.identity.user, user),
            std::mem::replace(&mut self.identity.stage1, stage1),
        );
        self.identity.database = request.database;
        self.identity.collation = collation as u8;
        if let Some(attrs) = request.attributes {
            self.identity.attributes = Some(attrs.into_iter().collect());
        }
        match self
            .backend
            .change_user(&self.identity.backend_login())
            .await
        {
            Ok(ok) => {
                self.client
                    .send(seq, &ok)
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
                Ok(())
            }
            Err(BackendError::Refused(err)) => {
                // The server keeps its old user on a refused change; so do we.
                self.identity.user = previous.0;
                self.identity.stage1 = previous.1;
                self.client
                    .send(seq, &err)
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))?;
                Ok(())
            }
            Err(e) => {
                self.client
                    .send_err(
                        seq,
                        CR_SERVER_LOST,
                        "Lost connection to server during query",
                    )
                    .await;
                Err(SessionEnd::Backend(e))
            }
        }
    }
}
