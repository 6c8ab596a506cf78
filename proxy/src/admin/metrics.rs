//! Prometheus metrics. Counters on the query path are resolved once at start
//! (one handle per route and statement kind), so recording a query is a few
//! atomic adds and no lookup; gauges that mirror state (sessions, replicas,
//! migrations) are filled in when scraped.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tern_rules::StatementKind;

use super::latency::LatencyBuckets;
use super::near_copy::NearCopy;

/// Where a statement ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteLabel {
    Primary = 0,
    Replica = 1,
}

const ROUTES: [&str; 2] = ["primary", "replica"];
/// Latency buckets from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

pub struct Metrics {
    pub registry: Registry,
    queries: [[IntCounter; StatementKind::ALL.len()]; 2],
    latency: [Histogram; 2],
    errors: IntCounterVec,
    pub client_connections: IntGauge,
    pub ryw_waits: IntCounter,
    pub ryw_primary_fallbacks: IntCounter,
    pub gate_holds: IntCounter,
    pub gate_hold_seconds: Histogram,
    /// Table changes Tern could not run online and ran as sent (with a Note).
    pub ddl_native_fallbacks: IntCounter,
    /// Tables changed through Tern that some replica has not applied yet.
    pub schema_changes_pending: IntGauge,
    pub backend_up: IntGaugeVec,
    pub backend_connections: IntGaugeVec,
    pub replica_lag_ms: IntGaugeVec,
    pub replica_applied_seq: IntGaugeVec,
    pub migration_rows_copied: IntGaugeVec,
    pub migration_rows_total: IntGaugeVec,
    pub migration_state: IntGaugeVec,
    pub migration_last_hold_ms: IntGaugeVec,
    pub migration_cutover_attempts: IntGaugeVec,
    /// Latency of data-changing statements (INSERT, UPDATE, DELETE, REPLACE),
    /// readable per window: the status page's chart, and what clients feel
    /// while a copy runs.
    pub writes: Arc<LatencyBuckets>,
    /// The writes that ran alongside a migration's copy chunk (`near_copy`).
    pub near_copy: Arc<NearCopy>,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Only fails for malformed names or duplicate registration: fixed at compile time here.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("tern".into()), None).unwrap_or_default();
        let queries_vec = must(IntCounterVec::new(
            Opts::new(
                "queries_total",
                "Statements relayed, by where they ran and their kind",
            ),
            &["route", "kind"],
        ));
        let latency_vec = must(HistogramVec::new(
            HistogramOpts::new(
                "query_duration_seconds",
                "Time from a statement's arrival to the end of its answer",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        ));
        let errors = must(IntCounterVec::new(
            Opts::new(
                "errors_total",
                "Statements answered with an ERR packet, by error code",
            ),
            &["code"],
        ));
        let client_connections = must(IntGauge::new(
            "client_connections",
            "Client connections open",
        ));
        let ryw_waits = must(IntCounter::new(
            "ryw_waits_total",
            "Replica reads that waited for the replica to apply the session's writes",
        ));
        let ryw_primary_fallbacks = must(IntCounter::new(
            "ryw_primary_fallbacks_total",
            "Reads meant for a replica that ran on the primary (replicas too far behind or failing)",
        ));
        let gate_holds = must(IntCounter::new(
            "write_gate_holds_total",
            "Writes held at the write gate while their table was frozen",
        ));
        let gate_hold_seconds = must(Histogram::with_opts(
            HistogramOpts::new(
                "write_gate_hold_seconds",
                "How long writes waited at the write gate",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        ));
        let ddl_native_fallbacks = must(IntCounter::new(
            "ddl_native_fallbacks_total",
            "ALTER TABLE / CREATE INDEX / DROP INDEX that Tern could not run online and ran as sent",
        ));
        let schema_changes_pending = must(IntGauge::new(
            "schema_changes_pending",
            "Tables changed through Tern that some replica has not applied yet (their replica reads wait for the change)",
        ));
        let backend_up = must(IntGaugeVec::new(
            Opts::new(
                "backend_up",
                "1 when a backend is reachable (and, for a replica, replicating)",
            ),
            &["server", "role"],
        ));
        let backend_connections = must(IntGaugeVec::new(
            Opts::new(
                "backend_connections",
                "Sessions' connections open to a backend",
            ),
            &["server", "role"],
        ));
        let replica_lag_ms = must(IntGaugeVec::new(
            Opts::new(
                "replica_lag_ms",
                "Replica lag behind the primary in milliseconds, from GTID positions",
            ),
            &["server"],
        ));
        let replica_applied_seq = must(IntGaugeVec::new(
            Opts::new(
                "replica_applied_gtid_seq",
                "Sequence number of the last GTID a replica applied, per domain",
            ),
            &["server", "domain"],
        ));
        let migration_rows_copied = must(IntGaugeVec::new(
            Opts::new("migration_rows_copied", "Rows an online ALTER has copied"),
            &["id", "table"],
        ));
        let migration_rows_total = must(IntGaugeVec::new(
            Opts::new(
                "migration_rows_total",
                "Rows an online ALTER expects to copy (estimate)",
            ),
            &["id", "table"],
        ));
        let migration_state = must(IntGaugeVec::new(
            Opts::new("migration_state", "1 for the state an online ALTER is in"),
            &["id", "table", "state"],
        ));
        let migration_last_hold_ms = must(IntGaugeVec::new(
            Opts::new(
                "migration_last_hold_ms",
                "How long the last freeze of an online ALTER held writes",
            ),
            &["id", "table"],
        ));
        let migration_cutover_attempts = must(IntGaugeVec::new(
            Opts::new(
                "migration_cutover_attempts",
                "Cut-over attempts of an online ALTER",
            ),
            &["id", "table"],
        ));
        for c in [
            Box::new(queries_vec.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency_vec.clone()),
            Box::new(errors.clone()),
            Box::new(client_connections.clone()),
            Box::new(ryw_waits.clone()),
            Box::new(ryw_primary_fallbacks.clone()),
            Box::new(gate_holds.clone()),
            Box::new(gate_hold_seconds.clone()),
            Box::new(ddl_native_fallbacks.clone()),
            Box::new(schema_changes_pending.clone()),
            Box::new(backend_up.clone()),
            Box::new(backend_connections.clone()),
            Box::new(replica_lag_ms.clone()),
            Box::new(replica_applied_seq.clone()),
            Box::new(migration_rows_copied.clone()),
            Box::new(migration_rows_total.clone()),
            Box::new(migration_state.clone()),
            Box::new(migration_last_hold_ms.clone()),
            Box::new(migration_cutover_attempts.clone()),
        ] {
            must(registry.register(c));
        }
        let queries = ROUTES.map(|route| {
            StatementKind::ALL.map(|k| queries_vec.with_label_values(&[route, k.name()]))
        });
        let latency = ROUTES.map(|route| latency_vec.with_label_values(&[route]));
        Metrics {
            registry,
            queries,
            latency,
            errors,
            client_connections,
            ryw_waits,
            ryw_primary_fallbacks,
            gate_holds,
            gate_hold_seconds,
            ddl_native_fallbacks,
            schema_changes_pending,
            backend_up,
            backend_connections,
            replica_lag_ms,
            replica_applied_seq,
            migration_rows_copied,
            migration_rows_total,
            migration_state,
            migration_last_hold_ms,
            migration_cutover_attempts,
            writes: Arc::new(LatencyBuckets::new()),
            near_copy: Arc::default(),
        }
    }

    /// One statement: where it ran, its kind, how long, and its error code (0: none).
    #[inline]
    pub fn record_query(
        &self,
        route: RouteLabel,
        kind: StatementKind,
        took: Duration,
        error_code: u16,
    ) {
        let r = route as usize;
        if let Some(c) = StatementKind::ALL.iter().position(|k| *k == kind) {
            self.queries[r][c].inc();
        }
        self.latency[r].observe(took.as_secs_f64());
        if matches!(
            kind,
            StatementKind::Insert
                | StatementKind::Update
                | StatementKind::Delete
                | StatementKind::Replace
        ) {
            self.writes.observe(took);
            self.near_copy.observe_write(took);
        }
        if error_code != 0 {
            self.errors
                .with_label_values(&[&error_code.to_string()])
                .inc();
        }
    }

    /// Statements that ran on `route` since start.
    pub fn statements_on(&self, route: RouteLabel) -> u64 {
        self.queries[route as usize].iter().map(|c| c.get()).sum()
    }

    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
