use cqrs_obs::health_check;

#[health_check(timeout = "5s", interval = "1s")]
fn db() -> bool {
    true
}

fn main() {}
