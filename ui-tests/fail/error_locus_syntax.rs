use cqrs_obs::{command_handler, event_handler};

#[command_handler]
fn deposit(amount: u64) -> u64 {
    let doubled = amount * ;
    doubled
}

#[event_handler]
async fn on_deposited(amount: u64) -> u64 {
    amount +
}

fn main() {}
