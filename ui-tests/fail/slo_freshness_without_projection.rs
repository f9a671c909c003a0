use cqrs_obs::{query_handler, slo};

#[query_handler]
#[slo(freshness(max_lag = "5s", target = 99))]
fn balance(_account: u64) -> u64 {
    0
}

fn main() {}
