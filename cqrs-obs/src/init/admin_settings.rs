//! Settings of the admin endpoint's security: tokens, TLS, audit log, rate limit — from the
//! `CQRS_OBS_ADMIN_*` variables and the builder.

use std::path::PathBuf;

use super::config::{Config, ConfigError};
use super::{Builder, InitError};
use crate::admin::{self, AuditLog, RateLimit, Security, TlsFiles, Tokens};

pub(crate) const ADMIN_VIEWER_TOKEN: &str = "CQRS_OBS_ADMIN_VIEWER_TOKEN";
pub(crate) const ADMIN_TLS_CERT: &str = "CQRS_OBS_ADMIN_TLS_CERT";
pub(crate) const ADMIN_TLS_KEY: &str = "CQRS_OBS_ADMIN_TLS_KEY";
pub(crate) const ADMIN_AUDIT_LOG: &str = "CQRS_OBS_ADMIN_AUDIT_LOG";
pub(crate) const ADMIN_RATE_LIMIT: &str = "CQRS_OBS_ADMIN_RATE_LIMIT";

/// The resolved settings (the operator token stays in `Config::admin_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdminSettings {
    pub(crate) viewer_token: Option<String>,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) audit_log: Option<PathBuf>,
    /// Requests per second; `None`: no limit.
    pub(crate) rate_limit: Option<u32>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            viewer_token: None,
            tls: None,
            audit_log: None,
            rate_limit: Some(admin::DEFAULT_RATE_LIMIT),
        }
    }
}

/// The same rule as `CQRS_OBS_ADMIN_TOKEN`'s.
pub(crate) fn parse_token(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let token = value.trim();
    if token.len() < 16 || token.chars().any(char::is_control) {
        return Err(ConfigError {
            var,
            value: "<redacted>".to_owned(),
            expected: "a token of at least 16 characters",
        });
    }
    Ok(token.to_owned())
}

fn parse_file(var: &'static str, value: &str) -> Result<PathBuf, ConfigError> {
    match value.trim() {
        "" => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "a file path",
        }),
        v => Ok(PathBuf::from(v)),
    }
}

pub(crate) fn parse_rate_limit(var: &'static str, value: &str) -> Result<Option<u32>, ConfigError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConfigError {
            var,
            value: value.to_owned(),
            expected: "a positive number of requests per second, or `off`",
        }),
    }
}

impl Config {
    /// Reads the `CQRS_OBS_ADMIN_*` security variables (see [`Config::apply_env`]).
    pub(crate) fn apply_admin_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        report: &mut impl FnMut(ConfigError) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        let admin = &mut self.admin_settings;
        let read = |var: &'static str| get(var).filter(|v| !v.is_empty()).map(|v| (var, v));
        if let Some((var, value)) = read(ADMIN_VIEWER_TOKEN) {
            match parse_token(var, &value) {
                Ok(token) => admin.viewer_token = Some(token),
                Err(e) => report(e)?,
            }
        }
        if let Some((var, value)) = read(ADMIN_AUDIT_LOG) {
            match parse_file(var, &value) {
                Ok(path) => admin.audit_log = Some(path),
                Err(e) => report(e)?,
            }
        }
        if let Some((var, value)) = read(ADMIN_RATE_LIMIT) {
            match parse_rate_limit(var, &value) {
                Ok(limit) => admin.rate_limit = limit,
                Err(e) => report(e)?,
            }
        }
        match (read(ADMIN_TLS_CERT), read(ADMIN_TLS_KEY)) {
            (None, None) => {}
            (Some((cvar, cert)), Some((kvar, key))) => {
                match (parse_file(cvar, &cert), parse_file(kvar, &key)) {
                    (Ok(cert), Ok(key)) => admin.tls = Some(TlsFiles { cert, key }),
                    (Err(e), _) | (_, Err(e)) => report(e)?,
                }
            }
            (Some(_), None) => report(ConfigError {
                var: ADMIN_TLS_KEY,
                value: String::new(),
                expected: "the private key's PEM file, set together with CQRS_OBS_ADMIN_TLS_CERT",
            })?,
            (None, Some(_)) => report(ConfigError {
                var: ADMIN_TLS_CERT,
                value: String::new(),
                expected:
                    "the certificate chain's PEM file, set together with CQRS_OBS_ADMIN_TLS_KEY",
            })?,
        }
        Ok(())
    }

    /// What the admin endpoint is started with.
    pub(crate) fn admin_security(&self) -> Result<Security, InitError> {
        let settings = &self.admin_settings;
        let audit = match &settings.audit_log {
            None => AuditLog::events(),
            Some(path) => AuditLog::file(path).map_err(|source| InitError::AdminAuditLog {
                path: path.clone(),
                source,
            })?,
        };
        Ok(Security {
            tokens: Tokens::new(
                self.admin_token.as_deref(),
                settings.viewer_token.as_deref(),
            ),
            tls: settings.tls.clone(),
            audit,
            rate_limit: settings.rate_limit.map(RateLimit::new),
        })
    }
}

/// Admin settings made in code.
#[derive(Debug, Default, Clone)]
pub(crate) struct AdminOverrides {
    token: Option<String>,
    viewer_token: Option<String>,
    tls: Option<TlsFiles>,
    audit_log: Option<PathBuf>,
    rate_limit: Option<Option<u32>>,
}

impl AdminOverrides {
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(token) = &self.token {
            config.admin_token = Some(parse_token("builder admin_token", token)?);
        }
        let settings = &mut config.admin_settings;
        if let Some(token) = &self.viewer_token {
            settings.viewer_token = Some(parse_token("builder admin_viewer_token", token)?);
        }
        if let Some(tls) = &self.tls {
            settings.tls = Some(tls.clone());
        }
        if let Some(path) = &self.audit_log {
            settings.audit_log = Some(path.clone());
        }
        if let Some(limit) = self.rate_limit {
            settings.rate_limit = limit;
        }
        Ok(())
    }
}

impl Builder {
    /// The operator token of the admin endpoint (default: `CQRS_OBS_ADMIN_TOKEN`): may read
    /// every route and take actions. At least 16 characters.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_overrides.token = Some(token.into());
        self
    }

    /// The viewer token (default: `CQRS_OBS_ADMIN_VIEWER_TOKEN`): may read every route.
    pub fn admin_viewer_token(mut self, token: impl Into<String>) -> Self {
        self.admin_overrides.viewer_token = Some(token.into());
        self
    }

    /// Serve the admin endpoint over TLS with this certificate chain and private key, PEM
    /// files (default: `CQRS_OBS_ADMIN_TLS_CERT` and `CQRS_OBS_ADMIN_TLS_KEY`; needs the
    /// `admin-tls` feature).
    pub fn admin_tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.admin_overrides.tls = Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Append the admin audit log to this file (default: `CQRS_OBS_ADMIN_AUDIT_LOG`, else
    /// `tracing` events of target `cqrs_obs::audit`).
    pub fn admin_audit_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.admin_overrides.audit_log = Some(path.into());
        self
    }

    /// Requests per second the admin endpoint answers, bursts of twice that; `None`: no limit
    /// (default: `CQRS_OBS_ADMIN_RATE_LIMIT`, else 200).
    pub fn admin_rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.admin_overrides.rate_limit = Some(per_second);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn strict(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut config = Config::default();
        config.apply_env(|k| env.get(k).cloned(), Err)?;
        Ok(config)
    }

    #[test]
    fn admin_variables_are_read_and_checked() {
        let config = strict(&[
            (ADMIN_VIEWER_TOKEN, "viewer-viewer-viewer"),
            (ADMIN_RATE_LIMIT, "off"),
            (ADMIN_AUDIT_LOG, "/var/log/audit.jsonl"),
            (ADMIN_TLS_CERT, "cert.pem"),
            (ADMIN_TLS_KEY, "key.pem"),
        ])
        .unwrap();
        let admin = &config.admin_settings;
        assert_eq!(admin.viewer_token.as_deref(), Some("viewer-viewer-viewer"));
        assert_eq!(admin.rate_limit, None);
        assert_eq!(admin.audit_log, Some(PathBuf::from("/var/log/audit.jsonl")));
        assert_eq!(admin.tls.as_ref().unwrap().key, PathBuf::from("key.pem"));
        assert_eq!(Config::default().admin_settings.rate_limit, Some(200));
    }

    #[test]
    fn bad_admin_variables_name_themselves_and_the_accepted_values() {
        let err = strict(&[(ADMIN_RATE_LIMIT, "fast")]).unwrap_err();
        assert_eq!(err.var, ADMIN_RATE_LIMIT);
        assert!(err.expected.contains("`off`"));
        let err = strict(&[(ADMIN_VIEWER_TOKEN, "short")]).unwrap_err();
        assert_eq!(
            (err.var, err.value.as_str()),
            (ADMIN_VIEWER_TOKEN, "<redacted>")
        );
        let err = strict(&[(ADMIN_TLS_CERT, "cert.pem")]).unwrap_err();
        assert_eq!(err.var, ADMIN_TLS_KEY, "the missing half is named");
    }
}
