use cqrs_obs::event_handler;

#[event_handler(projection = "balances", parent = "child")]
fn on_deposited(amount: u64) -> u64 {
    amount
}

fn main() {}
