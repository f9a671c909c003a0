use cqrs_obs::{command_handler, query_handler};

#[command_handler]
#[query_handler]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {}
