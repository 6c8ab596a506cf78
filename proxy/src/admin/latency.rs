//! Write latency as the clients feel it, in a form that can be read as "the
//! last few seconds".
//!
//! Prometheus histograms are cumulative since start and have coarse buckets,
//! fine for a scraper that takes differences, useless for "what is p99 right
//! now". [`LatencyBuckets`] keeps cumulative counts in log-scale buckets of
//! one eighth of a power of two (every answer within 12.5 % of the truth, from
//! 1 µs to hours), so any reader can take two snapshots and ask for a quantile
//! of what happened between them. Recording is one relaxed atomic add: it sits
//! on the statement path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sub-buckets per power of two.
const STEPS: u64 = 8;
/// Powers of two covered above the first `STEPS` microseconds: 2^40 µs is
/// about 12 days, so nothing real overflows the last bucket.
const OCTAVES: usize = 40;
pub const BUCKETS: usize = STEPS as usize * (OCTAVES + 1);

/// Cumulative counts of latencies by bucket.
pub struct LatencyBuckets {
    counts: Box<[AtomicU64; BUCKETS]>,
}

/// Counts per bucket at one moment; subtract two to get a window.
#[derive(Clone)]
pub struct LatencySnapshot(Box<[u64; BUCKETS]>);

fn bucket_of(micros: u64) -> usize {
    if micros < STEPS {
        return micros as usize;
    }
    let octave = 63 - micros.leading_zeros() as u64; // >= 3
    let step = (micros >> (octave - 3)) & (STEPS - 1);
    (((octave - 2) * STEPS + step) as usize).min(BUCKETS - 1)
}

/// The largest latency a bucket holds, in microseconds.
fn upper_bound(bucket: usize) -> u64 {
    let b = bucket as u64;
    if b < STEPS {
        return b;
    }
    let octave = b / STEPS + 2;
    let step = b % STEPS;
    ((STEPS + step + 1) << (octave - 3)) - 1
}

impl LatencyBuckets {
    pub fn new() -> Self {
        LatencyBuckets {
            counts: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    #[inline]
    pub fn observe(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot(Box::new(std::array::from_fn(|i| {
            self.counts[i].load(Ordering::Relaxed)
        })))
    }
}

impl Default for LatencyBuckets {
    fn default() -> Self {
        LatencyBuckets::new()
    }
}

impl LatencySnapshot {
    pub fn empty() -> Self {
        LatencySnapshot(Box::new([0; BUCKETS]))
    }

    /// What was recorded after `earlier` and up to this snapshot.
    pub fn since(&self, earlier: &LatencySnapshot) -> LatencySnapshot {
        LatencySnapshot(Box::new(std::array::from_fn(|i| {
            self.0[i].saturating_sub(earlier.0[i])
        })))
    }

    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The latency at quantile `q` (0..=1), as the upper edge of its bucket;
    /// `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, &n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(upper_bound(bucket)));
            }
        }
        None
    }

    /// The slowest recorded latency (upper edge of the highest bucket used).
    pub fn max(&self) -> Option<Duration> {
        let bucket = self.0.iter().rposition(|&n| n > 0)?;
        Some(Duration::from_micros(upper_bound(bucket)))
    }
}

/// Snapshots of one [`LatencyBuckets`] taken every [`LatencyHistory::TICK`]
/// for the last [`LatencyHistory::KEEP`], so that a reader can ask what the
/// last half minute looked like (a migration's baseline) without having
/// watched it.
pub struct LatencyHistory {
    pub buckets: Arc<LatencyBuckets>,
    ring: Mutex<VecDeque<(Instant, LatencySnapshot)>>,
}

impl LatencyHistory {
    pub const TICK: Duration = Duration::from_secs(1);
    pub const KEEP: Duration = Duration::from_secs(60);

    pub fn new(buckets: Arc<LatencyBuckets>) -> Self {
        LatencyHistory {
            buckets,
            ring: Mutex::new(VecDeque::new()),
        }
    }

    pub fn tick(&self, now: Instant) {
        let snapshot = self.buckets.snapshot();
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.push_back((now, snapshot));
        while ring
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Self::KEEP)
        {
            ring.pop_front();
        }
    }

    /// What was recorded over about the last `span` (less when the history is
    /// younger): the window's length and its counts.
    pub fn last(&self, span: Duration, now: Instant) -> Option<(Duration, LatencySnapshot)> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let (at, base) = ring
            .iter()
            .find(|(t, _)| now.duration_since(*t) <= span)
            .or_else(|| ring.back())?;
        Some((now.duration_since(*at), self.buckets.snapshot().since(base)))
    }

    /// The typical `q` quantile of the last `span`: the median of the
    /// quantiles of its `slice`-long parts that saw at least `min_count`
    /// latencies, so that one burst (clients connecting, one flush) does not
    /// stand for the whole span. With fewer than three such parts, the
    /// quantile of the whole span when it saw `min_count`.
    pub fn typical_quantile(
        &self,
        span: Duration,
        slice: Duration,
        q: f64,
        min_count: u64,
        now: Instant,
    ) -> Option<Duration> {
        let mut parts = Vec::new();
        {
            let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            let mut start: Option<&(Instant, LatencySnapshot)> = None;
            for tick in ring.iter().filter(|(t, _)| now.duration_since(*t) <= span) {
                match start {
                    None => start = Some(tick),
                    Some((from, base)) if tick.0.duration_since(*from) >= slice => {
                        let part = tick.1.since(base);
                        if part.count() >= min_count {
                            parts.extend(part.quantile(q));
                        }
                        start = Some(tick);
                    }
                    Some(_) => {}
                }
            }
        }
        if parts.len() >= 3 {
            parts.sort();
            return Some(parts[parts.len() / 2]);
        }
        self.last(span, now)
            .filter(|(_, w)| w.count() >= min_count)
            .and_then(|(_, w)| w.quantile(q))
    }

    /// Ticks every [`Self::TICK`] for as long as the process runs.
    pub async fn keep_ticking(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Self::TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.tick(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_lands_in_a_bucket_whose_bounds_hold_it() {
        let mut lower = 0;
        for bucket in 0..BUCKETS - 1 {
            let upper = upper_bound(bucket);
            assert!(upper >= lower, "bucket {bucket}: {lower}..={upper}");
            assert_eq!(bucket_of(lower), bucket, "lower edge of {bucket}");
            assert_eq!(bucket_of(upper), bucket, "upper edge of {bucket}");
            // Within 12.5 % of the truth above the first exact buckets.
            if lower >= STEPS {
                assert!((upper - lower) as f64 <= lower as f64 / 8.0 + 1.0);
            }
            lower = upper + 1;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_burst_in_one_part_of_the_span_is_not_the_typical_tail() {
        let history = LatencyHistory::new(Arc::new(LatencyBuckets::new()));
        let start = Instant::now();
        history.tick(start);
        for second in 1..=30u64 {
            for _ in 0..1000 {
                history.buckets.observe(Duration::from_millis(2));
            }
            if second == 3 {
                // Clients connecting: a few hundred slow writes at once.
                for _ in 0..50 {
                    history.buckets.observe(Duration::from_millis(150));
                }
            }
            history.tick(start + Duration::from_secs(second));
        }
        let now = start + Duration::from_secs(30);
        let span = Duration::from_secs(30);
        let whole = history
            .last(span, now)
            .and_then(|(_, w)| w.quantile(0.999))
            .expect("whole");
        assert!(whole >= Duration::from_millis(100), "{whole:?}");
        let typical = history
            .typical_quantile(span, Duration::from_secs(5), 0.999, 1000, now)
            .expect("typical");
        assert!(typical <= Duration::from_millis(3), "{typical:?}");
        // Too few parts: the whole span's.
        let few = history
            .typical_quantile(span, Duration::from_secs(20), 0.999, 1000, now)
            .expect("few");
        assert_eq!(few, whole);
        assert_eq!(
            history.typical_quantile(span, Duration::from_secs(5), 0.999, 1_000_000, now),
            None
        );
    }

    #[test]
    fn quantiles_of_a_window_ignore_what_came_before() {
        let l = LatencyBuckets::new();
        for _ in 0..1000 {
            l.observe(Duration::from_millis(200));
        }
        let before = l.snapshot();
        for i in 0..100u64 {
            l.observe(Duration::from_micros(1000 + i));
        }
        l.observe(Duration::from_millis(40));
        let window = l.snapshot().since(&before);
        assert_eq!(window.count(), 101);
        let p50 = window.quantile(0.5).unwrap_or_default();
        assert!(p50 >= Duration::from_micros(1000) && p50 < Duration::from_micros(1200));
        let max = window.max().unwrap_or_default();
        assert!(max >= Duration::from_millis(40) && max < Duration::from_millis(46));
        assert_eq!(LatencySnapshot::empty().quantile(0.99), None);
    }

    #[test]
    fn the_history_answers_for_the_span_asked_and_forgets_the_rest() {
        let buckets = Arc::new(LatencyBuckets::new());
        let history = LatencyHistory::new(buckets.clone());
        let t0 = Instant::now();
        assert!(history.last(Duration::from_secs(30), t0).is_none());
        history.tick(t0);
        buckets.observe(Duration::from_millis(100));
        history.tick(t0 + Duration::from_secs(40));
        buckets.observe(Duration::from_millis(1));
        let now = t0 + Duration::from_secs(50);
        let (span, window) = history
            .last(Duration::from_secs(30), now)
            .unwrap_or((Duration::ZERO, LatencySnapshot::empty()));
        assert_eq!(span, Duration::from_secs(10));
        assert_eq!(window.count(), 1, "only what came after the tick 10 s ago");
        history.tick(t0 + Duration::from_secs(100));
        let ring = history.ring.lock().map(|r| r.len()).unwrap_or(0);
        assert_eq!(ring, 2, "ticks older than KEEP are dropped");
    }
}
