//! A crate that forbids `unsafe` code can use the macros: the registration's `unsafe` lives
//! in `inventory`'s own macro.

#![forbid(unsafe_code)]
#![deny(warnings)]

#[cqrs_obs::command_handler(aggregate = "Account")]
fn deposit(amount: u64) -> u64 {
    amount
}

#[cqrs_obs::event_handler(projection = "balances")]
async fn on_deposited(amount: u64) -> u64 {
    amount
}

fn main() {
    cqrs_obs::handler::enable();
    assert_eq!(deposit(1), 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(on_deposited(2)), 2);
    let names: Vec<_> = cqrs_obs::handler::registered()
        .map(|s| s.meta().name)
        .collect();
    assert!(
        names.contains(&"deposit") && names.contains(&"on_deposited"),
        "{names:?}"
    );
}
