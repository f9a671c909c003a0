//! Grafana dashboards: the JSON model, a builder, templates generated from the registry,
//! and a client that deploys them through Grafana's HTTP API.

use axum::Router;

/// The admin routes of this module (`/dashboards/{template}`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}
