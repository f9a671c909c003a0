//! Rolling windows of good / total counts.
//!
//! A window of length `w` is a ring of [`SLOTS`] slots of `w / SLOTS` seconds each plus running
//! sums, so adding a count and reading a window are O(1) (advancing past expired slots is
//! amortised O(1)). The newest slot is partial, so a window covers between
//! `w × (SLOTS − 1) / SLOTS` and `w` of history: a relative error under 2 % at steady traffic.
//!
//! Memory: [`Window`] is `SLOTS × 16 + 48` bytes; an SLO keeps one per alerting window plus
//! its period, [`WINDOW_COUNT`] in all: under 8 KiB per SLO.

use std::time::Duration;

/// Slots per window.
pub const SLOTS: usize = 60;

/// The windows every SLO keeps, shortest first; the SLO period is added after them.
pub const WINDOWS: [Duration; 7] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(3 * 24 * 3600),
];

/// Windows kept per SLO: [`WINDOWS`] plus the period.
pub(crate) const WINDOW_COUNT: usize = WINDOWS.len() + 1;

/// Good and total events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events that met the objective.
    pub good: u64,
    /// All events.
    pub total: u64,
}

impl Counts {
    /// Events that did not meet the objective.
    pub fn bad(&self) -> u64 {
        self.total.saturating_sub(self.good)
    }

    /// `bad / total`, or `None` without traffic.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.bad() as f64 / self.total as f64)
    }
}

/// A rolling window of [`Counts`].
#[derive(Debug, Clone)]
pub struct Window {
    length: Duration,
    slot_millis: u64,
    slots: [Counts; SLOTS],
    /// Index of the newest slot and the slot number (time / slot length) it holds.
    head: usize,
    head_epoch: u64,
    sum: Counts,
}

impl Window {
    /// An empty window of `length` (at least [`SLOTS`] milliseconds).
    pub fn new(length: Duration) -> Window {
        let slot_millis = (length.as_millis() as u64 / SLOTS as u64).max(1);
        Window {
            length,
            slot_millis,
            slots: [Counts::default(); SLOTS],
            head: 0,
            head_epoch: 0,
            sum: Counts::default(),
        }
    }

    /// The window's length.
    pub fn length(&self) -> Duration {
        self.length
    }

    fn advance(&mut self, now_millis: u64) {
        let epoch = now_millis / self.slot_millis;
        if epoch <= self.head_epoch {
            return; // same slot, or a clock that stepped back: count into the newest slot
        }
        let steps = epoch - self.head_epoch;
        if steps >= SLOTS as u64 {
            self.slots = [Counts::default(); SLOTS];
            self.sum = Counts::default();
        } else {
            for _ in 0..steps {
                self.head = (self.head + 1) % SLOTS;
                let expired = std::mem::take(&mut self.slots[self.head]);
                self.sum.good -= expired.good;
                self.sum.total -= expired.total;
            }
        }
        self.head_epoch = epoch;
    }

    /// Adds counts observed at `now_millis` (milliseconds since an arbitrary epoch).
    pub fn add(&mut self, now_millis: u64, counts: Counts) {
        self.advance(now_millis);
        let slot = &mut self.slots[self.head];
        slot.good += counts.good;
        slot.total += counts.total;
        self.sum.good += counts.good;
        self.sum.total += counts.total;
    }

    /// The counts inside the window ending at `now_millis`.
    pub fn counts(&mut self, now_millis: u64) -> Counts {
        self.advance(now_millis);
        self.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn old_counts_leave_the_window() {
        let mut w = Window::new(Duration::from_secs(60)); // 1 s slots
        w.add(0, Counts { good: 5, total: 10 });
        w.add(30_000, Counts { good: 1, total: 1 });
        assert_eq!(w.counts(59_999), Counts { good: 6, total: 11 });
        assert_eq!(w.counts(60_000), Counts { good: 1, total: 1 });
        assert_eq!(w.counts(90_000), Counts::default());
        w.add(10_000_000, Counts { good: 0, total: 3 });
        assert_eq!(w.counts(10_000_000).bad(), 3);
    }

    proptest! {
        #[test]
        fn matches_a_naive_window(events in proptest::collection::vec((0u64..5_000, 0u64..4, 0u64..4), 1..200)) {
            let mut events = events;
            events.sort_by_key(|e| e.0);
            let mut w = Window::new(Duration::from_millis(600)); // 10 ms slots
            let mut naive: Vec<(u64, Counts)> = Vec::new();
            for (t, good, bad) in events {
                let c = Counts { good, total: good + bad };
                w.add(t, c);
                naive.push((t, c));
                let slot = t / 10;
                let expected = naive.iter()
                    .filter(|(at, _)| at / 10 + SLOTS as u64 > slot)
                    .fold(Counts::default(), |acc, (_, c)| Counts { good: acc.good + c.good, total: acc.total + c.total });
                prop_assert_eq!(w.counts(t), expected);
            }
        }
    }
}
