use cqrs_obs::{query_handler, slo};

#[query_handler]
#[slo(latency(p95 = "120ms"))]
fn balance(_account: u64) -> u64 {
    0
}

fn main() {}
