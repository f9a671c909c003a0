//! How rare a magnitude is for one series: a log-scale histogram of the magnitudes seen so
//! far, halved every so often so that it follows a changing series.

/// Number of bins: a quarter octave each, from 2^-4 to 2^12.
const BINS: usize = 64;
/// Bins per group.
const GROUP: usize = 8;
/// `MASKS[w]`: all ones in the first `w` lanes, zero in the others.
const MASKS: [[u32; GROUP]; GROUP + 1] = {
    let mut masks = [[0u32; GROUP]; GROUP + 1];
    let mut w = 0;
    while w <= GROUP {
        let mut i = 0;
        while i < w {
            masks[w][i] = u32::MAX;
            i += 1;
        }
        w += 1;
    }
    masks
};

/// The running distributions of `K` non-negative magnitudes observed together, one point at
/// a time (the composite's six detectors and its combined value): one histogram each and one
/// shared count of points, so the normaliser `ln(n + 1)` of every surprise is one logarithm
/// per point rather than a division per magnitude. About 300 bytes per magnitude, inline.
#[derive(Debug, Clone)]
pub(crate) struct Tails<const K: usize> {
    hists: [Histogram; K],
    /// Points seen (after halvings).
    total: u32,
    /// Halve the counts when the total reaches this.
    horizon: u32,
}

impl<const K: usize> Tails<K> {
    pub(crate) fn new(horizon: u32) -> Tails<K> {
        Tails {
            hists: std::array::from_fn(|_| Histogram::new()),
            total: 0,
            horizon: horizon.max(16),
        }
    }

    /// The normaliser of this point's surprises: `ln(n + 1)` for the `n` points seen, the
    /// point itself counted.
    #[inline(always)]
    pub(crate) fn norm(&self) -> f64 {
        fast_ln(f64::from(self.total) + 1.0)
    }

    /// The surprise of magnitude `a` for distribution `k` at this point, `-ln P(A >= a)`
    /// over the history with the point itself counted (so a magnitude beyond everything seen
    /// scores `ln(n + 1)`), then learns it. `norm` is [`Tails::norm`]; call
    /// [`Tails::advance`] once every distribution has its magnitude.
    #[inline(always)]
    pub(crate) fn observe(&mut self, k: usize, a: f64, norm: f64) -> f64 {
        norm - fast_ln(f64::from(self.count_then_learn(k, a)) + 1.0)
    }

    /// How many magnitudes of distribution `k` are at or above `a`, before `a` is learned.
    #[inline(always)]
    fn count_then_learn(&mut self, k: usize, a: f64) -> u32 {
        let hist = &mut self.hists[k];
        let bin = bin(a);
        let at_or_above = self.total - hist.below(bin);
        hist.add_in(bin);
        at_or_above
    }

    /// [`Tails::observe`] for the first `N` distributions at once, those marked in `active`
    /// (the others score 0 and learn nothing): the tail counts first, then every logarithm
    /// in one pass over an array, which the compiler vectorises.
    #[inline(always)]
    pub(crate) fn observe_many<const N: usize>(
        &mut self,
        a: &[f64; N],
        active: &[bool; N],
        norm: f64,
    ) -> [f64; N] {
        let mut at_or_above = [self.total; N];
        for (k, ((count, a), on)) in at_or_above.iter_mut().zip(a).zip(active).enumerate() {
            if *on {
                *count = self.count_then_learn(k, *a);
            }
        }
        let mut surprise = [0.0; N];
        for ((s, count), on) in surprise.iter_mut().zip(at_or_above).zip(active) {
            let ln = norm - fast_ln(f64::from(count) + 1.0);
            *s = if *on { ln } else { 0.0 };
        }
        surprise
    }

    /// Counts the point every distribution has just observed.
    #[inline(always)]
    pub(crate) fn advance(&mut self) {
        self.total += 1;
        if self.total >= self.horizon {
            self.halve();
        }
    }

    /// Halves every count. The total halves too: the counts lost to rounding (at most one
    /// per bin) then read as "at or above" any magnitude, a slightly lower surprise.
    #[cold]
    fn halve(&mut self) {
        self.hists.iter_mut().for_each(Histogram::halve);
        self.total /= 2;
    }

    /// The surprise of magnitude `a` for distribution `k`, without learning it.
    #[cfg(test)]
    pub(crate) fn surprise(&self, k: usize, a: f64) -> f64 {
        let at_or_above = self.total - self.hists[k].below(bin(a));
        self.norm() - fast_ln(f64::from(at_or_above) + 1.0)
    }

    /// Learns one point's magnitudes.
    #[cfg(test)]
    pub(crate) fn learn(&mut self, a: [f64; K]) {
        let norm = self.norm();
        for (k, a) in a.into_iter().enumerate() {
            self.observe(k, a, norm);
        }
        self.advance();
    }

    /// Points seen (after halvings).
    #[cfg(test)]
    pub(crate) fn total(&self) -> u32 {
        self.total
    }
}

/// Quarter-octave bin, `floor(4 log2 a) + 16`: the exponent of `a^4` read from its bits
/// (no comparison, no branch). NaN and negative magnitudes go to the first bin, magnitudes
/// whose fourth power overflows to the last.
#[inline(always)]
fn bin(a: f64) -> usize {
    let a2 = a.max(0.0) * a.max(0.0);
    let exponent = ((a2 * a2).to_bits() >> 52) as i64 - 1023;
    (exponent + 16).clamp(0, BINS as i64 - 1) as usize
}

/// One magnitude's histogram. The count below each group of eight bins is kept as well, so
/// a tail count is one read plus a masked sum of eight (no data-dependent loop to mispredict).
#[derive(Debug, Clone)]
struct Histogram {
    counts: [u32; BINS],
    /// `below_group[g]`: the count of all bins before group `g` of [`GROUP`] bins.
    below_group: [u32; BINS / GROUP],
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: [0; BINS],
            below_group: [0; BINS / GROUP],
        }
    }

    #[inline(always)]
    fn add_in(&mut self, bin: usize) {
        self.counts[bin] += 1;
        let group = bin / GROUP;
        // Every later group has one more below it: eight lanes added, no branch.
        for (c, up_to) in self.below_group.iter_mut().zip(&MASKS[group + 1]) {
            *c += 1 & !up_to;
        }
    }

    /// Count of magnitudes in bins below `bin`: the count below its group, plus the bins
    /// below it in its group (all eight summed under a mask, so it vectorises).
    #[inline(always)]
    fn below(&self, bin: usize) -> u32 {
        let (group, within) = (bin / GROUP, bin % GROUP);
        let bins: &[u32; GROUP] = self.counts[group * GROUP..][..GROUP]
            .try_into()
            .expect("a group of bins");
        let mask = &MASKS[within];
        let inside: u32 = bins.iter().zip(mask).map(|(c, m)| c & m).sum();
        self.below_group[group] + inside
    }

    fn halve(&mut self) {
        self.counts.iter_mut().for_each(|c| *c /= 2);
        let mut below = 0;
        for (g, bins) in self
            .below_group
            .iter_mut()
            .zip(self.counts.chunks_exact(GROUP))
        {
            *g = below;
            below += bins.iter().sum::<u32>();
        }
    }
}

/// `ln(x)` for `x >= 1` within 1e-7 and increasing: the exponent from the bits, then
/// `ln(1 + m)` for the mantissa's `m` in [0, 1) by a degree-8 polynomial (the Chebyshev
/// interpolant, error below 4e-8, increasing on [0, 1]), evaluated in pairs (Estrin's scheme)
/// so the terms overlap. Enough to rank surprises; no libm call and no division on the
/// per-point path.
#[inline]
fn fast_ln(x: f64) -> f64 {
    const C: [f64; 9] = [
        3.910_905_534_824_542e-8,
        0.999_993_630_258_541_2,
        -0.499_825_498_643_978_5,
        0.331_446_652_247_246_73,
        -0.239_433_370_760_755_3,
        0.164_998_129_865_575_55,
        -0.092_290_417_418_034_16,
        0.034_264_599_978_866_286,
        -0.006_006_605_056_762_105,
    ];
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000) - 1.0;
    let m2 = m * m;
    let m4 = m2 * m2;
    let low = (C[0] + C[1] * m) + (C[2] + C[3] * m) * m2;
    let high = (C[4] + C[5] * m) + (C[6] + C[7] * m) * m2;
    let ln1p = low + (high + C[8] * m4) * m4;
    exponent * std::f64::consts::LN_2 + ln1p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_magnitudes_are_more_surprising() {
        let mut t = Tails::<1>::new(1 << 20);
        for i in 0..1_000 {
            t.learn([(i % 10) as f64 * 0.1]);
        }
        assert!(t.surprise(0, 0.05) < 0.2);
        assert!(t.surprise(0, 0.85) > 2.0);
        assert!((t.surprise(0, 50.0) - (1_001f64).ln()).abs() < 1e-4);
        assert_eq!(bin(f64::NAN), 0);
        assert_eq!(bin(f64::INFINITY), BINS - 1);
    }

    #[test]
    fn fast_ln_is_close_and_increasing() {
        let mut previous = f64::NEG_INFINITY;
        for i in 1..200_000 {
            let x = i as f64 * 0.37 + 1.0;
            let got = fast_ln(x);
            assert!((got - x.ln()).abs() < 1e-7, "{x}: {got} vs {}", x.ln());
            assert!(got >= previous, "{x}");
            previous = got;
        }
    }

    #[test]
    fn tail_counts_match_a_plain_sum() {
        let mut t = Tails::<2>::new(500);
        let mut x = 0.37f64;
        for i in 0..3_000 {
            x = (x * 3.9 * (1.0 - x)).clamp(1e-6, 1.0 - 1e-6);
            t.learn([x * 2f64.powi(i % 20 - 6), x]);
            for h in &t.hists {
                for bin in 0..BINS {
                    assert_eq!(h.below(bin), h.counts[..bin].iter().sum::<u32>(), "{bin}");
                }
                // Halving rounds each bin down: the total may exceed the counts by a bin's worth.
                let counted = h.counts.iter().sum::<u32>();
                assert!(counted <= t.total && t.total - counted <= BINS as u32);
            }
        }
    }

    #[test]
    fn halving_keeps_the_shape() {
        let mut t = Tails::<1>::new(100);
        for i in 0..1_000 {
            t.learn([if i % 10 == 0 { 8.0 } else { 1.0 }]);
        }
        assert!(t.total() < 100);
        let p = (-t.surprise(0, 8.0)).exp();
        assert!((0.05..0.2).contains(&p), "{p}");
    }
}
