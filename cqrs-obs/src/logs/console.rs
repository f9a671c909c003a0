//! Human-readable console lines with the correlation id of the message being handled, with
//! sensitive values masked.
//!
//! ```text
//! 2026-11-27T06:01:02.345678Z  INFO bank::account: deposited amount=30 correlation_id=5f0c…
//! ```

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

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

/// Formats event fields like `tracing-subscriber`'s default (`message key=value ...`), then
/// masks sensitive values in the text (see [`Masker`](super::Masker)).
#[derive(Debug, Clone, Default)]
pub struct MaskedFields {
    masker: super::Masker,
}

impl MaskedFields {
    /// With the default sensitive names plus `extra`.
    ///
    /// ```
    /// let fields = cqrs_obs::logs::console::MaskedFields::new(["iban"]);
    /// # drop(fields);
    /// ```
    pub fn new<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> MaskedFields {
        MaskedFields {
            masker: super::Masker::new(extra),
        }
    }
}

impl<'w> FormatFields<'w> for MaskedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut text = String::new();
        DefaultFields::new().format_fields(Writer::new(&mut text), fields)?;
        let mut writer = writer;
        writer.write_str(&self.masker.mask_text(&text))
    }
}

/// Installs the global subscriber: human lines on stderr (`json == false`, masked) or none
/// (`json`: the pipeline's JSON console sink writes), the log capture layer and the
/// OpenTelemetry bridge. `false` if a subscriber was already set.
pub(crate) fn install(
    filter: &Targets,
    json: bool,
    mask: &[String],
    logs: Option<super::LogLayer>,
) -> bool {
    let human = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .event_format(ContextFormat)
            .fmt_fields(MaskedFields::new(mask))
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .with_writer(std::io::stderr)
            .with_filter(filter.clone())
    });
    let subscriber = tracing_subscriber::registry()
        .with(human)
        .with(logs.with_filter(filter.clone()))
        .with(crate::trace::otel_layer().with_filter(filter.clone()));
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_the_current_correlation_and_causation_ids() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(ContextFormat)
            .with_writer(move || writer.clone())
            .finish();
        let root = crate::context::Context::new_root();
        let child = root.child();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(amount = 30, "outside");
            crate::context::scope(child.clone(), || tracing::warn!(amount = 30, "deposited"));
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with("INFO cqrs_obs::logs::console::tests: outside amount=30"),
            "{text}"
        );
        let expected = format!(
            " WARN cqrs_obs::logs::console::tests: deposited amount=30 correlation_id={} causation_id={}",
            root.correlation_id,
            root.message_id.unwrap()
        );
        assert!(lines[1].ends_with(&expected), "{text}");
    }

    #[test]
    fn sensitive_fields_and_text_are_masked_on_the_console() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(ContextFormat)
            .fmt_fields(MaskedFields::new(["iban"]))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                password = "hunter2",
                iban = "DE44500105175407324931",
                amount = 3,
                "login token=abc123 card 4111 1111 1111 1111"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        for secret in [
            "hunter2",
            "DE44500105175407324931",
            "abc123",
            "4111 1111 1111 1111",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("amount=3") && text.contains("password=\"***\""),
            "{text}"
        );
    }
}
