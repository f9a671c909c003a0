//! Configuration: defaults, environment variables, builder overrides.

use std::net::SocketAddr;

use tracing_subscriber::filter::Targets;

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
