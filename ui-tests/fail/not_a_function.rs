use cqrs_obs::command_handler;

#[command_handler]
pub struct Deposit {
    pub amount: u64,
}

fn main() {}
