//! Shared pieces of the proxy's integration tests: a cluster with Tern in front,
//! connections through either, and a raw protocol client for what drivers never
//! send (pipelined commands, broken packets).

#![allow(dead_code)]

pub mod migrations;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tern::protocol::framing::{write_packet, Packet, PacketReader};
use tern_tests::cluster::{
    Cluster, ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE, APP_PASSWORD, APP_USER,
};
use tern_tests::tern::TernProcess;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Bound on any single read in the raw client, so a broken proxy fails a test
/// instead of hanging it.
pub const RAW_READ_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Setup {
    pub tern: TernProcess,
    pub cluster: Cluster,
}

impl Setup {
    pub fn start(replicas: usize, extra_args: &[&str]) -> Result<Setup> {
        let cluster = Cluster::start(replicas)?;
        let tern = TernProcess::start(&cluster, extra_args)?;
        Ok(Setup { tern, cluster })
    }

    /// [`Setup::start`] with Tern's HTTP endpoint on a port the kernel picks,
    /// once it listens; returns its address too.
    pub fn start_with_http(replicas: usize, extra_args: &[&str]) -> Result<(Setup, String)> {
        let mut args = vec!["--http", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let s = Setup::start(replicas, &args)?;
        let http = s.tern.http_addr()?;
        Ok((s, http))
    }

    pub fn tern_opts(&self, user: &str, password: &str) -> Opts {
        self.tern.opts(user, password, Some(APP_DATABASE))
    }

    pub fn direct_opts(&self, user: &str, password: &str) -> Opts {
        self.cluster
            .primary()
            .opts(user, password, Some(APP_DATABASE))
    }

    pub async fn app_via_tern(&self) -> Result<Conn> {
        Ok(Conn::new(self.tern_opts(APP_USER, APP_PASSWORD)).await?)
    }

    pub async fn app_direct(&self) -> Result<Conn> {
        Ok(Conn::new(self.direct_opts(APP_USER, APP_PASSWORD)).await?)
    }

    pub async fn admin_direct(&self) -> Result<Conn> {
        Ok(Conn::new(self.direct_opts(ADMIN_USER, ADMIN_PASSWORD)).await?)
    }
}

/// (code, sqlstate, message) of a server error, or a failure if it was not one.
pub fn server_error<T: std::fmt::Debug>(
    r: Result<T, mysql_async::Error>,
) -> Result<(u16, String, String)> {
    match r {
        Err(mysql_async::Error::Server(e)) => Ok((e.code, e.state, e.message)),
        other => bail!("expected a server error, got {other:?}"),
    }
}

/// Number of connections the primary has open for `user`.
pub async fn backend_connections(admin: &mut Conn, user: &str) -> Result<u64> {
    let n: Option<u64> = admin
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
            (user,),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A hand-driven protocol client.
pub struct RawClient {
    pub stream: TcpStream,
    pub reader: PacketReader,
    /// The greeting's nonce, once a login has read it.
    pub nonce: Vec<u8>,
}

impl RawClient {
    pub async fn connect(port: u16) -> Result<RawClient> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        Ok(RawClient {
            stream,
            reader: PacketReader::new(),
            nonce: Vec::new(),
        })
    }

    /// Connects and logs in with mysql_native_password and the given capabilities
    /// (CLIENT_PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH are always added).
    pub async fn login(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        extra_caps: u32,
    ) -> Result<RawClient> {
        let (c, reply) = RawClient::begin_login(
            port,
            user,
            password,
            db,
            extra_caps,
            "mysql_native_password",
        )
        .await?;
        if reply.payload.first() != Some(&0x00) {
            bail!(
                "login failed: {:?}",
                String::from_utf8_lossy(&reply.payload)
            );
        }
        Ok(c)
    }

    /// As [`RawClient::login`], also asking for MariaDB's extended
    /// capabilities `mariadb_caps` (MARIADB_CLIENT_PROGRESS is 1).
    pub async fn login_mariadb(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        mariadb_caps: u32,
    ) -> Result<RawClient> {
        let (c, reply) = RawClient::begin_login_with(
            port,
            user,
            password,
            db,
            (0, mariadb_caps),
            "mysql_native_password",
        )
        .await?;
        if reply.payload.first() != Some(&0x00) {
            bail!(
                "login failed: {:?}",
                String::from_utf8_lossy(&reply.payload)
            );
        }
        Ok(c)
    }

    /// Sends a handshake response for `plugin` (mysql_native_password or
    /// caching_sha2_password, scrambled accordingly) and returns the first reply.
    pub async fn begin_login(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        extra_caps: u32,
        plugin: &str,
    ) -> Result<(RawClient, Packet)> {
        RawClient::begin_login_with(port, user, password, db, (extra_caps, 0), plugin).await
    }

    /// `caps`: extra capability flags, and MariaDB extended capabilities
    /// (sent in the last four reserved bytes, as MariaDB clients do).
    async fn begin_login_with(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        caps: (u32, u32),
        plugin: &str,
    ) -> Result<(RawClient, Packet)> {
        let (extra_caps, mariadb_caps) = caps;
        let mut c = RawClient::connect(port).await?;
        let greeting = c.read().await?;
        if greeting.payload.first() == Some(&0xFF) {
            bail!(
                "server refused: {:?}",
                String::from_utf8_lossy(&greeting.payload)
            );
        }
        let nonce = greeting_nonce(&greeting.payload).context("parsing greeting")?;
        let caps: u32 = 0x0200
            | 0x8000
            | 0x0008_0000
            | 0x2000
            | 0x0002_0000
            | extra_caps
            | if db.is_some() { 0x8 } else { 0 };
        let mut p = Vec::new();
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&(16u32 << 20).to_le_bytes());
        p.push(45); // utf8mb4_general_ci
        p.extend_from_slice(&[0; 19]);
        p.extend_from_slice(&mariadb_caps.to_le_bytes());
        p.extend_from_slice(user.as_bytes());
        p.push(0);
        let scramble = if plugin == "caching_sha2_password" {
            sha2_scramble(&nonce, password)
        } else {
            mysql_common_scramble(&nonce, password)
        };
        p.push(scramble.len() as u8);
        p.extend_from_slice(&scramble);
        if let Some(db) = db {
            p.extend_from_slice(db.as_bytes());
            p.push(0);
        }
        p.extend_from_slice(plugin.as_bytes());
        p.push(0);
        c.send(1, &p).await?;
        let reply = c.read().await?;
        c.nonce = nonce;
        Ok((c, reply))
    }

    pub async fn send(&mut self, seq: u8, payload: &[u8]) -> Result<()> {
        let mut out = BytesMut::new();
        write_packet(&mut out, seq, payload);
        self.stream.write_all(&out).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    pub async fn read(&mut self) -> Result<Packet> {
        self.read_within(RAW_READ_TIMEOUT).await
    }

    /// [`RawClient::read`] with its own bound, for an answer that takes a
    /// while by design (the end of an online ALTER).
    pub async fn read_within(&mut self, bound: Duration) -> Result<Packet> {
        let p = tokio::time::timeout(
            bound,
            self.reader.read_packet(&mut self.stream, None, 1 << 30),
        )
        .await
        .with_context(|| format!("timed out reading a packet after {bound:?}"))??;
        Ok(p)
    }

    /// Reads packets of one text-protocol COM_QUERY response (classic EOF client)
    /// and returns them.
    pub async fn read_query_response(&mut self) -> Result<Vec<Packet>> {
        let mut out = Vec::new();
        let first = self.read().await?;
        let head = first.payload.first().copied();
        out.push(first);
        match head {
            Some(0x00) | Some(0xFF) => return Ok(out),
            _ => {}
        }
        // Column definitions until EOF, then rows until EOF.
        let mut eofs = 0;
        while eofs < 2 {
            let p = self.read().await?;
            if p.payload.first() == Some(&0xFE) && p.payload.len() < 9 {
                eofs += 1;
            }
            let is_err = p.payload.first() == Some(&0xFF);
            out.push(p);
            if is_err {
                break;
            }
        }
        Ok(out)
    }

    /// True if the peer closed the connection (EOF or reset) within the timeout.
    pub async fn is_closed(&mut self) -> bool {
        matches!(
            tokio::time::timeout(
                RAW_READ_TIMEOUT,
                self.reader.read_packet(&mut self.stream, None, 1 << 30)
            )
            .await,
            Ok(Err(_))
        )
    }
}

fn greeting_nonce(payload: &[u8]) -> Option<Vec<u8>> {
    // protocol version, server version NUL, connection id, 8 bytes scramble, filler,
    // caps, collation, status, caps, auth data len, 10 reserved, rest of scramble.
    let nul = payload.iter().skip(1).position(|&b| b == 0)? + 1;
    let mut pos = nul + 1 + 4;
    let mut nonce = payload.get(pos..pos + 8)?.to_vec();
    pos += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    nonce.extend_from_slice(payload.get(pos..pos + 12)?);
    Some(nonce)
}

fn mysql_common_scramble(nonce: &[u8], password: &str) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    use sha1::{Digest, Sha1};
    let s1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    let s2: [u8; 20] = Sha1::digest(s1).into();
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(s2);
    let mask: [u8; 20] = h.finalize().into();
    s1.iter().zip(mask).map(|(a, b)| a ^ b).collect()
}

/// caching_sha2_password's fast-path response:
/// `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)`.
pub fn sha2_scramble(nonce: &[u8], password: &str) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    use sha2::{Digest, Sha256};
    let d1: [u8; 32] = Sha256::digest(password.as_bytes()).into();
    let d2: [u8; 32] = Sha256::digest(d1).into();
    let mut h = Sha256::new();
    h.update(d2);
    h.update(nonce);
    let mask: [u8; 32] = h.finalize().into();
    d1.iter().zip(mask).map(|(a, b)| a ^ b).collect()
}

/// COM_QUERY payload.
pub fn com_query(sql: &str) -> Vec<u8> {
    let mut p = vec![0x03];
    p.extend_from_slice(sql.as_bytes());
    p
}

/// The JSON in an HTTP body (chunked-encoding size lines around it are skipped).
pub fn json_of(body: &str) -> Result<serde_json::Value> {
    let start = body.find(['{', '[']).context("no JSON")?;
    let end = body.rfind(['}', ']']).context("no JSON end")?;
    Ok(serde_json::from_str(&body[start..=end])?)
}

/// A plain HTTP/1.1 GET of Tern's HTTP endpoint; returns (status code, body).
/// Bodies may come chunked: callers look for what they need inside.
pub async fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: tern\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .context("http response timed out")??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no header end")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    Ok((status, body.to_string()))
}

/// Waits until the primary runs `prefix...` for an `app` session (seen by
/// `admin`, a direct connection), so that a KILL or a disconnect finds the
/// statement running instead of racing its start.
pub async fn await_running(admin: &mut Conn, prefix: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n: Option<u64> = admin
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE USER = ? AND INFO LIKE CONCAT(?, '%')",
                (APP_USER, prefix),
            )
            .await?;
        if n.unwrap_or(0) > 0 {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("the primary never ran {prefix}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
