//! The composite detector: every streaming detector on one series, combined into one score
//! with a confidence that shows its parts.
//!
//! Each detector's absolute deviation is ranked against that detector's own history on this
//! series (a log-scale histogram): the surprise `-ln P(|d| >= this)`. The
//! combination is half the strongest surprise, half the weighted mean (one detector alone can
//! alarm, agreement makes it easier), smoothed over `short` points; that value is ranked once
//! more against its own history, so a series that is always surprising needs more to alarm.
//! The result maps to a score in [0, 1]; a score at or above `alert` is reported, after which
//! the series is quiet for `refractory` points (one report per incident). Ranks do not see
//! magnitude, so a record `record` times beyond every earlier deviation scores at least `alert`
//! whatever its rank.

use serde::Serialize;

use super::detector::Detector;
use super::pattern::Pattern;
use super::robust::Shared;
use super::score::{clamp_input, finite, Severity, Verdict};
use super::seasonal::Seasonal;
use super::tail::Tails;
use super::threshold::Threshold;
use super::trend::Direction;

/// The detectors of a composite, in the order of [`CompositeConfig::weights`].
pub const PARTS: [&str; 6] = ["zscore", "iqr", "mad", "threshold", "seasonal", "pattern"];

/// The rank histogram of the combined value, after one per part.
const OVERALL: usize = PARTS.len();

/// `TENTHS[k]` is `k / 10` (the persistence of `k` unusual points among the last 10).
const TENTHS: [f64; 11] = {
    let mut t = [0.0; 11];
    let mut k = 0;
    while k <= 10 {
        t[k] = k as f64 / 10.0;
        k += 1;
    }
    t
};

/// How a composite is built. The default is the one configuration scored on the NAB
/// development subset (see the README); it is meant for any series.
///
/// ```
/// use cqrs_obs::anomaly::CompositeConfig;
/// let c = CompositeConfig { window: 50, ..CompositeConfig::default() };
/// assert_eq!(c.weights.len(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompositeConfig {
    /// Window of the z-score, IQR and MAD detectors.
    pub window: usize,
    /// Period of the seasonal detector in milliseconds (`None`: no seasonal detector).
    pub period_ms: Option<i64>,
    /// Phase bins of the seasonal detector.
    pub bins: usize,
    /// Weight of each detector ([`PARTS`] order). A detector of weight 0 is still run and
    /// reported among the parts, but takes no part in the score. By default the z-score has
    /// weight 0: its mean and standard deviation are dragged by the outliers it looks for,
    /// where IQR and MAD over the same window are not (on the NAB development subset the
    /// composite scores about one point higher without it).
    pub weights: [f64; 6],
    /// Share of the strongest detector in the combination (the rest is the weighted mean).
    pub strongest: f64,
    /// Points the combined surprise is averaged over.
    pub short: usize,
    /// Share of the combined surprise's own rank in the final value.
    pub self_rank: f64,
    /// Histogram counts are halved when they reach this (how far back "usual" reaches).
    pub horizon: u32,
    /// Score from which a point is reported as an anomaly.
    pub alert: f64,
    /// Points after a report during which the series stays quiet (scores halved).
    pub refractory: usize,
    /// Points before the composite scores at all.
    pub warmup: usize,
    /// During the quiet period, a point whose deviation is this many times the last
    /// report's is reported anyway.
    pub escalation: f64,
    /// A point whose deviation is this many times every earlier one's is extreme whatever
    /// its rank.
    pub record: f64,
    /// Which way is bad; deviations the other way are never unusual.
    pub direction: Direction,
    /// A point is unusual only if some detector puts it at least this many sigmas away: rank
    /// alone would call the largest value of plain noise unusual.
    pub min_deviation: f64,
    /// Factor applied to the combined value of a point below `min_deviation`.
    pub gate: f64,
}

impl Default for CompositeConfig {
    fn default() -> Self {
        CompositeConfig {
            window: 200,
            period_ms: Some(86_400_000),
            bins: 288,
            weights: [0.0, 1.0, 0.25, 1.0, 1.0, 1.0],
            strongest: 0.5,
            short: 2,
            self_rank: 0.6,
            horizon: 100_000,
            alert: 0.75,
            refractory: 150,
            warmup: 150,
            escalation: 5.0,
            record: 2.0,
            direction: Direction::Both,
            min_deviation: 4.0,
            gate: 0.5,
        }
    }
}

/// The parts of a composite verdict's confidence, each in [0, 1].
///
/// ```
/// use cqrs_obs::anomaly::Confidence;
/// let c = Confidence::default();
/// assert_eq!(c.value, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Confidence {
    /// The overall confidence: extremity, scaled by how much data backs it and raised by
    /// agreement and persistence.
    pub value: f64,
    /// How extreme the point is for this series (the score before damping).
    pub extremity: f64,
    /// How much history the detectors have (saturates after four warm-ups).
    pub data: f64,
    /// Share of the last 10 points that were unusual too.
    pub persistence: f64,
    /// Share of the detectors (by weight) that find the point unusual (3 sigmas or more).
    pub agreement: f64,
}

/// The composite's judgement of one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assessment {
    /// The combined score in [0, 1] (damped during the refractory period).
    pub score: f64,
    /// The severity (at least low when the point is unusual).
    pub severity: Severity,
    /// Whether this point is reported as a new anomaly.
    pub anomaly: bool,
    /// The confidence and its parts.
    pub confidence: Confidence,
    /// The combined signed deviation (weighted mean of the parts', in sigmas).
    pub deviation: f64,
    /// Each detector's verdict ([`PARTS`] order).
    pub parts: [Verdict; 6],
}

impl Assessment {
    const NONE: Assessment = Assessment {
        score: 0.0,
        severity: Severity::None,
        anomaly: false,
        confidence: Confidence {
            value: 0.0,
            extremity: 0.0,
            data: 0.0,
            persistence: 0.0,
            agreement: 0.0,
        },
        deviation: 0.0,
        parts: [Verdict::NONE; 6],
    };
}

/// Every detector on one series, combined (see the module documentation).
///
/// ```
/// use cqrs_obs::anomaly::{Composite, CompositeConfig};
/// let mut c = Composite::new(CompositeConfig::default());
/// let mut reported = 0;
/// for i in 0..3_000i64 {
///     let a = c.update(i * 60_000, 100.0 + (i * 7 % 11) as f64);
///     reported += usize::from(a.anomaly);
/// }
/// assert_eq!(reported, 0);
/// let a = c.update(3_000 * 60_000, 400.0);
/// assert!(a.anomaly && a.confidence.value > 0.5 && a.confidence.agreement > 0.5);
/// ```
#[derive(Debug, Clone)]
pub struct Composite {
    config: CompositeConfig,
    robust: Shared,
    threshold: Threshold,
    seasonal: Option<Seasonal>,
    pattern: Pattern,
    /// Effective weights ([`PARTS`] order; the seasonal one is 0 without a period).
    weights: [f64; 6],
    /// The weights of the signed parts: all but the pattern, whose distance has no sign (the
    /// direction comes from the others).
    signed_weights: [f64; 6],
    /// The parts of non-zero weight.
    active: [bool; 6],
    /// `1 / ` the sum of the weights, and of the signed weights.
    inv_weight: f64,
    inv_signed_weight: f64,
    /// The rank histograms: one per part, then the combined value's ([`OVERALL`]).
    tails: Tails<{ OVERALL + 1 }>,
    short: ShortMean,
    recent_unusual: u16,
    since_report: usize,
    reported_deviation: f64,
    /// The largest combined deviation seen, either way.
    largest_deviation: f64,
    seen: usize,
}

impl Composite {
    /// A composite with `config`.
    pub fn new(config: CompositeConfig) -> Composite {
        let mut weights = config.weights;
        if config.period_ms.is_none() {
            weights[4] = 0.0;
        }
        // The pattern's distance has no sign: the direction comes from the others.
        let mut signed_weights = weights;
        signed_weights[5] = 0.0;
        Composite {
            robust: Shared::new(config.window),
            threshold: Threshold::new(),
            seasonal: config.period_ms.map(|p| Seasonal::new(p, config.bins)),
            pattern: Pattern::new(),
            weights,
            signed_weights,
            active: weights.map(|w| w != 0.0),
            inv_weight: 1.0 / weights.iter().sum::<f64>().max(f64::MIN_POSITIVE),
            inv_signed_weight: 1.0 / signed_weights.iter().sum::<f64>().max(f64::MIN_POSITIVE),
            tails: Tails::new(config.horizon),
            short: ShortMean::new(config.short),
            recent_unusual: 0,
            since_report: usize::MAX,
            reported_deviation: 0.0,
            largest_deviation: 0.0,
            seen: 0,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CompositeConfig {
        &self.config
    }

    /// Scores one point with every detector, combines them, then learns from it. A NaN
    /// value is ignored.
    pub fn update(&mut self, timestamp_ms: i64, value: f64) -> Assessment {
        if clamp_input(value).is_none() {
            return Assessment::NONE;
        }
        let [zscore, iqr, mad] = self.robust.update(value);
        let parts = [
            zscore,
            iqr,
            mad,
            self.threshold.update(timestamp_ms, value),
            self.seasonal
                .as_mut()
                .map_or(Verdict::NONE, |s| s.update(timestamp_ms, value)),
            self.pattern.update(timestamp_ms, value),
        ];
        let norm = self.tails.norm();
        let (combined, deviation, agreement, largest) = self.combine(&parts, norm);
        let mut z = self.short.push_mean(combined);
        let own = self.tails.observe(OVERALL, z, norm);
        self.tails.advance();
        z = self.config.self_rank * own + (1.0 - self.config.self_rank) * z;
        self.seen += 1;
        let z = if largest >= self.config.min_deviation {
            z
        } else {
            z * self.config.gate
        };
        self.judge(z, deviation, agreement, parts)
    }

    /// The combined surprise, the weighted signed deviation, the agreeing weight share and
    /// the largest deviation of a weighted part.
    #[inline]
    fn combine(&mut self, parts: &[Verdict; 6], norm: f64) -> (f64, f64, f64, f64) {
        let magnitude = parts.map(|p| p.deviation.abs());
        // A part of weight 0 would add nothing: its rank is not even kept.
        let surprise = self.tails.observe_many(&magnitude, &self.active, norm);
        let (mut strongest, mut sum, mut signed, mut agree) = (0.0f64, 0.0, 0.0, 0.0);
        let mut largest = 0.0f64;
        for i in 0..PARTS.len() {
            let w = self.weights[i];
            largest = largest.max(if self.active[i] { magnitude[i] } else { 0.0 });
            strongest = strongest.max(w * surprise[i]);
            sum += w * surprise[i];
            signed += self.signed_weights[i] * parts[i].deviation;
            agree += if magnitude[i] >= 3.0 { w } else { 0.0 };
        }
        let share = self.config.strongest;
        (
            share * strongest + (1.0 - share) * sum * self.inv_weight,
            finite(signed * self.inv_signed_weight),
            agree * self.inv_weight,
            largest,
        )
    }

    fn judge(&mut self, z: f64, deviation: f64, agreement: f64, parts: [Verdict; 6]) -> Assessment {
        let cfg = &self.config;
        // z^2 / (z^2 + 9): 0.5 at 3, 0.75 at 5.2, and still ordered far beyond (no saturation
        // at 1.0, so thresholds can tell extremes apart).
        let scoring = self.seen > cfg.warmup;
        let mut extremity = if scoring && z > 0.0 {
            (z * z / (z * z + 9.0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Ranks do not see magnitude: a 3,000-sigma point ranks no higher than the largest
        // 100-sigma blip before it. A record far beyond every earlier deviation is extreme
        // whatever its rank.
        let size = deviation.abs();
        if scoring && size >= cfg.min_deviation.max(cfg.record * self.largest_deviation) {
            extremity = extremity.max(cfg.alert);
        }
        self.largest_deviation = self.largest_deviation.max(size);
        // Unusual the bad way: the other way is learned, never reported, and keeps no one quiet.
        let unusual = extremity >= cfg.alert && cfg.direction.is_bad(deviation);
        self.recent_unusual = (self.recent_unusual << 1) | u16::from(unusual);
        let quiet = self.since_report < cfg.refractory;
        self.since_report = self.since_report.saturating_add(1);
        // A much larger deviation than the last report's breaks the quiet: a big incident
        // right after a small one is news.
        let escalates = size >= cfg.escalation * self.reported_deviation;
        let anomaly = unusual && (!quiet || escalates);
        if anomaly {
            // A report starts the quiet period: one report per incident (a long incident is
            // reported again once the period is over).
            self.since_report = 0;
            self.reported_deviation = size;
        }
        let score = if quiet && !anomaly {
            extremity * 0.5
        } else {
            extremity
        };
        // Saturated after four warm-ups: no division per point from then on.
        let full_data = cfg.warmup.max(1).saturating_mul(4);
        let data = if self.seen >= full_data {
            1.0
        } else {
            self.seen as f64 / full_data as f64
        };
        let persistence = TENTHS[(self.recent_unusual & 0x3ff).count_ones() as usize];
        let value = extremity * data * (0.5 + 0.3 * agreement + 0.2 * persistence);
        Assessment {
            score,
            severity: if unusual {
                Severity::from_deviation(deviation).max(Severity::Low)
            } else {
                Severity::None
            },
            anomaly,
            confidence: Confidence {
                value: value.clamp(0.0, 1.0),
                extremity,
                data,
                persistence,
                agreement,
            },
            deviation,
            parts,
        }
    }

    /// Forgets everything learned.
    pub fn reset(&mut self) {
        *self = Composite::new(self.config.clone());
    }

    /// Bytes of state: the value and what its detectors own on the heap.
    pub fn memory_bytes(&self) -> usize {
        let heap = |d: &dyn Detector, inline: usize| d.memory_bytes() - inline;
        std::mem::size_of::<Self>()
            + self.robust.heap_bytes()
            + heap(&self.pattern, std::mem::size_of::<Pattern>())
            + self
                .seasonal
                .as_ref()
                .map_or(0, |s| heap(s, std::mem::size_of::<Seasonal>()))
            + self.short.heap_bytes()
    }
}

/// The mean of the last few values (the composite's smoothing): a plain sum over a handful
/// of slots, no running sums to refresh.
#[derive(Debug, Clone)]
struct ShortMean {
    slots: Box<[f64]>,
    next: usize,
    len: usize,
    /// `1 / len`, set when the length changes.
    per_value: f64,
}

impl ShortMean {
    fn new(points: usize) -> ShortMean {
        ShortMean {
            slots: vec![0.0; points.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
            per_value: 0.0,
        }
    }

    /// Adds `value` (finite) and returns the mean of the last values, `value` included.
    #[inline]
    fn push_mean(&mut self, value: f64) -> f64 {
        self.slots[self.next] = value;
        self.next = if self.next + 1 == self.slots.len() {
            0
        } else {
            self.next + 1
        };
        if self.len < self.slots.len() {
            self.len += 1;
            self.per_value = 1.0 / self.len as f64;
        }
        self.slots[..self.len].iter().sum::<f64>() * self.per_value
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn feed(values: &[f64]) -> Vec<(usize, Assessment)> {
        let mut c = Composite::new(CompositeConfig::default());
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i, c.update(i as i64 * STEP_MS, *v)))
            .filter(|(_, a)| a.anomaly)
            .collect()
    }

    #[test]
    fn reports_a_spike_once_with_its_parts() {
        let found = feed(&spike(3_000, 2_500, 15.0));
        // Once: not again while the spike is in the windows. Elsewhere the series is white
        // noise, held to the rate of the noise test below (at most two in 5,000 points); its
        // 3.4-sigma point at 2,762 is where such a report may land.
        let spikes: Vec<_> = found
            .iter()
            .filter(|(i, _)| (2_500..2_600).contains(i))
            .collect();
        assert_eq!(spikes.len(), 1, "{found:?}");
        assert!(found.len() - spikes.len() <= 1, "{found:?}");
        let (i, a) = *spikes[0];
        assert_eq!(i, 2_500);
        assert!(a.confidence.agreement >= 0.5, "{a:?}");
        assert!(
            a.confidence.data == 1.0 && a.confidence.value > 0.5,
            "{a:?}"
        );
        assert!(a.deviation > 3.0 && a.severity >= Severity::High, "{a:?}");
    }

    #[test]
    fn reports_a_level_shift_and_a_variance_change() {
        let found = feed(&level_shift(3_000, 2_000, 10.0));
        assert!(
            found
                .first()
                .is_some_and(|(i, _)| (2_000..2_005).contains(i)),
            "{found:?}"
        );
        let found = feed(&variance_change(3_000, 2_000, 8.0));
        assert!(
            found
                .first()
                .is_some_and(|(i, _)| (2_000..2_100).contains(i)),
            "{found:?}"
        );
        assert!(found.iter().all(|(i, _)| *i >= 2_000), "{found:?}");
    }

    #[test]
    fn a_record_far_beyond_every_earlier_blip_is_reported_whatever_its_rank() {
        // Noise with a 60-sigma blip every 100 points: by rank, every blip is as unusual as
        // the largest value seen, and so is a 2,000-sigma incident right after one of them.
        let mut values = noise(3_000, 5);
        for i in (300..3_000).step_by(100) {
            values[i] += 60.0;
        }
        values[2_950] += 2_000.0;
        let run = |record: f64| {
            let mut c = Composite::new(CompositeConfig {
                record,
                ..CompositeConfig::default()
            });
            let found: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i, c.update(i as i64 * STEP_MS, *v)))
                .filter(|(_, a)| a.anomaly)
                .collect();
            found
        };
        let found = run(CompositeConfig::default().record);
        let incident = found.iter().find(|(i, _)| *i == 2_950);
        assert!(
            incident.is_some_and(|(_, a)| a.severity == Severity::Critical),
            "{found:?}"
        );
        assert!(
            !run(f64::INFINITY).iter().any(|(i, _)| *i == 2_950),
            "ranks alone miss it"
        );
    }

    #[test]
    fn a_flat_line_raises_nothing_and_noise_next_to_nothing() {
        assert!(feed(&[7.0; 3_000]).is_empty());
        // White noise has its 4-sigma points (one in 16,000 per detector, six detectors):
        // at most two reports in 5,000 points.
        for seed in [1, 2, 99] {
            let found = feed(&noise(5_000, seed));
            assert!(found.len() <= 2, "{found:?}");
        }
    }

    #[test]
    fn state_is_bounded_and_stated() {
        let c = Composite::new(CompositeConfig::default());
        let bytes = c.memory_bytes();
        assert!((8_000..20_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn survives_hostile_input() {
        let mut c = Composite::new(CompositeConfig::default());
        for (i, v) in [f64::NAN, f64::INFINITY, f64::MAX, -1e300, 0.0, 1.0]
            .iter()
            .cycle()
            .take(2_000)
            .enumerate()
        {
            let a = c.update(i as i64 * [0, 1, -5][i % 3], *v);
            assert!(
                (0.0..=1.0).contains(&a.score) && a.deviation.is_finite(),
                "{a:?}"
            );
            assert!((0.0..=1.0).contains(&a.confidence.value), "{a:?}");
        }
    }
}
