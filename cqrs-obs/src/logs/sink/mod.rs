//! Sinks: where entries go besides the local store. Each runs on its own thread behind a
//! bounded buffer, sends in batches, retries failures with exponential backoff, gives up on
//! a batch after a bounded number of attempts, and counts what it drops
//! (`cqrs_obs_dropped_total{signal="logs.<sink>"}`) and its failed exports
//! (`cqrs_obs_export_errors_total{signal="logs.<sink>"}`). Its own log lines are not
//! captured, so a failing exporter cannot feed itself.

mod console;
mod elastic;
mod file;
pub(crate) mod http;
mod loki;
mod otlp;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use console::ConsoleFormat;
pub use file::FileConfig;
pub use loki::LokiFormat;
pub(crate) use worker::SinkWorker;

use super::entry::LogEntry;

/// What a sink does with entries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SinkKind {
    /// Lines on stderr.
    Console(ConsoleFormat),
    /// JSON lines in a file, rotated by size and age.
    File(FileConfig),
    /// Grafana Loki's push API at `url` (the base, such as `http://127.0.0.1:3100`).
    Loki {
        /// Base URL.
        url: String,
        /// Body format.
        format: LokiFormat,
    },
    /// Elasticsearch's `_bulk` API at `url` (the base), into `index` (a data stream or index).
    Elasticsearch {
        /// Base URL.
        url: String,
        /// Index or data stream name.
        index: String,
    },
    /// OTLP logs over http/protobuf to `url` (the full URL, such as
    /// `http://127.0.0.1:4318/v1/logs`).
    Otlp {
        /// Full URL.
        url: String,
    },
}

/// A sink and its delivery settings.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::logs::{LokiFormat, SinkConfig};
/// let sink = SinkConfig::loki("http://127.0.0.1:3100", LokiFormat::Protobuf)
///     .batch_size(500)
///     .backoff(Duration::from_millis(50), Duration::from_secs(2));
/// assert_eq!(sink.name(), "logs.loki");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// What the sink is.
    pub kind: SinkKind,
    /// Most entries per request (default 1000).
    pub batch_size: usize,
    /// How long a partial batch waits for more (default 200 ms).
    pub linger: Duration,
    /// Entries buffered before new ones are dropped (default 20 000).
    pub buffer: usize,
    /// Attempts after the first before a batch is dropped (default 5).
    pub max_retries: u32,
    /// First retry delay (default 100 ms), doubling up to `max_backoff` (default 5 s).
    pub backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// PEM certificates an `https://` sink trusts besides the webpki roots (a private CA, a
    /// self-signed server); https needs the `logs-tls` feature.
    pub root_certificates_pem: Vec<u8>,
}

impl SinkConfig {
    fn with(kind: SinkKind) -> SinkConfig {
        SinkConfig {
            kind,
            batch_size: 1000,
            linger: Duration::from_millis(200),
            buffer: 20_000,
            max_retries: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            root_certificates_pem: Vec::new(),
        }
    }

    /// Console lines on stderr.
    pub fn console(format: ConsoleFormat) -> SinkConfig {
        SinkConfig::with(SinkKind::Console(format))
    }

    /// JSON lines in a file.
    pub fn file(config: FileConfig) -> SinkConfig {
        SinkConfig::with(SinkKind::File(config))
    }

    /// Loki's push API.
    pub fn loki(url: impl Into<String>, format: LokiFormat) -> SinkConfig {
        SinkConfig::with(SinkKind::Loki {
            url: url.into(),
            format,
        })
    }

    /// Elasticsearch's `_bulk` API.
    pub fn elasticsearch(url: impl Into<String>, index: impl Into<String>) -> SinkConfig {
        SinkConfig::with(SinkKind::Elasticsearch {
            url: url.into(),
            index: index.into(),
        })
    }

    /// OTLP logs (http/protobuf).
    pub fn otlp(url: impl Into<String>) -> SinkConfig {
        SinkConfig::with(SinkKind::Otlp { url: url.into() })
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the linger time.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// Sets the buffer capacity.
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = n.max(1);
        self
    }

    /// Sets the retry budget.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first and the longest retry delay.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// Also trusts the certificates in `pem` (PEM, one or more) for `https://`.
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates_pem.extend(pem.into());
        self
    }

    /// The `signal` label of this sink's counters.
    pub fn name(&self) -> &'static str {
        match self.kind {
            SinkKind::Console(_) => "logs.console",
            SinkKind::File(_) => "logs.file",
            SinkKind::Loki { .. } => "logs.loki",
            SinkKind::Elasticsearch { .. } => "logs.elasticsearch",
            SinkKind::Otlp { .. } => "logs.otlp",
        }
    }
}

/// Counters of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// The sink (`logs.loki`, ...).
    pub name: &'static str,
    /// Entries delivered.
    pub sent: u64,
    /// Entries dropped: buffer full, rejected by the server, or retries exhausted.
    pub dropped: u64,
    /// Failed attempts (requests or writes).
    pub errors: u64,
    /// Entries waiting.
    pub buffered: u64,
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SinkError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("http status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("bad response: {0}")]
    Response(String),
}

impl SinkError {
    /// Whether trying again may help (a 4xx other than 408/429 will not).
    pub(crate) fn retriable(&self) -> bool {
        match self {
            SinkError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => true,
        }
    }
}

/// The result of a send that reached the destination.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// Indices (in the batch sent) to send again.
    pub(crate) retry: Vec<usize>,
    /// Entries refused for good.
    pub(crate) rejected: usize,
}

/// A destination.
pub(crate) trait Sink: Send {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError>;
}

pub(crate) fn build(
    config: &SinkConfig,
    pipeline: &super::PipelineConfig,
) -> std::io::Result<Box<dyn Sink>> {
    let roots = &config.root_certificates_pem;
    Ok(match &config.kind {
        SinkKind::Console(format) => Box::new(console::ConsoleSink::new(*format)),
        SinkKind::File(config) => Box::new(file::FileSink::open(config.clone())?),
        SinkKind::Loki { url, format } => Box::new(loki::LokiSink::new(url, *format, roots)?),
        SinkKind::Elasticsearch { url, index } => {
            Box::new(elastic::ElasticSink::new(url, index, roots)?)
        }
        SinkKind::Otlp { url } => Box::new(otlp::OtlpSink::new(url, roots, pipeline)?),
    })
}

/// The default rotated-file name: `path` plus the rotation time.
pub(crate) fn rotated_name(path: &std::path::Path, nanos: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{nanos}"));
    PathBuf::from(name)
}
