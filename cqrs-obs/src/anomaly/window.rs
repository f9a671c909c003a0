//! Fixed-capacity windows the detectors share: a ring of the last `w` values with running
//! moments (O(1) per point), and a sorted copy of it for quantiles (O(log w) search plus a
//! bounded `memmove`). Both allocate once, at construction.

/// A running sum and sum of squares of a window's values, kept relative to a shift (a value
/// near their mean) to limit cancellation. The window's owner slides values in and out as it
/// moves and rebases the sums on the values themselves when [`Moments::slide`] says so, so
/// rounding never accumulates.
#[derive(Debug, Clone, Default)]
pub(crate) struct Moments {
    shift: f64,
    sum: f64,
    sum_sq: f64,
    /// Values slid in since the last rebase.
    since_rebase: usize,
}

impl Moments {
    /// Sums of nothing, relative to `shift`.
    #[inline]
    pub(crate) fn start(&mut self, shift: f64) {
        *self = Moments {
            shift,
            ..Moments::default()
        };
    }

    /// Takes `old` (when the window was full) out and `new` in. True when the owner should
    /// [`Moments::rebase`]: `every` values after the last rebase, or at once when the sum of
    /// squares has overflowed (huge values).
    #[inline]
    pub(crate) fn slide(&mut self, old: Option<f64>, new: f64, every: usize) -> bool {
        if let Some(old) = old {
            self.remove(old);
        }
        self.add(new);
        self.since_rebase += 1;
        self.since_rebase >= every || !self.sum_sq.is_finite()
    }

    #[inline]
    fn add(&mut self, value: f64) {
        let v = value - self.shift;
        self.sum += v;
        self.sum_sq += v * v;
    }

    #[inline]
    fn remove(&mut self, value: f64) {
        let o = value - self.shift;
        self.sum -= o;
        self.sum_sq -= o * o;
    }

    /// Recomputes the sums from the values in `older` and `newer`, relative to their mean.
    #[cold]
    pub(crate) fn rebase(&mut self, older: &[f64], newer: &[f64]) {
        let n = older.len() + newer.len();
        // Values are at most 1e150 in magnitude, so the plain sum cannot overflow.
        let mean = older.iter().chain(newer).sum::<f64>() / n.max(1) as f64;
        self.start(mean);
        for v in older.iter().chain(newer) {
            self.add(*v);
        }
    }

    /// The mean of the values, given `1 / n` for their count `n` (a multiplication: for a
    /// fixed window the reciprocal is a constant, and a division would lengthen the chain).
    #[inline]
    pub(crate) fn mean(&self, per_value: f64) -> f64 {
        self.shift + self.sum * per_value
    }

    /// The population variance of the values, given `1 / n` as for [`Moments::mean`].
    #[inline]
    pub(crate) fn variance(&self, per_value: f64) -> f64 {
        let m = self.sum * per_value;
        (self.sum_sq * per_value - m * m).max(0.0)
    }
}

/// The last `capacity` values, oldest first. With `MOMENTS` (the default) it keeps their
/// running [`Moments`] too, rebased on the values once per `capacity` points, for a mean and
/// standard deviation in O(1); without, [`Ring::std`] sums the values when asked (for owners
/// that need it only now and then, and would otherwise pay for the sums on every point).
#[derive(Debug, Clone)]
pub(crate) struct Ring<const MOMENTS: bool = true> {
    buf: Box<[f64]>,
    head: usize,
    len: usize,
    /// `1 / len`, set when the length changes (no division per point once the ring is full).
    per_value: f64,
    moments: Moments,
}

impl<const MOMENTS: bool> Ring<MOMENTS> {
    pub(crate) fn new(capacity: usize) -> Ring<MOMENTS> {
        Ring {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
            per_value: 0.0,
            moments: Moments::default(),
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
        if MOMENTS && self.len == 0 {
            self.moments.start(value);
        }
        let cap = self.buf.len();
        let evicted = if self.len == cap {
            // Full: the oldest slot takes the new value.
            let slot = self.head;
            let old = std::mem::replace(&mut self.buf[slot], value);
            self.head = if slot + 1 == cap { 0 } else { slot + 1 };
            Some(old)
        } else {
            let slot = self.head + self.len;
            self.buf[if slot >= cap { slot - cap } else { slot }] = value;
            self.len += 1;
            self.per_value = 1.0 / self.len as f64;
            None
        };
        if MOMENTS && self.moments.slide(evicted, value, cap) {
            let (older, newer) = runs(&self.buf, self.head, self.len);
            self.moments.rebase(older, newer);
        }
        evicted
    }

    /// Values oldest first.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (older, newer) = runs(&self.buf, self.head, self.len);
        older.iter().chain(newer).copied()
    }

    /// The mean: O(1) with `MOMENTS`, a sum of the values without.
    pub(crate) fn mean(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else if MOMENTS {
            self.moments.mean(self.per_value)
        } else {
            let (older, newer) = runs(&self.buf, self.head, self.len);
            older.iter().chain(newer).sum::<f64>() * self.per_value
        }
    }

    /// Population standard deviation: O(1) with `MOMENTS`, two passes over the values
    /// without.
    pub(crate) fn std(&self) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        if MOMENTS {
            return self.moments.variance(self.per_value).sqrt();
        }
        let mean = self.mean();
        let (older, newer) = runs(&self.buf, self.head, self.len);
        let squares: f64 = older
            .iter()
            .chain(newer)
            .map(|v| (v - mean) * (v - mean))
            .sum();
        (squares * self.per_value).sqrt()
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.per_value = 0.0;
        self.moments = Moments::default();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.len() * std::mem::size_of::<f64>()
    }
}

/// The `len` values of ring `buf` from slot `head` on, as two runs of slots, oldest first.
#[inline]
fn runs(buf: &[f64], head: usize, len: usize) -> (&[f64], &[f64]) {
    let end = head + len;
    if end <= buf.len() {
        (&buf[head..end], &[])
    } else {
        (&buf[head..], &buf[..end - buf.len()])
    }
}

/// The values of a [`Ring`] kept sorted, for order statistics.
///
/// The buffer is a whole number of [`BLOCK`]s, padded with `+inf` past the values, so a
/// block can always be read whole (see [`positions`]).
#[derive(Debug, Clone)]
pub(crate) struct Sorted {
    buf: Box<[f64]>,
    len: usize,
    /// Where each quartile sits for the current length: `(lo, hi, frac)` of
    /// [`Sorted::quartile`], set when the length changes.
    quartiles: [(usize, usize, f64); 5],
    /// The block start [`Sorted::mad`] found last: one replaced value moves it by a step or
    /// two at most as a rule, so the next search starts there.
    block: usize,
    /// The rank of the larger middle distance for [`Sorted::mad`] (`k` of an odd count, `k + 1`
    /// of an even one, for `k = (len - 1) / 2`) and whether the count is even: set with the
    /// length.
    mad_rank: (usize, bool),
}

impl Sorted {
    pub(crate) fn new(capacity: usize) -> Sorted {
        let padded = capacity.max(1).div_ceil(BLOCK) * BLOCK;
        let mut sorted = Sorted {
            buf: vec![f64::INFINITY; padded].into_boxed_slice(),
            len: 0,
            quartiles: [(0, 0, 0.0); 5],
            block: 0,
            mad_rank: (0, false),
        };
        sorted.set_len(0);
        sorted
    }

    /// Sets the length and the quartile positions that follow from it.
    fn set_len(&mut self, n: usize) {
        self.len = n;
        let even = n.is_multiple_of(2);
        self.mad_rank = (n.saturating_sub(1) / 2 + usize::from(even), even);
        for (k, q) in self.quartiles.iter_mut().enumerate() {
            let scaled = n.saturating_sub(1) * k;
            let lo = scaled / 4;
            *q = (
                lo,
                (lo + 1).min(n.saturating_sub(1)),
                (scaled % 4) as f64 * 0.25,
            );
        }
    }

    /// The values, ascending.
    #[cfg(test)]
    pub(crate) fn values(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    /// Inserts `value` and removes `evicted` (both finite), without allocating. Without an
    /// evicted value the window must have room (the ring evicts once it is full).
    #[inline]
    pub(crate) fn replace(&mut self, evicted: Option<f64>, value: f64) {
        let n = self.len;
        if let Some(old) = evicted {
            let (i, j) = positions(&self.buf, n, old, value);
            // `i` is where `old` is (the window holds every value the ring does): checked in
            // debug builds; outside them only that it is in range, which the move needs.
            debug_assert!(
                i < n && self.buf[i] == old,
                "evicted value not in the sorted window"
            );
            if i >= n {
                return;
            }
            // Move the elements between the two positions by one instead of remove + insert:
            // right when the new value goes first, left otherwise. The choice is made without
            // a branch (either is as likely).
            let before = j <= i;
            let src = std::hint::select_unpredictable(before, j, i + 1);
            let dst = std::hint::select_unpredictable(before, j + 1, i);
            let end = std::hint::select_unpredictable(before, i, j);
            let slot = std::hint::select_unpredictable(before, j, j.wrapping_sub(1));
            self.buf.copy_within(src..end, dst);
            self.buf[slot] = value;
            return;
        }
        if n == self.buf.len() {
            debug_assert!(
                false,
                "a full sorted window takes a value only with an eviction"
            );
            return;
        }
        let (_, j) = positions(&self.buf, n, value, value);
        self.buf.copy_within(j..n, j + 1);
        self.buf[j] = value;
        self.set_len(n + 1);
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Linear-interpolated quantile (`q` in [0, 1]) of a non-empty window (the reference
    /// [`Sorted::quartile`] is checked against).
    #[cfg(test)]
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let values = self.values();
        let n = values.len();
        if n == 0 {
            return 0.0;
        }
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let frac = pos - lo as f64;
        values[lo] + (values[hi] - values[lo]) * frac
    }

    /// The `k`-th quartile (`k` in 0..=4) of a non-empty window: [`Sorted::quantile`] at
    /// `k / 4`, with the position computed in integers (the same value, no rounding call).
    #[inline]
    pub(crate) fn quartile(&self, k: usize) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let (lo, hi, frac) = self.quartiles[k.min(4)];
        let (a, b) = (self.buf[lo], self.buf[hi]);
        a + (b - a) * frac
    }

    /// Median absolute deviation from `median`, in O(log w) (O(1) as a rule).
    ///
    /// The `k + 1` values closest to `median` are `k + 1` consecutive sorted values, so the
    /// `k`-th smallest distance is the smallest, over the blocks `l..=l + k`, of the block's
    /// largest distance: the first block whose upper end is at least as far as its lower end,
    /// looked for a few steps around the last one found, then by binary search. For an even
    /// count, the block found for the larger of the two middle distances gives the smaller
    /// one too.
    #[inline]
    pub(crate) fn mad(&mut self, median: f64) -> f64 {
        let v = &self.buf[..self.len];
        let n = v.len();
        if n == 0 {
            return 0.0;
        }
        // The median of the distances: the `k`-th smallest (0-based) for an odd count, the
        // mean of the `k`-th and the next for an even one. Both come from the same block.
        let (m, even) = self.mad_rank;
        let l = near_block(v, median, m, self.block);
        self.block = l;
        let mth = block_distance(v, median, m, l);
        if !even {
            return mth;
        }
        // The `m + 1` nearest values are block `l` or `l - 1`; either way the `m` nearest
        // are among `l..l + m`, so the next smaller distance is that block's radius.
        let inner = (v[l + m - 1] - median).max(median - v[l]);
        0.5 * (mth + inner)
    }

    pub(crate) fn clear(&mut self) {
        self.buf.fill(f64::INFINITY);
        self.set_len(0);
        self.block = 0;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.len() * std::mem::size_of::<f64>()
    }
}

/// Values per block of [`positions`]' first level.
const BLOCK: usize = 16;

/// Where `old` is and where `new` goes among the first `n` values of sorted `buf` (a whole
/// number of blocks, `+inf` past `n`), both finite: how many values are below `old` (its
/// first copy, when it is there) and how many are at or below `new` (after its equals, so
/// that the two counts differ in kind and are not paired into one vector by the compiler,
/// which would then have to gather every pair of values).
///
/// Up to 16 blocks (256 values), two counts instead of a binary search (whose seven or
/// more steps each wait for the previous load): the blocks whose last value is below (for
/// `new`, at or below: they lie wholly so), then the values so in the next block. Both are
/// plain sums of comparisons, so the loads run in parallel and nothing is mispredicted; the
/// two values share the loads of the blocks' last values. The count of blocks is made a constant for
/// each window length, so that the counts are unrolled in full.
#[inline]
fn positions(buf: &[f64], n: usize, old: f64, new: f64) -> (usize, usize) {
    let (blocks, _) = buf.as_chunks::<BLOCK>();
    macro_rules! unrolled {
        ($($count:literal)*) => {
            match blocks.len() {
                $($count => return positions_in::<$count>(
                    blocks.try_into().expect("the matched count of blocks"), old, new),)*
                _ => {}
            }
        };
    }
    unrolled!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    let values = &buf[..n];
    (
        values.partition_point(|v| *v < old),
        values.partition_point(|v| *v <= new),
    )
}

/// [`positions`] over `B` blocks.
#[inline(always)]
fn positions_in<const B: usize>(blocks: &[[f64; BLOCK]; B], old: f64, new: f64) -> (usize, usize) {
    let (mut below_old, mut up_to_new) = (0, 0);
    for block in blocks {
        let last = block[BLOCK - 1];
        // `last < old` for the finite values here, written so that it compiles to a compare
        // and an add with carry (nine fewer instructions a point than `last < old`).
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let below = !(old <= last);
        below_old += usize::from(below);
        up_to_new += usize::from(last <= new);
    }
    // Every block counts only when the buffer is full and the value is above all of it.
    let (o, w) = (below_old.min(B - 1), up_to_new.min(B - 1));
    let in_o = count_in(&blocks[o], |v| v < old);
    let in_w = count_in(&blocks[w], |v| v <= new);
    (o * BLOCK + in_o, w * BLOCK + in_w)
}

/// How many values of sorted `block` pass `test`, which holds for a prefix of it (as `< x`
/// and `<= x` do): the quarters of the block whose last value passes, then the values that
/// pass in the next quarter. Seven scalar comparisons, where counting all sixteen packs them
/// into a bit mask and needs a population count, which the baseline x86-64 instruction set
/// does not have (a dozen and a half instructions to emulate).
#[inline(always)]
fn count_in(block: &[f64; BLOCK], test: impl Fn(f64) -> bool) -> usize {
    let quarters: usize = [3, 7, 11]
        .iter()
        .map(|i| usize::from(test(block[*i])))
        .sum();
    let (chunks, _) = block.as_chunks::<{ BLOCK / 4 }>();
    let quarter = &chunks[quarters];
    quarters * (BLOCK / 4) + quarter.iter().map(|v| usize::from(test(*v))).sum::<usize>()
}

/// Whether the block `l..=l + k` of sorted `v` reaches at least as far above `c` as below it.
/// Monotone in `l`: false, then true.
#[inline]
fn upper_reaches(v: &[f64], c: f64, k: usize, l: usize) -> bool {
    v[l + k] - c >= c - v[l]
}

/// The first block start `l` in `0..n - k` where [`upper_reaches`] holds (`n - k` if none):
/// a branch-free binary search.
#[inline]
fn first_block(v: &[f64], c: f64, k: usize) -> usize {
    let mut size = v.len() - k;
    let mut base = 0usize;
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = std::hint::select_unpredictable(upper_reaches(v, c, k, mid), base, mid);
        size -= half;
    }
    base + usize::from(!upper_reaches(v, c, k, base))
}

/// [`first_block`], found among the [`NEAR`] block starts around `hint` when it lies there
/// (as a rule: one replaced value moves it by a step or two), by a binary search otherwise.
///
/// The predicate is false, then true, so the first true start is the count of false ones in
/// a run that holds both (or that begins at 0, or ends at the last start): a sum of
/// comparisons over two runs of consecutive values, with no branch to mispredict.
#[inline]
fn near_block(v: &[f64], c: f64, k: usize, hint: usize) -> usize {
    let starts = v.len() - k;
    if starts < NEAR {
        return first_block(v, c, k);
    }
    let a = hint.saturating_sub(NEAR / 2).min(starts - NEAR);
    // One slice, one bounds check: `a + k + NEAR <= n`, as `a <= starts - NEAR`.
    let run = &v[a..a + k + NEAR];
    let lower: &[f64; NEAR] = run[..NEAR].try_into().expect("NEAR values");
    let upper: &[f64; NEAR] = run[k..].try_into().expect("NEAR values");
    let before: usize = lower
        .iter()
        .zip(upper)
        .map(|(lo, up)| usize::from(up - c < c - lo))
        .sum();
    let seen_both_ends = (before > 0 || a == 0) && (before < NEAR || a + NEAR == starts);
    if seen_both_ends {
        a + before
    } else {
        first_block(v, c, k)
    }
}

/// Block starts [`near_block`] looks at around its hint.
const NEAR: usize = 8;

/// The `k`-th smallest (0-based) distance of sorted `v` from `c`, given the first block `l`
/// of [`first_block`]: blocks from `l` on are bounded by their upper end (which only grows),
/// blocks before it by their lower end (which only shrinks), so the best is at `l` or `l - 1`.
#[inline]
fn block_distance(v: &[f64], c: f64, k: usize, l: usize) -> f64 {
    let upper = if l + k < v.len() {
        v[l + k] - c
    } else {
        f64::INFINITY
    };
    let lower = if l > 0 { c - v[l - 1] } else { f64::INFINITY };
    upper.min(lower)
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
        fn positions_are_partition_points(
            ints in prop::collection::vec(-50i32..50, 0..600),
            room in 0usize..40,
            probes in prop::collection::vec(-60i32..60, 1..20),
        ) {
            // Integers, so values repeat; up to 600, so both ways of counting run.
            let mut values: Vec<f64> = ints.iter().map(|v| f64::from(*v)).collect();
            values.sort_by(f64::total_cmp);
            let n = values.len();
            let mut buf = vec![f64::INFINITY; (n + room).max(1).div_ceil(BLOCK) * BLOCK];
            buf[..n].copy_from_slice(&values);
            let xs: Vec<f64> = probes.iter().map(|p| f64::from(*p)).chain(values.iter().copied()).collect();
            for (x, y) in xs.iter().zip(xs.iter().rev()) {
                let below = values.partition_point(|v| *v < *x);
                let up_to = values.partition_point(|v| *v <= *y);
                prop_assert_eq!(positions(&buf, n, *x, *y), (below, up_to), "{} {}", x, y);
            }
        }

        #[test]
        fn sorted_window_tracks_the_ring(values in prop::collection::vec(-1e6f64..1e6, 1..300), w in (1usize..40).prop_union(250usize..270)) {
            let mut ring = Ring::<true>::new(w);
            let mut plain = Ring::<false>::new(w);
            let mut sorted = Sorted::new(w);
            for v in &values {
                let out = ring.push(*v);
                prop_assert_eq!(plain.push(*v), out);
                sorted.replace(out, *v);
                let mut expect: Vec<f64> = ring.iter().collect();
                expect.sort_by(f64::total_cmp);
                prop_assert_eq!(sorted.values(), &expect[..]);
                for k in 0..=4 {
                    let q = sorted.quantile(k as f64 / 4.0);
                    prop_assert_eq!(sorted.quartile(k).to_bits(), q.to_bits());
                }
                let med = sorted.quartile(2);
                prop_assert!((med - median(&expect)).abs() <= 1e-9 * (1.0 + med.abs()));
                let mad = naive_mad(&expect);
                prop_assert!((sorted.mad(median(&expect)) - mad).abs() <= 1e-9 * (1.0 + mad));
                let (v, m) = (sorted.values(), median(&expect));
                let k = (v.len() - 1) / 2;
                for hint in [0, 1, v.len() / 3, v.len()] {
                    prop_assert_eq!(near_block(v, m, k, hint), first_block(v, m, k));
                }
                let mean = expect.iter().sum::<f64>() / expect.len() as f64;
                prop_assert!((ring.mean() - mean).abs() <= 1e-6 * (1.0 + mean.abs()));
                prop_assert!((plain.mean() - mean).abs() <= 1e-6 * (1.0 + mean.abs()));
                let std = (expect.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>()
                    / expect.len() as f64)
                    .sqrt();
                prop_assert!((ring.std() - std).abs() <= 1e-6 * (1.0 + std));
                prop_assert!((plain.std() - std).abs() <= 1e-9 * (1.0 + std));
            }
        }
    }
}
