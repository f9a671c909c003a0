use cqrs_obs::command_handler;

#[command_handler(aggregate = "Account", timeout = "2s")]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {}
