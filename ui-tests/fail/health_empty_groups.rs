use cqrs_obs::health_check;

#[health_check(group = [])]
fn db() -> bool {
    true
}

fn main() {}
