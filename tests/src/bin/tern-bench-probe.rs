//! bench/migrate probe: a single-row write every few milliseconds through Tern
//! (or any address), and the replica's lag behind the primary sampled from GTID
//! positions, both written as CSV lines until a stop file appears:
//!
//! ```text
//! probe,<unix ms>,<latency µs>,<1 ok | 0 error>[,<error>]
//! lag,<unix ms>,<lag ms>
//! ```

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

#[derive(Parser, Debug)]
#[command(name = "tern-bench-probe")]
struct Args {
    /// Where the probe writes go (HOST:PORT), normally Tern.
    #[arg(long)]
    target: String,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "sbtest")]
    database: String,
    #[arg(long, default_value = "sbtest1")]
    table: String,
    /// First id the probe inserts; ids go up by one per write.
    #[arg(long, default_value_t = 2_000_000)]
    first_id: u64,
    #[arg(long, default_value_t = 10)]
    interval_ms: u64,
    /// Primary and replica (HOST:PORT) for the lag samples, read with --admin-user.
    #[arg(long)]
    primary: String,
    #[arg(long)]
    replica: String,
    #[arg(long)]
    admin_user: String,
    #[arg(long)]
    admin_password: String,
    #[arg(long)]
    stop_file: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

fn opts(addr: &str, user: &str, password: &str, db: Option<&str>) -> Opts {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "3306"));
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse().unwrap_or(3306))
        .user(Some(user))
        .pass(Some(password))
        .db_name(db)
        .prefer_socket(false)
        .into()
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn domain0_seq(pos: &str) -> Option<u64> {
    pos.split(',')
        .map(str::trim)
        .find(|g| g.starts_with("0-"))
        .and_then(|g| g.rsplit('-').next())
        .and_then(|s| s.parse().ok())
}

async fn probe(args: &Args, out: std::sync::Arc<std::sync::Mutex<std::fs::File>>) -> Result<()> {
    let target = opts(
        &args.target,
        &args.user,
        &args.password,
        Some(&args.database),
    );
    let mut conn: Option<Conn> = None;
    let mut id = args.first_id;
    let interval = Duration::from_millis(args.interval_ms);
    let sql = format!(
        "INSERT INTO {} (id, k, c, pad) VALUES (?, ?, 'probe', 'probe')",
        args.table
    );
    while !args.stop_file.exists() {
        let tick = Instant::now();
        let started = Instant::now();
        let result = async {
            if conn.is_none() {
                conn = Some(Conn::new(target.clone()).await?);
            }
            match conn.as_mut() {
                Some(c) => c.exec_drop(&sql, (id, id)).await,
                None => Ok(()),
            }
        }
        .await;
        let latency = started.elapsed().as_micros();
        let line = match &result {
            Ok(()) => format!("probe,{},{latency},1\n", unix_ms()),
            Err(e) => {
                conn = None;
                format!(
                    "probe,{},{latency},0,{}\n",
                    unix_ms(),
                    e.to_string().replace([',', '\n'], " ")
                )
            }
        };
        out.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .write_all(line.as_bytes())?;
        id += 1;
        if let Some(rest) = interval.checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    Ok(())
}

async fn lag(args: &Args, out: std::sync::Arc<std::sync::Mutex<std::fs::File>>) -> Result<()> {
    let mut primary = Conn::new(opts(
        &args.primary,
        &args.admin_user,
        &args.admin_password,
        None,
    ))
    .await?;
    let mut replica = Conn::new(opts(
        &args.replica,
        &args.admin_user,
        &args.admin_password,
        None,
    ))
    .await?;
    // (when, primary seq): the primary's position history, for "how long ago did
    // the primary have what the replica has now".
    let mut history: VecDeque<(Instant, u64)> = VecDeque::new();
    while !args.stop_file.exists() {
        let p: Option<String> = primary.query_first("SELECT @@gtid_binlog_pos").await?;
        let now = Instant::now();
        if let Some(seq) = p.as_deref().and_then(domain0_seq) {
            if history.back().is_none_or(|&(_, s)| s != seq) {
                history.push_back((now, seq));
            }
        }
        let r: Option<String> = replica.query_first("SELECT @@gtid_slave_pos").await?;
        let applied = r.as_deref().and_then(domain0_seq).unwrap_or(0);
        // The first moment the primary had something the replica still lacks.
        let behind_since = history.iter().find(|&&(_, s)| s > applied).map(|&(t, _)| t);
        let lag_ms = behind_since.map_or(0, |t| now.duration_since(t).as_millis());
        while history.len() > 2 && history.get(1).is_some_and(|&(_, s)| s <= applied) {
            history.pop_front();
        }
        out.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .write_all(format!("lag,{},{lag_ms}\n", unix_ms()).as_bytes())?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = std::sync::Arc::new(std::sync::Mutex::new(file));
    let (a, b) = tokio::join!(probe(&args, out.clone()), lag(&args, out.clone()));
    a?;
    b?;
    Ok(())
}
