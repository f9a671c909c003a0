//! Signature shapes that depend on the return type being pinned: argument patterns, `mut`
//! arguments, unsized coercions of the returned value, `impl Trait` in return position,
//! `Self` constructors, borrowed iterators.

#![deny(warnings)]

use std::fmt::Display;

use cqrs_obs::{command_handler, query_handler, Outcome};

pub struct Deposit {
    pub amount: u64,
}

pub struct Ledger {
    entries: Vec<u64>,
}

impl Ledger {
    #[command_handler(name = "new_ledger")]
    pub fn new(Deposit { amount }: Deposit) -> Self {
        Self {
            entries: vec![amount],
        }
    }

    #[query_handler(name = "entries")]
    pub fn entries(&self) -> impl Iterator<Item = &u64> + '_ {
        self.entries.iter()
    }

    #[query_handler(name = "largest")]
    pub fn largest(&self) -> Box<dyn Display + '_> {
        match self.entries.iter().max() {
            Some(max) => Box::new(max),
            None => Box::new("none"),
        }
    }
}

#[command_handler]
fn sum((a, b): (u64, u64), mut extra: Vec<u64>) -> &'static str {
    extra.push(a + b);
    if extra.iter().sum::<u64>() > 10 {
        "big"
    } else {
        "small"
    }
}

#[query_handler]
fn describe(value: impl Display) -> Box<dyn Display> {
    Box::new(value.to_string())
}

#[track_caller]
#[query_handler]
fn located(_: ()) -> u32 {
    std::panic::Location::caller().line()
}

fn main() {
    cqrs_obs::handler::enable();
    let ledger = Ledger::new(Deposit { amount: 4 });
    assert_eq!(ledger.entries().copied().collect::<Vec<_>>(), [4]);
    assert_eq!(ledger.largest().to_string(), "4");
    assert_eq!(sum((2, 3), vec![6]), "big");
    assert_eq!(describe(1.5).to_string(), "1.5");
    assert!(located(()) > 0);

    let site = |name: &str| cqrs_obs::handler::registered().find(|s| s.meta().name == name);
    assert_eq!(site("new_ledger").unwrap().meta().message, "Deposit");
    assert_eq!(site("sum").unwrap().meta().message, "sum");
    for name in [
        "new_ledger",
        "entries",
        "largest",
        "sum",
        "describe",
        "located",
    ] {
        assert_eq!(
            site(name).unwrap().snapshot().count(Outcome::Ok),
            1,
            "{name}"
        );
    }
}
