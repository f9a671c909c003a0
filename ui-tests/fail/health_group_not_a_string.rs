use cqrs_obs::health_check;

#[health_check(group = readiness)]
fn db() -> bool {
    true
}

fn main() {}
