//! Pattern: how unlike the recent shape of the series is to the shapes it has learned.

use super::detector::{scale_floor, Detector};
use super::score::{clamp_input, finite, Verdict};

/// Length of a shape. Six points, for cost: each point's work grows with it. NAB was scored
/// once with each length tried, and longer shapes found no more there (the composite 57.97
/// with 12 points and 16 shapes, 58.10 with 8 and 16, 59.46 with 8 and 12, 59.95 with 6 and
/// 12).
pub const SHAPE: usize = 6;
/// The largest magnitude of a position of a normalised shape. A z-normalised window of
/// [`SHAPE`] points stays within sqrt(SHAPE - 1) = 2.2; the clamp bounds the distances
/// whatever the rounding of a window of huge values.
const LIMIT: f32 = 4.0;
/// Number of shapes learned: three vectors of four. Twelve rather than sixteen for cost (a
/// quarter less distance work; NAB: see [`SHAPE`]). Enough for a period of ten points (the
/// tests' saw tooth), whose ten phases are ten shapes.
pub const SHAPES: usize = 12;
/// Points during which new shapes are added to the codebook (while it has room) and
/// everything is learned.
const WARM: u64 = 200;
/// Distance beyond which a shape is new while the codebook has room.
const NOVEL: f64 = 1.0;
/// Fraction of the way the nearest shape moves towards what it matched.
const RATE: f32 = 0.05;
/// Every position of a codebook slot not learned yet: far from any normalised shape (whose
/// positions are at most [`LIMIT`] in magnitude), yet its squared distance, above 1e36, is
/// finite in single precision.
const EMPTY: f32 = 1e18;
/// The lowest bits of a squared distance, which carry a slot while the nearest is sought
/// (enough bits for every slot).
const LOW_BITS: u32 = (SHAPES as u32).next_power_of_two() - 1;
const _: () = assert!(SHAPES.is_multiple_of(4), "whole vectors of four slots");
/// The last [`SHAPE`] points, z-normalised (so level and amplitude do not matter), compared
/// with a codebook of [`SHAPES`] normal shapes learned online (nearest shape moves towards
/// what it matched, as in online k-means; anomalous shapes are not learned). The distance to
/// the nearest shape is scored against the usual distance.
///
/// O(`SHAPE` × `SHAPES`) = O(1) per point, no allocation after construction. The window's
/// mean and variance are summed afresh from its values in double precision (two passes, so
/// no rounding accumulates); the normalised shape and the codebook are single precision. The
/// codebook is stored position by position and aligned for vector registers, so one pass of
/// `SHAPE` steps sums the squared distances to all [`SHAPES`] shapes at once (four to a vector
/// register), and the nearest is then picked without branches. What a point learns is
/// written into the codebook at the next point, after that point has read it, so learning
/// lags by one point: read right after the write, the codebook would wait for the write to
/// reach the cache, and the detector took 76 ns a point instead of 61 in its benchmark.
/// Memory: about 0.5 KiB per series, all inline ([`Detector::memory_bytes`] gives the figure).
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
    window: Aligned<[f64; 2 * SHAPE]>,
    head: usize,
    filled: usize,
    /// `codebook[j][k]`: position `j` (oldest first) of learned shape `k`; [`EMPTY`] in
    /// every position of the slots not learned yet.
    codebook: Aligned<[[f32; SHAPES]; SHAPE]>,
    /// The last point's learning, not yet written into `codebook`: the slot and its new
    /// shape. Written at the next point, once that point has read the codebook, so that the
    /// reads do not wait for the writes.
    pending: Option<usize>,
    pending_shape: Aligned<[f32; SHAPE]>,
    learned: usize,
    mean_dist: f64,
    abs_dev_dist: f64,
    seen: u64,
}

/// A value aligned to 16 bytes, so that vector instructions can read it in place.
#[derive(Debug, Clone)]
#[repr(align(16))]
struct Aligned<T>(T);

impl Default for Pattern {
    fn default() -> Self {
        Pattern::new()
    }
}

impl Pattern {
    /// A detector with an empty codebook.
    pub fn new() -> Pattern {
        Pattern {
            window: Aligned([0.0; 2 * SHAPE]),
            head: 0,
            filled: 0,
            codebook: Aligned([[EMPTY; SHAPES]; SHAPE]),
            pending: None,
            pending_shape: Aligned([0.0; SHAPE]),
            learned: 0,
            mean_dist: 0.0,
            abs_dev_dist: 0.0,
            seen: 0,
        }
    }

    /// The z-normalised `window`, oldest first.
    #[inline]
    fn normalise(window: &[f64; SHAPE]) -> [f32; SHAPE] {
        // Summed afresh from the window (two passes, in pairs so that the sums vectorise and
        // their chains stay short): as cheap as running sums with their periodic rebasing,
        // and exact.
        const PER_POINT: f64 = 1.0 / SHAPE as f64;
        let mean = pairwise_sum(*window) * PER_POINT;
        let variance = pairwise_sum(window.map(|v| (v - mean) * (v - mean))) * PER_POINT;
        let floor = scale_floor(mean) * 1e3;
        let inv = if variance > floor * floor {
            1.0 / (variance as f32).sqrt()
        } else {
            0.0
        };
        let mut shape = [0.0f32; SHAPE];
        for (s, v) in shape.iter_mut().zip(window) {
            // Plain comparisons (`minps`, `maxps`): the value is never NaN.
            let t = (v - mean) as f32 * inv;
            let t = if t < LIMIT { t } else { LIMIT };
            *s = if t > -LIMIT { t } else { -LIMIT };
        }
        shape
    }

    /// The nearest learned shape and its squared distance (slot 0 and a distance above
    /// 1e36 with none learned).
    ///
    /// Each squared distance is summed from the differences themselves (not from norms and a
    /// dot product), so a near-perfect match reads as near zero rather than as rounding noise.
    /// The nearest is found without branches: the lowest bits of each distance ([`LOW_BITS`];
    /// a non-negative float's bits order like the number) are replaced by the shape's slot,
    /// and the smallest of those keys names the slot. Distances that agree but for those bits
    /// (a relative 2e-6 with four bits) count as a tie, which the lower slot wins, and the
    /// distance returned is the nearest's with those bits cleared.
    #[inline]
    fn nearest(&self, shape: &[f32; SHAPE]) -> (usize, f32) {
        let low = self.lowest_keys(shape);
        let low01 = if low[1] < low[0] { low[1] } else { low[0] };
        let low23 = if low[3] < low[2] { low[3] } else { low[2] };
        let best = if low23 < low01 { low23 } else { low01 };
        let bits = best.to_bits();
        ((bits & LOW_BITS) as usize, f32::from_bits(bits & !LOW_BITS))
    }

    /// The keys of [`Pattern::nearest`] (squared distance with the slot in its lowest bits)
    /// for every slot, all slots advanced together position by position (four to a vector
    /// register), then the lowest key of each lane of four. Kept out of line so that the
    /// compiler vectorises these loops as written, whatever the code around a call.
    #[inline(never)]
    fn lowest_keys(&self, shape: &[f32; SHAPE]) -> [f32; 4] {
        const SLOTS: [u32; SHAPES] = {
            let mut slots = [0; SHAPES];
            let mut k = 0;
            while k < SHAPES {
                slots[k] = k as u32;
                k += 1;
            }
            slots
        };
        let mut keys = [0.0f32; SHAPES];
        for (row, s) in self.codebook.0.iter().zip(shape) {
            for (d, c) in keys.iter_mut().zip(row) {
                let t = c - s;
                *d += t * t;
            }
        }
        for (key, slot) in keys.iter_mut().zip(SLOTS) {
            *key = f32::from_bits(key.to_bits() & !LOW_BITS | slot);
        }
        // Plain comparisons (`minps`): the keys are never NaN.
        let mut low = [0.0f32; 4];
        for (l, m) in low.iter_mut().enumerate() {
            let mut best = keys[l];
            for v in 1..SHAPES / 4 {
                let c = keys[l + 4 * v];
                best = if c < best { c } else { best };
            }
            *m = best;
        }
        low
    }

    /// Moves shape `k` the fraction [`RATE`] of the way to `shape` (pending until the next
    /// point's [`Pattern::commit`]).
    #[inline]
    fn learn(&mut self, k: usize, shape: &[f32; SHAPE]) {
        let k = k.min(SHAPES - 1);
        for ((row, s), p) in self
            .codebook
            .0
            .iter()
            .zip(shape)
            .zip(&mut self.pending_shape.0)
        {
            let c = row[k];
            *p = c + RATE * (s - c);
        }
        self.pending = Some(k);
    }

    /// Writes the pending learning into the codebook.
    #[inline]
    fn commit(&mut self) {
        if let Some(k) = self.pending.take() {
            let k = k.min(SHAPES - 1);
            for (row, p) in self.codebook.0.iter_mut().zip(&self.pending_shape.0) {
                row[k] = *p;
            }
        }
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
        // The window with `x`, built from the values before it rather than read back after
        // `x` is stored: a read spanning that store would wait for it to reach the cache.
        let mut recent = [x; SHAPE];
        recent[..SHAPE - 1].copy_from_slice(&self.window.0[self.head + 1..self.head + SHAPE]);
        self.window.0[self.head] = x;
        self.window.0[self.head + SHAPE] = x;
        self.head = if self.head + 1 == SHAPE {
            0
        } else {
            self.head + 1
        };
        if self.filled < SHAPE {
            self.filled += 1;
            if self.filled < SHAPE {
                return Verdict::NONE;
            }
        }
        let shape = Pattern::normalise(&recent);
        let (k, d2) = self.nearest(&shape);
        self.commit();
        // While warming up, learn a new shape while there is room and nothing learned is
        // close (a z-normalised shape has norm sqrt(SHAPE) = 2.4, so 1.0 is "clearly
        // different"). A copy, not a move of rate 1: an empty slot's far-off values would
        // cancel the shape's.
        if self.seen < WARM && self.learned < SHAPES && f64::from(d2) > NOVEL * NOVEL {
            let slot = self.learned.min(SHAPES - 1);
            for (row, s) in self.codebook.0.iter_mut().zip(&shape) {
                row[slot] = *s;
            }
            self.learned += 1;
            self.seen += 1;
            return Verdict::NONE;
        }
        let dist = f64::from(d2.sqrt());
        let spread = (self.abs_dev_dist * 1.2533).max(1e-9);
        let z = finite((dist - self.mean_dist) / spread);
        // Only a distance above the usual is unusual. Chosen without a branch: z is as often
        // below its mean as above.
        let above = std::hint::select_unpredictable(z > 0.0 && self.seen > 100, z, 0.0);
        let verdict = Verdict::from_deviation(above);
        let warm = self.seen < WARM;
        if z < 3.0 || warm {
            self.learn(k, &shape);
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

/// The sum of [`SHAPE`] values, added in pairs of halves.
#[inline(always)]
fn pairwise_sum(values: [f64; SHAPE]) -> f64 {
    let mut v = values;
    let mut len = SHAPE;
    while len > 1 {
        // The upper half (the larger one when `len` is odd) onto the lower.
        let half = len / 2;
        let (low, high) = v.split_at_mut(len - half);
        for (l, h) in low.iter_mut().zip(&high[..half]) {
            *l += h;
        }
        len -= half;
    }
    v[0]
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
