use cqrs_obs::{command_handler, slo};

#[command_handler]
#[slo(owner = "payments")]
fn deposit(_amount: u64) {}

fn main() {}
