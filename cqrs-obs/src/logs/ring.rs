//! The capture queue: a bounded multi-producer, single-consumer ring of reusable record slots
//! (D. Vyukov's bounded queue, with a mutex per slot that is never contended: a producer
//! holds it only between claiming the slot and publishing it, the consumer only after).
//!
//! A producer claims a slot with one compare-and-swap, fills the slot's [`Record`] in place —
//! reusing the buffers of the record the pipeline already converted, so a steady stream of
//! events allocates nothing — and publishes it. Records live inline in the slot array, so
//! consecutive events write neighbouring memory. A full ring costs the producer one load and
//! one counter increment: the record is neither filled nor queued.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::entry::LogEntry;
use super::record::Record;

// `repr(C)`: the sequence number and the mutex's lock word (the first field of a `Mutex`)
// share the slot's first cache line, so a producer's claim touches one line before it writes.
#[repr(C, align(64))]
struct Slot {
    /// `pos`: free for the producer of ticket `pos`; `pos + 1`: filled by it.
    seq: AtomicUsize,
    record: Mutex<Record>,
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
                    record: Mutex::new(Record::default()),
                })
                .collect(),
            mask: n - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            dropped: Padded(AtomicU64::new(0)),
        }
    }

    /// Fills a free slot with `fill` (given a cleared record), or counts a drop when the ring
    /// is full.
    #[inline]
    pub(crate) fn push_with(&self, fill: impl FnOnce(&mut Record)) {
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
                            let mut record =
                                slot.record.lock().unwrap_or_else(PoisonError::into_inner);
                            record.clear();
                            fill(&mut record);
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

    /// Converts up to `max` published records into entries appended to `out`, reusing the
    /// entries in `spares` (processed ones, whose allocations are kept). Single consumer.
    /// Returns how many.
    // Boxes, not entries, move between these lists: a pointer instead of ~400 bytes.
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
            let mut entry = match spares.pop() {
                Some(mut e) => {
                    reset(&mut e);
                    e
                }
                None => Box::new(LogEntry::new(super::Level::Info, "", String::new())),
            };
            slot.record
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take_into(&mut entry);
            out.push(entry);
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
    fn fills_drains_drops_when_full_and_reuses_buffers() {
        let ring = Ring::new(3);
        for i in 0..6 {
            ring.push_with(|r| r.push_message(&format!("m{i}")));
        }
        assert_eq!(ring.dropped(), 2, "4 slots");
        let (mut out, mut spares) = (Vec::new(), Vec::new());
        assert_eq!(ring.drain(&mut out, &mut spares, 10), 4);
        let messages: Vec<&str> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["m0", "m1", "m2", "m3"]);
        spares.append(&mut out);
        for i in 0..4 {
            ring.push_with(|r| r.push_message(&format!("n{i}")));
        }
        assert_eq!(ring.drain(&mut out, &mut spares, 10), 4);
        assert!(spares.is_empty(), "the processed entries were reused");
        let messages: Vec<&str> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["n0", "n1", "n2", "n3"],
            "reused entries were cleared"
        );
        out.clear();
        ring.push_with(|r| r.push_message("again"));
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
                        ring.push_with(|r| r.push_message("x"));
                    }
                })
            })
            .collect();
        let (mut out, mut spares) = (Vec::new(), Vec::new());
        let mut received = 0;
        while producers.iter().any(|p| !p.is_finished()) {
            received += ring.drain(&mut out, &mut spares, 1000);
            assert!(out.iter().all(|e| e.message == "x"));
            spares.append(&mut out);
        }
        received += ring.drain(&mut out, &mut spares, 100_000);
        assert_eq!(received as u64 + ring.dropped(), 40_000);
    }
}
