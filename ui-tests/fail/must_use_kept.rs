#![deny(unused_must_use)]

use cqrs_obs::command_handler;

#[must_use = "the new balance"]
#[command_handler]
fn deposit(amount: u64) -> u64 {
    amount
}

fn main() {
    deposit(1);
}
