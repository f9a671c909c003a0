//! Grafana dashboards: the JSON model, a builder, templates generated from the registry,
//! and a client that deploys them through Grafana's HTTP API.
//!
//! Dashboards are generated from what the service registered — its handlers (through
//! `inventory`) and its SLOs — so every panel names a metric and label values the service
//! really exports. Six dashboards: system overview, performance, errors, business, SLOs and
//! projections; three [`Template`]s: `minimal`, `development` (adds admin-endpoint links
//! and finer intervals) and `production` (adds the SLO dashboard, SLO panels and alert
//! thresholds equal to those of the generated Prometheus rules).
//!
//! Every query is scoped by the variables `$service` (the Prometheus `job`), `$instance` and
//! `$handler` (the label that identifies a handler's series: the command type, the event
//! handler's name, or the query type), and reads the data source chosen in `$datasource`.
//! SLO panels read the recording rules of [`crate::slo::prometheus_rules`] (load that file
//! into Prometheus).
//!
//! ```
//! use cqrs_obs::dashboards::{self, Template};
//!
//! let all = dashboards::generate_all(Template::Production);
//! assert_eq!(all.len(), 6);
//! let json = dashboards::to_json(&all[0]);
//! assert!(json.contains("\"schemaVersion\""));
//! ```
//!
//! The admin endpoint serves them at `GET /dashboards/{template}` (a JSON array) and
//! `GET /dashboards/{template}/{dashboard}` (one dashboard, ready to import); their links
//! point at the admin endpoint that served them. [`export`] writes them as files for
//! Grafana's file provisioning, and [`GrafanaClient`] deploys them through Grafana's HTTP API
//! (plain HTTP; `https` with the `grafana-tls` feature).

mod auth;
mod builder;
mod business;
mod context;
mod deploy;
mod errors;
mod field;
mod generate;
mod model;
mod overview;
mod panel;
mod performance;
mod projections;
mod query;
mod slos;
mod templating;
mod transport;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub use auth::{Auth, RetryPolicy};
pub use builder::{DashboardBuilder, DashboardConfig};
pub use deploy::{DeployError, Deployed, GrafanaClient};
pub use field::{
    DataLink, FieldColor, FieldConfig, FieldConfigSource, MappingResult, Threshold, Thresholds,
    ThresholdsMode, ValueMapping,
};
pub use generate::{DashboardKind, Sources, Template, UnknownTemplate};
pub use model::{
    Dashboard, DataSourceRef, GridPos, Item, Panel, PanelType, RowPanel, RowType, Target,
    TargetFormat, TimeRange, Transformation, GRID_COLUMNS, SCHEMA_VERSION,
};
pub use panel::PanelSpec;
pub use slos::BURN_ALERT;
pub use templating::{
    AnnotationQuery, Annotations, DashboardLink, Templating, Variable, VariableOption, VariableType,
};

/// The dashboards of `template` for this service: its registered handlers and SLOs
/// ([`Sources::from_registry`]). Five dashboards, six with [`Template::Production`].
///
/// ```
/// let minimal = cqrs_obs::dashboards::generate_all(cqrs_obs::dashboards::Template::Minimal);
/// assert!(minimal.iter().all(|d| d.uid.ends_with("-min")));
/// ```
pub fn generate_all(template: Template) -> Vec<Dashboard> {
    generate_all_for(&Sources::from_registry(), template)
}

/// The dashboards of `template` for any [`Sources`].
///
/// ```
/// use cqrs_obs::dashboards::{generate_all_for, Sources, Template};
/// let sources = Sources { service: "bank".into(), handlers: vec![], slos: vec![],
///                         admin_url: "http://127.0.0.1:9464".into() };
/// let dashboards = generate_all_for(&sources, Template::Development);
/// assert_eq!(dashboards[0].uid, "bank-overview-dev");
/// ```
pub fn generate_all_for(sources: &Sources, template: Template) -> Vec<Dashboard> {
    DashboardKind::ALL
        .into_iter()
        .filter_map(|kind| generate::generate(sources, template, kind))
        .collect()
}

/// One dashboard of `template` for this service; `None` for [`DashboardKind::Slos`]
/// outside [`Template::Production`].
///
/// ```
/// use cqrs_obs::dashboards::{generate, DashboardKind, Template};
/// assert!(generate(Template::Minimal, DashboardKind::Slos).is_none());
/// assert!(generate(Template::Production, DashboardKind::Slos).is_some());
/// ```
pub fn generate(template: Template, kind: DashboardKind) -> Option<Dashboard> {
    generate::generate(&Sources::from_registry(), template, kind)
}

/// Pretty-printed JSON of a dashboard, as Grafana's "Import dashboard" accepts it.
///
/// ```
/// let d = cqrs_obs::dashboards::DashboardBuilder::new("u", "T").build();
/// assert!(cqrs_obs::dashboards::to_json(&d).starts_with('{'));
/// ```
pub fn to_json(dashboard: &Dashboard) -> String {
    serde_json::to_string_pretty(dashboard).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Writes each dashboard to `<dir>/<uid>.json` (creating `dir`), the layout Grafana's file
/// provisioning reads; returns the paths written.
///
/// ```
/// use cqrs_obs::dashboards::{export, generate_all, Template};
/// let dir = std::env::temp_dir().join(format!("cqrs-obs-export-doc-{}", std::process::id()));
/// let written = export(&dir, &generate_all(Template::Minimal)).unwrap();
/// assert_eq!(written.len(), 5);
/// assert!(written.iter().all(|p| p.extension().is_some_and(|e| e == "json")));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn export(
    dir: &std::path::Path,
    dashboards: &[Dashboard],
) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    dashboards
        .iter()
        .map(|d| {
            let path = dir.join(format!("{}.json", d.uid));
            std::fs::write(&path, to_json(d) + "\n")?;
            Ok(path)
        })
        .collect()
}

fn not_found(message: String) -> Response {
    let body = serde_json::json!({"error": {"code": "not_found", "message": message}});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// The registry's sources, with links pointing at the admin endpoint the request reached
/// (its `Host` header, when it is a plain `host:port`).
fn sources_for(headers: &HeaderMap) -> Sources {
    let mut sources = Sources::from_registry();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    if let Some(host) = host {
        sources.admin_url = format!("http://{host}");
    }
    sources
}

async fn all_of(Path(template): Path<String>, headers: HeaderMap) -> Response {
    match template.parse::<Template>() {
        Ok(template) => Json(generate_all_for(&sources_for(&headers), template)).into_response(),
        Err(e) => not_found(e.to_string()),
    }
}

async fn one_of(Path((template, kind)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let template = match template.parse::<Template>() {
        Ok(template) => template,
        Err(e) => return not_found(e.to_string()),
    };
    let sources = sources_for(&headers);
    let found = DashboardKind::ALL
        .into_iter()
        .find(|k| k.slug() == kind)
        .and_then(|k| generate::generate(&sources, template, k));
    match found {
        Some(dashboard) => Json(dashboard).into_response(),
        None => not_found(format!(
            "no dashboard `{kind}` in the `{}` template; expected one of overview, performance, errors, business, projections{}",
            template.as_str(),
            if template == Template::Production { ", slos" } else { "" }
        )),
    }
}

/// The admin routes of this module (`/dashboards/{template}`,
/// `/dashboards/{template}/{dashboard}`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/dashboards/{template}", get(all_of))
        .route("/dashboards/{template}/{dashboard}", get(one_of))
}
