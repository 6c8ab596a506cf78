//! The client and tool matrix: MariaDB Connector/J, Node mysql2, Perl
//! DBD::MariaDB, `mariadb-dump` (and a restore with the `mariadb` CLI) and
//! `mariadb-admin`, each run against the primary directly and through Tern,
//! with what they print compared. Each client battery (tests/java, tests/node,
//! tests/perl) works in a schema of its own per run and never prints its name,
//! so the two reports compare line by line.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::Setup;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tern_tests::cluster::{APP_PASSWORD, APP_USER, ROOT_PASSWORD};

/// Debian's `libmariadb-java` puts the driver here.
const CONNECTOR_J_JAR: &str = "/usr/share/java/mariadb-java-client.jar";

/// Bound on the replicas' catch-up before a test locks or checks them.
const CATCH_UP: Duration = Duration::from_secs(30);

/// Bound on a killed thread leaving the primary's processlist; it takes
/// milliseconds.
const KILL_TAKES_EFFECT: Duration = Duration::from_secs(10);

fn repo_path(rel: &str) -> PathBuf {
    tern_tests::workspace_root().join(rel)
}

/// Runs `program` with `args` (and `stdin` fed to it) and returns its stdout
/// as text; a non-zero exit is a failure that carries both outputs.
fn run(program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String> {
    Ok(String::from_utf8_lossy(&run_bytes(program, args, stdin)?).into_owned())
}

/// [`run`] for output that is not text (a dump with binary columns).
fn run_bytes(program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program} (scripts/install-deps.sh installs it)"))?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().context("no stdin pipe")?;
        pipe.write_all(input)
            .with_context(|| format!("feeding {program}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(out.stdout)
}

/// Fails with the first differing line, which is what a reader needs.
fn assert_same(what: &str, direct: &str, through: &str) {
    if direct == through {
        return;
    }
    for (n, (a, b)) in direct.lines().zip(through.lines()).enumerate() {
        if a != b {
            panic!(
                "{what}: first difference at line {}:\n direct: {a}\n tern:   {b}\n\
                 whole report through Tern:\n{through}",
                n + 1
            );
        }
    }
    panic!(
        "{what}: reports differ in length ({} vs {} lines)\n direct:\n{direct}\n tern:\n{through}",
        direct.lines().count(),
        through.lines().count()
    );
}

/// The client batteries' common arguments.
fn battery_args(port: u16, schema: &str) -> Vec<String> {
    vec![
        "127.0.0.1".into(),
        port.to_string(),
        APP_USER.into(),
        APP_PASSWORD.into(),
        schema.into(),
    ]
}

/// tests/java/CompatConnectorJ.java in the JDK's source-launcher mode (no
/// build step, no Maven) with Debian's Connector/J on the class path.
fn connector_j(port: u16, schema: &str, mode: &str) -> Result<String> {
    ensure!(
        std::path::Path::new(CONNECTOR_J_JAR).exists(),
        "{CONNECTOR_J_JAR} is missing: scripts/install-deps.sh installs libmariadb-java"
    );
    let mut args = vec![
        "-cp".into(),
        CONNECTOR_J_JAR.into(),
        repo_path("tests/java/CompatConnectorJ.java")
            .display()
            .to_string(),
    ];
    args.extend(battery_args(port, schema));
    args.push(mode.into());
    run("java", &args, None)
}

fn mysql2(port: u16, schema: &str) -> Result<String> {
    ensure!(
        repo_path("tests/node/node_modules/mysql2").exists(),
        "tests/node/node_modules is missing: scripts/install-deps.sh runs `npm ci` there"
    );
    let mut args = vec![repo_path("tests/node/compat_mysql2.js")
        .display()
        .to_string()];
    args.extend(battery_args(port, schema));
    run("node", &args, None)
}

fn dbd_mariadb(port: u16, schema: &str) -> Result<String> {
    let mut args = vec![repo_path("tests/perl/compat_dbd_mariadb.pl")
        .display()
        .to_string()];
    args.extend(battery_args(port, schema));
    run("perl", &args, None)
}

/// Connector/J with server-side prepared statements and batch rewriting:
/// generated keys, parameter and result metadata, batches (one failing part
/// way), savepoints, errors with SQLSTATE and code, warnings, a query timeout,
/// and `Statement.cancel()` of a statement on the primary. The cancel sends
/// `KILL QUERY <greeting id>` on a second connection: Connector/J 2.x reads
/// that id as a signed 32-bit int, so Tern's ids once at 2^31 and above came
/// back sign-extended (`Unknown thread id: 18446744071562067976`) and nothing
/// was cancelled.
#[test]
fn connector_j_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let direct = connector_j(s.cluster.primary().port(), "cj_direct", "battery")?;
    let through = connector_j(s.tern.port(), "cj_tern", "battery")?;
    assert!(
        direct.contains("cancelled sleep in transaction error sqlstate=70100 code=1317")
            && direct.contains("code=1062")
            && direct.lines().count() > 100,
        "report incomplete:\n{direct}"
    );
    assert_same("Connector/J", &direct, &through);
    Ok(())
}

/// `Statement.cancel()` of a read outside a transaction. Through Tern the
/// read runs on a replica; `KILL QUERY <session id>` once reached only the
/// session's primary thread, so the replica's `SELECT SLEEP(..)` ran to its
/// end and returned 0. Tern now stops the read on the replica too: error 1317, as
/// directly (the `mariadb` CLI's Ctrl-C is the same KILL QUERY).
#[test]
fn connector_j_cancel_of_a_replica_read_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let direct = connector_j(s.cluster.primary().port(), "cjc_direct", "cancel")?;
    let through = connector_j(s.tern.port(), "cjc_tern", "cancel")?;
    assert!(
        direct.contains("sqlstate=70100 code=1317"),
        "the direct read was not cancelled:\n{direct}"
    );
    assert_same("Connector/J cancel", &direct, &through);
    Ok(())
}

/// A read right after the session's own commit. With
/// `rewriteBatchedStatements=true` Connector/J sets the session's
/// `session_track_system_variables` to `'auto_increment_increment'`, which
/// drops `last_gtid`: the server stops putting commits' GTIDs in OK packets,
/// so Tern cannot know what the session wrote and once sent the next read to a
/// replica that did not have it; such sessions now read with `global`
/// consistency. Replication is held up here (a read lock on the replica's copy
/// of the table), so a miss would be certain: the second connection must see
/// its own insert through Tern as it does directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_j_session_tracking_override_keeps_read_your_writes() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let mut admin = s.admin_direct().await?;
    for schema in ["ryw_direct", "ryw_tern"] {
        admin
            .query_drop(format!(
                "CREATE DATABASE {schema}; CREATE TABLE {schema}.t (id INT)"
            ))
            .await?;
    }
    s.cluster.wait_replicas_caught_up(CATCH_UP)?;
    let mut replica = Conn::new(s.cluster.replicas()[0].opts("root", ROOT_PASSWORD, None)).await?;
    // A read lock takes nothing from the replica's data; it only makes its SQL
    // thread wait before applying rows to these tables.
    replica
        .query_drop("LOCK TABLES ryw_direct.t READ, ryw_tern.t READ")
        .await?;
    let primary_port = s.cluster.primary().port();
    let tern_port = s.tern.port();
    let (direct, through) = tokio::task::spawn_blocking(move || {
        Ok::<_, anyhow::Error>((
            connector_j(primary_port, "ryw_direct", "ryw")?,
            connector_j(tern_port, "ryw_tern", "ryw")?,
        ))
    })
    .await??;
    replica.query_drop("UNLOCK TABLES").await?;
    s.cluster.wait_replicas_caught_up(CATCH_UP)?;
    assert_eq!(
        direct.matches("own insert visible true").count(),
        2,
        "direct:\n{direct}"
    );
    assert_same("Connector/J read-your-writes", &direct, &through);
    Ok(())
}

/// mysql2: prepared statements (`execute`), `multipleStatements` with several
/// result sets and one failing part way, a 200k-row result streamed, errors,
/// warnings, transactions.
#[test]
fn mysql2_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let direct = mysql2(s.cluster.primary().port(), "nd_direct")?;
    let through = mysql2(s.tern.port(), "nd_tern")?;
    assert!(
        direct.contains("stream rows=200000 sum=20000100000")
            && direct.contains("multi results=5")
            && direct.contains("errno=1062"),
        "report incomplete:\n{direct}"
    );
    assert_same("mysql2", &direct, &through);
    Ok(())
}

/// DBD::MariaDB with client-side and server-side prepare: placeholders,
/// statement metadata, a rolled back and a committed transaction with a read
/// of them right after, errors.
#[test]
fn dbd_mariadb_battery_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let direct = dbd_mariadb(s.cluster.primary().port(), "pl_direct")?;
    let through = dbd_mariadb(s.tern.port(), "pl_tern")?;
    assert!(
        direct.contains("server_prepare attribute 1")
            && direct.contains("error=1062 state=23000")
            && direct.matches("  row kept").count() == 2,
        "report incomplete:\n{direct}"
    );
    assert_same("DBD::MariaDB", &direct, &through);
    Ok(())
}

/// What `mariadb-dump` gets to see: tables with a foreign key, rows with
/// quotes, NULLs, binary data and line breaks, a view, a function, a procedure
/// and a trigger. The function and procedure declare what they do with data,
/// so that creating them with binary logging on needs no
/// `log_bin_trust_function_creators`.
const DUMP_SCHEMA: &str = r#"
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, joined DATE,
  balance DECIMAL(10,2) DEFAULT 0) ENGINE=InnoDB;
CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL,
  total DECIMAL(10,2), note TEXT, payload BLOB, KEY (customer_id),
  CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT,
  at_total DECIMAL(10,2)) ENGINE=InnoDB;
INSERT INTO customers VALUES (1, 'Ana', '2020-01-02', 10.50), (2, 'Bö "quoted"', NULL, 0),
  (3, 'C\'s\\name', '2021-03-04', -2.25);
CREATE VIEW big_orders AS SELECT o.id, c.name, o.total FROM orders o
  JOIN customers c ON c.id = o.customer_id WHERE o.total > 100;
DELIMITER ;;
CREATE FUNCTION order_tax(amount DECIMAL(10,2)) RETURNS DECIMAL(10,2)
  DETERMINISTIC NO SQL RETURN ROUND(amount * 0.2, 2);;
CREATE PROCEDURE customer_total(IN cid INT, OUT total DECIMAL(12,2)) READS SQL DATA
BEGIN
  SELECT COALESCE(SUM(o.total), 0) INTO total FROM orders o WHERE o.customer_id = cid;
END;;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
BEGIN
  INSERT INTO audit (order_id, at_total) VALUES (NEW.id, NEW.total);
END;;
DELIMITER ;
INSERT INTO orders (customer_id, total, note, payload) VALUES (1, 99.99, 'first', 0x00FF10),
  (1, 150.00, NULL, NULL), (2, 1000.01, 'multi\nline', 0xDEADBEEF), (3, 0, 'tab\there', '');
"#;

fn cli_args(port: u16) -> Vec<String> {
    vec![
        "--no-defaults".into(),
        "-h127.0.0.1".into(),
        format!("-P{port}"),
        format!("-u{APP_USER}"),
        format!("-p{APP_PASSWORD}"),
    ]
}

fn mariadb_dump(port: u16, mode: &str, schema: &str) -> Result<Vec<u8>> {
    let mut args = cli_args(port);
    args.extend([
        mode.to_owned(),
        "--routines".into(),
        "--triggers".into(),
        schema.to_owned(),
    ]);
    run_bytes("mariadb-dump", &args, None)
}

/// The dump without the lines that differ between any two runs: the time it
/// was taken and the server it was taken from.
fn comparable_dump(dump: &[u8]) -> Vec<u8> {
    dump.split_inclusive(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"-- Dump completed on") && !l.starts_with(b"-- Host:"))
        .flatten()
        .copied()
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(row: &Row) -> String {
    row.clone()
        .unwrap()
        .iter()
        .map(|v| v.as_sql(true))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Everything about `schema` that a faithful restore must reproduce, as text
/// without the schema's name: each table's and view's SHOW CREATE, each
/// routine's and trigger's definition, each table's checksum and rows, and
/// what the function and procedure compute.
async fn describe(conn: &mut Conn, schema: &str) -> Result<String> {
    let mut out = Vec::new();
    conn.query_drop(format!("USE {schema}")).await?;
    let tables: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
            (schema,),
        )
        .await?;
    for (table, kind) in &tables {
        let create: Row = conn
            .query_first(format!("SHOW CREATE TABLE `{table}`"))
            .await?
            .context("no SHOW CREATE TABLE row")?;
        out.push(format!("{kind} {table}: {}", show(&create)));
        if kind == "BASE TABLE" {
            let checksum: Row = conn
                .query_first(format!("CHECKSUM TABLE `{table}`"))
                .await?
                .context("no CHECKSUM TABLE row")?;
            out.push(format!("checksum {}", show(&checksum)));
            let rows: Vec<Row> = conn
                .query(format!("SELECT * FROM `{table}` ORDER BY 1"))
                .await?;
            for row in &rows {
                out.push(format!("  {table} row {}", show(row)));
            }
        }
    }
    let routines: Vec<(String, String)> = conn
        .exec(
            "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME",
            (schema,),
        )
        .await?;
    for (kind, name) in &routines {
        let create: Row = conn
            .query_first(format!("SHOW CREATE {kind} `{name}`"))
            .await?
            .context("no SHOW CREATE row for a routine")?;
        out.push(format!("{kind} {name}: {}", show(&create)));
    }
    let triggers: Vec<String> = conn
        .exec(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME",
            (schema,),
        )
        .await?;
    for name in &triggers {
        // Name, sql_mode, statement, character sets; not the creation time.
        let create: Row = conn
            .query_first(format!("SHOW CREATE TRIGGER `{name}`"))
            .await?
            .context("no SHOW CREATE TRIGGER row")?;
        let fields: Vec<String> = create
            .unwrap()
            .iter()
            .take(6)
            .map(|v| v.as_sql(true))
            .collect();
        out.push(format!("TRIGGER {name}: {}", fields.join(" | ")));
    }
    let computed: Row = conn
        .query_first("SELECT order_tax(12.34), (SELECT COUNT(*) FROM big_orders)")
        .await?
        .context("no row")?;
    out.push(format!("computed {}", show(&computed)));
    conn.query_drop("CALL customer_total(1, @total)").await?;
    let total: Option<String> = conn.query_first("SELECT @total").await?;
    out.push(format!("customer_total(1) {total:?}"));
    ensure!(
        tables.len() == 4 && routines.len() == 2 && triggers.len() == 1,
        "{schema} lacks objects: {tables:?} {routines:?} {triggers:?}"
    );
    Ok(out.join("\n").replace(schema, "<schema>"))
}

/// `mariadb-dump --routines --triggers` in both consistency modes, taken
/// directly and through Tern (the same dump apart from the time and host
/// lines), then the dump taken through Tern restored through Tern with the
/// `mariadb` CLI into a new schema, which must equal the original in every
/// definition and row, with a trigger that still fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_dump_and_restore_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let primary_port = s.cluster.primary().port();
    let tern_port = s.tern.port();
    let mut setup_args = cli_args(primary_port);
    setup_args.push("-e".into());
    setup_args.push("CREATE DATABASE dump_src".into());
    run("mariadb", &setup_args, None)?;
    let mut load_args = cli_args(primary_port);
    load_args.push("dump_src".into());
    run("mariadb", &load_args, Some(DUMP_SCHEMA.as_bytes()))?;
    let mut admin = s.admin_direct().await?;
    let original = describe(&mut admin, "dump_src").await?;

    for (mode, restored) in [
        ("--single-transaction", "dump_restored_st"),
        ("--lock-tables", "dump_restored_lt"),
    ] {
        let (direct, through) = tokio::task::spawn_blocking(move || {
            Ok::<_, anyhow::Error>((
                mariadb_dump(primary_port, mode, "dump_src")?,
                mariadb_dump(tern_port, mode, "dump_src")?,
            ))
        })
        .await??;
        for needle in [
            "CREATE TABLE `orders`",
            "VIEW `big_orders`",
            "FUNCTION `order_tax`",
            "PROCEDURE `customer_total`",
            "TRIGGER orders_audit",
            "INSERT INTO `customers` VALUES",
        ] {
            ensure!(
                text(&direct).contains(needle),
                "no {needle} in the {mode} dump:\n{}",
                text(&direct)
            );
        }
        let (direct, comparable) = (comparable_dump(&direct), comparable_dump(&through));
        if direct != comparable {
            // The first differing line; binary columns make the text lossy,
            // so equal text would still be a difference in bytes.
            assert_same(
                &format!("mariadb-dump {mode}"),
                &text(&direct),
                &text(&comparable),
            );
            panic!("mariadb-dump {mode}: the dumps differ in bytes that are not UTF-8");
        }

        let restore = through.clone();
        tokio::task::spawn_blocking(move || {
            let mut create = cli_args(tern_port);
            create.push("-e".into());
            create.push(format!("CREATE DATABASE {restored}"));
            run("mariadb", &create, None)?;
            let mut load = cli_args(tern_port);
            load.push(restored.into());
            run("mariadb", &load, Some(&restore))
        })
        .await??;
        let copy = describe(&mut admin, restored).await?;
        assert_same(&format!("restore of the {mode} dump"), &original, &copy);

        // The restored trigger fires, in the restored schema.
        let mut app = s.app_via_tern().await?;
        app.query_drop(format!(
            "INSERT INTO {restored}.orders (customer_id, total) VALUES (2, 5.00)"
        ))
        .await?;
        let audited: Option<(u64, Option<String>)> = admin
            .query_first(format!(
                "SELECT COUNT(*), MAX(at_total) FROM {restored}.audit \
                 WHERE order_id = (SELECT MAX(id) FROM {restored}.orders)"
            ))
            .await?;
        assert_eq!(audited, Some((1, Some("5.00".into()))), "{restored}");
    }
    // The replica replayed the routines, the trigger and the restores.
    s.cluster.wait_replicas_caught_up(CATCH_UP)?;
    Ok(())
}

fn mariadb_admin(port: u16, command: &[&str]) -> Result<String> {
    let mut args = cli_args(port);
    args.extend(command.iter().map(|c| (*c).to_owned()));
    run("mariadb-admin", &args, None)
}

/// `mariadb-admin status` with every number replaced, which leaves the names
/// of the counters and their order.
fn status_shape(status: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in status.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The cells of a `mariadb-admin processlist` table row, trimmed.
fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// The header and the row of the `mariadb-admin` connection itself (it shows
/// its own SHOW PROCESSLIST) without its id, client port and time.
fn processlist_shape(list: &str) -> Result<(Vec<String>, Vec<String>)> {
    let lines: Vec<&str> = list.lines().collect();
    let header = cells(lines.get(1).context("no processlist header")?);
    let own = lines
        .iter()
        .find(|l| l.contains("show processlist"))
        .context("mariadb-admin's own statement is not in the processlist")?;
    let mut own = cells(own);
    ensure!(own.len() == header.len(), "row and header differ:\n{list}");
    for (i, name) in header.iter().enumerate() {
        if matches!(name.as_str(), "Id" | "Host" | "Time") {
            own[i] = format!("<{name}>");
        }
    }
    Ok((header, own))
}

/// Whether the primary still has thread `id`.
async fn has_thread(admin: &mut Conn, id: u64) -> Result<bool> {
    let n: Option<u64> = admin
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
            (id,),
        )
        .await?;
    Ok(n == Some(1))
}

/// `mariadb-admin kill <id>` of a connection that is idle, through the server
/// or Tern on `admin_port`: returns what `mariadb-admin` printed once the
/// connection's thread `backend_thread` has left the primary.
async fn kill_with_mariadb_admin(
    s: &Setup,
    admin_port: u16,
    id: u64,
    backend_thread: u64,
) -> Result<String> {
    let mut admin = s.admin_direct().await?;
    ensure!(
        has_thread(&mut admin, backend_thread).await?,
        "thread {backend_thread} is not on the primary"
    );
    let output =
        tokio::task::spawn_blocking(move || mariadb_admin(admin_port, &["kill", &id.to_string()]))
            .await??;
    let deadline = tokio::time::Instant::now() + KILL_TAKES_EFFECT;
    while has_thread(&mut admin, backend_thread).await? {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "thread {backend_thread} is still on the primary after `kill {id}` on port {admin_port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(output)
}

/// The session's id as the client knows it and its thread on the primary.
async fn ids(conn: &mut Conn) -> Result<(u64, u64)> {
    let thread: u64 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .context("no CONNECTION_ID()")?;
    Ok((u64::from(conn.id()), thread))
}

/// `mariadb-admin status` and `processlist`: the same shape of output directly
/// and through Tern. `status` is COM_STATISTICS, which Tern passes to the
/// primary; the processlist is the primary's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_admin_status_and_processlist_same_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let primary_port = s.cluster.primary().port();
    let tern_port = s.tern.port();
    let (status_direct, status_tern, list_direct, list_tern) =
        tokio::task::spawn_blocking(move || {
            Ok::<_, anyhow::Error>((
                mariadb_admin(primary_port, &["status"])?,
                mariadb_admin(tern_port, &["status"])?,
                mariadb_admin(primary_port, &["processlist"])?,
                mariadb_admin(tern_port, &["processlist"])?,
            ))
        })
        .await??;
    assert!(
        status_direct.starts_with("Uptime: "),
        "status: {status_direct}"
    );
    assert_same(
        "mariadb-admin status",
        &status_shape(&status_direct),
        &status_shape(&status_tern),
    );
    let (header_direct, own_direct) = processlist_shape(&list_direct)?;
    let (header_tern, own_tern) = processlist_shape(&list_tern)?;
    assert_eq!(
        header_direct,
        ["Id", "User", "Host", "db", "Command", "Time", "State", "Info", "Progress"]
    );
    assert_eq!(header_tern, header_direct, "processlist header");
    assert_eq!(own_tern, own_direct, "mariadb-admin's own processlist row");
    Ok(())
}

/// `mariadb-admin kill` of the id a client was given ends that session's
/// thread on the primary. Through Tern that id is Tern's own (it must fit a
/// signed 32-bit int: drivers read it as one) and is translated to the
/// session's primary thread; the server's thread id, which `processlist` and
/// `CONNECTION_ID()` show, passes through and works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_admin_kill_ends_the_sessions_thread_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    let primary_port = s.cluster.primary().port();
    let tern_port = s.tern.port();

    let mut victim = s.app_direct().await?;
    let (id, thread) = ids(&mut victim).await?;
    assert_eq!(id, thread);
    let direct = kill_with_mariadb_admin(&s, primary_port, id, thread).await?;

    let mut victim = s.app_via_tern().await?;
    let (id, thread) = ids(&mut victim).await?;
    assert_ne!(id, thread, "Tern hands out its own session ids");
    assert!(
        i32::try_from(id).is_ok(),
        "session id {id} does not fit a signed 32-bit int"
    );
    let through = kill_with_mariadb_admin(&s, tern_port, id, thread).await?;
    assert_same("mariadb-admin kill <session id>", &direct, &through);
    // The session cannot reach the primary any more.
    let after = victim.query_drop("SELECT CONNECTION_ID()").await;
    assert!(
        after.is_err(),
        "the killed session still reaches the primary"
    );

    let mut victim = s.app_via_tern().await?;
    let (_, thread) = ids(&mut victim).await?;
    let by_thread = kill_with_mariadb_admin(&s, tern_port, thread, thread).await?;
    assert_same("mariadb-admin kill <thread id>", &direct, &by_thread);
    let after = victim.query_drop("SELECT CONNECTION_ID()").await;
    assert!(
        after.is_err(),
        "the killed session still reaches the primary"
    );
    Ok(())
}

/// After `KILL CONNECTION` the server closes the connection: the client's next
/// statement, whatever it is, fails. Tern once kept the session alive until it
/// next needed the primary, serving reads that go to a replica (`SELECT 1`
/// here); it now watches the primary connection while the session idles and
/// closes the client's connection when the server closes its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_session_ends_through_tern() -> Result<()> {
    let s = Setup::start(1, &[])?;
    for (port, mut victim) in [
        (s.cluster.primary().port(), s.app_direct().await?),
        (s.tern.port(), s.app_via_tern().await?),
    ] {
        let (id, thread) = ids(&mut victim).await?;
        kill_with_mariadb_admin(&s, port, id, thread).await?;
        let next = victim.query_drop("SELECT 1").await;
        assert!(
            next.is_err(),
            "after `kill {id}` on port {port} the session still answers SELECT 1"
        );
    }
    Ok(())
}
