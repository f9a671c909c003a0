use cqrs_obs::health_check;

#[health_check]
async fn db() -> u8 {
    1
}

fn main() {}
