//! Service level objectives evaluated live in the process, and the same objectives as
//! Prometheus rules for a fleet.
//!
//! Each registered [`Slo`] keeps rolling windows (5m, 30m, 1h, 2h, 6h, 1d, 3d and its period)
//! of good and total events. They are fed once per tick from the handlers' own recordings —
//! nothing is recorded twice; a handler call pays for its SLOs only when a latency SLO's
//! threshold is not a histogram bound, and then one comparison when the call ends in that
//! threshold's bucket — and evaluated
//! against the multi-window, multi-burn-rate alert table. Memory per SLO is bounded: eight
//! windows of 60 slots (under 8 KiB), at most [`HISTORY`] alert transitions and a budget history
//! of at most [`BUDGET_POINTS`] points (about 11 KiB).
//!
//! ```
//! use cqrs_obs::slo::{self, CqrsSlos, Handlers, Sli, Slo};
//! use std::time::Duration;
//!
//! slo::register(CqrsSlos::query_latency()).unwrap();
//! slo::register(Slo::new(
//!     "deposit-availability",
//!     Sli::Availability { handlers: Handlers::Named("deposit"), good: Default::default() },
//!     99.5,
//! ))
//! .unwrap();
//! let yaml = slo::prometheus_rules();
//! assert!(yaml.contains("record: slo:sli_error:ratio_rate5m"));
//! ```

mod engine;
mod model;
mod policy;
mod rules;
mod state;
mod window;

#[doc(hidden)]
pub use engine::SloRegistration;
pub use engine::{
    acknowledge, deploy_decision, register, report_projection_lag, reports, tick, Breach, Clock,
    Engine, SloReport, SystemClock,
};
pub(crate) use engine::{load, on_registered, projection_lags};
pub use model::{
    parse_duration, BurnRateRule, CqrsSlos, GoodOutcomes, Handlers, Severity, Sli, Slo, SloError,
    DEFAULT_BURN_RATES,
};
pub use policy::{
    gate, set_policies, Action, Callback, DeployDecision, Gate, Policy, WebhookBody, WebhookUrl,
    WebhookUrlError,
};
pub use rules::promql_duration;
pub use state::{
    AckError, Acknowledgement, AlertEvent, AlertReport, AlertState, Budget, BudgetPoint, SloState,
    WindowReport, BUDGET_POINTS, HISTORY,
};
pub use window::{Counts, Window, SLOTS, WINDOWS};

/// The Prometheus rule file (YAML) for every registered SLO.
pub fn prometheus_rules() -> String {
    let engine = engine::global();
    let slos: Vec<Slo> = engine.slos().cloned().collect();
    drop(engine);
    let service = service_name();
    rules::render(&slos, &service)
}

/// Renders the rule file for any set of SLOs.
pub fn prometheus_rules_for(slos: &[Slo], service: &str) -> String {
    rules::render(slos, service)
}

fn service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned())
}
