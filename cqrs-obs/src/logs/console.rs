//! Human-readable console lines with the correlation id of the message being handled.
//!
//! ```text
//! 2026-11-27T06:01:02.345678Z  INFO bank::account: deposited amount=30 correlation_id=5f0c…
//! ```

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Formats one event per line: time, level, target, message and fields, then the ids of the
/// current message context.
#[derive(Debug, Default, Clone, Copy)]
pub struct ContextFormat;

impl<S, N> FormatEvent<S, N> for ContextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        let meta = event.metadata();
        write!(writer, " {:>5} {}: ", meta.level(), meta.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        crate::context::with_current(|current| match current {
            Some(c) => {
                write!(writer, " correlation_id={}", c.correlation_id)?;
                if let Some(causation) = &c.causation_id {
                    write!(writer, " causation_id={causation}")?;
                }
                Ok(())
            }
            None => Ok(()),
        })?;
        writeln!(writer)
    }
}

/// Installs the console subscriber as the global default. `false` if one was already set.
pub(crate) fn install(filter: &Targets) -> bool {
    let layer = tracing_subscriber::fmt::layer()
        .event_format(ContextFormat)
        .with_writer(std::io::stderr);
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter.clone()));
    tracing::subscriber::set_global_default(subscriber).is_ok()
}
