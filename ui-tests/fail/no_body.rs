use cqrs_obs::command_handler;

pub trait Aggregate {
    #[command_handler]
    fn handle(&self, amount: u64) -> u64;
}

fn main() {}
