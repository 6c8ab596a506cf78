//! The copy's pace: which share of the time the copier may spend copying,
//! set by what the clients feel and what the server says about itself.
//!
//! Signals, each compared with its limit at every look:
//! - the p99 of writes through Tern since the last look, against the p99 the
//!   same instance saw before the migration started (its baseline), and
//!   their p99.9 against the baseline's p99.9 once a look has enough writes
//!   to tell ([`P999_MIN_WRITES`]): at a moderate load the copy can triple
//!   the tail while the p99 stays within its slack;
//! - the slowest single write through Tern since the last look;
//! - InnoDB's checkpoint age as a share of its capacity (redo log pressure:
//!   when the age nears the capacity, every writer waits on flushing);
//! - InnoDB's history list length (purge falling behind).
//!
//! A latency signal over its limit slows the copy only when the copy is to
//! blame ([`Blame`]): Tern counts apart the writes that ran alongside a copy
//! chunk (`admin::near_copy`). When the writes apart from chunks were as slow
//! (the change capture applying every write, the server on its own), slowing
//! the copy would only make the migration longer; when no write ran alongside
//! a chunk, the window says nothing about the copy and the pace holds.
//!
//! Replica lag and `Threads_running` stay with the throttle (`throttle`),
//! which stops the copier outright; this module only slows it.
//!
//! Invariants:
//! - At pace `p` the copier, after a chunk that took `t`, waits
//!   `t * (1/p - 1)`: it copies a share `p` of the time. Pace 1 is back to back.
//! - Any signal over its limit and blamed on the copy halves the pace, down
//!   to [`MIN_PACE`]; a look with every signal within its limit, or over it
//!   with writes apart from chunks as slow, raises it by [`PACE_STEP`], up
//!   to 1; otherwise it holds.
//!   The application's latency wins over the copy's speed: slowing is fast,
//!   speeding up is gradual.
//! - Latency windows shorter than [`MIN_WINDOW`] are not judged (too few
//!   writes to say anything); the pace then stays as it is.
//! - The baselines are fixed when the copy starts: the copy's own effect never
//!   becomes the new normal. The server's signals are judged against their
//!   level before the copy too: a workload that keeps the redo log at 90 %
//!   on its own (measured: seven unthrottled writers with the default 96 MiB
//!   redo log) would otherwise pin the copy to its floor although the copy
//!   adds nothing to the pressure it is blamed for. Such a limit becomes the
//!   level before the copy plus [`CHECKPOINT_HEADROOM_PCT`] (history length:
//!   twice the level), never lower than the configured one.

use std::time::Duration;

use crate::admin::latency::LatencySnapshot;

/// The slowest the copier goes: copying a twentieth of the time still
/// finishes, and never stopping keeps the change capture's backlog bounded.
pub const MIN_PACE: f64 = 0.05;
pub const PACE_STEP: f64 = 0.1;
pub const MIN_WINDOW: Duration = Duration::from_millis(500);
/// Fewer writes than this in a look leave the p99.9 unjudged: it would be
/// the single slowest write.
pub const P999_MIN_WRITES: u64 = 1000;
/// Fewer writes apart from chunks than this (in a look) cannot clear the
/// chunks of a slow p99 or worst write: the copy is blamed.
pub const MIN_APART_WRITES: u64 = 100;
/// How far above its level before the copy the checkpoint age may go, in
/// percentage points, when that level is already above the configured limit.
pub const CHECKPOINT_HEADROOM_PCT: f64 = 5.0;

/// The checkpoint age, in percent of its maximum, past which InnoDB's page
/// cleaner flushes ahead of the checkpoint (7/8: `max_modified_age_async`
/// in MariaDB 10.11). Each such pass ends with a checkpoint whose redo log
/// flush every committing transaction waits for, so a workload that keeps
/// the age past this mark stalls its writers at checkpoints by itself, and
/// an online ALTER's change capture, which doubles the table's dirty pages,
/// makes those passes larger (docs/online-alter.md, Pace).
pub const FLUSH_AHEAD_PCT: f64 = 87.5;

/// The limits the signals are held to; `--migration-*` settings, reloadable.
/// A limit of zero turns its signal off.
#[derive(Debug, Clone, PartialEq)]
pub struct PaceLimits {
    /// Write p99 may grow to this multiple of its baseline...
    pub latency_factor: f64,
    /// ...and always by this much (a 0.3 ms baseline doubling is noise).
    pub latency_slack: Duration,
    /// No single write through Tern should take longer than this.
    pub max_write: Duration,
    /// Checkpoint age, percent of InnoDB's capacity.
    pub max_checkpoint_age_pct: f64,
    pub max_history_length: u64,
}

impl Default for PaceLimits {
    fn default() -> Self {
        PaceLimits {
            latency_factor: 2.0,
            latency_slack: Duration::from_millis(5),
            max_write: Duration::from_millis(50),
            // Below FLUSH_AHEAD_PCT InnoDB only flushes in the background and
            // no writer waits for a checkpoint, so the limit sits just under
            // it. At 75 % a copy on a 1 GiB redo log, which the workload alone
            // filled to 75-80 % over minutes, crawled at its floor for minutes
            // with no stall to prevent.
            max_checkpoint_age_pct: 85.0,
            max_history_length: 1_000_000,
        }
    }
}

/// Whether a signal over its limit is the copy's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The copy's: server signals (judged against their level before the
    /// copy), and latency where the writes alongside chunks were the slow
    /// ones or too few writes ran apart from chunks to tell.
    Copy,
    /// Writes apart from chunks were as slow: the chunks did not cause it.
    AlsoApart,
    /// No write ran alongside a chunk in the window.
    NoChunk,
}

/// One signal at one look: its value, its limit, whether it is over and
/// whether that is the copy's doing.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub signal: &'static str,
    pub value: f64,
    pub limit: f64,
    pub unit: &'static str,
    pub blame: Blame,
}

impl Reading {
    pub fn over(&self) -> bool {
        self.value > self.limit
    }

    /// Over its limit and the copy's doing: the pace drops.
    pub fn slows(&self) -> bool {
        self.over() && self.blame == Blame::Copy
    }
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}{}/{}{}{}",
            self.signal,
            round(self.value),
            self.unit,
            round(self.limit),
            self.unit,
            match (self.over(), self.blame) {
                (false, _) => "",
                (true, Blame::Copy) => " OVER",
                (true, Blame::AlsoApart) => " over, apart from chunks too",
                (true, Blame::NoChunk) => " over, no chunk ran",
            }
        )
    }
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 10.0).round() / 10.0
    }
}

/// What the server said about itself at one look (from `SHOW GLOBAL STATUS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerPressure {
    pub checkpoint_age: u64,
    pub checkpoint_max_age: u64,
    pub history_length: u64,
    /// `Innodb_lsn_current`: how much redo has been written (0: not reported).
    pub lsn: u64,
}

impl ServerPressure {
    /// The checkpoint age in percent of its maximum (`None`: not reported).
    pub fn checkpoint_age_pct(&self) -> Option<f64> {
        (self.checkpoint_max_age > 0)
            .then(|| self.checkpoint_age as f64 * 100.0 / self.checkpoint_max_age as f64)
    }

    /// Whether InnoDB was flushing ahead of its checkpoint ([`FLUSH_AHEAD_PCT`]).
    pub fn flushing_ahead(&self) -> bool {
        self.checkpoint_age_pct()
            .is_some_and(|pct| pct >= FLUSH_AHEAD_PCT)
    }
}

/// Client write latency over one window.
pub struct ClientLatency<'a> {
    pub window: Duration,
    pub writes: &'a LatencySnapshot,
    /// Those of `writes` that ran alongside a copy chunk; `None`: not
    /// known, every write may be the copy's.
    pub alongside: Option<&'a LatencySnapshot>,
}

impl ClientLatency<'_> {
    /// Whether a latency signal, read from a window by `measure`, is the
    /// copy's doing (`min_apart`: the writes apart from chunks it takes to
    /// clear them).
    fn blame(
        &self,
        min_apart: u64,
        measure: impl Fn(&LatencySnapshot) -> Option<Duration>,
    ) -> Blame {
        let Some(alongside) = self.alongside else {
            return Blame::Copy;
        };
        if alongside.count() == 0 {
            return Blame::NoChunk;
        }
        let apart = self.writes.since(alongside);
        if apart.count() < min_apart {
            return Blame::Copy;
        }
        match (measure(alongside), measure(&apart)) {
            (Some(near), Some(away)) if near <= away => Blame::AlsoApart,
            _ => Blame::Copy,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The pace of one migration's copy.
#[derive(Debug, Clone)]
pub struct Pace {
    level: f64,
    baseline_p99: Option<Duration>,
    baseline_p999: Option<Duration>,
    /// What the server said at the first look, before any chunk.
    baseline_pressure: Option<ServerPressure>,
    readings: Vec<Reading>,
}

impl Pace {
    /// Starts at full pace; `baseline_p99` is the write p99 before the
    /// migration (`None`: no writes were seen, so only absolute limits apply).
    pub fn new(baseline_p99: Option<Duration>) -> Pace {
        Pace {
            level: 1.0,
            baseline_p99,
            baseline_p999: None,
            baseline_pressure: None,
            readings: Vec::new(),
        }
    }

    pub fn level(&self) -> f64 {
        self.level
    }

    pub fn baseline_p99(&self) -> Option<Duration> {
        self.baseline_p99
    }

    pub fn baseline_pressure(&self) -> Option<ServerPressure> {
        self.baseline_pressure
    }

    /// The write p99.9 before the migration, for the tail signal (`None`:
    /// too few writes to tell; the signal is then off).
    pub fn with_baseline_p999(mut self, p999: Option<Duration>) -> Pace {
        self.baseline_p999 = p999;
        self
    }

    /// Records the server's pressure before the copy's first chunk; later
    /// calls change nothing.
    pub fn note_pressure_before_copy(&mut self, pressure: Option<ServerPressure>) {
        if self.baseline_pressure.is_none() {
            self.baseline_pressure = pressure;
        }
    }

    /// The checkpoint-age limit in percent: the configured one, or the level
    /// before the copy plus the headroom when the workload alone was above it.
    fn checkpoint_limit(&self, limits: &PaceLimits) -> f64 {
        let before = self
            .baseline_pressure
            .and_then(|b| b.checkpoint_age_pct())
            .unwrap_or(0.0);
        limits
            .max_checkpoint_age_pct
            .max((before + CHECKPOINT_HEADROOM_PCT).min(100.0))
    }

    /// The checkpoint-age limit the redo room keeps chunks within, in
    /// percent (0: the signal is off).
    pub fn redo_limit_pct(&self, limits: &PaceLimits) -> f64 {
        if limits.max_checkpoint_age_pct > 0.0 {
            self.checkpoint_limit(limits)
        } else {
            0.0
        }
    }

    fn history_limit(&self, limits: &PaceLimits) -> u64 {
        let before = self.baseline_pressure.map_or(0, |b| b.history_length);
        limits.max_history_length.max(before.saturating_mul(2))
    }

    /// The signals as last read, for display.
    pub fn readings(&self) -> &[Reading] {
        &self.readings
    }

    /// The signals over their limit at the last look, as one line (the
    /// throttle reason shown to people), or `None`.
    pub fn reason(&self) -> Option<String> {
        let over: Vec<String> = self
            .readings
            .iter()
            .filter(|r| r.over())
            .map(|r| r.to_string())
            .collect();
        (!over.is_empty()).then(|| over.join(", "))
    }

    /// Reads the signals and moves the pace; returns the new level.
    pub fn look(
        &mut self,
        limits: &PaceLimits,
        clients: Option<ClientLatency<'_>>,
        server: Option<ServerPressure>,
    ) -> f64 {
        let mut readings = Vec::with_capacity(4);
        let mut judged = false;
        if let Some(c) = clients.filter(|c| c.window >= MIN_WINDOW) {
            judged = true;
            let p99_limit = match self.baseline_p99 {
                _ if limits.latency_factor <= 0.0 => None,
                Some(base) => Some(
                    (ms(base) * limits.latency_factor).max(ms(base) + ms(limits.latency_slack)),
                ),
                None => Some(ms(limits.max_write)).filter(|&l| l > 0.0),
            };
            if let (Some(limit), Some(p99)) = (p99_limit, c.writes.quantile(0.99)) {
                readings.push(Reading {
                    signal: "write_p99",
                    value: ms(p99),
                    limit,
                    unit: "ms",
                    blame: c.blame(MIN_APART_WRITES, |w| w.quantile(0.99)),
                });
            }
            let tail = self
                .baseline_p999
                .filter(|_| limits.latency_factor > 0.0 && c.writes.count() >= P999_MIN_WRITES);
            if let (Some(base), Some(p999)) = (tail, c.writes.quantile(0.999)) {
                readings.push(Reading {
                    signal: "write_p999",
                    value: ms(p999),
                    limit: (ms(base) * limits.latency_factor)
                        .max(ms(base) + ms(limits.latency_slack)),
                    unit: "ms",
                    blame: c.blame(P999_MIN_WRITES, |w| w.quantile(0.999)),
                });
            }
            if let Some(worst) = c.writes.max().filter(|_| !limits.max_write.is_zero()) {
                readings.push(Reading {
                    signal: "worst_write",
                    value: ms(worst),
                    limit: ms(limits.max_write),
                    unit: "ms",
                    blame: c.blame(MIN_APART_WRITES, LatencySnapshot::max),
                });
            }
        }
        if let Some(s) = server {
            judged = true;
            let age = s
                .checkpoint_age_pct()
                .filter(|_| limits.max_checkpoint_age_pct > 0.0);
            if let Some(age) = age {
                readings.push(Reading {
                    signal: "checkpoint_age",
                    value: age,
                    limit: self.checkpoint_limit(limits),
                    unit: "%",
                    blame: Blame::Copy,
                });
            }
            if limits.max_history_length > 0 {
                readings.push(Reading {
                    signal: "history_length",
                    value: s.history_length as f64,
                    limit: self.history_limit(limits) as f64,
                    unit: "",
                    blame: Blame::Copy,
                });
            }
        }
        if !judged {
            return self.level;
        }
        let level = if readings.iter().any(Reading::slows) {
            (self.level / 2.0).max(MIN_PACE)
        } else if readings
            .iter()
            .any(|r| r.over() && r.blame == Blame::NoChunk)
        {
            self.level
        } else {
            (self.level + PACE_STEP).min(1.0)
        };
        self.level = level;
        self.readings = readings;
        level
    }

    /// How long the copier waits after a chunk that took `chunk`.
    pub fn wait_after(&self, chunk: Duration) -> Duration {
        if self.level >= 1.0 {
            return Duration::ZERO;
        }
        chunk.mul_f64(1.0 / self.level.max(MIN_PACE) - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::latency::LatencyBuckets;

    fn window(latencies_ms: &[u64]) -> LatencySnapshot {
        let l = LatencyBuckets::new();
        for &ms in latencies_ms {
            l.observe(Duration::from_millis(ms));
        }
        l.snapshot()
    }

    fn look(pace: &mut Pace, writes: &LatencySnapshot, server: Option<ServerPressure>) -> f64 {
        pace.look(
            &PaceLimits::default(),
            Some(ClientLatency {
                window: Duration::from_secs(1),
                writes,
                alongside: None,
            }),
            server,
        )
    }

    #[test]
    fn a_redo_log_past_seven_eighths_full_is_flushing_ahead() {
        let pressure = |age, max| ServerPressure {
            checkpoint_age: age,
            checkpoint_max_age: max,
            ..ServerPressure::default()
        };
        // The gentle benchmark's writers alone: 73.8 of 80.8 MB.
        assert!(pressure(73_800_000, 80_819_529).flushing_ahead());
        assert!(!pressure(60_000_000, 80_819_529).flushing_ahead());
        assert_eq!(pressure(5, 0).checkpoint_age_pct(), None, "not reported");
        assert!(!pressure(5, 0).flushing_ahead());
    }

    #[test]
    fn latency_over_twice_the_baseline_halves_the_pace_and_calm_brings_it_back() {
        let mut pace = Pace::new(Some(Duration::from_millis(10)));
        let calm = window(&[3; 200]);
        let slow = window(&[25; 200]);
        assert_eq!(look(&mut pace, &calm, None), 1.0);
        assert_eq!(look(&mut pace, &slow, None), 0.5);
        assert!(pace.reason().is_some_and(|r| r.contains("write_p99")));
        assert_eq!(look(&mut pace, &slow, None), 0.25);
        for _ in 0..10 {
            look(&mut pace, &slow, None);
        }
        assert_eq!(pace.level(), MIN_PACE);
        let mut looks = 0;
        while look(&mut pace, &calm, None) < 1.0 {
            looks += 1;
        }
        assert_eq!(looks, 9, "back to full pace in steps of {PACE_STEP}");
        assert_eq!(pace.reason(), None);
    }

    #[test]
    fn a_tail_three_times_the_baseline_slows_the_copy_though_the_p99_is_within_its_slack() {
        let mut pace = Pace::new(Some(Duration::from_micros(1600)))
            .with_baseline_p999(Some(Duration::from_micros(3700)));
        // p99 about 2 ms (within 1.6 + 5 ms), p99.9 about 16 ms.
        let mut latencies = vec![1; 1990];
        latencies.extend([16; 10]);
        assert_eq!(look(&mut pace, &window(&latencies), None), 0.5);
        assert!(
            pace.reason().is_some_and(|r| r.contains("write_p999")),
            "{:?}",
            pace.reason()
        );
        // Too few writes to judge the tail: only the p99 counts.
        let mut pace = Pace::new(Some(Duration::from_micros(1600)))
            .with_baseline_p999(Some(Duration::from_micros(3700)));
        let mut few = vec![1; 495];
        few.extend([16; 5]);
        assert_eq!(look(&mut pace, &window(&few), None), 1.0);
    }

    #[test]
    fn one_slow_write_is_enough_to_slow_down() {
        let mut pace = Pace::new(Some(Duration::from_millis(2)));
        let mut latencies = vec![1; 1000];
        latencies.push(80);
        assert_eq!(look(&mut pace, &window(&latencies), None), 0.5);
        assert!(pace.reason().is_some_and(|r| r.contains("worst_write")));
    }

    #[test]
    fn a_tiny_baseline_gets_the_slack_not_a_hair_trigger() {
        let mut pace = Pace::new(Some(Duration::from_micros(300)));
        // 2 ms is more than twice 0.3 ms but within the 5 ms slack.
        assert_eq!(look(&mut pace, &window(&[2; 500]), None), 1.0);
    }

    #[test]
    fn redo_log_pressure_and_purge_lag_slow_the_copy() {
        let calm = window(&[1; 100]);
        let mut pace = Pace::new(None);
        let normal = ServerPressure {
            checkpoint_age: 55,
            checkpoint_max_age: 100,
            history_length: 10,
            lsn: 0,
        };
        assert_eq!(look(&mut pace, &calm, Some(normal)), 1.0);
        let pressed = ServerPressure {
            checkpoint_age: 86,
            ..normal
        };
        assert_eq!(look(&mut pace, &calm, Some(pressed)), 0.5);
        assert!(pace
            .reason()
            .is_some_and(|r| r.starts_with("checkpoint_age 86%/85%")));
        let purge = ServerPressure {
            checkpoint_age: 10,
            checkpoint_max_age: 100,
            history_length: 2_000_000,
            lsn: 0,
        };
        assert_eq!(look(&mut pace, &calm, Some(purge)), 0.25);
        assert!(pace.reason().is_some_and(|r| r.contains("history_length")));
    }

    #[test]
    fn pressure_the_workload_had_before_the_copy_is_not_blamed_on_it() {
        let calm = window(&[1; 100]);
        let mut pace = Pace::new(None);
        let before = ServerPressure {
            checkpoint_age: 90,
            checkpoint_max_age: 100,
            history_length: 800_000,
            lsn: 0,
        };
        pace.note_pressure_before_copy(Some(before));
        pace.note_pressure_before_copy(Some(ServerPressure::default()));
        assert_eq!(look(&mut pace, &calm, Some(before)), 1.0);
        let same_again = ServerPressure {
            checkpoint_age: 94,
            history_length: 1_500_000,
            ..before
        };
        assert_eq!(look(&mut pace, &calm, Some(same_again)), 1.0);
        let worse = ServerPressure {
            checkpoint_age: 96,
            ..before
        };
        assert_eq!(look(&mut pace, &calm, Some(worse)), 0.5);
        assert!(pace
            .reason()
            .is_some_and(|r| r.starts_with("checkpoint_age 96%/95%")));
        let purge = ServerPressure {
            history_length: 1_700_000,
            ..before
        };
        assert_eq!(look(&mut pace, &calm, Some(purge)), 0.25);
        assert!(pace
            .reason()
            .is_some_and(|r| r.contains("history_length 1700000/1600000")));
    }

    #[test]
    fn short_windows_and_no_signals_leave_the_pace_alone() {
        let mut pace = Pace::new(Some(Duration::from_millis(1)));
        let slow = window(&[100; 10]);
        let short = ClientLatency {
            window: Duration::from_millis(100),
            writes: &slow,
            alongside: None,
        };
        assert_eq!(pace.look(&PaceLimits::default(), Some(short), None), 1.0);
        assert_eq!(pace.look(&PaceLimits::default(), None, None), 1.0);
        assert!(pace.readings().is_empty());
    }

    #[test]
    fn a_zero_limit_turns_its_signal_off() {
        let limits = PaceLimits {
            latency_factor: 0.0,
            max_write: Duration::ZERO,
            max_checkpoint_age_pct: 0.0,
            max_history_length: 0,
            ..PaceLimits::default()
        };
        let mut pace = Pace::new(Some(Duration::from_millis(1)));
        let slow = window(&[500; 100]);
        let pressed = ServerPressure {
            checkpoint_age: 99,
            checkpoint_max_age: 100,
            history_length: u64::MAX,
            lsn: 0,
        };
        let clients = ClientLatency {
            window: Duration::from_secs(1),
            writes: &slow,
            alongside: None,
        };
        assert_eq!(pace.look(&limits, Some(clients), Some(pressed)), 1.0);
        assert!(pace.readings().is_empty());
    }

    /// All writes and those of them that ran alongside a chunk.
    fn split(apart_ms: &[u64], alongside_ms: &[u64]) -> (LatencySnapshot, LatencySnapshot) {
        let mut all = apart_ms.to_vec();
        all.extend_from_slice(alongside_ms);
        (window(&all), window(alongside_ms))
    }

    fn look_split(pace: &mut Pace, writes: &LatencySnapshot, alongside: &LatencySnapshot) -> f64 {
        pace.look(
            &PaceLimits::default(),
            Some(ClientLatency {
                window: Duration::from_secs(1),
                writes,
                alongside: Some(alongside),
            }),
            None,
        )
    }

    #[test]
    fn a_copy_is_not_held_at_its_floor_by_latency_its_chunks_do_not_cause() {
        // Seen: the change capture alone kept the p99 at its limit, and the
        // pace sat at its floor for minutes. Writes apart from chunks as
        // slow as those alongside them clear the chunks: the pace climbs.
        let mut pace = Pace::new(Some(Duration::from_millis(10)));
        pace.level = 0.2;
        let (writes, alongside) = split(&[25; 900], &[25; 100]);
        assert!((look_split(&mut pace, &writes, &alongside) - 0.3).abs() < 1e-9);
        assert!(
            pace.reason()
                .is_some_and(|r| r.contains("write_p99") && r.contains("apart from chunks too")),
            "{:?}",
            pace.reason()
        );
        // The same p99 where only the writes alongside chunks are slow.
        let (writes, alongside) = split(&[3; 900], &[40; 100]);
        assert!((look_split(&mut pace, &writes, &alongside) - 0.15).abs() < 1e-9);
        assert!(pace
            .reason()
            .is_some_and(|r| r.contains("write_p99") && r.contains("OVER")));
    }

    #[test]
    fn a_slow_window_without_chunks_holds_the_pace() {
        let mut pace = Pace::new(Some(Duration::from_millis(10)));
        pace.level = 0.2;
        let (writes, alongside) = split(&[25; 1000], &[]);
        assert_eq!(look_split(&mut pace, &writes, &alongside), 0.2);
        assert!(pace.reason().is_some_and(|r| r.contains("no chunk ran")));
        // Calm without chunks: nothing over, the pace climbs as ever.
        let (writes, alongside) = split(&[3; 1000], &[]);
        assert!((look_split(&mut pace, &writes, &alongside) - 0.3).abs() < 1e-9);
    }

    #[test]
    fn too_few_writes_apart_from_chunks_leave_the_blame_with_the_copy() {
        let mut pace = Pace::new(Some(Duration::from_millis(2)));
        let (writes, alongside) = split(&[80; 10], &[80; 300]);
        assert_eq!(look_split(&mut pace, &writes, &alongside), 0.5);
        assert!(pace
            .reason()
            .is_some_and(|r| r.contains("worst_write") && r.contains("OVER")));
    }

    #[test]
    fn the_wait_after_a_chunk_makes_the_copy_share_equal_the_pace() {
        let mut pace = Pace::new(None);
        assert_eq!(pace.wait_after(Duration::from_millis(100)), Duration::ZERO);
        pace.level = 0.25;
        assert_eq!(
            pace.wait_after(Duration::from_millis(100)),
            Duration::from_millis(300)
        );
    }
}
