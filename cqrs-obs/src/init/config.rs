//! Configuration: defaults, environment variables, builder overrides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::filter::Targets;

use crate::logs::LokiFormat;

use crate::trace::{EventParent, Protocol, Sampler, SamplerError};

/// A malformed configuration value: names the variable (or builder setting), the value and
/// what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value `{value}` for {var}: expected {expected}")]
pub struct ConfigError {
    /// The environment variable or builder setting.
    pub var: &'static str,
    /// The value found.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// Where the admin endpoint listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAddr {
    /// Listen on this address (port 0 picks a free port; see
    /// [`ObsGuard::admin_addr`](crate::ObsGuard::admin_addr)).
    Listen(SocketAddr),
    /// No admin endpoint.
    Off,
}

/// Console log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// Human-readable lines on stderr, each with the correlation id.
    Text,
    /// One JSON object per line on stderr (the log entry's JSON form, after masking).
    Json,
    /// No console output (and no global `tracing` subscriber installed by cqrs-obs).
    Off,
}

/// The admin endpoint's default address.
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    9464,
));

/// The resolved configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) admin: AdminAddr,
    pub(crate) admin_token: Option<String>,
    pub(crate) admin_settings: super::admin_settings::AdminSettings,
    pub(crate) console: Console,
    pub(crate) log_filter: Targets,
    pub(crate) traces: TracesConfig,
    pub(crate) logs: LogsConfig,
}

/// Where the local log store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreDir {
    /// `<temp dir>/cqrs-obs/<service>/logs`; if another process holds it, no store.
    Default,
    Off,
    Dir(PathBuf),
}

/// The log settings: store, queue, masking, sinks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogsConfig {
    pub(crate) store: StoreDir,
    pub(crate) max_age: Duration,
    pub(crate) max_bytes: u64,
    pub(crate) queue: usize,
    pub(crate) mask: Vec<String>,
    pub(crate) file: Option<PathBuf>,
    pub(crate) loki: Option<String>,
    pub(crate) loki_format: LokiFormat,
    pub(crate) elasticsearch: Option<String>,
    pub(crate) elasticsearch_index: Option<String>,
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`: the full URL, used as-is.
    pub(crate) otlp: Option<String>,
    /// `OTEL_LOGS_EXPORTER`, if set.
    pub(crate) exporter: Option<LogsExporter>,
    /// Sinks configured in code.
    pub(crate) sinks: Vec<crate::logs::SinkConfig>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            store: StoreDir::Default,
            max_age: Duration::from_secs(7 * 86_400),
            max_bytes: 256 << 20,
            queue: crate::logs::DEFAULT_QUEUE,
            mask: Vec::new(),
            file: None,
            loki: None,
            loki_format: LokiFormat::Protobuf,
            elasticsearch: None,
            elasticsearch_index: None,
            otlp: None,
            exporter: None,
            sinks: Vec::new(),
        }
    }
}

/// `OTEL_LOGS_EXPORTER`: whether logs are exported over OTLP. Console output is
/// `CQRS_OBS_CONSOLE`'s to decide, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogsExporter {
    /// `otlp` (alone or listed with `console`).
    Otlp,
    /// `console`: no OTLP export.
    Console,
    /// `none`: no OTLP export.
    None,
}

/// Where OTLP logs go when `OTEL_LOGS_EXPORTER=otlp` names no endpoint (the specification's
/// default).
pub(crate) const DEFAULT_OTLP_LOGS_URL: &str = "http://localhost:4318/v1/logs";

/// The trace settings: OTLP export, sampling, resource, event parenting.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TracesConfig {
    /// `None`: no OTLP export (spans are not built).
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Protocol,
    pub(crate) sampler: Sampler,
    /// `OTEL_RESOURCE_ATTRIBUTES` then builder attributes (later ones win).
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) event_parent: EventParent,
    /// Export the span of a failed call whose trace was not sampled.
    pub(crate) keep_errors: bool,
    /// `OTEL_TRACES_EXPORTER`: `None` when unset (OTLP when an endpoint is set).
    pub(crate) exporter: Option<TracesExporter>,
}

/// `OTEL_TRACES_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TracesExporter {
    /// `otlp`: to `OTEL_EXPORTER_OTLP_ENDPOINT`, else [`DEFAULT_OTLP_ENDPOINT`].
    Otlp,
    /// `console`: one line per span on standard output.
    Console,
    /// `none`: no span export.
    None,
}

/// Where `OTEL_TRACES_EXPORTER=otlp` sends spans when no endpoint is set (the
/// specification's default).
pub(crate) const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318";

pub(crate) const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";

pub(crate) fn parse_traces_exporter(
    var: &'static str,
    value: &str,
) -> Result<Option<TracesExporter>, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "otlp" => Ok(Some(TracesExporter::Otlp)),
        "console" => Ok(Some(TracesExporter::Console)),
        "none" => Ok(Some(TracesExporter::None)),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`otlp`, `console` or `none`",
        }),
    }
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            endpoint: None,
            protocol: Protocol::HttpProtobuf,
            sampler: Sampler::default(),
            resource: Vec::new(),
            event_parent: EventParent::Link,
            keep_errors: false,
            exporter: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            disabled: false,
            service_name: default_service_name(),
            admin: AdminAddr::Listen(DEFAULT_ADMIN_ADDR),
            admin_token: None,
            admin_settings: super::admin_settings::AdminSettings::default(),
            console: Console::Text,
            log_filter: Targets::new().with_default(tracing::Level::INFO),
            traces: TracesConfig::default(),
            logs: LogsConfig::default(),
        }
    }
}

fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
        .map(|name| executable_service_name(&name))
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// The service name of an executable's file name: without its extension, and without the
/// ` (deleted)` Linux appends once the file was replaced while the process runs.
fn executable_service_name(file_name: &str) -> String {
    let name = file_name.strip_suffix(" (deleted)").unwrap_or(file_name);
    let stem = std::path::Path::new(name)
        .file_stem()
        .map_or(name.into(), |s| s.to_string_lossy());
    stem.into_owned()
}

pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const ADMIN_ADDR: &str = "CQRS_OBS_ADMIN_ADDR";
pub(crate) const ADMIN_TOKEN: &str = "CQRS_OBS_ADMIN_TOKEN";
pub(crate) const CONSOLE: &str = "CQRS_OBS_CONSOLE";
pub(crate) const LOG: &str = "CQRS_OBS_LOG";
pub(crate) const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub(crate) const OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub(crate) const TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const EVENT_PARENT: &str = "CQRS_OBS_EVENT_PARENT";
pub(crate) const TRACES_KEEP_ERRORS: &str = "CQRS_OBS_TRACES_KEEP_ERRORS";
pub(crate) const LOG_STORE: &str = "CQRS_OBS_LOG_STORE";
pub(crate) const LOG_RETENTION: &str = "CQRS_OBS_LOG_RETENTION";
pub(crate) const LOG_MAX_SIZE: &str = "CQRS_OBS_LOG_MAX_SIZE";
pub(crate) const LOG_QUEUE: &str = "CQRS_OBS_LOG_QUEUE";
pub(crate) const LOG_MASK: &str = "CQRS_OBS_LOG_MASK";
pub(crate) const LOG_FILE: &str = "CQRS_OBS_LOG_FILE";
pub(crate) const LOG_LOKI_ENDPOINT: &str = "CQRS_OBS_LOG_LOKI_ENDPOINT";
pub(crate) const LOG_LOKI_FORMAT: &str = "CQRS_OBS_LOG_LOKI_FORMAT";
pub(crate) const LOG_ES_ENDPOINT: &str = "CQRS_OBS_LOG_ELASTICSEARCH_ENDPOINT";
pub(crate) const LOG_ES_INDEX: &str = "CQRS_OBS_LOG_ELASTICSEARCH_INDEX";
pub(crate) const OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
pub(crate) const LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";

const LOGS_EXPORTER_EXPECTED: &str =
    "`otlp`, `console` or `none` (or the comma-separated list `otlp,console`)";

pub(crate) fn parse_logs_exporter(
    var: &'static str,
    value: &str,
) -> Result<Option<LogsExporter>, ConfigError> {
    let bad = || ConfigError {
        var,
        value: value.to_owned(),
        expected: LOGS_EXPORTER_EXPECTED,
    };
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut exporter = None;
    for name in &names {
        exporter = match (name.as_str(), exporter) {
            ("none", _) if names.len() == 1 => Some(LogsExporter::None),
            ("otlp", _) => Some(LogsExporter::Otlp),
            ("console", Some(LogsExporter::Otlp)) => Some(LogsExporter::Otlp),
            ("console", _) => Some(LogsExporter::Console),
            _ => return Err(bad()),
        };
    }
    Ok(exporter)
}

pub(crate) fn parse_store_dir(var: &'static str, value: &str) -> Result<StoreDir, ConfigError> {
    match value.trim() {
        "" => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`off` or a directory path",
        }),
        v if v.eq_ignore_ascii_case("off") => Ok(StoreDir::Off),
        v => Ok(StoreDir::Dir(PathBuf::from(v))),
    }
}

pub(crate) fn parse_retention(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    crate::logs::parse_duration(value)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ConfigError {
            var,
            value: value.to_owned(),
            expected: "a duration such as `12h`, `7d` or `30m`",
        })
}

pub(crate) fn parse_size(var: &'static str, value: &str) -> Result<u64, ConfigError> {
    let bad = || ConfigError {
        var,
        value: value.to_owned(),
        expected: "a size such as `256MiB`, `1GiB`, `500MB` or a number of bytes",
    };
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..split].parse().map_err(|_| bad())?;
    let unit: u64 = match v[split..].trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).filter(|n| *n > 0).ok_or_else(bad)
}

pub(crate) fn parse_queue(var: &'static str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=16_777_216).contains(n))
        .ok_or_else(|| ConfigError {
            var,
            value: value.to_owned(),
            expected: "a number of entries from 1 to 16777216",
        })
}

pub(crate) fn parse_names(var: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    let names: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names
        .iter()
        .any(|n| n.chars().any(|c| c.is_control() || c == '='))
    {
        return Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "comma-separated field names such as `iban,pin`",
        });
    }
    Ok(names)
}

pub(crate) fn parse_path(var: &'static str, value: &str) -> Result<Option<PathBuf>, ConfigError> {
    match value.trim() {
        "" => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "a file path",
        }),
        v => Ok(Some(PathBuf::from(v))),
    }
}

/// An `http://` URL (the log sinks speak plain HTTP; put a proxy in front for TLS).
pub(crate) fn parse_http_url(
    var: &'static str,
    value: &str,
) -> Result<Option<String>, ConfigError> {
    let trimmed = value.trim();
    let rest = trimmed.strip_prefix("http://").or_else(|| {
        trimmed
            .strip_prefix("https://")
            .filter(|_| cfg!(feature = "logs-tls"))
    });
    match rest {
        Some(rest) if has_authority(rest) => Ok(Some(trimmed.to_owned())),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: if cfg!(feature = "logs-tls") {
                "an http:// or https:// URL such as `http://127.0.0.1:3100`"
            } else {
                "an http:// URL such as `http://127.0.0.1:3100` (https needs the `logs-tls` feature)"
            },
        }),
    }
}

pub(crate) fn parse_loki_format(var: &'static str, value: &str) -> Result<LokiFormat, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "json" => Ok(LokiFormat::Json),
        "protobuf" => Ok(LokiFormat::Protobuf),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`protobuf` (snappy-compressed) or `json`",
        }),
    }
}

pub(crate) fn parse_index(var: &'static str, value: &str) -> Result<Option<String>, ConfigError> {
    let v = value.trim();
    let ok = !v.is_empty()
        && !v.starts_with(['-', '_', '+'])
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(Some(v.to_owned()))
    } else {
        Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "an index or data stream name: lowercase letters, digits, `-`, `_`, `.`",
        })
    }
}

/// Whether what follows a URL's scheme names a host: not empty, not a path, no whitespace.
fn has_authority(rest: &str) -> bool {
    !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
}

pub(crate) fn parse_endpoint(
    var: &'static str,
    value: &str,
) -> Result<Option<String>, ConfigError> {
    let trimmed = value.trim();
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(rest) if has_authority(rest) => Ok(Some(trimmed.to_owned())),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "an http:// or https:// URL such as `http://127.0.0.1:4318`",
        }),
    }
}

pub(crate) fn parse_protocol(var: &'static str, value: &str) -> Result<Protocol, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`http/protobuf` or `grpc` (`http/json` is not supported)",
        }),
    }
}

const RESOURCE_EXPECTED: &str =
    "comma-separated `key=value` pairs (values percent-encoded), such as \
     `deployment.environment=prod,service.version=1.2.0`";

pub(crate) fn parse_resource(
    var: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let bad = || ConfigError {
        var,
        value: value.to_owned(),
        expected: RESOURCE_EXPECTED,
    };
    let mut out = Vec::new();
    for member in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let (key, val) = member.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        out.push((key.to_owned(), percent_decode(val.trim()).ok_or_else(bad)?));
    }
    Ok(out)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn parse_event_parent(
    var: &'static str,
    value: &str,
) -> Result<EventParent, ConfigError> {
    let bad = || ConfigError {
        var,
        value: value.to_owned(),
        expected: "`link`, `child` (events younger than 10s) or `child:<age>` such as `child:30s` \
                   or `child:500ms`",
    };
    let lower = value.trim().to_ascii_lowercase();
    match lower.as_str() {
        "link" => return Ok(EventParent::Link),
        "child" => {
            return Ok(EventParent::ChildIfYoungerThan(
                crate::trace::DEFAULT_CHILD_MAX_AGE,
            ))
        }
        _ => {}
    }
    let age = lower.strip_prefix("child:").ok_or_else(bad)?;
    let (digits, unit) = age.split_at(age.find(|c: char| !c.is_ascii_digit()).unwrap_or(age.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let age = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if age.is_zero() {
        return Err(bad());
    }
    Ok(EventParent::ChildIfYoungerThan(age))
}

pub(crate) fn sampler_error(error: SamplerError, name: &str, arg: Option<&str>) -> ConfigError {
    match error {
        SamplerError::Name(_) => ConfigError {
            var: TRACES_SAMPLER,
            value: name.to_owned(),
            expected: crate::trace::ACCEPTED_SAMPLERS,
        },
        SamplerError::Arg { expected, .. } => ConfigError {
            var: TRACES_SAMPLER_ARG,
            value: arg.unwrap_or_default().to_owned(),
            expected,
        },
    }
}

pub(crate) fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`true` or `false`",
        }),
    }
}

pub(crate) fn parse_admin_addr(var: &'static str, value: &str) -> Result<AdminAddr, ConfigError> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(AdminAddr::Off);
    }
    value
        .trim()
        .parse()
        .map(AdminAddr::Listen)
        .map_err(|_| ConfigError {
            var,
            value: value.to_owned(),
            expected: "`off` or an IP socket address such as `127.0.0.1:9464`",
        })
}

pub(crate) fn parse_console(var: &'static str, value: &str) -> Result<Console, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(Console::Text),
        "json" => Ok(Console::Json),
        "off" => Ok(Console::Off),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`text`, `json` or `off`",
        }),
    }
}

pub(crate) fn parse_filter(var: &'static str, value: &str) -> Result<Targets, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError {
        var,
        value: value.to_owned(),
        expected: "a level (`trace`, `debug`, `info`, `warn`, `error`, `off`) or \
                   `target=level` directives separated by commas, such as `info,bank=debug`",
    })
}

pub(crate) fn parse_service_name(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
        return Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "a non-empty name without control characters",
        });
    }
    Ok(trimmed.to_owned())
}

impl Config {
    /// Applies the environment. Strict: the first malformed variable is an error. Lenient:
    /// malformed variables are reported through `report` and their defaults kept.
    pub(crate) fn apply_env(
        &mut self,
        get: impl Fn(&str) -> Option<String>,
        mut report: impl FnMut(ConfigError) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        macro_rules! var {
            ($name:expr, $parse:expr, $field:expr) => {
                if let Some(value) = get($name) {
                    match $parse($name, &value) {
                        Ok(parsed) => $field = parsed,
                        Err(e) => report(e)?,
                    }
                }
            };
        }
        var!(OTEL_SDK_DISABLED, parse_bool, self.disabled);
        var!(OTEL_SERVICE_NAME, parse_service_name, self.service_name);
        var!(ADMIN_ADDR, parse_admin_addr, self.admin);
        var!(CONSOLE, parse_console, self.console);
        var!(LOG, parse_filter, self.log_filter);
        var!(OTLP_ENDPOINT, parse_endpoint, self.traces.endpoint);
        var!(OTLP_PROTOCOL, parse_protocol, self.traces.protocol);
        var!(TRACES_EXPORTER, parse_traces_exporter, self.traces.exporter);
        var!(RESOURCE_ATTRIBUTES, parse_resource, self.traces.resource);
        var!(EVENT_PARENT, parse_event_parent, self.traces.event_parent);
        var!(TRACES_KEEP_ERRORS, parse_bool, self.traces.keep_errors);
        self.apply_log_env(&get, &mut report)?;
        let arg = get(TRACES_SAMPLER_ARG);
        if let Some(name) = get(TRACES_SAMPLER) {
            match Sampler::parse(&name, arg.as_deref()) {
                Ok(sampler) => self.traces.sampler = sampler,
                Err(e) => report(sampler_error(e, &name, arg.as_deref()))?,
            }
        }
        if let Some(token) = get(ADMIN_TOKEN) {
            if token.trim().len() < 16 {
                report(ConfigError {
                    var: ADMIN_TOKEN,
                    value: "<redacted>".to_owned(),
                    expected: "a token of at least 16 characters",
                })?;
            } else {
                self.admin_token = Some(token.trim().to_owned());
            }
        }
        self.apply_admin_env(&get, &mut report)?;
        Ok(())
    }
}

impl Config {
    fn apply_log_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        report: &mut impl FnMut(ConfigError) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        macro_rules! var {
            ($name:expr, $parse:expr, $field:expr) => {
                if let Some(value) = get($name) {
                    match $parse($name, &value) {
                        Ok(parsed) => $field = parsed,
                        Err(e) => report(e)?,
                    }
                }
            };
        }
        let logs = &mut self.logs;
        var!(LOG_STORE, parse_store_dir, logs.store);
        var!(LOG_RETENTION, parse_retention, logs.max_age);
        var!(LOG_MAX_SIZE, parse_size, logs.max_bytes);
        var!(LOG_QUEUE, parse_queue, logs.queue);
        var!(LOG_MASK, parse_names, logs.mask);
        var!(LOG_FILE, parse_path, logs.file);
        var!(LOG_LOKI_ENDPOINT, parse_http_url, logs.loki);
        var!(LOG_LOKI_FORMAT, parse_loki_format, logs.loki_format);
        var!(LOG_ES_ENDPOINT, parse_http_url, logs.elasticsearch);
        var!(LOG_ES_INDEX, parse_index, logs.elasticsearch_index);
        var!(OTLP_LOGS_ENDPOINT, parse_http_url, logs.otlp);
        var!(LOGS_EXPORTER, parse_logs_exporter, logs.exporter);
        if self.logs.exporter == Some(LogsExporter::Otlp) && self.logs_otlp_url().is_none() {
            report(ConfigError {
                var: LOGS_EXPORTER,
                value: get(LOGS_EXPORTER).unwrap_or_default(),
                expected: "`console` or `none` when logs have no http/protobuf OTLP endpoint: \
                           set OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT \
                           to an http:// URL with the http/protobuf protocol",
            })?;
            self.logs.exporter = None;
        }
        Ok(())
    }

    /// Where spans go and the OTLP endpoint (empty for the console), or `None` for no span
    /// export: `OTEL_TRACES_EXPORTER` when set (`otlp` without an endpoint uses
    /// [`DEFAULT_OTLP_ENDPOINT`]), else OTLP when an endpoint is set.
    pub(crate) fn span_output(&self) -> Option<(crate::trace::SpanOutput, String)> {
        use crate::trace::SpanOutput;
        let endpoint = self.traces.endpoint.clone();
        match self.traces.exporter {
            None => endpoint.map(|e| (SpanOutput::Otlp, e)),
            Some(TracesExporter::Otlp) => Some((
                SpanOutput::Otlp,
                endpoint.unwrap_or_else(|| DEFAULT_OTLP_ENDPOINT.to_owned()),
            )),
            Some(TracesExporter::Console) => Some((SpanOutput::Console, String::new())),
            Some(TracesExporter::None) => None,
        }
    }

    /// Where OTLP logs go, following the OpenTelemetry specification: nowhere when
    /// `OTEL_LOGS_EXPORTER` is `console` or `none`; else `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
    /// as-is; else, with the http/protobuf protocol, `{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/logs`
    /// (an http:// one unless the `logs-tls` feature is on); else, when `OTEL_LOGS_EXPORTER=otlp`
    /// asks for it and no endpoint is set, [`DEFAULT_OTLP_LOGS_URL`].
    pub(crate) fn logs_otlp_url(&self) -> Option<String> {
        let exporter = self.logs.exporter;
        if matches!(exporter, Some(LogsExporter::Console | LogsExporter::None)) {
            return None;
        }
        if let Some(url) = &self.logs.otlp {
            return Some(url.clone());
        }
        match (&self.traces.endpoint, self.traces.protocol) {
            (Some(base), Protocol::HttpProtobuf)
                if base.starts_with("http://") || cfg!(feature = "logs-tls") =>
            {
                Some(format!("{}/v1/logs", base.trim_end_matches('/')))
            }
            (None, _) if exporter == Some(LogsExporter::Otlp) => {
                Some(DEFAULT_OTLP_LOGS_URL.to_owned())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod service_name_tests {
    use super::executable_service_name;

    #[test]
    fn a_replaced_executable_keeps_its_name() {
        assert_eq!(executable_service_name("bank"), "bank");
        assert_eq!(executable_service_name("bank (deleted)"), "bank");
        assert_eq!(executable_service_name("bank.exe"), "bank");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn strict(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut config = Config::default();
        config.apply_env(|k| env.get(k).cloned(), Err)?;
        Ok(config)
    }

    #[test]
    fn malformed_variables_name_themselves_and_the_accepted_values() {
        let err = strict(&[(ADMIN_ADDR, "localhost")]).unwrap_err();
        assert_eq!(err.var, "CQRS_OBS_ADMIN_ADDR");
        assert!(
            err.to_string().contains("`off` or an IP socket address"),
            "{err}"
        );
        let err = strict(&[(OTEL_SDK_DISABLED, "yes")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value `yes` for OTEL_SDK_DISABLED: expected `true` or `false`"
        );
        assert_eq!(
            strict(&[(CONSOLE, "fancy")]).unwrap_err().var,
            "CQRS_OBS_CONSOLE"
        );
        assert_eq!(
            strict(&[(LOG, "info,bank=loud")]).unwrap_err().var,
            "CQRS_OBS_LOG"
        );
        assert_eq!(
            strict(&[(OTEL_SERVICE_NAME, "  ")]).unwrap_err().var,
            "OTEL_SERVICE_NAME"
        );
        let err = strict(&[(ADMIN_TOKEN, "short")]).unwrap_err();
        assert!(
            !err.to_string().contains("short"),
            "tokens are never echoed: {err}"
        );
    }

    #[test]
    fn malformed_trace_variables_name_themselves() {
        let err = strict(&[(OTLP_ENDPOINT, "collector:4317")]).unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert!(err.to_string().contains("http:// or https://"), "{err}");
        let err = strict(&[(OTLP_PROTOCOL, "http/json")]).unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert!(err.to_string().contains("`grpc`"), "{err}");
        let err = strict(&[(TRACES_SAMPLER, "sometimes")]).unwrap_err();
        assert_eq!(err.var, "OTEL_TRACES_SAMPLER");
        assert!(
            err.to_string().contains("parentbased_traceidratio"),
            "{err}"
        );
        let err =
            strict(&[(TRACES_SAMPLER, "traceidratio"), (TRACES_SAMPLER_ARG, "2")]).unwrap_err();
        assert_eq!(err.var, "OTEL_TRACES_SAMPLER_ARG");
        assert_eq!(
            strict(&[(RESOURCE_ATTRIBUTES, "novalue")]).unwrap_err().var,
            RESOURCE_ATTRIBUTES
        );
        assert_eq!(
            strict(&[(RESOURCE_ATTRIBUTES, "k=%zz")]).unwrap_err().var,
            RESOURCE_ATTRIBUTES
        );
        assert_eq!(
            strict(&[(EVENT_PARENT, "child:soon")]).unwrap_err().var,
            EVENT_PARENT
        );
        assert_eq!(
            strict(&[(EVENT_PARENT, "child:0s")]).unwrap_err().var,
            EVENT_PARENT
        );
    }

    #[test]
    fn valid_trace_variables_apply() {
        let config = strict(&[
            (OTLP_ENDPOINT, "http://127.0.0.1:4317"),
            (OTLP_PROTOCOL, "grpc"),
            (TRACES_SAMPLER, "parentbased_traceidratio"),
            (TRACES_SAMPLER_ARG, "0.25"),
            (
                RESOURCE_ATTRIBUTES,
                "deployment.environment=prod, team=pay%20ments",
            ),
            (EVENT_PARENT, "child:30s"),
        ])
        .unwrap();
        let t = config.traces;
        assert_eq!(t.endpoint.as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(t.protocol, Protocol::Grpc);
        assert_eq!(
            t.sampler,
            Sampler::parent_based(crate::trace::Root::Ratio(0.25))
        );
        assert_eq!(
            t.resource,
            [
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "pay ments".to_owned())
            ]
        );
        assert_eq!(
            t.event_parent,
            EventParent::ChildIfYoungerThan(std::time::Duration::from_secs(30))
        );
        let defaults = strict(&[]).unwrap().traces;
        assert_eq!(defaults, TracesConfig::default());
        assert_eq!(
            strict(&[(EVENT_PARENT, "child")])
                .unwrap()
                .traces
                .event_parent,
            EventParent::ChildIfYoungerThan(crate::trace::DEFAULT_CHILD_MAX_AGE)
        );
    }

    #[test]
    fn valid_variables_apply() {
        let config = strict(&[
            (ADMIN_ADDR, "off"),
            (OTEL_SERVICE_NAME, "bank"),
            (CONSOLE, "OFF"),
            (OTEL_SDK_DISABLED, "false"),
        ])
        .unwrap();
        assert_eq!(config.admin, AdminAddr::Off);
        assert_eq!(config.service_name, "bank");
        assert_eq!(config.console, Console::Off);
        let config = strict(&[(ADMIN_ADDR, "127.0.0.1:0")]).unwrap();
        assert_eq!(
            config.admin,
            AdminAddr::Listen("127.0.0.1:0".parse().unwrap())
        );
    }

    #[test]
    fn log_variables_apply_and_malformed_ones_name_themselves() {
        let config = strict(&[
            (LOG_STORE, "/var/lib/bank/logs"),
            (LOG_RETENTION, "3d"),
            (LOG_MAX_SIZE, "64MiB"),
            (LOG_QUEUE, "1024"),
            (LOG_MASK, "iban, pin"),
            (LOG_LOKI_ENDPOINT, "http://127.0.0.1:3100"),
            (LOG_LOKI_FORMAT, "json"),
            (LOG_ES_INDEX, "logs-bank"),
            (CONSOLE, "json"),
        ])
        .unwrap();
        let logs = &config.logs;
        assert_eq!(logs.store, StoreDir::Dir("/var/lib/bank/logs".into()));
        assert_eq!(logs.max_age, Duration::from_secs(3 * 86_400));
        assert_eq!((logs.max_bytes, logs.queue), (64 << 20, 1024));
        assert_eq!(logs.mask, ["iban", "pin"]);
        assert_eq!(logs.loki_format, LokiFormat::Json);
        assert_eq!(config.console, Console::Json);
        assert_eq!(
            strict(&[(LOG_STORE, "OFF")]).unwrap().logs.store,
            StoreDir::Off
        );
        for (var, value) in [
            (LOG_RETENTION, "forever"),
            (LOG_MAX_SIZE, "12 parsecs"),
            (LOG_QUEUE, "0"),
            (LOG_LOKI_ENDPOINT, "ftp://loki"),
            (LOG_LOKI_FORMAT, "xml"),
            (LOG_ES_ENDPOINT, "es:9200"),
            (LOG_ES_INDEX, "Logs"),
            (OTLP_LOGS_ENDPOINT, "collector"),
            (LOG_STORE, " "),
        ] {
            let err = strict(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().contains("expected"), "{err}");
        }
    }

    #[test]
    fn traces_exporter_picks_where_spans_go() {
        use crate::trace::SpanOutput;
        let output = |vars: &[(&str, &str)]| strict(vars).unwrap().span_output();
        assert_eq!(output(&[]), None, "no endpoint, no exporter: no spans");
        let endpoint = (OTLP_ENDPOINT, "http://127.0.0.1:4318");
        assert_eq!(
            output(&[endpoint]),
            Some((SpanOutput::Otlp, "http://127.0.0.1:4318".to_owned()))
        );
        assert_eq!(
            output(&[(TRACES_EXPORTER, "otlp")]),
            Some((SpanOutput::Otlp, DEFAULT_OTLP_ENDPOINT.to_owned()))
        );
        assert_eq!(
            output(&[endpoint, (TRACES_EXPORTER, " Console ")]),
            Some((SpanOutput::Console, String::new()))
        );
        assert_eq!(output(&[endpoint, (TRACES_EXPORTER, "none")]), None);
        let err = strict(&[(TRACES_EXPORTER, "zipkin")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value `zipkin` for OTEL_TRACES_EXPORTER: expected `otlp`, `console` or `none`"
        );
    }

    #[test]
    fn otlp_logs_follow_the_specification_endpoints_and_exporter() {
        let url = |vars: &[(&str, &str)]| strict(vars).unwrap().logs_otlp_url();
        assert_eq!(url(&[]), None, "no endpoint, no exporter: no OTLP logs");
        let generic = (OTLP_ENDPOINT, "http://127.0.0.1:4318/");
        assert_eq!(
            url(&[generic]).as_deref(),
            Some("http://127.0.0.1:4318/v1/logs"),
            "the generic endpoint gets the signal path"
        );
        let specific = (OTLP_LOGS_ENDPOINT, "http://127.0.0.1:9999/custom");
        assert_eq!(
            url(&[generic, specific]).as_deref(),
            Some("http://127.0.0.1:9999/custom"),
            "the logs endpoint is used as-is"
        );
        let grpc = (OTLP_PROTOCOL, "grpc");
        assert_eq!(
            url(&[generic, grpc]),
            None,
            "logs go over http/protobuf only"
        );
        assert_eq!(
            url(&[generic, grpc, specific]).as_deref(),
            Some("http://127.0.0.1:9999/custom")
        );
        assert_eq!(
            url(&[(OTLP_ENDPOINT, "https://collector:4318")]).as_deref(),
            cfg!(feature = "logs-tls").then_some("https://collector:4318/v1/logs"),
            "the log sinks speak https with the `logs-tls` feature only"
        );
        assert_eq!(
            strict(&[(LOG_LOKI_ENDPOINT, "https://loki")]).is_ok(),
            cfg!(feature = "logs-tls")
        );
        for off in ["none", "console", "CONSOLE"] {
            let exporter = (LOGS_EXPORTER, off);
            assert_eq!(url(&[generic, specific, exporter]), None, "{off}");
        }
        for otlp in ["otlp", " OTLP ", "otlp,console", "console,otlp"] {
            let exporter = (LOGS_EXPORTER, otlp);
            assert_eq!(
                url(&[generic, exporter]).as_deref(),
                Some("http://127.0.0.1:4318/v1/logs"),
                "{otlp}"
            );
            assert_eq!(url(&[exporter]).as_deref(), Some(DEFAULT_OTLP_LOGS_URL));
        }
    }

    #[test]
    fn a_bad_or_unsatisfiable_logs_exporter_names_the_variable() {
        for bad in ["", "jaeger", "otlp,jaeger", "none,otlp", "logging"] {
            let err = strict(&[(LOGS_EXPORTER, bad)]).unwrap_err();
            assert_eq!(err.var, "OTEL_LOGS_EXPORTER");
            assert!(
                err.to_string().contains("`otlp`, `console` or `none`"),
                "{err}"
            );
        }
        let err = strict(&[
            (LOGS_EXPORTER, "otlp"),
            (OTLP_ENDPOINT, "http://127.0.0.1:4317"),
            (OTLP_PROTOCOL, "grpc"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_LOGS_EXPORTER");
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
            "{err}"
        );
        // Lenient: reported, and the logs are simply not exported.
        let mut config = Config::default();
        let env: HashMap<&str, &str> = [(LOGS_EXPORTER, "xml")].into();
        let mut reported = Vec::new();
        config
            .apply_env(
                |k| env.get(k).map(|v| v.to_string()),
                |e| {
                    reported.push(e.var);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(reported, ["OTEL_LOGS_EXPORTER"]);
        assert_eq!(config.logs_otlp_url(), None);
    }

    #[test]
    fn lenient_mode_keeps_defaults_and_reports() {
        let mut reported = Vec::new();
        let mut config = Config::default();
        let env: HashMap<&str, &str> = [(ADMIN_ADDR, "nope"), (OTEL_SERVICE_NAME, "svc")].into();
        config
            .apply_env(
                |k| env.get(k).map(|v| v.to_string()),
                |e| {
                    reported.push(e.var);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(reported, ["CQRS_OBS_ADMIN_ADDR"]);
        assert_eq!(config.admin, AdminAddr::Listen(DEFAULT_ADMIN_ADDR));
        assert_eq!(config.service_name, "svc");
    }
}
