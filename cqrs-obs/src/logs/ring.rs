//! The capture queue: a bounded multi-producer, single-consumer ring of reusable entry slots
//! (D. Vyukov's bounded queue, with a mutex per slot that is never contended: a producer
//! holds it only between claiming the slot and publishing it, the consumer only after).
//!
//! A producer claims a slot with one compare-and-swap, fills the entry in place — reusing the
//! strings and vectors of an entry the pipeline already processed, so a steady stream of
//! events allocates nothing — and publishes it. A full ring costs the producer one load and
//! one counter increment: the entry is neither built nor queued.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::entry::LogEntry;

struct Slot {
    /// `pos`: free for the producer of ticket `pos`; `pos + 1`: filled by it.
    seq: AtomicUsize,
    entry: Mutex<Option<Box<LogEntry>>>,
}

/// Keeps a hot atomic on a cache line of its own.
#[repr(align(64))]
struct Padded<T>(T);

pub(crate) struct Ring {
    slots: Box<[Slot]>,
    mask: usize,
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    dropped: Padded<AtomicU64>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.slots.len())
            .field("dropped", &self.dropped.0.load(Ordering::Relaxed))
            .finish()
    }
}

impl Ring {
    /// A ring of at least `capacity` slots (a power of two).
    pub(crate) fn new(capacity: usize) -> Ring {
        let n = capacity.max(2).next_power_of_two();
        Ring {
            slots: (0..n)
                .map(|i| Slot {
                    seq: AtomicUsize::new(i),
                    entry: Mutex::new(None),
                })
                .collect(),
            mask: n - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            dropped: Padded(AtomicU64::new(0)),
        }
    }

    /// Fills a free slot with `fill` (given a reset entry), or counts a drop when the ring is
    /// full.
    #[inline]
    pub(crate) fn push_with(&self, fill: impl FnOnce(&mut LogEntry)) {
        let mut pos = self.head.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.head.0.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        {
                            let mut guard =
                                slot.entry.lock().unwrap_or_else(PoisonError::into_inner);
                            let entry = guard.get_or_insert_with(|| {
                                Box::new(LogEntry::new(super::Level::Info, "", String::new()))
                            });
                            reset(entry);
                            fill(entry);
                        }
                        slot.seq.store(pos + 1, Ordering::Release);
                        return;
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                self.dropped.0.fetch_add(1, Ordering::Relaxed);
                return;
            } else {
                pos = self.head.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Moves up to `max` published entries into `out`, giving their slots `spares` (processed
    /// entries whose allocations producers reuse). Single consumer. Returns how many.
    // Boxes, not entries, move between slots and these lists: a pointer instead of ~400 bytes,
    // and an allocation a producer reuses.
    #[allow(clippy::vec_box)]
    pub(crate) fn drain(
        &self,
        out: &mut Vec<Box<LogEntry>>,
        spares: &mut Vec<Box<LogEntry>>,
        max: usize,
    ) -> usize {
        let mut n = 0;
        let mut pos = self.tail.0.load(Ordering::Relaxed);
        while n < max {
            let slot = &self.slots[pos & self.mask];
            if slot.seq.load(Ordering::Acquire) != pos + 1 {
                break;
            }
            let taken = {
                let mut guard = slot.entry.lock().unwrap_or_else(PoisonError::into_inner);
                std::mem::replace(&mut *guard, spares.pop())
            };
            if let Some(entry) = taken {
                out.push(entry);
            }
            slot.seq.store(pos + self.mask + 1, Ordering::Release);
            pos += 1;
            n += 1;
        }
        self.tail.0.store(pos, Ordering::Relaxed);
        n
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.0.load(Ordering::Relaxed)
    }
}

/// Clears an entry for reuse, keeping the capacity of its message and field list.
fn reset(e: &mut LogEntry) {
    e.seq = 0;
    e.message.clear();
    e.service.clear();
    e.service_version = None;
    e.environment = None;
    e.trace_id = None;
    e.span_id = None;
    e.correlation_id = None;
    e.causation_id = None;
    e.aggregate_id = None;
    e.event_type = None;
    e.error = None;
    e.fields.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_drains_drops_when_full_and_reuses_entries() {
        let ring = Ring::new(3);
        for i in 0..6 {
            ring.push_with(|e| e.message.push_str(&format!("m{i}")));
        }
        assert_eq!(ring.dropped(), 2, "4 slots");
        let (mut out, mut spares) = (Vec::new(), Vec::new());
        assert_eq!(ring.drain(&mut out, &mut spares, 10), 4);
        let messages: Vec<&str> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["m0", "m1", "m2", "m3"]);
        spares.append(&mut out);
        // The next round fills fresh slots; draining it hands the slots the spares.
        for i in 0..4 {
            ring.push_with(|e| e.message.push_str(&format!("n{i}")));
        }
        assert_eq!(ring.drain(&mut out, &mut spares, 10), 4);
        out.clear();
        ring.push_with(|e| {
            assert!(
                e.message.is_empty() && e.message.capacity() > 0,
                "a reused, cleared entry"
            );
            e.message.push_str("again");
        });
        assert_eq!(ring.drain(&mut out, &mut spares, 10), 1);
        assert_eq!(out[0].message, "again");
    }

    #[test]
    fn many_producers_lose_nothing_that_was_not_counted() {
        let ring = std::sync::Arc::new(Ring::new(64));
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        ring.push_with(|e| e.message.push('x'));
                    }
                })
            })
            .collect();
        let (mut out, mut spares) = (Vec::new(), Vec::new());
        let mut received = 0;
        while producers.iter().any(|p| !p.is_finished()) {
            received += ring.drain(&mut out, &mut spares, 1000);
            spares.append(&mut out);
        }
        received += ring.drain(&mut out, &mut spares, 100_000);
        assert_eq!(received as u64 + ring.dropped(), 40_000);
    }
}
