//! A server that closes a connection: what the client sees through Tern must be
//! what it sees from the server itself, down to the kind of close.
//!
//! Each scenario runs twice with the same client, once against the primary and
//! once through Tern, and the two observations are compared: for the `mariadb`
//! CLI (`--skip-reconnect`) its exit status and error lines, for a raw protocol
//! client every packet it receives (with sequence ids) and how the stream ends.
//! MariaDB 10.11 sends nothing before closing a timed-out, killed or shut-down
//! connection, so any packet Tern adds shows up as a difference; the CLI once
//! printed `ERROR 2027 Received malformed packet` through Tern where the server
//! gives `2006 Server has gone away` or `2013 Lost connection`.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::{com_query, RawClient, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern::protocol::framing::FrameError;
use tern_tests::cluster::{APP_DATABASE, APP_PASSWORD, APP_USER};
use tern_tests::process::wait_timeout;

/// Comfortably past the one-second timeouts the scenarios set.
const PAST_TIMEOUT: Duration = Duration::from_millis(2500);
/// How long a raw client listens for anything unsolicited on an idle connection.
const IDLE_LISTEN: Duration = Duration::from_millis(300);
/// Bound on every read of a raw client and on a CLI run.
const BOUND: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// The `mariadb` CLI
// ---------------------------------------------------------------------------

/// A `mariadb` CLI process reading statements from a pipe, which it runs as they
/// arrive, so that a script can pause between statements.
struct Cli {
    child: Child,
}

/// What a CLI run ends with: exit status and its `ERROR ...` lines.
#[derive(Debug, PartialEq, Eq)]
struct CliEnd {
    status: Option<i32>,
    errors: Vec<String>,
}

impl Cli {
    fn start(port: u16) -> Result<Cli> {
        let child = Command::new("mariadb")
            .args([
                "--no-defaults",
                "--protocol=tcp",
                "-h127.0.0.1",
                &format!("-P{port}"),
                &format!("-u{APP_USER}"),
                &format!("-p{APP_PASSWORD}"),
                "--skip-reconnect",
                APP_DATABASE,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the mariadb CLI")?;
        Ok(Cli { child })
    }

    fn send(&mut self, sql: &str) -> Result<()> {
        let stdin = self.child.stdin.as_mut().context("CLI stdin")?;
        // The CLI may already be gone (that is what some scenarios test).
        let _ = stdin.write_all(format!("{sql}\n").as_bytes());
        let _ = stdin.flush();
        Ok(())
    }

    fn finish(mut self) -> Result<CliEnd> {
        drop(self.child.stdin.take());
        let status = wait_timeout(&mut self.child, BOUND)?;
        let Some(status) = status else {
            let _ = self.child.kill();
            bail!("the mariadb CLI did not finish within {BOUND:?}");
        };
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut stderr)?;
        }
        let errors = stderr
            .lines()
            .filter(|l| l.starts_with("ERROR"))
            .map(normalise_ids)
            .collect();
        Ok(CliEnd {
            status: status.code(),
            errors,
        })
    }
}

/// Thread ids differ between the server and Tern: every number in an error's
/// message (after its code and SQLSTATE) becomes `N`.
fn normalise_ids(line: &str) -> String {
    let (head, message) = match line.find("): ") {
        Some(at) => line.split_at(at + 3),
        None => (line, ""),
    };
    let mut out = head.to_string();
    let mut in_number = false;
    for ch in message.chars() {
        if ch.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

fn assert_same_cli_end(direct: &CliEnd, through: &CliEnd, what: &str) {
    assert_eq!(
        direct, through,
        "{what}: the mariadb CLI ends differently through Tern (left: direct, right: Tern)"
    );
}

// ---------------------------------------------------------------------------
// The raw protocol client
// ---------------------------------------------------------------------------

/// Everything a raw client observed, in order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Transcript(Vec<String>);

impl Transcript {
    fn note(&mut self, event: impl Into<String>) {
        self.0.push(event.into());
    }

    /// Whether the stream has ended (nothing more can be observed).
    fn ended(&self) -> bool {
        self.0
            .last()
            .is_some_and(|e| e.starts_with("closed:") || e.starts_with("send failed"))
    }
}

/// One packet as the test compares it: sequence id and payload, with an ERR
/// packet reduced to code, SQLSTATE and its message without numbers.
fn describe_packet(seq: u8, payload: &[u8]) -> String {
    if payload.first() == Some(&0xFF) && payload.len() >= 3 {
        let code = u16::from_le_bytes([payload[1], payload[2]]);
        let (state, message) = if payload.get(3) == Some(&b'#') && payload.len() >= 9 {
            (
                String::from_utf8_lossy(&payload[4..9]).into_owned(),
                &payload[9..],
            )
        } else {
            (String::new(), &payload[3..])
        };
        let message = normalise_ids(&format!("): {}", String::from_utf8_lossy(message)));
        return format!("seq {seq} ERR {code} #{state} {}", &message[3..]);
    }
    format!("seq {seq} {payload:02x?}")
}

fn describe_end(error: &FrameError) -> String {
    match error {
        FrameError::Closed => "closed: end of stream".into(),
        FrameError::Io(e) => format!("closed: {:?}", e.kind()),
        other => format!("closed: {other}"),
    }
}

/// Reads packets until the stream ends or `quiet` passes without one.
async fn listen(c: &mut RawClient, quiet: Duration, t: &mut Transcript) {
    loop {
        match tokio::time::timeout(quiet, c.reader.read_packet(&mut c.stream, None, 1 << 30)).await
        {
            Err(_) => {
                t.note("quiet");
                return;
            }
            Ok(Ok(p)) => t.note(describe_packet(p.seq, &p.payload)),
            Ok(Err(e)) => {
                t.note(describe_end(&e));
                return;
            }
        }
    }
}

/// Sends a statement on a connection that may be gone and records what comes
/// back until the stream ends.
async fn statement_after(c: &mut RawClient, sql: &str, t: &mut Transcript) {
    if t.ended() {
        return;
    }
    if let Err(e) = c.send(0, &com_query(sql)).await {
        let kind = e
            .downcast_ref::<std::io::Error>()
            .map_or_else(|| e.to_string(), |e| format!("{:?}", e.kind()));
        t.note(format!("send failed: {kind}"));
        // What a client can still read after a failed write (nothing, or the
        // end of the stream) is part of what it sees.
        listen(c, IDLE_LISTEN, t).await;
        return;
    }
    t.note(format!("sent {sql}"));
    listen(c, BOUND, t).await;
}

/// How a raw client finds out that its idle connection is gone.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// It listens first (a closed connection shows at once), then sends a
    /// statement if the connection still looks open.
    ListenFirst,
    /// It sends its next statement straight away, as an application does.
    StatementAtOnce,
}

const PROBES: [Probe; 2] = [Probe::ListenFirst, Probe::StatementAtOnce];

/// What a raw client sees when it comes back to an idle connection.
async fn probe_idle(c: &mut RawClient, how: Probe) -> Transcript {
    let mut t = Transcript::default();
    if let Probe::ListenFirst = how {
        listen(c, IDLE_LISTEN, &mut t).await;
    }
    statement_after(c, "SELECT 2", &mut t).await;
    t
}

async fn raw_login(port: u16) -> Result<RawClient> {
    RawClient::login(port, APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await
}

/// Runs a statement that must succeed on a raw connection.
async fn raw_ok(c: &mut RawClient, sql: &str) -> Result<()> {
    c.send(0, &com_query(sql)).await?;
    let response = c.read_query_response().await?;
    ensure!(
        response.first().and_then(|p| p.payload.first()) != Some(&0xFF),
        "{sql}: {:?}",
        response
            .first()
            .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
    );
    Ok(())
}

/// The server thread behind a raw connection (through Tern: the backend's).
async fn raw_connection_id(c: &mut RawClient) -> Result<u64> {
    c.send(0, &com_query("SELECT CONNECTION_ID()")).await?;
    let response = c.read_query_response().await?;
    // Column count, column, EOF, row, EOF.
    let row = response.get(3).context("no row")?;
    let text = row.payload.get(1..).context("empty row")?;
    Ok(std::str::from_utf8(text)?.parse()?)
}

fn assert_same_transcript(direct: &Transcript, through: &Transcript, what: &str) {
    assert_eq!(
        direct, through,
        "{what}: the raw client sees something else through Tern (left: direct, right: Tern)"
    );
}

/// The primary's `app` sessions, by thread id.
async fn app_threads(admin: &mut Conn) -> Result<Vec<u64>> {
    Ok(admin
        .query(format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{APP_USER}' \
             AND COMMAND <> 'Killed' ORDER BY ID"
        ))
        .await?)
}

/// Polls until the primary has exactly `n` `app` sessions; returns them.
async fn await_app_threads(admin: &mut Conn, n: usize) -> Result<Vec<u64>> {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let ids = app_threads(admin).await?;
        if ids.len() == n {
            return Ok(ids);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("expected {n} app sessions on the primary, found {ids:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a CLI has run its statements up to `SELECT GET_LOCK('<name>', 0)`:
/// the CLI's output is not seen while it runs, the lock is.
async fn await_marker(admin: &mut Conn, name: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let holder: Option<Option<u64>> = admin
            .query_first(format!("SELECT IS_USED_LOCK('{name}')"))
            .await?;
        if holder.flatten().is_some() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no session took the lock {name}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one `app` session on the primary (each test runs its victims one at a
/// time), found from the side, as a DBA would.
async fn app_thread(admin: &mut Conn) -> Result<u64> {
    let ids = await_app_threads(admin, 1).await?;
    ids.first().copied().context("no app session")
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// `idle_transaction_timeout`: the server resets a connection idle in a
/// transaction; the CLI's next statement gets `2006 Server has gone away`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_transaction_timeout_looks_like_server() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    let mut ends = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let mut cli = Cli::start(port)?;
        cli.send("SET idle_transaction_timeout=1; BEGIN; SELECT GET_LOCK('ready', 0);")?;
        await_marker(&mut admin, "ready").await?;
        tokio::time::sleep(PAST_TIMEOUT).await;
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert!(!ends[0].errors.is_empty(), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "idle_transaction_timeout");

    for how in PROBES {
        let mut seen = Vec::new();
        for port in [s.cluster.primary().port(), s.tern.port()] {
            let mut c = raw_login(port).await?;
            raw_ok(&mut c, "SET idle_transaction_timeout=1").await?;
            raw_ok(&mut c, "BEGIN").await?;
            tokio::time::sleep(PAST_TIMEOUT).await;
            seen.push(probe_idle(&mut c, how).await);
        }
        assert!(seen[0].ended(), "{how:?}: {:?}", seen[0]);
        assert_same_transcript(
            &seen[0],
            &seen[1],
            &format!("idle_transaction_timeout, {how:?}"),
        );
    }
    Ok(())
}

/// `wait_timeout`: the same for a session idle outside a transaction. With a
/// replica behind Tern the next read must not be served there either: the
/// session is gone with its primary connection, as on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_looks_like_server() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    let mut ends = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let mut cli = Cli::start(port)?;
        cli.send("SET wait_timeout=1; SELECT GET_LOCK('ready', 0);")?;
        await_marker(&mut admin, "ready").await?;
        tokio::time::sleep(PAST_TIMEOUT).await;
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "wait_timeout");

    for how in PROBES {
        let mut seen = Vec::new();
        for port in [s.cluster.primary().port(), s.tern.port()] {
            let mut c = raw_login(port).await?;
            raw_ok(&mut c, "SET wait_timeout=1").await?;
            tokio::time::sleep(PAST_TIMEOUT).await;
            seen.push(probe_idle(&mut c, how).await);
        }
        assert!(seen[0].ended(), "{how:?}: {:?}", seen[0]);
        assert_same_transcript(&seen[0], &seen[1], &format!("wait_timeout, {how:?}"));
    }
    Ok(())
}

/// `KILL CONNECTION` of a session while it runs a statement: the server cuts
/// the statement off without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_connection_mid_statement_looks_like_server() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;

    // The CLI's session is killed from the side, on the server, by thread id.
    let mut ends = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        await_app_threads(&mut admin, 0).await?;
        let mut cli = Cli::start(port)?;
        cli.send("SELECT SLEEP(10);")?;
        let victim = app_thread(&mut admin).await?;
        common::await_running(&mut admin, "SELECT SLEEP").await?;
        admin
            .query_drop(format!("KILL CONNECTION {victim}"))
            .await?;
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "KILL CONNECTION mid-statement");

    // The raw client's session is killed by another client on the same port.
    let mut seen = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let mut c = raw_login(port).await?;
        let id = raw_connection_id(&mut c).await?;
        c.send(0, &com_query("SELECT SLEEP(10)")).await?;
        common::await_running(&mut admin, "SELECT SLEEP").await?;
        let mut killer = raw_login(port).await?;
        raw_ok(&mut killer, &format!("KILL CONNECTION {id}")).await?;
        let mut t = Transcript::default();
        listen(&mut c, BOUND, &mut t).await;
        statement_after(&mut c, "SELECT 2", &mut t).await;
        seen.push(t);
    }
    assert!(seen[0].ended(), "{:?}", seen[0]);
    assert_same_transcript(&seen[0], &seen[1], "KILL CONNECTION mid-statement");
    Ok(())
}

/// `KILL` of an idle session, then a statement from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_idle_session_then_statement_looks_like_server() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;

    let mut ends = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        await_app_threads(&mut admin, 0).await?;
        let mut cli = Cli::start(port)?;
        cli.send("SELECT GET_LOCK('ready', 0);")?;
        await_marker(&mut admin, "ready").await?;
        let victim = app_thread(&mut admin).await?;
        admin
            .query_drop(format!("KILL CONNECTION {victim}"))
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "KILL of an idle session");

    for how in PROBES {
        let mut seen = Vec::new();
        for port in [s.cluster.primary().port(), s.tern.port()] {
            let mut c = raw_login(port).await?;
            let id = raw_connection_id(&mut c).await?;
            let mut killer = raw_login(port).await?;
            raw_ok(&mut killer, &format!("KILL {id}")).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            seen.push(probe_idle(&mut c, how).await);
        }
        assert!(seen[0].ended(), "{how:?}: {:?}", seen[0]);
        assert_same_transcript(
            &seen[0],
            &seen[1],
            &format!("KILL of an idle session, {how:?}"),
        );
    }
    Ok(())
}

/// The primary shuts down (SIGTERM) while sessions idle; then each sends a
/// statement. Through Tern that must look like the server going away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_shutdown_looks_like_server_gone() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let ports = [s.cluster.primary().port(), s.tern.port()];
    let mut admin = s.admin_direct().await?;
    let mut clis = Vec::new();
    let mut raws = Vec::new();
    for port in ports {
        let mut cli = Cli::start(port)?;
        let marker = format!("ready_{port}");
        cli.send(&format!("SELECT GET_LOCK('{marker}', 0);"))?;
        await_marker(&mut admin, &marker).await?;
        clis.push(cli);
        for how in PROBES {
            let mut c = raw_login(port).await?;
            raw_ok(&mut c, "SELECT 1").await?;
            raws.push((how, c));
        }
    }
    await_app_threads(&mut admin, 6).await?;
    drop(admin);
    s.cluster.primary().stop()?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut ends = Vec::new();
    for mut cli in clis {
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    let mut seen = Vec::new();
    for (how, mut c) in raws {
        seen.push(probe_idle(&mut c, how).await);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "primary shutdown");
    assert!(
        ends[1].errors.iter().all(|e| !e.contains("2027")),
        "{:?}",
        ends[1]
    );
    for (n, how) in PROBES.iter().enumerate() {
        let (direct, through) = (&seen[n], &seen[PROBES.len() + n]);
        assert!(direct.ended(), "{how:?}: {direct:?}");
        assert_same_transcript(direct, through, &format!("primary shutdown, {how:?}"));
    }
    ensure!(s.tern.is_running(), "tern died:\n{}", s.tern.log_tail());
    Ok(())
}

/// Through Tern a plain read runs on a replica, but a `KILL` of the session
/// reaches its primary thread: the client must lose its connection then, as it
/// does on the server, not receive the replica's answer when the statement
/// ends and lose the connection afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_connection_during_replica_read_looks_like_server() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    let replica_id = s.cluster.replicas()[0].server_id();
    // Reads reach the replica once Tern's monitor has it in rotation.
    let mut probe = s.app_via_tern().await?;
    let deadline = tokio::time::Instant::now() + BOUND;
    while probe
        .query_first::<u32, _>(format!("SELECT {}", tern_tests::cluster::WHOAMI))
        .await?
        != Some(replica_id)
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "reads never reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(probe);

    let mut ends = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        await_app_threads(&mut admin, 0).await?;
        let mut cli = Cli::start(port)?;
        cli.send("SELECT SLEEP(10);")?;
        let victim = app_thread(&mut admin).await?;
        // Through Tern the statement runs on the replica, out of the primary's
        // sight; a KILL that lands before it starts ends the same way.
        tokio::time::sleep(Duration::from_millis(500)).await;
        admin
            .query_drop(format!("KILL CONNECTION {victim}"))
            .await?;
        cli.send("SELECT 2;")?;
        ends.push(cli.finish()?);
    }
    assert_eq!(ends[0].status, Some(1), "{:?}", ends[0]);
    assert_same_cli_end(&ends[0], &ends[1], "KILL CONNECTION during a replica read");

    let mut seen = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        await_app_threads(&mut admin, 0).await?;
        let mut c = raw_login(port).await?;
        let victim = app_thread(&mut admin).await?;
        c.send(0, &com_query("SELECT SLEEP(10)")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut killer = raw_login(port).await?;
        raw_ok(&mut killer, &format!("KILL CONNECTION {victim}")).await?;
        let started = std::time::Instant::now();
        let mut t = Transcript::default();
        listen(&mut c, BOUND, &mut t).await;
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "the client learned of the KILL only after {:?}: {t:?}",
            started.elapsed()
        );
        seen.push(t);
    }
    assert!(seen[0].ended(), "{:?}", seen[0]);
    assert_same_transcript(&seen[0], &seen[1], "KILL CONNECTION during a replica read");
    Ok(())
}

/// A replica that closes a session's connection to it (here a `KILL` there) is
/// not the session's server going away: the next read is retried elsewhere
/// and the client sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_closing_session_connection_read_retried() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let replica_id = s.cluster.replicas()[0].server_id();
    let mut replica_admin = Conn::new(s.cluster.replicas()[0].opts(
        tern_tests::cluster::ADMIN_USER,
        tern_tests::cluster::ADMIN_PASSWORD,
        None,
    ))
    .await?;
    let mut c = s.app_via_tern().await?;
    let deadline = tokio::time::Instant::now() + BOUND;
    while c
        .query_first::<u32, _>(format!("SELECT {}", tern_tests::cluster::WHOAMI))
        .await?
        != Some(replica_id)
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "reads never reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids = app_threads(&mut replica_admin).await?;
    ensure!(ids.len() == 1, "app sessions on the replica: {ids:?}");
    replica_admin
        .query_drop(format!("KILL CONNECTION {}", ids[0]))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v: Option<u32> = c.query_first("SELECT 40 + 2").await?;
    ensure!(v == Some(42), "read after the replica's close: {v:?}");
    let id: Option<u32> = c
        .query_first(format!("SELECT {}", tern_tests::cluster::WHOAMI))
        .await?;
    ensure!(id.is_some(), "no server id");
    ensure!(s.tern.is_running(), "tern died:\n{}", s.tern.log_tail());
    Ok(())
}
