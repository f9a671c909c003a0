//! One trace across two processes: this test is the command side, and it starts itself again
//! as the projection service (another process, its own cqrs-obs, its own OTLP exporter). Every
//! event the commands append is sent over HTTP; the remote projection's span continues the
//! command's trace: same trace id, its parent the span of the command that appended the event.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use cqrs_obs::trace::{Root, Sampler};
use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_examples::account::{Deposit, OpenAccount, Origin};
use cqrs_obs_examples::split;
use cqrs_obs_examples::{AccountId, Bank, Command as BankCommand};
use cqrs_obs_tests::otlp::{hex, str_attr, Receiver};
use cqrs_obs_tests::peer::{free_port, loopback, wait_until};

const ROLE: &str = "CQRS_OBS_TEST_PROJECTION_ADDR";

/// The remote projection: continues the command's trace.
#[cqrs_obs::event_handler(
    projection = "remote_balances",
    event = "AccountEvent",
    metadata = event.metadata,
    parent = "child"
)]
fn project(balance: &mut u64, event: &split::RemoteEvent) -> Result<u64, std::fmt::Error> {
    match event.kind.as_str() {
        "Opened" => {}
        "Deposited" => *balance += event.amount,
        _ => return Err(std::fmt::Error),
    }
    Ok(*balance)
}
const EVENTS: usize = 6;

fn init(service: &str, endpoint: String) -> cqrs_obs::ObsGuard {
    cqrs_obs::builder()
        .ignore_env()
        .service_name(service)
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .otlp_endpoint(endpoint)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .try_init()
        .expect("init")
}

/// The projection process: runs only when started by the test below.
#[test]
fn projection_process() {
    let Ok(addr) = std::env::var(ROLE) else {
        return;
    };
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap();
    let guard = init("bank-projection", endpoint);
    let listener = std::net::TcpListener::bind(&addr).unwrap();
    let mut balance = 0;
    split::serve(&listener, EVENTS, |event| {
        project(&mut balance, event).is_ok()
    })
    .unwrap();
    assert_eq!(balance, 15);
    guard.flush();
}

#[test]
fn one_trace_crosses_two_processes() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let receiver = Receiver::http();
    let projection: SocketAddr = loopback(free_port());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "projection_process", "--nocapture"])
        .env(ROLE, projection.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .stdout(Stdio::null())
        .spawn()
        .expect("the projection process starts");
    wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
        TcpStream::connect(projection)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .expect("the projection service listens");

    let guard = init("bank-commands", receiver.endpoint());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bank = Bank::new();
    let account = AccountId(1);
    let open = OpenAccount {
        account,
        owner: "ada".into(),
    };
    let mut events = runtime
        .block_on(bank.execute(BankCommand::Open(open)))
        .unwrap();
    for amount in 1..=5 {
        let deposit = Deposit {
            account,
            amount,
            origin: Origin::Teller,
        };
        events.extend(
            runtime
                .block_on(bank.execute(BankCommand::Deposit(deposit)))
                .unwrap(),
        );
    }
    assert_eq!(events.len(), EVENTS);
    for event in &events {
        split::send(projection, event).unwrap();
    }
    guard.flush();
    let status = child.wait().unwrap();
    assert!(status.success(), "the projection process: {status}");

    let spans = receiver.received.wait_for(Duration::from_secs(10), |s| {
        s.iter()
            .filter(|(_, s)| s.name == "process AccountEvent")
            .count()
            >= EVENTS
    });
    let service = |resource: &[_]| {
        str_attr(resource, "service.name")
            .unwrap_or_default()
            .to_owned()
    };
    let commands: HashMap<(String, String), String> = spans
        .iter()
        .filter(|(r, s)| service(r) == "bank-commands" && s.name.starts_with("handle "))
        .map(|(_, s)| ((hex(&s.trace_id), hex(&s.span_id)), s.name.clone()))
        .collect();
    let remote: Vec<_> = spans
        .iter()
        .filter(|(r, s)| service(r) == "bank-projection" && s.name == "process AccountEvent")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(remote.len(), EVENTS, "one span per projected event");
    let mut parents = Vec::new();
    for span in remote {
        let key = (hex(&span.trace_id), hex(&span.parent_span_id));
        let parent = commands.get(&key).unwrap_or_else(|| {
            panic!("{key:?} is a command span of the other process: {commands:?}")
        });
        parents.push(parent.clone());
    }
    parents.sort();
    assert_eq!(
        parents,
        ["handle Deposit"; 5]
            .into_iter()
            .chain(["handle OpenAccount"])
            .collect::<Vec<_>>()
    );
    // Each event's metadata names the same trace and parent as the remote span.
    for event in &events {
        let tp = &event.metadata["traceparent"];
        let parts: Vec<&str> = tp.split('-').collect();
        assert!(
            commands.contains_key(&(parts[1].to_owned(), parts[2].to_owned())),
            "{tp}"
        );
    }
    drop(guard);
}
