//! `health`: the service's health and each indicator's (exit 1 when DOWN or OUT_OF_SERVICE).

use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::cli::HealthArgs;
use crate::error::{CliError, Exit};
use crate::model::{Component, Health};
use crate::output::{number, Record, Report, Tone};

/// The tone of a health status.
pub(crate) fn tone(status: &str) -> Tone {
    match status {
        "UP" => Tone::Good,
        "DEGRADED" | "UNKNOWN" => Tone::Warn,
        _ => Tone::Bad,
    }
}

fn failing(status: &str) -> bool {
    matches!(status, "DOWN" | "OUT_OF_SERVICE")
}

fn record(name: &str, c: &Component) -> Record {
    let observed = match (&c.measurement, c.observed_value) {
        (Some(m), Some(v)) => {
            let unit = c.observed_unit.as_deref().unwrap_or("");
            Value::from(
                format!(
                    "{m} {}{}{unit}",
                    number(v),
                    if unit == "%" { "" } else { " " }
                )
                .trim_end()
                .to_owned(),
            )
        }
        _ => Value::Null,
    };
    let reason = c
        .details
        .get("error")
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned));
    Record::new()
        .with("indicator", name)
        .with("status", c.status.as_str())
        .with("critical", c.critical.map_or(Value::Null, Value::from))
        .with("groups", c.groups.join(","))
        .with("observed", observed)
        .with(
            "duration_ms",
            c.duration_ms.map_or(Value::Null, Value::from),
        )
        .with("reason", reason.map_or(Value::Null, Value::from))
        .tone("status", tone(&c.status))
}

const COLUMNS: [&str; 7] = [
    "indicator",
    "status",
    "critical",
    "groups",
    "observed",
    "duration_ms",
    "reason",
];

/// Runs `health`.
pub(crate) fn run(ctx: &Ctx, args: &HealthArgs) -> Outcome {
    let path = match &args.group {
        Some(group) => format!("/health/{}", crate::client::encode(group)),
        None => "/health".to_owned(),
    };
    let answer = ctx.admin.get(&path)?;
    let answer = match answer.expect(&[200, 503]) {
        Err(CliError::Status {
            status: 404,
            message,
            ..
        }) if args.group.is_some() => return Err(CliError::Usage(format!("--group: {message}"))),
        other => other?,
    };
    let health: Health = answer.json()?;
    if let Some(name) = &args.indicator {
        let Some(c) = health.components.get(name) else {
            let known: Vec<&str> = health.components.keys().map(String::as_str).collect();
            return Err(CliError::Usage(format!(
                "--indicator: no indicator `{name}`; indicators: {}",
                if known.is_empty() {
                    "(none shown)".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        let r = record(name, c);
        let mut report = Report::new(COLUMNS.to_vec(), vec![r.clone()]);
        report.json = Some(serde_json::to_value(&r).unwrap_or(Value::Null));
        let exit = if failing(&c.status) {
            Exit::Failing
        } else {
            Exit::Ok
        };
        return Ok((report, exit));
    }
    let records: Vec<Record> = health
        .components
        .iter()
        .map(|(name, c)| record(name, c))
        .collect();
    let mut report = Report::new(COLUMNS.to_vec(), records);
    let scope = args
        .group
        .as_deref()
        .map_or_else(String::new, |g| format!(" ({g})"));
    report.preamble.push((
        format!("service{scope}: {}", health.status),
        tone(&health.status),
    ));
    report.json = Some(json!({
        "status": health.status,
        "groups": health.groups,
        "components": report.records,
    }));
    if health.components.is_empty() {
        report
            .footer
            .push("(component details are hidden; pass a --token the service accepts)".to_owned());
    }
    let exit = if failing(&health.status) {
        Exit::Failing
    } else {
        Exit::Ok
    };
    Ok((report, exit))
}
