//! A minimal blocking HTTP/1.1 client for the sinks: one `POST` per connection over
//! `std::net::TcpStream`, bounded by timeouts; `https://` with the `logs-tls` feature (rustls,
//! the webpki roots plus any the sink configuration adds). It keeps the sinks free of an async
//! runtime and of a client stack.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::SinkError;

/// A parsed `http://host:port/path` (or, with `logs-tls`, `https://`) URL.
#[derive(Debug, Clone)]
pub(crate) struct Url {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    /// Set for `https://`.
    #[cfg(feature = "logs-tls")]
    tls: Option<tls::Tls>,
}

impl Url {
    /// Parses an `http://` URL (default port 80) or, with `logs-tls`, an `https://` one
    /// (default port 443).
    pub(crate) fn parse(url: &str) -> Option<Url> {
        let url = url.trim();
        #[cfg(feature = "logs-tls")]
        if let Some(rest) = url.strip_prefix("https://") {
            let mut parsed = Url::parse_rest(rest, 443)?;
            parsed.tls = Some(tls::Tls::webpki());
            return Some(parsed);
        }
        Url::parse_rest(url.strip_prefix("http://")?, 80)
    }

    fn parse_rest(rest: &str, default_port: u16) -> Option<Url> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
            _ => (authority, default_port),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return None;
        }
        Some(Url {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.trim_end_matches('/').to_owned(),
            #[cfg(feature = "logs-tls")]
            tls: None,
        })
    }

    /// Parses a sink's URL; for `https://`, also trusts the certificates in `roots_pem`.
    pub(crate) fn for_sink(url: &str, roots_pem: &[u8]) -> std::io::Result<Url> {
        let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let expected = if cfg!(feature = "logs-tls") {
            "an http:// or https:// URL"
        } else {
            "an http:// URL (https needs cqrs-obs' `logs-tls` feature)"
        };
        #[cfg_attr(not(feature = "logs-tls"), allow(unused_mut))]
        let mut parsed =
            Url::parse(url).ok_or_else(|| invalid(format!("{url}: expected {expected}")))?;
        #[cfg(feature = "logs-tls")]
        parsed.trust_pem(roots_pem)?;
        #[cfg(not(feature = "logs-tls"))]
        let _ = roots_pem;
        Ok(parsed)
    }

    /// Also trusts the certificates in `pem` for an `https://` URL (no-op for `http://`).
    #[cfg(feature = "logs-tls")]
    pub(crate) fn trust_pem(&mut self, pem: &[u8]) -> std::io::Result<()> {
        match &mut self.tls {
            Some(tls) if !pem.is_empty() => tls
                .add_roots_pem(pem)
                .map_err(|reason| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason)),
            _ => Ok(()),
        }
    }

    /// This URL with `suffix` appended to its path.
    pub(crate) fn join(&self, suffix: &str) -> Url {
        Url {
            path: format!("{}{suffix}", self.path),
            ..self.clone()
        }
    }
}

/// A response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `POST url` with the body and headers; any status is a response.
pub(crate) fn post(
    url: &Url,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, SinkError> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| SinkError::Response(format!("cannot resolve {}", url.host)))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let path = if url.path.is_empty() { "/" } else { &url.path };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: cqrs-obs\r\n",
        url.host,
        url.port,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    #[cfg(feature = "logs-tls")]
    if let Some(tls) = &url.tls {
        return exchange(tls.connect(&url.host, stream)?, &request);
    }
    exchange(stream, &request)
}

fn exchange(mut stream: impl Read + Write, request: &[u8]) -> Result<Response, SinkError> {
    stream.write_all(request)?;
    stream.flush()?;
    read_response(BufReader::new(stream))
}

fn read_response(mut reader: impl BufRead) -> Result<Response, SinkError> {
    let bad = |what: &str| SinkError::Response(what.to_owned());
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("headers cut short"));
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk"))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n.min(16 << 20), 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.take(16 << 20).read_to_end(&mut body)?;
    }
    Ok(Response { status, body })
}

/// `Ok` for a 2xx, else a [`SinkError::Status`] with the start of the body.
pub(crate) fn check(response: Response) -> Result<Response, SinkError> {
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let body = String::from_utf8_lossy(&response.body[..response.body.len().min(512)]).into_owned();
    Err(SinkError::Status {
        status: response.status,
        body,
    })
}

#[cfg(feature = "logs-tls")]
mod tls {
    use std::net::TcpStream;
    use std::sync::Arc;

    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

    use crate::tls_client;

    /// The client configuration of an `https://` sink.
    #[derive(Clone)]
    pub(super) struct Tls {
        roots: RootCertStore,
        config: Arc<ClientConfig>,
    }

    impl std::fmt::Debug for Tls {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Tls")
                .field("roots", &self.roots.len())
                .finish()
        }
    }

    fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
        tls_client::client_config(roots)
            .expect("the ring provider supports the default protocol versions")
    }

    impl Tls {
        pub(super) fn webpki() -> Tls {
            let roots = tls_client::webpki_roots();
            Tls {
                config: client_config(roots.clone()),
                roots,
            }
        }

        pub(super) fn add_roots_pem(&mut self, pem: &[u8]) -> Result<(), String> {
            tls_client::add_roots_pem(&mut self.roots, pem)?;
            self.config = client_config(self.roots.clone());
            Ok(())
        }

        pub(super) fn connect(
            &self,
            host: &str,
            tcp: TcpStream,
        ) -> std::io::Result<StreamOwned<ClientConnection, TcpStream>> {
            let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
            let name = ServerName::try_from(host.to_owned()).map_err(|e| invalid(e.to_string()))?;
            let connection = ClientConnection::new(self.config.clone(), name)
                .map_err(|e| invalid(e.to_string()))?;
            Ok(StreamOwned::new(connection, tcp))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = Url::parse("http://127.0.0.1:3100/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 3100, "")
        );
        assert_eq!(
            Url::parse("http://es/prefix").unwrap().join("/_bulk").path,
            "/prefix/_bulk"
        );
        assert_eq!(
            Url::parse("https://x").map(|u| u.port),
            cfg!(feature = "logs-tls").then_some(443)
        );
        assert!(Url::parse("http://:80").is_none());
    }

    #[test]
    fn responses_parse_with_length_and_chunks() {
        let r = read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let r = read_response(
            &b"HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n"
                [..],
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"abcd"[..]));
        assert!(read_response(&b"garbage"[..]).is_err());
    }
}
