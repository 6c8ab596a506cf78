//! Bad input and failures: none of them may crash Tern or disturb other sessions.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::{backend_connections, com_query, server_error, RawClient, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{APP_DATABASE, APP_PASSWORD, APP_USER};
use tokio::io::AsyncReadExt;

/// A session that must keep working while others misbehave.
async fn still_serves(s: &Setup, bystander: &mut Conn) -> Result<()> {
    let v: Option<u32> = bystander.query_first("SELECT 41 + 1").await?;
    ensure!(v == Some(42), "bystander session broken");
    let mut fresh = s.app_via_tern().await?;
    let v: Option<u32> = fresh.query_first("SELECT 1").await?;
    ensure!(v == Some(1), "new session broken");
    ensure!(s.tern.is_running(), "tern died:\n{}", s.tern.log_tail());
    Ok(())
}

fn err_code(payload: &[u8]) -> Option<u16> {
    (payload.first() == Some(&0xFF)).then(|| u16::from_le_bytes([payload[1], payload[2]]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_and_silent_handshakes() -> Result<()> {
    let s = Setup::start(0, &["--handshake-timeout-secs", "2"])?;
    let mut bystander = s.app_via_tern().await?;

    // Garbage instead of a handshake response: the server's "Bad handshake".
    let mut c = RawClient::connect(s.tern.port()).await?;
    c.read().await?;
    c.send(1, b"\x00\x01garbage that is not a handshake response")
        .await?;
    let reply = c.read().await?;
    assert_eq!(err_code(&reply.payload), Some(1043), "{:?}", reply.payload);
    assert!(c.is_closed().await);

    // HTTP at the MySQL port.
    let mut c = RawClient::connect(s.tern.port()).await?;
    c.read().await?;
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await?;
    // The header's sequence byte is the space after GET: the server's 1156.
    assert_eq!(err_code(&c.read().await?.payload), Some(1156));
    assert!(c.is_closed().await);

    // A header that promises more bytes than ever arrive, then a hang-up.
    let mut c = RawClient::connect(s.tern.port()).await?;
    c.read().await?;
    c.send_raw(&[100, 0, 0, 1, 1, 2, 3]).await?;
    drop(c);

    // A client that connects and says nothing is dropped after the timeout.
    let mut silent = RawClient::connect(s.tern.port()).await?;
    silent.read().await?;
    let started = std::time::Instant::now();
    assert!(silent.is_closed().await);
    assert!(started.elapsed() < Duration::from_secs(10));

    still_serves(&s, &mut bystander).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_out_of_sequence_packets_get_server_errors() -> Result<()> {
    let s = Setup::start(0, &["--max-packet-size", "1048576"])?;
    let mut bystander = s.app_via_tern().await?;

    // Oversized: refused with 1153 as soon as the header says so.
    let mut c =
        RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await?;
    let big = com_query(&format!("SELECT '{}'", "z".repeat(2 * 1024 * 1024)));
    let _ = c.send(0, &big).await;
    let reply = c.read().await?;
    assert_eq!(err_code(&reply.payload), Some(1153));
    assert!(c.is_closed().await);
    // Through a driver it is the same error.
    let mut conn = s.app_via_tern().await?;
    let e = server_error(
        conn.query_drop(format!("SELECT '{}'", "z".repeat(2 * 1024 * 1024)))
            .await,
    );
    assert!(matches!(e, Ok((1153, _, _))) || e.is_err(), "{e:?}");

    // A command that does not start at sequence 0.
    let mut c =
        RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await?;
    c.send(5, &com_query("SELECT 1")).await?;
    let reply = c.read().await?;
    assert_eq!(err_code(&reply.payload), Some(1156));
    assert!(c.is_closed().await);

    // An empty packet and an unknown command byte.
    let mut c =
        RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await?;
    c.send(0, &[]).await?;
    assert_eq!(err_code(&c.read().await?.payload), Some(1047));
    // COM_BINLOG_DUMP: no replication through Tern, refused as the server
    // refuses a user without REPLICATION SLAVE; the session goes on.
    c.send(0, &[0x12, 0, 0, 0, 0]).await?;
    assert_eq!(err_code(&c.read().await?.payload), Some(1227));
    c.send(0, &com_query("SELECT 1")).await?;
    assert_eq!(c.read_query_response().await?.len(), 5);

    still_serves(&s, &mut bystander).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_vanishing_mid_result_frees_its_backend() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut bystander = s.app_via_tern().await?;
    let mut admin = s.admin_direct().await?;
    let baseline = backend_connections(&mut admin, APP_USER).await?;
    for _ in 0..5 {
        let mut c =
            RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await?;
        c.send(
            0,
            &com_query("SELECT seq, REPEAT('r', 1000) FROM seq_1_to_200000"),
        )
        .await?;
        c.read().await?;
        c.read().await?;
        drop(c);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while backend_connections(&mut admin, APP_USER).await? > baseline {
        ensure!(
            std::time::Instant::now() < deadline,
            "backend connections of vanished clients never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    still_serves(&s, &mut bystander).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_killed_mid_query_errors_that_client_only() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut bystander = s.app_via_tern().await?;
    let mut admin = s.admin_direct().await?;
    let mut victim = s.app_via_tern().await?;
    let backend_id: Option<u64> = victim.query_first("SELECT CONNECTION_ID()").await?;
    let backend_id = backend_id.context("connection id")?;
    let running = tokio::spawn(async move { victim.query_drop("SELECT SLEEP(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin
        .query_drop(format!("KILL CONNECTION {backend_id}"))
        .await?;
    let result = tokio::time::timeout(Duration::from_secs(10), running).await??;
    assert!(result.is_err(), "a killed backend must surface as an error");
    still_serves(&s, &mut bystander).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_process_killed_mid_query_then_back() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut victim = s.app_via_tern().await?;
    let running = tokio::spawn(async move { victim.query_drop("SELECT SLEEP(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.cluster.primary().kill9()?;
    let result = tokio::time::timeout(Duration::from_secs(10), running).await??;
    match result {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 2013, "{e:?}"),
        Err(_) => {}
        Ok(()) => panic!("the query survived its server"),
    }
    // While the primary is down a login fails with a clear error, not a hang.
    let down = tokio::time::timeout(Duration::from_secs(15), s.app_via_tern()).await?;
    assert!(down.is_err());
    s.cluster.primary().start_again()?;
    let mut fresh = s.app_via_tern().await?;
    assert_eq!(fresh.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_answers_1040() -> Result<()> {
    let s = Setup::start(0, &["--max-connections", "3"])?;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(s.app_via_tern().await?);
    }
    let refused = server_error(Conn::new(s.tern_opts(APP_USER, APP_PASSWORD)).await)?;
    // Sent before the greeting, so without SQLSTATE, exactly as the server does.
    assert_eq!(refused.0, 1040, "{refused:?}");
    assert_eq!(refused.2, "Too many connections");
    held.pop();
    // The slot is free again once a session ends.
    let mut again = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(c) = s.app_via_tern().await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = again.context("slot never freed")?;
    assert_eq!(again.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}

/// The `mariadb` CLI's Ctrl-C sends `KILL QUERY <id from the greeting>` on a new
/// connection; that id must reach the right backend thread and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_with_greeting_id_stops_that_session_only() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut bystander = s.app_via_tern().await?;
    let mut victim = s.app_via_tern().await?;
    let greeting_id = victim.id();
    let backend_id: Option<u32> = victim.query_first("SELECT CONNECTION_ID()").await?;
    assert_ne!(Some(greeting_id), backend_id, "ids are expected to differ");
    let running = tokio::spawn(async move {
        let r: Result<Option<i64>, _> = victim.query_first("SELECT SLEEP(30)").await;
        r
    });
    let mut admin = s.admin_direct().await?;
    common::await_running(&mut admin, "SELECT SLEEP").await?;
    let mut killer = s.app_via_tern().await?;
    killer
        .query_drop(format!("KILL QUERY {greeting_id}"))
        .await?;
    let result = tokio::time::timeout(Duration::from_secs(10), running).await??;
    // SLEEP returns 1 when interrupted by KILL QUERY.
    assert!(
        matches!(result, Ok(Some(1))) || result.is_err(),
        "{result:?}"
    );
    // Killing a Tern id that does not exist is the server's own error.
    let unknown = server_error(killer.query_drop(format!("KILL {}", u32::MAX - 1)).await)?;
    assert_eq!(unknown.0, 1094, "{unknown:?}");
    still_serves(&s, &mut bystander).await
}

/// Regression: a KILL that did not start with the word KILL (a comment in
/// front or inside, or the `/*! */` form dumps and GUIs use) reached the server
/// with Tern's id untranslated and was answered "Unknown thread id".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_with_comments_names_the_greeting_id() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut killer = s.app_via_tern().await?;
    let mut admin = s.admin_direct().await?;
    for kill in [
        "/* Ctrl-C */ KILL QUERY {id}",
        "KILL /* from a GUI */ QUERY {id}",
        "/*!KILL*/ QUERY {id}",
    ] {
        let mut victim = s.app_via_tern().await?;
        let id = victim.id();
        let running = tokio::spawn(async move {
            let r: Result<Option<i64>, _> = victim.query_first("SELECT SLEEP(30)").await;
            r
        });
        common::await_running(&mut admin, "SELECT SLEEP").await?;
        killer
            .query_drop(kill.replace("{id}", &id.to_string()))
            .await
            .with_context(|| kill.to_string())?;
        let result = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .with_context(|| format!("{kill} did not stop the query"))??;
        // SLEEP returns 1 when interrupted by KILL QUERY.
        assert!(
            matches!(result, Ok(Some(1))) || result.is_err(),
            "{kill}: {result:?}"
        );
    }
    Ok(())
}

/// Regression: 55 sockets that never logged in made real logins get ERROR 1040
/// until the handshake timeout. Pending logins have their own bound now, and a
/// flood far above it sheds its own oldest sockets while real logins go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_do_not_lock_out_real_logins() -> Result<()> {
    let s = Setup::start(
        0,
        &[
            "--max-connections",
            "10",
            "--max-pending-logins",
            "32",
            "--handshake-timeout-secs",
            "60",
        ],
    )?;
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(tokio::net::TcpStream::connect(("127.0.0.1", s.tern.port())).await?);
    }
    // Real logins keep working, and they count against --max-connections.
    let mut held = Vec::new();
    for i in 0..10 {
        let started = std::time::Instant::now();
        let c = tokio::time::timeout(Duration::from_secs(10), s.app_via_tern())
            .await
            .with_context(|| format!("login {i} hung behind the silent sockets"))??;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "login {i} was slow"
        );
        held.push(c);
    }
    let refused = server_error(Conn::new(s.tern_opts(APP_USER, APP_PASSWORD)).await)?;
    assert_eq!(refused.0, 1040, "the 11th session: {refused:?}");
    // The flood was shed down to the bound: most silent sockets are closed.
    let mut closed = 0;
    for sock in &mut silent {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), sock.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue, // the greeting
                Err(_) => break,       // still open
            }
        }
    }
    assert!(
        closed >= 400 - 32,
        "only {closed} of 400 silent sockets were shed"
    );
    Ok(())
}
