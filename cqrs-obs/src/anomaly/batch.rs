//! Batch analysis of a recorded series with the augurs crates (feature `augurs`): its
//! seasonal periods and its changepoints, for a look back at a history rather than per point.
//!
//! Every function takes the series as `(timestamp in ms, value)` pairs in time order. Steps
//! may be irregular; NaN and infinite values are skipped (the positions of the other points,
//! and so the indices reported, stay those of the slice). Positions, not timestamps, are what
//! the analyses see: a gap shifts the phase of everything after it.

use augurs_changepoint::dist::NormalGamma;
use augurs_changepoint::{Detector as _, NormalGammaDetector};
use augurs_seasons::PeriodogramDetector;

use super::detector::scale_floor;
use super::seasonal::Seasonal;

/// Fewest finite points [`seasonal_periods`] accepts (four cycles of the shortest period).
pub const MIN_SEASON_POINTS: usize = 16;

/// Fewest finite points [`changepoints`] accepts.
pub const MIN_CHANGEPOINT_POINTS: usize = 8;

/// Least [`Period::strength`] of a reported period.
pub const MIN_STRENGTH: f64 = 0.3;

/// Shortest period considered, in points.
const SHORTEST: usize = 4;
/// Longest period considered, in points (a week of minutes is 10,080).
const LONGEST: usize = 1 << 14;
/// Periodogram peaks refined and scored.
const CANDIDATES: usize = 8;
/// Most phase bins of a suggested [`Seasonal`].
const MOST_BINS: usize = 1_024;
/// Expected run between changes, in points (the hazard of the changepoint model is its
/// inverse).
const RUN_LENGTH: f64 = 250.0;
/// Values are clamped to this magnitude so that sums of squares stay finite.
const LARGEST: f64 = 1e100;
/// Standardised values are clamped to this many scales.
const LARGEST_Z: f64 = 1e6;

/// Why a series cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Fewer finite points than the analysis needs.
    #[error("{finite} finite points, at least {needed} needed")]
    TooShort {
        /// Finite points in the series.
        finite: usize,
        /// Points the analysis needs.
        needed: usize,
    },
    /// No two consecutive finite points are in increasing time order, so a period has no
    /// duration.
    #[error("the timestamps never increase")]
    NoTimeStep,
}

/// A seasonal period of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Period {
    /// Points per cycle.
    pub points: usize,
    /// Milliseconds per cycle: `points` times the median step between timestamps.
    pub millis: i64,
    /// The share of the variance the period explains once the trend is removed, corrected
    /// for the share a period of that length explains in white noise: 1 is a perfect repeat,
    /// 0 none. Reported periods have at least [`MIN_STRENGTH`].
    pub strength: f64,
}

/// A change of regime (level or spread) in a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changepoint {
    /// Index in the analysed slice of the first point of the new regime.
    pub index: usize,
    /// Timestamp of that point, in milliseconds.
    pub timestamp_ms: i64,
}

/// The seasonal periods of `points`, strongest first.
///
/// A periodogram (Welch's method, from `augurs-seasons`) proposes the candidates up to a
/// third of the finite points (at most 16,384); each is refined to the number of points whose
/// cycle explains the most variance once a moving average over one cycle has removed the
/// trend (the periodogram's frequency grid is too coarse to tell 288 from 256 or 341). A
/// period is kept if its [`Period::strength`] is at least [`MIN_STRENGTH`] and it is not a
/// multiple of a shorter kept period that explains as much. White noise has none.
///
/// O(n log n) for the periodogram plus O(n) per refined length: tens of milliseconds for a
/// month of 5-minute points.
///
/// ```
/// use cqrs_obs::anomaly::batch::seasonal_periods;
/// const HOUR: i64 = 3_600_000;
/// // Two weeks of hourly points with a daily cycle.
/// let points: Vec<(i64, f64)> = (0..24 * 14)
///     .map(|h| (h * HOUR, if (9..17).contains(&(h % 24)) { 100.0 } else { 10.0 }))
///     .collect();
/// let periods = seasonal_periods(&points)?;
/// assert_eq!(periods[0].points, 24);
/// assert_eq!(periods[0].millis, 24 * HOUR);
/// assert!(periods[0].strength > 0.9);
/// # Ok::<(), cqrs_obs::anomaly::batch::BatchError>(())
/// ```
pub fn seasonal_periods(points: &[(i64, f64)]) -> Result<Vec<Period>, BatchError> {
    let (idx, v) = finite(points);
    check_len(v.len(), MIN_SEASON_POINTS)?;
    let step = median_step(points, &idx)?;
    let n = v.len();
    let longest = (n / 3).min(LONGEST);
    let gram = PeriodogramDetector::builder()
        .min_period(SHORTEST as u32)
        .max_period(longest as u32)
        .build()
        .periodogram(&v);
    // The periodogram lists periods from the longest down; its local maxima are the
    // candidates, each refined between its neighbours.
    let (per, pow) = (&gram.periods, &gram.powers);
    let mut peaks: Vec<(f64, usize, usize)> = (0..per.len().min(pow.len()))
        .filter(|&i| pow[i].is_finite() && pow[i] > 0.0)
        .filter(|&i| {
            (i == 0 || pow[i] >= pow[i - 1]) && (i + 1 >= pow.len() || pow[i] >= pow[i + 1])
        })
        .map(|i| {
            let hi = if i == 0 { longest } else { per[i - 1] as usize };
            let lo = per.get(i + 1).map_or(SHORTEST, |&p| p as usize);
            (pow[i], lo.max(SHORTEST), hi.min(longest))
        })
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut fold = Fold::new(&v);
    let mut found: Vec<(usize, f64)> = Vec::new();
    for &(_, lo, hi) in peaks.iter().take(CANDIDATES) {
        let best = (lo..=hi)
            .map(|p| (p, fold.strength(p)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((p, s)) = best.filter(|b| b.1 >= MIN_STRENGTH) {
            if !found.iter().any(|f| f.0 == p) {
                found.push((p, s));
            }
        }
    }
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // A multiple of a shorter period that explains as much adds nothing.
    let kept: Vec<(usize, f64)> = found
        .iter()
        .filter(|&&(p, s)| {
            !found
                .iter()
                .any(|&(q, t)| q < p && p % q == 0 && t + 0.05 >= s)
        })
        .copied()
        .collect();
    Ok(kept
        .into_iter()
        .map(|(points, strength)| Period {
            points,
            millis: step.saturating_mul(points as i64),
            strength,
        })
        .collect())
}

/// A [`Seasonal`] detector for the strongest period of `points` (one phase bin per point of
/// the cycle, at most 1,024), or `None` if the series has no period of at least
/// [`MIN_STRENGTH`]. Feed it the history (or let it learn from live points) before trusting
/// its verdicts.
///
/// [`Seasonal::detect_period`] needs no feature and is enough when you know roughly where the
/// period lies (a day, give or take) and the samples are regular: it scans the lags you give
/// for the first strong autocorrelation, O(n × lags). Prefer this function when the period is
/// unknown or long, when there may be several (daily and weekly), or when you want the
/// duration and a strength to decide whether a seasonal baseline is worth it at all.
///
/// ```
/// use cqrs_obs::anomaly::batch::suggest_seasonal;
/// use cqrs_obs::anomaly::Detector;
/// const MINUTE: i64 = 60_000;
/// // Four days of minutes with an hourly wave.
/// let points: Vec<(i64, f64)> = (0..60 * 24 * 4)
///     .map(|m| (m * MINUTE, 50.0 + 20.0 * (m as f64 * std::f64::consts::TAU / 60.0).sin()))
///     .collect();
/// let mut seasonal = suggest_seasonal(&points)?.expect("an hourly period");
/// assert_eq!(seasonal.period_ms(), 60 * MINUTE);
/// for &(ts, v) in &points {
///     seasonal.update(ts, v);
/// }
/// # Ok::<(), cqrs_obs::anomaly::batch::BatchError>(())
/// ```
pub fn suggest_seasonal(points: &[(i64, f64)]) -> Result<Option<Seasonal>, BatchError> {
    Ok(seasonal_periods(points)?
        .first()
        .map(|p| Seasonal::new(p.millis, p.points.min(MOST_BINS))))
}

/// The changepoints of `points`: where the level or the spread changes, by Bayesian online
/// changepoint detection (`augurs-changepoint`'s `NormalGammaDetector`, an expected run of
/// 250 points) over the values standardised by their median and median absolute deviation.
///
/// Each [`Changepoint`] is the first point of a new regime, in time order; the start of the
/// series is not one. A flat series has none. The model is a sequence of constant-level
/// Normal regimes, so a daily cycle is a change twice a day and a trend a staircase: use
/// [`deseasonalized_changepoints`] on a seasonal series. About O(n × 250) time.
///
/// ```
/// use cqrs_obs::anomaly::batch::changepoints;
/// let points: Vec<(i64, f64)> = (0..200)
///     .map(|i| (i * 1_000, if i < 120 { 10.0 } else { 30.0 } + (i % 3) as f64))
///     .collect();
/// let found = changepoints(&points)?;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].index, 120);
/// assert_eq!(found[0].timestamp_ms, 120_000);
/// # Ok::<(), cqrs_obs::anomaly::batch::BatchError>(())
/// ```
pub fn changepoints(points: &[(i64, f64)]) -> Result<Vec<Changepoint>, BatchError> {
    let (idx, v) = finite(points);
    check_len(v.len(), MIN_CHANGEPOINT_POINTS)?;
    Ok(detect(points, &idx, &v))
}

/// The changepoints of `points` once the cycle of `period` points is removed: each finite
/// point less the median of the points at its phase (its position modulo `period`), over the
/// spread at that phase (at least the typical spread of all phases), so a change is a
/// departure from what usually happens at that time of day, not the daily swing nor the
/// wobble of the busy hours.
/// Needs two cycles; `period` is typically [`Period::points`] from [`seasonal_periods`].
/// Otherwise as [`changepoints`].
///
/// ```
/// use cqrs_obs::anomaly::batch::deseasonalized_changepoints;
/// // Twelve cycles of 24 points; from point 200 on, every value is 50 higher.
/// let points: Vec<(i64, f64)> = (0..288)
///     .map(|i| {
///         let day = if (8..18).contains(&(i % 24)) { 100.0 } else { 10.0 };
///         (i * 1_000, day + if i >= 200 { 50.0 } else { 0.0 } + (i % 5) as f64)
///     })
///     .collect();
/// let found = deseasonalized_changepoints(&points, 24)?;
/// assert!(found.iter().any(|c| c.index.abs_diff(200) <= 2), "{found:?}");
/// # Ok::<(), cqrs_obs::anomaly::batch::BatchError>(())
/// ```
pub fn deseasonalized_changepoints(
    points: &[(i64, f64)],
    period: usize,
) -> Result<Vec<Changepoint>, BatchError> {
    let (idx, mut v) = finite(points);
    let period = period.max(1);
    check_len(
        v.len(),
        MIN_CHANGEPOINT_POINTS.max(period.saturating_mul(2)),
    )?;
    // The median and spread (median absolute deviation) of each phase.
    let mut phase = Vec::with_capacity(v.len() / period + 1);
    let mut profile: Vec<(f64, f64)> = (0..period)
        .map(|k| {
            phase.clear();
            phase.extend(v.iter().skip(k).step_by(period).copied());
            let m = median(&mut phase);
            phase.iter_mut().for_each(|x| *x = (*x - m).abs());
            (m, median(&mut phase))
        })
        .collect();
    // A phase's spread is at least the typical one, so that a phase that happens to repeat
    // exactly does not turn its least wobble into a change.
    let mut spreads: Vec<f64> = profile.iter().map(|p| p.1).collect();
    let typical = median(&mut spreads);
    profile.iter_mut().for_each(|p| p.1 = p.1.max(typical));
    v.iter_mut().enumerate().for_each(|(i, x)| {
        let (m, spread) = profile[i % period];
        *x = if spread > scale_floor(m) {
            (*x - m) / spread
        } else {
            *x - m
        };
    });
    Ok(detect(points, &idx, &v))
}

fn check_len(finite: usize, needed: usize) -> Result<(), BatchError> {
    if finite < needed {
        return Err(BatchError::TooShort { finite, needed });
    }
    Ok(())
}

/// The positions and values (clamped to ±1e100) of the finite points.
fn finite(points: &[(i64, f64)]) -> (Vec<usize>, Vec<f64>) {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1.is_finite())
        .map(|(i, p)| (i, p.1.clamp(-LARGEST, LARGEST)))
        .unzip()
}

/// The median of the positive steps between consecutive finite points.
fn median_step(points: &[(i64, f64)], idx: &[usize]) -> Result<i64, BatchError> {
    let mut steps: Vec<i64> = idx
        .windows(2)
        .filter_map(|w| points[w[1]].0.checked_sub(points[w[0]].0))
        .filter(|&s| s > 0)
        .collect();
    if steps.is_empty() {
        return Err(BatchError::NoTimeStep);
    }
    let mid = steps.len() / 2;
    Ok(*steps.select_nth_unstable(mid).1)
}

/// The median of `v` (reordered); 0 for an empty slice.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Runs the changepoint model over `v` (the finite values of `points` at `idx`).
fn detect(points: &[(i64, f64)], idx: &[usize], v: &[f64]) -> Vec<Changepoint> {
    let mut sorted = v.to_vec();
    let center = median(&mut sorted);
    sorted.iter_mut().for_each(|x| *x = (*x - center).abs());
    let mut scale = 1.4826 * median(&mut sorted);
    if scale <= scale_floor(center) {
        // More than half the points are equal: fall back on the standard deviation.
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        scale = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64).sqrt();
    }
    if !scale.is_finite() || scale <= scale_floor(center) {
        return Vec::new();
    }
    let z: Vec<f64> = v
        .iter()
        .map(|x| ((x - center) / scale).clamp(-LARGEST_Z, LARGEST_Z))
        .collect();
    let prior = NormalGamma::new_unchecked(0.0, 1.0, 1.0, 1.0);
    let mut model = NormalGammaDetector::normal_gamma(RUN_LENGTH, prior);
    // augurs reports the start (0) and, for each change, the last point of the old regime.
    let mut found: Vec<usize> = model
        .detect_changepoints(&z)
        .into_iter()
        .filter(|&c| c > 0)
        .map(|c| c + 1)
        .filter(|&c| c < idx.len())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
        .into_iter()
        .map(|c| Changepoint {
            index: idx[c],
            timestamp_ms: points[idx[c]].0,
        })
        .collect()
}

/// Scores candidate periods of one series, reusing its prefix sums and phase buffers.
struct Fold {
    /// The values less their mean.
    v: Vec<f64>,
    /// `prefix[i]` is the sum of the first `i` values.
    prefix: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<u32>,
}

impl Fold {
    fn new(values: &[f64]) -> Fold {
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let v: Vec<f64> = values.iter().map(|x| x - mean).collect();
        let mut prefix = Vec::with_capacity(v.len() + 1);
        prefix.push(0.0);
        for x in &v {
            prefix.push(prefix[prefix.len() - 1] + x);
        }
        Fold {
            v,
            prefix,
            sums: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// The share of variance the phase means of a `p`-point cycle explain in the series less
    /// its centred moving average over `p` points, corrected for the share expected in noise
    /// (`(p - 1) / (m - 1)` of `m` points); below 0 means no better than noise. Needs at least
    /// three cycles.
    fn strength(&mut self, p: usize) -> f64 {
        let n = self.v.len();
        if p < 2 || n < 3 * p {
            return f64::NEG_INFINITY;
        }
        let (h, m) = (p / 2, n - p + 1);
        self.sums.clear();
        self.sums.resize(p, 0.0);
        self.counts.clear();
        self.counts.resize(p, 0);
        let (mut total, mut squares) = (0.0, 0.0);
        for i in h..h + m {
            let d = self.v[i] - (self.prefix[i - h + p] - self.prefix[i - h]) / p as f64;
            self.sums[i % p] += d;
            self.counts[i % p] += 1;
            total += d;
            squares += d * d;
        }
        let mean = total / m as f64;
        let variance = squares / m as f64 - mean * mean;
        if !variance.is_finite() || variance <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let explained: f64 = self
            .sums
            .iter()
            .zip(&self.counts)
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| {
                let phase_mean = s / f64::from(c);
                f64::from(c) * (phase_mean - mean) * (phase_mean - mean)
            })
            .sum::<f64>()
            / m as f64;
        let raw = (explained / variance).min(1.0);
        let chance = (p - 1) as f64 / (m - 1) as f64;
        (raw - chance) / (1.0 - chance)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{level_shift, noise, Rng};
    use super::*;

    const FIVE_MINUTES: i64 = 300_000;
    const DAY: usize = 288;

    fn at_steps(values: &[f64], step: i64) -> Vec<(i64, f64)> {
        (0..)
            .map(|i| i * step)
            .zip(values.iter().copied())
            .collect()
    }

    /// Two weeks of 5-minute points with a daily sine of amplitude 10 and unit noise.
    fn daily_sine() -> Vec<(i64, f64)> {
        let mut rng = Rng::new(5);
        let v: Vec<f64> = (0..DAY * 14)
            .map(|i| {
                let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
                100.0 + 10.0 * phase.sin() + 2.0 * rng.normal()
            })
            .collect();
        at_steps(&v, FIVE_MINUTES)
    }

    #[test]
    fn finds_a_daily_period_in_five_minute_points() {
        let periods = seasonal_periods(&daily_sine()).unwrap();
        let top = periods[0];
        assert_eq!(top.points, 288, "{periods:?}");
        assert_eq!(top.millis, 86_400_000);
        assert!(top.strength > 0.8, "{periods:?}");
        let seasonal = suggest_seasonal(&daily_sine()).unwrap().unwrap();
        assert_eq!(seasonal.period_ms(), 86_400_000);
    }

    #[test]
    fn irregular_steps_and_gaps_keep_the_period() {
        let mut points = daily_sine();
        let mut rng = Rng::new(9);
        for (i, p) in points.iter_mut().enumerate() {
            p.0 += (rng.uniform() * 20_000.0) as i64;
            if i % 97 == 0 {
                p.1 = f64::NAN;
            }
        }
        let periods = seasonal_periods(&points).unwrap();
        // Every 97th point is skipped: the cycle is 285 finite points.
        assert!((284..=289).contains(&periods[0].points), "{periods:?}");
    }

    #[test]
    fn white_noise_has_no_strong_period() {
        for seed in [1, 2, 3] {
            let periods = seasonal_periods(&at_steps(&noise(4_000, seed), FIVE_MINUTES)).unwrap();
            assert!(periods.is_empty(), "seed {seed}: {periods:?}");
            let points = at_steps(&noise(4_000, seed), FIVE_MINUTES);
            assert!(suggest_seasonal(&points).unwrap().is_none());
        }
    }

    #[test]
    fn finds_a_level_shift() {
        let found = changepoints(&at_steps(&level_shift(1_200, 600, 4.0), 1_000)).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].index.abs_diff(600) <= 3, "{found:?}");
        assert_eq!(found[0].timestamp_ms, found[0].index as i64 * 1_000);
    }

    #[test]
    fn noise_and_a_flat_line_have_no_changepoint() {
        let found = changepoints(&at_steps(&noise(2_000, 4), 1_000)).unwrap();
        assert!(found.is_empty(), "{found:?}");
        assert!(changepoints(&at_steps(&[7.5; 1_000], 1_000))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn indices_count_skipped_points() {
        let mut points = at_steps(&level_shift(1_200, 600, 4.0), 1_000);
        points
            .iter_mut()
            .take(100)
            .for_each(|p| p.1 = f64::INFINITY);
        let found = changepoints(&points).unwrap();
        assert!(
            found.iter().any(|c| c.index.abs_diff(600) <= 3),
            "{found:?}"
        );
    }

    #[test]
    fn a_seasonal_series_changes_only_where_it_breaks() {
        let mut points = daily_sine();
        points[DAY * 9..].iter_mut().for_each(|p| p.1 += 8.0);
        let found = deseasonalized_changepoints(&points, DAY).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].index.abs_diff(DAY * 9) <= 5, "{found:?}");
        assert!(deseasonalized_changepoints(&daily_sine(), DAY)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hostile_input_is_an_error_or_empty() {
        let too_short =
            |r: Result<Vec<Period>, BatchError>| matches!(r, Err(BatchError::TooShort { .. }));
        assert!(too_short(seasonal_periods(&[])));
        assert!(too_short(seasonal_periods(&[(0, 1.0)])));
        assert!(matches!(
            changepoints(&[]),
            Err(BatchError::TooShort { finite: 0, .. })
        ));
        assert!(changepoints(&[(0, 1.0)]).is_err());
        assert!(deseasonalized_changepoints(&[(0, 1.0); 20], 0).is_ok());
        assert!(deseasonalized_changepoints(&[(0, 1.0); 20], 11).is_err());
        let nan: Vec<(i64, f64)> = (0..500).map(|i| (i, f64::NAN)).collect();
        assert!(too_short(seasonal_periods(&nan)));
        assert!(changepoints(&nan).is_err());
        let same_time: Vec<(i64, f64)> = (0..100).map(|i| (0, i as f64)).collect();
        assert_eq!(seasonal_periods(&same_time), Err(BatchError::NoTimeStep));
        let mut rng = Rng::new(17);
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            -f64::MAX,
            0.0,
            1e-300,
        ];
        for len in [8, 15, 16, 17, 31, 64, 257, 1_000] {
            let points: Vec<(i64, f64)> = (0..len)
                .map(|i| {
                    let r = rng.uniform();
                    let v = if r < 0.3 {
                        specials[(rng.uniform() * specials.len() as f64) as usize % specials.len()]
                    } else {
                        r * 100.0
                    };
                    let ts = [i as i64 * 1_000, i64::MAX - i as i64, i64::MIN + 5][i % 3];
                    (ts, v)
                })
                .collect();
            let _ = seasonal_periods(&points);
            let _ = suggest_seasonal(&points);
            let _ = changepoints(&points);
            let _ = deseasonalized_changepoints(&points, 7);
            let _ = deseasonalized_changepoints(&points, usize::MAX);
        }
    }
}
