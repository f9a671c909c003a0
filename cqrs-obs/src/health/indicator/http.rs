//! An external HTTP service: GET a URL, expect a 2xx, within a timeout; optionally behind a
//! circuit breaker.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::health::{CircuitBreaker, HealthFuture, HealthIndicator, HealthStatus};

/// GETs an `http://` URL and expects a 2xx status within `timeout` (default 2 s). Observes
/// `responseTime` in `ms`.
///
/// With a [`CircuitBreaker`], each GET is one call through it, and while the breaker is open
/// the indicator is DOWN without calling the service.
///
/// It speaks plain HTTP/1.1 (no TLS: probe a sidecar or the service's internal port) and
/// reads only the status line.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::{indicator::HttpGet, BreakerConfig, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new("rates", BreakerConfig::default());
/// let rates = HttpGet::new("http://127.0.0.1:8080/health")
///     .timeout(Duration::from_millis(500))
///     .breaker(breaker);
/// # let _ = rates;
/// ```
#[derive(Debug, Clone)]
pub struct HttpGet {
    url: String,
    timeout: Duration,
    breaker: Option<CircuitBreaker>,
}

impl HttpGet {
    /// A GET of `url`.
    pub fn new(url: impl Into<String>) -> HttpGet {
        HttpGet {
            url: url.into(),
            timeout: Duration::from_secs(2),
            breaker: None,
        }
    }

    /// How long the GET may take.
    pub fn timeout(mut self, timeout: Duration) -> HttpGet {
        self.timeout = timeout;
        self
    }

    /// Calls through this breaker.
    pub fn breaker(mut self, breaker: CircuitBreaker) -> HttpGet {
        self.breaker = Some(breaker);
        self
    }

    async fn status(&self) -> HealthStatus {
        let permit = match self.breaker.as_ref().map(CircuitBreaker::try_acquire) {
            Some(Err(open)) => {
                return HealthStatus::down_because(open.to_string())
                    .with_detail("url", self.url.clone())
            }
            Some(Ok(permit)) => Some(permit),
            None => None,
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, get(&self.url)).await {
            Ok(Ok(code)) if (200..300).contains(&code) => Ok(code),
            Ok(Ok(code)) => Err(format!("GET {} answered {code}", self.url)),
            Ok(Err(e)) => Err(format!("GET {}: {e}", self.url)),
            Err(_) => Err(format!(
                "GET {}: timed out after {:?}",
                self.url, self.timeout
            )),
        };
        let millis = started.elapsed().as_secs_f64() * 1e3;
        let health = match &result {
            Ok(code) => HealthStatus::up().with_detail("status_code", *code),
            Err(reason) => HealthStatus::down_because(reason.clone()),
        };
        if let Some(permit) = permit {
            if result.is_ok() {
                permit.success()
            } else {
                permit.failure()
            }
        }
        health.with_detail("url", self.url.clone()).with_observed(
            "responseTime",
            (millis * 1e3).round() / 1e3,
            "ms",
        )
    }
}

impl HealthIndicator for HttpGet {
    fn check(&self) -> HealthFuture<'_> {
        Box::pin(self.status())
    }
}

/// `http://host[:port][/path]` → (host, port, path).
fn split_url(url: &str) -> Result<(&str, u16, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only `http://` URLs are supported".to_owned())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let port = |p: &str| p.parse::<u16>().map_err(|_| format!("bad port `{p}`"));
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').ok_or("an unclosed `[`")?;
        match rest.strip_prefix(':') {
            Some(p) => (host, port(p)?),
            None => (host, 80),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, p)) => (host, port(p)?),
            None => (authority, 80),
        }
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    Ok((host, port, path))
}

/// A GET that returns the status code.
async fn get(url: &str) -> Result<u16, String> {
    let (host, port, path) = split_url(url)?;
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cqrs-obs-health\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 || head.len() > 8192 {
            return Err("no HTTP status line in the answer".to_owned());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split(' ');
    match (
        parts.next(),
        parts.next().and_then(|c| c.trim().parse().ok()),
    ) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => Ok(code),
        _ => Err("a malformed HTTP status line".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(split_url("http://a:81/x?y"), Ok(("a", 81, "/x?y")));
        assert_eq!(split_url("http://a"), Ok(("a", 80, "/")));
        assert_eq!(split_url("http://[::1]:9/"), Ok(("::1", 9, "/")));
        assert_eq!(split_url("http://[::1]"), Ok(("::1", 80, "/")));
        assert!(split_url("https://a").is_err());
        assert!(split_url("http://a:x/").is_err());
        assert!(split_url("http:///").is_err());
    }
}
