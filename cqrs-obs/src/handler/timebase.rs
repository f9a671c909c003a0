//! The clock handler calls are timed with, and the histogram bounds expressed in its ticks.
//!
//! A call records the raw tick delta: its bucket is found among bounds converted to ticks
//! once, at start-up, and its duration is added to the sum in ticks. Ticks become
//! nanoseconds only when a snapshot is read, so the hot path does no scaling.

use std::sync::OnceLock;

use super::site::BUCKET_BOUNDS_NANOS;

/// A calibrated clock plus the bucket bounds in its ticks.
#[derive(Debug)]
pub(crate) struct Timebase {
    clock: quanta::Clock,
    /// `bounds[i]`: the largest tick count whose duration is at most `BUCKET_BOUNDS_NANOS[i]`
    /// (the octave table is built from them; tests check it against them).
    #[cfg(test)]
    bounds: [u64; BUCKET_BOUNDS_NANOS.len()],
    /// Per binary order of magnitude of a tick count, where its bucket search starts.
    octaves: [Octave; 65],
}

/// The tick counts `t` with `64 - t.leading_zeros() == k`, i.e. `[2^(k-1), 2^k)` (and `{0}` for
/// `k = 0`): the bounds below all of them, and the (at most two) bounds inside the range.
///
/// The bounds grow by a factor of at least 2 from one to the next, so a binary order of
/// magnitude holds at most two of them, and a bucket is found with one table read and two
/// comparisons instead of a binary search over all the bounds.
#[derive(Debug, Clone, Copy)]
struct Octave {
    /// The number of bounds below the range.
    below: usize,
    /// The bounds inside the range, padded with `u64::MAX`.
    inside: [u64; 2],
}

/// The index into [`Timebase::octaves`] of a tick count.
#[inline(always)]
fn octave(ticks: u64) -> usize {
    (u64::BITS - ticks.leading_zeros()) as usize
}

/// The octave table for `bounds` (increasing, each at least twice the one before, give or take
/// a tick of rounding; checked).
fn octaves(bounds: &[u64]) -> [Octave; 65] {
    std::array::from_fn(|k| {
        let (low, high) = match k {
            0 => (0, 0),
            64 => (1 << 63, u64::MAX),
            k => (1 << (k - 1), (1 << k) - 1),
        };
        let below = bounds.partition_point(|&b| b < low);
        // A tick count `t` in the range is above a bound `b` iff `b < t`; only bounds below the
        // range's top can be.
        let inside: Vec<u64> = bounds[below..]
            .iter()
            .copied()
            .take_while(|&b| b < high)
            .collect();
        assert!(
            inside.len() <= 2,
            "histogram bounds too close together: {inside:?} in [{low}, {high}]"
        );
        let mut padded = [u64::MAX; 2];
        padded[..inside.len()].copy_from_slice(&inside);
        Octave {
            below,
            inside: padded,
        }
    })
}

static TIMEBASE: OnceLock<Timebase> = OnceLock::new();

impl Timebase {
    fn new(clock: quanta::Clock) -> Timebase {
        let mut bounds = [0; BUCKET_BOUNDS_NANOS.len()];
        for (ticks, &nanos) in bounds.iter_mut().zip(&BUCKET_BOUNDS_NANOS) {
            *ticks = last_tick_within(&clock, nanos);
        }
        Timebase {
            clock,
            #[cfg(test)]
            bounds,
            octaves: octaves(&bounds),
        }
    }

    /// The timebase, once [`enable`](Timebase::enable) ran.
    #[inline(always)]
    pub(crate) fn get() -> Option<&'static Timebase> {
        TIMEBASE.get()
    }

    /// Calibrates the clock (a few milliseconds, once). Idempotent.
    pub(crate) fn enable() -> &'static Timebase {
        TIMEBASE.get_or_init(|| Timebase::new(quanta::Clock::new()))
    }

    /// The current tick count.
    #[inline(always)]
    pub(crate) fn now(&self) -> u64 {
        self.clock.raw()
    }

    /// The histogram bucket of a duration of `ticks`: the same bucket its duration in
    /// nanoseconds falls in (bounds are inclusive).
    #[inline(always)]
    pub(crate) fn bucket(&self, ticks: u64) -> usize {
        let octave = &self.octaves[octave(ticks)];
        octave.below + usize::from(ticks > octave.inside[0]) + usize::from(ticks > octave.inside[1])
    }

    /// The largest tick count that lasts at most `nanos`.
    #[cfg(test)]
    pub(crate) fn ticks_within(&self, nanos: u64) -> u64 {
        last_tick_within(&self.clock, nanos)
    }

    /// `ticks` in nanoseconds.
    pub(crate) fn nanos(&self, ticks: u64) -> u64 {
        self.clock.delta_as_nanos(0, ticks)
    }
}

/// Tick counts in nanoseconds, for readers of a recording (before start-up nothing is recorded
/// and the value is returned as is).
pub(crate) fn ticks_to_nanos(ticks: u64) -> u64 {
    Timebase::get().map_or(ticks, |t| t.nanos(ticks))
}

/// The largest tick count `t` with `clock.delta_as_nanos(0, t) <= nanos` (the conversion is
/// monotonic, so a binary search finds it).
fn last_tick_within(clock: &quanta::Clock, nanos: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if clock.delta_as_nanos(0, mid) <= nanos {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::site::bucket_index;

    #[test]
    fn tick_buckets_agree_with_nanosecond_buckets() {
        let timebase = Timebase::enable();
        for &bound in &timebase.bounds {
            for ticks in [bound.saturating_sub(1), bound, bound.saturating_add(1)] {
                assert_eq!(
                    timebase.bucket(ticks),
                    bucket_index(timebase.nanos(ticks)),
                    "{ticks} ticks = {} ns",
                    timebase.nanos(ticks)
                );
            }
        }
        assert_eq!(timebase.bucket(u64::MAX), BUCKET_BOUNDS_NANOS.len());
    }

    #[test]
    fn the_octave_table_finds_the_binary_search_bucket() {
        let timebase = Timebase::enable();
        let search = |ticks: u64| timebase.bounds.partition_point(|&bound| bound < ticks);
        let mut probes = vec![0, 1, 2, 3, u64::MAX - 1, u64::MAX];
        for k in 1..64 {
            let low = 1u64 << k;
            probes.extend([low - 1, low, low + 1, low | (low >> 1)]);
        }
        for &bound in &timebase.bounds {
            probes.extend([bound.saturating_sub(1), bound, bound.saturating_add(1)]);
        }
        // A deterministic spread of values over every magnitude.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push(x >> (x % 64));
        }
        for ticks in probes {
            assert_eq!(timebase.bucket(ticks), search(ticks), "{ticks} ticks");
        }
    }

    #[test]
    #[should_panic(expected = "too close together")]
    fn bounds_closer_than_a_factor_of_two_are_refused() {
        octaves(&[70, 80, 90, 1000]);
    }

    #[test]
    fn a_measured_sleep_lands_in_its_bucket() {
        let timebase = Timebase::enable();
        let start = timebase.now();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let ticks = timebase.now() - start;
        let nanos = timebase.nanos(ticks);
        assert!(nanos >= 3_000_000, "{nanos} ns");
        assert_eq!(timebase.bucket(ticks), bucket_index(nanos));
    }
}
