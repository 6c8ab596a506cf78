//! TLS from clients: the `mariadb` CLI connects with --ssl and sees a cipher.

mod common;

use std::process::Command;

use anyhow::{ensure, Result};
use common::Setup;

fn self_signed(dir: &std::path::Path) -> Result<(String, String)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()?;
    ensure!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((cert.display().to_string(), key.display().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_connects_with_ssl_and_shows_a_cipher() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (cert, key) = self_signed(dir.path())?;
    let s = Setup::start(0, &["--tls-cert", &cert, "--tls-key", &key])?;
    let port = s.tern.port().to_string();
    let out = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--ssl",
            "--ssl-verify-server-cert=0",
            "-h127.0.0.1",
            "-uapp",
            "-papp_pw",
            "-P",
            &port,
            "app",
        ])
        .args(["-e", "status; SELECT 'over tls' AS t"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "mariadb --ssl failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.tern.log_tail()
    );
    let cipher_line = stdout
        .lines()
        .find(|l| l.contains("Cipher in use"))
        .unwrap_or_default();
    assert!(
        cipher_line.contains("TLS_") || cipher_line.contains("ECDHE"),
        "no cipher shown:\n{stdout}"
    );
    assert!(stdout.contains("over tls"));

    // Plain clients still work next to TLS ones, and PyMySQL-style ssl works too.
    let plain = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--skip-ssl",
            "-h127.0.0.1",
            "-uapp",
            "-papp_pw",
            "-P",
            &port,
            "app",
            "-e",
            "SELECT 2",
        ])
        .output()?;
    ensure!(
        plain.status.success(),
        "plain client failed: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_request_without_tls_configured_is_refused_cleanly() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let port = s.tern.port().to_string();
    let out = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--ssl",
            "--ssl-verify-server-cert=0",
            "-h127.0.0.1",
            "-uapp",
            "-papp_pw",
            "-P",
            &port,
            "app",
            "-e",
            "SELECT 1",
        ])
        .output()?;
    // The greeting does not offer SSL, so the client either refuses or goes plain;
    // either way Tern must still be up.
    let _ = out;
    assert!(s.tern.is_running());
    let mut c = s.app_via_tern().await?;
    use mysql_async::prelude::Queryable;
    assert_eq!(c.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}

/// The `mariadb` CLI speaking caching_sha2_password (`--default-auth`).
fn sha2_cli(port: &str, password: &str, tls: bool) -> Result<std::process::Output> {
    Ok(Command::new("mariadb")
        .args(["--no-defaults", "--default-auth=caching_sha2_password"])
        .args(if tls {
            ["--ssl", "--ssl-verify-server-cert=0"]
        } else {
            ["--skip-ssl", "--skip-ssl"]
        })
        .args(["-h127.0.0.1", "-uapp", "-P", port, "-N", "-B", "app"])
        .arg(format!("-p{password}"))
        .args(["-e", "SELECT CURRENT_USER()"])
        .output()?)
}

/// caching_sha2_password like a server does it: without a cached digest the
/// fast-path response is not enough (plain TCP: switched to
/// mysql_native_password); a full authentication over TLS fills the cache;
/// from then on the fast path answers "fast auth OK" on plain TCP too, and a
/// wrong password is refused with the server's 1045.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_sha2_fast_path_after_a_full_authentication_over_tls() -> Result<()> {
    use common::RawClient;
    let dir = tempfile::tempdir()?;
    let (cert, key) = self_signed(dir.path())?;
    let s = Setup::start(
        0,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--log",
            "tern=debug",
        ],
    )?;
    let port = s.tern.port();
    let sha2 = "caching_sha2_password";

    let (_, reply) = RawClient::begin_login(port, "app", "app_pw", None, 0, sha2).await?;
    ensure!(
        reply.payload.starts_with(b"\xFEmysql_native_password\0"),
        "expected a switch to mysql_native_password, got {:?}",
        reply.payload
    );
    // A plain-TCP CLI still gets in through that switch.
    let out = sha2_cli(&port.to_string(), "app_pw", false)?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sha2_cli(&port.to_string(), "app_pw", true)?;
    ensure!(
        out.status.success(),
        "full authentication over TLS failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.tern.log_tail()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app@%");

    let (_, reply) = RawClient::begin_login(port, "app", "app_pw", None, 0, sha2).await?;
    assert_eq!(
        &reply.payload[..],
        &[0x01, 0x03],
        "fast auth OK expected\n{}",
        s.tern.log_tail()
    );
    let (mut c, _) = RawClient::begin_login(port, "app", "app_pw", None, 0, sha2).await?;
    let ok = c.read().await?;
    assert_eq!(ok.payload.first(), Some(&0x00), "OK after fast auth");

    // The real client on plain TCP, through the fast path.
    let out = sha2_cli(&port.to_string(), "app_pw", false)?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app@%");

    // COM_CHANGE_USER speaking caching_sha2_password (its answer is to the
    // greeting's nonce) takes the fast path too, and the session is usable.
    let mut c = RawClient::login(port, "app", "app_pw", Some("app"), 0).await?;
    let mut change = vec![0x11];
    change.extend_from_slice(b"app\0");
    let scramble = common::sha2_scramble(&c.nonce, "app_pw");
    change.push(scramble.len() as u8);
    change.extend_from_slice(&scramble);
    change.extend_from_slice(b"app\0");
    change.extend_from_slice(&45u16.to_le_bytes());
    change.extend_from_slice(b"caching_sha2_password\0");
    c.send(0, &change).await?;
    let reply = c.read().await?;
    assert_eq!(
        &reply.payload[..],
        &[0x01, 0x03],
        "fast auth OK on change user"
    );
    let ok = c.read().await?;
    assert_eq!(ok.payload.first(), Some(&0x00), "{:?}", ok.payload);
    c.send(0, &common::com_query("SELECT CURRENT_USER()"))
        .await?;
    let rows = c.read_query_response().await?;
    assert!(
        rows.iter().any(|p| p.payload.ends_with(b"app@%")),
        "{rows:?}"
    );

    // A wrong password misses the cache and ends where the server would end.
    let (_, reply) = RawClient::begin_login(port, "app", "nope", None, 0, sha2).await?;
    ensure!(
        reply
            .payload
            .starts_with(b"\xFF\x15\x04#28000Access denied for user 'app'@'127.0.0.1'"),
        "{:?}",
        String::from_utf8_lossy(&reply.payload)
    );
    let out = sha2_cli(&port.to_string(), "nope", true)?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1045") && err.contains("Access denied"),
        "{err}"
    );

    // A changed password: the old one no longer gets in (the server refuses the
    // backend login even while Tern's digest is stale), the new one does by the
    // second attempt at the latest (the first may meet the stale digest).
    let mut admin = s.admin_direct().await?;
    use mysql_async::prelude::Queryable;
    admin
        .query_drop("ALTER USER 'app'@'%' IDENTIFIED BY 'app_pw2'")
        .await?;
    let old = sha2_cli(&port.to_string(), "app_pw", false)?;
    assert!(!old.status.success(), "the old password still logs in");
    let new_ok = (0..2)
        .any(|_| sha2_cli(&port.to_string(), "app_pw2", false).is_ok_and(|o| o.status.success()));
    assert!(new_ok, "the new password is refused\n{}", s.tern.log_tail());
    Ok(())
}
