//! `tern alter`: one online ALTER against a primary, for operators and CI
//! pipelines, with the engine the proxy uses (same checks, control table,
//! throttling, cut-over). Without a proxy in front there is no write gate: the
//! cut-over rests on the database lock alone, which is what makes it correct
//! for clients that bypass Tern anyway.
//!
//! Exit status: 0 when the change is live, 1 when it failed (the server's
//! error is printed), 130 after Ctrl-C (the migration is cancelled and its
//! shadow table dropped).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::prelude::Queryable;
use tern::config::Settings;
use tern::migrate::plan::in_place_probe;
use tern::migrate::{AlterRequest, Control, Migration};
use tern::protocol::errcode::{
    ER_ALTER_OPERATION_NOT_SUPPORTED, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON, ER_LOCK_WAIT_TIMEOUT,
};
use tern::sql::alter::{plan, AlterPlan};

/// `tern alter --revert ID`: the previous table of migration ID back online
/// with every write since its cut-over. A Tern that keeps it current does it
/// there; otherwise this process reads the binlog from the recorded position
/// first. Exit status 0 when reverted, 1 with the reason otherwise.
pub async fn revert(settings: Settings, id: u64) -> anyhow::Result<i32> {
    let shared = tern::server::Shared::new(settings)?;
    shared.spawn_monitors();
    match shared.migrations.revert(id).await {
        Ok((schema, table, gtid)) => {
            println!("migration {id} reverted: `{schema}`.`{table}` has its previous definition again (GTID {gtid}); reverting again undoes this");
            Ok(0)
        }
        Err(why) => {
            eprintln!("ERROR 1105 (HY000): {why}");
            Ok(1)
        }
    }
}

/// How often the progress bar is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

pub async fn run(
    settings: Settings,
    database: Option<String>,
    statement: &str,
    show_progress: bool,
) -> anyhow::Result<i32> {
    let opts = tern::backend::monitor::admin_opts(
        &settings.primary,
        &settings.admin_user,
        &settings.admin_password,
    );
    let hold_secs = settings.migrate.hold_bound.as_secs().max(1);
    let shared = tern::server::Shared::new(settings)?;
    shared.spawn_monitors();
    let alter = match plan(statement) {
        AlterPlan::Online(a) => a,
        AlterPlan::Native(why) => {
            bail!("not a change tern alter runs online ({why}); run it with your client")
        }
        AlterPlan::NotTableChange => {
            bail!("not ALTER TABLE, CREATE INDEX or DROP INDEX; run it with your client")
        }
    };
    let Some(schema) = alter.table.schema.clone().or(database) else {
        bail!("no database selected: qualify the table (db.table) or pass --database");
    };
    let mut conn = mysql_async::Conn::new(
        mysql_async::OptsBuilder::from_opts(opts.clone()).db_name(Some(schema.clone())),
    )
    .await
    .context("connecting to the primary")?;
    // As through the proxy: the server does it without a copy when it can,
    // asked with the statement as written. An ALGORITHM or LOCK the operator
    // wrote is left to the copy, which honours any of them.
    let mut algorithms = vec!["INSTANT"];
    if !alter.adds_index {
        algorithms.push("NOCOPY");
    }
    if !alter.client_chose_algorithm() && !alter.names_engine {
        for algorithm in algorithms {
            let probe = String::from_utf8_lossy(&in_place_probe(
                statement.as_bytes(),
                algorithm,
                hold_secs,
            ))
            .into_owned();
            match conn.query_drop(probe).await {
                Ok(()) => {
                    println!("done by the server without a copy (ALGORITHM={algorithm})");
                    return Ok(0);
                }
                Err(mysql_async::Error::Server(e))
                    if matches!(
                        e.code,
                        ER_ALTER_OPERATION_NOT_SUPPORTED
                            | ER_ALTER_OPERATION_NOT_SUPPORTED_REASON
                            | ER_LOCK_WAIT_TIMEOUT
                    ) => {}
                Err(mysql_async::Error::Server(e)) => {
                    eprintln!("ERROR {} ({}): {}", e.code, e.state, e.message);
                    return Ok(1);
                }
                Err(e) => return Err(e).context("asking the server"),
            }
        }
    }
    let sql_mode: Option<String> = conn.query_first("SELECT @@GLOBAL.sql_mode").await?;
    let _ = conn.disconnect().await;
    let engine = shared.migrations.clone();
    let migration = match engine
        .submit(AlterRequest {
            alter,
            schema,
            statement: statement.to_string(),
            sql_mode: sql_mode.unwrap_or_default(),
            postponed: false,
            max_error_count: tern::migrate::DEFAULT_MAX_ERROR_COUNT,
        })
        .await
    {
        Ok(m) => m,
        Err(e) => {
            let (code, state, message) = e.client_error();
            eprintln!("ERROR {code} ({state}): {message}");
            return Ok(1);
        }
    };
    let bar = show_progress.then(|| progress_bar(&migration));
    let outcome = tokio::select! {
        o = watch(&migration, bar.as_ref()) => o,
        _ = tokio::signal::ctrl_c() => {
            if let Some(b) = &bar {
                b.set_message("cancelling");
            }
            let _ = engine.control(migration.id, Control::Cancel).await;
            let _ = migration.wait().await;
            if let Some(b) = &bar {
                b.abandon_with_message("cancelled");
            }
            eprintln!("migration {} cancelled; the table is unchanged", migration.id);
            return Ok(130);
        }
    };
    match outcome {
        Ok(finished) => {
            if let Some(b) = &bar {
                b.finish_with_message("done");
            }
            println!(
                "migration {} done: writes held {} ms at the cut-over; the old table is kept as {}",
                migration.id,
                finished.held.as_millis(),
                format_old(&migration)
            );
            // The keeper started in this process stops with it; `--revert`
            // catches up from where it stopped.
            println!(
                "undo while the old table is kept (--migration-keep-old-secs): tern alter --revert {}",
                migration.id
            );
            Ok(0)
        }
        Err(e) => {
            if let Some(b) = &bar {
                b.abandon_with_message("failed");
            }
            let (code, state, message) = e.client_error();
            eprintln!("ERROR {code} ({state}): {message}");
            Ok(1)
        }
    }
}

fn format_old(m: &Migration) -> String {
    tern::migrate::store::shadow_names(&m.table, m.id)
        .map(|(_, old)| old)
        .unwrap_or_default()
}

fn progress_bar(m: &Migration) -> ProgressBar {
    let bar = ProgressBar::new(m.progress().rows_total.max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} rows {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("#{} {}.{}", m.id, m.schema, m.table));
    bar
}

async fn watch(m: &Arc<Migration>, bar: Option<&ProgressBar>) -> tern::migrate::Outcome {
    let done = m.wait();
    tokio::pin!(done);
    loop {
        tokio::select! {
            o = &mut done => return o,
            _ = tokio::time::sleep(REDRAW) => {
                if let Some(bar) = bar {
                    let p = m.progress();
                    bar.set_length(p.rows_total.max(p.rows_copied).max(1));
                    bar.set_position(p.rows_copied);
                    let mut msg = p.state.name().to_string();
                    if let Some(t) = &p.throttled {
                        msg.push_str(&format!(" (throttled: {t})"));
                    }
                    if p.cutover_attempts > 1 {
                        msg.push_str(&format!(" (cut-over attempt {})", p.cutover_attempts));
                    }
                    bar.set_message(msg);
                }
            }
        }
    }
}
