//! A minimal blocking HTTP/1.1 client for the sinks: one `POST` per connection over
//! `std::net::TcpStream`, bounded by timeouts. Plain `http://` only (put a collector or proxy
//! in front for TLS); it keeps the sinks free of an async runtime and of a client stack.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::SinkError;

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
}

impl Url {
    /// Parses an `http://` URL (default port 80).
    pub(crate) fn parse(url: &str) -> Option<Url> {
        let rest = url.trim().strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
            _ => (authority, 80),
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
        })
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
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
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
    stream.write_all(&request)?;
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
        assert!(Url::parse("https://x").is_none());
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
