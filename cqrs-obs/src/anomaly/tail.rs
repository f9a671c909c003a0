//! How rare a magnitude is for one series: a log-scale histogram of the magnitudes seen so
//! far, halved every so often so that it follows a changing series. The tail count is one
//! branch-free pass over the 64 bins (no data-dependent loop to mispredict).

/// Number of bins: a quarter octave each, from 2^-4 to 2^12.
const BINS: usize = 64;

/// The running distribution of a non-negative magnitude (264 bytes, inline).
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    counts: [u32; BINS],
    total: u32,
    /// Halve the counts when the total reaches this.
    horizon: u32,
}

impl Tail {
    pub(crate) fn new(horizon: u32) -> Tail {
        Tail {
            counts: [0; BINS],
            total: 0,
            horizon: horizon.max(16),
        }
    }

    /// Quarter-octave bin, `floor(4 log2 a) + 16`: the exponent from the float's bits, the
    /// quarter from comparing the mantissa with 2^(1/4), 2^(1/2) and 2^(3/4).
    #[inline]
    fn bin(a: f64) -> usize {
        if a.is_nan() || a <= 0.0 {
            return 0;
        }
        let bits = a.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
        let quarter = i64::from(m >= 1.189_207_115_002_721)
            + i64::from(m >= std::f64::consts::SQRT_2)
            + i64::from(m >= 1.681_792_830_507_429);
        (exponent * 4 + quarter + 16).clamp(0, BINS as i64 - 1) as usize
    }

    /// Points seen (after halvings).
    #[cfg(test)]
    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    /// The surprise of magnitude `a`: `-ln P(A >= a)` over the history, with the point itself
    /// counted (so a magnitude beyond everything seen scores `ln(n + 1)`).
    #[cfg(test)]
    pub(crate) fn surprise(&self, a: f64) -> f64 {
        self.surprise_in(Self::bin(a))
    }

    /// Learns magnitude `a`.
    #[cfg(test)]
    pub(crate) fn add(&mut self, a: f64) {
        self.add_in(Self::bin(a));
    }

    /// The surprise of magnitude `a` (as [`Tail::surprise`]), then learns it.
    #[inline]
    pub(crate) fn observe(&mut self, a: f64) -> f64 {
        let bin = Self::bin(a);
        let surprise = self.surprise_in(bin);
        self.add_in(bin);
        surprise
    }

    #[inline]
    fn surprise_in(&self, bin: usize) -> f64 {
        let at_or_above = self.total - self.below(bin);
        fast_ln(f64::from(self.total) + 1.0) - fast_ln(f64::from(at_or_above) + 1.0)
    }

    #[inline]
    fn add_in(&mut self, bin: usize) {
        self.counts[bin] += 1;
        self.total += 1;
        if self.total >= self.horizon {
            self.halve();
        }
    }

    /// Count of magnitudes in bins below `bin`: every bin is visited, so the loop vectorises.
    #[inline]
    fn below(&self, bin: usize) -> u32 {
        self.counts
            .iter()
            .enumerate()
            .map(|(b, c)| if b < bin { *c } else { 0 })
            .sum()
    }

    #[cold]
    fn halve(&mut self) {
        self.counts.iter_mut().for_each(|c| *c /= 2);
        self.total = self.counts.iter().sum();
    }
}

/// `ln(x)` for `x >= 1` within 2e-5 and increasing within an octave: the exponent from the
/// bits, then `ln(1 + m) = 2 atanh(m / (2 + m))` by its series to the 7th power (enough to
/// rank surprises; no libm call on the per-point path).
#[inline]
fn fast_ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000) - 1.0;
    let u = m / (2.0 + m);
    let u2 = u * u;
    let ln1p = 2.0 * u * (1.0 + u2 * (1.0 / 3.0 + u2 * (0.2 + u2 / 7.0)));
    exponent * std::f64::consts::LN_2 + ln1p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_magnitudes_are_more_surprising() {
        let mut t = Tail::new(1 << 20);
        for i in 0..1_000 {
            t.add((i % 10) as f64 * 0.1);
        }
        assert!(t.surprise(0.05) < 0.2);
        assert!(t.surprise(0.85) > 2.0);
        assert!((t.surprise(50.0) - (1_001f64).ln()).abs() < 1e-4);
        assert_eq!(Tail::bin(f64::NAN), 0);
        assert_eq!(Tail::bin(f64::INFINITY), BINS - 1);
    }

    #[test]
    fn fast_ln_is_close_and_increasing() {
        let mut previous = f64::NEG_INFINITY;
        for i in 1..200_000 {
            let x = i as f64 * 0.37 + 1.0;
            let got = fast_ln(x);
            assert!((got - x.ln()).abs() < 2e-5, "{x}: {got} vs {}", x.ln());
            assert!(got >= previous - 2e-5, "{x}");
            previous = got;
        }
    }

    #[test]
    fn halving_keeps_the_shape() {
        let mut t = Tail::new(100);
        for i in 0..1_000 {
            t.add(if i % 10 == 0 { 8.0 } else { 1.0 });
        }
        assert!(t.total() < 100);
        let p = (-t.surprise(8.0)).exp();
        assert!((0.05..0.2).contains(&p), "{p}");
    }
}
