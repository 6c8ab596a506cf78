//! Streaming one backend response to the client.
//!
//! Bytes go out as they arrive, unmodified, with one exception: an OK packet
//! carrying session-state information is rewritten for a client that did not ask
//! for session tracking (Tern always asks its backends for it, to learn GTIDs and
//! schema changes). The rewrite produces exactly what the server sends such a
//! client.
//!
//! When the server closes the connection, under a command or while the session
//! is idle, the client gets what the server sent before closing (an ERR packet,
//! or nothing, as MariaDB sends for a timeout, a KILL or a shutdown), byte for
//! byte, and then the same kind of close (see [`ServerClose`]). Tern adds no
//! packet of its own: the client's driver reports the lost server exactly as it
//! would without Tern.

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::AsyncWriteExt;

use super::client::{ClientConn, ServerClose};
use crate::backend::conn::BackendConn;
use crate::gtid::Gtid;
use crate::protocol::framing::{frame_len, FrameError};
use crate::protocol::response::{ResponseTracker, Step};
use crate::protocol::session_state::{parse_ok, state_changes, write_untracked_ok, StateChange};
use crate::protocol::status::SESSION_STATE_CHANGED;
use crate::protocol::MAX_FRAME;

/// What a response told Tern about the session.
#[derive(Debug, Default)]
pub struct RelayOutcome {
    /// Status flags of the last OK/EOF.
    pub status: Option<u16>,
    /// The response ended with an ERR packet.
    pub error: bool,
    /// Its error code.
    pub error_code: u16,
    /// GTIDs the statement committed (MariaDB `last_gtid`, MySQL own GTIDs).
    pub gtids: Vec<Gtid>,
    /// Affected rows of the last OK.
    pub affected_rows: u64,
    /// The default schema changed to this.
    pub schema: Option<Vec<u8>>,
    /// COM_STMT_PREPARE succeeded: statement id and parameter count.
    pub prepared: Option<(u32, u16)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("client connection: {0}")]
    Client(FrameError),
    /// The backend failed. `forwarded` says whether any of its response already
    /// reached the client (then the statement cannot be retried elsewhere).
    #[error("backend connection: {error}")]
    Backend { error: FrameError, forwarded: bool },
    /// The session's primary connection closed while a replica was answering
    /// (a `KILL` of the session, a timeout, a shutdown). The session is gone
    /// with it, as on the server; the client's connection is already closed
    /// the same way.
    #[error("primary connection closed during a replica read: {0}")]
    PrimaryClosed(FrameError),
}

/// Reads the ERR/OK-carried facts of one OK packet payload into `outcome`.
pub fn observe_ok(payload: &[u8], outcome: &mut RelayOutcome) {
    let Some(ok) = parse_ok(payload) else {
        return;
    };
    outcome.status = Some(ok.status);
    outcome.affected_rows = ok.affected_rows;
    if ok.status & SESSION_STATE_CHANGED == 0 {
        return;
    }
    for change in state_changes(ok.state) {
        match change {
            StateChange::SystemVariable { name, value }
                if name == b"last_gtid" && !value.is_empty() =>
            {
                if let Some(g) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| Gtid::parse(v).ok())
                {
                    outcome.gtids.push(g);
                }
            }
            StateChange::Schema(schema) => outcome.schema = Some(schema.to_vec()),
            StateChange::Gtids(set) => {
                if let Ok(set) = std::str::from_utf8(set) {
                    for g in set.split(',').filter_map(|g| Gtid::parse(g).ok()) {
                        outcome.gtids.push(g);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The OK payload as this client must see it (rewritten into `scratch` when the
/// client does not track session state and the server sent some).
pub fn client_ok<'a>(
    payload: &'a [u8],
    client_tracks: bool,
    scratch: &'a mut BytesMut,
) -> &'a [u8] {
    if client_tracks {
        return payload;
    }
    match parse_ok(payload) {
        Some(ok) if ok.status & SESSION_STATE_CHANGED != 0 => {
            scratch.clear();
            write_untracked_ok(&ok, scratch);
            scratch
        }
        _ => payload,
    }
}

pub struct RelayOptions {
    pub command: u8,
    pub deprecate_eof: bool,
    pub client_tracks: bool,
}

/// Streams the response to the command just sent on `backend` to `client`.
pub async fn relay_response(
    client: &mut ClientConn,
    backend: &mut BackendConn,
    opts: &RelayOptions,
) -> Result<RelayOutcome, RelayError> {
    relay(client, backend, None, opts).await
}

/// Streams a replica's response to `client` while watching the session's
/// primary connection: a `KILL` of the session reaches the primary thread,
/// and the client must lose its connection then, as it would on the server,
/// not when the replica's statement ends (which, for a long read, may be
/// minutes later).
pub async fn relay_replica_response(
    client: &mut ClientConn,
    replica: &mut BackendConn,
    primary: &mut BackendConn,
    opts: &RelayOptions,
) -> Result<RelayOutcome, RelayError> {
    relay(client, replica, Some(primary), opts).await
}

async fn relay(
    client: &mut ClientConn,
    backend: &mut BackendConn,
    mut watch: Option<&mut BackendConn>,
    opts: &RelayOptions,
) -> Result<RelayOutcome, RelayError> {
    let mut tracker = ResponseTracker::new(opts.command, opts.deprecate_eof);
    let mut outcome = RelayOutcome::default();
    let mut forwarded = false;
    let mut scratch = BytesMut::new();
    loop {
        let (n, step) = tracker.scan(backend.reader.buffered());
        if n > 0 {
            let buf = backend.reader.buffer_mut();
            match step {
                Step::Ok { frame_at } => {
                    let frame = &buf[frame_at..n];
                    let payload = &frame[4..];
                    observe_ok(payload, &mut outcome);
                    // Most OK packets go out as they came, in the same write as
                    // what preceded them; only a state-carrying OK for a client
                    // without session tracking is rebuilt (header included) in
                    // the reused scratch buffer.
                    let rebuilt = !opts.client_tracks
                        && parse_ok(payload).is_some_and(|ok| {
                            ok.status & SESSION_STATE_CHANGED != 0 && {
                                scratch.clear();
                                scratch.put_bytes(0, 4);
                                write_untracked_ok(&ok, &mut scratch);
                                let len = (scratch.len() - 4) as u32;
                                scratch[..3].copy_from_slice(&len.to_le_bytes()[..3]);
                                scratch[3] = frame[3];
                                true
                            }
                        });
                    if rebuilt {
                        if frame_at > 0 {
                            client
                                .write_raw(&buf[..frame_at])
                                .await
                                .map_err(|e| RelayError::Client(e.into()))?;
                        }
                        client
                            .write_raw(&scratch)
                            .await
                            .map_err(|e| RelayError::Client(e.into()))?;
                    } else {
                        client
                            .write_raw(&buf[..n])
                            .await
                            .map_err(|e| RelayError::Client(e.into()))?;
                    }
                }
                _ => client
                    .write_raw(&buf[..n])
                    .await
                    .map_err(|e| RelayError::Client(e.into()))?,
            }
            buf.advance(n);
            forwarded = true;
        }
        match step {
            Step::Done => break,
            Step::Ok { .. } if tracker.is_done() => break,
            Step::Ok { .. } => continue,
            Step::LocalInfile => {
                relay_local_infile(client, backend).await?;
                tracker.resume_after_infile();
                continue;
            }
            Step::NeedMore => {}
        }
        if forwarded {
            client
                .flush()
                .await
                .map_err(|e| RelayError::Client(e.into()))?;
        }
        let filled = match watch.as_deref_mut() {
            None => backend.reader.fill(&mut backend.stream).await,
            Some(primary) => {
                tokio::select! {
                    filled = backend.reader.fill(&mut backend.stream) => filled,
                    seen = primary.reader.fill(&mut primary.stream) => {
                        match seen {
                            // Whatever the primary says unasked stays buffered
                            // for the idle watch, which relays it; watching on
                            // would only buffer more of it.
                            Ok(_) => watch = None,
                            Err(error) => {
                                let how = ServerClose::from_frame(&error);
                                tracing::debug!(close = ?how, error = %crate::logsafe::untrusted(&error), "primary closed the session's connection during a replica read; closing the client's the same way");
                                end_like_backend(client, primary, how).await;
                                return Err(RelayError::PrimaryClosed(error));
                            }
                        }
                        continue;
                    }
                }
            }
        };
        if let Err(error) = filled {
            return Err(RelayError::Backend { error, forwarded });
        }
    }
    client
        .flush()
        .await
        .map_err(|e| RelayError::Client(e.into()))?;
    outcome.error = tracker.outcome.error;
    outcome.error_code = tracker.outcome.error_code;
    outcome.prepared = tracker.outcome.prepared;
    if outcome.status.is_none() {
        outcome.status = tracker.outcome.status;
    }
    Ok(outcome)
}

/// Ends the client's connection after `backend` closed under the session:
/// what the server sent last and Tern has not relayed yet (the start of a
/// packet it never finished) goes out as it is, then the client's connection
/// closes the way the server closed Tern's.
pub async fn end_like_backend(
    client: &mut ClientConn,
    backend: &mut BackendConn,
    how: ServerClose,
) {
    let rest = backend.reader.buffer_mut().split();
    if !rest.is_empty() {
        let _ = client.write_raw(&rest).await;
    }
    client.close_like(how).await;
}

/// Waits until the client starts sending its next command, watching the
/// session's primary connection meanwhile.
///
/// A server closes idle connections itself (`wait_timeout`,
/// `idle_transaction_timeout`, `KILL`, shutdown), and a client connected to it
/// directly learns that at once: with a reset, its next write already fails.
/// So the client's connection is ended as soon as the primary's is, the same
/// way, after relaying anything the server sent first (MySQL sends an ERR
/// with sequence id 0 before closing a timed-out connection). Only the first
/// bytes of the client's command are waited for here; the command itself is
/// read by the caller, so no partly read packet is ever dropped.
pub async fn await_command(
    client: &mut ClientConn,
    primary: &mut BackendConn,
) -> Result<(), RelayError> {
    while client.reader.buffered().is_empty() {
        tokio::select! {
            // A primary that closed is noticed before a command that arrived at
            // the same moment is forwarded to it.
            biased;
            filled = primary.reader.fill(&mut primary.stream) => match filled {
                Ok(_) => {
                    let unsolicited = primary.reader.buffer_mut().split();
                    tracing::debug!(bytes = unsolicited.len(), "primary sent data on an idle session; relayed");
                    client
                        .write_raw(&unsolicited)
                        .await
                        .map_err(|e| RelayError::Client(e.into()))?;
                    client.flush().await.map_err(|e| RelayError::Client(e.into()))?;
                }
                Err(error) => {
                    let how = ServerClose::from_frame(&error);
                    tracing::debug!(close = ?how, error = %crate::logsafe::untrusted(&error), "primary closed the idle session's connection; closing the client's the same way");
                    end_like_backend(client, primary, how).await;
                    return Err(RelayError::Backend {
                        error,
                        forwarded: true,
                    });
                }
            },
            filled = client.reader.fill(&mut client.stream) => {
                filled.map_err(RelayError::Client)?;
            }
        }
    }
    Ok(())
}

/// Relays the client's LOCAL INFILE data to the backend: packets up to and
/// including the empty one that ends the file. Data is relayed frame by frame as
/// it arrives, never reassembled: the file's size is the server's business.
async fn relay_local_infile(
    client: &mut ClientConn,
    backend: &mut BackendConn,
) -> Result<(), RelayError> {
    client
        .flush()
        .await
        .map_err(|e| RelayError::Client(e.into()))?;
    let backend_err = |e: std::io::Error| RelayError::Backend {
        error: e.into(),
        forwarded: true,
    };
    let mut continues_previous = false;
    loop {
        let reader = &mut client.reader;
        while reader.buffered().len() < 4 {
            reader
                .fill(&mut client.stream)
                .await
                .map_err(RelayError::Client)?;
        }
        let len = frame_len(reader.buffered());
        let mut remaining = 4 + len;
        while remaining > 0 {
            if reader.buffered().is_empty() {
                reader
                    .fill(&mut client.stream)
                    .await
                    .map_err(RelayError::Client)?;
            }
            let n = remaining.min(reader.buffered().len());
            let buf = reader.buffer_mut();
            backend
                .stream
                .write_all(&buf[..n])
                .await
                .map_err(backend_err)?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::server::stream::ClientStream;

    /// A connected pair of TCP streams on loopback.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (near, far) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (near.unwrap(), far.unwrap().0)
    }

    /// Tern's two connections of one session, and the far ends: the client
    /// program's socket and the server's.
    async fn session() -> (ClientConn, BackendConn, TcpStream, TcpStream) {
        let (client_program, tern_client_side) = pair().await;
        let (tern_backend_side, server) = pair().await;
        let peer = tern_client_side.peer_addr().unwrap();
        let client = ClientConn::new(ClientStream::Plain(tern_client_side), peer);
        let backend = BackendConn::logged_in(tokio_util::either::Either::Left(tern_backend_side));
        (client, backend, client_program, server)
    }

    /// Everything the client program reads until its stream ends, and how it ended.
    async fn read_to_end(mut s: TcpStream) -> (Vec<u8>, std::io::ErrorKind) {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(0)) => return (got, std::io::ErrorKind::UnexpectedEof),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => return (got, e.kind()),
                Err(_) => return (got, std::io::ErrorKind::TimedOut),
            }
        }
    }

    /// MySQL 8 says why before closing a connection idle past `wait_timeout`:
    /// an ERR packet with sequence id 0, then a reset. The client gets exactly that.
    #[tokio::test]
    async fn unsolicited_err_before_reset_reaches_client_as_is() {
        let (mut client, mut backend, program, mut server) = session().await;
        let mut err = vec![0xFF];
        err.extend_from_slice(&4031u16.to_le_bytes());
        err.extend_from_slice(
            b"#HY000The client was disconnected by the server because of inactivity.",
        );
        let mut wire = BytesMut::new();
        crate::protocol::framing::write_packet(&mut wire, 0, &err);
        let server_side = tokio::spawn(async move {
            server.write_all(&wire).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.set_zero_linger().unwrap();
            drop(server);
            wire
        });
        let result = await_command(&mut client, &mut backend).await;
        assert!(
            matches!(&result, Err(RelayError::Backend { error, .. }) if ServerClose::from_frame(error) == ServerClose::Reset),
            "{result:?}"
        );
        drop(client);
        let wire = server_side.await.unwrap();
        let (got, end) = read_to_end(program).await;
        assert_eq!(got, wire.to_vec());
        assert_eq!(end, std::io::ErrorKind::ConnectionReset);
    }

    /// A server that closes without a word (MariaDB after a KILL or at
    /// shutdown): the client sees the same orderly end and nothing else.
    #[tokio::test]
    async fn silent_orderly_close_reaches_client_as_is() {
        let (mut client, mut backend, program, server) = session().await;
        drop(server);
        let result = await_command(&mut client, &mut backend).await;
        assert!(
            matches!(
                &result,
                Err(RelayError::Backend {
                    error: FrameError::Closed,
                    ..
                })
            ),
            "{result:?}"
        );
        drop(client);
        let (got, end) = read_to_end(program).await;
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(end, std::io::ErrorKind::UnexpectedEof);
    }

    /// The client's next command is left whole for the session to read.
    #[tokio::test]
    async fn command_from_client_ends_the_wait() {
        let (mut client, mut backend, mut program, _server) = session().await;
        program.write_all(&[1, 0, 0, 0, 0x0E]).await.unwrap();
        await_command(&mut client, &mut backend).await.unwrap();
        let packet = client
            .reader
            .read_packet(&mut client.stream, Some(0), 1024)
            .await
            .unwrap();
        assert_eq!(&packet.payload[..], &[0x0E]);
    }
}
