//! `traceparent`, trace ids and span ids: no panic; whatever parses re-formats (as version
//! `00`) to a header that parses to the same ids and flags.

#![no_main]

use cqrs_obs::propagation::traceparent::{SpanId, TraceId, TraceParent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(tp) = TraceParent::parse(&input) {
        let header = tp.to_header();
        assert_eq!(header.as_str(), tp.to_string());
        let again = TraceParent::parse(&header).expect("a formatted traceparent parses");
        assert_eq!(again.version(), 0);
        assert_eq!(
            (again.trace_id(), again.span_id(), again.flags()),
            (tp.trace_id(), tp.span_id(), tp.flags())
        );
    }
    if let Ok(id) = input.parse::<TraceId>() {
        assert_eq!(id.to_string(), input);
    }
    if let Ok(id) = input.parse::<SpanId>() {
        assert_eq!(id.to_string(), input);
    }
});
