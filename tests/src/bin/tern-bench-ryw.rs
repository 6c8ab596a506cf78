//! bench/ryw driver: read-your-writes through Tern on a real primary + replica.
//!
//! Eight sessions each write their own row and read it back, N pairs each, in two
//! phases: with the replica's SQL thread stopped and started at random moments
//! (stale reads must be 0), and with a healthy replica (the share of reads the
//! replica serves). Read latency through Tern is compared with the same
//! workload's reads sent straight to the primary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use rand::Rng;
use tern_tests::cluster::{
    Cluster, ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE, APP_PASSWORD, APP_USER,
};
use tern_tests::tern::TernProcess;

#[derive(Parser, Debug)]
#[command(name = "tern-bench-ryw")]
struct Args {
    /// Write-then-read pairs per session and phase.
    #[arg(long, default_value_t = 10_000)]
    pairs: u64,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 8)]
    sessions: u32,
}

#[derive(Default)]
struct PhaseResult {
    reads: u64,
    stale: u64,
    on_replica: u64,
    latencies_us: Vec<u64>,
}

async fn phase(opts: Opts, replica_id: u32, args: &Args, table: &str) -> Result<PhaseResult> {
    let mut tasks = Vec::new();
    for session in 0..args.sessions {
        let opts = opts.clone();
        let pairs = args.pairs;
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(opts).await?;
            c.query_drop(format!("REPLACE INTO {table} VALUES ({session}, 0)"))
                .await?;
            let mut r = PhaseResult::default();
            for k in 1..=pairs {
                c.query_drop(format!("UPDATE {table} SET v = {k} WHERE id = {session}"))
                    .await?;
                let started = Instant::now();
                let row: Option<(i64, u32)> = c
                    .query_first(format!(
                        "SELECT v, (SELECT id FROM tern_whoami.server) FROM {table} WHERE id = {session}"
                    ))
                    .await?;
                r.latencies_us.push(started.elapsed().as_micros() as u64);
                let (v, server) = row.context("row vanished")?;
                r.reads += 1;
                if v != k as i64 {
                    r.stale += 1;
                }
                if server == replica_id {
                    r.on_replica += 1;
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = PhaseResult::default();
    for t in tasks {
        let r = t.await??;
        total.reads += r.reads;
        total.stale += r.stale;
        total.on_replica += r.on_replica;
        total.latencies_us.extend(r.latencies_us);
    }
    total.latencies_us.sort_unstable();
    Ok(total)
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, r: &PhaseResult) {
    println!(
        "{name:<34} reads={:>7} stale={:>3} replica_share={:>6.1}% read_p50={:>5}us read_p99={:>6}us",
        r.reads,
        r.stale,
        100.0 * r.on_replica as f64 / r.reads.max(1) as f64,
        pct(&r.latencies_us, 0.50),
        pct(&r.latencies_us, 0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let cluster = Cluster::start(1)?;
    let tern = TernProcess::start(&cluster, &[])?;
    let admin_opts = cluster.primary().opts(ADMIN_USER, ADMIN_PASSWORD, None);
    let mut admin = Conn::new(admin_opts).await?;
    admin
        .query_drop("CREATE TABLE app.ryw_tern (id INT PRIMARY KEY, v BIGINT NOT NULL); CREATE TABLE app.ryw_direct (id INT PRIMARY KEY, v BIGINT NOT NULL)")
        .await?;
    cluster.wait_replicas_caught_up(Duration::from_secs(10))?;
    let replica_opts = cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, None);
    let mut replica = Conn::new(replica_opts.clone()).await?;
    let replica_id: u32 = replica
        .query_first("SELECT (SELECT id FROM tern_whoami.server)")
        .await?
        .context("id")?;
    let via_tern = tern.opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE));
    let direct = cluster
        .primary()
        .opts(APP_USER, APP_PASSWORD, Some(APP_DATABASE));
    // Let the monitor see the replica healthy first.
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!(
        "tern-bench-ryw: {} sessions x {} write-then-read pairs per phase; read wait bound 100 ms",
        args.sessions, args.pairs
    );
    let healthy = phase(via_tern.clone(), replica_id, &args, "ryw_tern").await?;
    report("through Tern, healthy replica", &healthy);

    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut flaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (up, down) = {
                    let mut rng = rand::rng();
                    (rng.random_range(50..400), rng.random_range(10..300))
                };
                tokio::time::sleep(Duration::from_millis(up)).await;
                replica.query_drop("STOP SLAVE SQL_THREAD").await?;
                flaps += 1;
                tokio::time::sleep(Duration::from_millis(down)).await;
                replica.query_drop("START SLAVE SQL_THREAD").await?;
            }
            anyhow::Ok(flaps)
        })
    };
    let flapping = phase(via_tern, replica_id, &args, "ryw_tern").await?;
    stop.store(true, Ordering::Relaxed);
    let flaps = chaos.await??;
    report(
        &format!("through Tern, SQL thread flapping x{flaps}"),
        &flapping,
    );

    let straight = phase(direct, replica_id, &args, "ryw_direct").await?;
    report("direct to the primary", &straight);
    let ok = healthy.stale == 0 && flapping.stale == 0;
    println!(
        "stale reads: {} (must be 0) -> {}",
        healthy.stale + flapping.stale,
        if ok { "PASS" } else { "FAIL" }
    );
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
