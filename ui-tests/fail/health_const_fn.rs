use cqrs_obs::health_check;

#[health_check]
const fn db() -> bool {
    true
}

fn main() {}
