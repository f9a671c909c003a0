//! Hard limits and rate of change: a value outside `[min, max]`, or changing faster than a
//! limit (or much faster than it usually does), over the last few points.

use super::detector::{scale_floor, Clock, Detector};
use super::score::{clamp_input, finite, Severity, Verdict};

/// The most points a rate of change spans.
pub const MAX_RATE_POINTS: usize = 16;

/// Limits, rate of change and a learned range.
///
/// Without explicit limits it learns: a value beyond the range seen so far scores by how
/// far beyond it is (in range widths), and a change over the last `rate_points` points by
/// how it compares with the usual absolute change (a running mean of them).
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Severity, Threshold};
/// let mut d = Threshold::new().with_max(100.0).with_max_rate(5.0);
/// assert_eq!(d.update(0, 50.0).severity, Severity::None);
/// assert_eq!(d.update(1_000, 120.0).severity, Severity::Critical); // above max, 70/s
/// ```
#[derive(Debug, Clone)]
pub struct Threshold {
    min: Option<f64>,
    max: Option<f64>,
    max_rate: Option<f64>,
    rate_points: usize,
    values: [f64; MAX_RATE_POINTS + 1],
    times: [i64; MAX_RATE_POINTS + 1],
    next: usize,
    seen: u64,
    lo: f64,
    hi: f64,
    mean_abs_change: f64,
    clock: Clock,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::new()
    }
}

impl Threshold {
    /// No fixed limits, rate of change over 1 point.
    pub fn new() -> Threshold {
        Threshold {
            min: None,
            max: None,
            max_rate: None,
            rate_points: 1,
            values: [0.0; MAX_RATE_POINTS + 1],
            times: [0; MAX_RATE_POINTS + 1],
            next: 0,
            seen: 0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            mean_abs_change: 0.0,
            clock: Clock::default(),
        }
    }

    /// Values below `min` are critical.
    pub fn with_min(mut self, min: f64) -> Threshold {
        self.min = Some(min);
        self
    }

    /// Values above `max` are critical.
    pub fn with_max(mut self, max: f64) -> Threshold {
        self.max = Some(max);
        self
    }

    /// A change faster than `per_second` (in either direction) is critical.
    pub fn with_max_rate(mut self, per_second: f64) -> Threshold {
        self.max_rate = Some(per_second.abs());
        self
    }

    /// The rate of change spans the last `points` points (1 to [`MAX_RATE_POINTS`]).
    pub fn with_rate_points(mut self, points: usize) -> Threshold {
        self.rate_points = points.clamp(1, MAX_RATE_POINTS);
        self
    }

    fn limit_breach(&self, x: f64, change: Option<(f64, i64)>) -> bool {
        let rate = change
            .zip(self.max_rate)
            .is_some_and(|((dv, dt), max)| dt > 0 && (dv / (dt as f64 / 1000.0)).abs() > max);
        self.min.is_some_and(|m| x < m) || self.max.is_some_and(|m| x > m) || rate
    }
}

impl Detector for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn update(&mut self, timestamp_ms: i64, value: f64) -> Verdict {
        let Some(x) = clamp_input(value) else {
            return Verdict::NONE;
        };
        let (ts, _) = self.clock.advance(timestamp_ms);
        let slots = MAX_RATE_POINTS + 1;
        let change = (self.seen >= self.rate_points as u64).then(|| {
            let back = (self.next + slots - self.rate_points) % slots;
            (x - self.values[back], ts - self.times[back])
        });
        // Learned range: how far beyond it, in range widths (a tenth of a width ~ 4 sigmas).
        let mut deviation = 0.0f64;
        if self.seen >= 10 {
            let width = (self.hi - self.lo).max(scale_floor(self.hi));
            let beyond = if x > self.hi {
                (x - self.hi) / width
            } else if x < self.lo {
                (x - self.lo) / width
            } else {
                0.0
            };
            if beyond != 0.0 {
                deviation = finite(beyond.signum() * 3.0 + beyond * 10.0);
            }
        }
        // Rate of change against the usual absolute change (mean |normal| = 0.798 sigma).
        if let Some((dv, _)) = change {
            if self.seen >= 20 + self.rate_points as u64 {
                let scale = (self.mean_abs_change * 1.2533).max(scale_floor(x));
                let z = finite(dv / scale);
                if z.abs() > deviation.abs() {
                    deviation = z;
                }
            }
            let a = (dv.abs() - self.mean_abs_change) * 0.01;
            self.mean_abs_change += if self.seen < 120 { a * 5.0 } else { a };
        }
        let verdict = if self.limit_breach(x, change) {
            Verdict {
                severity: Severity::Critical,
                deviation: if deviation == 0.0 { 6.0 } else { deviation },
            }
        } else {
            Verdict {
                severity: Severity::from_deviation(deviation),
                deviation,
            }
        };
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
        self.values[self.next] = x;
        self.times[self.next] = ts;
        self.next = (self.next + 1) % slots;
        self.seen += 1;
        verdict
    }

    fn reset(&mut self) {
        *self = Threshold {
            min: self.min,
            max: self.max,
            max_rate: self.max_rate,
            rate_points: self.rate_points,
            ..Threshold::new()
        };
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn limits_are_critical() {
        let mut d = Threshold::new().with_min(0.0).with_max(10.0);
        assert_eq!(d.update(0, 5.0).severity, Severity::None);
        assert_eq!(d.update(1, -1.0).severity, Severity::Critical);
        assert_eq!(d.update(2, 11.0).severity, Severity::Critical);
    }

    #[test]
    fn max_rate_uses_time() {
        let mut d = Threshold::new().with_max_rate(1.0).with_rate_points(2);
        d.update(0, 0.0);
        d.update(1_000, 1.0);
        // 2 over 2 seconds: 1/s, allowed. Then 3 over 1 s (the repeated stamp adds no time).
        assert_eq!(d.update(2_000, 2.0).severity, Severity::None);
        assert_eq!(d.update(2_000, 4.0).severity, Severity::Critical);
    }

    #[test]
    fn finds_a_spike_and_a_level_shift() {
        let flagged = run(&mut Threshold::new(), &spike(1_000, 800, 12.0));
        assert!(flagged.contains(&800), "{flagged:?}");
        let flagged = run(&mut Threshold::new(), &level_shift(1_000, 600, 8.0));
        assert!(flagged.contains(&600), "{flagged:?}");
    }

    #[test]
    fn finds_a_variance_change() {
        let flagged = run(&mut Threshold::new(), &variance_change(2_000, 1_000, 6.0));
        assert!(
            flagged.iter().any(|i| (1_000..1_100).contains(i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn a_flat_line_raises_nothing() {
        assert!(run_at(&mut Threshold::new(), &[5.0; 1_000], Severity::Low).is_empty());
    }

    #[test]
    fn survives_hostile_input() {
        hostile(&mut Threshold::new());
        hostile(&mut Threshold::new().with_max(1.0).with_max_rate(1.0));
    }
}
