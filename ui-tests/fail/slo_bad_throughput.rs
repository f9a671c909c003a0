use cqrs_obs::{command_handler, query_handler, slo};

#[query_handler]
#[slo(throughput(per_second = 0, target = 99))]
fn balance(_account: u64) -> u64 {
    0
}

#[command_handler]
#[slo(throughput(per_second = 10, target = 99, window = "1m"))]
fn deposit(_account: u64) -> Result<(), String> {
    Ok(())
}

#[command_handler]
#[slo(throughput(target = 99))]
fn withdraw(_account: u64) -> Result<(), String> {
    Ok(())
}

fn main() {}
