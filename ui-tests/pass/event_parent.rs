//! `parent = "child"` continues the producer's trace for a young event; `parent = "link"`
//! (and the default) starts a new trace. The trace context is there whether or not a trace
//! pipeline is installed.

#![deny(warnings)]

use std::collections::HashMap;

use cqrs_obs::context::{self, Context};
use cqrs_obs::event_handler;

#[event_handler(projection = "audit", metadata = metadata, parent = "child")]
fn continue_trace(metadata: &HashMap<String, String>) -> Option<Context> {
    context::current()
}

#[event_handler(projection = "audit", metadata = metadata, parent = "link")]
fn link_trace(metadata: &HashMap<String, String>) -> Option<Context> {
    context::current()
}

#[event_handler(projection = "audit", metadata = metadata)]
async fn default_trace(metadata: &HashMap<String, String>) -> Option<Context> {
    context::current()
}

fn main() {
    cqrs_obs::handler::enable();
    let producer = Context::new_root();
    let mut metadata = HashMap::new();
    cqrs_obs::propagation::inject(&producer.child(), &mut metadata);

    let child = continue_trace(&metadata).unwrap();
    assert_eq!(child.trace.trace_id(), producer.trace.trace_id());
    assert_ne!(child.trace.span_id(), producer.trace.span_id());

    let linked = link_trace(&metadata).unwrap();
    assert_ne!(linked.trace.trace_id(), producer.trace.trace_id());
    assert_eq!(linked.correlation_id, producer.correlation_id);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let default = rt.block_on(default_trace(&metadata)).unwrap();
    assert_ne!(default.trace.trace_id(), producer.trace.trace_id());

    // An old event is linked even with `parent = "child"`.
    metadata.insert("produced_at".to_owned(), "1000".to_owned());
    let old = continue_trace(&metadata).unwrap();
    assert_ne!(old.trace.trace_id(), producer.trace.trace_id());
}
