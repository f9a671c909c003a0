use cqrs_obs::health_check;

#[health_check]
fn db<T: Default>() -> bool {
    true
}

fn main() {}
