//! Logs: console output that carries the message context.

use axum::Router;

pub mod console;

/// The admin routes of this module (`/logs`, `/logs/stats`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}
