//! Carrying the message context in event metadata.
//!
//! The ids travel under the keys [`CORRELATION_ID`], [`CAUSATION_ID`] and [`MESSAGE_ID`].
//! Any metadata type works through the [`Carrier`] (read) and [`CarrierMut`] (write) traits;
//! `HashMap<String, String>` and `BTreeMap<String, String>` implement both.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::context::{Context, Id};

pub mod baggage;
pub mod traceparent;
pub mod tracestate;

pub use baggage::{Baggage, BaggageError};
pub use traceparent::{SpanId, TraceFlags, TraceId, TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError};

/// Metadata key of the correlation id.
pub const CORRELATION_ID: &str = "correlation_id";
/// Metadata key of the causation id.
pub const CAUSATION_ID: &str = "causation_id";
/// Metadata key of the message id.
pub const MESSAGE_ID: &str = "message_id";

/// Read access to a message's string metadata: what `metadata = ..` on an event handler needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not message metadata: it does not implement `Carrier`",
    label = "`metadata = ..` needs a `Carrier`, such as a `HashMap<String, String>`",
    note = "implement `cqrs_obs::propagation::Carrier` for `{Self}` to read ids from it"
)]
pub trait Carrier {
    /// The value stored under `key`.
    fn get(&self, key: &str) -> Option<&str>;
}

/// Write access to a message's string metadata: what [`inject`] needs.
pub trait CarrierMut: Carrier {
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&mut self, key: &str, value: String);
}

impl<S: BuildHasher> Carrier for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }
}

impl<S: BuildHasher> CarrierMut for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }
}

impl CarrierMut for BTreeMap<String, String> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl<C: Carrier + ?Sized> Carrier for &C {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

impl<C: Carrier + ?Sized> Carrier for &mut C {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

impl<C: CarrierMut + ?Sized> CarrierMut for &mut C {
    fn set(&mut self, key: &str, value: String) {
        (**self).set(key, value)
    }
}

/// Metadata key of the time the message was produced, in milliseconds since the Unix epoch
/// (what decides whether an event is young enough to continue its producer's trace).
pub const PRODUCED_AT: &str = "produced_at";

/// Writes the context's ids and W3C trace context into `carrier` (the metadata of a message
/// being produced): `correlation_id`, `causation_id`, `message_id`, `traceparent`,
/// `tracestate` (when there is one) and `produced_at`.
///
/// ```
/// use std::collections::HashMap;
/// use cqrs_obs::{context::Context, propagation};
///
/// let ctx = Context::new_root();
/// let mut metadata = HashMap::new();
/// propagation::inject(&ctx, &mut metadata);
/// assert_eq!(metadata["correlation_id"], ctx.correlation_id.to_string());
/// assert_eq!(metadata["traceparent"], ctx.trace.to_string());
/// let extracted = propagation::extract(&metadata);
/// assert_eq!(extracted.trace, Some(ctx.trace));
/// assert_eq!(extracted.into_context().correlation_id, ctx.correlation_id);
/// ```
pub fn inject<C: CarrierMut + ?Sized>(ctx: &Context, carrier: &mut C) {
    crate::trace::journal_record_sent(ctx);
    carrier.set(CORRELATION_ID, ctx.correlation_id.to_string());
    if let Some(causation) = &ctx.causation_id {
        carrier.set(CAUSATION_ID, causation.to_string());
    }
    if let Some(message) = &ctx.message_id {
        carrier.set(MESSAGE_ID, message.to_string());
    }
    carrier.set(
        traceparent::HEADER,
        ctx.trace.to_header().as_str().to_owned(),
    );
    if let Some(state) = ctx.tracestate.as_deref().filter(|s| !s.is_empty()) {
        carrier.set(tracestate::HEADER, state.to_string());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    carrier.set(PRODUCED_AT, now.map_or(0, |d| d.as_millis()).to_string());
}

/// Ids and trace context read from a message's metadata; any of them may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extracted {
    /// `correlation_id`
    pub correlation_id: Option<Id>,
    /// `causation_id`
    pub causation_id: Option<Id>,
    /// `message_id`
    pub message_id: Option<Id>,
    /// `traceparent`, when present and valid (an invalid one is ignored).
    pub trace: Option<TraceParent>,
    /// `tracestate`, when present, valid and `traceparent` is valid too.
    pub tracestate: Option<TraceState>,
    /// `produced_at`, in milliseconds since the Unix epoch.
    pub produced_at_ms: Option<u64>,
}

impl Extracted {
    /// The context of handling this message: its correlation id (or the current one, or a new
    /// one), its own message and causation ids, and a new trace (linked to the producer's).
    pub fn into_context(mut self) -> Context {
        crate::local::LOCAL.with(|local| {
            crate::context::with_current(|current| {
                self.take_handler_context(local, current, false).0
            })
        })
    }

    /// The handler's context and where its span's parent comes from: a child of the
    /// producer's span when `child` is allowed and a trace context was received, else a new
    /// trace linked to the producer's (or a plain new trace when nothing was received).
    /// Moves the ids out; `trace` stays, for the span's parent or link.
    pub(crate) fn take_handler_context(
        &mut self,
        local: &crate::local::Local,
        current: Option<&Context>,
        child: bool,
    ) -> (Context, crate::trace::Origin) {
        use crate::trace::Origin;
        let correlation_id = self
            .correlation_id
            .take()
            .unwrap_or_else(|| current.map_or_else(Id::random, |c| c.correlation_id.clone()));
        let (trace, origin) = match self.trace {
            Some(parent) if child => {
                let span = crate::trace::new_span_id(local);
                let sampled = crate::trace::sample_child(parent.trace_id(), parent.is_sampled());
                let flags = parent.flags().with_sampled(sampled);
                let tp = TraceParent::new(parent.trace_id(), span, flags);
                (tp, Origin::Remote)
            }
            Some(_) => (crate::trace::new_root_trace(local), Origin::Link),
            None => (crate::trace::new_root_trace(local), Origin::Root),
        };
        let tracestate = match origin {
            Origin::Remote => self.tracestate.take().map(std::sync::Arc::new),
            _ => None,
        };
        let ctx = Context {
            correlation_id,
            causation_id: self.causation_id.take(),
            message_id: self.message_id.take(),
            trace,
            tracestate,
            span: None,
        };
        (ctx, origin)
    }

    /// Whether the message was produced less than `max_age` ago (`false` when unknown).
    pub fn is_younger_than(&self, max_age: std::time::Duration) -> bool {
        let Some(produced) = self.produced_at_ms else {
            return false;
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let now_ms = now.map_or(0, |d| d.as_millis() as u64);
        now_ms.saturating_sub(produced) < max_age.as_millis() as u64
    }
}

/// Reads the ids and trace context from `carrier`. Ids are taken as opaque text (empty values
/// are missing); a malformed `traceparent`, `tracestate` or `produced_at` is ignored, so
/// nothing in the metadata can make this fail.
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Extracted {
    let id = |key| carrier.get(key).and_then(Id::from_text);
    let trace = carrier
        .get(traceparent::HEADER)
        .and_then(|v| TraceParent::parse(v).ok());
    let tracestate = trace
        .and(carrier.get(tracestate::HEADER))
        .and_then(|v| TraceState::parse(v).ok())
        .filter(|s| !s.is_empty());
    Extracted {
        correlation_id: id(CORRELATION_ID),
        causation_id: id(CAUSATION_ID),
        message_id: id(MESSAGE_ID),
        trace,
        tracestate,
        produced_at_ms: carrier.get(PRODUCED_AT).and_then(|v| v.trim().parse().ok()),
    }
}

mod http_headers;
pub use http_headers::{extract_headers, inject_headers};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_values_are_none() {
        let mut md = BTreeMap::new();
        md.insert(CORRELATION_ID.to_owned(), String::new());
        md.insert(MESSAGE_ID.to_owned(), "m-1".to_owned());
        let got = extract(&md);
        assert_eq!(got.correlation_id, None);
        assert_eq!(got.message_id.unwrap().to_string(), "m-1");
        assert_eq!(got.causation_id, None);
    }
}
