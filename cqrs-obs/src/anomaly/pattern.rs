//! Pattern: how unlike the recent shape of the series is to the shapes it has learned.

use super::detector::{scale_floor, Detector};
use super::score::{clamp_input, finite, Verdict};
use super::window::Moments;

/// Length of a shape. Eight points: shapes twelve long found no more on NAB (the composite
/// scored 57.97 with them, 58.10 with eight) and took a third more work per point.
pub const SHAPE: usize = 8;
/// The largest magnitude of a position of a normalised shape. A z-normalised window of
/// [`SHAPE`] points stays within sqrt(SHAPE - 1) = 2.6; the clamp keeps distances finite even
/// if the running sums round badly (the scale is then wrong until their next refresh).
const LIMIT: f64 = 4.0;
/// Number of shapes learned.
pub const SHAPES: usize = 16;
/// Points during which new shapes are added to the codebook (while it has room) and
/// everything is learned.
const WARM: u64 = 200;
/// Distance beyond which a shape is new while the codebook has room.
const NOVEL: f64 = 1.0;
/// Points between exact recomputations of the window's sums.
const REFRESH: usize = SHAPE;
/// Fraction of the way the nearest shape moves towards what it matched.
const RATE: f32 = 0.05;
/// Every position of a codebook slot not learned yet: far from any normalised shape (whose
/// positions are at most [`LIMIT`] in magnitude), yet its squared distance, above 1e36, is
/// finite in single precision.
const EMPTY: f32 = 1e18;
/// The lowest bits of a squared distance, which carry a slot while the nearest is sought.
const LOW_BITS: u32 = SHAPES as u32 - 1;
const _: () = assert!(SHAPES.is_power_of_two(), "a slot fills LOW_BITS exactly");

/// The last [`SHAPE`] points, z-normalised (so level and amplitude do not matter), compared
/// with a codebook of [`SHAPES`] normal shapes learned online (nearest shape moves towards
/// what it matched, as in online k-means; anomalous shapes are not learned). The distance to
/// the nearest shape is scored against the usual distance.
///
/// O(`SHAPE` × `SHAPES`) = O(1) per point, no allocation after construction. The window's
/// mean and variance come from a running sum and sum of squares in double precision (kept
/// relative to a shift, recomputed exactly from the window every [`SHAPE`] points, so rounding
/// never accumulates); the normalised shape and the codebook are single precision. The
/// codebook is stored position by position and aligned for vector registers, so one pass of
/// `SHAPE` steps sums the squared distances to all [`SHAPES`] shapes at once (four to a vector
/// register), and the nearest is then picked without branches.
/// Memory: about 0.7 KiB per series, all inline ([`Detector::memory_bytes`] gives the figure).
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
    /// The window's running sums, rebased on its values every [`REFRESH`] points.
    moments: Moments,
    /// `codebook[j][k]`: position `j` (oldest first) of learned shape `k`; [`EMPTY`] in
    /// every position of the slots not learned yet.
    codebook: Aligned<[[f32; SHAPES]; SHAPE]>,
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
            moments: Moments::default(),
            codebook: Aligned([[EMPTY; SHAPES]; SHAPE]),
            learned: 0,
            mean_dist: 0.0,
            abs_dev_dist: 0.0,
            seen: 0,
        }
    }

    /// The z-normalised current window, oldest first.
    #[inline]
    fn normalise(&self) -> [f32; SHAPE] {
        let window: &[f64; SHAPE] = self.window.0[self.head..self.head + SHAPE]
            .try_into()
            .expect("SHAPE values");
        // A constant, not a reciprocal kept with the sums: read from memory instead, the
        // detector measured 80 against 72 ns per point on the project machine (with shapes
        // of 12 points).
        const PER_POINT: f64 = 1.0 / SHAPE as f64;
        let mean = self.moments.mean(PER_POINT);
        let std = self.moments.variance(PER_POINT).sqrt();
        let inv = if std > scale_floor(mean) * 1e3 {
            1.0 / std
        } else {
            0.0
        };
        let mut shape = [0.0f32; SHAPE];
        for (s, v) in shape.iter_mut().zip(window) {
            // Plain comparisons (`minpd`, `maxpd`): the value is never NaN.
            let t = (v - mean) * inv;
            let t = if t < LIMIT { t } else { LIMIT };
            *s = (if t > -LIMIT { t } else { -LIMIT }) as f32;
        }
        shape
    }

    /// Rebases the running sums on the window's values (once every [`REFRESH`] points).
    #[inline(never)]
    fn refresh(&mut self) {
        self.moments
            .rebase(&self.window.0[self.head..self.head + SHAPE], &[]);
    }

    /// The nearest learned shape and its squared distance (slot 0 and a distance above
    /// 1e36 with none learned).
    ///
    /// Each squared distance is summed from the differences themselves (not from norms and a
    /// dot product), so a near-perfect match reads as near zero rather than as rounding noise.
    /// The nearest is found without branches: the lowest bits of each distance ([`LOW_BITS`];
    /// a non-negative float's bits order like the number) are replaced by the shape's slot,
    /// and the smallest of those keys names the slot. Distances that agree but for those bits
    /// (a relative 2e-6 with 16 slots) count as a tie, which the first slot wins, and the
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
            let (a, b, c, d) = (keys[l], keys[l + 4], keys[l + 8], keys[l + 12]);
            let ab = if b < a { b } else { a };
            let cd = if d < c { d } else { c };
            *m = if cd < ab { cd } else { ab };
        }
        low
    }

    /// Moves shape `k` the fraction [`RATE`] of the way to `shape`.
    #[inline]
    fn learn(&mut self, k: usize, shape: &[f32; SHAPE]) {
        let k = k % SHAPES;
        for (row, s) in self.codebook.0.iter_mut().zip(shape) {
            let c = &mut row[k];
            *c += RATE * (s - *c);
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
        let old = self.window.0[self.head];
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
            self.refresh();
        } else if self.moments.slide(Some(old), x, REFRESH) {
            self.refresh();
        }
        let shape = self.normalise();
        let (k, d2) = self.nearest(&shape);
        // While warming up, learn a new shape while there is room and nothing learned is
        // close (a z-normalised shape has norm sqrt(SHAPE) = 2.8, so 1.0 is "clearly
        // different"). A copy, not a move of rate 1: an empty slot's far-off values would
        // cancel the shape's.
        if self.learned < SHAPES && f64::from(d2) > NOVEL * NOVEL && self.seen < WARM {
            let slot = self.learned % SHAPES;
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
        let verdict = if self.seen > 100 && z > 0.0 {
            Verdict::from_deviation(z)
        } else {
            Verdict::NONE
        };
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
