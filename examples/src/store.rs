//! An in-memory event store: one versioned stream per aggregate, optimistic concurrency,
//! a snapshot per stream, and a recent-events tail (older events are "archived" and only
//! reachable through a slow path).
//!
//! It also injects faults on demand, so the workload can show what an outage looks like.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// The identity of an aggregate (here: an account number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acc-{}", self.0)
    }
}

/// An aggregate whose state is the fold of its events.
pub trait Aggregate: Default + Clone + fmt::Debug + Send + 'static {
    /// The aggregate's event type.
    type Event: fmt::Debug + Send + Sync + 'static;

    /// Applies one event to the state.
    fn apply(&mut self, event: &Self::Event);

    /// The event's type name (a metric label: a handful of values).
    fn event_type(event: &Self::Event) -> &'static str;
}

/// One stored event with its position and metadata.
#[derive(Debug, Clone)]
pub struct Envelope<E> {
    /// The stream (aggregate) the event belongs to.
    pub stream: AccountId,
    /// The stream version this event created (the first event is version 1).
    pub version: u64,
    /// The event.
    pub event: E,
    /// String metadata: the message context (`correlation_id`, `causation_id`, `message_id`)
    /// injected when the event was appended, readable by any consumer.
    pub metadata: HashMap<String, String>,
    /// When the event was appended.
    pub recorded_at: SystemTime,
}

/// Why the store refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the stream moved on since the writer read it.
    #[error("stream {stream} is at version {actual}, the append expected {expected}")]
    Conflict {
        /// The stream.
        stream: AccountId,
        /// The version the writer read.
        expected: u64,
        /// The version the stream is at.
        actual: u64,
    },
    /// The store could not be reached (a simulated outage).
    #[error("event store unavailable for stream {stream}")]
    Unavailable {
        /// The stream.
        stream: AccountId,
    },
}

#[derive(Debug)]
struct Stream<A: Aggregate> {
    state: A,
    version: u64,
    recent: VecDeque<Arc<Envelope<A::Event>>>,
    fail_next: bool,
}

impl<A: Aggregate> Default for Stream<A> {
    fn default() -> Self {
        Stream {
            state: A::default(),
            version: 0,
            recent: VecDeque::new(),
            fail_next: false,
        }
    }
}

impl<A: Aggregate> Stream<A> {
    /// An armed fault fires (once) on the next operation on the stream.
    fn check_outage(&mut self, stream: AccountId) -> Result<(), StoreError> {
        if std::mem::take(&mut self.fail_next) {
            return Err(StoreError::Unavailable { stream });
        }
        Ok(())
    }
}

impl StoreError {
    /// A low-cardinality name of the error, for the span's `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Conflict { .. } => "conflict",
            StoreError::Unavailable { .. } => "unavailable",
        }
    }
}

/// The aggregate's type name without its module path (`Account`).
fn aggregate_name<A>() -> &'static str {
    let full = std::any::type_name::<A>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Events kept in memory per stream; older ones live in the (slow) archive.
pub const RECENT_EVENTS: usize = 16;

/// How long a trip to the archive takes.
pub const ARCHIVE_LATENCY: Duration = Duration::from_millis(50);

const SHARDS: usize = 16;

type Shard<A> = Mutex<HashMap<AccountId, Stream<A>>>;

/// What a read of a stream's recent history returns.
#[derive(Debug, Clone)]
pub struct History<E> {
    /// The stream's version.
    pub version: u64,
    /// Up to the requested number of the newest events, oldest first.
    pub recent: Vec<Arc<Envelope<E>>>,
}

/// An in-memory event store for aggregates of type `A`.
#[derive(Debug)]
pub struct EventStore<A: Aggregate> {
    shards: Box<[Shard<A>]>,
    /// Events appended so far, all streams.
    appended: std::sync::atomic::AtomicU64,
}

impl<A: Aggregate> Default for EventStore<A> {
    fn default() -> Self {
        EventStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            appended: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler never holds a store lock, but stay usable if one ever does.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<A: Aggregate> EventStore<A> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, stream: AccountId) -> &Shard<A> {
        let mut hasher = DefaultHasher::new();
        stream.hash(&mut hasher);
        &self.shards[hasher.finish() as usize % self.shards.len()]
    }

    /// The stream's current state and version (`A::default()` at version 0 for a stream
    /// that does not exist yet). Traced as `load {Aggregate}` (CLIENT) under the current
    /// handler's span: the state is kept folded (a snapshot), so nothing is replayed.
    pub fn load(&self, stream: AccountId) -> Result<(A, u64), StoreError> {
        let span = cqrs_obs::trace::load_span(aggregate_name::<A>());
        let mut shard = lock(self.shard(stream));
        let loaded = match shard.get_mut(&stream) {
            Some(s) => s
                .check_outage(stream)
                .map(|()| (s.state.clone(), s.version)),
            None => Ok((A::default(), 0)),
        };
        span.snapshot_hit(true);
        span.events_replayed(0);
        if let Err(e) = &loaded {
            span.set_error(e.kind());
        }
        loaded
    }

    /// Appends `events` if the stream is still at `expected` version, stamping each with the
    /// current message context: each event is a new message caused by the one being handled.
    pub fn append(
        &self,
        stream: AccountId,
        expected: u64,
        events: Vec<A::Event>,
    ) -> Result<Vec<Arc<Envelope<A::Event>>>, StoreError> {
        let span = cqrs_obs::trace::send_span(aggregate_name::<A>(), events.len());
        let _apply = tracing::debug_span!("apply_events", %stream, count = events.len()).entered();
        let appended = self.append_traced(stream, expected, events);
        match &appended {
            Ok(envelopes) => {
                self.appended
                    .fetch_add(envelopes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                for envelope in envelopes {
                    let event = A::event_type(&envelope.event);
                    cqrs_obs::metrics::events_appended(aggregate_name::<A>(), event, 1);
                }
            }
            Err(e) => span.set_error(e.kind()),
        }
        appended
    }

    /// Events appended so far, over all streams.
    pub fn appended(&self) -> u64 {
        self.appended.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn append_traced(
        &self,
        stream: AccountId,
        expected: u64,
        events: Vec<A::Event>,
    ) -> Result<Vec<Arc<Envelope<A::Event>>>, StoreError> {
        let context = cqrs_obs::context::current();
        let recorded_at = SystemTime::now();
        let mut shard = lock(self.shard(stream));
        let s = shard.entry(stream).or_default();
        s.check_outage(stream)?;
        if s.version != expected {
            return Err(StoreError::Conflict {
                stream,
                expected,
                actual: s.version,
            });
        }
        let mut appended = Vec::with_capacity(events.len());
        for event in events {
            s.state.apply(&event);
            s.version += 1;
            let mut metadata = HashMap::with_capacity(6);
            if let Some(ctx) = &context {
                cqrs_obs::propagation::inject(&ctx.child(), &mut metadata);
            }
            let envelope = Arc::new(Envelope {
                stream,
                version: s.version,
                event,
                metadata,
                recorded_at,
            });
            if s.recent.len() == RECENT_EVENTS {
                s.recent.pop_front();
            }
            s.recent.push_back(Arc::clone(&envelope));
            appended.push(envelope);
        }
        Ok(appended)
    }

    /// The stream's version and up to `limit` of its newest events.
    pub fn recent(&self, stream: AccountId, limit: usize) -> Result<History<A::Event>, StoreError> {
        let mut shard = lock(self.shard(stream));
        let Some(s) = shard.get_mut(&stream) else {
            return Ok(History {
                version: 0,
                recent: Vec::new(),
            });
        };
        s.check_outage(stream)?;
        let skip = s.recent.len().saturating_sub(limit);
        Ok(History {
            version: s.version,
            recent: s.recent.iter().skip(skip).cloned().collect(),
        })
    }

    /// How many of the stream's events are no longer in memory. Slow: a trip to the archive.
    pub async fn archived_count(&self, stream: AccountId) -> u64 {
        tokio::time::sleep(ARCHIVE_LATENCY).await;
        let shard = lock(self.shard(stream));
        shard
            .get(&stream)
            .map_or(0, |s| s.version - s.recent.len() as u64)
    }

    /// Stands in for the network round trip between reading a stream and appending to it in
    /// a real store: other writers can run in between, which is where conflicts come from.
    pub async fn round_trip(&self) {
        tokio::task::yield_now().await;
    }

    /// Fault injection: the next operation on `stream` fails with
    /// [`StoreError::Unavailable`].
    pub fn fail_next(&self, stream: AccountId) {
        lock(self.shard(stream))
            .entry(stream)
            .or_default()
            .fail_next = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone)]
    struct Counter(u64);

    impl Aggregate for Counter {
        type Event = u64;
        fn apply(&mut self, event: &u64) {
            self.0 += event;
        }
        fn event_type(_: &u64) -> &'static str {
            "Counted"
        }
    }

    #[test]
    fn appends_check_the_expected_version() {
        let store = EventStore::<Counter>::new();
        let id = AccountId(1);
        let appended = store.append(id, 0, vec![2, 3]).unwrap();
        assert_eq!(
            appended.iter().map(|e| e.version).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(store.load(id).unwrap().1, 2);
        assert_eq!(store.load(id).unwrap().0 .0, 5);
        let err = store.append(id, 1, vec![1]).unwrap_err();
        assert_eq!(
            err,
            StoreError::Conflict {
                stream: id,
                expected: 1,
                actual: 2
            }
        );
    }

    #[test]
    fn injected_outage_fails_the_next_operation_only() {
        let store = EventStore::<Counter>::new();
        let id = AccountId(7);
        store.fail_next(id);
        assert_eq!(
            store.load(id).unwrap_err(),
            StoreError::Unavailable { stream: id }
        );
        assert_eq!(store.load(id).unwrap().1, 0);
    }

    #[test]
    fn keeps_only_the_recent_tail_in_memory() {
        let store = EventStore::<Counter>::new();
        let id = AccountId(3);
        for v in 0..(RECENT_EVENTS as u64 + 5) {
            store.append(id, v, vec![1]).unwrap();
        }
        let history = store.recent(id, 4).unwrap();
        assert_eq!(history.version, RECENT_EVENTS as u64 + 5);
        assert_eq!(history.recent.len(), 4);
        assert_eq!(history.recent[3].version, history.version);
    }
}
