use cqrs_obs::health_check;

#[health_check(interval = "0s")]
fn db() -> bool {
    true
}

fn main() {}
