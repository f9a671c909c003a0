use cqrs_obs::{command_handler, slo};

#[command_handler]
#[slo(availability = 99.9, rejected = "maybe")]
fn deposit(_amount: u64) {}

fn main() {}
