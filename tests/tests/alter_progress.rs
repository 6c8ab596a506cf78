//! A client waiting on an online ALTER gets MariaDB progress reports, as it
//! does from the server's own ALTER: only when it asked for them
//! (MARIADB_CLIENT_PROGRESS), every `progress_report_time` seconds, in the
//! server's packet layout, numbered before the final OK. A client that did
//! not ask sees nothing new. Real primary, real Tern, a raw protocol client.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use common::{RawClient, Setup};
use tern::protocol::framing::Packet;
use tern::protocol::packets::{is_progress_report, read_lenenc};
use tern_tests::cluster::{APP_PASSWORD, APP_USER};

const MARIADB_CLIENT_PROGRESS: u32 = 1;

/// A progress report's stage, number of stages, percent and stage name.
fn report(p: &Packet) -> Option<(u8, u8, f64, String)> {
    let b = &p.payload;
    if !is_progress_report(b) || b.len() < 10 || b[3] != 1 {
        return None;
    }
    let thousandths = u32::from_le_bytes([b[6], b[7], b[8], 0]);
    let (len, used) = read_lenenc(&b[9..])?;
    let name = b.get(9 + used..9 + used + len as usize)?;
    Some((
        b[4],
        b[5],
        f64::from(thousandths) / 1000.0,
        String::from_utf8_lossy(name).into_owned(),
    ))
}

/// Sends `sql` and reads the answer up to its first packet that is not a
/// progress report; returns the reports and that packet.
/// Bound on one online ALTER of the test table, copy included.
const ALTER_BOUND: Duration = Duration::from_secs(180);

async fn query_with_progress(c: &mut RawClient, sql: &str) -> Result<(Vec<Packet>, Packet)> {
    c.send(0, &common::com_query(sql)).await?;
    let mut reports = Vec::new();
    loop {
        // A client that asked for no reports hears nothing until the copy ends.
        let p = c.read_within(ALTER_BOUND).await?;
        if is_progress_report(&p.payload) {
            reports.push(p);
        } else {
            return Ok((reports, p));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_alter_sends_progress_reports_to_clients_that_asked() -> Result<()> {
    let s = Setup::start(
        0,
        &[
            "--migration-chunk-ms",
            "5",
            "--migration-max-lag-ms",
            "600000",
        ],
    )?;
    let mut admin = s.admin_direct().await?;
    mysql_async::prelude::Queryable::query_drop(
        &mut admin,
        "CREATE TABLE big (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) NOT NULL);
         INSERT INTO big SELECT seq, seq, REPEAT('p', 200) FROM seq_1_to_300000;",
    )
    .await?;

    // The server's own reports, for the layout to compare with.
    let primary = s.cluster.primary().port();
    let mut direct = RawClient::login_mariadb(
        primary,
        APP_USER,
        APP_PASSWORD,
        Some("app"),
        MARIADB_CLIENT_PROGRESS,
    )
    .await?;
    let (_, ok) = query_with_progress(&mut direct, "SET SESSION progress_report_time = 1").await?;
    ensure!(ok.payload.first() == Some(&0), "SET: {ok:?}");
    let (server_reports, ok) = query_with_progress(
        &mut direct,
        "ALTER TABLE big ADD COLUMN z INT NULL, ALGORITHM=COPY",
    )
    .await?;
    ensure!(ok.payload.first() == Some(&0), "direct ALTER: {ok:?}");
    let server_layout: Vec<_> = server_reports.iter().filter_map(report).collect();
    ensure!(
        !server_layout.is_empty() && server_layout.len() == server_reports.len(),
        "the server's own reports, read with the same layout: {server_reports:?}"
    );

    let mut asked = RawClient::login_mariadb(
        s.tern.port(),
        APP_USER,
        APP_PASSWORD,
        Some("app"),
        MARIADB_CLIENT_PROGRESS,
    )
    .await?;
    let (_, ok) = query_with_progress(&mut asked, "SET SESSION progress_report_time = 1").await?;
    ensure!(ok.payload.first() == Some(&0), "SET: {ok:?}");
    let (reports, ok) = query_with_progress(
        &mut asked,
        "ALTER TABLE big ADD COLUMN w INT NOT NULL DEFAULT 1, FORCE",
    )
    .await?;
    ensure!(
        ok.payload.first() == Some(&0),
        "the ALTER through Tern should end with OK: {ok:?}"
    );
    ensure!(!reports.is_empty(), "no progress report through Tern");
    for (i, p) in reports.iter().enumerate() {
        ensure!(p.seq as usize == i + 1, "report {i} numbered {}", p.seq);
    }
    ensure!(
        ok.seq as usize == reports.len() + 1,
        "the OK is numbered after the reports"
    );
    let read: Vec<_> = reports.iter().filter_map(report).collect();
    ensure!(
        read.len() == reports.len(),
        "unreadable report: {reports:?}"
    );
    let copy: Vec<f64> = read
        .iter()
        .filter(|(stage, max, _, name)| *stage == 1 && *max == 3 && name == "copy")
        .map(|r| r.2)
        .collect();
    ensure!(!copy.is_empty(), "no copy-stage report: {read:?}");
    ensure!(
        copy.windows(2).all(|w| w[0] <= w[1]) && copy.iter().all(|p| (0.0..=100.0).contains(p)),
        "copy progress should grow within 0..100: {copy:?}"
    );
    eprintln!("progress through Tern: {read:?}");

    // A client that did not ask gets the OK as the first packet.
    let mut plain = RawClient::login(s.tern.port(), APP_USER, APP_PASSWORD, Some("app"), 0).await?;
    let (reports, ok) =
        query_with_progress(&mut plain, "ALTER TABLE big DROP COLUMN w, FORCE").await?;
    if !reports.is_empty() || ok.seq != 1 || ok.payload.first() != Some(&0) {
        bail!("a client that did not ask got {reports:?} then {ok:?}");
    }
    Ok(())
}
