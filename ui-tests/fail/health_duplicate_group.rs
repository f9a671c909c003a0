use cqrs_obs::health_check;

#[health_check(group = ["readiness", "liveness", "readiness"])]
fn db() -> bool {
    true
}

fn main() {}
