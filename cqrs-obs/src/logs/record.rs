//! [`Record`]: the compact form in which the capture layer keeps an event on the application
//! thread — plain values, ranges into one reusable text buffer, the current context's ids and
//! shared references to the enclosing spans' fields. The pipeline thread turns it into a
//! [`LogEntry`]: it allocates the entry's strings, picks out `aggregate_id`, `event_type` and
//! the error, and merges the spans' fields.
//!
//! A record lives in its queue slot and is reused: its buffers keep their capacity, so a
//! steady stream of events allocates nothing on the application thread (errors aside, whose
//! source chain must be formatted while the error is still borrowed). The first fields and
//! the first bytes of text are kept inline, in the slot itself: a typical event writes only
//! the slot's neighbouring cache lines, not buffers scattered over the heap.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::Metadata;

use super::entry::{ErrorInfo, FieldValue, Level, LogEntry, Timestamp};
use crate::context::{Context, Id};
use crate::propagation::{SpanId, TraceId};

/// The fields recorded on a span, shared by the records of the events inside it.
pub(crate) type SpanFields = Arc<[(&'static str, FieldValue)]>;

/// The ids of the context an event was logged in.
pub(crate) struct Ids {
    trace_id: TraceId,
    span_id: SpanId,
    correlation_id: Id,
    causation_id: Option<Id>,
}

impl Ids {
    pub(crate) fn of(c: &Context) -> Ids {
        Ids {
            trace_id: c.trace.trace_id(),
            span_id: c.trace.span_id(),
            correlation_id: c.correlation_id.clone(),
            causation_id: c.causation_id.clone(),
        }
    }
}

/// One recorded field value; text is a range of [`Record::text`].
#[derive(Clone, Copy)]
enum Raw {
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(u32, u32),
    /// Text appended to the message (a `message` field recorded as text).
    Message(u32, u32),
    /// An index into [`Record::errors`].
    Error(u32),
}

/// Fields kept inline before the rest go to the heap.
const INLINE_FIELDS: usize = 2;
/// Bytes of text kept inline before all of it goes to the heap.
const INLINE_TEXT: usize = 40;

/// The recorded fields: the first [`INLINE_FIELDS`] inline, the others in `more`.
struct Fields {
    inline: [(&'static str, Raw); INLINE_FIELDS],
    n: u8,
    more: Vec<(&'static str, Raw)>,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            inline: [("", Raw::Bool(false)); INLINE_FIELDS],
            n: 0,
            more: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, field: (&'static str, Raw)) {
        match self.inline.get_mut(usize::from(self.n)) {
            Some(slot) => {
                *slot = field;
                self.n += 1;
            }
            None => self.more.push(field),
        }
    }

    #[inline]
    fn clear(&mut self) {
        self.n = 0;
        self.more.clear();
    }

    fn iter(&self) -> impl Iterator<Item = &(&'static str, Raw)> {
        self.inline[..usize::from(self.n)]
            .iter()
            .chain(self.more.iter())
    }
}

/// The text of the textual fields, back to back: inline while it fits in [`INLINE_TEXT`]
/// bytes, else all of it in `heap`.
struct Text {
    inline: [u8; INLINE_TEXT],
    /// Bytes used inline; `SPILLED` once the text lives in `heap`.
    len: u8,
    heap: String,
}

const SPILLED: u8 = u8::MAX;

impl Text {
    fn new() -> Text {
        Text {
            inline: [0; INLINE_TEXT],
            len: 0,
            heap: String::new(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self.len {
            SPILLED => self.heap.len(),
            n => usize::from(n),
        }
    }

    #[inline]
    fn clear(&mut self) {
        self.len = 0;
        self.heap.clear();
    }

    #[inline]
    fn push_str(&mut self, s: &str) {
        if self.len != SPILLED {
            let at = usize::from(self.len);
            if let Some(dest) = self.inline.get_mut(at..at + s.len()) {
                dest.copy_from_slice(s.as_bytes());
                // At most INLINE_TEXT (< SPILLED), so the cast keeps the value.
                self.len = (at + s.len()) as u8;
                return;
            }
            let mut heap = std::mem::take(&mut self.heap);
            heap.clear();
            heap.push_str(self.inline_str());
            self.heap = heap;
            self.len = SPILLED;
        }
        self.heap.push_str(s);
    }

    fn inline_str(&self) -> &str {
        // Only whole `&str`s are copied in, so the prefix is UTF-8.
        std::str::from_utf8(&self.inline[..usize::from(self.len)]).unwrap_or_default()
    }

    fn get(&self, start: usize, end: usize) -> &str {
        let all = match self.len {
            SPILLED => self.heap.as_str(),
            _ => self.inline_str(),
        };
        all.get(start..end).unwrap_or_default()
    }
}

impl Write for Text {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// One captured event, before the pipeline turns it into a [`LogEntry`].
pub(crate) struct Record {
    /// The system clock's reading, turned into a [`Timestamp`] by the pipeline.
    pub(crate) time: SystemTime,
    pub(crate) meta: Option<&'static Metadata<'static>>,
    pub(crate) ids: Option<Ids>,
    /// The event's fields in the order recorded.
    fields: Fields,
    /// The text of every textual field, back to back.
    text: Text,
    /// Boxed, being rare: one pointer instead of a vector's three words keeps the record, and
    /// so the slot, within five cache lines.
    #[allow(clippy::box_collection)]
    errors: Option<Box<Vec<ErrorInfo>>>,
    /// The fields of the enclosing spans, innermost first.
    pub(crate) spans: Vec<SpanFields>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            time: SystemTime::UNIX_EPOCH,
            meta: None,
            ids: None,
            fields: Fields::new(),
            text: Text::new(),
            errors: None,
            spans: Vec::new(),
        }
    }
}

/// A text position as stored in a [`Raw`] (a text buffer beyond 4 GiB reads as empty).
fn pos(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Record {
    /// Empties the field list and the text buffer, keeping their capacity.
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.fields.clear();
        self.text.clear();
    }

    /// Appends `s` to the message.
    pub(crate) fn push_message(&mut self, s: &str) {
        let start = pos(self.text.len());
        self.text.push_str(s);
        self.fields
            .push(("message", Raw::Message(start, pos(self.text.len()))));
    }

    fn push_text(&mut self, name: &'static str, message: bool, value: fmt::Arguments<'_>) {
        let start = pos(self.text.len());
        let _ = self.text.write_fmt(value);
        let end = pos(self.text.len());
        let raw = if message {
            Raw::Message(start, end)
        } else {
            Raw::Str(start, end)
        };
        self.fields.push((name, raw));
    }

    fn text(&self, start: u32, end: u32) -> &str {
        self.text.get(start as usize, end as usize)
    }

    /// Fills `e` (a cleared entry) from this record and releases what the record shares
    /// (context ids, span fields, errors), so that the application thread never drops them.
    pub(crate) fn take_into(&mut self, e: &mut LogEntry) {
        e.timestamp = Timestamp::from(self.time);
        match self.meta {
            Some(meta) => {
                e.level = Level::from(meta.level());
                e.target = Cow::Borrowed(meta.target());
            }
            None => {
                e.level = Level::Info;
                e.target = Cow::Borrowed("");
            }
        }
        if let Some(ids) = self.ids.take() {
            e.trace_id = Some(ids.trace_id);
            e.span_id = Some(ids.span_id);
            e.correlation_id = Some(ids.correlation_id);
            e.causation_id = ids.causation_id;
        }
        for &(name, raw) in self.fields.iter() {
            let value = match raw {
                Raw::Bool(v) => FieldValue::Bool(v),
                Raw::I64(v) => FieldValue::I64(v),
                Raw::U64(v) => FieldValue::U64(v),
                Raw::F64(v) => FieldValue::F64(v),
                Raw::Str(start, end) => FieldValue::Str(self.text(start, end).to_owned()),
                Raw::Message(start, end) => {
                    e.message.push_str(self.text(start, end));
                    continue;
                }
                Raw::Error(i) => {
                    let errors = self.errors.as_deref_mut();
                    let Some(slot) = errors.and_then(|errors| errors.get_mut(i as usize)) else {
                        continue;
                    };
                    let info = std::mem::replace(slot, empty_error());
                    if e.error.is_none() || name == "error" {
                        e.error = Some(info);
                    } else {
                        e.fields
                            .push((Cow::Borrowed(name), FieldValue::Str(info.message)));
                    }
                    continue;
                }
            };
            put(e, name, value);
        }
        if let Some(errors) = &mut self.errors {
            errors.clear();
        }
        for fields in self.spans.drain(..) {
            add_span_fields(e, &fields);
        }
    }
}

fn empty_error() -> ErrorInfo {
    ErrorInfo {
        r#type: None,
        message: String::new(),
        chain: Vec::new(),
    }
}

/// Sets an event field on the entry: `aggregate_id` and `event_type` have their own places,
/// a first `error` becomes the entry's error, the rest are metadata.
fn put(e: &mut LogEntry, name: &'static str, value: FieldValue) {
    match name {
        "aggregate_id" => e.aggregate_id = Some(value.to_string()),
        "event_type" => e.event_type = Some(value.to_string()),
        "error" if e.error.is_none() => {
            e.error = Some(ErrorInfo {
                r#type: None,
                message: value.to_string(),
                chain: Vec::new(),
            });
        }
        name => e.fields.push((Cow::Borrowed(name), value)),
    }
}

/// Adds the fields of an enclosing span the entry does not have.
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

/// The type name at the start of an error's `Debug` form (`Io` for `Io(..)`).
fn type_from_debug(debug: &str) -> Option<String> {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    (!name.is_empty() && name.chars().next().is_some_and(char::is_alphabetic)).then_some(name)
}

impl Visit for Record {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        self.push_text(name, name == "message", format_args!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        if name == "message" {
            self.push_message(value);
        } else {
            let start = pos(self.text.len());
            self.text.push_str(value);
            self.fields
                .push((name, Raw::Str(start, pos(self.text.len()))));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.push((field.name(), Raw::I64(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.push((field.name(), Raw::U64(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.push((field.name(), Raw::F64(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.push((field.name(), Raw::Bool(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut chain = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        let errors = self.errors.get_or_insert_with(Box::default);
        errors.push(ErrorInfo {
            r#type: type_from_debug(&format!("{value:?}")),
            message: value.to_string(),
            chain,
        });
        let i = pos(errors.len() - 1);
        self.fields.push((field.name(), Raw::Error(i)));
    }
}

/// Records span fields (on span creation and on `Span::record`).
pub(crate) struct SpanVisitor<'a>(pub(crate) &'a mut Vec<(&'static str, FieldValue)>);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_pieces_join_and_spans_fill_only_missing_fields() {
        let mut r = Record::default();
        r.push_message("over");
        r.push_message("drawn");
        r.fields.push(("amount", Raw::I64(-3)));
        r.fields.push(("b", Raw::Bool(true)));
        let long = "x".repeat(INLINE_TEXT);
        r.push_message(&long);
        r.fields.push(("c", Raw::U64(7)));
        r.spans.push(Arc::from(vec![
            ("amount", FieldValue::I64(9)),
            ("account", FieldValue::Str("a1".into())),
        ]));
        r.spans.push(Arc::from(vec![(
            "aggregate_id",
            FieldValue::Str("acc-1".into()),
        )]));
        let mut e = LogEntry::new(Level::Info, "", String::new());
        r.take_into(&mut e);
        assert_eq!(
            e.message,
            format!("overdrawn{long}"),
            "text spilled to the heap intact"
        );
        assert_eq!(e.field("b"), Some(&FieldValue::Bool(true)));
        assert_eq!(
            e.field("c"),
            Some(&FieldValue::U64(7)),
            "a field beyond the inline ones"
        );
        assert_eq!(
            e.field("amount"),
            Some(&FieldValue::I64(-3)),
            "the event's own wins"
        );
        assert_eq!(e.field("account"), Some(&FieldValue::Str("a1".into())));
        assert_eq!(e.aggregate_id.as_deref(), Some("acc-1"));
        assert!(
            r.spans.is_empty(),
            "the record lets go of the spans' fields"
        );
    }

    #[test]
    fn a_record_and_its_slot_header_fit_five_cache_lines() {
        let size = std::mem::size_of::<Record>();
        assert!(size <= 320 - 16, "{size} bytes");
    }
}
