//! Pattern: how unlike the recent shape of the series is to the shapes it has learned.

use super::detector::{scale_floor, Detector};
use super::score::{clamp_input, finite, Verdict};

/// Length of a shape.
pub const SHAPE: usize = 12;
/// Number of shapes learned.
pub const SHAPES: usize = 16;
/// Points during which new shapes are added to the codebook (while it has room) and
/// everything is learned.
const WARM: u64 = 200;
/// Distance beyond which a shape is new while the codebook has room.
const NOVEL: f64 = 1.0;

/// The last [`SHAPE`] points, z-normalised (so level and amplitude do not matter), compared
/// with a codebook of [`SHAPES`] normal shapes learned online (nearest shape moves towards
/// what it matched, as in online k-means; anomalous shapes are not learned). The distance to
/// the nearest shape is scored against the usual distance.
///
/// O(`SHAPE` × `SHAPES`) = O(1) per point, no allocation after construction.
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Pattern};
/// let mut d = Pattern::new();
/// // A saw tooth, then one tooth upside down.
/// let saw = |i: i64| (i % 6) as f64;
/// for i in 0..600 {
///     d.update(i, saw(i));
/// }
/// let worst = (600..606)
///     .map(|i| d.update(i, 5.0 - saw(i)).score)
///     .fold(0.0, f64::max);
/// assert!(worst > 0.99);
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    window: [f64; SHAPE],
    head: usize,
    filled: usize,
    codebook: [[f64; SHAPE]; SHAPES],
    learned: usize,
    shape: [f64; SHAPE],
    mean_dist: f64,
    abs_dev_dist: f64,
    seen: u64,
    rate: f64,
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::new()
    }
}

impl Pattern {
    /// A detector with an empty codebook.
    pub fn new() -> Pattern {
        Pattern {
            window: [0.0; SHAPE],
            head: 0,
            filled: 0,
            codebook: [[0.0; SHAPE]; SHAPES],
            learned: 0,
            shape: [0.0; SHAPE],
            mean_dist: 0.0,
            abs_dev_dist: 0.0,
            seen: 0,
            rate: 0.05,
        }
    }

    /// Writes the z-normalised current window into `self.shape`, newest first.
    #[inline]
    fn normalise(&mut self) {
        let n = SHAPE as f64;
        let mean = self.window.iter().sum::<f64>() / n;
        let var = self
            .window
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .sum::<f64>()
            / n;
        let std = var.sqrt();
        let inv = if std > scale_floor(mean) * 1e3 {
            1.0 / std
        } else {
            0.0
        };
        // Newest first: the slots before `head` backwards, then the ones after it.
        let (older, newer) = self.window.split_at(self.head);
        for (s, v) in self
            .shape
            .iter_mut()
            .zip(older.iter().rev().chain(newer.iter().rev()))
        {
            *s = (v - mean) * inv;
        }
    }

    /// The nearest learned shape and its squared distance.
    #[inline]
    fn nearest(&self) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (k, c) in self.codebook[..self.learned].iter().enumerate() {
            // Four independent sums, so the loop vectorises.
            let mut acc = [0.0f64; 4];
            for (a, b) in c.chunks_exact(4).zip(self.shape.chunks_exact(4)) {
                for j in 0..4 {
                    let d = a[j] - b[j];
                    acc[j] += d * d;
                }
            }
            let d = (acc[0] + acc[1]) + (acc[2] + acc[3]);
            if d < best.1 {
                best = (k, d);
            }
        }
        best
    }
}

impl Detector for Pattern {
    fn name(&self) -> &'static str {
        "pattern"
    }

    #[inline]
    fn update(&mut self, _timestamp_ms: i64, value: f64) -> Verdict {
        let Some(x) = clamp_input(value) else {
            return Verdict::NONE;
        };
        self.window[self.head] = x;
        self.head = (self.head + 1) % SHAPE;
        self.filled = (self.filled + 1).min(SHAPE);
        if self.filled < SHAPE {
            return Verdict::NONE;
        }
        self.normalise();
        let (k, d2) = self.nearest();
        // While warming up, learn a new shape while there is room and nothing learned is close (a z-normalised
        // shape has norm sqrt(SHAPE) = 3.5, so 1.0 is "clearly different").
        if self.learned < SHAPES && d2 > NOVEL * NOVEL && self.seen < WARM {
            self.codebook[self.learned] = self.shape;
            self.learned += 1;
            self.seen += 1;
            return Verdict::NONE;
        }
        let dist = d2.sqrt();
        let spread = (self.abs_dev_dist * 1.2533).max(1e-9);
        let z = finite((dist - self.mean_dist) / spread);
        let verdict = if self.seen > 100 && z > 0.0 {
            Verdict::from_deviation(z)
        } else {
            Verdict::NONE
        };
        let warm = self.seen < WARM;
        if z < 3.0 || warm {
            let r = self.rate;
            for (c, s) in self.codebook[k].iter_mut().zip(&self.shape) {
                *c += r * (s - *c);
            }
        }
        let clipped = if warm {
            dist
        } else {
            dist.min(self.mean_dist + 4.0 * spread)
        };
        let g = if warm { 0.05 } else { 0.01 };
        self.abs_dev_dist += g * ((clipped - self.mean_dist).abs() - self.abs_dev_dist);
        self.mean_dist += g * (clipped - self.mean_dist);
        self.seen += 1;
        verdict
    }

    fn reset(&mut self) {
        *self = Pattern::new();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::score::Severity;
    use super::super::testing::*;
    use super::*;

    fn saw(n: usize, broken: Option<usize>) -> Vec<f64> {
        let mut rng = Rng::new(5);
        (0..n)
            .map(|i| {
                let v = (i % 10) as f64;
                let v = if broken.is_some_and(|b| (b..b + 10).contains(&i)) {
                    9.0 - v
                } else {
                    v
                };
                v + 0.1 * rng.normal()
            })
            .collect()
    }

    #[test]
    fn a_regular_shape_raises_nothing_and_a_broken_one_is_found() {
        assert!(run(&mut Pattern::new(), &saw(2_000, None)).is_empty());
        let flagged = run(&mut Pattern::new(), &saw(2_000, Some(1_500)));
        assert!(!flagged.is_empty());
        assert!(
            flagged.iter().all(|i| (1_500..1_525).contains(i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn finds_a_level_shift_in_a_shape() {
        // Spikes and shifts in white noise are the other detectors' job: z-normalised noise
        // has no shape. In a shaped series a step makes shapes never seen before.
        let mut series = saw(2_000, None);
        series[1_503..].iter_mut().for_each(|v| *v += 20.0);
        let flagged = run(&mut Pattern::new(), &series);
        assert!(
            flagged.first().is_some_and(|i| (1_503..1_515).contains(i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn a_flat_line_raises_nothing() {
        assert!(run_at(&mut Pattern::new(), &[5.0; 1_000], Severity::Low).is_empty());
    }

    #[test]
    fn survives_hostile_input() {
        hostile(&mut Pattern::new());
    }
}
