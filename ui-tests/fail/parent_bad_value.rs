use std::collections::HashMap;

use cqrs_obs::event_handler;

#[event_handler(projection = "balances", metadata = metadata, parent = "sibling")]
fn on_deposited(amount: u64, metadata: HashMap<String, String>) -> u64 {
    let _ = metadata;
    amount
}

fn main() {}
