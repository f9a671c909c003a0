//! Order-statistics detectors over a sorted rolling window: IQR with Tukey fences and the
//! robust (MAD) z-score. O(log w) comparisons per point plus a `memmove` of at most `w`
//! values; MAD itself is an O(log w) selection over the sorted window. A window more than half
//! of one value has no IQR or MAD, and its fallback scale (the standard deviation) is summed
//! over the window: O(w), like the `memmove`.

use super::detector::{scale_floor, Detector};
use super::score::{clamp_input, finite, Severity, Verdict};
use super::window::{Ring, Sorted};

/// The interquartile range of a normal distribution in standard deviations.
const IQR_SIGMAS: f64 = 1.348_979_5;
/// The MAD of a normal distribution in standard deviations.
const MAD_SIGMAS: f64 = 0.674_489_75;

/// A ring of the last values and a sorted copy of it. `MOMENTS` keeps the ring's running
/// moments: the composite's z-score reads them on every point; the IQR and MAD detectors
/// alone need a standard deviation only when more than half the window is one value, and
/// then sum the window instead.
#[derive(Debug, Clone)]
struct Window<const MOMENTS: bool> {
    ring: Ring<MOMENTS>,
    sorted: Sorted,
    min_points: usize,
}

impl<const MOMENTS: bool> Window<MOMENTS> {
    fn new(window: usize) -> Window<MOMENTS> {
        let window = window.max(3);
        Window {
            ring: Ring::new(window),
            sorted: Sorted::new(window),
            min_points: (window / 2).max(5).min(window),
        }
    }

    /// Judges `value` against the window with `judge` (once the window is ready), then adds
    /// it: the update step of both detectors here. Generic over the judge, so that it is
    /// compiled in (a function pointer was called indirectly: 22 more instructions a point).
    #[inline]
    fn judge_then_push(
        &mut self,
        value: f64,
        judge: impl FnOnce(&mut Window<MOMENTS>, f64) -> Verdict,
    ) -> Verdict {
        let Some(x) = clamp_input(value) else {
            return Verdict::NONE;
        };
        let verdict = if self.ready() {
            judge(self, x)
        } else {
            Verdict::NONE
        };
        self.push(x);
        verdict
    }

    #[inline]
    fn ready(&self) -> bool {
        self.sorted.len() >= self.min_points
    }

    #[inline]
    fn push(&mut self, x: f64) {
        let out = self.ring.push(x);
        self.sorted.replace(out, x);
    }

    fn clear(&mut self) {
        self.ring.clear();
        self.sorted.clear();
    }

    fn heap_bytes(&self) -> usize {
        self.ring.heap_bytes() + self.sorted.heap_bytes()
    }

    /// Tukey's verdict on `x` (the window must be ready).
    #[inline]
    fn iqr(&mut self, x: f64) -> Verdict {
        let s = &self.sorted;
        let (q1, med, q3) = (s.quartile(1), s.quartile(2), s.quartile(3));
        // A window with more than half its values equal has no IQR: fall back to the
        // standard deviation (what the IQR of a normal distribution that wide would be).
        let iqr = match q3 - q1 {
            r if r > 0.0 => r,
            _ => (self.ring.std() * IQR_SIGMAS).max(scale_floor(med)),
        };
        // Distance beyond the nearer fence base (at most one term is non-zero, as q1 <= q3);
        // written without branches, since a point is as likely below Q1 as above Q3.
        let inv = 1.0 / iqr;
        let k = ((x - q3).max(0.0) - (x - q1).min(0.0)) * inv;
        let deviation = finite((x - med) * inv * IQR_SIGMAS);
        let severity = if k >= 6.0 {
            Severity::Critical
        } else if k >= 3.0 {
            Severity::High
        } else if k >= 2.25 {
            Severity::Medium
        } else if k >= 1.5 {
            Severity::Low
        } else {
            Severity::None
        };
        Verdict {
            severity,
            deviation,
        }
    }

    /// The robust z-score verdict on `x` (the window must be ready).
    #[inline]
    fn mad(&mut self, x: f64) -> Verdict {
        let med = self.sorted.quartile(2);
        // No MAD when more than half the values are equal: fall back to the standard
        // deviation (the MAD of a normal distribution that wide).
        let mad = match self.sorted.mad(med) {
            m if m > 0.0 => m,
            _ => (self.ring.std() * MAD_SIGMAS).max(scale_floor(med)),
        };
        if x == med {
            Verdict::NONE
        } else {
            Verdict::from_deviation((x - med) / mad * MAD_SIGMAS)
        }
    }
}

/// One window shared by the z-score, IQR and MAD verdicts (what the composite runs): one
/// ring and one sorted copy instead of three.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    w: Window<true>,
    zscore_min: usize,
}

impl Shared {
    pub(crate) fn new(window: usize) -> Shared {
        let w = Window::new(window);
        Shared {
            zscore_min: (w.ring.capacity_hint() / 5).max(5),
            w,
        }
    }

    /// The z-score, IQR and MAD verdicts on `value`, then learns it.
    #[inline]
    pub(crate) fn update(&mut self, value: f64) -> [Verdict; 3] {
        let Some(x) = clamp_input(value) else {
            return [Verdict::NONE; 3];
        };
        let z = if self.w.ring.len() >= self.zscore_min {
            super::zscore::verdict(&self.w.ring, x)
        } else {
            Verdict::NONE
        };
        let out = if self.w.ready() {
            [z, self.w.iqr(x), self.w.mad(x)]
        } else {
            [z, Verdict::NONE, Verdict::NONE]
        };
        self.w.push(x);
        out
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.w.heap_bytes()
    }
}

/// Tukey's fences: a point beyond `Q1 - 1.5 IQR` or `Q3 + 1.5 IQR` is an outlier, beyond
/// `3 IQR` a far-out one.
///
/// The deviation is expressed in the standard deviations a normal distribution with the same
/// IQR would have; the severity follows the fences (1.5 IQR low, 2.25 medium, 3 high, 6
/// critical).
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Iqr, Severity};
/// let mut d = Iqr::new(100);
/// for i in 0..100 {
///     d.update(i, (i % 10) as f64);
/// }
/// assert_eq!(d.update(100, 5.0).severity, Severity::None);
/// assert!(d.update(101, 60.0).severity >= Severity::High);
/// ```
#[derive(Debug, Clone)]
pub struct Iqr {
    w: Window<false>,
}

impl Iqr {
    /// A detector over the last `window` points (at least 3).
    pub fn new(window: usize) -> Iqr {
        Iqr {
            w: Window::new(window),
        }
    }
}

impl Detector for Iqr {
    fn name(&self) -> &'static str {
        "iqr"
    }

    #[inline]
    fn update(&mut self, _timestamp_ms: i64, value: f64) -> Verdict {
        self.w.judge_then_push(value, Window::iqr)
    }

    fn reset(&mut self) {
        self.w.clear();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.w.heap_bytes()
    }
}

/// The robust z-score `(x - median) / (1.4826 MAD)`: unmoved by the outliers it looks for.
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Mad, Severity};
/// let mut d = Mad::new(100);
/// for i in 0..100 {
///     // Outliers in the window do not widen the scale.
///     d.update(i, if i % 25 == 0 { 1_000.0 } else { (i % 5) as f64 });
/// }
/// assert!(d.update(100, 12.0).severity >= Severity::High);
/// ```
#[derive(Debug, Clone)]
pub struct Mad {
    w: Window<false>,
}

impl Mad {
    /// A detector over the last `window` points (at least 3).
    pub fn new(window: usize) -> Mad {
        Mad {
            w: Window::new(window),
        }
    }
}

impl Detector for Mad {
    fn name(&self) -> &'static str {
        "mad"
    }

    #[inline]
    fn update(&mut self, _timestamp_ms: i64, value: f64) -> Verdict {
        self.w.judge_then_push(value, Window::mad)
    }

    fn reset(&mut self) {
        self.w.clear();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.w.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn both() -> [Box<dyn Detector>; 2] {
        [Box::new(Iqr::new(100)), Box::new(Mad::new(100))]
    }

    #[test]
    fn find_a_spike_and_ignore_noise() {
        for mut d in both() {
            assert_eq!(
                run(d.as_mut(), &spike(1_000, 800, 12.0)),
                vec![800],
                "{d:?}"
            );
        }
    }

    #[test]
    fn find_a_level_shift() {
        for mut d in both() {
            let flagged = run(d.as_mut(), &level_shift(1_000, 600, 8.0));
            assert!(
                flagged.first().is_some_and(|i| (600..605).contains(i)),
                "{flagged:?}"
            );
        }
    }

    #[test]
    fn find_a_variance_change() {
        for mut d in both() {
            let flagged = run(d.as_mut(), &variance_change(2_000, 1_000, 6.0));
            assert!(
                flagged.iter().any(|i| (1_000..1_100).contains(i)),
                "{flagged:?}"
            );
            assert!(flagged.iter().all(|i| *i >= 1_000), "{flagged:?}");
        }
    }

    #[test]
    fn a_flat_line_raises_nothing() {
        for mut d in both() {
            assert!(run_at(d.as_mut(), &[5.0; 1_000], Severity::Low).is_empty());
        }
    }

    #[test]
    fn survive_hostile_input() {
        for mut d in both() {
            hostile(d.as_mut());
        }
    }
}
