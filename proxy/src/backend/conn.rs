//! One connection to a backend server, logged in as the client's own user.
//!
//! The login answers the server's nonce with the client's recovered
//! `SHA1(password)` (see `protocol::auth`), so the server's own privilege checks
//! apply to everything the session does. Capabilities are the client's, so the
//! server formats every response exactly as the client asked for it.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use mysql_common::packets::{AuthPlugin, HandshakeResponse};
use mysql_common::proto::MySerialize;
use tokio::io::AsyncWriteExt;

use super::stream::{self, BackendStream};
use super::{BackendError, BackendTarget, ServerInfo};
use crate::protocol::auth::{native_response, NativeStage1, NATIVE_PASSWORD};
use crate::protocol::command::COM_CHANGE_USER;
use crate::protocol::errcode::ER_ACCESS_DENIED_ERROR;
use crate::protocol::framing::{write_packet, PacketReader};
use crate::protocol::packets::{command, take_nul_str};

/// Who to log in as, and how the session wants its responses formatted.
pub struct Login<'a> {
    pub user: &'a [u8],
    /// `SHA1(password)`, or `None` for an account without a password.
    pub stage1: Option<&'a NativeStage1>,
    pub database: Option<&'a [u8]>,
    pub collation: u8,
    pub capabilities: CapabilityFlags,
    pub mariadb_capabilities: MariadbCapabilities,
    pub attributes: Option<HashMap<String, String>>,
    pub max_packet_size: u32,
    /// The local address a TCP connection to a server on loopback leaves from,
    /// so that the server matches the account it would match for the client
    /// (see `server::login`).
    pub source: Option<std::net::IpAddr>,
}

pub struct BackendConn {
    pub stream: BackendStream,
    pub reader: PacketReader,
    /// Scratch buffer for packets Tern writes to this backend.
    pub out: BytesMut,
    /// The server's nonce; COM_CHANGE_USER answers it again.
    nonce: Vec<u8>,
    pub server_connection_id: u32,
}

/// ERROR 1045, access denied: the server matched no account for this login.
fn refused_access(err: &[u8]) -> bool {
    err.len() >= 3
        && err[0] == 0xFF
        && u16::from_le_bytes([err[1], err[2]]) == ER_ACCESS_DENIED_ERROR
}

impl BackendConn {
    /// Connects and logs in; returns the connection and the server's final OK
    /// payload (it carries the initial session-state information).
    pub async fn connect(
        target: &BackendTarget,
        login: &Login<'_>,
    ) -> Result<(Self, Bytes), BackendError> {
        tokio::time::timeout(target.connect_timeout(), async {
            if let Some(path) = target.socket() {
                match stream::unix(&path).await {
                    Ok(stream) => match Self::login(stream, login).await {
                        // Accounts are matched by host: over the socket the server
                        // sees `localhost`, over TCP this machine's address, and an
                        // account may exist for only one of them.
                        Err(BackendError::Refused(err)) if refused_access(&err) => {
                            tracing::debug!(backend = %target.addr, "login refused over the unix socket; trying TCP");
                        }
                        other => return other,
                    },
                    Err(_) => target.forget_socket(),
                }
            }
            let stream = stream::tcp(&target.addr, login.source)
                    .await
                    .map_err(|source| BackendError::Connect {
                        addr: target.addr.clone(),
                        source,
                    })?;
            Self::login(stream, login).await
        })
        .await
        .map_err(|_| BackendError::Timeout(target.addr.clone()))?
    }

    async fn login(
        stream: BackendStream,
        login: &Login<'_>,
    ) -> Result<(Self, Bytes), BackendError> {
        let mut conn = BackendConn {
            stream,
            reader: PacketReader::new(),
            out: BytesMut::with_capacity(1024),
            nonce: Vec::new(),
            server_connection_id: 0,
        };
        let greeting = conn
            .reader
            .read_packet(&mut conn.stream, Some(0), 64 * 1024)
            .await?;
        let (_, nonce, connection_id) = ServerInfo::from_greeting(&greeting.payload)?;
        conn.nonce = nonce;
        conn.server_connection_id = connection_id;

        let scramble = login
            .stage1
            .map(|s1| native_response(&conn.nonce, s1).to_vec());
        let response = HandshakeResponse::new(
            Some(scramble.unwrap_or_default()),
            (10, 0, 0),
            Some(login.user),
            login.database,
            Some(AuthPlugin::MysqlNativePassword),
            login.capabilities,
            login.attributes.clone(),
            login.max_packet_size,
        )
        .with_mariadb_ext_capabilities(login.mariadb_capabilities);
        let mut payload = Vec::with_capacity(128);
        response.serialize(&mut payload);
        // HandshakeResponse always writes utf8mb4_general_ci; the session's own
        // collation (byte 8) must reach the server so its charset variables match.
        payload[8] = login.collation;
        let seq = greeting.next_seq();
        conn.send(seq, &payload).await?;
        let ok = conn.finish_auth(seq.wrapping_add(1), login.stage1).await?;
        Ok((conn, ok))
    }

    /// A connection that is already past its login, for tests that play the
    /// server's side themselves.
    #[cfg(test)]
    pub fn logged_in(stream: BackendStream) -> Self {
        BackendConn {
            stream,
            reader: PacketReader::new(),
            out: BytesMut::new(),
            nonce: Vec::new(),
            server_connection_id: 0,
        }
    }

    /// Re-authenticates this connection as another user (COM_CHANGE_USER), which
    /// also resets the server-side session.
    pub async fn change_user(&mut self, login: &Login<'_>) -> Result<Bytes, BackendError> {
        let scramble = login
            .stage1
            .map(|s1| native_response(&self.nonce, s1).to_vec())
            .unwrap_or_default();
        let mut payload = command(COM_CHANGE_USER, login.user);
        payload.push(0);
        payload.push(scramble.len() as u8);
        payload.extend_from_slice(&scramble);
        payload.extend_from_slice(login.database.unwrap_or_default());
        payload.push(0);
        payload.extend_from_slice(&(login.collation as u16).to_le_bytes());
        payload.extend_from_slice(NATIVE_PASSWORD.as_bytes());
        payload.push(0);
        if login
            .capabilities
            .contains(CapabilityFlags::CLIENT_CONNECT_ATTRS)
        {
            let mut attrs = BytesMut::new();
            for (k, v) in login.attributes.iter().flatten() {
                crate::protocol::packets::put_lenenc(&mut attrs, k.len() as u64);
                attrs.extend_from_slice(k.as_bytes());
                crate::protocol::packets::put_lenenc(&mut attrs, v.len() as u64);
                attrs.extend_from_slice(v.as_bytes());
            }
            let mut len = BytesMut::new();
            crate::protocol::packets::put_lenenc(&mut len, attrs.len() as u64);
            payload.extend_from_slice(&len);
            payload.extend_from_slice(&attrs);
        }
        self.send(0, &payload).await?;
        self.finish_auth(1, login.stage1).await
    }

    /// Follows the server through an optional auth switch to its OK or ERR.
    async fn finish_auth(
        &mut self,
        mut seq: u8,
        stage1: Option<&NativeStage1>,
    ) -> Result<Bytes, BackendError> {
        loop {
            let reply = self
                .reader
                .read_packet(&mut self.stream, Some(seq), 64 * 1024)
                .await?;
            match reply.payload.first() {
                Some(0x00) => return Ok(reply.payload),
                Some(0xFF) => return Err(BackendError::Refused(reply.payload)),
                Some(0xFE) => {
                    let (plugin, data) = take_nul_str(&reply.payload[1..])
                        .ok_or_else(|| BackendError::Protocol("bad auth switch request".into()))?;
                    if plugin != NATIVE_PASSWORD.as_bytes() {
                        return Err(BackendError::Protocol(format!(
                            "server asked for auth plugin {}; Tern logs in with mysql_native_password only",
                            String::from_utf8_lossy(plugin)
                        )));
                    }
                    let nonce = data.strip_suffix(&[0]).unwrap_or(data);
                    self.nonce = nonce.to_vec();
                    let answer = stage1
                        .map(|s1| native_response(nonce, s1).to_vec())
                        .unwrap_or_default();
                    seq = reply.next_seq();
                    self.send(seq, &answer).await?;
                    seq = seq.wrapping_add(1);
                }
                _ => {
                    return Err(BackendError::Protocol(
                        "unexpected packet during backend login".into(),
                    ))
                }
            }
        }
    }

    /// Writes one packet (split into frames as needed) and flushes it.
    pub async fn send(&mut self, seq: u8, payload: &[u8]) -> Result<(), BackendError> {
        self.out.clear();
        write_packet(&mut self.out, seq, payload);
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| BackendError::Lost(e.into()))?;
        if self.out.capacity() > 256 * 1024 {
            self.out = BytesMut::with_capacity(1024);
        }
        Ok(())
    }
}

/// The answer to a statement Tern runs itself on a session's backend connection
/// (state replay, GTID waits): small by construction, so it is read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalReply {
    Ok,
    Err {
        code: u16,
        message: String,
    },
    /// Text-protocol rows; `None` is SQL NULL.
    Rows(Vec<Vec<Option<Vec<u8>>>>),
}

/// Bound on an internal reply's packets, so a misbehaving server cannot make Tern
/// buffer without limit.
const INTERNAL_PACKET_LIMIT: usize = 1024 * 1024;

impl BackendConn {
    /// Runs one command (payload starting with the command byte) and reads its
    /// whole reply. `deprecate_eof` is the connection's CLIENT_DEPRECATE_EOF.
    pub async fn internal(
        &mut self,
        payload: &[u8],
        deprecate_eof: bool,
    ) -> Result<InternalReply, BackendError> {
        self.send(0, payload).await?;
        self.internal_reply(deprecate_eof).await
    }

    /// Sends two packets in one write: Tern's own command first, then a
    /// client's. Their replies come back in that order.
    pub async fn send_pair(
        &mut self,
        first: &[u8],
        second_seq: u8,
        second: &[u8],
    ) -> Result<(), BackendError> {
        self.out.clear();
        write_packet(&mut self.out, 0, first);
        write_packet(&mut self.out, second_seq, second);
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| BackendError::Lost(e.into()))
    }

    /// Reads and throws away the response to `command` (a read whose answer is
    /// not wanted after all).
    pub async fn discard_response(
        &mut self,
        command: u8,
        deprecate_eof: bool,
    ) -> Result<(), BackendError> {
        use crate::protocol::response::{ResponseTracker, Step};
        let mut tracker = ResponseTracker::new(command, deprecate_eof);
        loop {
            let (n, step) = tracker.scan(self.reader.buffered());
            bytes::Buf::advance(self.reader.buffer_mut(), n);
            match step {
                Step::Done => return Ok(()),
                Step::Ok { .. } if tracker.is_done() => return Ok(()),
                Step::Ok { .. } => continue,
                Step::LocalInfile => {
                    return Err(BackendError::Protocol(
                        "LOCAL INFILE request on a discarded read".into(),
                    ))
                }
                Step::NeedMore => {
                    self.reader.fill(&mut self.stream).await?;
                }
            }
        }
    }

    /// Runs a statement that answers with one OK or ERR packet (DDL) and
    /// returns that packet, so the session can relay the server's own answer.
    pub async fn statement_reply(&mut self, payload: &[u8]) -> Result<Bytes, BackendError> {
        self.send(0, payload).await?;
        let first = self.read_internal().await?;
        match first.first() {
            Some(0x00) | Some(0xFF) => Ok(first),
            _ => Err(BackendError::Protocol(
                "a result set where only OK or ERR was expected".into(),
            )),
        }
    }

    /// Reads the whole reply to a command Tern sent itself.
    pub async fn internal_reply(
        &mut self,
        deprecate_eof: bool,
    ) -> Result<InternalReply, BackendError> {
        let first = self.read_internal().await?;
        match first.first() {
            Some(0x00) => return Ok(InternalReply::Ok),
            Some(0xFF) => {
                let e = crate::protocol::packets::parse_err(&first);
                return Ok(InternalReply::Err {
                    code: e.as_ref().map_or(0, |e| e.code),
                    message: e
                        .map(|e| String::from_utf8_lossy(e.message).into_owned())
                        .unwrap_or_default(),
                });
            }
            // COM_SET_OPTION and a few others answer with a bare EOF.
            Some(0xFE) if first.len() < 9 => return Ok(InternalReply::Ok),
            _ => {}
        }
        let columns = crate::protocol::packets::read_lenenc(&first)
            .map(|(n, _)| n)
            .ok_or_else(|| BackendError::Protocol("bad column count".into()))?;
        for _ in 0..columns {
            self.read_internal().await?;
        }
        if !deprecate_eof {
            self.read_internal().await?;
        }
        let mut rows = Vec::new();
        loop {
            let p = self.read_internal().await?;
            let is_end =
                p.first() == Some(&0xFE) && p.len() < if deprecate_eof { MAX_FRAME_LEN } else { 9 };
            if is_end {
                return Ok(InternalReply::Rows(rows));
            }
            if p.first() == Some(&0xFF) {
                let e = crate::protocol::packets::parse_err(&p);
                return Ok(InternalReply::Err {
                    code: e.as_ref().map_or(0, |e| e.code),
                    message: e
                        .map(|e| String::from_utf8_lossy(e.message).into_owned())
                        .unwrap_or_default(),
                });
            }
            let mut row = Vec::with_capacity(columns as usize);
            let mut rest = &p[..];
            for _ in 0..columns {
                if rest.first() == Some(&0xFB) {
                    row.push(None);
                    rest = &rest[1..];
                    continue;
                }
                let (len, n) = crate::protocol::packets::read_lenenc(rest)
                    .ok_or_else(|| BackendError::Protocol("bad row".into()))?;
                let value = rest
                    .get(n..n + len as usize)
                    .ok_or_else(|| BackendError::Protocol("short row".into()))?;
                row.push(Some(value.to_vec()));
                rest = &rest[n + len as usize..];
            }
            rows.push(row);
        }
    }

    /// Prepares a statement for Tern's own use of this connection; returns its
    /// id, or None when the server refused it.
    pub async fn internal_prepare(
        &mut self,
        payload: &[u8],
        deprecate_eof: bool,
    ) -> Result<Option<u32>, BackendError> {
        self.send(0, payload).await?;
        let first = self.read_internal().await?;
        if first.first() != Some(&0x00) || first.len() < 9 {
            return Ok(None);
        }
        let id = u32::from_le_bytes([first[1], first[2], first[3], first[4]]);
        let columns = u16::from_le_bytes([first[5], first[6]]) as usize;
        let params = u16::from_le_bytes([first[7], first[8]]) as usize;
        for n in [params, columns] {
            let eof = usize::from(n > 0 && !deprecate_eof);
            for _ in 0..n + eof {
                self.read_internal().await?;
            }
        }
        Ok(Some(id))
    }

    async fn read_internal(&mut self) -> Result<Bytes, BackendError> {
        loop {
            let p = self
                .reader
                .read_packet(&mut self.stream, None, INTERNAL_PACKET_LIMIT)
                .await?;
            // MariaDB progress reports are informational.
            if crate::protocol::packets::is_progress_report(&p.payload) {
                continue;
            }
            return Ok(p.payload);
        }
    }
}

const MAX_FRAME_LEN: usize = crate::protocol::MAX_FRAME;
