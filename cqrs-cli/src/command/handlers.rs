//! `handlers`: the instrumented handlers and their calls per outcome.

use serde_json::Value;

use super::{Ctx, Outcome};
use crate::error::Exit;
use crate::model::Handler;
use crate::output::{Record, Report, Tone};

/// The outcomes, in the order the design lists them.
const OUTCOMES: [&str; 6] = ["ok", "rejected", "conflict", "error", "panic", "cancelled"];

/// Runs `handlers`.
pub(crate) fn run(ctx: &Ctx) -> Outcome {
    let mut handlers: Vec<Handler> = ctx.admin.get_json("/handlers")?;
    handlers.sort_by(|a, b| (&a.kind, &a.name, &a.message).cmp(&(&b.kind, &b.name, &b.message)));
    let records = handlers
        .iter()
        .map(|h| {
            let scope = h
                .aggregate
                .as_deref()
                .or(h.projection.as_deref())
                .or(h.saga.as_deref())
                .map_or(Value::Null, Value::from);
            let count = |o: &str| h.calls.get(o).copied().unwrap_or(0);
            let failures = count("error") + count("panic");
            let mut r = Record::new()
                .with("kind", h.kind.as_str())
                .with("handler", h.name.as_str())
                .with("message", h.message.as_str())
                .with("scope", scope)
                .with("calls", h.calls.values().sum::<u64>());
            for o in OUTCOMES {
                r = r.with(o, count(o));
            }
            r.with("in_flight", h.in_flight)
                .tone("error", if failures > 0 { Tone::Bad } else { Tone::Plain })
        })
        .collect();
    let mut columns = vec!["kind", "handler", "message", "scope", "calls"];
    columns.extend(OUTCOMES);
    columns.push("in_flight");
    Ok((Report::new(columns, records), Exit::Ok))
}
