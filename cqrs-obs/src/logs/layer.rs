//! The capture layer: records each `tracing` event on the application thread in a compact
//! [`Record`](super::record::Record) and hands it to the pipeline through a bounded queue
//! without ever blocking (the pipeline thread builds the [`LogEntry`](super::LogEntry)); when
//! the queue is full the event is dropped and counted.

use std::cell::Cell;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::record::{Ids, SpanFields, SpanVisitor};
use super::ring::Ring;

/// The application side of a pipeline: the ring of entry slots, and what wakes the
/// pipeline thread for a flush.
#[derive(Debug)]
pub(crate) struct Capture {
    pub(crate) ring: Ring,
    /// Callers of `flush` waiting for the pipeline.
    pub(crate) flushes: Mutex<Vec<std::sync::mpsc::Sender<()>>>,
    /// The pipeline thread, to wake it.
    pub(crate) consumer: OnceLock<std::thread::Thread>,
}

impl Capture {
    pub(crate) fn new(capacity: usize) -> Capture {
        Capture {
            ring: Ring::new(capacity),
            flushes: Mutex::new(Vec::new()),
            consumer: OnceLock::new(),
        }
    }

    /// Wakes the pipeline thread.
    pub(crate) fn wake(&self) {
        if let Some(thread) = self.consumer.get() {
            thread.unpark();
        }
    }
}

/// The pipeline started by `init()`, which [`layer`] feeds.
pub(crate) static GLOBAL: OnceLock<Arc<Capture>> = OnceLock::new();

thread_local! {
    /// Set on the pipeline's own threads: what they log never re-enters the pipeline.
    static SUPPRESSED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one of the pipeline's: its own events are not captured.
pub(crate) fn suppress_this_thread() {
    SUPPRESSED.with(|s| s.set(true));
}

/// A `tracing` layer that captures events into the log pipeline.
///
/// `init()` installs it; add it yourself when you bring your own subscriber
/// (`Console::Off`). Before `init()` (or with the store and sinks off) it captures nothing.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(cqrs_obs::logs::layer());
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone)]
pub struct LogLayer {
    capture: Option<Arc<Capture>>,
}

/// The capture layer feeding the pipeline that `init()` starts.
pub fn layer() -> LogLayer {
    LogLayer { capture: None }
}

impl LogLayer {
    pub(crate) fn with_capture(capture: Arc<Capture>) -> LogLayer {
        LogLayer {
            capture: Some(capture),
        }
    }

    #[inline]
    fn capture(&self) -> Option<&Capture> {
        match &self.capture {
            Some(c) => Some(c),
            None => GLOBAL.get().map(|c| &**c),
        }
    }
}

/// The fields recorded on a span, kept (shared) for the events inside it.
struct SpanFieldsExt(SpanFields);

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.fields().is_empty() || self.capture().is_none() {
            return;
        }
        let mut fields = Vec::new();
        attrs.record(&mut SpanVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut()
                .insert(SpanFieldsExt(SpanFields::from(fields)));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let mut added = Vec::new();
        values.record(&mut SpanVisitor(&mut added));
        match ext.get_mut::<SpanFieldsExt>() {
            Some(fields) => {
                // Events already captured keep the fields they saw.
                let mut merged: Vec<_> = fields
                    .0
                    .iter()
                    .filter(|(k, _)| !added.iter().any(|(a, _)| a == k))
                    .cloned()
                    .collect();
                merged.extend(added);
                fields.0 = SpanFields::from(merged);
            }
            None => ext.insert(SpanFieldsExt(SpanFields::from(added))),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(capture) = self.capture() else {
            return;
        };
        if SUPPRESSED.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        // Only what must be read now is read here; the pipeline thread builds the entry.
        capture.ring.push_with(|record| {
            record.time = std::time::SystemTime::now();
            record.meta = Some(meta);
            event.record(record);
            record.ids = crate::context::with_current(|c| c.map(Ids::of));
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope {
                    if let Some(fields) = span.extensions().get::<SpanFieldsExt>() {
                        record.spans.push(fields.0.clone());
                    }
                }
            }
        });
    }
}
