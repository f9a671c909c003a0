use cqrs_obs::health_check;

#[health_check(timeout = "2 seconds")]
fn db() -> bool {
    true
}

fn main() {}
