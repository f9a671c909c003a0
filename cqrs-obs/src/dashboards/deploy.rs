//! Deploying dashboards through Grafana's HTTP API.
//!
//! `deploy` makes sure the folder exists (`GET /api/folders/{uid}`, then `POST /api/folders`
//! when missing; the folder uid is derived from its title, so this is idempotent), then
//! saves the dashboard with `POST /api/dashboards/db` and `overwrite: true`: deploying again
//! replaces the dashboard with the same uid. Connection errors, timeouts, 429 and 5xx are
//! retried with exponential backoff; 400, 401, 403, 404 and 412 are reported at once. Each
//! request uses a connection of its own (see `transport.rs`).

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Auth, RetryPolicy};
use super::transport::{Answer, BoxError, Transport};
use super::Dashboard;

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// The Grafana URL is not a valid `http://` URL.
    #[error("bad Grafana URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// 400: Grafana refused the JSON.
    #[error("{path}: Grafana refused the request (400 Bad Request): {message}")]
    BadRequest {
        /// The API path.
        path: String,
        /// Grafana's message.
        message: String,
    },
    /// 401: missing or wrong credentials.
    #[error("{path}: authentication failed (401 Unauthorized): check the token or user and password: {message}")]
    Unauthorized {
        /// The API path.
        path: String,
        /// Grafana's message.
        message: String,
    },
    /// 403: the credentials lack a permission.
    #[error("{path}: permission denied (403 Forbidden): the account needs the Editor role or dashboards:write on the folder: {message}")]
    Forbidden {
        /// The API path.
        path: String,
        /// Grafana's message.
        message: String,
    },
    /// 412: a version conflict, or another dashboard with the same title in the folder.
    #[error("{path}: precondition failed (412, `{status}`): {message}")]
    Conflict {
        /// The API path.
        path: String,
        /// Grafana's `status`: `version-mismatch`, `name-exists` or `plugin-dashboard`.
        status: String,
        /// Grafana's message.
        message: String,
    },
    /// Any other answer, or a 5xx / 429 after the last retry.
    #[error("{path}: HTTP {status} after {attempts} attempt(s): {message}")]
    Status {
        /// The API path.
        path: String,
        /// The status code.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Grafana's message or body.
        message: String,
    },
    /// No answer after the last retry.
    #[error("{path}: Grafana did not answer after {attempts} attempt(s)")]
    Unreachable {
        /// The API path.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// The last connection error or timeout.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A root certificate given for TLS is not usable.
    #[error("bad root certificate: {reason}")]
    Certificate {
        /// What is wrong.
        reason: String,
    },
    /// A success whose body is not what Grafana sends.
    #[error("{path}: unexpected answer body: {body}")]
    Body {
        /// The API path.
        path: String,
        /// The body.
        body: String,
    },
}

/// What Grafana answered to a saved dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Deployed {
    /// Dashboard uid.
    pub uid: String,
    /// Path of the dashboard in Grafana (`/d/<uid>/<slug>`).
    pub url: String,
    /// New version number.
    pub version: u64,
    /// `success`.
    pub status: String,
}

/// A client of Grafana's dashboard and folder API.
///
/// ```no_run
/// use cqrs_obs::dashboards::{generate_all, Auth, GrafanaClient, Template};
/// # async fn run() -> Result<(), cqrs_obs::dashboards::DeployError> {
/// let grafana = GrafanaClient::new("http://127.0.0.1:3000", Auth::Bearer("glsa_...".into()))?;
/// for dashboard in generate_all(Template::Production) {
///     let saved = grafana.deploy(&dashboard, Some("Bank"), "cqrs-obs deploy").await?;
///     println!("{}{}", grafana.url(), saved.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GrafanaClient {
    url: String,
    /// The URL's path prefix (`/grafana` behind a reverse proxy), without a trailing `/`.
    prefix: String,
    transport: Transport,
    auth: Auth,
    retry: RetryPolicy,
}

impl GrafanaClient {
    /// A client for the Grafana at `url` (`http://host:3000`, with an optional path prefix
    /// such as `http://host/grafana`). `https://` needs the `grafana-tls` feature, which
    /// trusts the webpki roots (add others with
    /// `add_root_certificates_pem`).
    pub fn new(url: &str, auth: Auth) -> Result<GrafanaClient, DeployError> {
        let bad = |reason| DeployError::Url {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            #[cfg(feature = "grafana-tls")]
            Some("https") => {}
            #[cfg(not(feature = "grafana-tls"))]
            Some("https") => {
                return Err(bad(
                    "https needs cqrs-obs' `grafana-tls` feature (or a TLS-terminating proxy)",
                ))
            }
            _ => return Err(bad("expected http://host:port or https://host")),
        }
        if uri.query().is_some() {
            return Err(bad("expected http://host:port[/path], without a query"));
        }
        let transport =
            Transport::new(&uri).ok_or_else(|| bad("expected http://host:port[/path]"))?;
        Ok(GrafanaClient {
            url: url.trim_end_matches('/').to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            transport,
            auth,
            retry: RetryPolicy::default(),
        })
    }

    /// Also trusts the certificates in `pem` (a private CA, a self-signed Grafana) for
    /// `https`; returns how many were added.
    #[cfg(feature = "grafana-tls")]
    pub fn add_root_certificates_pem(&mut self, pem: &[u8]) -> Result<usize, DeployError> {
        self.transport
            .add_roots_pem(pem)
            .map_err(|reason| DeployError::Certificate { reason })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> GrafanaClient {
        self.retry = retry;
        self
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Saves `dashboard` into the folder titled `folder` (created if missing; `None` for the
    /// General folder), replacing any dashboard with the same uid, with a version `message`.
    pub async fn deploy(
        &self,
        dashboard: &Dashboard,
        folder: Option<&str>,
        message: &str,
    ) -> Result<Deployed, DeployError> {
        let folder_uid = match folder {
            Some(title) => Some(self.ensure_folder(title).await?),
            None => None,
        };
        let mut dashboard = serde_json::to_value(dashboard).unwrap_or(Value::Null);
        dashboard["id"] = Value::Null;
        let mut body = json!({"dashboard": dashboard, "overwrite": true, "message": message});
        if let Some(uid) = folder_uid {
            body["folderUid"] = Value::String(uid);
        }
        let path = "/api/dashboards/db";
        let answer = self.send(Method::POST, path, Some(&body)).await?;
        serde_json::from_str(&answer.body).map_err(|_| DeployError::Body {
            path: path.into(),
            body: answer.body,
        })
    }

    /// Deploys every dashboard into `folder`, stopping at the first error.
    pub async fn deploy_all(
        &self,
        dashboards: &[Dashboard],
        folder: Option<&str>,
        message: &str,
    ) -> Result<Vec<Deployed>, DeployError> {
        let mut deployed = Vec::with_capacity(dashboards.len());
        for dashboard in dashboards {
            deployed.push(self.deploy(dashboard, folder, message).await?);
        }
        Ok(deployed)
    }

    /// The folder's uid, creating the folder when it does not exist.
    async fn ensure_folder(&self, title: &str) -> Result<String, DeployError> {
        let uid = folder_uid(title);
        let path = format!("/api/folders/{uid}");
        match self.send(Method::GET, &path, None).await {
            Ok(_) => return Ok(uid),
            Err(DeployError::Status { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        let body = json!({"uid": uid, "title": title});
        match self.send(Method::POST, "/api/folders", Some(&body)).await {
            Ok(_) => Ok(uid),
            // Created concurrently by someone else: it exists now.
            Err(DeployError::Status { status: 409, .. }) => Ok(uid),
            Err(e) => Err(e),
        }
    }

    fn request(&self, method: &Method, path: &str, body: Option<&Value>) -> Request<Full<Bytes>> {
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.prefix))
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("cqrs-obs/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(value) = self
            .auth
            .header()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder
            .body(Full::new(bytes))
            .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }

    /// Sends one request with retries; `Ok` for 2xx only.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, DeployError> {
        let attempts = self.retry.attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.request(&method, path, body);
            let outcome =
                tokio::time::timeout(self.retry.timeout, self.transport.exchange(request))
                    .await
                    .unwrap_or_else(|_| Err("timed out".into()));
            let retryable = match &outcome {
                Ok(answer) => {
                    answer.status.is_server_error()
                        || answer.status == StatusCode::TOO_MANY_REQUESTS
                }
                Err(_) => true,
            };
            if !retryable || attempt >= attempts {
                return classify(path, attempt, outcome);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
        }
    }
}

/// Turns the last answer into a result.
fn classify(
    path: &str,
    attempts: u32,
    outcome: Result<Answer, BoxError>,
) -> Result<Answer, DeployError> {
    let answer = outcome.map_err(|source| DeployError::Unreachable {
        path: path.into(),
        attempts,
        source,
    })?;
    if answer.status.is_success() {
        return Ok(answer);
    }
    let json: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let message = json["message"]
        .as_str()
        .map_or_else(|| answer.body.trim().to_owned(), str::to_owned);
    let path = path.to_owned();
    Err(match answer.status.as_u16() {
        400 => DeployError::BadRequest { path, message },
        401 => DeployError::Unauthorized { path, message },
        403 => DeployError::Forbidden { path, message },
        412 => DeployError::Conflict {
            path,
            status: json["status"]
                .as_str()
                .unwrap_or("precondition-failed")
                .to_owned(),
            message,
        },
        status => DeployError::Status {
            path,
            status,
            attempts,
            message,
        },
    })
}

/// A folder uid from its title: lowercase letters, digits and `-`, at most 40 bytes.
fn folder_uid(title: &str) -> String {
    let mut slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.truncate(40);
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "cqrs-obs".to_owned()
    } else {
        slug.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folder_uids() {
        assert!(GrafanaClient::new("http://127.0.0.1:3000/", Auth::None).is_ok());
        let https = GrafanaClient::new("https://grafana", Auth::None);
        if cfg!(feature = "grafana-tls") {
            assert!(https.is_ok());
        } else {
            assert!(matches!(https, Err(DeployError::Url { .. })));
        }
        assert!(GrafanaClient::new("ftp://grafana", Auth::None).is_err());
        assert!(GrafanaClient::new("http://grafana:3000/?x=1", Auth::None).is_err());
        assert!(GrafanaClient::new("grafana:3000", Auth::None).is_err());
        assert_eq!(folder_uid("Bank / Prod"), "bank---prod");
        assert_eq!(
            format!("{:?}", Auth::Bearer("s3cret".into())),
            "Bearer(***)"
        );
    }
}
