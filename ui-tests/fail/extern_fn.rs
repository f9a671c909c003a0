use cqrs_obs::query_handler;

#[query_handler]
extern "C" fn balance(account: u64) -> u64 {
    account
}

fn main() {}
