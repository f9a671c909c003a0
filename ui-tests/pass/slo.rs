//! `#[slo]` above or below a handler attribute, on free fns and methods, with custom handler
//! names: every objective is registered with the SLO engine against the right handler.

#![deny(warnings)]

use std::time::Duration;

use cqrs_obs::slo::{Handlers, Sli};
use cqrs_obs::{command_handler, event_handler, query_handler, slo};

pub struct Deposit;
pub struct Balance;
pub struct Deposited;

/// Docs survive.
#[command_handler(aggregate = "Account")]
#[slo(availability = 99.9, latency(p95 = "100ms"), period = "30d", owner = "payments")]
fn deposit(_cmd: Deposit) -> Result<(), String> {
    Ok(())
}

#[slo(latency(p99_9 = "120ms"), id = "balance-fast", description = "answers fast")]
#[query_handler(name = "balance_query")]
fn balance(_q: Balance) -> u64 {
    1
}

pub struct Statement;

/// Throughput of a query, and a freshness objective on the projection named in the handler
/// attribute above `#[slo]`.
#[query_handler]
#[slo(throughput(per_second = 50, target = 99))]
fn statement(_q: Statement) -> u64 {
    2
}

#[event_handler(projection = "statements")]
#[slo(freshness(max_lag = "5s", target = 99.5), throughput(per_second = 1.5, target = 90))]
fn on_statement_line(_e: &Deposited) {}

#[slo(freshness(max_lag = "250ms", target = 99, projection = "ledger"), id = "ledger-fresh")]
#[event_handler]
fn on_ledger_line(_e: &Deposited) {}

pub struct Projector;

impl Projector {
    #[event_handler(projection = "balances", name = "custom")]
    #[slo(availability = 99.5, rejected = "bad", cancelled = "bad", period = "7d", priority = 1)]
    async fn on_deposited(&self, _e: &Deposited) {}
}

fn main() {
    assert_eq!(deposit(Deposit), Ok(()));
    assert_eq!(balance(Balance), 1);
    let _ = Projector.on_deposited(&Deposited);
    assert_eq!(statement(Statement), 2);
    on_statement_line(&Deposited);
    on_ledger_line(&Deposited);

    let reports = cqrs_obs::slo::reports();
    let slo = |id: &str| {
        reports
            .iter()
            .map(|r| &r.slo)
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no SLO {id}"))
    };

    let availability = slo("deposit-availability");
    assert_eq!(availability.target, 99.9);
    assert_eq!(availability.owner, "payments");
    assert!(matches!(
        &availability.sli,
        Sli::Availability { handlers: Handlers::Named("deposit"), good } if good.rejected && !good.count_cancelled
    ));

    let latency = slo("deposit-latency");
    assert_eq!(latency.target, 95.0);
    assert!(matches!(
        &latency.sli,
        Sli::Latency { handlers: Handlers::Named("deposit"), threshold } if *threshold == Duration::from_millis(100)
    ));

    let fast = slo("balance-fast");
    assert_eq!(fast.target, 99.9);
    assert_eq!(fast.description, "answers fast");
    assert!(matches!(
        &fast.sli,
        Sli::Latency { handlers: Handlers::Named("balance_query"), threshold } if *threshold == Duration::from_millis(120)
    ));

    let throughput = slo("statement-throughput");
    assert_eq!(throughput.target, 99.0);
    assert_eq!(throughput.category, "throughput");
    assert!(matches!(
        &throughput.sli,
        Sli::Throughput { handlers: Handlers::Named("statement"), per_second } if *per_second == 50.0
    ));

    let fresh = slo("on-statement-line-freshness");
    assert_eq!(fresh.target, 99.5);
    assert_eq!(fresh.category, "freshness");
    assert!(matches!(
        &fresh.sli,
        Sli::Freshness { projection: "statements", max_lag } if *max_lag == Duration::from_secs(5)
    ));
    assert!(matches!(
        &slo("on-statement-line-throughput").sli,
        Sli::Throughput { handlers: Handlers::Named("on_statement_line"), per_second } if *per_second == 1.5
    ));
    assert!(matches!(
        &slo("ledger-fresh").sli,
        Sli::Freshness { projection: "ledger", max_lag } if *max_lag == Duration::from_millis(250)
    ));

    let custom = slo("custom-availability");
    assert_eq!(custom.period, Duration::from_secs(7 * 86_400));
    assert_eq!(custom.priority, 1);
    assert!(matches!(
        &custom.sli,
        Sli::Availability { handlers: Handlers::Named("custom"), good } if !good.rejected && good.count_cancelled
    ));
    assert_eq!(reports.len(), 8);
}
