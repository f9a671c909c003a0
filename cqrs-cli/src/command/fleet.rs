//! `slo --prometheus URL`: the fleet view. The SLOs and their queries come from the admin
//! endpoint's generated rules (`/slo/rules`); each recording rule's expression is evaluated
//! by the Prometheus server (`GET /api/v1/query`), which sees every instance it scrapes.

use std::collections::BTreeMap;

use serde_json::Value;

use super::slo::{human_secs, tone, Judgement};
use super::{Ctx, Outcome};
use crate::cli::SloArgs;
use crate::client::{with_query, Client};
use crate::error::{CliError, Exit};
use crate::output::{Record, Report};

/// One recording rule: its name, expression and `slo_id` label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// `record:` name.
    pub(crate) record: String,
    /// `expr:`.
    pub(crate) expr: String,
    /// The `slo_id` label.
    pub(crate) slo_id: String,
}

/// A YAML scalar as the generator writes it: double-quoted with `\\` and `\"` escapes, or
/// plain.
fn scalar(s: &str) -> String {
    let s = s.trim();
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The recording rules of a generated rule file (alerting rules are skipped).
pub(crate) fn parse_rules(yaml: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut current: Option<Rule> = None;
    let finish = |rule: Option<Rule>, rules: &mut Vec<Rule>| {
        if let Some(rule) = rule.filter(|r| !r.expr.is_empty() && !r.slo_id.is_empty()) {
            rules.push(rule);
        }
    };
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        let item = trimmed.strip_prefix("- ");
        let body = item.unwrap_or(trimmed);
        if item.is_some() {
            finish(current.take(), &mut rules);
        }
        let Some((key, value)) = body.split_once(':').filter(|(k, _)| !k.contains(' ')) else {
            continue;
        };
        match (key, current.as_mut()) {
            ("record", _) if item.is_some() => {
                current = Some(Rule {
                    record: scalar(value),
                    expr: String::new(),
                    slo_id: String::new(),
                });
            }
            ("expr", Some(rule)) => rule.expr = scalar(value),
            ("slo_id", Some(rule)) => rule.slo_id = scalar(value),
            _ => {}
        }
    }
    finish(current, &mut rules);
    rules
}

/// Evaluates `expr` now; `None` when the result is empty or not a number (NaN: no traffic).
fn query(prometheus: &Client, expr: &str) -> Result<Option<f64>, CliError> {
    let answer = prometheus.get(&with_query(
        "/api/v1/query",
        &[("query", Some(expr.to_owned()))],
    ))?;
    let body: Value = match answer.expect(&[200]) {
        Ok(a) => a.json()?,
        Err(CliError::Status { url, status, .. }) => {
            return Err(CliError::Status {
                url,
                status,
                code: None,
                message: format!("query `{expr}` failed"),
            })
        }
        Err(e) => return Err(e),
    };
    if body["status"] != "success" {
        return Err(CliError::Invalid {
            url: format!("{}/api/v1/query", prometheus.base()),
            reason: format!("{}: {}", body["errorType"], body["error"]),
        });
    }
    let result = &body["data"]["result"];
    let sample = match body["data"]["resultType"].as_str() {
        Some("vector") => &result[0]["value"][1],
        Some("scalar") => &result[1],
        _ => &Value::Null,
    };
    Ok(sample
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| v.is_finite()))
}

/// The number in `vector(0.999)`.
fn vector_value(expr: &str) -> Option<f64> {
    expr.trim()
        .strip_prefix("vector(")?
        .strip_suffix(')')?
        .trim()
        .parse()
        .ok()
}

/// Runs `slo --prometheus URL`.
pub(crate) fn run(ctx: &Ctx, args: &SloArgs) -> Outcome {
    let url = args.prometheus.as_deref().unwrap_or_default();
    let yaml = ctx.admin.get("/slo/rules")?.expect(&[200])?.body;
    let rules = parse_rules(&yaml);
    let mut by_slo: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for r in &rules {
        by_slo.entry(r.slo_id.as_str()).or_default().push(r);
    }
    if let Some(id) = &args.id {
        if !by_slo.contains_key(id.as_str()) {
            let ids: Vec<&str> = by_slo.keys().copied().collect();
            return Err(CliError::Usage(format!(
                "no SLO `{id}` in the rules; SLOs: {}",
                ids.join(", ")
            )));
        }
        by_slo.retain(|k, _| k == id);
    }
    let prometheus = Client::new(url, None, ctx.settings.timeout, ctx.settings.progress, None)?;
    let mut exit = Exit::Ok;
    let mut records = Vec::new();
    for (id, rules) in by_slo {
        let find = |record: &str| {
            rules
                .iter()
                .find(|r| r.record == record)
                .map(|r| r.expr.as_str())
        };
        let objective = find("slo:objective:ratio").and_then(vector_value);
        let days = find("slo:time_period:days").and_then(vector_value);
        let (Some(objective), Some(days)) = (objective, days) else {
            continue;
        };
        let secs = args.period.unwrap_or((days * 86_400.0).round() as u64);
        let d = human_secs(secs);
        let (Some(ratio_expr), Some(events_expr)) = (
            find(&format!("slo:sli_error:ratio_rate{d}")),
            find(&format!("slo:sli_events:increase{d}")),
        ) else {
            let windows: Vec<String> = rules
                .iter()
                .filter_map(|r| r.record.strip_prefix("slo:sli_error:ratio_rate"))
                .map(str::to_owned)
                .collect();
            return Err(CliError::Usage(format!(
                "--period: SLO `{id}` has no {d} recording rule; its windows: {}",
                windows.join(", ")
            )));
        };
        let error_ratio = query(&prometheus, ratio_expr)?;
        let events = query(&prometheus, events_expr)?.unwrap_or(0.0).round() as u64;
        let target = objective * 100.0;
        let j = Judgement::new(target, 1, events, error_ratio, false);
        if j.breached() {
            exit = Exit::Failing;
        }
        records.push(
            Record::new()
                .with("slo", id)
                .with("objective", Value::from((target * 1e6).round() / 1e6))
                .with("window", d)
                .with(
                    "attainment",
                    j.attainment
                        .map_or(Value::Null, |a| Value::from((a * 1000.0).round() / 1000.0)),
                )
                .with(
                    "budget_left",
                    j.budget_left.map_or(Value::Null, |b| {
                        Value::from((b * 100_000.0).round() / 1000.0)
                    }),
                )
                .with("events", events)
                .with("status", j.status)
                .tone("status", tone(j.status)),
        );
    }
    let mut report = Report::new(
        vec![
            "slo",
            "objective",
            "window",
            "attainment",
            "budget_left",
            "events",
            "status",
        ],
        records,
    );
    report
        .preamble
        .push((format!("fleet view from {url}"), crate::output::Tone::Dim));
    Ok((report, exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_rules_are_read_and_alerts_skipped() {
        let yaml = r#"groups:
  - name: cqrs-obs-slo-x-sli
    rules:
      - record: slo:sli_error:ratio_rate5m
        expr: "1 - (sum(rate(h_bucket{le=\"0.1\"}[5m])) / sum(rate(h_count[5m])))"
        labels:
          sloth_id: "svc-x"
          slo_id: "x"
      - record: slo:objective:ratio
        expr: "vector(0.999)"
        labels:
          slo_id: "x"
  - name: cqrs-obs-slo-x-alerts
    rules:
      - alert: CqrsSloErrorBudgetBurn
        expr: "slo:sli_error:ratio_rate1h{slo_id=\"x\"} > 1"
        labels:
          slo_id: "x"
"#;
        let rules = parse_rules(yaml);
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert_eq!(
            rules[0].expr,
            "1 - (sum(rate(h_bucket{le=\"0.1\"}[5m])) / sum(rate(h_count[5m])))"
        );
        assert_eq!(rules[1].slo_id, "x");
        assert_eq!(vector_value(&rules[1].expr), Some(0.999));
    }
}
