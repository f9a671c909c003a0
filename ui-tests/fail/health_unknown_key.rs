use cqrs_obs::health_check;

#[health_check(name = "db", retries = 3)]
fn db() -> bool {
    true
}

fn main() {}
