//! `baggage`: no panic; whatever parses re-formats to a header that parses to the same value.

#![no_main]

use cqrs_obs::propagation::baggage::{Baggage, MAX_LEN, MAX_MEMBERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(baggage) = Baggage::parse(&input) {
        assert!(baggage.len() <= MAX_MEMBERS);
        let header = baggage.to_string();
        assert_eq!(header.len(), baggage.header_len());
        assert!(header.len() <= MAX_LEN);
        assert_eq!(Baggage::parse(&header).as_ref(), Ok(&baggage));
    }
});
