use cqrs_obs::health_check;

#[health_check]
extern "C" fn db() -> bool {
    true
}

fn main() {}
