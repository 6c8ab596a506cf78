//! bench/migrate writers: several connections writing a sysbench-shaped table
//! as fast as they can (no rate limit), some through Tern and some straight to
//! the primary, until a stop file appears. Every statement is one CSV line:
//!
//! ```text
//! <writer>,<tern | direct>,<unix ms at the end>,<latency µs>,<0 | error code>
//! ```
//!
//! Each writer mixes, at random: an insert of a new row, an update of a random
//! original row, a delete of one of its own rows, a primary-key change of one
//! of its own rows, and a transaction (update of an original row plus an
//! insert). Deletes and key changes touch only the writer's own rows and the
//! transaction takes its locks in one order, so the workload itself causes no
//! deadlocks: an error during a migration is the migration's doing.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use rand::{Rng, SeedableRng};

#[derive(Parser, Debug)]
#[command(name = "tern-bench-writers")]
struct Args {
    /// Tern's address (HOST:PORT).
    #[arg(long)]
    tern: String,
    /// The primary's address, for the writers that bypass Tern.
    #[arg(long)]
    primary: String,
    /// Writers through Tern.
    #[arg(long, default_value_t = 6)]
    via_tern: usize,
    /// Writers straight to the primary.
    #[arg(long, default_value_t = 1)]
    direct: usize,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "app")]
    database: String,
    #[arg(long, default_value = "sbtest1")]
    table: String,
    /// Rows of the original table (ids 1..=rows); updates pick among them.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// New ids start here; each writer has its own range of 10,000,000 above it.
    #[arg(long, default_value_t = 100_000_000)]
    first_new_id: u64,
    /// Steps per second across all writers (a step is one to four
    /// statements); 0 runs every writer back to back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    #[arg(long)]
    stop_file: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

fn opts(addr: &str, args: &Args) -> Opts {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "3306"));
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse().unwrap_or(3306))
        .user(Some(args.user.clone()))
        .pass(Some(args.password.clone()))
        .db_name(Some(args.database.clone()))
        .prefer_socket(false)
        .into()
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

type Out = Arc<Mutex<BufWriter<std::fs::File>>>;

struct Writer {
    index: usize,
    via: &'static str,
    conn: Option<Conn>,
    opts: Opts,
    table: String,
    rows: u64,
    next_id: u64,
    /// Ids this writer inserted and still owns (deleted or moved ids leave).
    own: Vec<u64>,
    rng: rand::rngs::StdRng,
    out: Out,
}

impl Writer {
    /// Runs one statement and records it; returns whether it succeeded.
    async fn run(&mut self, sql: String) -> bool {
        let started = Instant::now();
        let result = async {
            if self.conn.is_none() {
                self.conn = Some(Conn::new(self.opts.clone()).await?);
            }
            match self.conn.as_mut() {
                Some(c) => c.query_drop(sql).await,
                None => Ok(()),
            }
        }
        .await;
        let latency = started.elapsed().as_micros();
        let code = match &result {
            Ok(()) => 0,
            Err(mysql_async::Error::Server(e)) => e.code,
            Err(_) => {
                self.conn = None;
                1
            }
        };
        let line = format!(
            "{},{},{},{latency},{code}\n",
            self.index,
            self.via,
            unix_ms()
        );
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(line.as_bytes());
        }
        result.is_ok()
    }

    fn original_id(&mut self) -> u64 {
        self.rng.random_range(1..=self.rows)
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn insert_sql(&mut self, id: u64) -> String {
        let k: u32 = self.rng.random_range(1..=self.rows as u32);
        format!(
            "INSERT INTO {} (id, k, c, pad) VALUES ({id}, {k}, 'writer-{}', 'new')",
            self.table, self.index
        )
    }

    async fn step(&mut self) {
        let table = self.table.clone();
        match self.rng.random_range(0..100) {
            0..30 => {
                let id = self.new_id();
                let sql = self.insert_sql(id);
                if self.run(sql).await {
                    self.own.push(id);
                }
            }
            30..60 => {
                let id = self.original_id();
                let k: u32 = self.rng.random_range(1..=self.rows as u32);
                self.run(format!(
                    "UPDATE {table} SET k = {k}, c = 'updated' WHERE id = {id}"
                ))
                .await;
            }
            60..72 if !self.own.is_empty() => {
                let at = self.rng.random_range(0..self.own.len());
                let id = self.own.swap_remove(at);
                self.run(format!("DELETE FROM {table} WHERE id = {id}"))
                    .await;
            }
            72..85 if !self.own.is_empty() => {
                let at = self.rng.random_range(0..self.own.len());
                let old = self.own[at];
                let new = self.new_id();
                if self
                    .run(format!("UPDATE {table} SET id = {new} WHERE id = {old}"))
                    .await
                {
                    self.own[at] = new;
                }
            }
            _ => {
                let id = self.original_id();
                let new = self.new_id();
                let insert = self.insert_sql(new);
                if !self.run("BEGIN".into()).await {
                    return;
                }
                let ok = self
                    .run(format!("UPDATE {table} SET k = k + 1 WHERE id = {id}"))
                    .await
                    && self.run(insert).await;
                let end = if ok { "COMMIT" } else { "ROLLBACK" };
                if self.run(end.into()).await && ok {
                    self.own.push(new);
                }
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out: Out = Arc::new(Mutex::new(BufWriter::with_capacity(1 << 20, file)));
    let mut tasks = Vec::new();
    for index in 0..args.via_tern + args.direct {
        let (via, addr) = if index < args.via_tern {
            ("tern", &args.tern)
        } else {
            ("direct", &args.primary)
        };
        let mut writer = Writer {
            index,
            via,
            conn: None,
            opts: opts(addr, &args),
            table: args.table.clone(),
            rows: args.rows,
            next_id: args.first_new_id + index as u64 * 10_000_000,
            own: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(index as u64 + 1),
            out: out.clone(),
        };
        let stop = args.stop_file.clone();
        let writers = (args.via_tern + args.direct) as u64;
        // Each writer's share of the rate, as a fixed schedule; a late step
        // does not make the next ones come faster.
        let mut pace = (args.rate > 0).then(|| {
            let mut every =
                tokio::time::interval(Duration::from_secs_f64(writers as f64 / args.rate as f64));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every
        });
        tasks.push(tokio::spawn(async move {
            while !stop.exists() {
                for _ in 0..20 {
                    if let Some(every) = pace.as_mut() {
                        every.tick().await;
                    }
                    writer.step().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    out.lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .flush()?;
    Ok(())
}
