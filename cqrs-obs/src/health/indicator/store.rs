//! Storage: a database (user-supplied connection and query tests) and the event store (a
//! probe trait for an append/read round trip).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::health::{HealthFuture, HealthIndicator, HealthStatus, IntoHealthStatus, Status};

type Test = Arc<dyn Fn() -> HealthFuture<'static> + Send + Sync>;

fn test<F, Fut>(f: F) -> Test
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoHealthStatus,
{
    Arc::new(move || {
        let fut = f();
        Box::pin(async move { fut.await.into_health_status() })
    })
}

/// A database: a connection test, then (if it passes) an optional query test. Each closure
/// returns a future of anything a health check may return (`bool`, `Result<_, E>`, ...).
/// DOWN with `connection: ..` or `query: ..` as the reason when one fails.
///
/// ```
/// use cqrs_obs::health::indicator::Database;
/// let db = Database::new(|| async { Ok::<(), std::io::Error>(()) })
///     .query(|| async { 1 + 1 == 2 });
/// # let _ = db;
/// ```
#[derive(Clone)]
pub struct Database {
    connection: Test,
    query: Option<Test>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("query", &self.query.is_some())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// With a connection test.
    pub fn new<F, Fut>(connection: F) -> Database
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoHealthStatus,
    {
        Database {
            connection: test(connection),
            query: None,
        }
    }

    /// With a query test, run after the connection test passes.
    pub fn query<F, Fut>(mut self, query: F) -> Database
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoHealthStatus,
    {
        self.query = Some(test(query));
        self
    }

    async fn status(&self) -> HealthStatus {
        let connection = (self.connection)().await;
        if connection.status() != Status::Up {
            let reason = connection.reason().unwrap_or("failed");
            return HealthStatus::down_because(format!("connection: {reason}"))
                .with_detail("connection", connection.status().as_str());
        }
        let mut health = HealthStatus::up().with_detail("connection", "UP");
        if let Some(query) = &self.query {
            let query = query().await;
            if query.status() != Status::Up {
                let reason = query.reason().unwrap_or("failed");
                health = HealthStatus::down_because(format!("query: {reason}"))
                    .with_detail("connection", "UP");
            }
            health = health.with_detail("query", query.status().as_str());
        }
        health
    }
}

impl HealthIndicator for Database {
    fn check(&self) -> HealthFuture<'_> {
        Box::pin(self.status())
    }
}

/// The future of [`EventStoreProbe::round_trip`].
pub type ProbeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'a>>;

/// What an event store implements to be probed: append a probe event to a dedicated stream
/// and read it back.
///
/// ```
/// use cqrs_obs::health::indicator::{EventStore, EventStoreProbe, ProbeFuture};
///
/// struct InMemory;
/// impl EventStoreProbe for InMemory {
///     fn round_trip(&self) -> ProbeFuture<'_> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// let indicator = EventStore::new(InMemory);
/// # let _ = indicator;
/// ```
pub trait EventStoreProbe: Send + Sync + 'static {
    /// Appends a probe event and reads it back; `Err` says what failed.
    fn round_trip(&self) -> ProbeFuture<'_>;
}

/// The event store: UP when an [`EventStoreProbe`] round trip succeeds, DOWN with the error
/// otherwise. Observes `roundTrip` in `ms`.
pub struct EventStore<P> {
    probe: P,
}

impl<P> std::fmt::Debug for EventStore<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore").finish_non_exhaustive()
    }
}

impl<P: EventStoreProbe> EventStore<P> {
    /// An indicator over `probe`.
    pub fn new(probe: P) -> EventStore<P> {
        EventStore { probe }
    }
}

impl<P: EventStoreProbe> HealthIndicator for EventStore<P> {
    fn check(&self) -> HealthFuture<'_> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.probe.round_trip().await;
            let millis = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            match result {
                Ok(()) => HealthStatus::up(),
                Err(e) => HealthStatus::down_because(format!("round trip: {e}")),
            }
            .with_observed("roundTrip", millis, "ms")
        })
    }
}
