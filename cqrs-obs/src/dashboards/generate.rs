//! Templates, the six dashboards, and what generation reads: the handler registry and the SLOs.

use std::str::FromStr;

use serde::Serialize;

use super::context::Context;
use super::Dashboard;
use crate::handler::HandlerMeta;
use crate::slo::Slo;

/// How much a generated dashboard shows.
///
/// ```
/// use cqrs_obs::dashboards::Template;
/// let template: Template = "development".parse().unwrap();
/// assert_eq!(template, Template::Development);
/// assert!("staging".parse::<Template>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// The essentials: rates, errors, latency quantiles; no heatmaps, tables or SLOs.
    Minimal,
    /// Everything but SLOs, plus links to the admin endpoint's logs and handlers, and finer
    /// intervals (5 s minimum interval, 10 s refresh, last 30 minutes).
    Development,
    /// Everything, plus the SLO dashboard, SLO panels on the overview, and alert thresholds
    /// consistent with the generated Prometheus rules.
    Production,
}

impl Template {
    /// All templates.
    pub const ALL: [Template; 3] = [
        Template::Minimal,
        Template::Development,
        Template::Production,
    ];

    /// `minimal`, `development` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Template::Minimal => "minimal",
            Template::Development => "development",
            Template::Production => "production",
        }
    }

    /// The uid suffix keeping the templates of one service apart in Grafana.
    pub(super) fn uid_suffix(self) -> &'static str {
        match self {
            Template::Minimal => "-min",
            Template::Development => "-dev",
            Template::Production => "",
        }
    }
}

/// A name that is not a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dashboard template `{0}`; expected `minimal`, `development` or `production`")]
pub struct UnknownTemplate(pub String);

impl FromStr for Template {
    type Err = UnknownTemplate;

    fn from_str(s: &str) -> Result<Template, UnknownTemplate> {
        Template::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTemplate(s.to_owned()))
    }
}

/// The six generated dashboards.
///
/// ```
/// use cqrs_obs::dashboards::DashboardKind;
/// let slugs: Vec<&str> = DashboardKind::ALL.iter().map(|k| k.slug()).collect();
/// assert_eq!(slugs, ["overview", "performance", "errors", "business", "slos", "projections"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DashboardKind {
    /// Health, throughput, error rate, in-flight calls.
    Overview,
    /// Latency heatmaps, quantiles per handler, throughput.
    Performance,
    /// Outcome rates by handler.
    Errors,
    /// Commands and events per aggregate and type.
    Business,
    /// Error budgets, burn rates, alert state (production only).
    Slos,
    /// Projection throughput, failures, lag, gap, end-to-end latency.
    Projections,
}

impl DashboardKind {
    /// All kinds, in the order [`generate_all`](super::generate_all) returns them.
    pub const ALL: [DashboardKind; 6] = [
        DashboardKind::Overview,
        DashboardKind::Performance,
        DashboardKind::Errors,
        DashboardKind::Business,
        DashboardKind::Slos,
        DashboardKind::Projections,
    ];

    /// `overview`, `performance`, ...
    pub fn slug(self) -> &'static str {
        match self {
            DashboardKind::Overview => "overview",
            DashboardKind::Performance => "performance",
            DashboardKind::Errors => "errors",
            DashboardKind::Business => "business",
            DashboardKind::Slos => "slos",
            DashboardKind::Projections => "projections",
        }
    }

    /// The title, after the service name.
    pub fn title(self) -> &'static str {
        match self {
            DashboardKind::Overview => "System overview",
            DashboardKind::Performance => "Performance",
            DashboardKind::Errors => "Errors",
            DashboardKind::Business => "Business",
            DashboardKind::Slos => "SLOs",
            DashboardKind::Projections => "Projections",
        }
    }
}

/// What dashboards are generated from.
///
/// ```
/// let sources = cqrs_obs::dashboards::Sources::from_registry();
/// assert!(!sources.service.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Sources {
    /// The service: titles, uids and the `sloth_service` label of the SLO rules.
    pub service: String,
    /// Every handler.
    pub handlers: Vec<HandlerMeta>,
    /// Every SLO.
    pub slos: Vec<Slo>,
    /// Base URL of the service's admin endpoint, for links (`http://127.0.0.1:9464`).
    pub admin_url: String,
}

impl Sources {
    /// The handlers registered in this binary, the SLOs of the process-wide engine, and the
    /// service name the SLO rules use (the executable's name).
    pub fn from_registry() -> Sources {
        Sources {
            service: executable_name(),
            handlers: crate::handler::registered().map(|s| *s.meta()).collect(),
            slos: crate::slo::reports().into_iter().map(|r| r.slo).collect(),
            admin_url: format!("http://{}", crate::DEFAULT_ADMIN_ADDR),
        }
    }
}

/// The name [`crate::slo::prometheus_rules`] labels rules with (`sloth_service`).
fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// Generates one dashboard; `None` for the SLO dashboard outside the production template.
pub(crate) fn generate(
    sources: &Sources,
    template: Template,
    kind: DashboardKind,
) -> Option<Dashboard> {
    let ctx = Context { sources, template };
    Some(match kind {
        DashboardKind::Overview => super::overview::build(&ctx),
        DashboardKind::Performance => super::performance::build(&ctx),
        DashboardKind::Errors => super::errors::build(&ctx),
        DashboardKind::Business => super::business::build(&ctx),
        DashboardKind::Slos if ctx.production() => super::slos::build(&ctx),
        DashboardKind::Slos => return None,
        DashboardKind::Projections => super::projections::build(&ctx),
    })
}
