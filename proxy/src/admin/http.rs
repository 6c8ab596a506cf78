//! `--http ADDR`: `/metrics` (Prometheus text), `/api/status`,
//! `/api/migrations` and `/api/history` (JSON), `/healthz` (200, or 503 when
//! the primary does not answer) and the status page at `/`, which draws its
//! charts itself from `/api/history`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Json};
use axum::routing::get;
use axum::Router;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use super::history::{sample_forever, History};
use crate::migrate::pace::Blame;
use crate::migrate::Migration;
use crate::server::Shared;

/// A health check answers within this, whatever the primary does.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const STATUS_PAGE: &str = include_str!("status.html");

#[derive(Clone)]
struct Endpoint {
    shared: Arc<Shared>,
    history: Arc<History>,
}

impl FromRef<Endpoint> for Arc<Shared> {
    fn from_ref(e: &Endpoint) -> Self {
        e.shared.clone()
    }
}

impl FromRef<Endpoint> for Arc<History> {
    fn from_ref(e: &Endpoint) -> Self {
        e.history.clone()
    }
}

pub async fn serve(shared: Arc<Shared>, addr: SocketAddr) -> std::io::Result<()> {
    let history = Arc::new(History::default());
    // The sampler lives as long as the endpoint: without `--http` nobody
    // could read what it keeps.
    let sampler = tokio::spawn(sample_forever(shared.clone(), history.clone()));
    let _stop_sampler = AbortOnDrop(sampler);
    let app = Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/migrations", get(migrations))
        .route("/api/history", get(history_json))
        .route("/healthz", get(healthz))
        .with_state(Endpoint { shared, history });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The bound address, so that `--http 127.0.0.1:0` says which port it got.
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "http endpoint on {addr}");
    axum::serve(listener, app).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn history_json(State(history): State<Arc<History>>) -> Json<Value> {
    Json(history.to_json())
}

async fn page() -> Html<&'static str> {
    Html(STATUS_PAGE)
}

/// Mirrors the state gauges from what the monitors and the engine know.
fn refresh_gauges(shared: &Shared) {
    let m = &shared.metrics;
    m.client_connections.set(shared.active_sessions() as i64);
    m.schema_changes_pending
        .set(shared.schema_changes.len() as i64);
    // Every session holds one primary connection.
    m.backend_connections
        .with_label_values(&[&shared.primary.addr, "primary"])
        .set(shared.active_sessions() as i64);
    for node in &shared.replicas {
        let s = node.health.snapshot();
        let up = s.reachable && s.io_running && s.sql_running;
        m.backend_up
            .with_label_values(&[&node.target.addr, "replica"])
            .set(i64::from(up));
        m.replica_lag_ms
            .with_label_values(&[&node.target.addr])
            .set(s.lag_ms as i64);
        for g in s.applied.maria_positions() {
            m.replica_applied_seq
                .with_label_values(&[&node.target.addr, &g.domain.to_string()])
                .set(g.seq as i64);
        }
    }
    m.migration_rows_copied.reset();
    m.migration_rows_total.reset();
    m.migration_state.reset();
    m.migration_last_hold_ms.reset();
    m.migration_cutover_attempts.reset();
    for mig in shared.migrations.list() {
        let p = mig.progress();
        let id = mig.id.to_string();
        let table = format!("{}.{}", mig.schema, mig.table);
        let labels = [id.as_str(), table.as_str()];
        m.migration_rows_copied
            .with_label_values(&labels)
            .set(p.rows_copied as i64);
        m.migration_rows_total
            .with_label_values(&labels)
            .set(p.rows_total as i64);
        m.migration_state
            .with_label_values(&[&id, &table, p.state.name()])
            .set(1);
        m.migration_cutover_attempts
            .with_label_values(&labels)
            .set(i64::from(p.cutover_attempts));
        if let Some(h) = p.last_hold {
            m.migration_last_hold_ms
                .with_label_values(&labels)
                .set(h.as_millis() as i64);
        }
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let up = primary_answers(&shared).await;
    shared
        .metrics
        .backend_up
        .with_label_values(&[&shared.primary.addr, "primary"])
        .set(i64::from(up));
    refresh_gauges(&shared);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.encode(),
    )
}

async fn primary_answers(shared: &Shared) -> bool {
    let opts = shared.migrations.opts.clone();
    let check = async move {
        let mut conn = mysql_async::Conn::new(opts).await?;
        conn.ping().await?;
        conn.disconnect().await
    };
    matches!(
        tokio::time::timeout(HEALTH_TIMEOUT, check).await,
        Ok(Ok(()))
    )
}

async fn healthz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    if primary_answers(&shared).await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "primary unreachable\n")
    }
}

fn migration_json(m: &Migration) -> Value {
    let p = m.progress();
    let rows_per_sec = p
        .copy_started
        .map(|t| p.rows_copied as f64 / t.elapsed().as_secs_f64().max(0.001))
        .unwrap_or(0.0);
    let eta_secs = (rows_per_sec > 0.0 && p.state == crate::migrate::store::State::Copying)
        .then(|| (p.rows_total.saturating_sub(p.rows_copied) as f64 / rows_per_sec).ceil() as u64);
    json!({
        "id": m.id,
        "table": format!("{}.{}", m.schema, m.table),
        "statement": m.statement,
        "state": p.state.name(),
        "rows_copied": p.rows_copied,
        "rows_total": p.rows_total,
        "rows_per_sec": rows_per_sec.round(),
        "eta_secs": eta_secs,
        "replica_lag_ms": p.lag_ms,
        "cutover_attempts": p.cutover_attempts,
        "last_hold_ms": p.last_hold.map(|h| h.as_millis() as u64),
        "paused": p.paused,
        "postponed": p.postponed,
        "throttled": p.throttled,
        "pace_pct": p.pace_pct,
        "shadow_table": m.side_tables().0,
        "old_table": m.side_tables().1,
        "reverts": p.reverts,
        "revertible_until": p.revertible_until,
        "revert_note": p.revert_note,
        "baseline_write_p99_ms": p.baseline_p99.map(|b| b.as_secs_f64() * 1000.0),
        "signals": p.signals.iter().map(|r| json!({
            "signal": r.signal,
            "value": r.value,
            "limit": r.limit,
            "unit": r.unit,
            "over": r.over(),
            // Over and the copy's doing (`pace::Blame`): the pace drops.
            "slows": r.slows(),
            "blame": match r.blame {
                Blame::Copy => "copy",
                Blame::AlsoApart => "also_apart_from_chunks",
                Blame::NoChunk => "no_chunk_ran",
            },
        })).collect::<Vec<_>>(),
        "ignored_replicas": p.ignored_replicas,
        "error": p.error,
    })
}

async fn migrations(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let list: Vec<Value> = shared
        .migrations
        .list()
        .iter()
        .map(|m| migration_json(m))
        .collect();
    Json(Value::Array(list))
}

async fn status(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let primary_up = primary_answers(&shared).await;
    let replicas: Vec<Value> = shared
        .replicas
        .iter()
        .map(|node| {
            let s = node.health.snapshot();
            json!({
                "role": "replica",
                "address": node.target.addr,
                "group": node.group,
                "healthy": node.health.is_healthy(),
                "reachable": s.reachable,
                "io_running": s.io_running,
                "sql_running": s.sql_running,
                "lag_ms": s.lag_ms,
                "connections": node.connections.load(std::sync::atomic::Ordering::Relaxed),
                "gtid_position": s.applied.to_string(),
                "last_error": s.last_error,
            })
        })
        .collect();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "client_connections": shared.active_sessions(),
        "primary": {
            "role": "primary",
            "address": shared.primary.addr,
            "healthy": primary_up,
            "connections": shared.active_sessions(),
            "gtid_position": shared.primary_history.latest().map(|g| g.to_string()),
        },
        "replicas": replicas,
        "write_gate_holds": shared.metrics.gate_holds.get(),
        "migrations": shared.migrations.list().iter().map(|m| migration_json(m)).collect::<Vec<_>>(),
    }))
}
