//! `slo`: attainment, error budget and burn-rate alerts of each SLO, judged over a window
//! (exit 1 when one is breached: enough events and attainment below the target).

use serde_json::Value;

use super::{Ctx, Outcome};
use crate::cli::{SloArgs, SloFormat};
use crate::client::encode;
use crate::error::{CliError, Exit};
use crate::model::{SloReport, WindowReport};
use crate::output::{Record, Report, Tone};

/// `3600` as `1h`, `2592000` as `30d`.
pub(crate) fn human_secs(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// A percentage rounded for people (`99.95`, `100`).
fn percent(v: f64) -> Value {
    Value::from((v * 1000.0).round() / 1000.0)
}

/// How one SLO stands over one window.
#[derive(Debug, Clone)]
pub(crate) struct Judgement {
    /// All events.
    pub(crate) total: u64,
    /// Attainment in percent.
    pub(crate) attainment: Option<f64>,
    /// Remaining budget share (negative when overspent).
    pub(crate) budget_left: Option<f64>,
    /// `OK`, `BURNING`, `BREACHED` or `NO DATA`.
    pub(crate) status: &'static str,
}

impl Judgement {
    /// Judges `error_ratio` over `total` events against `target` percent.
    pub(crate) fn new(
        target: f64,
        min_events: u64,
        total: u64,
        error_ratio: Option<f64>,
        firing: bool,
    ) -> Judgement {
        let budget = 1.0 - target / 100.0;
        let attainment = error_ratio.map(|r| (1.0 - r) * 100.0);
        let budget_left = error_ratio
            .filter(|_| budget > 0.0)
            .map(|r| 1.0 - r / budget);
        let status = match attainment {
            None => "NO DATA",
            Some(_) if total < min_events.max(1) => "NO DATA",
            Some(a) if a < target => "BREACHED",
            Some(_) if firing => "BURNING",
            Some(_) => "OK",
        };
        Judgement {
            total,
            attainment,
            budget_left,
            status,
        }
    }

    /// Whether the SLO is breached.
    pub(crate) fn breached(&self) -> bool {
        self.status == "BREACHED"
    }
}

/// The tone of a judgement.
pub(crate) fn tone(status: &str) -> Tone {
    match status {
        "OK" => Tone::Good,
        "BURNING" => Tone::Warn,
        "BREACHED" => Tone::Bad,
        _ => Tone::Dim,
    }
}

fn window(report: &SloReport, secs: u64) -> Result<&WindowReport, CliError> {
    report
        .windows
        .iter()
        .find(|w| w.window_seconds == secs)
        .ok_or_else(|| {
            let known: Vec<String> = report
                .windows
                .iter()
                .map(|w| human_secs(w.window_seconds))
                .collect();
            CliError::Usage(format!(
                "--period: SLO `{}` has no {} window; its windows: {}",
                report.slo.id,
                human_secs(secs),
                known.join(", ")
            ))
        })
}

fn firing(report: &SloReport) -> Vec<&str> {
    report
        .alerts
        .iter()
        .filter(|a| a.state == "firing")
        .map(|a| a.severity.as_str())
        .collect()
}

/// Fetches the reports (one when `id` is given).
fn fetch(ctx: &Ctx, id: Option<&str>) -> Result<Vec<SloReport>, CliError> {
    match id {
        None => ctx.admin.get_json("/slo"),
        Some(id) => {
            let answer = ctx.admin.get(&format!("/slo/{}", encode(id)))?;
            if answer.status == 404 {
                known(ctx, id)?;
            }
            Ok(vec![answer.expect(&[200])?.json()?])
        }
    }
}

/// `Ok` when the service has an SLO `id`; otherwise a usage error (exit 2) that lists the
/// SLOs it has. For a 404 that may name the SLO or something under it.
pub(super) fn known(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let all: Vec<SloReport> = ctx.admin.get_json("/slo")?;
    if all.iter().any(|r| r.slo.id == id) {
        return Ok(());
    }
    let ids: Vec<&str> = all.iter().map(|r| r.slo.id.as_str()).collect();
    Err(CliError::Usage(format!(
        "no SLO `{id}`; SLOs: {}",
        ids.join(", ")
    )))
}

/// Runs `slo`.
pub(crate) fn run(ctx: &Ctx, args: &SloArgs) -> Outcome {
    let reports = fetch(ctx, args.id.as_deref())?;
    let mut exit = Exit::Ok;
    let mut summary = Vec::new();
    for r in &reports {
        let secs = args.period.unwrap_or(r.slo.period.round() as u64);
        let w = window(r, secs)?;
        let fire = firing(r);
        let j = Judgement::new(
            r.slo.target,
            r.slo.min_events,
            w.total,
            w.error_ratio,
            !fire.is_empty(),
        );
        if j.breached() {
            exit = Exit::Failing;
        }
        summary.push(
            Record::new()
                .with("slo", r.slo.id.as_str())
                .with("category", r.slo.category.as_str())
                .with("objective", Value::from(r.slo.target))
                .with("window", human_secs(secs))
                .with("attainment", j.attainment.map_or(Value::Null, percent))
                .with(
                    "budget_left",
                    j.budget_left.map_or(Value::Null, |b| percent(b * 100.0)),
                )
                .with(
                    "burn_1h",
                    r.budget
                        .as_ref()
                        .and_then(|b| b.burn_rate_1h)
                        .map_or(Value::Null, |b| Value::from((b * 100.0).round() / 100.0)),
                )
                .with("events", j.total)
                .with("firing", fire.join(","))
                .with("status", j.status)
                .tone("status", tone(j.status)),
        );
    }
    let report = match args.format {
        SloFormat::Summary => {
            let mut report = Report::new(
                vec![
                    "slo",
                    "category",
                    "objective",
                    "window",
                    "attainment",
                    "budget_left",
                    "burn_1h",
                    "events",
                    "firing",
                    "status",
                ],
                summary,
            );
            report.footer.push("(objective, attainment and budget_left in %; burn_1h: budget burn rate over the last hour)".to_owned());
            report
        }
        SloFormat::Windows => windows_view(&reports),
        SloFormat::Alerts => alerts_view(&reports),
    };
    Ok((report, exit))
}

fn windows_view(reports: &[SloReport]) -> Report {
    let mut records = Vec::new();
    for r in reports {
        for w in &r.windows {
            let j = Judgement::new(
                r.slo.target,
                r.slo.min_events,
                w.total,
                w.error_ratio,
                false,
            );
            records.push(
                Record::new()
                    .with("slo", r.slo.id.as_str())
                    .with("window", human_secs(w.window_seconds))
                    .with("good", w.good)
                    .with("total", w.total)
                    .with("attainment", j.attainment.map_or(Value::Null, percent))
                    .with(
                        "error_ratio",
                        w.error_ratio.map_or(Value::Null, Value::from),
                    )
                    .with(
                        "burn_rate",
                        w.burn_rate
                            .map_or(Value::Null, |b| Value::from((b * 100.0).round() / 100.0)),
                    )
                    .with("status", j.status)
                    .tone("status", tone(j.status)),
            );
        }
    }
    Report::new(
        vec![
            "slo",
            "window",
            "good",
            "total",
            "attainment",
            "error_ratio",
            "burn_rate",
            "status",
        ],
        records,
    )
}

fn alerts_view(reports: &[SloReport]) -> Report {
    let mut records = Vec::new();
    for r in reports {
        for a in &r.alerts {
            let tone = if a.state == "firing" {
                Tone::Bad
            } else {
                Tone::Plain
            };
            records.push(
                Record::new()
                    .with("slo", r.slo.id.as_str())
                    .with("severity", a.severity.as_str())
                    .with("long", human_secs(a.long_seconds))
                    .with("short", human_secs(a.short_seconds))
                    .with("factor", Value::from(a.factor))
                    .with("state", a.state.as_str())
                    .with("acknowledged_by", a.acknowledged_by())
                    .tone("state", tone),
            );
        }
    }
    Report::new(
        vec![
            "slo",
            "severity",
            "long",
            "short",
            "factor",
            "state",
            "acknowledged_by",
        ],
        records,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_named_in_their_largest_unit() {
        assert_eq!(human_secs(300), "5m");
        assert_eq!(human_secs(3600), "1h");
        assert_eq!(human_secs(86_400), "1d");
        assert_eq!(human_secs(2_592_000), "30d");
        assert_eq!(human_secs(604_800), "7d");
        assert_eq!(human_secs(90), "90s");
    }

    #[test]
    fn judgements() {
        assert_eq!(
            Judgement::new(99.0, 10, 100, Some(0.01), false).status,
            "OK"
        );
        assert_eq!(
            Judgement::new(99.0, 10, 100, Some(0.02), false).status,
            "BREACHED"
        );
        assert_eq!(
            Judgement::new(99.0, 10, 100, Some(0.01), true).status,
            "BURNING"
        );
        assert_eq!(
            Judgement::new(99.0, 10, 2, Some(0.5), true).status,
            "NO DATA"
        );
        let j = Judgement::new(99.0, 10, 1000, Some(0.005), false);
        assert!((j.budget_left.unwrap() - 0.5).abs() < 1e-9);
    }
}
