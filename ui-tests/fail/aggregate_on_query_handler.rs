use cqrs_obs::query_handler;

#[query_handler(aggregate = "Account")]
fn balance(account: u64) -> u64 {
    account
}

fn main() {}
