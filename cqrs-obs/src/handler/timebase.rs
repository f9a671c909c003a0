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
    /// `bounds[i]`: the largest tick count whose duration is at most `BUCKET_BOUNDS_NANOS[i]`.
    bounds: [u64; BUCKET_BOUNDS_NANOS.len()],
}

static TIMEBASE: OnceLock<Timebase> = OnceLock::new();

impl Timebase {
    fn new(clock: quanta::Clock) -> Timebase {
        let mut bounds = [0; BUCKET_BOUNDS_NANOS.len()];
        for (ticks, &nanos) in bounds.iter_mut().zip(&BUCKET_BOUNDS_NANOS) {
            *ticks = last_tick_within(&clock, nanos);
        }
        Timebase { clock, bounds }
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
        self.bounds.partition_point(|&bound| bound < ticks)
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
