use cqrs_obs::command_handler;

#[command_handler(name = )]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {}
