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

/// Writes the context's ids into `carrier` (the metadata of a message being produced).
///
/// ```
/// use std::collections::HashMap;
/// use cqrs_obs::{context::Context, propagation};
///
/// let ctx = Context::new_root();
/// let mut metadata = HashMap::new();
/// propagation::inject(&ctx, &mut metadata);
/// assert_eq!(metadata["correlation_id"], ctx.correlation_id.to_string());
/// assert_eq!(propagation::extract(&metadata).into_context().correlation_id, ctx.correlation_id);
/// ```
pub fn inject<C: CarrierMut + ?Sized>(ctx: &Context, carrier: &mut C) {
    carrier.set(CORRELATION_ID, ctx.correlation_id.to_string());
    if let Some(causation) = &ctx.causation_id {
        carrier.set(CAUSATION_ID, causation.to_string());
    }
    if let Some(message) = &ctx.message_id {
        carrier.set(MESSAGE_ID, message.to_string());
    }
}

/// Ids read from a message's metadata; any of them may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// `correlation_id`
    pub correlation_id: Option<Id>,
    /// `causation_id`
    pub causation_id: Option<Id>,
    /// `message_id`
    pub message_id: Option<Id>,
}

impl Extracted {
    /// The context of handling this message: its correlation id (or the current one, or a new
    /// one) and its own message and causation ids.
    pub fn into_context(self) -> Context {
        crate::context::with_current(|current| self.into_context_under(current))
    }

    /// Like [`into_context`](Extracted::into_context), with the current context given.
    pub(crate) fn into_context_under(self, current: Option<&Context>) -> Context {
        let correlation_id = self
            .correlation_id
            .unwrap_or_else(|| current.map_or_else(Id::random, |c| c.correlation_id.clone()));
        Context {
            correlation_id,
            causation_id: self.causation_id,
            message_id: self.message_id,
        }
    }
}

/// Reads the ids from `carrier`. Values are taken as opaque text (empty values are missing);
/// nothing in the metadata can make this fail.
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Extracted {
    let id = |key| carrier.get(key).and_then(Id::from_text);
    Extracted {
        correlation_id: id(CORRELATION_ID),
        causation_id: id(CAUSATION_ID),
        message_id: id(MESSAGE_ID),
    }
}

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
