//! `init()`, `try_init()`, `builder()` and the guard that shuts everything down.

mod admin_settings;
mod config;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use config::Config;
pub use config::{AdminAddr, ConfigError, Console, DEFAULT_ADMIN_ADDR};

use crate::admin::{self, AdminServer};

/// Why [`try_init`] failed. Nothing was installed when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A configuration value was malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The admin endpoint could not listen on its address.
    #[error("cannot listen for the admin endpoint on {addr} (set CQRS_OBS_ADMIN_ADDR to another address or `off`)")]
    AdminBind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A non-loopback admin address was configured without a token.
    #[error("refusing to serve the admin endpoint on non-loopback address {addr} without a token (set CQRS_OBS_ADMIN_TOKEN)")]
    AdminNeedsToken {
        /// The address.
        addr: SocketAddr,
    },
    /// The admin audit log file could not be opened.
    #[error("cannot open the admin audit log {path} (CQRS_OBS_ADMIN_AUDIT_LOG)")]
    AdminAuditLog {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The admin endpoint could not start (its TLS certificate or key, its thread).
    #[error(transparent)]
    Admin(crate::admin::AdminError),
    /// Another global `tracing` subscriber is installed (use `.console(Console::Off)` to keep
    /// it and skip cqrs-obs' console output).
    #[error("a global tracing subscriber is already installed")]
    SubscriberAlreadySet,
    /// `init` already ran in this process.
    #[error("cqrs-obs is already initialised in this process")]
    AlreadyInitialized,
    /// The trace pipeline (OTLP exporter) could not start.
    #[error("cannot start the trace pipeline")]
    Trace(#[source] crate::trace::TraceError),
    /// A health setting (`CQRS_OBS_HEALTH_*`) was malformed.
    #[error(transparent)]
    Health(#[from] crate::health::HealthError),
    /// The log pipeline (store or a sink) could not start.
    #[error("cannot start the log pipeline")]
    Logs(#[source] crate::logs::LogsError),
}

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Sets cqrs-obs up with the configuration from the environment and returns the guard; keep
/// it alive for the life of the service (dropping it stops the admin endpoint and flushes).
///
/// Never panics on input: a malformed environment variable is reported on stderr and its
/// default used; if the admin endpoint cannot listen, the service runs without it, saying so.
/// Use [`try_init`] to get those problems as an error instead.
///
/// ```no_run
/// let _guard = cqrs_obs::init();
/// // ... run the service; the guard lives until the end of `main` ...
/// ```
pub fn init() -> ObsGuard {
    builder().init()
}

/// Like [`init`], but returns every problem as an [`InitError`].
///
/// ```no_run
/// let guard = cqrs_obs::try_init().expect("observability set-up");
/// println!("admin endpoint on {:?}", guard.admin_addr());
/// ```
pub fn try_init() -> Result<ObsGuard, InitError> {
    builder().try_init()
}

/// A builder for settings made in code; they take precedence over the environment.
///
/// ```no_run
/// use cqrs_obs::{AdminAddr, Console};
/// let _guard = cqrs_obs::builder()
///     .service_name("bank")
///     .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
///     .console(Console::Off)
///     .try_init()
///     .unwrap();
/// ```
pub fn builder() -> Builder {
    Builder::default()
}

/// Settings made in code. See [`builder`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct Builder {
    service_name: Option<String>,
    admin: Option<AdminAddr>,
    console: Option<Console>,
    log_filter: Option<String>,
    ignore_env: bool,
    traces: TraceSettings,
    logs: LogSettings,
    admin_overrides: admin_settings::AdminOverrides,
}

/// Log settings made in code.
#[derive(Debug, Default, Clone)]
struct LogSettings {
    store: Option<config::StoreDir>,
    retention: Option<(Duration, u64)>,
    queue: Option<usize>,
    mask: Vec<String>,
    sinks: Vec<crate::logs::SinkConfig>,
}

/// Trace settings made in code.
#[derive(Debug, Default, Clone)]
struct TraceSettings {
    endpoint: Option<String>,
    protocol: Option<crate::trace::Protocol>,
    sampler: Option<crate::trace::Sampler>,
    resource: Vec<(String, String)>,
    event_parent: Option<crate::trace::EventParent>,
    keep_errors: Option<bool>,
    output: Option<crate::trace::SpanOutput>,
}

impl Builder {
    /// The service name (default: `OTEL_SERVICE_NAME`, else the executable's name).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Where the admin endpoint listens (default: `CQRS_OBS_ADMIN_ADDR`, else 127.0.0.1:9464).
    pub fn admin_addr(mut self, addr: AdminAddr) -> Self {
        self.admin = Some(addr);
        self
    }

    /// Console output (default: `CQRS_OBS_CONSOLE`, else text).
    pub fn console(mut self, console: Console) -> Self {
        self.console = Some(console);
        self
    }

    /// The console log filter, e.g. `info,bank=debug` (default: `CQRS_OBS_LOG`, else `info`).
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = Some(filter.into());
        self
    }

    /// Exports traces over OTLP to `endpoint`, e.g. `http://127.0.0.1:4318` (default:
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, else no trace export).
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.traces.endpoint = Some(endpoint.into());
        self
    }

    /// Where spans go (default: `OTEL_TRACES_EXPORTER`, else OTLP when an endpoint is set).
    /// [`SpanOutput::Console`](crate::trace::SpanOutput::Console) prints one line per span,
    /// with no collector.
    pub fn span_output(mut self, output: crate::trace::SpanOutput) -> Self {
        self.traces.output = Some(output);
        self
    }

    /// The OTLP transport (default: `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf).
    pub fn otlp_protocol(mut self, protocol: crate::trace::Protocol) -> Self {
        self.traces.protocol = Some(protocol);
        self
    }

    /// The head sampler (default: `OTEL_TRACES_SAMPLER` / `_ARG`, else `parentbased_always_on`).
    pub fn sampler(mut self, sampler: crate::trace::Sampler) -> Self {
        self.traces.sampler = Some(sampler);
        self
    }

    /// Adds a resource attribute such as `deployment.environment` or `service.version`
    /// (after `OTEL_RESOURCE_ATTRIBUTES`; later values win).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.traces.resource.push((key.into(), value.into()));
        self
    }

    /// How event handlers relate to the producer's span (default: `CQRS_OBS_EVENT_PARENT`,
    /// else a link).
    pub fn event_parent(mut self, mode: crate::trace::EventParent) -> Self {
        self.traces.event_parent = Some(mode);
        self
    }

    /// Export the span of a call that failed (`error`, `panic`) even when its trace was not
    /// sampled (default: `CQRS_OBS_TRACES_KEEP_ERRORS`, else off). See
    /// [`set_keep_errors`](crate::trace::set_keep_errors) for what this keeps and costs.
    pub fn keep_error_traces(mut self, keep: bool) -> Self {
        self.traces.keep_errors = Some(keep);
        self
    }

    /// Keeps the local log store in `dir` (default: `CQRS_OBS_LOG_STORE`, else
    /// `<temp dir>/cqrs-obs/<service>/logs`).
    ///
    /// ```no_run
    /// let _guard = cqrs_obs::builder().log_store("/var/lib/bank/logs").init();
    /// ```
    pub fn log_store(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.logs.store = Some(config::StoreDir::Dir(dir.into()));
        self
    }

    /// Runs without the local log store (`GET /logs` then finds nothing; sinks still work).
    pub fn no_log_store(mut self) -> Self {
        self.logs.store = Some(config::StoreDir::Off);
        self
    }

    /// Removes stored log segments older than `max_age`, and the oldest while the store is
    /// larger than `max_bytes` (default: `CQRS_OBS_LOG_RETENTION`, `CQRS_OBS_LOG_MAX_SIZE`,
    /// else 7 days and 256 MiB).
    pub fn log_retention(mut self, max_age: Duration, max_bytes: u64) -> Self {
        self.logs.retention = Some((max_age, max_bytes));
        self
    }

    /// Entries the log capture queue holds before new ones are dropped (default:
    /// `CQRS_OBS_LOG_QUEUE`, else 16384).
    pub fn log_queue_capacity(mut self, entries: usize) -> Self {
        self.logs.queue = Some(entries.max(1));
        self
    }

    /// Masks log fields (and `name=value` pairs in text) with this name, besides password,
    /// secret, token, authorization, api key and card numbers (added to `CQRS_OBS_LOG_MASK`).
    pub fn mask_field(mut self, name: impl Into<String>) -> Self {
        self.logs.mask.push(name.into());
        self
    }

    /// Sends logs to a sink too (added to those configured by environment variables).
    ///
    /// ```no_run
    /// use cqrs_obs::logs::{LokiFormat, SinkConfig};
    /// let _guard = cqrs_obs::builder()
    ///     .log_sink(SinkConfig::loki("http://127.0.0.1:3100", LokiFormat::Protobuf))
    ///     .init();
    /// ```
    pub fn log_sink(mut self, sink: crate::logs::SinkConfig) -> Self {
        self.logs.sinks.push(sink);
        self
    }

    /// Ignore the environment: only defaults and builder settings apply.
    pub fn ignore_env(mut self) -> Self {
        self.ignore_env = true;
        self
    }

    fn resolve(
        &self,
        report: impl FnMut(ConfigError) -> Result<(), ConfigError>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if !self.ignore_env {
            config.apply_env(|k| std::env::var(k).ok(), report)?;
        }
        if let Some(name) = &self.service_name {
            config.service_name = config::parse_service_name("builder service_name", name)?;
        }
        if let Some(admin) = self.admin {
            config.admin = admin;
        }
        self.admin_overrides.apply(&mut config)?;
        if let Some(console) = self.console {
            config.console = console;
        }
        if let Some(filter) = &self.log_filter {
            config.log_filter = config::parse_filter("builder log_filter", filter)?;
        }
        let traces = &self.traces;
        if let Some(endpoint) = &traces.endpoint {
            config.traces.endpoint = config::parse_endpoint("builder otlp_endpoint", endpoint)?;
        }
        if let Some(protocol) = traces.protocol {
            config.traces.protocol = protocol;
        }
        if let Some(output) = traces.output {
            config.traces.exporter = Some(match output {
                crate::trace::SpanOutput::Otlp => config::TracesExporter::Otlp,
                crate::trace::SpanOutput::Console => config::TracesExporter::Console,
            });
        }
        if let Some(sampler) = traces.sampler {
            config.traces.sampler = sampler;
        }
        if let Some(mode) = traces.event_parent {
            config.traces.event_parent = mode;
        }
        if let Some(keep) = traces.keep_errors {
            config.traces.keep_errors = keep;
        }
        config
            .traces
            .resource
            .extend(traces.resource.iter().cloned());
        let logs = &self.logs;
        if let Some(store) = &logs.store {
            config.logs.store = store.clone();
        }
        if let Some((max_age, max_bytes)) = logs.retention {
            config.logs.max_age = max_age;
            config.logs.max_bytes = max_bytes;
        }
        if let Some(queue) = logs.queue {
            config.logs.queue = queue;
        }
        config.logs.mask.extend(logs.mask.iter().cloned());
        config.logs.sinks.extend(logs.sinks.iter().cloned());
        Ok(config)
    }

    /// Sets up, returning every problem as an error. See [`try_init`].
    pub fn try_init(self) -> Result<ObsGuard, InitError> {
        let config = self.resolve(Err)?;
        start(config, Mode::Strict)
    }

    /// Sets up, reporting problems on stderr and carrying on. See [`init`].
    pub fn init(self) -> ObsGuard {
        let config = self.resolve(|e| {
            eprintln!("cqrs-obs: {e}; using the default");
            Ok(())
        });
        let config = config.unwrap_or_else(|e| {
            eprintln!("cqrs-obs: {e}; using the defaults");
            Config::default()
        });
        match start(config, Mode::Lenient) {
            Ok(guard) => guard,
            Err(e) => {
                eprintln!("cqrs-obs: {e}");
                ObsGuard::inert()
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lenient,
}

fn start(config: Config, mode: Mode) -> Result<ObsGuard, InitError> {
    if config.disabled {
        return Ok(ObsGuard::inert());
    }
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return Err(InitError::AlreadyInitialized);
    }
    match start_once(config, mode) {
        Ok(guard) => Ok(guard),
        Err(e) => {
            INITIALIZED.store(false, Ordering::SeqCst);
            Err(e)
        }
    }
}

fn start_once(config: Config, mode: Mode) -> Result<ObsGuard, InitError> {
    let listener = match bind_admin(&config) {
        Ok(listener) => listener,
        Err(e) if mode == Mode::Lenient => {
            eprintln!("cqrs-obs: {e}; the service runs without the admin endpoint");
            None
        }
        Err(e) => return Err(e),
    };
    crate::trace::set_sampler(config.traces.sampler);
    crate::trace::set_event_parent(config.traces.event_parent);
    crate::trace::set_keep_errors(config.traces.keep_errors);
    let traces = match start_traces(&config) {
        Ok(traces) => traces,
        Err(e) if mode == Mode::Lenient => {
            eprintln!("cqrs-obs: {e}; the service runs without trace export");
            None
        }
        Err(e) => return Err(e),
    };
    let logs = start_logs(&config, mode)?;
    if config.console != Console::Off {
        let installed = crate::logs::console::install(
            &config.log_filter,
            config.console == Console::Json,
            &config.logs.mask,
            logs.as_ref().map(crate::logs::Pipeline::layer),
        );
        if !installed {
            if mode == Mode::Strict {
                return Err(InitError::SubscriberAlreadySet);
            }
            eprintln!("cqrs-obs: a global tracing subscriber is already installed; keeping it");
        }
    }
    if !crate::metrics::install_recorder() {
        tracing::warn!(
            "another `metrics` recorder is installed; /metrics shows handler metrics only"
        );
    }
    crate::slo::load();
    crate::handler::enable();
    crate::trace::set_journal_enabled(true);
    let health = crate::health::start(&config.service_name, mode == Mode::Strict)?;
    let ticker = Ticker::start();
    let admin = match listener {
        Some(listener) => {
            Some(AdminServer::start(listener, config.admin_security()?).map_err(InitError::Admin)?)
        }
        None => None,
    };
    if let Some(server) = &admin {
        tracing::info!(addr = %server.addr(), service = %config.service_name, "cqrs-obs admin endpoint listening");
    }
    // Only once everything started: `logs::layer()` and the admin routes use this pipeline.
    if let Some(logs) = &logs {
        logs.make_global();
    }
    Ok(ObsGuard {
        admin,
        ticker: Some(ticker),
        health: Some(health),
        traces,
        logs,
        service_name: Some(config.service_name),
    })
}

fn start_traces(config: &Config) -> Result<Option<crate::trace::TracePipeline>, InitError> {
    let Some((output, endpoint)) = config.span_output() else {
        return Ok(None);
    };
    let mut traces = match output {
        crate::trace::SpanOutput::Otlp => {
            crate::trace::TraceConfig::new(config.service_name.clone(), endpoint)
        }
        crate::trace::SpanOutput::Console => {
            crate::trace::TraceConfig::console(config.service_name.clone())
        }
    }
    .protocol(config.traces.protocol);
    for (key, value) in &config.traces.resource {
        traces = traces.resource_attribute(key.clone(), value.clone());
    }
    // `service.name` comes from OTEL_SERVICE_NAME / the builder, whatever the attributes say.
    traces = traces.resource_attribute("service.name", config.service_name.clone());
    crate::trace::install_tracer(&traces)
        .map(Some)
        .map_err(InitError::Trace)
}

fn log_pipeline_config(
    config: &Config,
    store: Option<std::path::PathBuf>,
) -> crate::logs::PipelineConfig {
    use crate::logs::{ConsoleFormat, FileConfig, SinkConfig, StoreConfig};
    let logs = &config.logs;
    let resource = |key: &str| {
        config
            .traces
            .resource
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let mut pipeline =
        crate::logs::PipelineConfig::new(config.service_name.clone()).queue_capacity(logs.queue);
    pipeline.service_version = resource("service.version");
    pipeline.environment = resource("deployment.environment");
    pipeline.mask = logs.mask.clone();
    pipeline.store = store.map(|dir| {
        StoreConfig::new(dir)
            .max_age(logs.max_age)
            .max_bytes(logs.max_bytes)
    });
    if config.console == Console::Json {
        pipeline
            .sinks
            .push(SinkConfig::console(ConsoleFormat::Json).linger(Duration::from_millis(20)));
    }
    if let Some(path) = &logs.file {
        pipeline.sinks.push(SinkConfig::file(FileConfig::new(path)));
    }
    if let Some(url) = &logs.loki {
        pipeline.sinks.push(SinkConfig::loki(url, logs.loki_format));
    }
    if let Some(url) = &logs.elasticsearch {
        let index = logs
            .elasticsearch_index
            .clone()
            .unwrap_or_else(|| format!("logs-{}", config.service_name.to_ascii_lowercase()));
        pipeline.sinks.push(SinkConfig::elasticsearch(url, index));
    }
    if let Some(url) = config.logs_otlp_url() {
        pipeline.sinks.push(SinkConfig::otlp(url));
    }
    pipeline.sinks.extend(logs.sinks.iter().cloned());
    pipeline
}

/// Starts the log pipeline. A default store directory held by another process means no
/// store (said on stderr), whatever the mode; a configured one is an error in strict mode.
fn start_logs(config: &Config, mode: Mode) -> Result<Option<crate::logs::Pipeline>, InitError> {
    let store = match &config.logs.store {
        config::StoreDir::Off => None,
        config::StoreDir::Dir(dir) => Some(dir.clone()),
        config::StoreDir::Default => {
            let safe: String = config
                .service_name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            Some(
                std::env::temp_dir()
                    .join("cqrs-obs")
                    .join(safe)
                    .join("logs"),
            )
        }
    };
    let pipeline = match crate::logs::Pipeline::start(log_pipeline_config(config, store)) {
        Ok(p) => p,
        Err(e) if config.logs.store == config::StoreDir::Default || mode == Mode::Lenient => {
            eprintln!(
                "cqrs-obs: {e}: {}; logs run without the local store",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            crate::logs::Pipeline::start(log_pipeline_config(config, None))
                .map_err(InitError::Logs)?
        }
        Err(e) => return Err(InitError::Logs(e)),
    };
    Ok(Some(pipeline))
}

fn bind_admin(config: &Config) -> Result<Option<std::net::TcpListener>, InitError> {
    let AdminAddr::Listen(addr) = config.admin else {
        return Ok(None);
    };
    if !addr.ip().is_loopback()
        && config.admin_token.is_none()
        && config.admin_settings.viewer_token.is_none()
    {
        return Err(InitError::AdminNeedsToken { addr });
    }
    admin::bind(addr)
        .map(Some)
        .map_err(|source| InitError::AdminBind { addr, source })
}

/// The background tick: periodic upkeep that keeps buffers bounded.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// How often the background tick runs.
pub const TICK: Duration = Duration::from_secs(1);

impl Ticker {
    fn start() -> Ticker {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cqrs-obs-tick".into())
            .spawn(move || {
                let mut last = std::time::Instant::now();
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    let now = std::time::Instant::now();
                    crate::trace::adapt(now - last);
                    last = now;
                    crate::metrics::upkeep();
                    crate::slo::tick();
                    crate::anomaly::tick();
                }
                crate::metrics::upkeep();
            })
            .expect("spawning a thread at start-up");
        Ticker { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Keeps cqrs-obs running; dropping it stops the admin endpoint and the background tick and
/// flushes what is buffered. Handler call sites keep recording after the drop.
#[must_use = "dropping the guard shuts cqrs-obs down"]
pub struct ObsGuard {
    admin: Option<AdminServer>,
    ticker: Option<Ticker>,
    health: Option<crate::health::Refresher>,
    traces: Option<crate::trace::TracePipeline>,
    logs: Option<crate::logs::Pipeline>,
    service_name: Option<String>,
}

impl std::fmt::Debug for ObsGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObsGuard")
            .field("admin_addr", &self.admin_addr())
            .field("service_name", &self.service_name)
            .finish()
    }
}

impl ObsGuard {
    fn inert() -> ObsGuard {
        ObsGuard {
            admin: None,
            ticker: None,
            health: None,
            traces: None,
            logs: None,
            service_name: None,
        }
    }

    /// The address the admin endpoint listens on, if it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::addr)
    }

    /// Exports the spans buffered so far and stores and ships the log entries captured so far
    /// (blocks until the exporters answered or timed out). Dropping the guard does this too.
    ///
    /// ```no_run
    /// let guard = cqrs_obs::init();
    /// guard.flush();
    /// ```
    pub fn flush(&self) {
        if let Some(traces) = &self.traces {
            traces.flush();
        }
        if let Some(logs) = &self.logs {
            logs.flush(Duration::from_secs(10));
        }
    }

    /// The service name in use (`None` when cqrs-obs is disabled or failed to start).
    pub fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }
}

impl Drop for ObsGuard {
    fn drop(&mut self) {
        if let Some(logs) = &self.logs {
            // Open `GET /logs?follow=true` streams would hold the admin endpoint's shutdown.
            logs.close_followers();
        }
        if let Some(admin) = self.admin.take() {
            admin.stop();
        }
        if let Some(health) = self.health.take() {
            health.stop();
        }
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
        // Flushes the spans still buffered and shuts the exporter down.
        drop(self.traces.take());
        // Stores and ships the entries still queued, then stops the log threads.
        drop(self.logs.take());
    }
}
