//! Query strings of the admin routes (`/logs?level=..&since=..`, `/slo?period=..`,
//! `/anomalies?severity=..&since=..`): whatever the bytes, parsing answers a value or an
//! error, never a panic.

#![no_main]

use cqrs_obs::anomaly::Filter;
use cqrs_obs::logs::Query;
use cqrs_obs::slo::parse_duration;
use libfuzzer_sys::fuzz_target;

/// The clock the anomalies filter counts ages back from.
const NOW_MS: i64 = 1_800_000_000_000;

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
    if let Ok(filter) = Filter::from_params(pairs.iter().copied(), NOW_MS) {
        // What parses is in bounds: a limit of 1 to 1000, and an age never after now.
        assert!(filter.limit.is_some_and(|n| (1..=1000).contains(&n)));
        let absolute = pairs
            .iter()
            .any(|(k, v)| *k == "since" && v.parse::<i64>().is_ok());
        assert!(absolute || filter.since.is_none_or(|ms| ms <= NOW_MS));
    }
});
