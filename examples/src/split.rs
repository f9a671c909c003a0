//! The bank split over two processes: the command side appends events and sends each one over
//! HTTP to a projection service in another process, which projects it with an event handler
//! that continues the command's trace (`parent = "child"`; see `examples/bank_split`). The event's metadata — and so its
//! `traceparent` — travels in the request body, so one trace crosses both services.
//!
//! The wire format is one JSON object per event:
//! `{"stream": 1, "version": 2, "type": "Deposited", "amount": 50, "metadata": {..}}`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::account::{AccountEnvelope, AccountEvent};

/// An event as the projection service receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEvent {
    /// The account.
    pub stream: u64,
    /// The stream version the event created.
    pub version: u64,
    /// `Opened`, `Deposited` or `Withdrawn`.
    pub kind: String,
    /// Amount in cents (0 for `Opened`).
    pub amount: u64,
    /// The metadata the store stamped on it (message context and trace context).
    pub metadata: HashMap<String, String>,
}

/// Why a request to the projection service failed.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The connection or the exchange failed.
    #[error("projection service at {addr}: {source}")]
    Io {
        /// The service.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The service answered something else than 204.
    #[error("projection service at {addr} answered `{status}`")]
    Status {
        /// The service.
        addr: SocketAddr,
        /// Its status line.
        status: String,
    },
}

/// The JSON of an appended event.
pub fn encode(envelope: &AccountEnvelope) -> String {
    let (kind, amount) = match &envelope.event {
        AccountEvent::Opened { .. } => ("Opened", 0),
        AccountEvent::Deposited { amount, .. } => ("Deposited", *amount),
        AccountEvent::Withdrawn { amount, .. } => ("Withdrawn", *amount),
    };
    serde_json::json!({
        "stream": envelope.stream.0,
        "version": envelope.version,
        "type": kind,
        "amount": amount,
        "metadata": envelope.metadata,
    })
    .to_string()
}

/// Parses what [`encode`] wrote; `None` for anything else.
pub fn decode(body: &[u8]) -> Option<RemoteEvent> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let metadata = value["metadata"]
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Some(RemoteEvent {
        stream: value["stream"].as_u64()?,
        version: value["version"].as_u64()?,
        kind: value["type"].as_str()?.to_owned(),
        amount: value["amount"].as_u64()?,
        metadata,
    })
}

/// Sends one event to the projection service at `addr` (`POST /events`).
pub fn send(addr: SocketAddr, envelope: &AccountEnvelope) -> Result<(), SplitError> {
    let io = |source| SplitError::Io { addr, source };
    let body = encode(envelope);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    write!(
        stream,
        "POST /events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).map_err(io)?;
    if status.split(' ').nth(1) == Some("204") {
        Ok(())
    } else {
        Err(SplitError::Status {
            addr,
            status: status.trim().to_owned(),
        })
    }
}

/// Serves `POST /events` on `listener` until `events` events were handled, passing each to
/// `handle` (the projection: an `#[event_handler]` with `metadata = event.metadata`). Answers
/// 204 when `handle` accepts the event, 422 when it refuses it, 400 for anything else.
pub fn serve(
    listener: &TcpListener,
    events: usize,
    mut handle: impl FnMut(&RemoteEvent) -> bool,
) -> std::io::Result<()> {
    let mut handled = 0;
    while handled < events {
        let (stream, _) = listener.accept()?;
        match read_event(&stream) {
            Some(event) => {
                let status = if handle(&event) {
                    "204 No Content"
                } else {
                    "422 Unprocessable Entity"
                };
                handled += 1;
                respond(&stream, status);
            }
            None => respond(&stream, "400 Bad Request"),
        }
    }
    Ok(())
}

fn read_event(stream: &TcpStream) -> Option<RemoteEvent> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST /events ") {
        return None;
    }
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    if length > 1 << 20 {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    decode(&body)
}

fn respond(mut stream: &TcpStream, status: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}
