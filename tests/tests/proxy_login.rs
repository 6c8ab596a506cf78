//! Logins through Tern: real accounts, real grants, the server's own refusals.

mod common;

use anyhow::Result;
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::{ChangeUserOpts, Conn};
use tern_tests::cluster::{APP_PASSWORD, APP_USER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_uses_the_clients_own_account_and_grants() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE USER 'reader'@'%' IDENTIFIED BY 'reader_pw'; GRANT SELECT ON app.* TO 'reader'@'%'; CREATE TABLE app.g (id INT PRIMARY KEY)")
        .await?;

    let mut via = Conn::new(s.tern_opts("reader", "reader_pw")).await?;
    let who: Option<String> = via.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("reader@%"));
    let through = server_error(via.query_drop("INSERT INTO app.g VALUES (1)").await)?;
    let mut direct = Conn::new(s.direct_opts("reader", "reader_pw")).await?;
    let straight = server_error(direct.query_drop("INSERT INTO app.g VALUES (1)").await)?;
    assert_eq!(through.0, 1142, "{through:?}");
    assert_eq!(through, straight);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_get_1045_like_the_server() -> Result<()> {
    let s = Setup::start(0, &[])?;
    for (user, password) in [(APP_USER, "wrong"), ("nobody", "x"), (APP_USER, "")] {
        let through = server_error(Conn::new(s.tern_opts(user, password)).await)?;
        let direct = server_error(Conn::new(s.direct_opts(user, password)).await)?;
        assert_eq!(through, direct, "user {user} password {password:?}");
        assert_eq!(through.0, 1045);
        assert_eq!(through.1, "28000");
    }
    // A refused login disturbs nobody: the right password still works.
    let mut ok = s.app_via_tern().await?;
    assert_eq!(ok.query_first::<u8, _>("SELECT 1").await?, Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_password_and_new_account_are_picked_up() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    // Logging in once makes Tern cache the accounts table.
    drop(s.app_via_tern().await?);
    admin
        .query_drop(
            "CREATE USER 'late'@'%' IDENTIFIED BY 'late_pw'; GRANT SELECT ON app.* TO 'late'@'%'",
        )
        .await?;
    let mut late = Conn::new(s.tern_opts("late", "late_pw")).await?;
    assert_eq!(late.query_first::<u8, _>("SELECT 1").await?, Some(1));
    admin
        .query_drop("ALTER USER 'late'@'%' IDENTIFIED BY 'new_pw'")
        .await?;
    let refused = server_error(Conn::new(s.tern_opts("late", "late_pw")).await)?;
    assert_eq!(refused.0, 1045);
    let mut again = Conn::new(s.tern_opts("late", "new_pw")).await?;
    assert_eq!(again.query_first::<u8, _>("SELECT 1").await?, Some(1));
    // An account without a password logs in with an empty one, and only so.
    admin
        .query_drop("CREATE USER 'nopw'@'%'; GRANT SELECT ON app.* TO 'nopw'@'%'")
        .await?;
    let mut nopw = Conn::new(s.tern_opts("nopw", "")).await?;
    assert_eq!(
        nopw.query_first::<String, _>("SELECT CURRENT_USER()")
            .await?
            .as_deref(),
        Some("nopw@%")
    );
    assert_eq!(
        server_error(Conn::new(s.tern_opts("nopw", "x")).await)?.0,
        1045
    );
    // Locked accounts stay locked.
    admin
        .query_drop("CREATE USER 'locked'@'%' IDENTIFIED BY 'pw' ACCOUNT LOCK; GRANT SELECT ON app.* TO 'locked'@'%'")
        .await?;
    assert!(Conn::new(s.tern_opts("locked", "pw")).await.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_reauthenticates_and_resets_the_session() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE USER 'other'@'%' IDENTIFIED BY 'other_pw'; GRANT SELECT ON app.* TO 'other'@'%'")
        .await?;
    let mut conn = s.app_via_tern().await?;
    conn.query_drop("SET @marker = 42").await?;
    let to_other = ChangeUserOpts::default()
        .with_user(Some("other".into()))
        .with_pass(Some("other_pw".into()));
    conn.change_user(to_other).await?;
    let who: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("other@%"));
    let marker: Option<Option<u32>> = conn.query_first("SELECT @marker").await?;
    assert_eq!(
        marker,
        Some(None),
        "COM_CHANGE_USER must reset user variables"
    );

    // A wrong password is refused for real.
    let bad = ChangeUserOpts::default()
        .with_user(Some(APP_USER.into()))
        .with_pass(Some("not-the-password".into()));
    let refused = conn.change_user(bad).await;
    assert!(
        refused.is_err(),
        "change_user with a wrong password succeeded"
    );
    // And the right one works.
    let mut conn = s.app_via_tern().await?;
    let good = ChangeUserOpts::default()
        .with_user(Some(APP_USER.into()))
        .with_pass(Some(APP_PASSWORD.into()));
    conn.change_user(good).await?;
    let who: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("app@%"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_resets_the_backend_session() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut conn = s.app_via_tern().await?;
    conn.query_drop("SET @v = 7; CREATE TEMPORARY TABLE tmp_reset (x INT)")
        .await?;
    conn.reset().await?;
    let v: Option<Option<u32>> = conn.query_first("SELECT @v").await?;
    assert_eq!(v, Some(None));
    let gone = server_error(conn.query_drop("SELECT * FROM tmp_reset").await)?;
    assert_eq!(gone.0, 1146);
    Ok(())
}

/// With `--backend-socket auto` sessions reach a co-located server through its
/// unix socket (the server sees them as `user@localhost`), an account that
/// exists only for the TCP address still logs in (the socket refusal is
/// retried over TCP), and a socket that disappears sends sessions to TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_socket_auto_uses_the_socket_and_falls_back_for_host_bound_accounts() -> Result<()>
{
    let s = Setup::start(0, &["--backend-socket", "auto"])?;
    let mut app = s.app_via_tern().await?;
    let who: Option<String> = app.query_first("SELECT USER()").await?;
    assert_eq!(who.as_deref(), Some("app@localhost"));

    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE USER 'tcponly'@'127.0.0.1' IDENTIFIED BY 'tcp_pw'; GRANT SELECT ON app.* TO 'tcponly'@'127.0.0.1'")
        .await?;
    let mut tcp = Conn::new(s.tern_opts("tcponly", "tcp_pw")).await?;
    let who: Option<String> = tcp.query_first("SELECT CURRENT_USER()").await?;
    assert_eq!(who.as_deref(), Some("tcponly@127.0.0.1"));
    // And the wrong password is still refused, with the server's words.
    let through = server_error(Conn::new(s.tern_opts("tcponly", "nope")).await)?;
    let direct = server_error(Conn::new(s.direct_opts("tcponly", "nope")).await)?;
    assert_eq!(through, direct);

    // The socket gone (the path removed under a running server): new sessions
    // fall back to TCP instead of failing.
    std::fs::remove_file(s.cluster.primary().socket())?;
    let mut after = s.app_via_tern().await?;
    let who: Option<String> = after.query_first("SELECT USER()").await?;
    assert_eq!(who.as_deref(), Some("app@127.0.0.1"));
    Ok(())
}
