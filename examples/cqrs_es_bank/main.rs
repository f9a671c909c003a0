//! The bank written with cqrs-es, observed by cqrs-obs without touching its domain code
//! beyond one attribute: the store is wrapped in an `ObservedStore`, the queries with
//! `observe`, and commands run through `execute_observed`.
//!
//! Runs a workload of opens, deposits and withdrawals (some refused, some meeting an injected
//! store failure), prints each outcome's count next to what cqrs-obs recorded, then serves
//! the admin endpoint until Ctrl-C.
//!
//! ```text
//! cargo run --example cqrs_es_bank                  # then: cqrs-cli handlers; cqrs-cli slo
//! cargo run --example cqrs_es_bank -- --commands 5000 --exit
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::Parser;
use cqrs_es::EventStore;
use cqrs_obs::cqrs_es::{outcome, ObservedExecute};
use cqrs_obs::handler::HandlerKind;
use cqrs_obs::slo::{CqrsSlos, GoodOutcomes, Handlers, Sli, Slo};
use cqrs_obs::{health_check, Outcome};
mod domain;

use domain::{BankAccountCommand, CqrsBank, Fault};

/// Runs the cqrs-es bank under cqrs-obs.
#[derive(Debug, Parser)]
#[command(name = "cqrs_es_bank", version)]
struct Args {
    /// Commands to run.
    #[arg(long, default_value_t = 2_000)]
    commands: u64,
    /// Accounts the commands spread over.
    #[arg(long, default_value_t = 20)]
    accounts: u64,
    /// Inject a store failure every this many commands (0: never).
    #[arg(long, default_value_t = 50)]
    fault_every: u64,
    /// Exit after the workload instead of serving the admin endpoint until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

static BANK: OnceLock<Arc<CqrsBank>> = OnceLock::new();

/// Readiness: the event store answers a read.
#[health_check(name = "event-store", group = "readiness", timeout = "2s")]
async fn event_store() -> Result<(), String> {
    let bank = BANK.get().ok_or("the bank is not running")?;
    bank.store
        .load_events("health-probe")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn objectives() -> Vec<Slo> {
    let mut events = Slo::new(
        "cqrs-es-event-availability",
        Sli::Availability {
            handlers: Handlers::Kind(HandlerKind::Event),
            good: GoodOutcomes::default(),
        },
        99.9,
    );
    events.name = "Query dispatch availability";
    vec![CqrsSlos::command_availability(), events]
}

fn command(step: u64) -> BankAccountCommand {
    match step % 7 {
        0 => BankAccountCommand::Open,
        1..=3 => BankAccountCommand::Deposit { amount: 100 },
        // Sometimes more than the balance: refused.
        4 => BankAccountCommand::Withdraw { amount: 250 },
        _ => BankAccountCommand::Withdraw { amount: 50 },
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _guard = cqrs_obs::init();
    for slo in objectives() {
        if let Err(e) = cqrs_obs::slo::register(slo) {
            eprintln!("cqrs_es_bank: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bank = Arc::clone(BANK.get_or_init(|| Arc::new(CqrsBank::new())));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cqrs_es_bank: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let faults = [
        Fault::Conflict,
        Fault::Connection,
        Fault::Deserialization,
        Fault::Unexpected,
    ];
    let mut seen: BTreeMap<&'static str, u64> = BTreeMap::new();
    rt.block_on(async {
        for step in 0..args.commands {
            let account = format!("account-{}", step % args.accounts.max(1));
            let round = step / args.accounts.max(1);
            if args.fault_every > 0 && step % args.fault_every == args.fault_every - 1 {
                bank.store
                    .fail_next(faults[(step / args.fault_every) as usize % faults.len()]);
            }
            let result = bank.cqrs.execute_observed(&account, command(round)).await;
            let outcome = result.as_ref().err().map_or(Outcome::Ok, outcome);
            *seen.entry(outcome.as_str()).or_default() += 1;
        }
    });
    let recorded = cqrs_obs::handler::snapshots()
        .into_iter()
        .find(|s| s.meta.name == "bank_account");
    println!("{:<10} {:>8} {:>10}", "outcome", "seen", "recorded");
    for outcome in Outcome::ALL {
        let seen = seen.get(outcome.as_str()).copied().unwrap_or(0);
        let recorded = recorded.as_ref().map_or(0, |s| s.count(outcome));
        println!("{:<10} {:>8} {:>10}", outcome.as_str(), seen, recorded);
    }
    if let Some((balance, events)) = bank.balances.get("account-0") {
        println!("account-0: balance {balance}, {events} events projected");
    }
    if args.exit {
        return ExitCode::SUCCESS;
    }
    println!(
        "admin endpoint: http://{} (Ctrl-C to stop)",
        cqrs_obs::DEFAULT_ADMIN_ADDR
    );
    if let Err(e) = rt.block_on(tokio::signal::ctrl_c()) {
        eprintln!("cqrs_es_bank: {e}");
    }
    ExitCode::SUCCESS
}
