//! Seasonal baseline: each point is compared with the same phase of earlier periods.

use super::detector::{scale_floor, Clock, Detector};
use super::score::{clamp_input, Verdict};

/// Weight of the all-bins spread in a bin's spread, in observations.
const PRIOR: f64 = 4.0;

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    mean: f64,
    abs_dev: f64,
    count: u32,
}

/// The mean and mean absolute residual of each phase bin of a period, learned with an
/// exponentially weighted average (a plain average over the first periods), so a point is
/// judged against what usually happens at that time of day (or week).
///
/// O(1) per point; memory is 24 bytes per bin. Outliers are clipped before they are learned,
/// so one broken period barely moves the baseline.
///
/// ```
/// use cqrs_obs::anomaly::{Detector, Seasonal, Severity};
/// const HOUR: i64 = 3_600_000;
/// let mut d = Seasonal::new(24 * HOUR, 24);
/// let day = |h: i64| if (9..17).contains(&(h % 24)) { 100.0 } else { 10.0 };
/// for h in 0..24 * 14 {
///     d.update(h * HOUR, day(h) + (h / 24 % 3) as f64);
/// }
/// // Office-hours traffic at 3 a.m. is an anomaly; at noon it is not.
/// assert!(d.update(24 * 14 * HOUR + 3 * HOUR, 100.0).severity >= Severity::High);
/// assert_eq!(d.update(24 * 14 * HOUR + 12 * HOUR, 101.0).severity, Severity::None);
/// ```
#[derive(Debug, Clone)]
pub struct Seasonal {
    period_ms: i64,
    /// `1 / period_ms` and `bins / period_ms`, for the phase and bin estimates.
    per_ms: f64,
    bins_per_ms: f64,
    bins: Box<[Bin]>,
    /// Periods after which the average becomes exponential.
    memory: u32,
    /// `1 / (memory + 1)`: the rate of a settled bin (no division per point once settled).
    settled_rate: f64,
    /// Running mean absolute residual over all bins (floor for young or quiet bins).
    global_abs: f64,
    seen: u64,
    clock: Clock,
}

/// Periods a baseline averages over once warm, unless set.
const DEFAULT_MEMORY: u32 = 8;

/// The learning rate of a bin seen at least `memory` times: `1 / (memory + 1)`.
fn settled_rate(memory: u32) -> f64 {
    1.0 / (f64::from(memory) + 1.0)
}

impl Seasonal {
    /// A baseline over a period of `period_ms` milliseconds (at most 2^40, about 35 years)
    /// cut into `bins` phases (at most 65,536).
    pub fn new(period_ms: i64, bins: usize) -> Seasonal {
        let period_ms = period_ms.clamp(1, 1 << 40);
        let bins = bins.clamp(1, 1 << 16);
        Seasonal {
            period_ms,
            per_ms: 1.0 / period_ms as f64,
            bins_per_ms: bins as f64 / period_ms as f64,
            bins: vec![Bin::default(); bins].into_boxed_slice(),
            memory: DEFAULT_MEMORY,
            settled_rate: settled_rate(DEFAULT_MEMORY),
            global_abs: 0.0,
            seen: 0,
            clock: Clock::default(),
        }
    }

    /// How many periods the baseline averages over once warm (default 8).
    pub fn with_memory(mut self, periods: u32) -> Seasonal {
        self.memory = periods.max(1);
        self.settled_rate = settled_rate(self.memory);
        self
    }

    /// The period in milliseconds.
    pub fn period_ms(&self) -> i64 {
        self.period_ms
    }

    /// The phase bin of `ts`: `floor(rem_euclid(ts, period) * bins / period)`, from
    /// floating-point estimates corrected in exact integer arithmetic (no integer division on
    /// the per-point path).
    #[inline]
    fn bin_of(&self, ts: i64) -> usize {
        let p = self.period_ms;
        let q = (ts as f64 * self.per_ms) as i64;
        let phase = match q.checked_mul(p).and_then(|m| ts.checked_sub(m)) {
            // The estimate is off by at most one period while `ts` is exact in an f64.
            Some(r) if r < 0 && r >= -p => r + p,
            Some(r) if r >= p && r < 2 * p => r - p,
            Some(r) if (0..p).contains(&r) => r,
            _ => ts.rem_euclid(p),
        };
        // period_ms <= 2^40 and bins <= 2^16: the product fits in an i64.
        let scaled = phase * self.bins.len() as i64;
        let mut bin = ((phase as f64 * self.bins_per_ms) as i64).clamp(0, self.bins.len() as i64);
        // The estimate is within one bin: at most one step either way.
        while bin * p > scaled {
            bin -= 1;
        }
        while (bin + 1) * p <= scaled {
            bin += 1;
        }
        bin as usize
    }

    /// The most likely period of `values` sampled at a regular step, as a number of samples
    /// between `min_lag` and `max_lag` (the lag of the highest autocorrelation above 0.3), for
    /// picking a period when none is configured. O(n × lags); meant for a one-off look at a
    /// history, not for the per-point path.
    ///
    /// ```
    /// use cqrs_obs::anomaly::Seasonal;
    /// let v: Vec<f64> = (0..600).map(|i| ((i % 24) as f64 - 12.0).abs()).collect();
    /// assert_eq!(Seasonal::detect_period(&v, 2, 100), Some(24));
    /// ```
    pub fn detect_period(values: &[f64], min_lag: usize, max_lag: usize) -> Option<usize> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        let max_lag = max_lag.min(n / 2);
        let mean = v.iter().sum::<f64>() / n.max(1) as f64;
        let var: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
        if n < 4 || var <= 0.0 || !var.is_finite() {
            return None;
        }
        let acf = |lag: usize| {
            let s: f64 = (lag..n).map(|i| (v[i] - mean) * (v[i - lag] - mean)).sum();
            s / var * n as f64 / (n - lag) as f64
        };
        let lags: Vec<f64> = (0..=max_lag + 1)
            .map(|l| if l < n { acf(l) } else { 0.0 })
            .collect();
        // Local maxima above 0.3; the first within 10% of the highest wins, so a multiple of
        // the period does not.
        let peaks: Vec<(usize, f64)> = (min_lag.max(1)..=max_lag)
            .filter(|&l| lags[l] > 0.3 && lags[l] >= lags[l - 1] && lags[l] >= lags[l + 1])
            .map(|l| (l, lags[l]))
            .collect();
        let top = peaks.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        peaks.iter().find(|p| p.1 >= 0.9 * top).map(|p| p.0)
    }
}

impl Detector for Seasonal {
    fn name(&self) -> &'static str {
        "seasonal"
    }

    #[inline]
    fn update(&mut self, timestamp_ms: i64, value: f64) -> Verdict {
        let Some(x) = clamp_input(value) else {
            return Verdict::NONE;
        };
        let (ts, _) = self.clock.advance(timestamp_ms);
        let i = self.bin_of(ts);
        let bin = self.bins[i];
        let floor = scale_floor(bin.mean);
        // Mean |normal residual| is 0.798 sigma.
        // A young bin's spread leans on the spread of all bins (shrinkage towards it).
        let n = f64::from(bin.count);
        let spread = (n * bin.abs_dev + PRIOR * self.global_abs) / (n + PRIOR);
        let scale = 1.2533 * spread.max(0.5 * self.global_abs).max(floor);
        let residual = x - bin.mean;
        let verdict = if bin.count >= 2 && self.seen > 2 * self.bins.len() as u64 && residual != 0.0
        {
            Verdict::from_deviation(residual / scale)
        } else {
            Verdict::NONE
        };
        let b = &mut self.bins[i];
        if b.count == 0 {
            b.mean = x;
            b.abs_dev = self.global_abs;
        } else {
            let clipped = if b.count >= 2 {
                residual.clamp(-4.0 * scale, 4.0 * scale)
            } else {
                residual
            };
            let rate = if b.count >= self.memory {
                self.settled_rate
            } else {
                1.0 / f64::from(b.count + 1)
            };
            b.mean += rate * clipped;
            b.abs_dev += rate * (clipped.abs() - b.abs_dev);
            let g = if self.seen < 100 { 0.05 } else { 0.005 };
            self.global_abs += g * (clipped.abs() - self.global_abs);
        }
        b.count = b.count.saturating_add(1);
        self.seen += 1;
        verdict
    }

    fn reset(&mut self) {
        self.bins.iter_mut().for_each(|b| *b = Bin::default());
        self.global_abs = 0.0;
        self.seen = 0;
        self.clock.reset();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.bins)
    }
}

#[cfg(test)]
mod tests {
    use super::super::score::Severity;
    use super::super::testing::*;
    use super::*;

    const PERIOD: usize = 60;

    /// A wave of amplitude 10 and period 60 points with unit noise; `broken` periods are flat.
    fn wave(periods: usize, broken: Option<usize>) -> Vec<f64> {
        let mut rng = Rng::new(3);
        (0..periods * PERIOD)
            .map(|i| {
                let phase = (i % PERIOD) as f64 / PERIOD as f64 * std::f64::consts::TAU;
                let flat = broken == Some(i / PERIOD);
                100.0 + if flat { 0.0 } else { 10.0 * phase.sin() } + 0.5 * rng.normal()
            })
            .collect()
    }

    fn detector() -> Seasonal {
        Seasonal::new(PERIOD as i64 * STEP_MS, PERIOD)
    }

    #[test]
    fn a_regular_season_raises_nothing() {
        assert!(run(&mut detector(), &wave(30, None)).is_empty());
    }

    #[test]
    fn a_broken_period_is_found() {
        let flagged = run(&mut detector(), &wave(30, Some(20)));
        assert!(flagged.len() >= 10, "{flagged:?}");
        assert!(flagged.iter().all(|i| i / PERIOD == 20), "{flagged:?}");
    }

    #[test]
    fn finds_a_spike_and_a_level_shift() {
        let mut series = wave(30, None);
        series[1_500] += 12.0;
        assert_eq!(run(&mut detector(), &series), vec![1_500]);
        let mut series = wave(30, None);
        series[1_200..].iter_mut().for_each(|v| *v += 8.0);
        let flagged = run(&mut detector(), &series);
        assert!(
            flagged.first().is_some_and(|i| (1_200..1_205).contains(i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn finds_a_variance_change() {
        let flagged = run(&mut detector(), &variance_change(3_000, 1_500, 6.0));
        assert!(
            flagged.iter().any(|i| (1_500..1_600).contains(i)),
            "{flagged:?}"
        );
        assert!(flagged.iter().all(|i| *i >= 1_500), "{flagged:?}");
    }

    #[test]
    fn a_flat_line_raises_nothing() {
        assert!(run_at(&mut detector(), &[5.0; 1_000], Severity::Low).is_empty());
    }

    #[test]
    fn detects_the_period() {
        assert_eq!(
            Seasonal::detect_period(&wave(10, None), 2, 200),
            Some(PERIOD)
        );
        assert_eq!(Seasonal::detect_period(&[1.0; 100], 2, 50), None);
    }

    #[test]
    fn survives_hostile_input() {
        hostile(&mut detector());
    }

    #[test]
    fn phase_bins_match_integer_division() {
        let mut rng = Rng::new(23);
        let periods = [1, 7, 1_000, 86_400_000, 604_800_000, 1 << 40];
        let edges = [0, 1, -1, i64::MAX, i64::MIN, 1_400_000_000_000, -86_400_000];
        for period in periods {
            for bins in [1, 24, 288, 1_000, 1 << 16] {
                let d = Seasonal::new(period, bins);
                let expect = |ts: i64| {
                    let phase = ts.rem_euclid(d.period_ms);
                    ((phase * d.bins.len() as i64) / d.period_ms) as usize
                };
                let random = (0..2_000).map(|_| {
                    let scale = [1e3, 1e9, 2e12, 9e18][(rng.uniform() * 4.0) as usize % 4];
                    ((rng.uniform() - 0.3) * scale) as i64
                });
                // The first millisecond of some bins, in the first and a later period.
                let bins_i = d.bins.len() as i64;
                let firsts = (0..bins_i.min(50)).flat_map(|b| {
                    let first = (b * d.period_ms + bins_i - 1) / bins_i;
                    [first, first + 1_000 * d.period_ms.min(1 << 20)]
                });
                for ts in edges.into_iter().chain(random).chain(firsts) {
                    for t in [ts, ts.saturating_add(period), ts.saturating_sub(1)] {
                        assert_eq!(
                            d.bin_of(t),
                            expect(t),
                            "period {period}, bins {bins}, ts {t}"
                        );
                    }
                }
            }
        }
    }
}
