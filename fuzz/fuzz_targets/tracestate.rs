//! `tracestate`: no panic; whatever parses re-formats to a header that parses to the same
//! value; truncation keeps within the limit.

#![no_main]

use cqrs_obs::propagation::tracestate::{TraceState, MAX_MEMBERS, PROPAGATION_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(state) = TraceState::parse(&input) {
        assert!(state.len() <= MAX_MEMBERS);
        let header = state.to_string();
        assert_eq!(header.len(), state.header_len());
        assert_eq!(TraceState::parse(&header).as_ref(), Ok(&state));
        let mut cut = state.clone();
        cut.truncate(PROPAGATION_LIMIT);
        assert!(cut.header_len() <= PROPAGATION_LIMIT);
        assert_eq!(TraceState::parse(&cut.to_string()).as_ref(), Ok(&cut));
    }
});
