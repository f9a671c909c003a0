//! Pipeline settings and start-up errors.

use super::sink::SinkConfig;
use super::store::{StoreConfig, StoreError};

/// Entries the capture queue holds by default.
pub const DEFAULT_QUEUE: usize = 16_384;

/// Pipeline settings.
///
/// ```
/// use cqrs_obs::logs::PipelineConfig;
/// let config = PipelineConfig::new("bank").queue_capacity(1024).mask_field("iban");
/// assert_eq!(config.queue_capacity, 1024);
/// ```
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// `service` of every entry.
    pub service: String,
    /// `service_version` of every entry.
    pub service_version: Option<String>,
    /// `environment` of every entry.
    pub environment: Option<String>,
    /// Capacity of the capture queue (default [`DEFAULT_QUEUE`]).
    pub queue_capacity: usize,
    /// Field names masked besides the defaults.
    pub mask: Vec<String>,
    /// The local store (`None`: no store).
    pub store: Option<StoreConfig>,
    /// Where else entries go.
    pub sinks: Vec<SinkConfig>,
}

impl PipelineConfig {
    /// Defaults: no store, no sink.
    pub fn new(service: impl Into<String>) -> PipelineConfig {
        PipelineConfig {
            service: service.into(),
            service_version: None,
            environment: None,
            queue_capacity: DEFAULT_QUEUE,
            mask: Vec::new(),
            store: None,
            sinks: Vec::new(),
        }
    }

    /// Sets the queue capacity.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// Masks fields with this name too.
    pub fn mask_field(mut self, name: impl Into<String>) -> Self {
        self.mask.push(name.into());
        self
    }

    /// Stores entries locally.
    pub fn store(mut self, store: StoreConfig) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a sink.
    pub fn sink(mut self, sink: SinkConfig) -> Self {
        self.sinks.push(sink);
        self
    }
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// The local store could not open.
    #[error("cannot open the log store")]
    Store(#[from] StoreError),
    /// A sink could not start.
    #[error("cannot start the {sink} log sink")]
    Sink {
        /// The sink.
        sink: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
