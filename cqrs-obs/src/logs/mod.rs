//! Logs: every `tracing` event becomes a [`LogEntry`] carrying the trace and message context
//! of the code that logged it; a bounded pipeline masks, stores and ships them.
//!
//! * **Capture** ([`layer()`]): on the application thread the layer builds the entry (message,
//!   level, target, fields of the event and its spans, error with its source chain, trace id,
//!   span id, correlation and causation ids of the current [`context`](crate::context)) and
//!   pushes it onto a bounded queue without blocking; a full queue drops the entry and counts
//!   it (`cqrs_obs_dropped_total{signal="logs"}`).
//! * **Pipeline** ([`Pipeline`]): a background thread enriches entries (service name, version,
//!   environment), masks sensitive values ([`Masker`]) before anything leaves the process,
//!   and hands batches to the store, to followers and to the sinks.
//! * **Store** ([`Store`]): append-only segment files with per-block filters, searched
//!   newest first with cursor pagination ([`Query`], [`Page`]), summarised by [`Stats`],
//!   bounded by age and size.
//! * **Sinks** ([`SinkConfig`]): console (human, JSON), file (JSON lines, rotation), Loki
//!   (JSON, protobuf + snappy), Elasticsearch `_bulk` (ECS), OTLP logs (http/protobuf); each
//!   batches, retries with backoff, and counts what it drops.
//! * **Admin**: `GET /logs`, `GET /logs?follow=true` (server-sent events), `GET /logs/stats`.
//!
//! ```
//! use cqrs_obs::logs::{Pipeline, PipelineConfig, Query, StoreConfig};
//! use tracing_subscriber::layer::SubscriberExt;
//! # let dir = std::env::temp_dir().join(format!("cqrs-obs-logs-doc-{}", std::process::id()));
//! let pipeline = Pipeline::start(PipelineConfig::new("bank").store(StoreConfig::new(&dir)))?;
//! let subscriber = tracing_subscriber::registry().with(pipeline.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::warn!(account = "acc-1", password = "hunter2", "overdrawn");
//! });
//! pipeline.flush(std::time::Duration::from_secs(5));
//! let page = pipeline.search(&Query { text: Some("overdrawn".into()), ..Query::default() })?;
//! assert_eq!(page.entries[0].field("password").unwrap().to_string(), "***");
//! # drop(pipeline); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use axum::Router;

mod api;
pub mod console;
mod entry;
mod layer;
mod mask;
mod pipeline;
mod query;
mod record;
mod ring;
mod settings;
mod sink;
mod stats;
pub mod store;
mod time;

pub use entry::{ErrorInfo, FieldValue, Level, LogEntry};
pub use layer::{layer, LogLayer};
pub use mask::{Masker, DEFAULT_SENSITIVE, MASK};
pub use pipeline::{Pipeline, PipelineStats};
pub use query::{Cursor, Page, Query, QueryError, DEFAULT_LIMIT, MAX_LIMIT};
pub use settings::{LogsError, PipelineConfig, DEFAULT_QUEUE};
pub use sink::{ConsoleFormat, FileConfig, LokiFormat, SinkConfig, SinkKind, SinkStats};
pub use stats::{normalise_message, ErrorPattern, Stats, TOP_PATTERNS};
pub use store::{Store, StoreConfig, StoreError};
pub(crate) use time::civil_from_days;
pub use time::{parse_duration, TimeError, Timestamp};

/// The admin routes of this module (`/logs`, `/logs/stats`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    api::routes()
}
