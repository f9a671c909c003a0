use cqrs_obs::event_handler;

#[event_handler(name = "a", projection = "balances", name = "b")]
fn on_deposited(amount: u64) -> u64 {
    amount
}

fn main() {}
