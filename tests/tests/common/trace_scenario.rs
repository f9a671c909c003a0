//! The must-show trace scenario: one bank transfer exported to a real OTLP receiver, checked
//! span by span against what the event metadata says. Included by the `trace_otlp_*` test
//! binaries only, so that its own handlers are not registered in the other tests' binaries.

use std::time::Duration;

use cqrs_obs::trace::{Protocol, Root, Sampler};
use cqrs_obs::{event_handler, AdminAddr, Console};
use cqrs_obs_examples::account::{
    AccountEnvelope, Deposit, OpenAccount, Origin, Transfer, TransferId,
};
use cqrs_obs_examples::{AccountId, Bank, Command};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use tracing::Instrument;

use cqrs_obs_tests::otlp::{hex, str_attr, Receiver};

/// An event handler of the test's own whose body opens `tracing` spans: they must nest.
#[event_handler(projection = "audit", event = "Withdrawn", metadata = envelope.metadata)]
async fn audit(envelope: &AccountEnvelope) -> Result<(), std::io::Error> {
    async {
        tokio::task::yield_now().await;
        tracing::info!(version = envelope.version, "audited");
    }
    .instrument(tracing::info_span!("audit.write"))
    .await;
    Ok(())
}

/// The same, sync, with `parent = "child"`: it continues the producer's trace.
#[event_handler(
    projection = "audit_sync",
    event = "Withdrawn",
    metadata = envelope.metadata,
    parent = "child"
)]
fn audit_sync(envelope: &AccountEnvelope) -> u64 {
    let _span = tracing::info_span!("audit.sync").entered();
    envelope.version
}

fn trace_parent(envelope: &AccountEnvelope) -> (String, String, String) {
    let tp = &envelope.metadata["traceparent"];
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    (
        parts[1].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    )
}

fn one<'a>(spans: &'a [Span], what: &str, pred: impl Fn(&Span) -> bool) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| pred(s)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {what}, got {}: {spans:#?}",
        found.len()
    );
    found[0]
}

/// Runs the scenario over `protocol`. Once per process (it initialises cqrs-obs).
pub(crate) fn check_bank_transfer(protocol: Protocol) {
    let receiver = match protocol {
        Protocol::HttpProtobuf => Receiver::http(),
        Protocol::Grpc => Receiver::grpc(),
    };
    let guard = cqrs_obs::builder()
        .service_name("bank-trace")
        .admin_addr(AdminAddr::Off)
        .console(Console::Text)
        .log_filter(format!(
            "warn,cqrs_obs_examples=debug,{}=info",
            module_path!().split("::").next().unwrap_or_default()
        ))
        .ignore_env()
        .otlp_endpoint(receiver.endpoint())
        .otlp_protocol(protocol)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .resource_attribute("deployment.environment", "test")
        .resource_attribute("service.version", "9.9.9")
        .try_init()
        .expect("cqrs-obs initialises with an OTLP endpoint");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bank = Bank::new();
    let (a, b) = (AccountId(1), AccountId(2));
    let appended = rt.block_on(async {
        for account in [a, b] {
            let owner = "ada".to_owned();
            bank.execute(Command::Open(OpenAccount { account, owner }))
                .await
                .unwrap();
        }
        let deposit = Deposit {
            account: a,
            amount: 10,
            origin: Origin::Teller,
        };
        bank.execute(Command::Deposit(deposit)).await.unwrap();
        let transfer = Transfer {
            id: TransferId(7),
            from: a,
            to: b,
            amount: 4,
        };
        let appended = bank.execute(Command::Transfer(transfer)).await.unwrap();
        for envelope in &appended {
            audit(envelope).await.unwrap();
            audit_sync(envelope);
        }
        appended
    });
    assert_eq!(appended.len(), 1);
    let withdrawn = &appended[0];
    let (trace_id, command_span_id, flags) = trace_parent(withdrawn);
    assert_eq!(flags, "01", "the transfer's trace is sampled");

    // A rejected transfer: its span carries the error.
    let rejected = rt.block_on(async {
        let transfer = Transfer {
            id: TransferId(8),
            from: a,
            to: b,
            amount: 1_000,
        };
        bank.execute(Command::Transfer(transfer)).await
    });
    assert!(rejected.is_err());

    // An unsampled call exports nothing but still propagates its trace context.
    cqrs_obs::trace::set_sampler(Sampler::parent_based(Root::AlwaysOff));
    let unsampled = rt.block_on(async {
        let deposit = Deposit {
            account: b,
            amount: 1,
            origin: Origin::Teller,
        };
        bank.execute(Command::Deposit(deposit)).await.unwrap()
    });
    let (unsampled_trace, _, unsampled_flags) = trace_parent(&unsampled[0]);
    assert_eq!(unsampled_flags, "00");

    guard.flush();
    let received = receiver
        .received
        .wait_for(Duration::from_secs(10), |spans| {
            spans.iter().any(|(_, s)| s.name == "audit.sync")
        });
    drop(guard);

    let resource = &received[0].0;
    assert_eq!(str_attr(resource, "service.name"), Some("bank-trace"));
    assert_eq!(str_attr(resource, "service.version"), Some("9.9.9"));
    assert_eq!(str_attr(resource, "deployment.environment"), Some("test"));
    assert!(str_attr(resource, "host.name").is_some(), "{resource:?}");
    let spans: Vec<Span> = received.into_iter().map(|(_, s)| s).collect();
    assert!(
        spans.iter().all(|s| hex(&s.trace_id) != unsampled_trace),
        "the unsampled deposit exported a span"
    );

    // The command span: its ids are the ones the events carry.
    let command = one(&spans, "transfer command span", |s| {
        s.name == "handle Transfer" && hex(&s.trace_id) == trace_id
    });
    assert_eq!(hex(&command.span_id), command_span_id);
    assert_eq!(command.kind, SpanKind::Internal as i32);
    assert!(
        command.parent_span_id.is_empty(),
        "a command from outside starts a trace"
    );
    assert_eq!(
        str_attr(&command.attributes, "cqrs.command.type"),
        Some("Transfer")
    );
    assert_eq!(
        str_attr(&command.attributes, "cqrs.aggregate.type"),
        Some("Account")
    );
    assert_eq!(
        str_attr(&command.attributes, "cqrs.command.outcome"),
        Some("ok")
    );

    // Its load and append spans, and the store's own `tracing` span, are its children.
    let children = |name: &str| -> Vec<&Span> {
        spans
            .iter()
            .filter(|s| s.name == name && s.parent_span_id == command.span_id)
            .collect()
    };
    let load = children("load Account");
    assert_eq!(load.len(), 1, "{spans:#?}");
    assert_eq!(load[0].kind, SpanKind::Client as i32);
    let send = children("send Account");
    assert_eq!(send.len(), 1, "{spans:#?}");
    assert_eq!(send[0].kind, SpanKind::Producer as i32);
    assert_eq!(
        str_attr(&send[0].attributes, "messaging.operation.type"),
        Some("send")
    );
    assert_eq!(
        children("apply_events").len(),
        1,
        "user span under the command: {spans:#?}"
    );

    // Every event handler of the Withdrawn event: a new trace with a link to the command.
    let correlation = &withdrawn.metadata["correlation_id"];
    let linked: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name == "process Withdrawn" && s.links.iter().any(|l| l.span_id == command.span_id)
        })
        .collect();
    let groups: Vec<&str> = linked
        .iter()
        .map(|s| str_attr(&s.attributes, "messaging.consumer.group.name").unwrap_or("-"))
        .collect();
    for group in ["balances", "transfer", "audit"] {
        assert!(
            groups.contains(&group),
            "no linked `process Withdrawn` for {group}: {groups:?}"
        );
    }
    for span in &linked {
        assert_eq!(span.kind, SpanKind::Consumer as i32);
        assert_ne!(
            hex(&span.trace_id),
            trace_id,
            "a linked consumer starts its own trace"
        );
        assert!(span.parent_span_id.is_empty());
        assert_eq!(hex(&span.links[0].trace_id), trace_id);
        assert_eq!(
            str_attr(&span.attributes, "messaging.message.conversation_id"),
            Some(correlation.as_str())
        );
        assert_eq!(
            str_attr(&span.attributes, "messaging.message.id"),
            Some(withdrawn.metadata["message_id"].as_str())
        );
    }

    // User spans nest under the event handlers' spans (async and sync bodies).
    let audit_span = linked
        .iter()
        .find(|s| str_attr(&s.attributes, "messaging.consumer.group.name") == Some("audit"))
        .unwrap();
    let write = one(&spans, "audit.write", |s| s.name == "audit.write");
    assert_eq!(write.parent_span_id, audit_span.span_id);
    assert_eq!(write.trace_id, audit_span.trace_id);
    assert!(
        write.events.iter().any(|e| e.name == "audited"),
        "{write:#?}"
    );

    // `parent = "child"` on a young event continues the command's trace instead.
    let child = one(&spans, "audit_sync span", |s| {
        s.name == "process Withdrawn"
            && str_attr(&s.attributes, "messaging.consumer.group.name") == Some("audit_sync")
    });
    assert_eq!(hex(&child.trace_id), trace_id);
    assert_eq!(child.parent_span_id, command.span_id);
    let sync_user = one(&spans, "audit.sync", |s| s.name == "audit.sync");
    assert_eq!(sync_user.parent_span_id, child.span_id);

    // The saga's deposit command is a child of the saga's span.
    let saga = linked
        .iter()
        .find(|s| str_attr(&s.attributes, "messaging.consumer.group.name") == Some("transfer"))
        .unwrap();
    let credit = one(&spans, "the saga's deposit", |s| {
        s.name == "handle Deposit" && s.parent_span_id == saga.span_id
    });
    assert_eq!(credit.trace_id, saga.trace_id);

    // The rejected transfer: error status and `error.type`.
    let failed = spans
        .iter()
        .find(|s| {
            s.name == "handle Transfer"
                && str_attr(&s.attributes, "cqrs.command.outcome") == Some("rejected")
        })
        .expect("the rejected transfer's span");
    assert_eq!(
        failed.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert_eq!(str_attr(&failed.attributes, "error.type"), Some("rejected"));
}
