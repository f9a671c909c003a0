use cqrs_obs::{command_handler, slo};

#[command_handler]
#[slo(availability = 100)]
fn deposit(_amount: u64) {}

fn main() {}
