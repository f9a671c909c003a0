//! The response bodies: Spring-style JSON, the IETF health-check draft
//! (`application/health+json`), and the plain text of `/livez` and `/readyz`.

use serde_json::{json, Map, Value};

use super::registry::{Component, Snapshot};
use super::HealthError;

/// Who sees component details (details, observed values, timings, reasons) in `/health`.
///
/// ```
/// use cqrs_obs::health::ShowDetails;
/// assert_eq!("when-authorized".parse::<ShowDetails>().unwrap(), ShowDetails::WhenAuthorized);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShowDetails {
    /// Only the aggregate status.
    Never,
    /// Details for requests that presented the admin token (`CQRS_OBS_ADMIN_TOKEN`); with no
    /// token configured, nobody is authorized and only the status is shown.
    WhenAuthorized,
    /// Details for everyone (the default: the admin endpoint listens on loopback unless a
    /// token is set).
    #[default]
    Always,
}

impl std::str::FromStr for ShowDetails {
    type Err = HealthError;

    /// `never`, `when-authorized` or `always`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(ShowDetails::Never),
            "when-authorized" => Ok(ShowDetails::WhenAuthorized),
            "always" => Ok(ShowDetails::Always),
            other => Err(HealthError::BadValue {
                what: "show-details policy",
                value: other.to_owned(),
                expected: "`never`, `when-authorized` or `always`",
            }),
        }
    }
}

impl ShowDetails {
    /// Whether a request with this authorization sees details.
    pub fn shows(self, authorized: bool) -> bool {
        match self {
            ShowDetails::Never => false,
            ShowDetails::WhenAuthorized => authorized,
            ShowDetails::Always => true,
        }
    }
}

/// `/health`: `{"status":"UP","components":{"name":{"status":..,"details":{..},..}}}`; with
/// details hidden, `{"status":"UP"}`. `groups` lists the groups when given.
///
/// A component with details shows `status`, `details` (with the reason as `error`),
/// `observedValue` / `observedUnit` / `measurement` when it has one, `durationMs`, `time`
/// (RFC 3339), `critical` and `groups`.
pub fn spring(snapshot: &Snapshot, details: bool, groups: Option<&[String]>) -> Value {
    let mut body = Map::new();
    body.insert("status".into(), json!(snapshot.status));
    if details {
        let components: Map<String, Value> = snapshot
            .components
            .iter()
            .map(|c| (c.name.clone(), spring_component(c)))
            .collect();
        body.insert("components".into(), Value::Object(components));
    }
    if let Some(groups) = groups {
        body.insert("groups".into(), json!(groups));
    }
    Value::Object(body)
}

fn spring_component(c: &Component) -> Value {
    let health = &c.report.health;
    let mut details = health.details().clone();
    if let Some(reason) = health.reason() {
        details.insert("error".into(), json!(reason));
    }
    let mut out = Map::new();
    out.insert("status".into(), json!(health.status()));
    out.insert("details".into(), Value::Object(details));
    if let Some(observed) = health.observed() {
        out.insert("measurement".into(), json!(observed.measurement));
        out.insert("observedValue".into(), json!(observed.value));
        out.insert("observedUnit".into(), json!(observed.unit));
    }
    out.insert("durationMs".into(), json!(millis(c)));
    out.insert("time".into(), json!(c.report.time_rfc3339()));
    out.insert("critical".into(), json!(c.critical));
    out.insert("groups".into(), json!(c.groups));
    Value::Object(out)
}

fn millis(c: &Component) -> f64 {
    (c.report.duration.as_secs_f64() * 1e6).round() / 1e3
}

/// The IETF health-check draft (`application/health+json`): `status` is `pass`, `warn` or
/// `fail`; `checks` is keyed `component:measurement`, each an array of one object with
/// `componentId`, `componentType`, `observedValue`, `observedUnit`, `status`, `time`,
/// `output` (the reason, for a non-passing check) and `affectsServiceHealth`. Every component
/// has a `name:responseTime` entry (the check's duration in ms), plus `name:measurement` when
/// it observed a value. With details hidden, only `status` (and `serviceId`).
pub fn ietf(snapshot: &Snapshot, details: bool, service: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("status".into(), json!(snapshot.status.ietf()));
    if let Some(service) = service {
        body.insert("serviceId".into(), json!(service));
    }
    if !details {
        return Value::Object(body);
    }
    let mut checks = Map::new();
    for c in &snapshot.components {
        let health = &c.report.health;
        let entry = |value: Value, unit: &str| {
            let mut e = Map::new();
            e.insert("componentId".into(), json!(c.name));
            e.insert("componentType".into(), json!("component"));
            e.insert("observedValue".into(), value);
            e.insert("observedUnit".into(), json!(unit));
            e.insert("status".into(), json!(health.status().ietf()));
            e.insert("affectsServiceHealth".into(), json!(c.critical));
            e.insert("time".into(), json!(c.report.time_rfc3339()));
            if let (Some(reason), false) = (health.reason(), health.status().ietf() == "pass") {
                e.insert("output".into(), json!(reason));
            }
            Value::Array(vec![Value::Object(e)])
        };
        checks.insert(
            format!("{}:responseTime", c.name),
            entry(json!(millis(c)), "ms"),
        );
        if let Some(observed) = health.observed() {
            checks.insert(
                format!("{}:{}", c.name, observed.measurement),
                entry(json!(observed.value), &observed.unit),
            );
        }
    }
    body.insert("checks".into(), Value::Object(checks));
    Value::Object(body)
}

/// The body of `/livez` and `/readyz`: `ok` or `{probe} check failed`; verbose lists each
/// critical component (`[+]name ok`, `[-]name failed: reason`) and ends with
/// `{probe} check passed` or `{probe} check failed`.
pub fn probe(snapshot: &Snapshot, probe: &str, verbose: bool, details: bool) -> String {
    let failed = snapshot.status.is_unavailable();
    if !verbose {
        return if failed {
            format!("{probe} check failed\n")
        } else {
            "ok\n".to_owned()
        };
    }
    let mut out = String::new();
    for c in snapshot.components.iter().filter(|c| c.critical) {
        let health = &c.report.health;
        if health.status().is_unavailable() {
            let reason = match (details, health.reason()) {
                (true, Some(reason)) => reason,
                _ => "reason withheld",
            };
            out.push_str(&format!("[-]{} failed: {reason}\n", c.name));
        } else {
            out.push_str(&format!("[+]{} ok\n", c.name));
        }
    }
    let verdict = if failed { "failed" } else { "passed" };
    out.push_str(&format!("{probe} check {verdict}\n"));
    out
}
