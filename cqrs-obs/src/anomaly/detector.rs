//! The streaming detector interface and the time bookkeeping the detectors share.

use super::score::Verdict;

/// A streaming anomaly detector: one `(timestamp, value)` at a time, constant memory.
///
/// Implementations score each point against what they learned *before* it, then learn from
/// it. They never allocate per point, never panic on input and never return NaN: a NaN value
/// is ignored (the verdict is [`Verdict::NONE`] and the state does not change), infinities
/// and huge values are clamped. Timestamps are milliseconds; repeated and out-of-order
/// timestamps are treated as "no time passed", gaps as time passing.
///
/// ```
/// use cqrs_obs::anomaly::{Detector, ZScore};
/// let mut d = ZScore::new(100);
/// for i in 0..200 {
///     let v = d.update(i * 1_000, 10.0 + (i % 7) as f64);
///     assert!(v.score() < 0.999);
/// }
/// assert!(d.update(200_000, 60.0).score() > 0.999);
/// ```
pub trait Detector: Send + std::fmt::Debug {
    /// A short name without `_` (used in results files and labels).
    fn name(&self) -> &'static str;

    /// Scores one point, then learns from it.
    fn update(&mut self, timestamp_ms: i64, value: f64) -> Verdict;

    /// Forgets everything learned.
    fn reset(&mut self);

    /// Bytes of state: the value itself plus what it owns on the heap.
    fn memory_bytes(&self) -> usize;
}

/// Time as detectors see it: never going backwards.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Clock {
    last: Option<i64>,
}

impl Clock {
    /// The effective timestamp of a point and the milliseconds elapsed since the previous
    /// one (0 for the first, a repeated or an out-of-order point).
    #[inline]
    pub(crate) fn advance(&mut self, timestamp_ms: i64) -> (i64, i64) {
        match self.last {
            Some(last) if timestamp_ms <= last => (last, 0),
            Some(last) => {
                self.last = Some(timestamp_ms);
                (timestamp_ms, timestamp_ms - last)
            }
            None => {
                self.last = Some(timestamp_ms);
                (timestamp_ms, 0)
            }
        }
    }

    pub(crate) fn reset(&mut self) {
        self.last = None;
    }
}

/// A smallest scale relative to the data's level, so that a perfectly flat series followed
/// by a tiny change yields a large but finite deviation.
#[inline]
pub(crate) fn scale_floor(level: f64) -> f64 {
    (level.abs() * 1e-9).max(1e-12)
}
