use cqrs_obs::slo;

#[slo(availability = 99.9)]
fn not_a_handler() {}

fn main() {}
