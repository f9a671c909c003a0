//! cqrs-es commands run through cqrs-obs's decorators (`ObservedStore`, `observe`,
//! `execute_observed`) with a real OTLP receiver on 127.0.0.1 decoding the export with the
//! official protobuf types: the trace tree (command → load → append, each query's dispatch a
//! linked trace with the query's own spans inside), the metrics, and the outcome of every
//! `AggregateError` variant.

use std::time::Duration;

use cqrs_obs::cqrs_es::{outcome, ObservedExecute};
use cqrs_obs::trace::{Protocol, Root, Sampler};
use cqrs_obs::{AdminAddr, Console, Outcome};
#[path = "../../examples/cqrs_es_bank/domain.rs"]
mod domain;

use cqrs_obs_tests::otlp::{attr, hex, str_attr, Receiver};
use domain::{BankAccountCommand, CqrsBank, Fault};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;

fn count(name: &str, outcome: Outcome) -> u64 {
    cqrs_obs::handler::snapshots()
        .iter()
        .filter(|s| s.meta.name == name)
        .map(|s| s.count(outcome))
        .sum()
}

fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn cqrs_es_commands_are_traced_counted_and_classified() {
    let receiver = Receiver::http();
    let guard = cqrs_obs::builder()
        .service_name("cqrs-es-bank")
        .admin_addr(AdminAddr::Off)
        .console(Console::Text)
        .log_filter(format!("warn,{}=debug", module_path!()))
        .ignore_env()
        .otlp_endpoint(receiver.endpoint())
        .otlp_protocol(Protocol::HttpProtobuf)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .try_init()
        .expect("cqrs-obs initialises");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bank = CqrsBank::new();

    rt.block_on(async {
        let cqrs = &bank.cqrs;
        cqrs.execute_observed("acc-1", BankAccountCommand::Open)
            .await
            .unwrap();
        cqrs.execute_observed("acc-1", BankAccountCommand::Deposit { amount: 70 })
            .await
            .unwrap();
    });
    assert_eq!(bank.balances.get("acc-1"), Some((70, 2)));

    // One count per command: the annotated `handle` inside `execute_observed` adds none.
    assert_eq!(count("bank_account", Outcome::Ok), 2);
    assert_eq!(count("balances", Outcome::Ok), 2);
    assert_eq!(count("audit", Outcome::Ok), 2);

    // Every AggregateError variant and the outcome it is recorded with.
    let cases = [
        (None, Outcome::Rejected, "UserError"),
        (
            Some(Fault::Conflict),
            Outcome::Conflict,
            "AggregateConflict",
        ),
        (
            Some(Fault::Connection),
            Outcome::Error,
            "DatabaseConnectionError",
        ),
        (
            Some(Fault::Deserialization),
            Outcome::Error,
            "DeserializationError",
        ),
        (Some(Fault::Unexpected), Outcome::Error, "UnexpectedError"),
    ];
    for (fault, expected, variant) in cases {
        let before = count("bank_account", expected);
        let command = match fault {
            Some(fault) => {
                bank.store.fail_next(fault);
                BankAccountCommand::Deposit { amount: 1 }
            }
            None => BankAccountCommand::Withdraw { amount: 1_000 },
        };
        let error = rt
            .block_on(bank.cqrs.execute_observed("acc-1", command))
            .expect_err(variant);
        assert!(format!("{error:?}").starts_with(variant), "{error:?}");
        assert_eq!(outcome(&error), expected, "{variant}");
        assert_eq!(count("bank_account", expected), before + 1, "{variant}");
    }
    assert_eq!(
        count("bank_account", Outcome::Ok),
        2,
        "failures counted as ok"
    );

    // Plain `execute` still records through the annotated `handle` (as `ok` or its error's
    // classification), once.
    rt.block_on(
        bank.cqrs
            .execute("acc-1", BankAccountCommand::Deposit { amount: 5 }),
    )
    .unwrap();
    assert_eq!(count("bank_account", Outcome::Ok), 3);
    assert_eq!(bank.balances.get("acc-1"), Some((75, 3)));
    assert_eq!(count("balances", Outcome::Ok), 3);

    // Metrics through the Prometheus exposition.
    let exposition = cqrs_obs::metrics::render();
    let appended = |event: &str| {
        metric_value(
            &exposition,
            &format!("cqrs_events_appended_total{{aggregate=\"BankAccount\",event=\"{event}\"}}"),
        )
    };
    assert_eq!(appended("Opened"), Some(1.0), "{exposition}");
    assert_eq!(appended("Deposited"), Some(2.0), "{exposition}");
    // Loads through the observed store: 2 successful commands + the rejected one + the
    // conflict and unexpected failures (they fail at commit) + the plain execute.
    assert_eq!(
        metric_value(
            &exposition,
            "cqrs_aggregate_load_duration_seconds_count{aggregate=\"BankAccount\"}"
        ),
        Some(6.0),
        "{exposition}"
    );
    assert!(
        exposition.contains("cqrs_aggregate_events_replayed_bucket{aggregate=\"BankAccount\""),
        "{exposition}"
    );
    for (outcome, n) in [
        ("ok", 3.0),
        ("rejected", 1.0),
        ("conflict", 1.0),
        ("error", 3.0),
    ] {
        let series = format!(
            "cqrs_commands_total{{command=\"BankAccountCommand\",aggregate=\"BankAccount\",outcome=\"{outcome}\"}}"
        );
        assert_eq!(metric_value(&exposition, &series), Some(n), "{series}");
    }
    assert_eq!(
        metric_value(
            &exposition,
            "cqrs_event_end_to_end_seconds_count{projection=\"balances\"}"
        ),
        // The plain `execute` ran outside any observed command: its event carries no
        // production time, so only the two observed commands' events are measured.
        Some(2.0),
        "{exposition}"
    );

    // The exported traces.
    let audit = bank.audit.entries();
    let (kind, deposit_metadata) = &audit[1];
    assert_eq!(kind, "Deposited");
    guard.flush();
    let received = receiver
        .received
        .wait_for(Duration::from_secs(10), |spans| {
            spans
                .iter()
                .filter(|(_, s)| s.name == "balances.update")
                .count()
                >= 3
        });
    drop(guard);
    let spans: Vec<Span> = received.into_iter().map(|(_, s)| s).collect();
    let tp: Vec<&str> = deposit_metadata["traceparent"].split('-').collect();
    let (trace_id, command_span_id) = (tp[1], tp[2]);

    let command = spans
        .iter()
        .find(|s| hex(&s.span_id) == command_span_id)
        .unwrap_or_else(|| panic!("no span {command_span_id}: {spans:#?}"));
    assert_eq!(command.name, "handle BankAccountCommand");
    assert_eq!(hex(&command.trace_id), trace_id);
    assert_eq!(command.kind, SpanKind::Internal as i32);
    assert_eq!(
        str_attr(&command.attributes, "cqrs.aggregate.type"),
        Some("BankAccount")
    );
    assert_eq!(
        str_attr(&command.attributes, "cqrs.aggregate.id"),
        Some("acc-1")
    );
    assert_eq!(
        str_attr(&command.attributes, "cqrs.command.outcome"),
        Some("ok")
    );
    let child = |name: &str| -> &Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == name && s.parent_span_id == command.span_id)
            .collect();
        assert_eq!(found.len(), 1, "{name} under the command: {spans:#?}");
        found[0]
    };
    let load = child("load BankAccount");
    assert_eq!(load.kind, SpanKind::Client as i32);
    assert_eq!(
        attr(&load.attributes, "cqrs.aggregate.events_replayed"),
        Some(&Value::IntValue(1)),
        "the deposit replayed the Opened event"
    );
    assert_eq!(
        attr(&load.attributes, "cqrs.snapshot.hit"),
        Some(&Value::BoolValue(false))
    );
    let send = child("send BankAccount");
    assert_eq!(send.kind, SpanKind::Producer as i32);

    // Each query's dispatch of the Deposited event: a new trace linked to the command span,
    // with the query's own `tracing` span inside.
    for projection in ["balances", "audit"] {
        let process: Vec<&Span> = spans
            .iter()
            .filter(|s| {
                s.name == "process Deposited"
                    && str_attr(&s.attributes, "messaging.consumer.group.name") == Some(projection)
                    && s.links.iter().any(|l| hex(&l.span_id) == command_span_id)
            })
            .collect();
        assert_eq!(process.len(), 1, "{projection}: {spans:#?}");
        let process = process[0];
        assert_eq!(process.kind, SpanKind::Consumer as i32);
        assert_ne!(
            hex(&process.trace_id),
            trace_id,
            "a linked trace of its own"
        );
        assert_eq!(hex(&process.links[0].trace_id), trace_id);
        assert!(process.parent_span_id.is_empty());
        if projection == "balances" {
            assert!(
                spans.iter().any(|s| s.name == "balances.update"
                    && s.parent_span_id == process.span_id
                    && s.trace_id == process.trace_id),
                "the query's span nests under its dispatch: {spans:#?}"
            );
        }
    }

    // A conflict: the command span carries the error, its send span the store's error type.
    let conflicted: Vec<&Span> = spans
        .iter()
        .filter(|s| str_attr(&s.attributes, "cqrs.command.outcome") == Some("conflict"))
        .collect();
    assert_eq!(conflicted.len(), 1, "{spans:#?}");
    let conflicted = conflicted[0];
    assert_eq!(
        conflicted.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert!(spans.iter().any(|s| s.name == "send BankAccount"
        && s.parent_span_id == conflicted.span_id
        && str_attr(&s.attributes, "error.type") == Some("aggregate_conflict")));
}
