//! What every detector returns: a score in [0, 1], a severity and the signed deviation behind
//! them, plus the numeric helpers that map a deviation to a score without ever producing NaN.

use serde::Serialize;

/// How bad an anomaly is, from the deviation behind its score.
///
/// ```
/// use cqrs_obs::anomaly::Severity;
/// assert!(Severity::Critical > Severity::Low);
/// assert_eq!(Severity::from_deviation(4.7), Severity::High);
/// assert_eq!("medium".parse::<Severity>(), Ok(Severity::Medium));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Nothing unusual.
    #[default]
    None,
    /// Unusual (about 3 standard deviations).
    Low,
    /// Clearly unusual (about 3.5).
    Medium,
    /// Far out (about 4.5).
    High,
    /// Extreme (6 or more, or a hard limit crossed).
    Critical,
}

impl Severity {
    /// Severity of a deviation measured in standard deviations of a normal distribution.
    #[inline]
    pub fn from_deviation(sigmas: f64) -> Severity {
        // The thresholds passed, counted without branches: a series that hovers about one of
        // them would make a chain of branches mispredict.
        let d = sigmas.abs();
        let passed = [3.0, 3.5, 4.5, 6.0]
            .iter()
            .map(|t| u8::from(d >= *t))
            .sum::<u8>();
        match passed {
            0 => Severity::None,
            1 => Severity::Low,
            2 => Severity::Medium,
            3 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// The lowercase name used in labels and on the admin endpoint.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown severity name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}` (expected none, low, medium, high or critical)")]
pub struct ParseSeverityError(pub String);

impl std::str::FromStr for Severity {
    type Err = ParseSeverityError;

    fn from_str(s: &str) -> Result<Severity, ParseSeverityError> {
        Ok(match s {
            "none" => Severity::None,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            other => return Err(ParseSeverityError(other.to_owned())),
        })
    }
}

/// One detector's judgement of one point.
///
/// The score is computed when asked for ([`Verdict::score`]), from the deviation and the
/// severity: a composite runs six detectors per point and reads only their deviations.
///
/// ```
/// use cqrs_obs::anomaly::{Severity, Verdict};
/// let v = Verdict::from_deviation(-5.0);
/// assert!(v.score() > 0.99 && v.score() <= 1.0);
/// assert_eq!(v.severity, Severity::High);
/// assert!(v.deviation < 0.0);
/// assert_eq!(Verdict::NONE.score(), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The severity.
    pub severity: Severity,
    /// The signed deviation from what was expected, in (robust) standard deviations; positive
    /// when the value is above the expectation. Always finite.
    pub deviation: f64,
}

impl Verdict {
    /// Not anomalous (also what detectors return while they learn, or for a non-finite value).
    pub const NONE: Verdict = Verdict {
        severity: Severity::None,
        deviation: 0.0,
    };

    /// The verdict for a deviation in standard deviations, its severity from
    /// [`Severity::from_deviation`].
    #[inline]
    pub fn from_deviation(deviation: f64) -> Verdict {
        let d = finite(deviation);
        Verdict {
            severity: Severity::from_deviation(d),
            deviation: d,
        }
    }

    /// How anomalous, in [0, 1], never NaN: `erf(|d| / sqrt 2)` for the deviation `d` (the
    /// probability mass of a normal distribution closer to the mean than `d`), and 1 for a
    /// critical verdict (a hard limit crossed counts as certain whatever its deviation).
    #[inline]
    pub fn score(&self) -> f64 {
        if self.severity == Severity::Critical {
            1.0
        } else {
            sigma_score(self.deviation)
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Verdict", 3)?;
        s.serialize_field("score", &self.score())?;
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("deviation", &self.deviation)?;
        s.end()
    }
}

/// Largest magnitude a detector stores: squares and sums of a window stay finite.
pub(crate) const MAX_MAGNITUDE: f64 = 1e150;
/// Largest deviation reported.
pub(crate) const MAX_DEVIATION: f64 = 1e6;

/// Clamps a value into what detectors store (`None` for NaN).
#[inline]
pub(crate) fn clamp_input(value: f64) -> Option<f64> {
    if value.is_nan() {
        None
    } else {
        Some(value.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE))
    }
}

/// A finite deviation: NaN becomes 0, infinities the largest deviation.
#[inline]
pub(crate) fn finite(d: f64) -> f64 {
    if d.is_nan() {
        0.0
    } else {
        d.clamp(-MAX_DEVIATION, MAX_DEVIATION)
    }
}

/// `erf(|d| / sqrt 2)` in [0, 1] (Abramowitz and Stegun 7.1.28, absolute error below 3e-7):
/// `1 - 1 / (1 + a1 x + ... + a6 x^6)^16`, a polynomial with positive coefficients (so the
/// score only grows with `|d|`), four squarings and one division. No `exp`, no branch: every
/// detector scores every point with it.
#[inline]
pub(crate) fn sigma_score(d: f64) -> f64 {
    const A: [f64; 6] = [
        0.070_523_078_4,
        0.042_282_012_3,
        0.009_270_527_2,
        0.000_152_014_3,
        0.000_276_567_2,
        0.000_043_063_8,
    ];
    // Beyond 1e6 sigmas the 16th power would overflow to infinity, which still gives 1.
    let x = finite(d).abs() * std::f64::consts::FRAC_1_SQRT_2;
    let x2 = x * x;
    let x4 = x2 * x2;
    let p = (1.0 + A[0] * x) + (A[1] + A[2] * x) * x2 + ((A[3] + A[4] * x) + A[5] * x2) * x4;
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    (1.0 - 1.0 / (p8 * p8)).clamp(0.0, 1.0)
}

/// The standard normal's upper tail `Q(z) = P(Z > z)` at full double precision (series below
/// 3, continued fraction above), for scoring and for the reference detectors of benchmarks.
///
/// ```
/// let q = cqrs_obs::anomaly::normal_tail(1.959_963_984_540_054);
/// assert!((q - 0.025).abs() < 1e-15);
/// assert_eq!(cqrs_obs::anomaly::normal_tail(0.0), 0.5);
/// ```
pub fn normal_tail(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z < 0.0 {
        return 1.0 - normal_tail(-z);
    }
    0.5 * erfc(z * std::f64::consts::FRAC_1_SQRT_2)
}

/// `erfc(x)` for `x >= 0`.
fn erfc(x: f64) -> f64 {
    if x < 2.5 {
        // erf(x) = 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1} / (1*3*...*(2n+1)): positive terms.
        let mut term = x;
        let mut sum = x;
        let mut n = 0.0;
        while term > sum * 1e-17 {
            n += 1.0;
            term *= 2.0 * x * x / (2.0 * n + 1.0);
            sum += term;
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
    } else {
        // Continued fraction erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ..)))),
        // evaluated with the modified Lentz method.
        let tiny = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..200 {
            let a = k as f64 * 0.5;
            d = x + a * d;
            d = if d == 0.0 { tiny } else { d };
            c = x + a / c;
            c = if c == 0.0 { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_the_thresholds_on_either_side() {
        let cases = [
            (0.0, Severity::None),
            (2.999, Severity::None),
            (3.0, Severity::Low),
            (3.499, Severity::Low),
            (3.5, Severity::Medium),
            (4.499, Severity::Medium),
            (4.5, Severity::High),
            (5.999, Severity::High),
            (6.0, Severity::Critical),
            (1e300, Severity::Critical),
            (f64::INFINITY, Severity::Critical),
        ];
        for (sigmas, severity) in cases {
            assert_eq!(Severity::from_deviation(sigmas), severity, "{sigmas}");
            assert_eq!(Severity::from_deviation(-sigmas), severity, "-{sigmas}");
        }
        assert_eq!(Severity::from_deviation(f64::NAN), Severity::None);
    }

    #[test]
    fn normal_tail_matches_known_values() {
        let cases = [
            (1.0, 0.158_655_253_931_457_05),
            (2.0, 0.022_750_131_948_179_21),
            (3.0, 0.001_349_898_031_630_094_6),
            (4.0, 3.167_124_183_311_992e-5),
            (6.0, 9.865_876_450_376_98e-10),
            (10.0, 7.619_853_024_160_527e-24),
        ];
        for (z, q) in cases {
            let got = normal_tail(z);
            assert!((got - q).abs() <= q * 1e-12, "Q({z}) = {got}, expected {q}");
        }
        assert!(normal_tail(40.0) >= 0.0);
    }

    #[test]
    fn sigma_score_is_close_to_the_exact_one() {
        for i in 0..200 {
            let d = i as f64 * 0.05;
            let exact = 1.0 - 2.0 * normal_tail(d);
            assert!((sigma_score(d) - exact).abs() < 3e-7, "{d}");
        }
        assert_eq!(sigma_score(f64::NAN), 0.0);
        assert_eq!(sigma_score(0.0), 0.0);
        let mut previous = 0.0;
        for i in 0..20_000 {
            let d = i as f64 * 1e-3;
            let s = sigma_score(d);
            assert!(s >= previous && s <= 1.0, "{d}");
            previous = s;
        }
        assert_eq!(sigma_score(f64::INFINITY), 1.0);
    }
}
