//! `ack`: acknowledges a firing or pending SLO burn-rate alert
//! (`POST /slo/{id}/alerts/{severity}/ack`, an operator action).

use serde_json::Value;

use super::slo::human_secs;
use super::{Ctx, Outcome};
use crate::cli::AckArgs;
use crate::client::encode;
use crate::clock::rfc3339_ms;
use crate::error::Exit;
use crate::model::AlertReport;
use crate::output::{Record, Report};

/// Runs `ack`. An unknown SLO is a usage error (exit 2) that lists the SLOs; an alert that
/// is not active is an error of the service's (409, exit 4) with its reason.
pub(crate) fn run(ctx: &Ctx, args: &AckArgs) -> Outcome {
    let mut body = serde_json::Map::new();
    if let Some(by) = &args.by {
        body.insert("by".into(), Value::from(by.as_str()));
    }
    if let Some(note) = &args.note {
        body.insert("note".into(), Value::from(note.as_str()));
    }
    let path = format!(
        "/slo/{}/alerts/{}/ack",
        encode(&args.slo),
        args.severity.as_str()
    );
    let answer = ctx
        .admin
        .post_json(&path, Value::Object(body).to_string().as_bytes())?;
    if answer.status == 404 {
        super::slo::known(ctx, &args.slo)?;
    }
    let alert: AlertReport = answer.expect(&[200])?.json()?;
    let ack = alert.acknowledged.as_ref();
    let record = Record::new()
        .with("slo", args.slo.as_str())
        .with("severity", alert.severity.as_str())
        .with("long", human_secs(alert.long_seconds))
        .with("short", human_secs(alert.short_seconds))
        .with("state", alert.state.as_str())
        .with("acknowledged_by", alert.acknowledged_by())
        .with(
            "acknowledged_at",
            ack.map_or(Value::Null, |a| {
                Value::from(rfc3339_ms(i64::try_from(a.at_ms).unwrap_or(i64::MAX)))
            }),
        )
        .with(
            "note",
            ack.map_or(Value::Null, |a| Value::from(a.note.as_str())),
        );
    Ok((
        Report::new(
            vec![
                "slo",
                "severity",
                "long",
                "short",
                "state",
                "acknowledged_by",
                "acknowledged_at",
                "note",
            ],
            vec![record],
        ),
        Exit::Ok,
    ))
}
