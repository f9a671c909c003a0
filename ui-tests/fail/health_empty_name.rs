use cqrs_obs::health_check;

#[health_check(name = "")]
fn db() -> bool {
    true
}

fn main() {}
