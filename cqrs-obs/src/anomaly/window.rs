//! Fixed-capacity windows the detectors share: a ring of the last `w` values with running
//! moments (O(1) per point), and a sorted copy of it for quantiles (O(log w) search plus a
//! bounded `memmove`). Both allocate once, at construction.

/// The last `capacity` values, oldest first, with their sum and sum of squares.
///
/// The sums are kept relative to a shift (the first value seen) to limit cancellation and
/// are recomputed from the ring once per `capacity` points, so rounding never accumulates.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    head: usize,
    len: usize,
    shift: f64,
    sum: f64,
    sum_sq: f64,
    since_refresh: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Ring {
        Ring {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
            shift: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            since_refresh: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The capacity (the window length).
    pub(crate) fn capacity_hint(&self) -> usize {
        self.buf.len()
    }

    /// Adds a finite value; returns the one that fell out.
    #[inline]
    pub(crate) fn push(&mut self, value: f64) -> Option<f64> {
        if self.len == 0 {
            self.shift = value;
        }
        let cap = self.buf.len();
        let slot = (self.head + self.len) % cap;
        let evicted = if self.len == cap {
            let old = self.buf[self.head];
            self.head = (self.head + 1) % cap;
            let o = old - self.shift;
            self.sum -= o;
            self.sum_sq -= o * o;
            Some(old)
        } else {
            self.len += 1;
            None
        };
        self.buf[slot] = value;
        let v = value - self.shift;
        self.sum += v;
        self.sum_sq += v * v;
        self.since_refresh += 1;
        if self.since_refresh >= cap || !self.sum_sq.is_finite() {
            self.refresh();
        }
        evicted
    }

    fn refresh(&mut self) {
        self.since_refresh = 0;
        self.shift = self.mean_exact();
        let (mut s, mut q) = (0.0, 0.0);
        for v in self.iter() {
            let d = v - self.shift;
            s += d;
            q += d * d;
        }
        self.sum = s;
        self.sum_sq = q;
    }

    fn mean_exact(&self) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        // Mean of values up to 1e150 in magnitude: scale to avoid overflow of the sum.
        self.iter().map(|v| v / self.len as f64).sum()
    }

    /// Values oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let cap = self.buf.len();
        (0..self.len).map(move |i| self.buf[(self.head + i) % cap])
    }

    pub(crate) fn mean(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else {
            self.shift + self.sum / self.len as f64
        }
    }

    /// Population standard deviation.
    pub(crate) fn std(&self) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let n = self.len as f64;
        let m = self.sum / n;
        (self.sum_sq / n - m * m).max(0.0).sqrt()
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.sum = 0.0;
        self.sum_sq = 0.0;
        self.since_refresh = 0;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.len() * std::mem::size_of::<f64>()
    }
}

/// The values of a [`Ring`] kept sorted, for order statistics.
#[derive(Debug, Clone)]
pub(crate) struct Sorted {
    values: Vec<f64>,
}

impl Sorted {
    pub(crate) fn new(capacity: usize) -> Sorted {
        Sorted {
            values: Vec::with_capacity(capacity.max(1)),
        }
    }

    /// Inserts `value` and removes `evicted` (both finite), without allocating.
    #[inline]
    pub(crate) fn replace(&mut self, evicted: Option<f64>, value: f64) {
        if let Some(old) = evicted {
            let i = self.values.partition_point(|v| *v < old);
            let j = self.values.partition_point(|v| *v < value);
            // Move the elements between the two positions by one instead of remove + insert.
            if i < self.values.len() && self.values[i] == old {
                if j <= i {
                    self.values.copy_within(j..i, j + 1);
                    self.values[j] = value;
                } else {
                    self.values.copy_within(i + 1..j, i);
                    self.values[j - 1] = value;
                }
                return;
            }
            debug_assert!(false, "evicted value not in the sorted window");
        }
        let j = self.values.partition_point(|v| *v < value);
        self.values.insert(j, value);
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Linear-interpolated quantile (`q` in [0, 1]) of a non-empty window.
    #[inline]
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let n = self.values.len();
        if n == 0 {
            return 0.0;
        }
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let frac = pos - lo as f64;
        self.values[lo] + (self.values[hi] - self.values[lo]) * frac
    }

    /// Median absolute deviation from `median`, in O(log w): the k-th smallest distance is
    /// the k-th smallest of two sorted runs (below the median going down, above it going up).
    pub(crate) fn mad(&self, median: f64) -> f64 {
        let v = &self.values;
        let n = v.len();
        if n == 0 {
            return 0.0;
        }
        let split = v.partition_point(|x| *x < median);
        let below = |i: usize| median - v[split - 1 - i];
        let above = |i: usize| v[split + i] - median;
        let (nb, na) = (split, n - split);
        if n % 2 == 1 {
            kth_of_two(n / 2, nb, na, below, above)
        } else {
            0.5 * (kth_of_two(n / 2 - 1, nb, na, below, above)
                + kth_of_two(n / 2, nb, na, below, above))
        }
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<f64>()
    }
}

/// The `k`-th smallest (0-based) of two ascending sequences given by accessors.
#[inline]
fn kth_of_two(
    mut k: usize,
    na: usize,
    nb: usize,
    a: impl Fn(usize) -> f64,
    b: impl Fn(usize) -> f64,
) -> f64 {
    let (mut a0, mut b0) = (0usize, 0usize);
    loop {
        if a0 == na {
            return b(b0 + k);
        }
        if b0 == nb {
            return a(a0 + k);
        }
        if k == 0 {
            return a(a0).min(b(b0));
        }
        let half = k.div_ceil(2);
        let ia = (a0 + half).min(na) - 1;
        let ib = (b0 + half).min(nb) - 1;
        if a(ia) <= b(ib) {
            k -= ia + 1 - a0;
            a0 = ia + 1;
        } else {
            k -= ib + 1 - b0;
            b0 = ib + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_mad(values: &[f64]) -> f64 {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        let med = median(&s);
        let mut d: Vec<f64> = s.iter().map(|v| (v - med).abs()).collect();
        d.sort_by(f64::total_cmp);
        median(&d)
    }

    fn median(s: &[f64]) -> f64 {
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        }
    }

    proptest! {
        #[test]
        fn sorted_window_tracks_the_ring(values in prop::collection::vec(-1e6f64..1e6, 1..300), w in 1usize..40) {
            let mut ring = Ring::new(w);
            let mut sorted = Sorted::new(w);
            for v in &values {
                let out = ring.push(*v);
                sorted.replace(out, *v);
                let mut expect: Vec<f64> = ring.iter().collect();
                expect.sort_by(f64::total_cmp);
                prop_assert_eq!(&sorted.values, &expect);
                let med = sorted.quantile(0.5);
                prop_assert!((med - median(&expect)).abs() <= 1e-9 * (1.0 + med.abs()));
                let mad = naive_mad(&expect);
                prop_assert!((sorted.mad(median(&expect)) - mad).abs() <= 1e-9 * (1.0 + mad));
                let mean = expect.iter().sum::<f64>() / expect.len() as f64;
                prop_assert!((ring.mean() - mean).abs() <= 1e-6 * (1.0 + mean.abs()));
            }
        }
    }
}
