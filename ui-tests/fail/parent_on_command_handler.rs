use cqrs_obs::command_handler;

#[command_handler(aggregate = "Account", parent = "child")]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {}
