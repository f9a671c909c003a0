//! `anomalies`: what the service's detectors flagged (exit 1 with `--fail-on` when one at or
//! above that severity is listed).

use serde_json::Value;

use super::{Ctx, Outcome};
use crate::cli::{AnomaliesArgs, Severity};
use crate::client::with_query;
use crate::error::{refused, CliError, Exit};
use crate::output::{cell, Record, Report, Tone};

fn name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The severity named by the service (`none` and unknown names are below `low`).
fn parse(s: &str) -> Option<Severity> {
    match s.to_ascii_lowercase().as_str() {
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

fn tone(s: Option<Severity>) -> Tone {
    match s {
        Some(Severity::Critical | Severity::High) => Tone::Bad,
        Some(Severity::Medium) => Tone::Warn,
        _ => Tone::Plain,
    }
}

/// The first of `keys` present in `item`.
fn first<'a>(item: &'a Value, keys: &[&str]) -> &'a Value {
    keys.iter()
        .find_map(|k| item.get(*k).filter(|v| !v.is_null()))
        .unwrap_or(&Value::Null)
}

/// The anomalies in an answer: a list, or an object with a list under `anomalies` or
/// `items`.
fn items(body: &Value) -> &[Value] {
    let list = if body.is_array() {
        body
    } else {
        first(body, &["anomalies", "items", "entries"])
    };
    list.as_array().map_or(&[], Vec::as_slice)
}

/// `--since` as the service takes it: an age (`3600s`) or milliseconds since the epoch.
fn since_ms(since: &str) -> Result<String, CliError> {
    if since.ends_with('s') && since[..since.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
        return Ok(since.to_owned());
    }
    crate::clock::parse_rfc3339_ms(since)
        .map(|ms| ms.max(0).to_string())
        .ok_or_else(|| CliError::Usage(format!("--since: `{since}` is not a time")))
}

/// Runs `anomalies`.
pub(crate) fn run(ctx: &Ctx, args: &AnomaliesArgs) -> Outcome {
    let pairs = [
        ("severity", args.severity.map(|s| name(s).to_owned())),
        ("metric", args.metric.clone()),
        ("since", Some(since_ms(&args.since)?)),
    ];
    let body: Value = match ctx
        .admin
        .get(&with_query("/anomalies", &pairs))?
        .expect(&[200])
    {
        Err(CliError::Status {
            status: 400,
            message,
            ..
        }) => {
            let params = [
                ("severity", "--severity"),
                ("metric", "--metric"),
                ("since", "--since"),
            ];
            return Err(refused(&message, &params));
        }
        other => other?.json()?,
    };
    let mut worst: Option<Severity> = None;
    let mut records = Vec::new();
    for item in items(&body) {
        let severity_text = cell(first(item, &["severity", "level"]));
        let severity = parse(&severity_text);
        // Filter here too, in case the service ignores a parameter.
        if args
            .severity
            .is_some_and(|min| severity.is_none_or(|s| s < min))
        {
            continue;
        }
        let metric = first(item, &["metric", "series", "name"]);
        if args.metric.as_ref().is_some_and(|m| cell(metric) != *m) {
            continue;
        }
        worst = worst.max(severity);
        let confidence = first(item, &["confidence"]);
        let confidence = confidence.get("value").unwrap_or(confidence);
        let time = match first(item, &["timestamp", "at", "time"]) {
            Value::Number(n) => n
                .as_i64()
                .map_or(Value::Null, |ms| Value::from(crate::clock::rfc3339_ms(ms))),
            other => other.clone(),
        };
        let metadata = first(item, &["metadata", "labels"])
            .as_object()
            .map_or(Value::Null, |m| {
                Value::from(
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", cell(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            });
        let trend = first(item, &["trend"]);
        records.push(
            Record::new()
                .with("time", time)
                .with("metric", metric.clone())
                .with("severity", severity_text.as_str())
                .with("score", first(item, &["score"]).clone())
                .with("confidence", confidence.clone())
                .with("value", first(item, &["value", "observed"]).clone())
                .with("deviation", first(item, &["deviation"]).clone())
                .with("detectors", first(item, &["detectors", "detector"]).clone())
                .with("trend", trend.get("kind").unwrap_or(trend).clone())
                .with("metadata", metadata)
                .tone("severity", tone(severity)),
        );
    }
    let exit = match (args.fail_on, worst) {
        (Some(min), Some(w)) if w >= min => Exit::Failing,
        _ => Exit::Ok,
    };
    let report = Report::new(
        vec![
            "time",
            "metric",
            "severity",
            "score",
            "confidence",
            "value",
            "deviation",
            "detectors",
            "trend",
            "metadata",
        ],
        records,
    );
    Ok((report, exit))
}
