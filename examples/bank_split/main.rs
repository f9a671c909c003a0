//! The bank over two processes, one trace: `command` runs deposits and sends every event it
//! appends over HTTP to `projection`, another process, which projects it with an event handler
//! that continues the command's trace. Point both at one OpenTelemetry collector to see a
//! single trace cross the two services.
//!
//! ```text
//! export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 CQRS_OBS_ADMIN_ADDR=off
//! OTEL_SERVICE_NAME=bank-projection cargo run --example bank_split -- projection --listen 127.0.0.1:7070 --events 11 &
//! OTEL_SERVICE_NAME=bank-commands cargo run --example bank_split -- command --projection 127.0.0.1:7070 --deposits 10
//! ```

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cqrs_obs::event_handler;
use cqrs_obs_examples::account::{Deposit, OpenAccount, Origin};
use cqrs_obs_examples::split::{self, RemoteEvent};
use cqrs_obs_examples::{AccountId, Bank, Command};

/// The bank split over two processes.
#[derive(Debug, Parser)]
#[command(name = "bank_split", version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Open an account, run deposits, send every appended event to the projection service.
    Command {
        /// The projection service's address.
        #[arg(long)]
        projection: SocketAddr,
        /// Deposits to run.
        #[arg(long, default_value_t = 10)]
        deposits: u64,
    },
    /// Project events received over HTTP, then exit.
    Projection {
        /// Where to listen (`127.0.0.1:0` picks a port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Events to project before exiting.
        #[arg(long, default_value_t = 11)]
        events: usize,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let guard = cqrs_obs::init();
    let result = match args.role {
        Role::Command {
            projection,
            deposits,
        } => command(projection, deposits),
        Role::Projection { listen, events } => project(listen, events),
    };
    guard.flush();
    drop(guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank_split: {e}");
            ExitCode::FAILURE
        }
    }
}

fn command(projection: SocketAddr, deposits: u64) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let bank = Bank::new();
    let account = AccountId(1);
    let open = OpenAccount {
        account,
        owner: "ada".into(),
    };
    let mut events = runtime.block_on(bank.execute(Command::Open(open)))?;
    for amount in 1..=deposits {
        let deposit = Deposit {
            account,
            amount,
            origin: Origin::Teller,
        };
        events.extend(runtime.block_on(bank.execute(Command::Deposit(deposit)))?);
    }
    for event in &events {
        split::send(projection, event)?;
    }
    println!("sent {} events to {projection}", events.len());
    Ok(())
}

/// The remote read model: balances per account.
#[derive(Debug, Default)]
struct RemoteBalances {
    balances: HashMap<u64, i64>,
}

/// An event type the projection does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown event type `{0}`")]
struct UnknownEvent(String);

impl RemoteBalances {
    /// Applies one event, continuing the command's trace: the span is a child of the span
    /// that appended the event (for events younger than the default age).
    #[event_handler(
        projection = "remote_balances",
        event = "AccountEvent",
        metadata = event.metadata,
        parent = "child"
    )]
    fn apply(&mut self, event: &RemoteEvent) -> Result<i64, UnknownEvent> {
        let balance = self.balances.entry(event.stream).or_default();
        match event.kind.as_str() {
            "Opened" => {}
            "Deposited" => *balance += event.amount as i64,
            "Withdrawn" => *balance -= event.amount as i64,
            other => return Err(UnknownEvent(other.to_owned())),
        }
        Ok(*balance)
    }
}

fn project(listen: SocketAddr, events: usize) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(listen)?;
    println!("listening on {}", listener.local_addr()?);
    let mut balances = RemoteBalances::default();
    split::serve(&listener, events, |event| balances.apply(event).is_ok())?;
    let balance = balances.balances.get(&1).copied().unwrap_or_default();
    println!("projected {events} events; balance of account 1: {balance}");
    Ok(())
}
