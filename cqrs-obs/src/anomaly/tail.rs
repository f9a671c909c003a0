//! How rare a magnitude is for one series: a log-scale histogram of the magnitudes seen so
//! far (a Fenwick tree, so both the update and the tail count are O(log bins)), halved every
//! so often so that it follows a changing series.

/// Number of bins: a quarter octave each, from 2^-4 to 2^12.
const BINS: usize = 64;

/// The running distribution of a non-negative magnitude.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    tree: [u32; BINS + 1],
    total: u32,
    /// Halve the counts when the total reaches this.
    horizon: u32,
}

impl Tail {
    pub(crate) fn new(horizon: u32) -> Tail {
        Tail {
            tree: [0; BINS + 1],
            total: 0,
            horizon: horizon.max(16),
        }
    }

    #[inline]
    fn bin(a: f64) -> usize {
        if a.is_nan() || a <= 0.0 {
            return 0;
        }
        let b = (a.log2() * 4.0).floor() + 16.0;
        b.clamp(0.0, (BINS - 1) as f64) as usize
    }

    /// Points seen (after halvings).
    #[cfg(test)]
    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    /// The surprise of magnitude `a`: `-ln P(A >= a)` over the history, with the point itself
    /// counted (so a magnitude beyond everything seen scores `ln(n + 1)`).
    #[inline]
    pub(crate) fn surprise(&self, a: f64) -> f64 {
        let below = self.prefix(Self::bin(a));
        let at_or_above = self.total - below;
        let p = (f64::from(at_or_above) + 1.0) / (f64::from(self.total) + 1.0);
        -p.ln()
    }

    /// Learns magnitude `a`.
    #[inline]
    pub(crate) fn add(&mut self, a: f64) {
        let mut i = Self::bin(a) + 1;
        while i <= BINS {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
        self.total += 1;
        if self.total >= self.horizon {
            self.halve();
        }
    }

    /// Count of magnitudes in bins below `bin`.
    #[inline]
    fn prefix(&self, bin: usize) -> u32 {
        let mut i = bin;
        let mut s = 0;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    fn halve(&mut self) {
        // Rebuild from the per-bin counts, halved.
        let mut counts = [0u32; BINS];
        for (b, c) in counts.iter_mut().enumerate() {
            *c = (self.prefix(b + 1) - self.prefix(b)) / 2;
        }
        self.tree = [0; BINS + 1];
        self.total = 0;
        for (b, c) in counts.iter().enumerate() {
            let mut i = b + 1;
            while i <= BINS {
                self.tree[i] += c;
                i += i & i.wrapping_neg();
            }
            self.total += c;
        }
    }
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
        assert!((t.surprise(50.0) - (1_001f64).ln()).abs() < 1e-9);
        assert_eq!(Tail::bin(f64::NAN), 0);
        assert_eq!(Tail::bin(f64::INFINITY), BINS - 1);
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
