//! The console sink: human-readable or JSON lines on stderr.

use std::io::Write;
use std::sync::Arc;

use super::{Delivery, Sink, SinkError};
use crate::logs::entry::LogEntry;

/// The console line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleFormat {
    /// `2026-11-27T06:01:02.345678901Z  INFO bank::account: deposited amount=30 correlation_id=…`
    Human,
    /// One JSON object per line (the [`LogEntry`] form).
    Json,
}

pub(crate) struct ConsoleSink {
    format: ConsoleFormat,
}

impl ConsoleSink {
    pub(crate) fn new(format: ConsoleFormat) -> ConsoleSink {
        ConsoleSink { format }
    }
}

/// The human form of an entry (no newline).
pub(crate) fn human(e: &LogEntry) -> String {
    use std::fmt::Write as _;
    let mut line = format!(
        "{} {:>5} {}: {}",
        e.timestamp,
        e.level.as_str().to_ascii_uppercase(),
        e.target,
        e.message
    );
    for (k, v) in &e.fields {
        let _ = write!(line, " {k}={v}");
    }
    if let Some(err) = &e.error {
        let _ = write!(line, " error={}", err.message);
        for cause in &err.chain {
            let _ = write!(line, ": {cause}");
        }
    }
    if let Some(c) = &e.correlation_id {
        let _ = write!(line, " correlation_id={c}");
    }
    if let Some(t) = &e.trace_id {
        let _ = write!(line, " trace_id={t}");
    }
    line
}

impl Sink for ConsoleSink {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError> {
        let mut out = Vec::with_capacity(batch.len() * 200);
        for e in batch {
            match self.format {
                ConsoleFormat::Human => out.extend_from_slice(human(e).as_bytes()),
                ConsoleFormat::Json => serde_json::to_writer(&mut out, &**e)
                    .map_err(|e| SinkError::Response(e.to_string()))?,
            }
            out.push(b'\n');
        }
        std::io::stderr().lock().write_all(&out)?;
        Ok(Delivery::default())
    }
}
