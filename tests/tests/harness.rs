//! Tests of the cluster harness itself, against real MariaDB servers.

use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{
    Cluster, Server, ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE, APP_PASSWORD, APP_USER,
    ROOT_PASSWORD,
};

const CATCH_UP: Duration = Duration::from_secs(30);

async fn connect(server: &Server, user: &str, password: &str) -> Conn {
    Conn::new(server.opts(user, password, None))
        .await
        .unwrap_or_else(|e| panic!("{user} cannot log in to {}: {e}", server.name()))
}

async fn variable(conn: &mut Conn, name: &str) -> String {
    let value: Option<Option<String>> = conn
        .query_first(format!("SELECT @@GLOBAL.{name}"))
        .await
        .unwrap();
    value.flatten().unwrap_or_default()
}

#[tokio::test]
async fn one_replica_cluster_starts_from_inside_a_tokio_test() {
    let started = Instant::now();
    let cluster = Cluster::start(1).unwrap();
    eprintln!("1-replica cluster started in {:?}", started.elapsed());
    assert_eq!(cluster.replicas().len(), 1);
    assert_ne!(cluster.primary().port(), cluster.replicas()[0].port());
    assert!(cluster.primary().is_running());
    assert!(cluster.replicas()[0].is_running());
}

#[tokio::test]
async fn primary_has_the_settings_tern_depends_on() {
    let cluster = Cluster::start(1).unwrap();
    let mut conn = connect(cluster.primary(), "root", ROOT_PASSWORD).await;
    for (name, expected) in [
        ("log_bin", "1"),
        ("binlog_format", "ROW"),
        ("binlog_row_image", "FULL"),
        ("binlog_row_metadata", "FULL"),
        ("gtid_strict_mode", "1"),
        ("log_slave_updates", "1"),
        ("read_only", "0"),
        ("local_infile", "1"),
        ("max_connections", "3000"),
        ("max_allowed_packet", "67108864"),
        ("bind_address", "127.0.0.1"),
        ("skip_name_resolve", "1"),
    ] {
        assert_eq!(variable(&mut conn, name).await, expected, "@@{name}");
    }
    let tracked = variable(&mut conn, "session_track_system_variables").await;
    assert!(
        tracked.split(',').any(|v| v == "last_gtid"),
        "last_gtid is not tracked: {tracked}"
    );
    assert_eq!(
        variable(&mut conn, "report_port").await,
        cluster.primary().port().to_string()
    );
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn replica_is_read_only_and_replicates_with_gtid() {
    let cluster = Cluster::start(1).unwrap();
    let replica = &cluster.replicas()[0];
    let mut conn = connect(replica, "root", ROOT_PASSWORD).await;
    assert_eq!(variable(&mut conn, "read_only").await, "1");
    let status: mysql_async::Row = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .unwrap()
        .expect("the replica has a master");
    let field = |name: &str| status.get::<String, _>(name).unwrap_or_default();
    assert_eq!(field("Using_Gtid"), "Slave_Pos");
    assert_eq!(field("Slave_IO_Running"), "Yes");
    assert_eq!(field("Slave_SQL_Running"), "Yes");
    assert_eq!(
        field("Master_Port"),
        cluster.primary().port().to_string(),
        "replicates from this cluster's primary"
    );
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn bootstrap_users_log_in_on_every_server_and_anonymous_users_are_gone() {
    let cluster = Cluster::start(1).unwrap();
    for server in cluster.servers() {
        for (user, password) in [
            ("root", ROOT_PASSWORD),
            (ADMIN_USER, ADMIN_PASSWORD),
            (APP_USER, APP_PASSWORD),
        ] {
            connect(server, user, password)
                .await
                .disconnect()
                .await
                .unwrap();
        }
        let mut root = connect(server, "root", ROOT_PASSWORD).await;
        let anonymous: Vec<String> = root
            .query("SELECT host FROM mysql.user WHERE user = ''")
            .await
            .unwrap();
        assert!(anonymous.is_empty(), "{}: {anonymous:?}", server.name());
        let passwordless_roots: Vec<String> = root
            .query(
                "SELECT host FROM mysql.user WHERE user = 'root' \
                 AND authentication_string = ''",
            )
            .await
            .unwrap();
        assert!(
            passwordless_roots.is_empty(),
            "{}: root without a password at {passwordless_roots:?}",
            server.name()
        );
        let databases: Vec<String> = root.query("SHOW DATABASES").await.unwrap();
        assert!(databases.iter().any(|db| db == APP_DATABASE));
        root.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn admin_has_grant_option_and_app_does_not() {
    let cluster = Cluster::start(0).unwrap();
    let mut root = connect(cluster.primary(), "root", ROOT_PASSWORD).await;
    let grant_priv = |user: &'static str| {
        format!("SELECT Grant_priv FROM mysql.user WHERE user = '{user}' AND host = '%'")
    };
    let admin: Option<String> = root.query_first(grant_priv(ADMIN_USER)).await.unwrap();
    let app: Option<String> = root.query_first(grant_priv(APP_USER)).await.unwrap();
    assert_eq!(admin.as_deref(), Some("Y"));
    assert_eq!(app.as_deref(), Some("N"));
    root.disconnect().await.unwrap();
}

#[tokio::test]
async fn row_written_on_primary_as_app_appears_on_replica() {
    let cluster = Cluster::start(1).unwrap();
    let mut app = Conn::new(
        cluster
            .primary()
            .opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)),
    )
    .await
    .unwrap();
    app.query_drop("CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(20))")
        .await
        .unwrap();
    app.query_drop("INSERT INTO t VALUES (1, 'hello')")
        .await
        .unwrap();
    app.disconnect().await.unwrap();

    cluster.wait_replicas_caught_up(CATCH_UP).unwrap();
    let mut replica =
        Conn::new(cluster.replicas()[0].opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)))
            .await
            .unwrap();
    let note: Option<String> = replica
        .query_first("SELECT note FROM t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(note.as_deref(), Some("hello"));
    replica.disconnect().await.unwrap();
}

#[tokio::test]
async fn packets_over_16_mib_are_accepted() {
    let cluster = Cluster::start(0).unwrap();
    let mut app = Conn::new(
        cluster
            .primary()
            .opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)),
    )
    .await
    .unwrap();
    app.query_drop("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
        .await
        .unwrap();
    let big = vec![0x5au8; 17 << 20];
    app.exec_drop("INSERT INTO blobs VALUES (1, ?)", (big,))
        .await
        .unwrap();
    let len: Option<u64> = app
        .query_first("SELECT LENGTH(b) FROM blobs WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(len, Some(17 << 20));
    app.disconnect().await.unwrap();
}

#[tokio::test]
async fn replica_killed_and_started_again_resumes_replication() {
    let cluster = Cluster::start(1).unwrap();
    let replica = &cluster.replicas()[0];
    let mut app = Conn::new(
        cluster
            .primary()
            .opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)),
    )
    .await
    .unwrap();
    app.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    app.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    cluster.wait_replicas_caught_up(CATCH_UP).unwrap();

    let (port, old_pid) = (replica.port(), replica.pid());
    replica.kill9().unwrap();
    assert!(!replica.is_running());
    assert!(!Path::new(&format!("/proc/{old_pid}")).exists());
    // Written while the replica is down: it has to fetch this after the restart.
    app.query_drop("INSERT INTO t VALUES (2)").await.unwrap();

    replica.start_again().unwrap();
    assert_eq!(replica.port(), port, "same port after a restart");
    assert_ne!(replica.pid(), old_pid);
    cluster.wait_replicas_caught_up(CATCH_UP).unwrap();
    let mut conn = Conn::new(replica.opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)))
        .await
        .unwrap();
    let ids: Vec<i32> = conn.query("SELECT id FROM t ORDER BY id").await.unwrap();
    assert_eq!(ids, vec![1, 2]);
    conn.disconnect().await.unwrap();
    app.disconnect().await.unwrap();
}

#[tokio::test]
async fn stopped_primary_started_again_keeps_its_data_and_replicas_reconnect() {
    let cluster = Cluster::start(1).unwrap();
    let primary = cluster.primary();
    let mut app = Conn::new(primary.opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)))
        .await
        .unwrap();
    app.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    app.disconnect().await.unwrap();

    primary.stop().unwrap();
    assert!(!primary.is_running());
    primary.start_again().unwrap();

    let mut app = Conn::new(primary.opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)))
        .await
        .unwrap();
    app.query_drop("INSERT INTO t VALUES (7)").await.unwrap();
    app.disconnect().await.unwrap();
    // Bounded well below MariaDB's default 60 s reconnect interval.
    cluster
        .wait_replicas_caught_up(Duration::from_secs(15))
        .unwrap();
}

#[test]
fn dropping_the_cluster_stops_every_mariadbd_and_removes_its_files() {
    let cluster = Cluster::start(2).unwrap();
    let servers: Vec<(u32, std::path::PathBuf)> = cluster
        .servers()
        .iter()
        .map(|s| (s.pid(), s.root_dir().to_path_buf()))
        .collect();
    for (pid, root) in &servers {
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        assert!(root.exists());
    }
    let stopping = Instant::now();
    drop(cluster);
    eprintln!("3 servers stopped in {:?}", stopping.elapsed());
    for (pid, root) in &servers {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "mariadbd {pid} outlived its cluster"
        );
        assert!(!root.exists(), "{} outlived its cluster", root.display());
    }
}

#[test]
fn a_panicking_test_still_stops_its_servers() {
    let mut pids = Vec::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cluster = Cluster::start(0).unwrap();
        pids.push(cluster.primary().pid());
        panic!("the test failed");
    }));
    assert!(outcome.is_err());
    let pid = pids[0];
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test]
async fn wait_replicas_caught_up_fails_fast_when_a_replica_stops_on_an_error() {
    let cluster = Cluster::start(1).unwrap();
    let mut primary = Conn::new(
        cluster
            .primary()
            .opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)),
    )
    .await
    .unwrap();
    primary
        .query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    cluster.wait_replicas_caught_up(CATCH_UP).unwrap();
    // Root bypasses read_only; the primary's row then collides with this one on the replica.
    let mut replica = connect(&cluster.replicas()[0], "root", ROOT_PASSWORD).await;
    replica
        .query_drop("SET SESSION sql_log_bin = 0")
        .await
        .unwrap();
    replica
        .query_drop("INSERT INTO app.t VALUES (1)")
        .await
        .unwrap();
    primary
        .query_drop("INSERT INTO t VALUES (1)")
        .await
        .unwrap();

    let waiting = Instant::now();
    let error = cluster.wait_replicas_caught_up(CATCH_UP).unwrap_err();
    assert!(
        waiting.elapsed() < Duration::from_secs(10),
        "took {:?}",
        waiting.elapsed()
    );
    let message = format!("{error:#}");
    assert!(message.contains("stopped replicating"), "{message}");
    assert!(message.contains("Last_SQL_Errno=1062"), "{message}");
    replica.disconnect().await.unwrap();
    primary.disconnect().await.unwrap();
}

/// Whether `pid` is a live process (a zombie left for an init that does not reap is not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The pids of `parent`'s children.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// Starts the `tern-cluster` CLI and reads its output up to `ready`.
fn start_cli(replicas: &str) -> (std::process::Child, Vec<String>) {
    use std::io::BufRead;
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_tern-cluster"))
        .args(["--replicas", replicas])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(cli.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let done = line == "ready";
        lines.push(line);
        if done {
            return (cli, lines);
        }
    }
    let _ = cli.kill();
    let _ = cli.wait();
    panic!("tern-cluster ended before `ready`: {lines:?}");
}

#[tokio::test]
async fn cli_prints_servers_and_credentials_then_stops_them_on_sigterm() {
    let (mut cli, lines) = start_cli("2");
    let addresses: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("primary ").or(l.strip_prefix("replica ")))
        .collect();
    assert_eq!(addresses.len(), 3, "{lines:?}");
    assert!(lines.contains(&format!("app {APP_USER} {APP_PASSWORD}")));
    assert!(lines.contains(&format!("admin {ADMIN_USER} {ADMIN_PASSWORD}")));
    let port: u16 = addresses[1].rsplit_once(':').unwrap().1.parse().unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(APP_USER))
        .pass(Some(APP_PASSWORD))
        .prefer_socket(false);
    let mut replica = Conn::new(opts).await.unwrap();
    let read_only: Option<i32> = replica.query_first("SELECT @@read_only").await.unwrap();
    assert_eq!(read_only, Some(1));
    replica.disconnect().await.unwrap();

    let servers = children_of(cli.id());
    assert_eq!(servers.len(), 3, "mariadbd children: {servers:?}");
    tern_tests::process::send_signal(cli.id(), libc::SIGTERM).unwrap();
    let status = cli.wait().unwrap();
    assert!(status.success(), "{status}");
    for pid in servers {
        assert!(!alive(pid), "mariadbd {pid} outlived tern-cluster");
    }
}

#[test]
fn servers_die_with_a_killed_harness_process() {
    let (mut cli, _) = start_cli("1");
    let servers = children_of(cli.id());
    assert_eq!(servers.len(), 2, "mariadbd children: {servers:?}");
    tern_tests::process::send_signal(cli.id(), libc::SIGKILL).unwrap();
    cli.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while servers.iter().any(|&pid| alive(pid)) {
        assert!(Instant::now() < deadline, "orphaned mariadbd: {servers:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn tern_process_listens_in_front_of_a_cluster() {
    let cluster = Cluster::start(1).unwrap();
    let tern = tern_tests::TernProcess::start(&cluster, &[]).unwrap();
    assert!(tern.is_running());
    assert!(tern.log_contents().contains("listening on "));
    let mut app = Conn::new(tern.opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE)))
        .await
        .unwrap();
    let one: Option<i32> = app.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    app.disconnect().await.unwrap();
    let pid = tern.pid();
    tern.terminate().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}
