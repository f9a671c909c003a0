use cqrs_obs::health_check;

#[health_check]
struct Db;

fn main() {}
