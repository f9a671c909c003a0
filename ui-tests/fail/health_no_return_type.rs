use cqrs_obs::health_check;

#[health_check]
fn db() {}

fn main() {}
