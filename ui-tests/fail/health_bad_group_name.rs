use cqrs_obs::health_check;

#[health_check(group = "Readiness")]
fn db() -> bool {
    true
}

fn main() {}
