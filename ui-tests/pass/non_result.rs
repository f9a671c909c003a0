//! Handlers returning something other than `Result` (including nothing, `Option::None` and a
//! bare `return`) are always `ok`; a panic is recorded as `panic` and goes on unwinding.

#![deny(warnings)]

use cqrs_obs::{query_handler, Outcome};

pub struct GetBalance {
    pub account: u32,
}

#[query_handler]
fn balance(q: GetBalance) -> Option<u64> {
    if q.account == 0 {
        return None;
    }
    Some(u64::from(q.account) * 10)
}

#[query_handler(name = "touch", query = "Touch")]
fn touch(counter: &mut u32) {
    if *counter > 5 {
        return;
    }
    *counter += 1;
}

#[query_handler(name = "exploding")]
fn exploding(q: GetBalance) -> u64 {
    if q.account == 13 {
        panic!("unlucky account");
    }
    1
}

fn site(name: &str) -> &'static cqrs_obs::handler::HandlerSite {
    cqrs_obs::handler::registered()
        .find(|s| s.meta().name == name)
        .unwrap()
}

fn main() {
    cqrs_obs::handler::enable();
    assert_eq!(balance(GetBalance { account: 0 }), None);
    assert_eq!(balance(GetBalance { account: 2 }), Some(20));
    let mut counter = 0;
    touch(&mut counter);
    touch(&mut counter);
    assert_eq!(counter, 2);
    assert_eq!(exploding(GetBalance { account: 1 }), 1);
    std::panic::set_hook(Box::new(|_| {})); // keep the expected panic out of the output
    let panicked = std::panic::catch_unwind(|| exploding(GetBalance { account: 13 }));
    let _ = std::panic::take_hook();
    assert!(panicked.is_err());

    assert_eq!(site("balance").meta().message, "GetBalance");
    assert_eq!(site("balance").snapshot().count(Outcome::Ok), 2);
    assert_eq!(site("touch").meta().message, "Touch");
    assert_eq!(site("touch").snapshot().count(Outcome::Ok), 2);
    assert_eq!(site("exploding").snapshot().count(Outcome::Ok), 1);
    assert_eq!(site("exploding").snapshot().count(Outcome::Panic), 1);
    assert_eq!(site("exploding").snapshot().in_flight, 0);
}
