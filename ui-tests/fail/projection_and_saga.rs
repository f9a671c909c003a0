use cqrs_obs::event_handler;

#[event_handler(projection = "balances", saga = "payouts")]
fn on_deposited(amount: u64) -> u64 {
    amount
}

fn main() {}
