use cqrs_obs::health_check;

pub struct Pool;

#[health_check]
fn db(pool: &Pool) -> bool {
    let _ = pool;
    true
}

fn main() {}
