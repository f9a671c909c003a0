//! The OpenTelemetry pipeline: tracer provider with our id source and head sampler, a batch
//! span processor, and the OTLP exporter (http/protobuf or grpc) behind a wrapper that gives it
//! a Tokio reactor of its own and counts what it fails to deliver. A gate in front of the
//! batch processor admits ended spans only while its queue has room and counts the others as
//! dropped (the SDK's processor would drop them without a word), so memory stays bounded by
//! the queue size whatever happens to the collector, and every span is accounted for:
//! exported, queued, or counted in `cqrs_obs_dropped_total{signal="traces"}`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider,
    ShouldSample, Span as SdkSpan, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;

use super::{ids, sampler};
use crate::metrics::names;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `http/protobuf`: `POST {endpoint}/v1/traces` (default port 4318).
    #[default]
    HttpProtobuf,
    /// `grpc`: the `TraceService/Export` RPC (default port 4317).
    Grpc,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    ///
    /// ```
    /// assert_eq!(cqrs_obs::trace::Protocol::Grpc.as_str(), "grpc");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Where finished spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanOutput {
    /// An OpenTelemetry collector over OTLP (`OTEL_TRACES_EXPORTER=otlp`, the default).
    #[default]
    Otlp,
    /// One line per span on standard output (`OTEL_TRACES_EXPORTER=console`): for
    /// development, with no collector.
    Console,
}

/// What the trace pipeline needs to start.
///
/// ```
/// use cqrs_obs::trace::{Protocol, SpanOutput, TraceConfig};
/// let config = TraceConfig::new("bank", "http://127.0.0.1:4318")
///     .protocol(Protocol::HttpProtobuf)
///     .resource_attribute("deployment.environment", "test");
/// assert_eq!(config.endpoint, "http://127.0.0.1:4318");
/// assert_eq!(TraceConfig::console("bank").output, SpanOutput::Console);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceConfig {
    /// Where spans go.
    pub output: SpanOutput,
    /// The collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); `/v1/traces` is appended for
    /// http/protobuf.
    pub endpoint: String,
    /// The transport.
    pub protocol: Protocol,
    /// Resource attributes: `service.name` first, then the rest.
    pub resource: Vec<(String, String)>,
    /// How often the batch processor exports.
    pub scheduled_delay: Duration,
    /// Spans buffered before new ones are dropped.
    pub max_queue_size: usize,
}

impl TraceConfig {
    /// A configuration for `service_name` exporting to `endpoint`.
    pub fn new(service_name: impl Into<String>, endpoint: impl Into<String>) -> TraceConfig {
        TraceConfig {
            output: SpanOutput::Otlp,
            endpoint: endpoint.into(),
            protocol: Protocol::default(),
            resource: vec![("service.name".to_owned(), service_name.into())],
            scheduled_delay: Duration::from_millis(1000),
            max_queue_size: 2048,
        }
    }

    /// A configuration for `service_name` writing spans to standard output.
    pub fn console(service_name: impl Into<String>) -> TraceConfig {
        TraceConfig {
            output: SpanOutput::Console,
            ..TraceConfig::new(service_name, "")
        }
    }

    /// Sets the transport.
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol) -> TraceConfig {
        self.protocol = protocol;
        self
    }

    /// Adds (or replaces) a resource attribute.
    #[must_use]
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.resource.retain(|(k, _)| *k != key);
        self.resource.push((key, value.into()));
        self
    }

    /// Sets how often the batch processor exports.
    #[must_use]
    pub fn scheduled_delay(mut self, delay: Duration) -> TraceConfig {
        self.scheduled_delay = delay;
        self
    }
}

/// Why the trace pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// A pipeline is already installed in this process.
    #[error("a trace pipeline is already installed in this process")]
    AlreadyInstalled,
    /// The exporter's runtime could not start.
    #[error("cannot start the trace exporter's runtime")]
    Runtime(#[source] std::io::Error),
    /// The OTLP exporter refused the configuration.
    #[error("cannot build the OTLP {protocol} exporter for {endpoint}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// The transport.
        protocol: &'static str,
        /// The cause.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The installed tracer, if any.
#[inline]
pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    TRACER.get()
}

/// The running pipeline; dropping it flushes buffered spans and shuts the exporter down.
#[derive(Debug)]
#[must_use = "dropping the pipeline shuts it down"]
pub struct TracePipeline {
    provider: SdkTracerProvider,
}

impl TracePipeline {
    /// Exports everything buffered now (blocks until the exporter answered or timed out).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

impl Drop for TracePipeline {
    fn drop(&mut self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Starts the OTLP trace pipeline and makes it the one handler spans go to. Once per process
/// (`init()` calls it when an OTLP endpoint is configured).
///
/// ```no_run
/// use cqrs_obs::trace::{install_tracer, TraceConfig};
/// let pipeline = install_tracer(&TraceConfig::new("bank", "http://127.0.0.1:4318"))?;
/// // ... handler spans are exported from now on ...
/// drop(pipeline); // flushes
/// # Ok::<(), cqrs_obs::trace::TraceError>(())
/// ```
pub fn install_tracer(config: &TraceConfig) -> Result<TracePipeline, TraceError> {
    if TRACER.get().is_some() {
        return Err(TraceError::AlreadyInstalled);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TraceError::Runtime)?;
    let exporter = match config.output {
        SpanOutput::Otlp => {
            let _enter = runtime.enter();
            Exporter::Otlp(Box::new(build_exporter(config)?))
        }
        SpanOutput::Console => Exporter::Console(ConsoleExporter::stdout()),
    };
    let queued = Arc::new(AtomicUsize::new(0));
    let processor = BatchSpanProcessor::builder(Counted {
        inner: exporter,
        runtime,
        queued: Arc::clone(&queued),
    })
    .with_batch_config(
        opentelemetry_sdk::trace::BatchConfigBuilder::default()
            .with_scheduled_delay(config.scheduled_delay)
            .with_max_queue_size(config.max_queue_size)
            .build(),
    )
    .build();
    let gate = Gate {
        inner: processor,
        queued,
        capacity: config.max_queue_size,
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(gate)
        .with_id_generator(ids::Ids)
        .with_sampler(HeadSampler)
        .with_resource(resource(config))
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "cqrs-obs");
    TRACER
        .set(tracer)
        .map_err(|_| TraceError::AlreadyInstalled)?;
    Ok(TracePipeline { provider })
}

fn build_exporter(config: &TraceConfig) -> Result<opentelemetry_otlp::SpanExporter, TraceError> {
    let base = config.endpoint.trim_end_matches('/');
    let built = match config.protocol {
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/traces"))
            .with_timeout(Duration::from_secs(5))
            .build(),
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .with_endpoint(base.to_owned())
            .with_timeout(Duration::from_secs(5))
            .build(),
    };
    built.map_err(|source| TraceError::Exporter {
        endpoint: config.endpoint.clone(),
        protocol: config.protocol.as_str(),
        source,
    })
}

fn resource(config: &TraceConfig) -> Resource {
    let mut attrs: Vec<KeyValue> = config
        .resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    if !config.resource.iter().any(|(k, _)| k == "host.name") {
        if let Some(host) = host_name() {
            attrs.push(KeyValue::new("host.name", host));
        }
    }
    Resource::builder_empty().with_attributes(attrs).build()
}

fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The configured exporter.
#[derive(Debug)]
enum Exporter {
    Otlp(Box<opentelemetry_otlp::SpanExporter>),
    Console(ConsoleExporter),
}

impl SpanExporter for Exporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Exporter::Otlp(otlp) => otlp.export(batch).await,
            Exporter::Console(console) => console.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Exporter::Otlp(otlp) => otlp.shutdown_with_timeout(timeout),
            Exporter::Console(_) => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Exporter::Otlp(otlp) => otlp.set_resource(resource),
            Exporter::Console(console) => console.set_resource(resource),
        }
    }
}

/// Writes each span as one line of text: name, ids, kind, duration, status, attributes and
/// links.
///
/// ```text
/// span "handle Deposit" trace=4bf9…36 id=00f0…b7 parent=- kind=internal 12.3µs ok service=bank cqrs.command.type=Deposit
/// ```
pub(crate) struct ConsoleExporter {
    out: std::sync::Mutex<Box<dyn std::io::Write + Send>>,
    service: String,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

impl ConsoleExporter {
    fn stdout() -> ConsoleExporter {
        ConsoleExporter::new(Box::new(std::io::stdout()))
    }

    pub(crate) fn new(out: Box<dyn std::io::Write + Send>) -> ConsoleExporter {
        ConsoleExporter {
            out: std::sync::Mutex::new(out),
            service: String::new(),
        }
    }

    /// One span's line (without the newline).
    pub(crate) fn line(&self, span: &SpanData) -> String {
        use opentelemetry::trace::{SpanKind, Status};
        use std::fmt::Write as _;
        let sc = &span.span_context;
        let parent = if span.parent_span_id == opentelemetry::trace::SpanId::INVALID {
            "-".to_owned()
        } else {
            span.parent_span_id.to_string()
        };
        let kind = match span.span_kind {
            SpanKind::Client => "client",
            SpanKind::Server => "server",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
            SpanKind::Internal => "internal",
        };
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        let status = match &span.status {
            Status::Unset | Status::Ok => "ok".to_owned(),
            Status::Error { description } => format!("error({description})"),
        };
        let mut line = format!(
            "span {:?} trace={} id={} parent={} kind={kind} {duration:?} {status}",
            span.name,
            sc.trace_id(),
            sc.span_id(),
            parent
        );
        if !self.service.is_empty() {
            let _ = write!(line, " service={}", self.service);
        }
        for kv in &span.attributes {
            let _ = write!(line, " {}={}", kv.key, kv.value);
        }
        for link in span.links.iter() {
            let linked = &link.span_context;
            let _ = write!(line, " link={}-{}", linked.trace_id(), linked.span_id());
        }
        line
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut text = String::new();
        for span in &batch {
            text.push_str(&self.line(span));
            text.push('\n');
        }
        use std::io::Write as _;
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| opentelemetry_sdk::error::OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
    }
}

/// The OTLP exporter run on a reactor of its own (the batch processor calls it from a plain
/// thread), counting the spans of every failed export as dropped.
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    runtime: tokio::runtime::Runtime,
    /// Spans admitted by the [`Gate`] and not yet exported or given up.
    queued: Arc<AtomicUsize>,
}

fn count_dropped(spans: u64) {
    metrics::counter!(names::OBS_DROPPED_TOTAL, names::label::SIGNAL => "traces").increment(spans);
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.runtime.block_on(self.inner.export(batch));
        self.queued.fetch_sub(spans, Relaxed);
        if result.is_err() {
            count_dropped(spans as u64);
            metrics::counter!(names::OBS_EXPORT_ERRORS_TOTAL, names::label::SIGNAL => "traces")
                .increment(1);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _enter = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Admits an ended span into the batch processor only while fewer than `capacity` admitted
/// spans wait for export; counts the others as dropped.
#[derive(Debug)]
struct Gate<P> {
    inner: P,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl<P: SpanProcessor> SpanProcessor for Gate<P> {
    fn on_start(&self, span: &mut SdkSpan, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.queued.fetch_add(1, Relaxed) >= self.capacity {
            self.queued.fetch_sub(1, Relaxed);
            count_dropped(1);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The SDK-side sampler: spans cqrs-obs builds were decided already; users' `tracing` spans
/// follow their parent, or the configured root sampler when they start a trace.
#[derive(Debug, Clone)]
struct HeadSampler;

impl ShouldSample for HeadSampler {
    fn should_sample(
        &self,
        parent: Option<&opentelemetry::Context>,
        trace_id: TraceId,
        _name: &str,
        _kind: &opentelemetry::trace::SpanKind,
        _attributes: &[KeyValue],
        _links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let parent_sc = parent
            .map(|c| c.span().span_context().clone())
            .filter(|sc| sc.is_valid());
        let sampled = if ids::preset_active() {
            true
        } else {
            let id = crate::propagation::TraceId::new(trace_id.to_bytes());
            match (&parent_sc, id) {
                (Some(sc), Some(id)) => sampler::sample_child(id, sc.is_sampled()),
                (None, Some(id)) => sampler::sample_root(id),
                (_, None) => false,
            }
        };
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: parent_sc
                .map(|sc| sc.trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

/// A `tracing` layer that bridges users' spans and events into the installed pipeline (`None`
/// before [`install_tracer`]). `init()` adds it to the subscriber it installs; add it yourself
/// when you bring your own subscriber (`Console::Off`).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(cqrs_obs::trace::otel_layer());
/// # drop(subscriber);
/// ```
pub fn otel_layer<S>() -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let tracer = TRACER.get()?.clone();
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}
