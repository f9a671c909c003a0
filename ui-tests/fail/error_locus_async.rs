use cqrs_obs::{event_handler, query_handler};

pub struct Deposited {
    pub amount: u64,
}

#[event_handler(projection = "balances")]
async fn on_deposited(event: Deposited) -> Result<(), String> {
    let total: u64 = event.amount + 1;
    total.no_such_method();
    Ok(())
}

#[query_handler]
async fn wrong_return(event: Deposited) -> Result<u64, String> {
    let amount = event.amount.checked_mul(2).ok_or(())?;
    Ok(amount.to_string())
}

fn main() {}
