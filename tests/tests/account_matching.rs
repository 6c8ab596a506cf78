//! Which account a login lands on: through Tern exactly as directly.
//!
//! The server picks an account (`user@host`) by the client's address; its
//! password is the one checked and its privileges the session's. These tests
//! log in from several loopback addresses (all of 127.0.0.0/8 reaches `lo` on
//! Linux: the client socket is bound to 127.0.0.x before connecting), directly
//! and through Tern, and compare the outcome, `CURRENT_USER()` and `USER()` (the
//! address the server saw).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use common::{server_error, Setup, RAW_READ_TIMEOUT};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern::backend::ServerInfo;
use tern::protocol::auth::{native_response, stage1_of};
use tern::protocol::framing::{write_packet, Packet, PacketReader};
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, APP_PASSWORD, APP_USER};
use tern_tests::tern::TernProcess;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// What one login answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Logged in: `CURRENT_USER()` (the account) and `USER()` (the name and the
    /// address the server saw).
    In { account: String, seen_as: String },
    /// The server's (or Tern's) refusal.
    Refused { code: u16, message: String },
}

impl Outcome {
    fn account(&self) -> Option<&str> {
        match self {
            Outcome::In { account, .. } => Some(account),
            Outcome::Refused { .. } => None,
        }
    }
}

async fn read(reader: &mut PacketReader, stream: &mut TcpStream) -> Result<Packet> {
    Ok(
        tokio::time::timeout(RAW_READ_TIMEOUT, reader.read_packet(stream, None, 1 << 24))
            .await
            .context("timed out reading a packet")??,
    )
}

fn refusal(payload: &[u8]) -> Outcome {
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    // 0xFF, code, then `#` and a 5-byte SQLSTATE before the message.
    let message = if payload.get(3) == Some(&b'#') {
        &payload[9..]
    } else {
        &payload[3..]
    };
    Outcome::Refused {
        code,
        message: String::from_utf8_lossy(message).into_owned(),
    }
}

/// Length-encoded strings of a text-protocol row.
fn row_strings(mut payload: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = payload.split_first() {
        let len = usize::from(len);
        if len >= 0xfb || rest.len() < len {
            bail!("unexpected row encoding: {payload:?}");
        }
        out.push(String::from_utf8_lossy(&rest[..len]).into_owned());
        payload = &rest[len..];
    }
    Ok(out)
}

/// Logs in to `target` from the local address `source` with
/// mysql_native_password, and asks who the session is.
async fn login_from(
    source: IpAddr,
    target: SocketAddr,
    user: &str,
    password: &str,
) -> Result<Outcome> {
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = tokio::time::timeout(RAW_READ_TIMEOUT, socket.connect(target))
        .await
        .context("timed out connecting")??;
    let mut reader = PacketReader::new();
    let greeting = read(&mut reader, &mut stream).await?;
    if greeting.payload.first() == Some(&0xFF) {
        return Ok(refusal(&greeting.payload));
    }
    let (_, nonce, _) = ServerInfo::from_greeting(&greeting.payload)?;
    // PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | MULTI_RESULTS | PLUGIN_AUTH
    let caps: u32 = 0x0200 | 0x2000 | 0x8000 | 0x0002_0000 | 0x0008_0000;
    let mut p = Vec::new();
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    let scramble = if password.is_empty() {
        Vec::new()
    } else {
        native_response(&nonce, &stage1_of(password.as_bytes())).to_vec()
    };
    p.push(scramble.len() as u8);
    p.extend_from_slice(&scramble);
    p.extend_from_slice(b"mysql_native_password\0");
    let mut out = BytesMut::new();
    write_packet(&mut out, greeting.next_seq(), &p);
    stream.write_all(&out).await?;
    let reply = read(&mut reader, &mut stream).await?;
    match reply.payload.first() {
        Some(0x00) => {}
        Some(0xFF) => return Ok(refusal(&reply.payload)),
        _ => bail!("unexpected login reply {:?}", reply.payload),
    }
    let mut out = BytesMut::new();
    write_packet(&mut out, 0, b"\x03SELECT CURRENT_USER(), USER()");
    stream.write_all(&out).await?;
    // Column count, two definitions, EOF, the row, EOF.
    let mut packets = Vec::new();
    for _ in 0..6 {
        let p = read(&mut reader, &mut stream).await?;
        if p.payload.first() == Some(&0xFF) {
            bail!("SELECT CURRENT_USER() failed: {:?}", refusal(&p.payload));
        }
        packets.push(p);
    }
    let row = row_strings(&packets[4].payload)?;
    let [account, seen_as] = <[String; 2]>::try_from(row)
        .map_err(|row| anyhow::anyhow!("expected two columns, got {row:?}"))?;
    Ok(Outcome::In { account, seen_as })
}

/// Runs every login concurrently (a refused login through Tern waits for the
/// spaced re-read of the accounts; concurrent ones share it).
async fn logins(target: SocketAddr, cases: &[(IpAddr, &str, &str)]) -> Result<Vec<Outcome>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, &(source, user, password)) in cases.iter().enumerate() {
        let (user, password) = (user.to_owned(), password.to_owned());
        tasks.spawn(async move { (i, login_from(source, target, &user, &password).await) });
    }
    let mut out = vec![None; cases.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, outcome) = done?;
        out[i] = Some(outcome.with_context(|| format!("login {:?}", cases[i]))?);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Options for a login through Tern without a default database (the test
/// accounts have no grants).
fn no_db_via(s: &Setup, user: &str, password: &str) -> mysql_async::Opts {
    s.tern.opts(user, password, None)
}

fn no_db_direct(s: &Setup, user: &str, password: &str) -> mysql_async::Opts {
    s.cluster.primary().opts(user, password, None)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The accounts: `localhost` is not a TCP address under
/// skip-name-resolve, so the 127.0.0.1 account is the one TCP logins get.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_account_does_not_shadow_the_tcp_account() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    // Tern reads the accounts before they exist, as a running proxy would.
    drop(s.app_via_tern().await?);
    admin
        .query_drop(
            "CREATE USER u2x@localhost IDENTIFIED BY 'p2'; \
             CREATE USER u2x@'127.0.0.1' IDENTIFIED BY 'p1'",
        )
        .await?;
    let mut via = Conn::new(no_db_via(&s, "u2x", "p1")).await?;
    let who: Option<String> = via.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("u2x@127.0.0.1"));
    let through = server_error(Conn::new(no_db_via(&s, "u2x", "p2")).await)?;
    let direct = server_error(Conn::new(no_db_direct(&s, "u2x", "p2")).await)?;
    assert_eq!(through, direct);
    assert_eq!(through.0, 1045);
    Ok(())
}

/// Accounts x client addresses x passwords: each login through Tern ends as
/// it does directly, on the same account, seen from the same address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_match_like_the_server_from_every_loopback_address() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE USER acm@'127.0.0.1' IDENTIFIED BY 'h_exact'; \
             CREATE USER acm@'127.0.0.%' IDENTIFIED BY 'h_c'; \
             CREATE USER acm@'127.%' IDENTIFIED BY 'h_a'; \
             CREATE USER acm@'%' IDENTIFIED BY 'h_any'; \
             CREATE USER acm@localhost IDENTIFIED BY 'h_local'; \
             CREATE USER acm@'127.0.1.0/255.255.255.0' IDENTIFIED BY 'h_mask'; \
             CREATE USER ''@'127.0.0.3' IDENTIFIED BY 'anon'; \
             CREATE USER acw@'12_.0.0.5' IDENTIFIED BY 'q1'; \
             CREATE USER acw@'127.0._.5' IDENTIFIED BY 'q2'; \
             CREATE USER acw@'127.0.0._' IDENTIFIED BY 'q3'; \
             CREATE USER acy@'127.0.0.5' IDENTIFIED BY 's1'; \
             CREATE USER acy@'127.0.0.5/255.255.255.255' IDENTIFIED BY 's2'; \
             CREATE USER acy@'127.0.0.0/255.0.0.0' IDENTIFIED BY 's3'",
        )
        .await?;
    let sources = [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.5",
        "127.0.1.9",
        "127.1.2.3",
    ];
    let credentials = [
        ("acm", "h_exact"),
        ("acm", "h_c"),
        ("acm", "h_a"),
        ("acm", "h_any"),
        ("acm", "h_local"),
        ("acm", "h_mask"),
        ("acm", "anon"),
        ("nobody", "anon"),
        ("acw", "q1"),
        ("acw", "q2"),
        ("acw", "q3"),
        ("acy", "s1"),
        ("acy", "s2"),
        ("acy", "s3"),
        (APP_USER, APP_PASSWORD),
    ];
    let cases: Vec<(IpAddr, &str, &str)> = sources
        .iter()
        .flat_map(|src| credentials.iter().map(move |(u, p)| (ip(src), *u, *p)))
        .collect();

    let direct = logins(local(s.cluster.primary().port()), &cases).await?;
    let through = logins(local(s.tern.port()), &cases).await?;
    for ((case, d), t) in cases.iter().zip(&direct).zip(&through) {
        assert_eq!(t, d, "{case:?}");
    }

    // The server's own answers, so that the table cannot pass by both sides
    // refusing everything.
    let answer = |src: &str, user: &str, password: &str| {
        let i = cases
            .iter()
            .position(|c| *c == (ip(src), user, password))
            .expect("case in the table");
        direct[i].account().map(str::to_owned)
    };
    let expected = [
        ("127.0.0.1", "acm", "h_exact", Some("acm@127.0.0.1")),
        // No fall-through: a wrong password for the picked account is a refusal
        // even though another acm account has that password.
        ("127.0.0.1", "acm", "h_c", None),
        ("127.0.0.1", "acm", "h_local", None),
        ("127.0.0.2", "acm", "h_c", Some("acm@127.0.0.%")),
        // The anonymous account's exact host outranks acm@'127.0.0.%'.
        ("127.0.0.3", "acm", "anon", Some("@127.0.0.3")),
        ("127.0.0.3", "acm", "h_c", None),
        ("127.0.0.3", "nobody", "anon", Some("@127.0.0.3")),
        (
            "127.0.1.9",
            "acm",
            "h_mask",
            Some("acm@127.0.1.0/255.255.255.0"),
        ),
        ("127.1.2.3", "acm", "h_a", Some("acm@127.%")),
        ("127.0.0.5", "acw", "q1", Some("acw@12_.0.0.5")),
        ("127.0.0.2", "acw", "q3", Some("acw@127.0.0._")),
        (
            "127.0.0.5",
            "acy",
            "s2",
            Some("acy@127.0.0.5/255.255.255.255"),
        ),
        ("127.0.0.2", "acy", "s3", Some("acy@127.0.0.0/255.0.0.0")),
        ("127.0.0.5", APP_USER, APP_PASSWORD, Some("app@%")),
    ];
    for (src, user, password, account) in expected {
        assert_eq!(
            answer(src, user, password).as_deref(),
            account,
            "{user}/{password} from {src}"
        );
    }
    // Tern's backend connection came from the client's own address.
    let seen: Vec<_> = through
        .iter()
        .filter_map(|o| match o {
            Outcome::In { seen_as, .. } => Some(seen_as.as_str()),
            Outcome::Refused { .. } => None,
        })
        .collect();
    assert!(seen.contains(&"acm@127.0.0.2"), "{seen:?}");
    assert!(seen.contains(&"app@127.1.2.3"), "{seen:?}");
    Ok(())
}

/// Every kind of refusal reads the accounts again, so the fix an operator just
/// made works on the next attempt, with no wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_rereads_the_accounts_for_every_reason() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE USER sock@'%' IDENTIFIED VIA unix_socket; \
             CREATE USER lk@'%' IDENTIFIED BY 'lk_pw' ACCOUNT LOCK; \
             CREATE USER mv@'%' IDENTIFIED BY 'old_pw'",
        )
        .await?;
    // Tern caches the accounts as they are now.
    let mut mv = Conn::new(no_db_via(&s, "mv", "old_pw")).await?;
    let who: Option<String> = mv.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("mv@%"));
    assert_eq!(
        server_error(Conn::new(no_db_via(&s, "sock", "x")).await)?.0,
        1045
    );
    assert!(Conn::new(no_db_via(&s, "lk", "lk_pw")).await.is_err());

    // An unusable stored hash (another plugin), fixed.
    admin
        .query_drop(
            "ALTER USER sock@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('sock_pw')",
        )
        .await?;
    let mut sock = Conn::new(no_db_via(&s, "sock", "sock_pw")).await?;
    assert_eq!(sock.query_first::<u8, _>("SELECT 1").await?, Some(1));

    // A locked account, unlocked.
    admin.query_drop("ALTER USER lk@'%' ACCOUNT UNLOCK").await?;
    let mut lk = Conn::new(no_db_via(&s, "lk", "lk_pw")).await?;
    assert_eq!(lk.query_first::<u8, _>("SELECT 1").await?, Some(1));

    // A more specific account created after the read: it now takes the login
    // from 127.0.0.1, with its own password only.
    admin
        .query_drop("CREATE USER mv@'127.0.0.1' IDENTIFIED BY 'new_pw'")
        .await?;
    let mut mv = Conn::new(no_db_via(&s, "mv", "new_pw")).await?;
    let who: Option<String> = mv.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("mv@127.0.0.1"));
    let through = server_error(Conn::new(no_db_via(&s, "mv", "old_pw")).await)?;
    let direct = server_error(Conn::new(no_db_direct(&s, "mv", "old_pw")).await)?;
    assert_eq!(through, direct);

    // A password changed behind the cache: the server's refusal is relayed
    // as is, and the new password works.
    admin
        .query_drop("ALTER USER mv@'127.0.0.1' IDENTIFIED BY 'newer_pw'")
        .await?;
    let through = server_error(Conn::new(no_db_via(&s, "mv", "new_pw")).await)?;
    let direct = server_error(Conn::new(no_db_direct(&s, "mv", "new_pw")).await)?;
    assert_eq!(through, direct);
    let mut mv = Conn::new(no_db_via(&s, "mv", "newer_pw")).await?;
    assert_eq!(mv.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}

/// Reads of the accounts table by Tern, counted from the primary's general log.
async fn account_reads(admin: &mut Conn) -> Result<u64> {
    let n: Option<u64> = admin
        .query_first(
            "SELECT COUNT(*) FROM mysql.general_log WHERE command_type = 'Query' \
             AND argument LIKE 'SELECT CAST(User AS CHAR)%'",
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// A flood of wrong passwords re-reads the accounts at most twice a second,
/// however many logins are refused, concurrently or one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_flood_rereads_accounts_at_most_twice_a_second() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; \
             SET GLOBAL general_log = ON",
        )
        .await?;
    let before = account_reads(&mut admin).await?;
    let started = Instant::now();
    let target = local(s.tern.port());
    let flood: Vec<(IpAddr, &str, &str)> = (0..30)
        .map(|_| (ip("127.0.0.1"), APP_USER, "wrong"))
        .collect();
    let refused = logins(target, &flood).await?;
    let mut refusals = refused.len();
    for _ in 0..6 {
        let one = login_from(ip("127.0.0.1"), target, APP_USER, "wrong").await?;
        assert!(
            matches!(one, Outcome::Refused { code: 1045, .. }),
            "{one:?}"
        );
        refusals += 1;
    }
    let elapsed = started.elapsed();
    let reads = account_reads(&mut admin).await? - before;
    admin.query_drop("SET GLOBAL general_log = OFF").await?;
    assert!(
        refused
            .iter()
            .all(|o| matches!(o, Outcome::Refused { code: 1045, .. })),
        "{refused:?}"
    );
    // One read per started half second, plus the one under way at each end.
    let bound = elapsed.as_millis() as u64 / 500 + 2;
    assert!(reads >= 1, "no re-read after {refusals} refusals");
    assert!(
        reads <= bound,
        "{reads} reads for {refusals} refusals in {elapsed:?} (bound {bound})"
    );
    // And the right password still gets in at once.
    let ok = login_from(ip("127.0.0.1"), target, APP_USER, APP_PASSWORD).await?;
    assert_eq!(ok.account(), Some("app@%"));
    Ok(())
}

/// A client Tern cannot make the server see (here ::1, while the server is
/// reached over IPv4 from 127.0.0.1) is refused when Tern's own address would
/// land on another account than the client's: otherwise the session would get
/// that account's password check and privileges. Where both addresses land on
/// the same account the login goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refused_when_tern_would_land_on_another_account() -> Result<()> {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; nothing to test");
        return Ok(());
    }
    let s = Setup::start(0, &[])?;
    // Dual-stack: IPv4 clients arrive as ::ffff:127.0.0.x.
    let dual = TernProcess::start_with(vec![
        "serve".into(),
        "--listen".into(),
        "[::]:0".into(),
        "--primary".into(),
        s.cluster.primary().addr(),
        "--admin-user".into(),
        ADMIN_USER.into(),
        "--admin-password".into(),
        ADMIN_PASSWORD.into(),
    ])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE USER six@'::1' IDENTIFIED BY 'v6_pw'; \
             CREATE USER six@'127.0.0.1' IDENTIFIED BY 'v4_pw'",
        )
        .await?;
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, dual.port()));
    for password in ["v6_pw", "v4_pw"] {
        let outcome = login_from(ip("::1"), v6, "six", password).await?;
        assert_eq!(
            outcome,
            Outcome::Refused {
                code: 1045,
                message: "Access denied for user 'six'@'::1' (using password: YES)".into()
            }
        );
    }
    // app@'%' is the account from either address.
    let app = login_from(ip("::1"), v6, APP_USER, APP_PASSWORD).await?;
    assert_eq!(
        app,
        Outcome::In {
            account: "app@%".into(),
            seen_as: "app@127.0.0.1".into()
        }
    );
    // IPv4 clients of the dual-stack listener match by their IPv4 address.
    let cases = [
        (ip("127.0.0.1"), "six", "v4_pw"),
        (ip("127.0.0.1"), "six", "v6_pw"),
        (ip("127.0.0.4"), "six", "v4_pw"),
    ];
    let direct = logins(local(s.cluster.primary().port()), &cases).await?;
    let through = logins(local(dual.port()), &cases).await?;
    assert_eq!(through, direct);
    assert_eq!(direct[0].account(), Some("six@127.0.0.1"));
    Ok(())
}
