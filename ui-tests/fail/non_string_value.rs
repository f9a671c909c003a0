use cqrs_obs::command_handler;

#[command_handler(aggregate = Account, name = 42)]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {}
