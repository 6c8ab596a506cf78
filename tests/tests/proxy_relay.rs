//! The relay: what the backend says reaches the client byte for byte, for every
//! command, including the ones drivers rarely use.

mod common;

use anyhow::{ensure, Result};
use common::{com_query, RawClient, Setup};
use mysql_async::prelude::Queryable;
use tern_tests::cluster::{APP_DATABASE, APP_PASSWORD, APP_USER};

const CLIENT_MULTI_STATEMENTS: u32 = 0x0001_0000;
const CLIENT_PS_MULTI_RESULTS: u32 = 0x0004_0000;
const CLIENT_DEPRECATE_EOF: u32 = 0x0100_0000;

/// Stands for "the statement id of the last COM_STMT_PREPARE" in a command.
const STMT_PLACEHOLDER: [u8; 4] = [0xEE; 4];

/// Runs the same raw commands directly and through Tern and returns both
/// transcripts (every response packet's payload).
async fn transcripts(
    s: &Setup,
    caps: u32,
    commands: &[Vec<u8>],
    expect_reply: &[bool],
) -> Result<(Vec<Vec<u8>>, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let mut c =
            RawClient::login(port, APP_USER, APP_PASSWORD, Some(APP_DATABASE), caps).await?;
        let mut transcript: Vec<Vec<u8>> = Vec::new();
        let mut statement = STMT_PLACEHOLDER;
        for (cmd, &reply) in commands.iter().zip(expect_reply) {
            let mut cmd = cmd.clone();
            if cmd[0] != 0x16 && cmd.get(1..5) == Some(&STMT_PLACEHOLDER[..]) {
                cmd[1..5].copy_from_slice(&statement);
            }
            c.send(0, &cmd).await?;
            if reply {
                let response = read_response(&mut c, cmd[0], caps).await?;
                if cmd[0] == 0x16 {
                    statement = stmt_id(&response[0]);
                }
                transcript.extend(response);
            }
        }
        out.push(transcript);
    }
    let through = out.pop().unwrap_or_default();
    let direct = out.pop().unwrap_or_default();
    Ok((direct, through))
}

/// Reads one response by following the protocol (independently of Tern's own
/// tracker, so the two cannot share a bug).
async fn read_response(c: &mut RawClient, command: u8, caps: u32) -> Result<Vec<Vec<u8>>> {
    let deprecate = caps & CLIENT_DEPRECATE_EOF != 0;
    let mut out = Vec::new();
    let is_end = |p: &[u8]| {
        p.first() == Some(&0xFE)
            && (if deprecate {
                p.len() < 0xFFFFFF
            } else {
                p.len() < 9
            })
    };
    // Both terminator formats keep the status flags at bytes 3..5 in these tests:
    // EOF is header + warnings; OK is header + two one-byte lenencs.
    let status_of = |p: &[u8]| -> u16 { u16::from_le_bytes([p[3], p[4]]) };
    match command {
        // PING, INIT_DB, STATISTICS, SET_OPTION, STMT_RESET, RESET_CONNECTION: one packet.
        0x0E | 0x02 | 0x09 | 0x1B | 0x1A | 0x1F => {
            return Ok(vec![c.read().await?.payload.to_vec()])
        }
        0x1C | 0x04 => loop {
            let p = c.read().await?.payload.to_vec();
            let end = is_end(&p) || p[0] == 0xFF;
            out.push(p);
            if end {
                return Ok(out);
            }
        },
        0x16 => {
            let p = c.read().await?.payload.to_vec();
            ensure!(
                p[0] == 0x00,
                "prepare failed: {:?}",
                String::from_utf8_lossy(&p)
            );
            let cols = u16::from_le_bytes([p[5], p[6]]) as usize;
            let params = u16::from_le_bytes([p[7], p[8]]) as usize;
            out.push(p);
            for n in [params, cols] {
                let extra = if n > 0 && !deprecate { 1 } else { 0 };
                for _ in 0..n + extra {
                    out.push(c.read().await?.payload.to_vec());
                }
            }
            return Ok(out);
        }
        _ => {}
    }
    loop {
        let first = c.read().await?.payload.to_vec();
        let head = first[0];
        if head == 0x00 {
            let more = ok_more_results(&first);
            out.push(first);
            if more {
                continue;
            }
            return Ok(out);
        }
        if head == 0xFF {
            out.push(first);
            return Ok(out);
        }
        let columns = first[0] as usize;
        out.push(first);
        for _ in 0..columns {
            out.push(c.read().await?.payload.to_vec());
        }
        if !deprecate {
            let eof = c.read().await?.payload.to_vec();
            let cursor = command == 0x17 && u16::from_le_bytes([eof[3], eof[4]]) & 0x40 != 0;
            out.push(eof);
            if cursor {
                return Ok(out);
            }
        }
        loop {
            let p = c.read().await?.payload.to_vec();
            if p[0] == 0xFF {
                out.push(p);
                return Ok(out);
            }
            if is_end(&p) {
                let more = status_of(&p) & 0x08 != 0;
                out.push(p);
                if more {
                    break;
                }
                return Ok(out);
            }
            out.push(p);
        }
    }
}

fn ok_more_results(p: &[u8]) -> bool {
    // header, affected rows and insert id (one byte each in these tests), status.
    u16::from_le_bytes([p[3], p[4]]) & 0x08 != 0
}

fn stmt_id(prepare_ok: &[u8]) -> [u8; 4] {
    [prepare_ok[1], prepare_ok[2], prepare_ok[3], prepare_ok[4]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_result_procedure_classic_and_deprecate_eof_byte_identical() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE app.mr (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO app.mr VALUES (1,'a'),(2,'b');
             CREATE PROCEDURE app.two_sets() BEGIN SELECT id FROM app.mr ORDER BY id; SELECT v, id FROM app.mr ORDER BY id DESC; END",
        )
        .await?;
    for deprecate in [0, CLIENT_DEPRECATE_EOF] {
        let caps = CLIENT_MULTI_STATEMENTS | CLIENT_PS_MULTI_RESULTS | deprecate;
        let commands = vec![
            com_query("CALL two_sets()"),
            com_query(
                "SELECT 1 AS a; SELECT 'x' AS b, NULL AS c; UPDATE mr SET v = v WHERE id = 1",
            ),
            com_query("SELECT * FROM no_such_table"),
            com_query("SELECT 1; SELECT * FROM no_such_table; SELECT 2"),
        ];
        let (direct, through) = transcripts(&s, caps, &commands, &[true; 4]).await?;
        assert!(direct.len() > 10, "transcript too short: {direct:?}");
        assert_eq!(direct, through, "deprecate_eof={deprecate}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_and_cursor_fetch_byte_identical() -> Result<()> {
    let s = Setup::start(0, &[])?;
    for deprecate in [0, CLIENT_DEPRECATE_EOF] {
        let caps = CLIENT_PS_MULTI_RESULTS | deprecate;
        // Statement ids are per connection and start at 1 on both paths.
        let mut prepare = vec![0x16];
        prepare.extend_from_slice(b"SELECT seq, CONCAT('row', seq) FROM seq_1_to_10 WHERE seq > ?");
        let id = STMT_PLACEHOLDER;
        let mut execute_cursor = vec![0x17];
        execute_cursor.extend_from_slice(&id);
        execute_cursor.push(0x01); // CURSOR_TYPE_READ_ONLY
        execute_cursor.extend_from_slice(&1u32.to_le_bytes());
        execute_cursor.push(0); // NULL bitmap
        execute_cursor.push(1); // new params bound
        execute_cursor.extend_from_slice(&[0x08, 0x00]); // LONGLONG
        execute_cursor.extend_from_slice(&3i64.to_le_bytes());
        let mut fetch = vec![0x1C];
        fetch.extend_from_slice(&id);
        fetch.extend_from_slice(&4u32.to_le_bytes());
        let mut reset = vec![0x1A];
        reset.extend_from_slice(&id);
        let mut close = vec![0x19];
        close.extend_from_slice(&id);
        let mut long_data = vec![0x18];
        long_data.extend_from_slice(&id);
        long_data.extend_from_slice(&0u16.to_le_bytes());
        long_data.extend_from_slice(b"ignored");
        let commands = vec![
            prepare,
            execute_cursor,
            fetch.clone(),
            fetch.clone(),
            fetch,
            long_data,
            reset,
            close,
            com_query("SELECT 'after close'"),
        ];
        let replies = [true, true, true, true, true, false, true, false, true];
        let (direct, through) = transcripts(&s, caps, &commands, &replies).await?;
        assert!(
            direct.iter().any(|p| p.windows(5).any(|w| w == b"row10")),
            "cursor did not reach the last row"
        );
        assert_eq!(direct, through, "deprecate_eof={deprecate}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_commands_byte_identical() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let caps = CLIENT_MULTI_STATEMENTS;
    let mut field_list = vec![0x04];
    field_list.extend_from_slice(b"user\0");
    let commands = vec![
        vec![0x0E],                         // COM_PING
        [&[0x02u8][..], b"mysql"].concat(), // COM_INIT_DB
        field_list,                         // COM_FIELD_LIST
        [&[0x02u8][..], b"nosuchdb"].concat(),
        vec![0x1B, 1, 0], // COM_SET_OPTION: multi statements off
        com_query("SELECT 1; SELECT 2"),
        vec![0x1B, 0, 0],
        com_query("SELECT 1; SELECT 2"),
        vec![0x1F], // COM_RESET_CONNECTION
        com_query("SELECT DATABASE()"),
    ];
    let (direct, through) = transcripts(&s, caps, &commands, &[true; 10]).await?;
    assert_eq!(direct, through);
    // COM_STATISTICS has uptimes in it: only its shape can be compared.
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let mut c = RawClient::login(port, APP_USER, APP_PASSWORD, None, 0).await?;
        c.send(0, &[0x09]).await?;
        let stats = c.read().await?;
        assert!(
            stats.payload.starts_with(b"Uptime: "),
            "{:?}",
            stats.payload
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_are_answered_in_order() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut c =
        RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some(APP_DATABASE), 0).await?;
    // Three commands in one write: the proxy must not drop or interleave them.
    let mut wire = bytes::BytesMut::new();
    for sql in [
        "SELECT 'first'",
        "SELECT 'second'",
        "DO 1",
        "SELECT 'third'",
    ] {
        tern::protocol::framing::write_packet(&mut wire, 0, &com_query(sql));
    }
    c.send_raw(&wire).await?;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = c.read_query_response().await?;
        let text: Vec<u8> = r.iter().flat_map(|p| p.payload.to_vec()).collect();
        seen.push(String::from_utf8_lossy(&text).into_owned());
    }
    assert!(
        seen[0].contains("first") && !seen[0].contains("second"),
        "{seen:?}"
    );
    assert!(seen[1].contains("second"), "{seen:?}");
    assert!(seen[2].starts_with('\0'), "DO 1 answers OK: {seen:?}");
    assert!(seen[3].contains("third"), "{seen:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_16mib_both_directions() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut conn = s.app_via_tern().await?;
    conn.query_drop("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
        .await?;
    let blob: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    conn.exec_drop("INSERT INTO big VALUES (1, ?)", (blob.clone(),))
        .await?;
    let back: Option<Vec<u8>> = conn.query_first("SELECT b FROM big WHERE id = 1").await?;
    assert!(
        back.as_deref() == Some(&blob[..]),
        "blob changed on the way"
    );
    let text: Option<String> = conn
        .query_first("SELECT REPEAT('x', 17 * 1024 * 1024)")
        .await?;
    assert_eq!(text.map(|t| t.len()), Some(17 * 1024 * 1024));
    // A text query over 16 MiB (the statement itself spans frames).
    let literal = "y".repeat(17 * 1024 * 1024);
    let len: Option<u64> = conn
        .query_first(format!("SELECT LENGTH('{literal}')"))
        .await?;
    assert_eq!(len, Some(literal.len() as u64));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_local_infile_through_the_cli() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("rows.csv");
    let mut data = String::new();
    for i in 0..50_000 {
        data.push_str(&format!("{i},value-{i}\n"));
    }
    std::fs::write(&file, &data)?;
    let sql = format!(
        "CREATE TABLE li (id INT PRIMARY KEY, v VARCHAR(40)); \
         LOAD DATA LOCAL INFILE '{}' INTO TABLE li FIELDS TERMINATED BY ','; \
         SELECT COUNT(*), SUM(id), MAX(v) FROM li; DROP TABLE li;",
        file.display()
    );
    let mut outputs = Vec::new();
    for port in [s.cluster.primary().port(), s.tern.port()] {
        let out = std::process::Command::new("mariadb")
            .args([
                "--no-defaults",
                "--local-infile=1",
                "-h127.0.0.1",
                "-uapp",
                "-papp_pw",
                "--batch",
                "app",
            ])
            .arg(format!("-P{port}"))
            .arg("-e")
            .arg(&sql)
            .output()?;
        ensure!(
            out.status.success(),
            "mariadb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    assert!(
        outputs[0].contains("50000\t1249975000\tvalue-9999"),
        "{}",
        outputs[0]
    );
    assert_eq!(outputs[0], outputs[1]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_stays_on_one_backend_connection() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut a = s.app_via_tern().await?;
    let mut b = s.app_via_tern().await?;
    a.query_drop("CREATE TABLE st (id INT PRIMARY KEY)").await?;
    a.query_drop(
        "SET @who = 'a'; CREATE TEMPORARY TABLE tmp_a (x INT); INSERT INTO tmp_a VALUES (1)",
    )
    .await?;
    a.query_drop("BEGIN").await?;
    a.query_drop("INSERT INTO st VALUES (1)").await?;
    // Uncommitted: invisible to b, visible to a.
    assert_eq!(
        b.query_first::<u64, _>("SELECT COUNT(*) FROM st").await?,
        Some(0)
    );
    assert_eq!(
        a.query_first::<u64, _>("SELECT COUNT(*) FROM st").await?,
        Some(1)
    );
    a.query_drop("ROLLBACK").await?;
    assert_eq!(
        a.query_first::<u64, _>("SELECT COUNT(*) FROM st").await?,
        Some(0)
    );
    assert_eq!(
        a.query_first::<String, _>("SELECT @who").await?.as_deref(),
        Some("a")
    );
    assert_eq!(
        a.query_first::<u64, _>("SELECT COUNT(*) FROM tmp_a")
            .await?,
        Some(1)
    );
    assert!(b.query_drop("SELECT * FROM tmp_a").await.is_err());
    // Named locks belong to the session that took them.
    assert_eq!(
        a.query_first::<i64, _>("SELECT GET_LOCK('tern-test', 0)")
            .await?,
        Some(1)
    );
    assert_eq!(
        b.query_first::<i64, _>("SELECT GET_LOCK('tern-test', 0)")
            .await?,
        Some(0)
    );
    assert_eq!(
        a.query_first::<i64, _>("SELECT RELEASE_LOCK('tern-test')")
            .await?,
        Some(1)
    );
    // LOCK TABLES holds for the locking session only.
    a.query_drop("LOCK TABLES st WRITE").await?;
    a.query_drop("INSERT INTO st VALUES (2)").await?;
    let blocked = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        b.query_drop("INSERT INTO st VALUES (3)"),
    )
    .await;
    assert!(
        blocked.is_err(),
        "a write from another session went through LOCK TABLES"
    );
    a.query_drop("UNLOCK TABLES").await?;
    Ok(())
}
