use std::collections::HashMap;

use cqrs_obs::command_handler;

#[command_handler(metadata = metadata)]
fn deposit(amount: u64, metadata: HashMap<String, String>) -> u64 {
    let _ = metadata;
    amount
}

fn main() {}
