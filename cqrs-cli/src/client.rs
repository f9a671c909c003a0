//! The HTTP client: GETs against the admin endpoint (and Prometheus), POSTs to Grafana,
//! with errors classified for the exit code.

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::Agent;

use crate::error::CliError;
use crate::progress::Progress;

/// Largest body read (dashboards are the biggest answers, well under this).
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// A client for one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    agent: Agent,
    stream_agent: Agent,
    base: String,
    /// The `Authorization` header value, if any.
    authorization: Option<String>,
    progress: bool,
}

/// An answer: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The URL asked.
    pub(crate) url: String,
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: String,
}

impl Answer {
    /// The body parsed as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, CliError> {
        serde_json::from_str(&self.body).map_err(|e| CliError::Invalid {
            url: self.url.clone(),
            reason: format!("{e}"),
        })
    }

    /// `Err` unless the status is one of `ok`; the error carries the body's
    /// `{"error": {"code", "message"}}` when it has one.
    pub(crate) fn expect(self, ok: &[u16]) -> Result<Answer, CliError> {
        if ok.contains(&self.status) {
            return Ok(self);
        }
        let parsed: Option<serde_json::Value> = serde_json::from_str(&self.body).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v["error"][k].as_str())
                .map(str::to_owned)
        };
        let message = field("message").unwrap_or_else(|| {
            let body = self.body.trim();
            let short: String = body.chars().take(200).collect();
            if short.is_empty() {
                "(empty body)".to_owned()
            } else {
                short
            }
        });
        Err(CliError::Status {
            url: self.url,
            status: self.status,
            code: field("code"),
            message,
        })
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&..` with the values encoded; pairs with an empty value are left out.
pub(crate) fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn classify(url: &str, e: ureq::Error) -> CliError {
    use std::io::ErrorKind;
    let unreachable = |reason: String| CliError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    match e {
        ureq::Error::Timeout(what) => unreachable(format!("timed out ({what})")),
        ureq::Error::HostNotFound => unreachable("host not found".to_owned()),
        ureq::Error::ConnectionFailed => unreachable("connection failed".to_owned()),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::TimedOut
                    | ErrorKind::NotConnected
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            ) =>
        {
            let reason = match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            };
            unreachable(reason)
        }
        other => CliError::Invalid {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// The agent of a client: statuses are answers (not errors), bounded time, and with
/// `ca_pem` only that CA trusted for https.
fn agent(timeout: Option<Duration>, ca_pem: Option<&[u8]>) -> Result<Agent, CliError> {
    let connect = timeout
        .unwrap_or(Duration::from_secs(5))
        .min(Duration::from_secs(5));
    let builder = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(connect))
        .timeout_global(timeout)
        .user_agent(concat!("cqrs-cli/", env!("CARGO_PKG_VERSION")));
    #[cfg(feature = "tls")]
    let builder = match ca_pem {
        None => builder,
        Some(pem) => {
            let certs = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Usage(format!("--ca-cert: {e}")))?;
            if certs.is_empty() {
                return Err(CliError::Usage(
                    "--ca-cert: no certificate in the file".to_owned(),
                ));
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build();
            builder.tls_config(tls)
        }
    };
    #[cfg(not(feature = "tls"))]
    let _ = ca_pem;
    Ok(Agent::new_with_config(builder.build()))
}

impl Client {
    /// A client for `base` (no trailing `/`) sending `token` as a bearer token and, with
    /// `ca_pem`, trusting only that CA for https.
    pub(crate) fn new(
        base: &str,
        token: Option<&str>,
        timeout: Duration,
        progress: bool,
        ca_pem: Option<&[u8]>,
    ) -> Result<Client, CliError> {
        Ok(Client {
            agent: agent(Some(timeout), ca_pem)?,
            stream_agent: agent(None, ca_pem)?,
            base: base.to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
            progress,
        })
    }

    /// Sends basic authentication (`user:password`) instead of a bearer token.
    pub(crate) fn with_basic_auth(mut self, user: &str, password: &str) -> Client {
        let credentials = base64(format!("{user}:{password}").as_bytes());
        self.authorization = Some(format!("Basic {credentials}"));
        self
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path_and_query`, whatever the status.
    pub(crate) fn get(&self, path_and_query: &str) -> Result<Answer, CliError> {
        let url = format!("{}{path_and_query}", self.base);
        let _progress = Progress::start(self.progress, &url);
        let mut request = self.agent.get(&url);
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.call().map_err(|e| classify(&url, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|e| classify(&url, e))?;
        Ok(Answer { url, status, body })
    }

    /// `GET` and parse a 200 answer as JSON.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, CliError> {
        self.get(path_and_query)?.expect(&[200])?.json()
    }

    /// `GET` a long-lived answer (server-sent events) and hand its body to `read`.
    pub(crate) fn stream(
        &self,
        path_and_query: &str,
        read: &mut dyn FnMut(&mut dyn Read) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let url = format!("{}{path_and_query}", self.base);
        let mut request = self
            .stream_agent
            .get(&url)
            .header("Accept", "text/event-stream");
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.call().map_err(|e| classify(&url, e))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            Answer { url, status, body }.expect(&[200])?;
            return Ok(());
        }
        let mut reader = response.into_body().into_reader();
        read(&mut reader)
    }

    /// `POST base + path` with a JSON body, whatever the status.
    pub(crate) fn post_json(&self, path: &str, body: &[u8]) -> Result<Answer, CliError> {
        self.send_json(false, path, body)
    }

    /// `PUT base + path` with a JSON body, whatever the status.
    pub(crate) fn put_json(&self, path: &str, body: &[u8]) -> Result<Answer, CliError> {
        self.send_json(true, path, body)
    }

    fn send_json(&self, put: bool, path: &str, body: &[u8]) -> Result<Answer, CliError> {
        let url = format!("{}{path}", self.base);
        let _progress = Progress::start(self.progress, &url);
        let request = if put {
            self.agent.put(&url)
        } else {
            self.agent.post(&url)
        };
        let mut request = request
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.send(body).map_err(|e| classify(&url, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| classify(&url, e))?;
        Ok(Answer { url, status, body })
    }
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("admin:admin", "YWRtaW46YWRtaW4="),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn queries_are_encoded_and_empty_values_left_out() {
        assert_eq!(
            with_query(
                "/logs",
                &[
                    ("level", Some("warn".into())),
                    ("q", Some("no funds & more".into())),
                    ("service", None)
                ]
            ),
            "/logs?level=warn&q=no%20funds%20%26%20more"
        );
        assert_eq!(with_query("/logs", &[("a", None)]), "/logs");
    }
}
