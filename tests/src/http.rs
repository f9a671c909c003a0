//! A minimal HTTP/1.1 client over `std::net::TcpStream` (or any stream): enough for the admin endpoint
//! and Prometheus' API on loopback, without pulling an HTTP stack into the tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a request may take to connect, and to read.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunked transfer encoding if needed.
    pub body: String,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {}", self.body))
    }
}

/// `GET path` (with its query string, already encoded) from `addr`.
pub fn get(addr: SocketAddr, path: &str) -> Result<Response, String> {
    get_with(addr, path, &[])
}

/// `GET path` with extra request headers (`("Accept", "application/health+json")`).
pub fn get_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    request(addr, "GET", path, headers, b"")
}

/// Any method, with headers and a body (`Content-Length` is added).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let fail = |what: &str, e: std::io::Error| format!("{method} http://{addr}{path}: {what}: {e}");
    let stream = connect(addr).map_err(|e| fail("connect", e))?;
    exchange(stream, &addr.to_string(), method, path, headers, body)
}

/// A loopback connection with the tests' timeouts.
pub fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// One HTTP/1.1 request and its response over `stream` (plain TCP, TLS, ...), which is then
/// closed.
pub fn exchange(
    mut stream: impl Read + Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let fail = |what: &str, e: std::io::Error| format!("{method} {host}{path}: {what}: {e}");
    let accept = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"));
    let mut extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    if !accept {
        extra.push_str("Accept: */*\r\n");
    }
    if !body.is_empty() {
        extra.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}User-Agent: cqrs-obs-tests\r\n\
         Connection: close\r\n\r\n"
    );
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).map_err(|e| fail("write", e))?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS peer that closes without close_notify: what was read is the whole answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(fail("read", e)),
    }
    parse_response(&raw).map_err(|e| format!("{method} {host}{path}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", raw.len()))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| format!("headers: {e}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = &raw[split + 4..];
    let decoded;
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        decoded = dechunk(body)?;
        body = &decoded;
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length {len:?}"))?;
        body = body
            .get(..len)
            .ok_or_else(|| format!("body shorter than {len} bytes"))?;
    }
    let body = String::from_utf8(body.to_vec()).map_err(|e| format!("body: {e}"))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size line")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass).
///
/// ```
/// assert_eq!(cqrs_obs_tests::http::encode("sum by (a) (m{x=\"y\"})"),
///            "sum%20by%20%28a%29%20%28m%7Bx%3D%22y%22%7D%29");
/// ```
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_bodies() {
        let plain =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        let response = parse_response(plain).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.body, "hello");
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(chunked).unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body, "abcde");
    }

    #[test]
    fn reports_garbage() {
        assert!(parse_response(b"nonsense").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
