//! The last minutes of the instance, one sample a second, for the status
//! page's charts (`/api/history`).
//!
//! A sample holds rates, not totals: statements per second by route, the p99
//! and count of writes in that second, each replica's lag, and each running
//! migration's rows per second and throttle state. Cut-overs are kept apart,
//! newest last, so the page can list them after their migration is gone.
//!
//! Invariants: memory is bounded ([`SAMPLES`] samples, [`CUTOVERS`] cut-overs);
//! a cut-over is listed once, and one that finished before sampling began is
//! not listed with the wrong time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::latency::LatencySnapshot;
use super::metrics::RouteLabel;
use crate::migrate::store::State;
use crate::server::Shared;

pub const INTERVAL: Duration = Duration::from_secs(1);
/// Ten minutes at one sample a second.
pub const SAMPLES: usize = 600;
pub const CUTOVERS: usize = 100;

/// What the sampler saw at one moment.
pub struct Observation {
    pub at: Instant,
    pub unix_ms: u64,
    pub primary_statements: u64,
    pub replica_statements: u64,
    pub writes: LatencySnapshot,
    /// Address, lag in ms, healthy.
    pub replicas: Vec<(String, u64, bool)>,
    pub migrations: Vec<MigrationObservation>,
}

pub struct MigrationObservation {
    pub id: u64,
    pub table: String,
    pub state: State,
    pub rows_copied: u64,
    pub throttled: Option<String>,
    pub pace_pct: u8,
    pub paused: bool,
    pub postponed: bool,
    pub last_hold_ms: Option<u64>,
}

impl MigrationObservation {
    /// Why the copy is not running at full pace right now, if it is not.
    fn throttle(&self) -> Option<String> {
        if self.paused {
            Some("paused".into())
        } else if self.postponed && self.state == State::Postponed {
            Some("postponed".into())
        } else {
            self.throttled.clone()
        }
    }
}

struct Previous {
    at: Instant,
    primary_statements: u64,
    replica_statements: u64,
    writes: LatencySnapshot,
    rows: HashMap<u64, u64>,
}

#[derive(Default)]
struct Inner {
    samples: VecDeque<Value>,
    cutovers: VecDeque<Value>,
    previous: Option<Previous>,
    /// Finished migrations already accounted for.
    finished: HashSet<u64>,
}

#[derive(Default)]
pub struct History {
    inner: Mutex<Inner>,
}

fn per_sec(now: u64, before: u64, secs: f64) -> f64 {
    (now.saturating_sub(before) as f64 / secs * 10.0).round() / 10.0
}

impl History {
    pub fn record(&self, o: Observation) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let first = inner.previous.is_none();
        for m in &o.migrations {
            if m.state != State::Done || !inner.finished.insert(m.id) || first {
                continue;
            }
            if let Some(hold_ms) = m.last_hold_ms {
                inner.cutovers.push_back(json!({
                    "t": o.unix_ms, "id": m.id, "table": m.table, "hold_ms": hold_ms,
                }));
                if inner.cutovers.len() > CUTOVERS {
                    inner.cutovers.pop_front();
                }
            }
        }
        let rows: HashMap<u64, u64> = o.migrations.iter().map(|m| (m.id, m.rows_copied)).collect();
        if let Some(p) = &inner.previous {
            let secs = o.at.duration_since(p.at).as_secs_f64().max(0.001);
            let window = o.writes.since(&p.writes);
            let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
            let lags: serde_json::Map<String, Value> = o
                .replicas
                .iter()
                .map(|(addr, lag, healthy)| {
                    (addr.clone(), json!({ "lag_ms": lag, "healthy": healthy }))
                })
                .collect();
            let migrations: Vec<Value> = o
                .migrations
                .iter()
                .filter(|m| !matches!(m.state, State::Done | State::Failed | State::Cancelled))
                .map(|m| {
                    let before = p.rows.get(&m.id).copied().unwrap_or(m.rows_copied);
                    json!({
                        "id": m.id,
                        "table": m.table,
                        "state": m.state.name(),
                        "rows_per_sec": per_sec(m.rows_copied, before, secs),
                        "throttle": m.throttle(),
                        "pace_pct": m.pace_pct,
                    })
                })
                .collect();
            let sample = json!({
                "t": o.unix_ms,
                "statements_per_sec": {
                    "primary": per_sec(o.primary_statements, p.primary_statements, secs),
                    "replica": per_sec(o.replica_statements, p.replica_statements, secs),
                },
                "writes_per_sec": per_sec(window.count(), 0, secs),
                "write_p99_ms": window.quantile(0.99).map(ms),
                "write_max_ms": window.max().map(ms),
                "replicas": lags,
                "migrations": migrations,
            });
            inner.samples.push_back(sample);
            if inner.samples.len() > SAMPLES {
                inner.samples.pop_front();
            }
        }
        inner.previous = Some(Previous {
            at: o.at,
            primary_statements: o.primary_statements,
            replica_statements: o.replica_statements,
            writes: o.writes,
            rows,
        });
    }

    pub fn to_json(&self) -> Value {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "interval_ms": INTERVAL.as_millis() as u64,
            "samples": inner.samples,
            "cutovers": inner.cutovers,
        })
    }
}

/// What the instance looks like now.
pub fn observe(shared: &Shared) -> Observation {
    let metrics = &shared.metrics;
    Observation {
        at: Instant::now(),
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        primary_statements: metrics.statements_on(RouteLabel::Primary),
        replica_statements: metrics.statements_on(RouteLabel::Replica),
        writes: metrics.writes.snapshot(),
        replicas: shared
            .replicas
            .iter()
            .map(|node| {
                let s = node.health.snapshot();
                (node.target.addr.clone(), s.lag_ms, node.health.is_healthy())
            })
            .collect(),
        migrations: shared
            .migrations
            .list()
            .iter()
            .map(|m| {
                let p = m.progress();
                MigrationObservation {
                    id: m.id,
                    table: format!("{}.{}", m.schema, m.table),
                    state: p.state,
                    rows_copied: p.rows_copied,
                    throttled: p.throttled,
                    pace_pct: p.pace_pct,
                    paused: p.paused,
                    postponed: p.postponed,
                    last_hold_ms: p.last_hold.map(|h| h.as_millis() as u64),
                }
            })
            .collect(),
    }
}

/// Samples the instance every [`INTERVAL`] for as long as it runs.
pub async fn sample_forever(shared: Arc<Shared>, history: Arc<History>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        history.record(observe(&shared));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::latency::LatencyBuckets;

    fn observation(at: Instant, t: u64, primary: u64, writes: &LatencyBuckets) -> Observation {
        Observation {
            at,
            unix_ms: t,
            primary_statements: primary,
            replica_statements: 0,
            writes: writes.snapshot(),
            replicas: vec![("r1:3306".into(), 7, true)],
            migrations: Vec::new(),
        }
    }

    fn migration(id: u64, state: State, rows: u64, hold: Option<u64>) -> MigrationObservation {
        MigrationObservation {
            id,
            table: "db.t".into(),
            state,
            rows_copied: rows,
            throttled: None,
            pace_pct: 100,
            paused: false,
            postponed: false,
            last_hold_ms: hold,
        }
    }

    #[test]
    fn samples_are_rates_over_the_second_that_passed() {
        let h = History::default();
        let writes = LatencyBuckets::new();
        let t0 = Instant::now();
        let mut o = observation(t0, 1_000, 100, &writes);
        o.migrations.push(migration(1, State::Copying, 0, None));
        h.record(o);
        for _ in 0..50 {
            writes.observe(Duration::from_millis(2));
        }
        writes.observe(Duration::from_millis(90));
        let mut o = observation(t0 + Duration::from_secs(2), 3_000, 500, &writes);
        o.migrations.push(migration(1, State::Copying, 4_000, None));
        h.record(o);
        let j = h.to_json();
        let samples = j["samples"].as_array().cloned().unwrap_or_default();
        assert_eq!(samples.len(), 1, "the first observation is only a base");
        let s = &samples[0];
        assert_eq!(s["statements_per_sec"]["primary"], 200.0);
        assert_eq!(s["writes_per_sec"], 25.5);
        let p99 = s["write_p99_ms"].as_f64().unwrap_or_default();
        assert!((90.0..102.0).contains(&p99), "p99 {p99}");
        assert_eq!(s["migrations"][0]["rows_per_sec"], 2000.0);
        assert_eq!(s["replicas"]["r1:3306"]["lag_ms"], 7);
    }

    #[test]
    fn a_cutover_is_listed_once_and_not_when_it_predates_sampling() {
        let h = History::default();
        let writes = LatencyBuckets::new();
        let t0 = Instant::now();
        let mut o = observation(t0, 1_000, 0, &writes);
        o.migrations.push(migration(1, State::Done, 10, Some(5)));
        h.record(o);
        for (i, t) in [2_000, 3_000].into_iter().enumerate() {
            let mut o = observation(t0 + Duration::from_secs(i as u64 + 1), t, 0, &writes);
            o.migrations.push(migration(1, State::Done, 10, Some(5)));
            o.migrations.push(migration(2, State::Done, 10, Some(12)));
            h.record(o);
        }
        let j = h.to_json();
        let cutovers = j["cutovers"].as_array().cloned().unwrap_or_default();
        assert_eq!(cutovers.len(), 1, "{cutovers:?}");
        assert_eq!(cutovers[0]["id"], 2);
        assert_eq!(cutovers[0]["hold_ms"], 12);
        assert_eq!(cutovers[0]["t"], 2_000);
    }

    #[test]
    fn memory_stays_bounded() {
        let h = History::default();
        let writes = LatencyBuckets::new();
        let t0 = Instant::now();
        for i in 0..(SAMPLES as u64 + 20) {
            h.record(observation(
                t0 + Duration::from_secs(i),
                i * 1000,
                i,
                &writes,
            ));
        }
        let j = h.to_json();
        assert_eq!(j["samples"].as_array().map(Vec::len), Some(SAMPLES));
    }
}
