//! Query strings of the admin routes (`/logs?level=..&since=..`, `/slo?period=..`): whatever
//! the bytes, parsing answers a value or an error, never a panic.

#![no_main]

use cqrs_obs::logs::Query;
use cqrs_obs::slo::parse_duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let pairs: Vec<(&str, &str)> = input
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    for (_, value) in &pairs {
        if let Some(duration) = parse_duration(value) {
            assert!(duration.as_nanos() > 0);
        }
    }
    let _ = Query::from_params(pairs.iter().copied(), None);
});
