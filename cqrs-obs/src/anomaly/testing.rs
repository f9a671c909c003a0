//! Synthetic series and checks shared by the detectors' unit tests.

use super::detector::Detector;
use super::score::Severity;

/// A small deterministic generator (xorshift64*) with normal draws (Box-Muller).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Unit noise around 100.
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| 100.0 + rng.normal()).collect()
}

/// Noise with one spike of `height` standard deviations at `at`.
pub(crate) fn spike(n: usize, at: usize, height: f64) -> Vec<f64> {
    let mut v = noise(n, 7);
    v[at] += height;
    v
}

/// Noise whose level moves up by `by` standard deviations from `at` on.
pub(crate) fn level_shift(n: usize, at: usize, by: f64) -> Vec<f64> {
    let mut v = noise(n, 11);
    v[at..].iter_mut().for_each(|x| *x += by);
    v
}

/// Noise whose standard deviation is multiplied by `factor` from `at` on.
pub(crate) fn variance_change(n: usize, at: usize, factor: f64) -> Vec<f64> {
    let mut v = noise(n, 13);
    v[at..]
        .iter_mut()
        .for_each(|x| *x = 100.0 + (*x - 100.0) * factor);
    v
}

/// Minutes-spaced timestamps in milliseconds.
pub(crate) const STEP_MS: i64 = 60_000;

/// Indices whose verdict is at least [`Severity::High`].
pub(crate) fn run(d: &mut dyn Detector, values: &[f64]) -> Vec<usize> {
    run_at(d, values, Severity::High)
}

/// Indices whose verdict is at least `level`.
pub(crate) fn run_at(d: &mut dyn Detector, values: &[f64], level: Severity) -> Vec<usize> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let verdict = d.update(i as i64 * STEP_MS, *v);
            (verdict.severity >= level).then_some(i)
        })
        .collect()
}

/// Feeds NaN, infinities, huge and constant values, repeated and backward timestamps: every
/// verdict stays in range.
pub(crate) fn hostile(d: &mut dyn Detector) {
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        1e300,
        -1e300,
        0.0,
        f64::MIN_POSITIVE,
        1.0,
    ];
    let mut ts = 0i64;
    for round in 0..400usize {
        let v = specials[round % specials.len()];
        ts += [0, 60_000, -30_000, 3_600_000][round % 4];
        check(d.update(ts, v));
        check(d.update(ts, 42.0));
    }
    for i in 0..300 {
        check(d.update(i, 1.0));
    }
    check(d.update(301, f64::MAX));
    check(d.update(302, 1.0));
}

fn check(v: super::score::Verdict) {
    assert!((0.0..=1.0).contains(&v.score()), "{v:?}");
    assert!(v.deviation.is_finite(), "{v:?}");
}
