//! The capture layer: turns each `tracing` event into a [`LogEntry`] on the application
//! thread and hands it to the pipeline through a bounded queue without ever blocking; when
//! the queue is full the entry is dropped and counted.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::entry::{ErrorInfo, FieldValue, Level, LogEntry};
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

/// Fields recorded on a span, kept for the events inside it.
struct SpanFields(Vec<(&'static str, FieldValue)>);

struct Visitor<'a> {
    entry: &'a mut LogEntry,
}

fn type_from_debug(debug: &str) -> Option<String> {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    (!name.is_empty() && name.chars().next().is_some_and(char::is_alphabetic)).then_some(name)
}

impl Visitor<'_> {
    fn put(&mut self, field: &Field, value: FieldValue) {
        match (field.name(), value) {
            ("aggregate_id", v) => self.entry.aggregate_id = Some(v.to_string()),
            ("event_type", v) => self.entry.event_type = Some(v.to_string()),
            ("error", v) if self.entry.error.is_none() => {
                self.entry.error = Some(ErrorInfo {
                    r#type: None,
                    message: v.to_string(),
                    chain: Vec::new(),
                });
            }
            (name, v) => self.entry.fields.push((Cow::Borrowed(name), v)),
        }
    }
}

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.entry.message, "{value:?}");
        } else {
            self.put(field, FieldValue::Str(format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.entry.message.push_str(value);
        } else {
            self.put(field, FieldValue::Str(value.to_owned()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, FieldValue::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, FieldValue::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut chain = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        let info = ErrorInfo {
            r#type: type_from_debug(&format!("{value:?}")),
            message: value.to_string(),
            chain,
        };
        if self.entry.error.is_none() || field.name() == "error" {
            self.entry.error = Some(info);
        } else {
            self.entry
                .fields
                .push((Cow::Borrowed(field.name()), FieldValue::Str(info.message)));
        }
    }
}

struct SpanVisitor<'a>(&'a mut Vec<(&'static str, FieldValue)>);

impl Visit for SpanVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name(), FieldValue::Str(format!("{value:?}"))));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .push((field.name(), FieldValue::Str(value.to_owned())));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), FieldValue::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), FieldValue::U64(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), FieldValue::Bool(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name(), FieldValue::F64(value)));
    }
}

/// Adds the fields of an enclosing span the event does not have.
fn add_span_fields(entry: &mut LogEntry, fields: &[(&'static str, FieldValue)]) {
    for (name, value) in fields {
        match *name {
            "aggregate_id" if entry.aggregate_id.is_none() => {
                entry.aggregate_id = Some(value.to_string())
            }
            "event_type" if entry.event_type.is_none() => {
                entry.event_type = Some(value.to_string())
            }
            "aggregate_id" | "event_type" => {}
            name if entry.field(name).is_none() => {
                entry.fields.push((Cow::Borrowed(name), value.clone()))
            }
            _ => {}
        }
    }
}

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
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let mut added = Vec::new();
        values.record(&mut SpanVisitor(&mut added));
        match ext.get_mut::<SpanFields>() {
            Some(fields) => {
                fields.0.retain(|(k, _)| !added.iter().any(|(a, _)| a == k));
                fields.0.extend(added);
            }
            None => ext.insert(SpanFields(added)),
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
        capture.ring.push_with(|entry| {
            entry.timestamp = super::Timestamp::now();
            entry.level = Level::from(meta.level());
            entry.target = Cow::Borrowed(meta.target());
            event.record(&mut Visitor { entry });
            crate::context::with_current(|c| {
                if let Some(c) = c {
                    entry.trace_id = Some(c.trace.trace_id());
                    entry.span_id = Some(c.trace.span_id());
                    entry.correlation_id = Some(c.correlation_id.clone());
                    entry.causation_id.clone_from(&c.causation_id);
                }
            });
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope {
                    let ext = span.extensions();
                    if let Some(fields) = ext.get::<SpanFields>() {
                        add_span_fields(entry, &fields.0);
                    }
                }
            }
        });
    }
}
