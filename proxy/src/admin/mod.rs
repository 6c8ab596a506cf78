//! The operator's surface besides SQL: Prometheus metrics, a JSON API, a
//! health check for load balancers and a status page, on `--http ADDR`.

pub mod history;
pub mod http;
pub mod latency;
pub mod metrics;
pub mod near_copy;
