mod alter;

use anyhow::Context;
use clap::Parser;
use tern::config::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckRules { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match tern_rules::RuleSet::from_toml(&text) {
                Ok(rules) => {
                    println!("{}: {} rules, OK", file.display(), rules.len());
                    Ok(())
                }
                Err(errors) => {
                    for line in errors.to_string().lines() {
                        eprintln!("{}:{line}", file.display());
                    }
                    std::process::exit(1);
                }
            }
        }
        Command::Alter(args) => {
            let args = *args;
            let quiet_by_default = args.settings.log.is_none();
            let settings = args.settings.resolve()?;
            // The progress bar is the output; logs only when asked for.
            let filter = if quiet_by_default {
                "warn"
            } else {
                settings.log.as_str()
            };
            init_logging(settings.log_format, filter)?;
            let show_progress =
                !args.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let runtime = build_runtime(1)?;
            let code = match (args.revert, args.statement) {
                (Some(id), _) => runtime.block_on(alter::revert(settings, id))?,
                (None, Some(statement)) => runtime.block_on(alter::run(
                    settings,
                    args.database,
                    &statement,
                    show_progress,
                ))?,
                (None, None) => anyhow::bail!("give a statement, or --revert ID"),
            };
            std::process::exit(code);
        }
        Command::Serve(args) => {
            let reload_args = (*args).clone();
            let settings = args.resolve()?;
            init_logging(settings.log_format, &settings.log)?;
            let runtime = build_runtime(settings.worker_threads)?;
            runtime.block_on(async move {
                let shared = tern::server::Shared::new(settings)?;
                let listener = tern::server::bind(&shared).await?;
                tokio::spawn(reload_on_sighup(shared.clone(), reload_args));
                if let Some(addr) = shared.settings.http {
                    let shared = shared.clone();
                    // Bound before serving SQL so that a taken port fails the start.
                    let http = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr} for --http"))?;
                    drop(http);
                    tokio::spawn(async move {
                        if let Err(e) = tern::admin::http::serve(shared, addr).await {
                            tracing::error!(error = %e, "http endpoint stopped");
                        }
                    });
                }
                tokio::select! {
                    _ = tern::server::serve(shared.clone(), listener) => {}
                    _ = shutdown_signal() => {
                        tracing::info!("shutting down: no new connections");
                    }
                }
                // The listener went with the serve future; what is running gets
                // its bounded chance to finish.
                shared.drain().await;
                tracing::info!("stopped");
                anyhow::Ok(())
            })
        }
    }
}

/// One worker thread runs a current-thread runtime: no cross-thread wake-ups,
/// which on small machines cost more than the proxying itself. More threads use
/// the work-stealing scheduler.
fn build_runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            b.worker_threads(threads);
        }
        b
    };
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(filter).with_context(|| format!("invalid log filter `{filter}`"))?;
    // Colour codes only for a terminal: logs in files and collectors stay greppable.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        // Client text reaches log fields escaped (`tern::logsafe`); this
        // keeps any record that still carries a line break on one line.
        .with_writer(|| tern::logsafe::OneLine(std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// SIGHUP re-reads the rule file and the configuration (file, environment and
/// the original flags, as at start). Sessions pick the new rules up at their
/// next statement, running migrations take the new migration settings at their
/// next step, and no connection is dropped. Settings that need a restart
/// (addresses, accounts, TLS, limits) keep their running values.
async fn reload_on_sighup(
    shared: std::sync::Arc<tern::server::Shared>,
    args: tern::config::ServeArgs,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        shared.reload_rules();
        match args.clone().resolve() {
            Ok(settings) => {
                shared.migrations.update_settings(settings.migrate.clone());
                tracing::info!(
                    cutover_hold_ms = settings.migrate.hold_bound.as_millis() as u64,
                    chunk_ms = settings.migrate.chunk_target.as_millis() as u64,
                    max_lag_ms = settings.migrate.max_lag_ms,
                    max_threads_running = settings.migrate.max_threads_running,
                    keep_old_secs = settings.migrate.keep_old.as_secs(),
                    replica_grace_secs = settings.migrate.replica_grace.as_secs(),
                    max_throttle_secs = settings.migrate.max_throttle.as_secs(),
                    max_concurrent = settings.migrate.max_concurrent,
                    latency_factor = settings.migrate.pace.latency_factor,
                    max_write_ms = settings.migrate.pace.max_write.as_millis() as u64,
                    max_checkpoint_age_pct = settings.migrate.pace.max_checkpoint_age_pct,
                    max_history_length = settings.migrate.pace.max_history_length,
                    "migration settings reloaded"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration invalid; keeping the running settings")
            }
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
