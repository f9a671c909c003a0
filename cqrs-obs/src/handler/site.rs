//! The per-handler static state: what the handler is, and the counters every call records into.
//!
//! One `HandlerSite` is a `static` generated next to each annotated fn. Its counters are
//! sharded: a thread claims one of [`OWNED_SHARDS`] shards for itself the first time it
//! records, and as the only writer of that shard it updates it with plain loads and stores (no
//! locked read-modify-write, no cache line shared with another writer). Threads beyond that
//! number share one more shard, updated with atomic adds. Readers (the `/metrics` exposition,
//! SLO windows, the anomaly service) sum the shards. Memory per handler is fixed at compile
//! time: `(OWNED_SHARDS + 1) × (6 outcomes × (BUCKETS + 1 + THRESHOLDS) + 1) × 8` bytes, about
//! 15 KiB.
//!
//! Besides the fixed histogram bounds, a handler counts up to [`THRESHOLDS`] latency thresholds
//! of any value exactly: latency SLOs register theirs when they are added, and each call that
//! ends in the bucket holding a threshold is compared with it.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU64, AtomicUsize};

use serde::Serialize;

use super::outcome::Outcome;

/// What kind of message a handler handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// `#[command_handler]`
    Command,
    /// `#[event_handler]` (projections and sagas)
    Event,
    /// `#[query_handler]`
    Query,
}

impl HandlerKind {
    /// The `kind` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            HandlerKind::Command => "command",
            HandlerKind::Event => "event",
            HandlerKind::Query => "query",
        }
    }
}

/// Static description of one annotated handler, written by the macros.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HandlerMeta {
    /// Command, event or query handler.
    pub kind: HandlerKind,
    /// Handler name (`name = ".."`, else the fn name); the `handler` label.
    pub name: &'static str,
    /// Message type name: the `command` / `event` / `query` label.
    pub message: &'static str,
    /// Aggregate type (command handlers).
    pub aggregate: Option<&'static str>,
    /// Projection name (event handlers).
    pub projection: Option<&'static str>,
    /// Saga name (event handlers).
    pub saga: Option<&'static str>,
    /// `module_path!()` of the handler.
    pub module: &'static str,
    /// Source file of the handler.
    pub file: &'static str,
    /// Source line of the handler's fn.
    pub line: u32,
    /// Whether the handler is async (or returns a future).
    pub is_async: bool,
}

/// Upper bounds of the latency buckets, in nanoseconds (the last bucket is `+Inf`).
///
/// A 1–2.5–5 ladder from 100 ns to 10 s, then 30 s and 60 s: fine enough for in-memory
/// handlers that take a fraction of a microsecond and for ones that wait on I/O for seconds.
pub const BUCKET_BOUNDS_NANOS: [u64; 27] = [
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
];

/// Number of histogram buckets including `+Inf`.
pub const BUCKETS: usize = BUCKET_BOUNDS_NANOS.len() + 1;

pub use crate::local::OWNED_SHARDS;
use crate::local::SHARED_SHARD;
const SHARDS: usize = OWNED_SHARDS + 1;

const OUTCOMES: usize = Outcome::ALL.len();

/// Bucket index for a duration: the first bound that is `>=` the duration.
#[cfg(test)]
pub(crate) fn bucket_index(nanos: u64) -> usize {
    BUCKET_BOUNDS_NANOS.partition_point(|&bound| bound < nanos)
}

/// How many latency thresholds besides the histogram bounds one handler can count exactly.
pub const THRESHOLDS: usize = 4;

#[derive(Debug)]
struct OutcomeCells {
    buckets: [AtomicU64; BUCKETS],
    /// In clock ticks; converted when a snapshot is read.
    sum_ticks: AtomicU64,
    /// `within[i]`: calls in the bucket of threshold `i` that took at most the threshold,
    /// since it was added.
    within: [AtomicU64; THRESHOLDS],
}

impl OutcomeCells {
    const fn new() -> Self {
        OutcomeCells {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum_ticks: AtomicU64::new(0),
            within: [const { AtomicU64::new(0) }; THRESHOLDS],
        }
    }
}

/// The latency thresholds a handler counts besides the histogram bounds. They are only ever
/// added (under [`ADDING`]); `len` is published after the slot it covers is written.
#[derive(Debug)]
struct Thresholds {
    len: AtomicUsize,
    nanos: [AtomicU64; THRESHOLDS],
    /// The histogram bucket each threshold falls in.
    bucket: [AtomicUsize; THRESHOLDS],
}

/// Serialises adding thresholds (rare: once per latency SLO and handler).
static ADDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A handler already counts [`THRESHOLDS`] latency thresholds besides the histogram bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("handler `{handler}` already counts {THRESHOLDS} latency thresholds besides the histogram bounds")]
pub struct ThresholdsFull {
    /// The handler's name.
    pub handler: &'static str,
}

/// One thread's slice of a handler's counters, on cache lines of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    started: AtomicU64,
    outcomes: [OutcomeCells; OUTCOMES],
}

impl Shard {
    const fn new() -> Self {
        Shard {
            started: AtomicU64::new(0),
            outcomes: [const { OutcomeCells::new() }; OUTCOMES],
        }
    }
}

/// Static state of one handler: its description and its sharded call recording.
///
/// Generated code declares one per handler as a `static` and registers it with
/// [`inventory`]; see [`registered`](crate::handler::registered).
#[derive(Debug)]
pub struct HandlerSite {
    meta: HandlerMeta,
    shards: [Shard; SHARDS],
    thresholds: Thresholds,
}

/// Adds to a counter of `shard`. An owned shard has one writer, this thread, so a load and a
/// store suffice and readers still see whole values; the shared shard needs an atomic add.
#[inline(always)]
fn add(shard: usize, counter: &AtomicU64, value: u64) {
    if shard == SHARED_SHARD {
        counter.fetch_add(value, Relaxed);
    } else {
        counter.store(counter.load(Relaxed).wrapping_add(value), Relaxed);
    }
}

impl HandlerSite {
    /// A site with zeroed counters; `const` so that it can be a `static`.
    pub const fn new(meta: HandlerMeta) -> Self {
        HandlerSite {
            meta,
            shards: [const { Shard::new() }; SHARDS],
            thresholds: Thresholds {
                len: AtomicUsize::new(0),
                nanos: [const { AtomicU64::new(0) }; THRESHOLDS],
                bucket: [const { AtomicUsize::new(0) }; THRESHOLDS],
            },
        }
    }

    /// Counts calls that take at most `nanos` exactly from now on, whatever the value (a
    /// histogram bound is counted already). Idempotent.
    ///
    /// ```
    /// use cqrs_obs::handler::{self, HandlerKind, HandlerMeta, Outcome};
    /// # let meta = HandlerMeta { kind: HandlerKind::Query, name: "q", message: "Q",
    /// #     aggregate: None, projection: None, saga: None, module: "m", file: "f", line: 1,
    /// #     is_async: false };
    /// let site = handler::register(meta);
    /// site.count_threshold(120_000_000).unwrap(); // 120 ms: between the 100 and 250 ms bounds
    /// let snap = site.snapshot();
    /// assert_eq!(snap.thresholds(), &[120_000_000]);
    /// assert_eq!(snap.calls_within(Outcome::Ok, 120_000_000), Some(0));
    /// assert_eq!(snap.calls_within(Outcome::Ok, 130_000_000), None, "not counted");
    /// ```
    pub fn count_threshold(&self, nanos: u64) -> Result<(), ThresholdsFull> {
        if BUCKET_BOUNDS_NANOS.contains(&nanos) {
            return Ok(());
        }
        let _adding = ADDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = &self.thresholds;
        let len = t.len.load(Relaxed);
        if t.nanos[..len].iter().any(|n| n.load(Relaxed) == nanos) {
            return Ok(());
        }
        if len == THRESHOLDS {
            return Err(ThresholdsFull {
                handler: self.meta.name,
            });
        }
        t.nanos[len].store(nanos, Relaxed);
        t.bucket[len].store(
            BUCKET_BOUNDS_NANOS.partition_point(|&bound| bound < nanos),
            Relaxed,
        );
        // Release pairs with the Acquire in `record_end` and `snapshot`: whoever sees the new
        // length sees the slot.
        t.len.store(len + 1, Release);
        Ok(())
    }

    /// The handler's static description.
    pub fn meta(&self) -> &HandlerMeta {
        &self.meta
    }

    /// Counts a call as started on `shard`, which must be the calling thread's
    /// ([`crate::local::shard`]).
    #[inline(always)]
    pub(crate) fn record_start(&self, shard: usize) {
        add(shard, &self.shards[shard].started, 1);
    }

    /// Counts a call as finished on `shard`, the calling thread's (an async call may finish on
    /// another thread than it started on; in-flight is the sum over all shards).
    /// `bucket` and `ticks` come from the [`Timebase`](super::timebase::Timebase).
    #[inline(always)]
    pub(crate) fn record_end(&self, shard: usize, outcome: Outcome, bucket: usize, ticks: u64) {
        let cells = &self.shards[shard].outcomes[outcome.index()];
        add(shard, &cells.buckets[bucket], 1);
        add(shard, &cells.sum_ticks, ticks);
        let counted = self.thresholds.len.load(Acquire);
        if counted != 0 {
            self.record_within(shard, cells, counted, bucket, ticks);
        }
    }

    /// Counts the call against each threshold in its bucket that it did not exceed.
    #[inline]
    fn record_within(
        &self,
        shard: usize,
        cells: &OutcomeCells,
        counted: usize,
        bucket: usize,
        ticks: u64,
    ) {
        let t = &self.thresholds;
        let mut nanos = None;
        for i in 0..counted.min(THRESHOLDS) {
            if t.bucket[i].load(Relaxed) == bucket
                && *nanos.get_or_insert_with(|| super::timebase::ticks_to_nanos(ticks))
                    <= t.nanos[i].load(Relaxed)
            {
                add(shard, &cells.within[i], 1);
            }
        }
    }

    /// Sums the shards into a consistent-enough view (each counter is read once; a call that
    /// is recording concurrently shows up in the next snapshot).
    pub fn snapshot(&self) -> HandlerSnapshot {
        let mut outcomes = [OutcomeStats::default(); OUTCOMES];
        let mut started = 0u64;
        let mut thresholds = ThresholdCounts {
            len: self.thresholds.len.load(Acquire).min(THRESHOLDS),
            ..ThresholdCounts::default()
        };
        for (nanos, slot) in thresholds.nanos.iter_mut().zip(&self.thresholds.nanos) {
            *nanos = slot.load(Relaxed);
        }
        for shard in &self.shards {
            started += shard.started.load(Relaxed);
            for ((stats, cells), within) in outcomes
                .iter_mut()
                .zip(&shard.outcomes)
                .zip(&mut thresholds.within)
            {
                for (total, bucket) in stats.buckets.iter_mut().zip(&cells.buckets) {
                    *total += bucket.load(Relaxed);
                }
                stats.sum_nanos += cells.sum_ticks.load(Relaxed);
                for (total, count) in within.iter_mut().zip(&cells.within) {
                    *total += count.load(Relaxed);
                }
            }
        }
        for stats in &mut outcomes {
            stats.sum_nanos = super::timebase::ticks_to_nanos(stats.sum_nanos);
        }
        let finished: u64 = outcomes.iter().map(OutcomeStats::count).sum();
        HandlerSnapshot {
            meta: self.meta,
            in_flight: started.saturating_sub(finished),
            outcomes,
            thresholds,
        }
    }
}

/// The latency thresholds a handler counts besides the histogram bounds, with their counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThresholdCounts {
    /// How many of `nanos` are in use.
    pub len: usize,
    /// The thresholds, in nanoseconds, in the order they were added.
    pub nanos: [u64; THRESHOLDS],
    /// `within[outcome][i]`: calls with that outcome (indexed like [`Outcome::ALL`]) in the
    /// bucket of threshold `i` that took at most the threshold, counted since it was added.
    pub within: [[u64; THRESHOLDS]; OUTCOMES],
}

/// Calls that ended with one outcome: a histogram of their durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeStats {
    /// Non-cumulative bucket counts, aligned with [`BUCKET_BOUNDS_NANOS`] plus `+Inf`.
    pub buckets: [u64; BUCKETS],
    /// Sum of durations in nanoseconds.
    pub sum_nanos: u64,
}

impl OutcomeStats {
    /// Number of calls.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Adds another histogram into this one.
    pub fn merge(&mut self, other: &OutcomeStats) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum_nanos += other.sum_nanos;
    }

    /// Estimates the `q` quantile (0..=1) in seconds by linear interpolation inside the
    /// bucket that holds it, as Prometheus' `histogram_quantile` does. `None` without calls.
    ///
    /// ```
    /// use cqrs_obs::handler::OutcomeStats;
    /// let mut stats = OutcomeStats::default();
    /// stats.buckets[6] = 100; // all calls in (5 µs, 10 µs]
    /// let p50 = stats.quantile(0.5).unwrap();
    /// assert!((p50 - 7.5e-6).abs() < 1e-9);
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n == 0 || ((seen + n) as f64) < rank {
                seen += n;
                continue;
            }
            let lower = if i == 0 {
                0
            } else {
                BUCKET_BOUNDS_NANOS[i - 1]
            };
            let Some(&upper) = BUCKET_BOUNDS_NANOS.get(i) else {
                // +Inf bucket: the best estimate is the highest finite bound.
                return Some(lower as f64 / 1e9);
            };
            let within = (rank - seen as f64) / n as f64;
            return Some((lower as f64 + (upper - lower) as f64 * within) / 1e9);
        }
        None
    }
}

/// A point-in-time view of one handler's recording.
#[derive(Debug, Clone, Copy)]
pub struct HandlerSnapshot {
    /// The handler.
    pub meta: HandlerMeta,
    /// Calls started and not yet finished.
    pub in_flight: u64,
    /// Per-outcome histograms, indexed like [`Outcome::ALL`].
    pub outcomes: [OutcomeStats; OUTCOMES],
    /// The latency thresholds counted besides the histogram bounds.
    pub thresholds: ThresholdCounts,
}

impl HandlerSnapshot {
    /// The histogram of one outcome.
    pub fn outcome(&self, outcome: Outcome) -> &OutcomeStats {
        &self.outcomes[outcome.index()]
    }

    /// Calls that ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcome(outcome).count()
    }

    /// The latency thresholds (nanoseconds) this handler counts besides the histogram bounds.
    pub fn thresholds(&self) -> &[u64] {
        &self.thresholds.nanos[..self.thresholds.len.min(THRESHOLDS)]
    }

    /// Calls that ended with `outcome` and took at most `nanos`, counted exactly: `None` unless
    /// `nanos` is a histogram bound or one of [`thresholds`](HandlerSnapshot::thresholds).
    ///
    /// For a threshold, the count is every call under the bound below it plus the calls above
    /// that bound and within the threshold since the threshold was added, so it never
    /// decreases and lies between the counts of the bounds around it; its increase from any
    /// snapshot taken after the threshold was added is exact.
    pub fn calls_within(&self, outcome: Outcome, nanos: u64) -> Option<u64> {
        let buckets = &self.outcome(outcome).buckets;
        if let Some(i) = BUCKET_BOUNDS_NANOS.iter().position(|&b| b == nanos) {
            return Some(buckets[..=i].iter().sum());
        }
        let i = self.thresholds().iter().position(|&t| t == nanos)?;
        let below = BUCKET_BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        Some(buckets[..below].iter().sum::<u64>() + self.thresholds.within[outcome.index()][i])
    }

    /// All finished calls.
    pub fn total(&self) -> u64 {
        self.outcomes.iter().map(OutcomeStats::count).sum()
    }

    /// All outcomes merged into one histogram (for overall percentiles).
    pub fn merged(&self) -> OutcomeStats {
        let mut all = OutcomeStats::default();
        for stats in &self.outcomes {
            all.merge(stats);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler description for tests.
    const fn meta(kind: HandlerKind, name: &'static str) -> HandlerMeta {
        HandlerMeta {
            kind,
            name,
            message: name,
            aggregate: None,
            projection: None,
            saga: None,
            module: "m",
            file: "f",
            line: 1,
            is_async: false,
        }
    }
    use proptest::prelude::*;

    /// Records a call of `nanos` the way a guard does, in ticks of the clock.
    fn end(site: &HandlerSite, shard: usize, outcome: Outcome, nanos: u64) {
        let ticks = super::super::timebase::Timebase::enable().ticks_within(nanos);
        site.record_end(shard, outcome, bucket_index(nanos), ticks);
    }

    #[test]
    fn bucket_index_matches_inclusive_upper_bounds() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(100), 0);
        assert_eq!(bucket_index(101), 1);
        assert_eq!(bucket_index(1_000), 3);
        assert_eq!(bucket_index(1_001), 4);
        assert_eq!(bucket_index(60_000_000_000), BUCKETS - 2);
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    proptest! {
        #[test]
        fn bucket_holds_value(nanos in any::<u64>()) {
            let i = bucket_index(nanos);
            if i < BUCKET_BOUNDS_NANOS.len() {
                prop_assert!(nanos <= BUCKET_BOUNDS_NANOS[i]);
            }
            if i > 0 {
                prop_assert!(nanos > BUCKET_BOUNDS_NANOS[i - 1]);
            }
        }

        #[test]
        fn quantiles_are_monotonic_and_inside_the_data(
            counts in proptest::collection::vec(0u64..50, BUCKETS),
            a in 0.0f64..1.0, b in 0.0f64..1.0,
        ) {
            let mut stats = OutcomeStats::default();
            stats.buckets.copy_from_slice(&counts);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            match (stats.quantile(lo), stats.quantile(hi)) {
                (Some(x), Some(y)) => {
                    prop_assert!(x <= y + 1e-12);
                    prop_assert!(y <= 60.0);
                }
                (None, None) => prop_assert_eq!(stats.count(), 0),
                _ => prop_assert!(false, "quantile defined for one q but not another"),
            }
        }
    }

    #[test]
    fn snapshot_sums_shards_and_tracks_in_flight() {
        static SITE: HandlerSite = HandlerSite::new(meta(HandlerKind::Command, "t"));
        // Calls started on some threads and finished on others still balance.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| SITE.record_start(crate::local::shard()));
            }
        });
        std::thread::scope(|s| {
            s.spawn(|| end(&SITE, crate::local::shard(), Outcome::Ok, 3_000));
            s.spawn(|| end(&SITE, crate::local::shard(), Outcome::Ok, 7_000));
        });
        end(&SITE, crate::local::shard(), Outcome::Panic, 2_000_000_000);
        let snap = SITE.snapshot();
        assert_eq!(snap.count(Outcome::Ok), 2);
        assert_eq!(snap.count(Outcome::Panic), 1);
        assert_eq!(snap.in_flight, 1);
        // Each duration is a whole number of ticks: within a nanosecond or so.
        let sum = snap.outcome(Outcome::Ok).sum_nanos;
        assert!((9_990..=10_002).contains(&sum), "{sum}");
        assert_eq!(snap.outcome(Outcome::Ok).buckets[5], 1);
        assert_eq!(snap.outcome(Outcome::Ok).buckets[6], 1);
    }

    #[test]
    fn thresholds_between_bounds_are_counted_exactly() {
        static SITE: HandlerSite = HandlerSite::new(meta(HandlerKind::Query, "thresholds"));
        let shard = crate::local::shard();
        // Before the threshold is added: under the bound below it, or not counted within it.
        end(&SITE, shard, Outcome::Ok, 90_000_000);
        end(&SITE, shard, Outcome::Ok, 110_000_000);
        SITE.count_threshold(120_000_000).unwrap();
        SITE.count_threshold(120_000_000).unwrap();
        SITE.count_threshold(100_000_000).unwrap(); // a bound: counted already
        for nanos in [
            50_000_000,
            100_000_001,
            120_000_000,
            120_000_001,
            200_000_000,
        ] {
            end(&SITE, shard, Outcome::Ok, nanos);
        }
        end(&SITE, shard, Outcome::Error, 119_000_000);
        let snap = SITE.snapshot();
        assert_eq!(snap.thresholds(), &[120_000_000]);
        assert_eq!(snap.calls_within(Outcome::Ok, 100_000_000), Some(2));
        assert_eq!(snap.calls_within(Outcome::Ok, 120_000_000), Some(4));
        assert_eq!(snap.calls_within(Outcome::Ok, 250_000_000), Some(7));
        assert_eq!(snap.calls_within(Outcome::Error, 120_000_000), Some(1));
        assert_eq!(snap.calls_within(Outcome::Ok, 130_000_000), None);
        for extra in 1..THRESHOLDS as u64 {
            SITE.count_threshold(120_000_000 + extra).unwrap();
        }
        assert_eq!(
            SITE.count_threshold(130_000_000),
            Err(ThresholdsFull {
                handler: "thresholds"
            })
        );
        assert_eq!(SITE.snapshot().thresholds().len(), THRESHOLDS);
    }

    #[test]
    fn counts_stay_exact_with_more_threads_than_owned_shards() {
        static SITE: HandlerSite = HandlerSite::new(meta(HandlerKind::Query, "many"));
        let barrier = std::sync::Barrier::new(3 * OWNED_SHARDS);
        std::thread::scope(|s| {
            for _ in 0..3 * OWNED_SHARDS {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..10_000 {
                        let shard = crate::local::shard();
                        SITE.record_start(shard);
                        end(&SITE, shard, Outcome::Ok, 1);
                    }
                });
            }
        });
        let snap = SITE.snapshot();
        assert_eq!(snap.count(Outcome::Ok), 3 * OWNED_SHARDS as u64 * 10_000);
        assert_eq!(snap.in_flight, 0);
    }
}
