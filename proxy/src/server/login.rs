//! Client login: greeting, optional TLS upgrade, the password checked against
//! the account the server would pick (`backend::users`), and the backend login
//! as the same user.
//!
//! Accounts with a mysql_native_password hash are verified: that scramble is
//! what lets Tern log in to backends as the client's user without knowing the
//! password. Clients speaking caching_sha2_password get its fast path once
//! Tern has seen the password in a full authentication over TLS (see
//! `protocol::auth`); until then, and for any other plugin, they are switched
//! to mysql_native_password. Every failure is answered with the code and
//! wording the server itself would use.
//!
//! The password checked is that of the account the server would pick for the
//! client's address (`backend::users`), and the server must land Tern's own
//! login on that same account: it matches by the address it sees, which is
//! Tern's. So a client on loopback gets a backend connection from its own
//! loopback address (the server then sees exactly what a direct login shows),
//! and a client elsewhere is refused when Tern's address would match another
//! account than the client's (another password, other privileges).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{HandshakePacket, HandshakeResponse};
use mysql_common::proto::{MyDeserialize, MySerialize};

use super::client::ClientConn;
use super::stream::ClientStream;
use super::Shared;
use crate::backend::conn::{BackendConn, Login};
use crate::backend::users::{normalize_ip, Account, Credential};
use crate::backend::{BackendError, ServerInfo};
use crate::logsafe::{untrusted, untrusted_bytes};
use crate::protocol::auth::{
    new_nonce, stage1_matches, stage1_of, verify_native, NativeStage1, CACHING_SHA2_PASSWORD,
    NATIVE_PASSWORD, NONCE_LEN,
};
use crate::protocol::errcode::*;
use crate::protocol::framing::FrameError;
use crate::protocol::packets::auth_switch_payload;

/// The identity and wire options a session logged in with.
pub struct Identity {
    pub user: String,
    pub stage1: Option<NativeStage1>,
    pub database: Option<Vec<u8>>,
    pub collation: u8,
    pub capabilities: CapabilityFlags,
    pub mariadb_capabilities: mysql_common::constants::MariadbCapabilities,
    pub attributes: Option<HashMap<String, String>>,
    pub max_packet_size: u32,
    /// The nonce of Tern's greeting: COM_CHANGE_USER scrambles against it.
    pub nonce: [u8; NONCE_LEN],
    /// The client asked for session-state tracking itself. Backends always get
    /// it; OK packets are reshaped for clients that did not ask.
    pub client_tracks_session: bool,
    /// Where backend connections to servers on loopback leave from (see
    /// [`backend_source`]).
    pub backend_source: Option<IpAddr>,
}

impl Identity {
    pub fn backend_login(&self) -> Login<'_> {
        Login {
            user: self.user.as_bytes(),
            stage1: self.stage1.as_ref(),
            database: self.database.as_deref(),
            collation: self.collation,
            capabilities: self.capabilities | CapabilityFlags::CLIENT_SESSION_TRACK,
            mariadb_capabilities: self.mariadb_capabilities,
            attributes: self.attributes.clone(),
            max_packet_size: self.max_packet_size,
            source: self.backend_source,
        }
    }
}

/// Why a login ended without a session. The client has been told already.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("client went away during login: {0}")]
    Client(#[from] FrameError),
    #[error("client I/O error during login: {0}")]
    Io(#[from] std::io::Error),
    #[error("login refused: {0}")]
    Refused(String),
    #[error("backend unavailable: {0}")]
    Backend(#[from] BackendError),
}

/// Runs the whole login. On success the backend connection is logged in and the
/// client has received the server's OK packet.
pub async fn login(
    shared: &Arc<Shared>,
    client: &mut ClientConn,
    connection_id: u32,
) -> Result<(Identity, BackendConn, u16), LoginError> {
    let info = match shared.primary.info().await {
        Ok(info) => info,
        Err(e) => {
            let msg = format!("Can't connect to server on '{}' ({e})", shared.primary.addr);
            client
                .refuse_before_greeting(CR_CONN_HOST_ERROR, &msg)
                .await;
            return Err(e.into());
        }
    };
    let nonce = new_nonce();
    let caps = info.client_capabilities(shared.tls.is_some());
    // Compression is offered when the server offers it, and spoken by Tern
    // itself: it is not part of `caps`, which the backend login inherits.
    let compress_offered = info.capabilities & CapabilityFlags::CLIENT_COMPRESS;
    let greeting = greeting(&info, connection_id, &nonce, caps | compress_offered);
    let mut seq = client.send(0, &greeting).await?;

    let max = shared.settings.max_packet_size.min(64 * 1024);
    let mut packet = read_response(client, seq, max).await?;
    seq = packet.next_seq();
    // An SSLRequest is the first 32 bytes of a handshake response with CLIENT_SSL.
    if packet.payload.len() == 32 && packet.payload[1] & 0x08 != 0 {
        let Some(acceptor) = shared.tls.clone() else {
            client
                .send_err(seq, ER_HANDSHAKE_ERROR, "Bad handshake")
                .await;
            return Err(LoginError::Refused(
                "TLS requested but not configured".into(),
            ));
        };
        let ClientStream::Plain(tcp) =
            std::mem::replace(&mut client.stream, ClientStream::Upgrading)
        else {
            return Err(LoginError::Refused("TLS requested twice".into()));
        };
        if !client.reader.buffered().is_empty() {
            // Bytes after the SSLRequest but before the TLS handshake would be
            // injected plaintext; a real client never sends them.
            return Err(LoginError::Refused("plaintext after SSLRequest".into()));
        }
        let tls = acceptor.accept(tcp).await?;
        client.stream = ClientStream::Tls(Box::new(tls));
        packet = read_response(client, seq, max).await?;
        seq = packet.next_seq();
    }

    let response = match HandshakeResponse::deserialize((), &mut ParseBuf(&packet.payload)) {
        Ok(r)
            if r.capabilities()
                .contains(CapabilityFlags::CLIENT_PROTOCOL_41) =>
        {
            r
        }
        _ => {
            bad_handshake(client, seq, is_pre41(&packet.payload)).await;
            return Err(LoginError::Refused("malformed handshake response".into()));
        }
    };
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let client_plugin = response
        .auth_plugin()
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_else(|| NATIVE_PASSWORD.as_bytes().to_vec());
    let (proof, next) = client_proof(
        shared,
        client,
        &user,
        &client_plugin,
        nonce,
        response.scramble_buf(),
        seq,
    )
    .await?;
    seq = next;

    let stage1 = match authenticate(shared, client, &user, &proof).await {
        Ok(stage1) => stage1,
        Err(message) => {
            client.send_err(seq, ER_ACCESS_DENIED_ERROR, &message).await;
            return Err(LoginError::Refused(message));
        }
    };

    let identity = Identity {
        user,
        stage1,
        database: response.db_name().map(<[u8]>::to_vec),
        collation: response.collation(),
        capabilities: response.capabilities() & (caps - CapabilityFlags::CLIENT_SSL),
        mariadb_capabilities: response.mariadb_ext_capabilities()
            & info.client_mariadb_capabilities(),
        attributes: response.connect_attributes(),
        client_tracks_session: response
            .capabilities()
            .contains(CapabilityFlags::CLIENT_SESSION_TRACK),
        max_packet_size: shared.settings.max_packet_size.min(u32::MAX as usize) as u32,
        nonce,
        backend_source: backend_source(shared, client.peer.ip())
            .await
            .filter(|source| source.bind)
            .map(|source| source.ip),
    };
    let (backend, status) = match BackendConn::connect(&shared.primary, &identity.backend_login())
        .await
    {
        Ok((backend, ok)) => {
            let mut scratch = bytes::BytesMut::new();
            let out = super::relay::client_ok(&ok, identity.client_tracks_session, &mut scratch);
            client.send(seq, out).await?;
            if response.capabilities().intersects(compress_offered) {
                client.stream.start_compression();
            }
            let status = crate::protocol::packets::ok_status(&ok).unwrap_or(0);
            (backend, status)
        }
        Err(BackendError::Refused(err)) => {
            // The server knows better than the cached accounts (a password
            // changed, an account was added): read them again before the client
            // can retry.
            if let Err(e) = shared.users.refresh_after(Instant::now()).await {
                tracing::warn!(error = %e, "cannot read accounts from the primary");
            }
            client.send(seq, &err).await?;
            return Err(LoginError::Refused("backend refused login".into()));
        }
        Err(e) => {
            let msg = format!("Can't connect to server on '{}' ({e})", shared.primary.addr);
            client.send_err(seq, CR_CONN_HOST_ERROR, &msg).await;
            return Err(e.into());
        }
    };
    Ok((identity, backend, status))
}

/// Reads the client's handshake response (or SSLRequest). What is not one is
/// refused the way the server refuses it before closing: a frame with another
/// sequence number (an HTTP request, a TLS ClientHello, random bytes) gets
/// `1156 Got packets out of order`, a frame over the handshake bound
/// `1043 Bad handshake`.
async fn read_response(
    client: &mut ClientConn,
    seq: u8,
    max: usize,
) -> Result<crate::protocol::framing::Packet, LoginError> {
    match client
        .reader
        .read_packet(&mut client.stream, Some(seq), max)
        .await
    {
        Ok(packet) => Ok(packet),
        Err(e @ FrameError::OutOfOrder { .. }) => {
            client
                .send_err(seq, ER_NET_PACKETS_OUT_OF_ORDER, "Got packets out of order")
                .await;
            client.drain_before_close().await;
            Err(e.into())
        }
        Err(e @ FrameError::TooLarge { .. }) => {
            // The frame header is still buffered; the capabilities follow it
            // when the client sent them in the same segment.
            let pre41 = is_pre41(client.reader.buffered().get(4..).unwrap_or_default());
            bad_handshake(client, seq.wrapping_add(1), pre41).await;
            client.drain_before_close().await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A response whose first two bytes lack CLIENT_PROTOCOL_41: the server
/// answers it in the pre-4.1 layout, without SQLSTATE.
fn is_pre41(payload: &[u8]) -> bool {
    payload.len() >= 2 && payload[1] & 0x02 == 0
}

/// `1043 Bad handshake`, in the layout the client's capabilities ask for.
async fn bad_handshake(client: &mut ClientConn, seq: u8, pre41: bool) {
    if pre41 {
        let payload = crate::protocol::packets::err_payload_before_greeting(
            ER_HANDSHAKE_ERROR,
            "Bad handshake",
        );
        let _ = client.send(seq, &payload).await;
    } else {
        client
            .send_err(seq, ER_HANDSHAKE_ERROR, "Bad handshake")
            .await;
    }
}

/// A user name as the server quotes it in an error: cut to
/// `USERNAME_CHAR_LENGTH` (128) characters and converted to its system
/// character set (utf8mb3), where a character outside the BMP becomes `?`.
/// A 60,000-character name is answered in about 200 bytes, as by the server.
pub fn user_as_quoted(user: &str) -> String {
    user.chars()
        .take(USERNAME_CHAR_LENGTH)
        .map(|c| if u32::from(c) > 0xFFFF { '?' } else { c })
        .collect()
}

/// The server's limit on user names, in characters.
const USERNAME_CHAR_LENGTH: usize = 128;

fn greeting(
    info: &ServerInfo,
    connection_id: u32,
    nonce: &[u8; NONCE_LEN],
    caps: CapabilityFlags,
) -> Vec<u8> {
    let mut scramble_1 = [0u8; 8];
    scramble_1.copy_from_slice(&nonce[..8]);
    // The second part carries a NUL terminator, as servers send it.
    let mut scramble_2 = nonce[8..].to_vec();
    scramble_2.push(0);
    let packet = HandshakePacket::new(
        10,
        info.server_version.as_slice(),
        connection_id,
        scramble_1,
        Some(scramble_2),
        caps,
        info.default_collation,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(NATIVE_PASSWORD.as_bytes()),
    )
    .with_mariadb_ext_capabilities(info.client_mariadb_capabilities());
    let mut out = Vec::with_capacity(128);
    packet.serialize(&mut out);
    out
}

/// What a client proved, after whatever exchange its plugin asked for.
pub enum Proof {
    /// A mysql_native_password response to `nonce` (empty: no password).
    Native {
        nonce: [u8; NONCE_LEN],
        scramble: Vec<u8>,
    },
    /// The password in clear: caching_sha2_password's full authentication,
    /// only ever asked for over TLS.
    Cleartext(Vec<u8>),
    /// A caching_sha2_password fast-path response the cache verified.
    Verified(NativeStage1),
    /// A caching_sha2_password fast-path response the cache refuted.
    Wrong,
}

impl Proof {
    /// For the refusal's wording: "(using password: YES|NO)".
    fn password_given(&self) -> bool {
        match self {
            Proof::Native { scramble, .. } => !scramble.is_empty(),
            Proof::Cleartext(password) => !password.is_empty(),
            Proof::Verified(_) | Proof::Wrong => true,
        }
    }
}

/// caching_sha2_password's "more data" answers: fast path passed / send the
/// password.
const SHA2_FAST_AUTH_OK: [u8; 2] = [0x01, 0x03];
const SHA2_FULL_AUTH: [u8; 2] = [0x01, 0x04];

/// Runs the client's side of its authentication plugin until Tern holds a
/// proof it can check. `first` is the response that came with the handshake
/// (or COM_CHANGE_USER) to `nonce`; returns the proof and the next sequence id.
pub async fn client_proof(
    shared: &Shared,
    client: &mut ClientConn,
    user: &str,
    plugin: &[u8],
    nonce: [u8; NONCE_LEN],
    first: &[u8],
    seq: u8,
) -> Result<(Proof, u8), FrameError> {
    tracing::debug!(user = %untrusted(user), plugin = %untrusted_bytes(plugin), tls = client.stream.is_tls(), "client authentication plugin");
    if plugin == NATIVE_PASSWORD.as_bytes() {
        return Ok((
            Proof::Native {
                nonce,
                scramble: first.to_vec(),
            },
            seq,
        ));
    }
    let max = shared.settings.max_packet_size.min(64 * 1024);
    let ip = client.peer.ip();
    let tls = client.stream.is_tls();
    // caching_sha2_password is only worth speaking when it can succeed: with a
    // cached digest (fast path) or over TLS (full authentication). Otherwise
    // one switch to mysql_native_password settles it.
    if plugin == CACHING_SHA2_PASSWORD.as_bytes() && (tls || shared.users.has_sha2(user, ip)) {
        let mut seq = seq;
        let mut response = first.to_vec();
        if response.is_empty() {
            // A client whose plugin differs from the one the greeting named
            // sends nothing (its data was for another plugin): ask again, as
            // the server does, for this plugin and nonce. Empty again means no
            // password.
            let answer = client
                .ask(
                    seq,
                    &auth_switch_payload(CACHING_SHA2_PASSWORD, &nonce),
                    max,
                )
                .await?;
            seq = answer.next_seq();
            response = answer.payload.to_vec();
            if response.is_empty() {
                return Ok((
                    Proof::Native {
                        nonce,
                        scramble: response,
                    },
                    seq,
                ));
            }
        }
        if let Some(stage1) = shared.users.sha2_fast(user, ip, &nonce, &response) {
            tracing::debug!(user = %untrusted(user), "caching_sha2_password fast path");
            let seq = client.send(seq, &SHA2_FAST_AUTH_OK).await?;
            return Ok((Proof::Verified(stage1), seq));
        }
        if !tls {
            // A fresh digest for this account did not match: a wrong password.
            return Ok((Proof::Wrong, seq));
        }
        tracing::debug!(user = %untrusted(user), "caching_sha2_password full authentication");
        let answer = client.ask(seq, &SHA2_FULL_AUTH, max).await?;
        let mut password = answer.payload.to_vec();
        if password.last() == Some(&0) {
            password.pop();
        }
        return Ok((Proof::Cleartext(password), answer.next_seq()));
    }
    // Any other plugin, or caching_sha2_password without a cached digest and
    // without TLS: ask for a native-password answer to the same nonce, as a
    // server does for an account using that plugin.
    let answer = client
        .ask(seq, &auth_switch_payload(NATIVE_PASSWORD, &nonce), max)
        .await?;
    Ok((
        Proof::Native {
            nonce,
            scramble: answer.payload.to_vec(),
        },
        answer.next_seq(),
    ))
}

/// Checks the client's proof against the account the server would pick for
/// `user` at the client's address; returns its stage1 (None for an empty
/// password) or the server's wording of the refusal.
///
/// Any refusal reads the accounts again and decides once more (re-reads are
/// spaced, see `backend::users`), so an account created or fixed a moment ago
/// works at once. As on the server, a wrong password for the picked account is
/// a refusal: no other account of that user is tried.
pub async fn authenticate(
    shared: &Shared,
    client: &ClientConn,
    user: &str,
    proof: &Proof,
) -> Result<Option<NativeStage1>, String> {
    let ip = normalize_ip(client.peer.ip());
    let denied = || {
        format!(
            "Access denied for user '{}'@'{ip}' (using password: {})",
            user_as_quoted(user),
            if proof.password_given() { "YES" } else { "NO" }
        )
    };
    let requested_at = Instant::now();
    let mut refusal = Refusal::NoAccount;
    for attempt in 0..2 {
        if attempt == 1 {
            if let Err(e) = shared.users.refresh_after(requested_at).await {
                tracing::warn!(error = %e, "cannot read accounts from the primary");
                return Err(denied());
            }
        }
        let Some(account) = shared.users.find(user, ip) else {
            refusal = Refusal::NoAccount;
            continue;
        };
        match check_proof(shared, &account, proof) {
            Ok(stage1) => match backend_account(shared, user, ip).await {
                Ok(()) => return Ok(stage1),
                Err(backend) => {
                    refusal = Refusal::OtherBackendAccount {
                        client: format!("{}@{}", account.user, account.host),
                        backend,
                    }
                }
            },
            Err(r) => refusal = r,
        }
    }
    match &refusal {
        Refusal::Unsupported(plugin) => tracing::info!(
            user = %untrusted(user),
            plugin = %untrusted(plugin),
            "account uses an authentication plugin Tern cannot proxy"
        ),
        Refusal::OtherBackendAccount { client, backend } => tracing::warn!(
            user = %untrusted(user),
            client_account = %untrusted(client),
            backend_account = %untrusted(backend),
            "login refused: the server would see Tern's connection for this client as another account"
        ),
        Refusal::NoAccount | Refusal::Password => {
            tracing::debug!(user = %untrusted(user), reason = ?untrusted(format!("{refusal:?}")), "login refused")
        }
    }
    Err(denied())
}

/// Why a login was refused, for the log: the client only ever hears 1045.
#[derive(Debug)]
enum Refusal {
    NoAccount,
    Password,
    Unsupported(String),
    OtherBackendAccount { client: String, backend: String },
}

/// Checks `proof` against the stored credential of `account`.
fn check_proof(
    shared: &Shared,
    account: &Account,
    proof: &Proof,
) -> Result<Option<NativeStage1>, Refusal> {
    let credential = account.credential();
    if let Credential::Unsupported(plugin) = credential {
        return Err(Refusal::Unsupported(plugin));
    }
    match (proof, credential) {
        // The fast path checked a cached digest; the stage1 it unsealed must
        // still be this account's (the accounts may have been read again since).
        (Proof::Verified(stage1), Credential::Native(stage2))
            if stage1_matches(stage1, &stage2) =>
        {
            Ok(Some(*stage1))
        }
        (Proof::Native { scramble, .. }, Credential::Empty) if scramble.is_empty() => Ok(None),
        (Proof::Cleartext(password), Credential::Empty) if password.is_empty() => Ok(None),
        (Proof::Native { nonce, scramble }, Credential::Native(stage2)) => {
            verify_native(nonce, scramble, &stage2)
                .map(Some)
                .ok_or(Refusal::Password)
        }
        (Proof::Cleartext(password), Credential::Native(stage2)) => {
            let stage1 = stage1_of(password);
            if stage1_matches(&stage1, &stage2) {
                shared.users.remember_sha2(account, stage2, password);
                Ok(Some(stage1))
            } else {
                Err(Refusal::Password)
            }
        }
        _ => Err(Refusal::Password),
    }
}

/// Where Tern's connection to the primary for a client at `client_ip` comes
/// from, as the primary sees it.
#[derive(Debug, Clone, Copy)]
pub struct BackendSource {
    pub ip: IpAddr,
    /// Tern binds the connection to `ip` itself (it is the client's loopback
    /// address and not the one the kernel would pick).
    pub bind: bool,
}

/// The address the primary will see Tern's connection for a client at
/// `client_ip` come from, or `None` when Tern cannot tell (the primary is
/// reached through its unix socket, where the server sees `localhost`, or its
/// address does not resolve).
///
/// A client on loopback talking to a primary on loopback gets a connection
/// from its own address (all of 127.0.0.0/8 is local on Linux), so the server
/// matches the account it would match for the client directly. Otherwise the
/// connection leaves from the address the kernel picks towards the primary,
/// learned without sending anything (a connected UDP socket).
pub async fn backend_source(shared: &Shared, client_ip: IpAddr) -> Option<BackendSource> {
    if shared.primary.socket().is_some() {
        return None;
    }
    let target = tokio::net::lookup_host(shared.primary.addr.as_str())
        .await
        .ok()?
        .next()?;
    let unspecified: IpAddr = if target.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let kernel_choice = std::net::UdpSocket::bind((unspecified, 0))
        .and_then(|probe| {
            probe.connect(target)?;
            probe.local_addr()
        })
        .ok()
        .map(|local| normalize_ip(local.ip()));
    choose_source(client_ip, target.ip(), kernel_choice)
}

/// The decision behind [`backend_source`], given the address the kernel would
/// pick towards `target` on its own.
fn choose_source(
    client_ip: IpAddr,
    target: IpAddr,
    kernel_choice: Option<IpAddr>,
) -> Option<BackendSource> {
    let client_ip = normalize_ip(client_ip);
    let same_family = client_ip.is_ipv4() == target.is_ipv4();
    if client_ip.is_loopback() && target.is_loopback() && same_family {
        return Some(BackendSource {
            ip: client_ip,
            bind: kernel_choice != Some(client_ip),
        });
    }
    kernel_choice.map(|ip| BackendSource { ip, bind: false })
}

/// Checks that Tern's own connection to the primary lands on the account the
/// client matched; `Err` names the account it would land on instead. A session
/// must not get another account's password check or privileges than a direct
/// login would (for example a client at ::1 matched `u@'::1'` while Tern
/// reaches the primary from 127.0.0.1, which matches `u@'127.0.0.1'`).
async fn backend_account(shared: &Shared, user: &str, client_ip: IpAddr) -> Result<(), String> {
    let Some(source) = backend_source(shared, client_ip).await else {
        return Ok(());
    };
    if source.ip == normalize_ip(client_ip) {
        return Ok(());
    }
    let name = |a: Option<Account>| a.map(|a| format!("{}@{}", a.user, a.host));
    let client = name(shared.users.find(user, client_ip));
    let backend = name(shared.users.find(user, source.ip));
    if client == backend {
        Ok(())
    } else {
        Err(backend.unwrap_or_else(|| format!("no account (from {})", source.ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(client: &str, target: &str, kernel: Option<&str>) -> Option<(String, bool)> {
        let ip = |t: &str| t.parse::<IpAddr>().expect("ip");
        choose_source(ip(client), ip(target), kernel.map(ip)).map(|s| (s.ip.to_string(), s.bind))
    }

    #[test]
    fn loopback_clients_reach_a_loopback_server_from_their_own_address() {
        // The kernel's own choice needs no bind.
        assert_eq!(
            source("127.0.0.1", "127.0.0.1", Some("127.0.0.1")),
            Some(("127.0.0.1".into(), false))
        );
        assert_eq!(
            source("127.0.0.5", "127.0.0.1", Some("127.0.0.1")),
            Some(("127.0.0.5".into(), true))
        );
        assert_eq!(
            source("::ffff:127.0.0.5", "127.0.0.1", Some("127.0.0.1")),
            Some(("127.0.0.5".into(), true))
        );
    }

    #[test]
    fn user_names_are_quoted_as_the_server_cuts_them() {
        assert_eq!(user_as_quoted(&"u".repeat(60_000)), "u".repeat(128));
        assert_eq!(user_as_quoted(&"é".repeat(200)).chars().count(), 128);
        assert_eq!(user_as_quoted("a\u{1F600}b"), "a?b");
        assert!(is_pre41(&[0x00, 0x01]));
        assert!(!is_pre41(&[0x00, 0x02]));
        assert!(!is_pre41(&[0x01]));
    }

    #[test]
    fn other_clients_are_seen_from_the_kernels_choice() {
        // ::1 cannot reach an IPv4 server.
        assert_eq!(
            source("::1", "127.0.0.1", Some("127.0.0.1")),
            Some(("127.0.0.1".into(), false))
        );
        assert_eq!(
            source("10.0.0.9", "10.0.0.2", Some("10.0.0.5")),
            Some(("10.0.0.5".into(), false))
        );
        assert_eq!(
            source("127.0.0.5", "10.0.0.2", Some("10.0.0.5")),
            Some(("10.0.0.5".into(), false))
        );
        assert_eq!(source("10.0.0.9", "10.0.0.2", None), None);
    }
}
