//! Z-score over a rolling window: running sum and sum of squares, O(1) per point.

use super::detector::{scale_floor, Detector};
use super::score::{clamp_input, Verdict};
use super::window::Ring;

/// Distance from the rolling mean in rolling standard deviations.
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Severity, ZScore};
/// let mut d = ZScore::new(50);
/// for i in 0..100 {
///     d.update(i, if i % 2 == 0 { 9.0 } else { 11.0 });
/// }
/// let v = d.update(100, 20.0);
/// assert_eq!(v.severity, Severity::Critical);
/// assert!(v.deviation > 0.0);
/// ```
#[derive(Debug, Clone)]
pub struct ZScore {
    ring: Ring,
    min_points: usize,
}

impl ZScore {
    /// A detector over the last `window` points (at least 2); it scores once it has seen a
    /// fifth of them (at least 5).
    pub fn new(window: usize) -> ZScore {
        let window = window.max(2);
        ZScore {
            ring: Ring::new(window),
            min_points: (window / 5).max(5).min(window),
        }
    }

    /// The rolling mean and population standard deviation.
    pub fn mean_std(&self) -> (f64, f64) {
        (self.ring.mean(), self.ring.std())
    }
}

impl Detector for ZScore {
    fn name(&self) -> &'static str {
        "zscore"
    }

    #[inline]
    fn update(&mut self, _timestamp_ms: i64, value: f64) -> Verdict {
        let Some(x) = clamp_input(value) else {
            return Verdict::NONE;
        };
        let verdict = if self.ring.len() >= self.min_points {
            verdict(&self.ring, x)
        } else {
            Verdict::NONE
        };
        self.ring.push(x);
        verdict
    }

    fn reset(&mut self) {
        self.ring.clear();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.ring.heap_bytes()
    }
}

/// The z-score verdict on `x` against the values of `ring`.
#[inline]
pub(crate) fn verdict(ring: &Ring, x: f64) -> Verdict {
    let mean = ring.mean();
    let std = ring.std().max(scale_floor(mean));
    let diff = x - mean;
    if diff == 0.0 {
        Verdict::NONE
    } else {
        Verdict::from_deviation(diff / std)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn finds_a_spike_and_ignores_noise() {
        let mut d = ZScore::new(100);
        let flagged = run(&mut d, &spike(1_000, 800, 12.0));
        assert_eq!(flagged, vec![800]);
    }

    #[test]
    fn finds_a_level_shift() {
        let mut d = ZScore::new(100);
        let flagged = run(&mut d, &level_shift(1_000, 600, 8.0));
        assert!(
            flagged.first().is_some_and(|i| (600..605).contains(i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn finds_a_variance_change() {
        let mut d = ZScore::new(100);
        let flagged = run(&mut d, &variance_change(2_000, 1_000, 6.0));
        assert!(
            flagged.iter().any(|i| (1_000..1_100).contains(i)),
            "{flagged:?}"
        );
        assert!(flagged.iter().all(|i| *i >= 1_000), "{flagged:?}");
    }

    #[test]
    fn a_flat_line_raises_nothing() {
        let mut d = ZScore::new(100);
        assert!(run(&mut d, &[5.0; 1_000]).is_empty());
    }

    #[test]
    fn survives_hostile_input() {
        hostile(&mut ZScore::new(100));
    }
}
