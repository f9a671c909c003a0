//! Shared by the dashboards tests: generating the bank's dashboards, finding the variables a
//! dashboard uses, replacing them the way Grafana would, and promtool.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::process::Command;

use cqrs_obs::dashboards::{self, Dashboard, Sources, Template};
use cqrs_obs_tests::peer::{require_program, TempDir};
use serde_json::Value;

/// Grafana's built-in variables that generated dashboards may use.
pub const BUILT_INS: [&str; 4] = ["__rate_interval", "__interval", "__range", "__all"];

/// Registers the bank's SLOs (its handlers and `#[slo]` are registered by linking the
/// examples crate) and returns the sources every dashboard is generated from.
pub fn bank_sources() -> Sources {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(cqrs_obs_examples::objectives::register_objectives);
    let sources = Sources::from_registry();
    assert!(
        sources.handlers.len() >= 10,
        "the bank's handlers are not registered: {:?}",
        sources.handlers
    );
    assert!(
        sources.slos.len() >= 4,
        "the bank's SLOs: {:?}",
        sources.slos
    );
    sources
}

/// Every template's dashboards for `sources`.
pub fn all_dashboards(sources: &Sources) -> Vec<(Template, Dashboard)> {
    Template::ALL
        .into_iter()
        .flat_map(|t| {
            dashboards::generate_all_for(sources, t)
                .into_iter()
                .map(move |d| (t, d))
        })
        .collect()
}

/// Every string in a JSON value, with its path.
pub fn strings<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(s) => out.push((path, s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(v, format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                strings(v, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Variable names referenced in `text` as `$name`, `${name}`, `${name:format}` or
/// `[[name]]`, excluding `${__field...}`-style data link fields.
pub fn referenced_variables(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let ident = |start: usize| {
        let end = (start..bytes.len())
            .find(|&i| !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_'))
            .unwrap_or(bytes.len());
        (text[start..end].to_owned(), end)
    };
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let (start, braced) = match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => (i + 2, true),
            b'$' => (i + 1, false),
            b'[' if bytes.get(i + 1) == Some(&b'[') => (i + 2, true),
            _ => {
                i += 1;
                continue;
            }
        };
        let (name, end) = ident(start);
        let data_link_field = braced && name.starts_with("__field");
        if !name.is_empty() && !data_link_field {
            found.insert(name);
        }
        i = end.max(i + 1);
    }
    found
}

/// Replaces the dashboard variables in a PromQL expression as Grafana would with "All"
/// selected, `$service` set to `job`, and the given rate window.
pub fn substitute(expr: &str, job: &str, rate_interval: &str) -> String {
    expr.replace("$__rate_interval", rate_interval)
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("$service", job)
        .replace("$instance", ".*")
        .replace("$handler", ".*")
}

/// Runs `promtool check rules` on every expression (as recording rules); `Err` with
/// promtool's output if any does not parse.
pub fn promtool_parses(exprs: &[String]) -> Result<usize, String> {
    let dir = TempDir::new("dashboards-promql");
    let mut yaml = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let quoted = format!("\"{}\"", expr.replace('\\', "\\\\").replace('"', "\\\""));
        yaml += &format!("      - record: dashboard:expr_{i}\n        expr: {quoted}\n");
    }
    let path = dir.path().join("exprs.yml");
    std::fs::write(&path, &yaml).expect("writing the rules file");
    let output = Command::new(require_program("promtool"))
        .arg("check")
        .arg("rules")
        .arg(&path)
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(exprs.len())
    } else {
        Err(format!(
            "promtool check rules failed:\n{text}\n--- file ---\n{yaml}"
        ))
    }
}
