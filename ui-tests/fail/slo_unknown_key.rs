use cqrs_obs::{command_handler, slo};

#[command_handler]
#[slo(availibility = 99.9)]
fn deposit(_amount: u64) {}

fn main() {}
