//! Trend of a series: a robust slope (Theil–Sen) over a downsampled history, its
//! significance (Mann–Kendall), and whether that is good or bad news for this metric.

use serde::Serialize;

use super::score::normal_tail;

/// Which way is bad for a metric.
///
/// ```
/// use cqrs_obs::anomaly::Direction;
/// assert!(Direction::HigherIsWorse.is_bad(2.0));
/// assert!(!Direction::LowerIsWorse.is_bad(2.0));
/// assert!(Direction::Both.is_bad(-2.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latency, error rate, lag: up is bad.
    HigherIsWorse,
    /// Throughput: down is bad.
    LowerIsWorse,
    /// Both ways are worth a look.
    #[default]
    Both,
}

impl Direction {
    /// Whether a change of sign `delta` is bad news (always, for `Both`).
    pub fn is_bad(self, delta: f64) -> bool {
        match self {
            Direction::HigherIsWorse => delta > 0.0,
            Direction::LowerIsWorse => delta < 0.0,
            Direction::Both => true,
        }
    }
}

/// Where a series is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendKind {
    /// Significantly moving the good way.
    Improving,
    /// No significant slope.
    Stable,
    /// Significantly moving the bad way.
    Degrading,
}

/// A trend estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// Improving, stable or degrading.
    pub kind: TrendKind,
    /// Theil–Sen slope in value units per hour.
    pub slope_per_hour: f64,
    /// Two-sided p-value of the Mann–Kendall test.
    pub p_value: f64,
    /// Buckets the estimate used.
    pub samples: usize,
}

/// Buckets kept.
pub const TREND_BUCKETS: usize = 64;
/// Significance level.
const ALPHA: f64 = 0.01;

/// A bounded history for trends: the mean of every `stride` points, the last
/// [`TREND_BUCKETS`] of them. O(1) per point; the estimate is computed on demand.
///
/// ```
/// use cqrs_obs::anomaly::{Direction, TrendKind, TrendTracker};
/// let mut t = TrendTracker::new(10, Direction::HigherIsWorse);
/// for i in 0..600i64 {
///     t.add(i * 1_000, 0.010 + i as f64 * 1e-5 + if i % 2 == 0 { 1e-4 } else { 0.0 });
/// }
/// let trend = t.trend().unwrap();
/// assert_eq!(trend.kind, TrendKind::Degrading);
/// assert!(trend.slope_per_hour > 0.0);
/// ```
#[derive(Debug, Clone)]
pub struct TrendTracker {
    stride: u32,
    direction: Direction,
    times: [i64; TREND_BUCKETS],
    means: [f64; TREND_BUCKETS],
    len: usize,
    next: usize,
    acc_sum: f64,
    acc_time: i64,
    acc_n: u32,
}

impl TrendTracker {
    /// Buckets of `stride` points, judged by `direction`.
    pub fn new(stride: u32, direction: Direction) -> TrendTracker {
        TrendTracker {
            stride: stride.max(1),
            direction,
            times: [0; TREND_BUCKETS],
            means: [0.0; TREND_BUCKETS],
            len: 0,
            next: 0,
            acc_sum: 0.0,
            acc_time: 0,
            acc_n: 0,
        }
    }

    /// Adds a point (non-finite values are ignored).
    pub fn add(&mut self, timestamp_ms: i64, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.acc_sum += value;
        self.acc_time = self.acc_time.max(timestamp_ms);
        self.acc_n += 1;
        if self.acc_n >= self.stride {
            self.means[self.next] = self.acc_sum / f64::from(self.acc_n);
            self.times[self.next] = self.acc_time;
            self.next = (self.next + 1) % TREND_BUCKETS;
            self.len = (self.len + 1).min(TREND_BUCKETS);
            self.acc_sum = 0.0;
            self.acc_n = 0;
        }
    }

    /// The trend over the buckets kept (`None` with fewer than 8).
    pub fn trend(&self) -> Option<Trend> {
        if self.len < 8 {
            return None;
        }
        let start = (self.next + TREND_BUCKETS - self.len) % TREND_BUCKETS;
        let pts: Vec<(f64, f64)> = (0..self.len)
            .map(|i| {
                let k = (start + i) % TREND_BUCKETS;
                (self.times[k] as f64 / 3_600_000.0, self.means[k])
            })
            .collect();
        let n = pts.len();
        let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
        let mut s = 0i64;
        for i in 0..n {
            for j in i + 1..n {
                let dv = pts[j].1 - pts[i].1;
                s += (dv > 0.0) as i64 - (dv < 0.0) as i64;
                let dt = pts[j].0 - pts[i].0;
                if dt > 0.0 {
                    slopes.push(dv / dt);
                }
            }
        }
        slopes.sort_by(f64::total_cmp);
        let slope = if slopes.is_empty() {
            0.0
        } else {
            slopes[slopes.len() / 2]
        };
        // Mann–Kendall: S ~ N(0, n(n-1)(2n+5)/18) without a trend (ties ignored).
        let nf = n as f64;
        let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
        let z = if s > 0 {
            (s as f64 - 1.0) / var.sqrt()
        } else if s < 0 {
            (s as f64 + 1.0) / var.sqrt()
        } else {
            0.0
        };
        let p_value = (2.0 * normal_tail(z.abs())).min(1.0);
        let kind = if p_value >= ALPHA || slope == 0.0 {
            TrendKind::Stable
        } else if self.direction.is_bad(slope) {
            // With `Both`, any significant drift counts as degrading.
            TrendKind::Degrading
        } else {
            TrendKind::Improving
        };
        Some(Trend {
            kind,
            slope_per_hour: if slope.is_finite() { slope } else { 0.0 },
            p_value,
            samples: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Rng;
    use super::*;

    fn tracker(direction: Direction, f: impl Fn(i64) -> f64) -> TrendTracker {
        let mut t = TrendTracker::new(5, direction);
        let mut rng = Rng::new(17);
        for i in 0..320 {
            t.add(i * 60_000, f(i) + rng.normal());
        }
        t
    }

    #[test]
    fn flat_noise_is_stable() {
        let t = tracker(Direction::HigherIsWorse, |_| 10.0);
        assert_eq!(t.trend().unwrap().kind, TrendKind::Stable);
    }

    #[test]
    fn the_sign_follows_the_metric() {
        let rising = |i: i64| i as f64 * 0.05;
        assert_eq!(
            tracker(Direction::HigherIsWorse, rising)
                .trend()
                .unwrap()
                .kind,
            TrendKind::Degrading
        );
        let t = tracker(Direction::LowerIsWorse, rising).trend().unwrap();
        assert_eq!(t.kind, TrendKind::Improving);
        // 0.05 per minute is 3 per hour.
        assert!((t.slope_per_hour - 3.0).abs() < 0.5, "{t:?}");
    }

    #[test]
    fn a_robust_slope_ignores_outliers() {
        let t = tracker(Direction::Both, |i| if i % 40 == 0 { 1e6 } else { 5.0 });
        assert!(t.trend().unwrap().slope_per_hour.abs() < 1.0);
    }
}
