use cqrs_obs::health_check;

#[health_check]
unsafe fn db() -> bool {
    true
}

fn main() {}
