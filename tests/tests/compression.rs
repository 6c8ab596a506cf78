//! The compressed protocol (`mariadb --compress`, drivers' `compress` option):
//! Tern offers it to clients and speaks it on their side; what the client
//! sees is compared with the server's own answers.

mod common;

use std::process::Command;

use anyhow::{ensure, Context, Result};
use bytes::BytesMut;
use common::{com_query, RawClient, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use tern::protocol::compress::CompressedStream;
use tern::protocol::framing::{write_packet, PacketReader};
use tern_tests::cluster::{APP_PASSWORD, APP_USER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// CLIENT_COMPRESS.
const COMPRESS: u32 = 0x20;

const SCRIPT: &str = "
SELECT REPEAT('abc', 30000) AS long_text;
SELECT seq, seq * 2, CONCAT('row-', seq) FROM seq_1_to_20000 WHERE seq % 997 = 0;
SELECT COUNT(*), SUM(seq), MAX(LENGTH(REPEAT('x', seq))) FROM seq_1_to_3000;
CREATE TABLE cz (id INT PRIMARY KEY, b BLOB);
INSERT INTO cz VALUES (1, REPEAT('blob', 10000)), (2, NULL);
SELECT id, MD5(b), LENGTH(b) FROM cz ORDER BY id;
SELECT 1; SELECT 2, 'two';
SELECT * FROM no_such_table;
";

fn cli(port: u16, db: &str, compress: bool, sql: &str) -> Result<(bool, String, String)> {
    let mut cmd = Command::new("mariadb");
    cmd.args(["--no-defaults", "-h127.0.0.1", "--batch", "--force"])
        .arg(format!("-P{port}"))
        .arg(format!("-u{APP_USER}"))
        .arg(format!("-p{APP_PASSWORD}"))
        .arg(db);
    if compress {
        cmd.arg("--compress");
    }
    let out = cmd.arg("-e").arg(sql).output().context("running mariadb")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_with_compress_sees_what_it_sees_directly() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop("CREATE DATABASE cz_direct; CREATE DATABASE cz_tern")
        .await?;
    let direct = cli(s.cluster.primary().port(), "cz_direct", true, SCRIPT)?;
    let mut through = cli(s.tern.port(), "cz_tern", true, SCRIPT)?;
    // Error messages name the database.
    through.2 = through.2.replace("cz_tern", "cz_direct");
    ensure!(
        direct.1.contains("long_text") && direct.2.contains("1146"),
        "the script did not run as expected: {direct:?}"
    );
    assert_eq!(through.0, direct.0, "exit status");
    assert_eq!(through.1, direct.1, "output");
    assert_eq!(through.2, direct.2, "errors");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressing_client_gets_compressed_packets_numbered_after_its_command() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let raw =
        RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some("app"), COMPRESS).await?;
    let mut stream = raw.stream;
    // The command, compressed as a client compresses it (sequence 0).
    let mut packet = BytesMut::new();
    write_packet(&mut packet, 0, &com_query("SELECT REPEAT('tern', 20000)"));
    let mut writer = CompressedStream::new(&mut stream);
    writer.write_all(&packet).await?;
    writer.flush().await?;
    drop(writer);
    // The answer's first compressed packet, read raw: numbered 1, and really
    // compressed (the relay flushes as the server's bytes arrive, so it holds
    // the first few KiB of the 80,000 repeated bytes, shrunk many times).
    let mut header = [0u8; 7];
    tokio::time::timeout(common::RAW_READ_TIMEOUT, stream.read_exact(&mut header))
        .await
        .context("no answer")??;
    let compressed_len = u32::from_le_bytes([header[0], header[1], header[2], 0]);
    let plain_len = u32::from_le_bytes([header[4], header[5], header[6], 0]);
    assert_eq!(header[3], 1, "compressed sequence id");
    assert!(plain_len > 1_000, "uncompressed length {plain_len}");
    assert!(
        compressed_len * 4 < plain_len,
        "compressed length {compressed_len} for {plain_len}"
    );
    // The rest decodes to a whole result set.
    let mut body = vec![0u8; compressed_len as usize];
    stream.read_exact(&mut body).await?;
    let mut rebuilt = BytesMut::from(&header[..]);
    rebuilt.extend_from_slice(&body);
    let (mut feed, mut peer) = tokio::io::duplex(1 << 20);
    peer.write_all(&rebuilt).await?;
    drop(peer);
    let mut reader = PacketReader::new();
    let mut plain = CompressedStream::new(&mut feed);
    let columns = reader.read_packet(&mut plain, Some(1), 1 << 24).await?;
    assert_eq!(columns.payload.as_ref(), &[1u8], "one column");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_with_compression_matches_the_server() -> Result<()> {
    let s = Setup::start(0, &[])?;
    let compressed = |opts: mysql_async::Opts| {
        OptsBuilder::from_opts(opts).compression(mysql_async::Compression::fast())
    };
    let mut results = Vec::new();
    for opts in [
        s.direct_opts(APP_USER, APP_PASSWORD),
        s.tern_opts(APP_USER, APP_PASSWORD),
    ] {
        let mut c = Conn::new(compressed(opts)).await?;
        let big: Vec<Row> = c
            .query("SELECT seq, REPEAT(CHAR(65 + seq % 26), seq % 500) FROM seq_1_to_5000")
            .await?;
        let big: Vec<Vec<Value>> = big.into_iter().map(Row::unwrap).collect();
        let prepared: Vec<(i64, String)> = c
            .exec("SELECT seq, REPEAT('p', ?) FROM seq_1_to_100", (300,))
            .await?;
        let err = c.query_drop("SELECT * FROM missing_table").await;
        let code = match err {
            Err(mysql_async::Error::Server(e)) => e.code,
            other => anyhow::bail!("expected a server error, got {other:?}"),
        };
        results.push((big, prepared, code));
        c.disconnect().await?;
    }
    assert!(results[0] == results[1], "compressed results differ");
    Ok(())
}
