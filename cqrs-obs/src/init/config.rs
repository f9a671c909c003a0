//! Configuration: defaults, environment variables, builder overrides.

use std::net::SocketAddr;

use tracing_subscriber::filter::Targets;

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
    pub(crate) console: Console,
    pub(crate) log_filter: Targets,
    pub(crate) traces: TracesConfig,
}

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
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            endpoint: None,
            protocol: Protocol::HttpProtobuf,
            sampler: Sampler::default(),
            resource: Vec::new(),
            event_parent: EventParent::Link,
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
            console: Console::Text,
            log_filter: Targets::new().with_default(tracing::Level::INFO),
            traces: TracesConfig::default(),
        }
    }
}

fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned())
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

pub(crate) fn parse_endpoint(
    var: &'static str,
    value: &str,
) -> Result<Option<String>, ConfigError> {
    let trimmed = value.trim();
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(Some(trimmed.to_owned()))
        }
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
        "off" => Ok(Console::Off),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "`text` or `off`",
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
        var!(RESOURCE_ATTRIBUTES, parse_resource, self.traces.resource);
        var!(EVENT_PARENT, parse_event_parent, self.traces.event_parent);
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
        Ok(())
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
