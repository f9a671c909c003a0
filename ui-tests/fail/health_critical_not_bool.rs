use cqrs_obs::health_check;

#[health_check(critical = "yes")]
fn db() -> bool {
    true
}

fn main() {}
