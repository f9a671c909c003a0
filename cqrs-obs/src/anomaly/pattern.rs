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
/// How far above the best single-precision rank a shape is still measured exactly. Ranks
/// are below 50 in magnitude (shapes of norm at most sqrt(SHAPE)), so their rounding in
/// single precision is below 1e-4.
const RANK_SLACK: f32 = 1e-3;

/// The last [`SHAPE`] points, z-normalised (so level and amplitude do not matter), compared
/// with a codebook of [`SHAPES`] normal shapes learned online (nearest shape moves towards
/// what it matched, as in online k-means; anomalous shapes are not learned). The distance to
/// the nearest shape is scored against the usual distance.
///
/// O(`SHAPE` × `SHAPES`) = O(1) per point, no allocation after construction. The codebook
/// is stored position by position, so each point is one pass of `SHAPE` steps that advance
/// all [`SHAPES`] dot products at once (in single precision, four to a vector register, from
/// a copy of the codebook); the nearest shape's distance is then computed exactly.
/// Memory: about 2.8 KiB per series, all inline ([`Detector::memory_bytes`] gives the figure).
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
///     .map(|i| d.update(i, 5.0 - saw(i)).score())
///     .fold(0.0, f64::max);
/// assert!(worst > 0.99);
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Every value is written twice, `SHAPE` apart, so the last `SHAPE` values are always
    /// the contiguous `window[head..head + SHAPE]`, oldest first.
    window: [f64; 2 * SHAPE],
    head: usize,
    filled: usize,
    /// `codebook[j][k]`: position `j` (oldest first) of learned shape `k`.
    codebook: [[f64; SHAPES]; SHAPE],
    /// The codebook rounded to single precision, for ranking the shapes.
    codebook32: [[f32; SHAPES]; SHAPE],
    /// Squared norm of each learned shape; infinite for the slots not learned yet.
    norms: [f32; SHAPES],
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
            window: [0.0; 2 * SHAPE],
            head: 0,
            filled: 0,
            codebook: [[0.0; SHAPES]; SHAPE],
            codebook32: [[0.0; SHAPES]; SHAPE],
            norms: [f32::INFINITY; SHAPES],
            learned: 0,
            shape: [0.0; SHAPE],
            mean_dist: 0.0,
            abs_dev_dist: 0.0,
            seen: 0,
            rate: 0.05,
        }
    }

    /// Writes the z-normalised current window into `self.shape`, oldest first.
    #[inline]
    fn normalise(&mut self) {
        // The moments are summed in slot order (the first copy of every value), in four
        // interleaved partial sums (a single chain of twelve additions is slow).
        let slots: &[f64; SHAPE] = self.window[..SHAPE].try_into().expect("SHAPE slots");
        let n = SHAPE as f64;
        let mean = sum4(slots, |v| v) / n;
        let var = sum4(slots, |v| (v - mean) * (v - mean)) / n;
        let std = var.sqrt();
        let inv = if std > scale_floor(mean) * 1e3 {
            1.0 / std
        } else {
            0.0
        };
        let window = &self.window[self.head..self.head + SHAPE];
        for (s, v) in self.shape.iter_mut().zip(window) {
            *s = (v - mean) * inv;
        }
    }

    /// The nearest learned shape and its squared distance (`(0, ∞)` with none learned).
    ///
    /// The shapes are ranked by `|c|² - 2 c·s` (the squared distance less the constant
    /// `|s|²`), computed for all of them together in single precision; the distance of every
    /// shape ranked within [`RANK_SLACK`] of the best is then summed exactly in double
    /// precision, and the smallest wins (the first on a tie). The slack is far above the
    /// ranks' rounding, so the choice and the distance are those of an exact search, and a
    /// near-perfect match reads as near zero rather than as rounding noise.
    #[inline]
    fn nearest(&self) -> (usize, f64) {
        let mut shape = [0.0f32; SHAPE];
        for (s32, s) in shape.iter_mut().zip(&self.shape) {
            *s32 = *s as f32;
        }
        let mut dots = [0.0f32; SHAPES];
        for (row, s) in self.codebook32.iter().zip(&shape) {
            for (d, c) in dots.iter_mut().zip(row) {
                *d += c * s;
            }
        }
        let mut ranks = [0.0f32; SHAPES];
        let mut top = f32::INFINITY;
        for ((r, norm), dot) in ranks.iter_mut().zip(&self.norms).zip(&dots) {
            *r = norm - 2.0 * dot;
            // A plain comparison (one `minss`); ranks are never NaN.
            if *r < top {
                top = *r;
            }
        }
        let cut = top + RANK_SLACK;
        let mut best = (0, f64::INFINITY);
        for (k, r) in ranks[..self.learned].iter().enumerate() {
            if *r <= cut {
                let d2 = self.distance(k);
                if d2 < best.1 {
                    best = (k, d2);
                }
            }
        }
        best
    }

    /// The squared distance from the current shape to shape `k`, summed newest point first
    /// in four interleaved partial sums.
    #[inline]
    fn distance(&self, k: usize) -> f64 {
        let mut acc = [0.0f64; 4];
        for (i, (row, s)) in self.codebook.iter().zip(&self.shape).rev().enumerate() {
            let d = row[k] - s;
            acc[i % 4] += d * d;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }

    /// Moves shape `k` a fraction `rate` of the way to the current shape.
    #[inline]
    fn learn(&mut self, k: usize, rate: f64) {
        let mut moved = [0.0; SHAPE];
        for (((row, row32), s), m) in self
            .codebook
            .iter_mut()
            .zip(&mut self.codebook32)
            .zip(&self.shape)
            .zip(&mut moved)
        {
            let c = &mut row[k];
            *c += rate * (s - *c);
            row32[k] = *c as f32;
            *m = *c;
        }
        self.norms[k] = sum4(&moved, |c| c * c) as f32;
    }
}

/// `f` summed over `values` in four interleaved partial sums, so the additions overlap.
#[inline(always)]
fn sum4(values: &[f64; SHAPE], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    for (i, v) in values.iter().enumerate() {
        acc[i % 4] += f(*v);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
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
        self.window[self.head + SHAPE] = x;
        self.head = if self.head + 1 == SHAPE {
            0
        } else {
            self.head + 1
        };
        self.filled = (self.filled + 1).min(SHAPE);
        if self.filled < SHAPE {
            return Verdict::NONE;
        }
        self.normalise();
        let (k, d2) = self.nearest();
        // While warming up, learn a new shape while there is room and nothing learned is close (a z-normalised
        // shape has norm sqrt(SHAPE) = 3.5, so 1.0 is "clearly different").
        if self.learned < SHAPES && d2 > NOVEL * NOVEL && self.seen < WARM {
            let slot = self.learned;
            self.learned += 1;
            self.learn(slot, 1.0);
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
            self.learn(k, self.rate);
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
