use cqrs_obs::health_check;

#[health_check(timeout = "1s", timeout = "2s")]
fn db() -> bool {
    true
}

fn main() {}
