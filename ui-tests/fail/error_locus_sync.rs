use cqrs_obs::command_handler;

pub struct Deposit {
    pub amount: u64,
}

#[command_handler(aggregate = "Account")]
fn deposit(cmd: Deposit, balance: &mut u64) -> Result<u64, String> {
    *balance += cmd.amount;
    let doubled: u64 = "twice";
    Ok(doubled)
}

#[command_handler]
fn wrong_return(cmd: Deposit) -> u64 {
    cmd.amount.to_string()
}

fn main() {}
