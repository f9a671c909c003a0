//! Instrumentation of [cqrs-es](https://docs.rs/cqrs-es) applications (feature `cqrs-es`).
//!
//! cqrs-es has no tracing or metrics of its own. Wrap two things and its commands, loads,
//! appends and queries are observed like annotated handlers:
//!
//! - the event store, in an [`ObservedStore`]: aggregate loads get a `load {Aggregate}` span,
//!   `cqrs_aggregate_load_duration_seconds` and `cqrs_aggregate_events_replayed`; commits get
//!   a `send {Aggregate}` span and `cqrs_events_appended_total{aggregate, event}`, and the
//!   committed events' metadata carries the command's trace context, correlation id,
//!   causation id and a message id (cqrs-es gives one metadata map per commit, so the events
//!   of one commit share their ids);
//! - each query, with [`observe`]: every dispatched event becomes one `process {Event}`
//!   event-handler call (a new trace linked to the command's span, see
//!   [`EventParent`](crate::trace::EventParent)) recorded under the query's name, and
//!   `cqrs_event_end_to_end_seconds{projection}` measures append → projected.
//!
//! Then run commands through [`ObservedExecute::execute_observed`] (or
//! [`execute_observed_with_metadata`](ObservedExecute::execute_observed_with_metadata))
//! instead of `execute`: the call is a command handler call (`handle {Command}` span,
//! `cqrs_commands_total`, the SLO windows) whose outcome comes from the
//! [`AggregateError`]: `UserError` is `rejected`, `AggregateConflict` is `conflict`, every
//! other variant is `error` (see [`outcome`]).
//!
//! ```
//! use cqrs_es::mem_store::MemStore;
//! use cqrs_obs::cqrs_es::{self as obs, ObservedExecute, ObservedStore};
//! # use cqrs_es::{event_sink::EventSink, Aggregate, DomainEvent, EventEnvelope, Query};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Debug, Default, Serialize, Deserialize)] struct Counter { n: u64 }
//! # #[derive(Debug, Deserialize)] enum CounterCommand { Add }
//! # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)] enum CounterEvent { Added }
//! # impl DomainEvent for CounterEvent {
//! #     fn event_type(&self) -> String { "Added".into() }
//! #     fn event_version(&self) -> String { "1".into() }
//! # }
//! # #[derive(Debug, thiserror::Error)] #[error("no")] struct CounterError;
//! # impl Aggregate for Counter {
//! #     const TYPE: &'static str = "Counter";
//! #     type Command = CounterCommand; type Event = CounterEvent; type Error = CounterError;
//! #     type Services = ();
//! #     async fn handle(&mut self, _: CounterCommand, _: &(), sink: &EventSink<Self>) -> Result<(), CounterError> {
//! #         sink.write(CounterEvent::Added, self).await; Ok(())
//! #     }
//! #     fn apply(&mut self, _: CounterEvent) { self.n += 1; }
//! # }
//! # struct Totals;
//! # #[async_trait::async_trait] impl Query<Counter> for Totals {
//! #     async fn dispatch(&self, _: &str, _: &[EventEnvelope<Counter>]) {}
//! # }
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let store = ObservedStore::new(MemStore::<Counter>::default());
//! let cqrs = cqrs_es::CqrsFramework::new(store, vec![obs::observe("totals", Totals)], ());
//! cqrs.execute_observed("counter-1", CounterCommand::Add).await.unwrap();
//! # });
//! ```
//!
//! `#[command_handler]` may also annotate `Aggregate::handle` itself (an `async fn` in the
//! trait impl). Give it `aggregate = "<Aggregate::TYPE>"`: `execute_observed` then records the
//! call under that handler's name, and the annotated `handle` inside it records nothing more,
//! so each command is counted once. Called through plain `execute`, the annotated `handle`
//! records the call itself.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime};

use ::cqrs_es::mem_store::MemStoreAggregateContext;
use ::cqrs_es::persist::EventStoreAggregateContext;
use ::cqrs_es::{
    Aggregate, AggregateError, CqrsFramework, DomainEvent, EventEnvelope, EventStore, Query,
};

use crate::context::WithContext;
use crate::handler::{
    self, AsyncCallGuard, CallGuard, HandlerKind, HandlerMeta, HandlerSite, Outcome, Parent,
};
use crate::local::LOCAL;

/// The outcome a failed `execute` is recorded with: `UserError` (the aggregate refused the
/// command) is [`Outcome::Rejected`], `AggregateConflict` (optimistic concurrency) is
/// [`Outcome::Conflict`], and the store's failures (`DatabaseConnectionError`,
/// `DeserializationError`, `UnexpectedError`) are [`Outcome::Error`].
///
/// ```
/// use cqrs_es::AggregateError;
/// use cqrs_obs::{cqrs_es::outcome, Outcome};
/// let conflict: AggregateError<std::io::Error> = AggregateError::AggregateConflict;
/// assert_eq!(outcome(&conflict), Outcome::Conflict);
/// ```
pub fn outcome<E: std::error::Error>(error: &AggregateError<E>) -> Outcome {
    match error {
        AggregateError::UserError(_) => Outcome::Rejected,
        AggregateError::AggregateConflict => Outcome::Conflict,
        AggregateError::DatabaseConnectionError(_)
        | AggregateError::DeserializationError(_)
        | AggregateError::UnexpectedError(_) => Outcome::Error,
    }
}

/// The `error.type` of a failed load or commit span.
fn error_type<E: std::error::Error>(error: &AggregateError<E>) -> &'static str {
    match error {
        AggregateError::UserError(_) => "user_error",
        AggregateError::AggregateConflict => "aggregate_conflict",
        AggregateError::DatabaseConnectionError(_) => "database_connection_error",
        AggregateError::DeserializationError(_) => "deserialization_error",
        AggregateError::UnexpectedError(_) => "unexpected_error",
    }
}

/// What a loaded aggregate context tells about the load: the sequence it reached and whether
/// it started from a snapshot. Implemented for the contexts of cqrs-es's `MemStore` and
/// `PersistedEventStore` (which the postgres, mysql and dynamo stores use); implement it for
/// the context of a store of your own.
pub trait LoadedContext {
    /// The sequence number of the last event applied (0 for a new aggregate).
    fn sequence(&self) -> usize;
    /// Whether the load started from a snapshot rather than from the first event.
    fn started_from_snapshot(&self) -> bool {
        false
    }
}

impl<A: Aggregate> LoadedContext for MemStoreAggregateContext<A> {
    fn sequence(&self) -> usize {
        self.current_sequence
    }
}

impl<A: Aggregate> LoadedContext for EventStoreAggregateContext<A> {
    fn sequence(&self) -> usize {
        self.current_sequence
    }

    fn started_from_snapshot(&self) -> bool {
        self.current_snapshot.is_some()
    }
}

/// An [`EventStore`] that observes the store it wraps (see the [module docs](self)).
#[derive(Debug)]
pub struct ObservedStore<A, ES> {
    inner: ES,
    metrics: StoreMetrics,
    aggregate: PhantomData<fn() -> A>,
}

/// The store's metric handles, resolved on first use (a label lookup per record would cost
/// more than the rest of the decorator).
#[derive(Debug, Default)]
struct StoreMetrics {
    load_duration: OnceLock<metrics::Histogram>,
    replayed: OnceLock<metrics::Histogram>,
    appended: Cache<&'static str, metrics::Counter>,
}

impl StoreMetrics {
    fn loaded(&self, aggregate: &'static str, duration: Duration, replayed: Option<u64>) {
        use crate::metrics::names::{self, label};
        self.load_duration
            .get_or_init(|| {
                metrics::histogram!(names::AGGREGATE_LOAD_DURATION, label::AGGREGATE => aggregate)
            })
            .record(duration.as_secs_f64());
        if let Some(events) = replayed {
            self.replayed
                .get_or_init(|| {
                    metrics::histogram!(names::AGGREGATE_EVENTS_REPLAYED, label::AGGREGATE => aggregate)
                })
                .record(events as f64);
        }
    }

    fn appended(&self, aggregate: &'static str, event: &str) {
        use crate::metrics::names::{self, label};
        let counter = self.appended.get_or_insert_with(event, |_| {
            let event = intern(event);
            let counter = metrics::counter!(
                names::EVENTS_APPENDED_TOTAL,
                label::AGGREGATE => aggregate,
                label::EVENT => event
            );
            (event, counter)
        });
        counter.increment(1);
    }
}

impl<A, ES: Clone> Clone for ObservedStore<A, ES> {
    fn clone(&self) -> Self {
        ObservedStore {
            inner: self.inner.clone(),
            metrics: StoreMetrics::default(),
            aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate, ES: EventStore<A>> ObservedStore<A, ES> {
    /// Wraps `inner`.
    pub fn new(inner: ES) -> Self {
        ObservedStore {
            inner,
            metrics: StoreMetrics::default(),
            aggregate: PhantomData,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &ES {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> ES {
        self.inner
    }
}

impl<A, ES> EventStore<A> for ObservedStore<A, ES>
where
    A: Aggregate,
    ES: EventStore<A>,
    ES::AC: LoadedContext + Send,
{
    type AC = ES::AC;

    fn load_events(
        &self,
        aggregate_id: &str,
    ) -> impl Future<Output = Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>>> + Send {
        self.inner.load_events(aggregate_id)
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        let span = crate::trace::load_span(A::TYPE);
        let started = Instant::now();
        let loaded = self.inner.load_aggregate(aggregate_id).await;
        let elapsed = started.elapsed();
        match &loaded {
            Ok(context) => {
                let snapshot = context.started_from_snapshot();
                span.snapshot_hit(snapshot);
                // After a snapshot the store does not say how many events followed it.
                let replayed = (!snapshot).then(|| context.sequence() as u64);
                if let Some(events) = replayed {
                    span.events_replayed(events);
                }
                self.metrics.loaded(A::TYPE, elapsed, replayed);
            }
            Err(error) => span.set_error(error_type(error)),
        }
        loaded
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        mut metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let span = crate::trace::send_span(A::TYPE, events.len());
        if let Some(message) = crate::context::with_current(|c| c.map(|c| c.child())) {
            metadata.reserve(6);
            crate::propagation::inject(&message, &mut metadata);
        }
        let committed = self.inner.commit(events, context, metadata).await;
        match &committed {
            Ok(envelopes) => {
                for envelope in envelopes {
                    self.metrics
                        .appended(A::TYPE, &envelope.payload.event_type());
                }
            }
            Err(error) => span.set_error(error_type(error)),
        }
        committed
    }
}

/// A [`Query`] whose dispatches are observed (see [`observe`]).
pub struct ObservedQuery<A, Q> {
    name: &'static str,
    inner: Q,
    /// The handler site of each event type seen.
    sites: Cache<&'static str, &'static HandlerSite>,
    end_to_end: OnceLock<metrics::Histogram>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A, Q> ObservedQuery<A, Q> {
    fn site(&self, event: &str) -> &'static HandlerSite {
        self.sites.get_or_insert_with(event, |_| {
            let event = intern(event);
            let found = site(HandlerMeta {
                kind: HandlerKind::Event,
                name: self.name,
                message: event,
                aggregate: None,
                projection: Some(self.name),
                saga: None,
                module: module_path!(),
                file: file!(),
                line: line!(),
                is_async: true,
            });
            (event, found)
        })
    }

    fn projected(&self, produced_at_ms: u64) {
        use crate::metrics::names::{self, label};
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let age = now.saturating_sub(Duration::from_millis(produced_at_ms));
        let name = self.name;
        self.end_to_end
            .get_or_init(|| metrics::histogram!(names::EVENT_END_TO_END, label::PROJECTION => name))
            .record(age.as_secs_f64());
    }
}

impl<A, Q: std::fmt::Debug> std::fmt::Debug for ObservedQuery<A, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedQuery")
            .field("name", &self.name)
            .field("inner", &self.inner)
            .finish()
    }
}

/// Wraps `query` so that each event it is dispatched is one event-handler call named `name`
/// (the `handler` and `projection` labels, and the projection of the end-to-end histogram),
/// boxed as `CqrsFramework::new` takes it.
///
/// The wrapped query is dispatched one event at a time, each event in its own call, so that
/// every event gets its own span, outcome and end-to-end latency. `name` should be a constant
/// (it is a metric label).
pub fn observe<A, Q>(name: &'static str, query: Q) -> Box<dyn Query<A>>
where
    A: Aggregate + 'static,
    Q: Query<A> + 'static,
{
    Box::new(ObservedQuery {
        name,
        inner: query,
        sites: Cache::new(),
        end_to_end: OnceLock::new(),
        aggregate: PhantomData,
    })
}

#[async_trait::async_trait]
impl<A, Q> Query<A> for ObservedQuery<A, Q>
where
    A: Aggregate + 'static,
    Q: Query<A>,
{
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<A>]) {
        for event in events {
            let site = self.site(&event.payload.event_type());
            let produced_at_ms = event
                .metadata
                .get(crate::propagation::PRODUCED_AT)
                .and_then(|v| v.parse::<u64>().ok());
            let parent = crate::__private::parent_from_metadata(&event.metadata);
            let mut guard: AsyncCallGuard = CallGuard::enter_async(site, parent);
            let one = std::slice::from_ref(event);
            WithContext::new(guard.take_context(), self.inner.dispatch(aggregate_id, one)).await;
            guard.finish(Outcome::Ok);
            drop(guard);
            if let Some(ms) = produced_at_ms {
                self.projected(ms);
            }
        }
    }
}

/// Runs cqrs-es commands as observed command handler calls (see the [module docs](self)).
pub trait ObservedExecute<A: Aggregate> {
    /// `execute`, observed.
    fn execute_observed(
        &self,
        aggregate_id: &str,
        command: A::Command,
    ) -> impl Future<Output = Result<(), AggregateError<A::Error>>> + Send;

    /// `execute_with_metadata`, observed: `metadata` reaches the committed events together
    /// with the ids and trace context the store adds.
    fn execute_observed_with_metadata(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> impl Future<Output = Result<(), AggregateError<A::Error>>> + Send;
}

impl<A, ES> ObservedExecute<A> for CqrsFramework<A, ES>
where
    A: Aggregate + 'static,
    A::Command: Send,
    ES: EventStore<A>,
    ES::AC: Send,
{
    fn execute_observed(
        &self,
        aggregate_id: &str,
        command: A::Command,
    ) -> impl Future<Output = Result<(), AggregateError<A::Error>>> + Send {
        self.execute_observed_with_metadata(aggregate_id, command, HashMap::new())
    }

    async fn execute_observed_with_metadata(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<A::Error>> {
        let site = command_site::<A>();
        let mut guard: AsyncCallGuard = CallGuard::enter_async(site, Parent::Current);
        let body = async {
            crate::trace::record_aggregate_id(aggregate_id);
            self.execute_with_metadata(aggregate_id, command, metadata)
                .await
        };
        let out = WithContext::new(guard.take_context(), Absorbing::new(site, body)).await;
        guard.finish(match &out {
            Ok(()) => Outcome::Ok,
            Err(error) => outcome(error),
        });
        out
    }
}

/// The command site of aggregate `A`: the `#[command_handler(aggregate = "<A::TYPE>")]` of
/// its `handle` when there is one, else a site registered for it.
fn command_site<A: Aggregate + 'static>() -> &'static HandlerSite {
    static SITES: Cache<std::any::TypeId, &'static HandlerSite> = Cache::new();
    let key = std::any::TypeId::of::<A>();
    SITES.get_or_insert_with(&key, |_| (key, find_command_site::<A>()))
}

fn find_command_site<A: Aggregate + 'static>() -> &'static HandlerSite {
    let annotated = handler::registered().find(|s| {
        let meta = s.meta();
        meta.kind == HandlerKind::Command && meta.aggregate == Some(A::TYPE)
    });
    if let Some(site) = annotated {
        return site;
    }
    site(HandlerMeta {
        kind: HandlerKind::Command,
        name: A::TYPE,
        message: short_type_name::<A::Command>(),
        aggregate: Some(A::TYPE),
        projection: None,
        saga: None,
        module: module_path!(),
        file: file!(),
        line: line!(),
        is_async: true,
    })
}

/// The site registered for (kind, name, message), registered on first use: one per handler
/// and message type however many wrappers name it, so no series is exposed twice.
fn site(meta: HandlerMeta) -> &'static HandlerSite {
    type Key = (HandlerKind, &'static str, &'static str);
    static SITES: Cache<Key, &'static HandlerSite> = Cache::new();
    let key = (meta.kind, meta.name, meta.message);
    SITES.get_or_insert_with(&key, |_| (key, handler::register(meta)))
}

/// Entries a [`Cache`] keeps; [`intern`] maps further names to `other`, so that a faulty
/// `event_type()` cannot grow memory or metric series without bound.
const MAX_NAMES: usize = 1024;

/// A small read-mostly map: a linear scan under the read lock, and on a miss the entry made
/// and added under the write lock (at most [`MAX_NAMES`] entries; once full, a miss makes its
/// value each time without keeping it).
#[derive(Debug)]
struct Cache<K, V>(RwLock<Vec<(K, V)>>);

impl<K, V: Clone> Cache<K, V> {
    const fn new() -> Self {
        Cache(RwLock::new(Vec::new()))
    }

    /// The value of `key`, or the one `make` returns with the key to keep it under; `make` is
    /// told whether there is room to keep it.
    fn get_or_insert_with<Q>(&self, key: &Q, make: impl FnOnce(bool) -> (K, V)) -> V
    where
        Q: ?Sized,
        K: std::borrow::Borrow<Q>,
        Q: PartialEq,
    {
        let find = |entries: &[(K, V)]| {
            entries
                .iter()
                .find(|(k, _)| k.borrow() == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(found) = find(&self.0.read().unwrap_or_else(PoisonError::into_inner)) {
            return found;
        }
        let mut entries = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&entries) {
            return found;
        }
        let room = entries.len() < MAX_NAMES;
        let (k, v) = make(room);
        if room {
            entries.push((k, v.clone()));
        }
        v
    }
}

impl<K, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Cache::new()
    }
}

/// A `'static` copy of an event type name (label values must be `'static`).
fn intern(name: &str) -> &'static str {
    static NAMES: Cache<&'static str, &'static str> = Cache::new();
    NAMES.get_or_insert_with(name, |room| {
        if !room {
            return ("other", "other");
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        (leaked, leaked)
    })
}

/// The last path segment of a type's name, without generic arguments.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

pin_project_lite::pin_project! {
    /// Polls `inner` with `site` absorbing: an annotated handler of that site called inside
    /// (the aggregate's `handle`) records nothing, the wrapper records the call.
    struct Absorbing<F> {
        site: usize,
        #[pin]
        inner: F,
    }
}

impl<F> Absorbing<F> {
    fn new(site: &'static HandlerSite, inner: F) -> Self {
        Absorbing {
            site: handler::site_addr(site),
            inner,
        }
    }
}

impl<F: Future> Future for Absorbing<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = LOCAL.try_with(|l| l.absorbing.set(self.0));
            }
        }
        let this = self.project();
        let previous = LOCAL.try_with(|l| l.absorbing.replace(*this.site));
        let _restore = previous.ok().map(Restore);
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aggregate_error_has_its_outcome() {
        type E = AggregateError<std::io::Error>;
        let boxed = || Box::new(std::io::Error::other("x"));
        let cases: [(E, Outcome); 5] = [
            (AggregateError::UserError(*boxed()), Outcome::Rejected),
            (AggregateError::AggregateConflict, Outcome::Conflict),
            (
                AggregateError::DatabaseConnectionError(boxed()),
                Outcome::Error,
            ),
            (
                AggregateError::DeserializationError(boxed()),
                Outcome::Error,
            ),
            (AggregateError::UnexpectedError(boxed()), Outcome::Error),
        ];
        for (error, expected) in cases {
            assert_eq!(outcome(&error), expected, "{error:?}");
        }
    }

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(
            short_type_name::<std::collections::HashMap<u8, u8>>(),
            "HashMap"
        );
        assert_eq!(short_type_name::<u32>(), "u32");
    }

    #[test]
    fn interned_names_are_shared_and_bounded() {
        let a = intern("Deposited");
        let b = intern("Deposited");
        assert!(std::ptr::eq(a, b));
        for i in 0..MAX_NAMES + 10 {
            intern(&format!("type-{i}"));
        }
        assert_eq!(intern("never-seen-before"), "other");
        assert_eq!(intern("Deposited"), "Deposited");
    }

    #[test]
    fn one_site_per_handler_and_message() {
        let meta = HandlerMeta {
            kind: HandlerKind::Event,
            name: "site_test_projection",
            message: "Opened",
            aggregate: None,
            projection: Some("site_test_projection"),
            saga: None,
            module: module_path!(),
            file: file!(),
            line: line!(),
            is_async: true,
        };
        assert!(std::ptr::eq(site(meta), site(meta)));
        let listed = handler::registered()
            .filter(|s| s.meta().name == "site_test_projection")
            .count();
        assert_eq!(listed, 1);
    }
}
