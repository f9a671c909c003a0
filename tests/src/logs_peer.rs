//! Log sink peers for tests: an HTTP server on loopback that records every request and
//! answers through a test-provided function (to play Loki, Elasticsearch or an OTLP
//! collector, healthy or failing), can be started on a chosen port (to come up after the
//! sink started), and decoders of the wire formats: Loki's push protobuf (push.proto,
//! snappy-compressed) and OTLP logs (the official `opentelemetry-proto` types).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use prost::Message;

/// One request received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path.
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Answers a request: status and body.
pub type Responder = Arc<dyn Fn(&Recorded, usize) -> (u16, String) + Send + Sync>;

/// A responder that answers 200 with an empty JSON object.
pub fn ok() -> Responder {
    Arc::new(|_, _| (200, "{}".to_owned()))
}

/// The requests a peer received, in order.
#[derive(Clone, Default)]
struct Requests(Arc<Mutex<Vec<Recorded>>>);

impl Requests {
    /// Adds one; returns its index.
    fn push(&self, recorded: Recorded) -> usize {
        let mut all = self.0.lock().unwrap();
        all.push(recorded);
        all.len() - 1
    }

    fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    fn wait_for(&self, timeout: Duration, done: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        let start = Instant::now();
        loop {
            let all = self.all();
            if done(&all) || start.elapsed() > timeout {
                return all;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running peer; stops when dropped.
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Requests,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    /// Starts on `port` (0: any free port).
    pub fn start(port: u16, respond: Responder) -> Peer {
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let requests = Requests::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let seen = requests.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let app = axum::Router::new().fallback(move |request: Request| {
                    let seen = seen.clone();
                    let respond = respond.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let content_type = request
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body: Bytes = axum::body::to_bytes(request.into_body(), 64 << 20)
                            .await
                            .unwrap_or_default();
                        let recorded = Recorded {
                            path,
                            content_type,
                            body: body.to_vec(),
                        };
                        let n = seen.push(recorded.clone());
                        let (status, body) = respond(&recorded, n);
                        (
                            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                            [("content-type", "application/json")],
                            body,
                        )
                            .into_response()
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("peer server");
            });
        });
        Peer {
            addr,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.all()
    }

    /// Waits until `done` holds for the requests (or `timeout`); returns them.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        self.requests.wait_for(timeout, done)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Loki's push.proto (`logproto`), written from the published definition.
pub mod loki {
    /// `PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        /// Streams.
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// `StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        /// `{k="v", ...}`.
        #[prost(string, tag = "1")]
        pub labels: String,
        /// Entries.
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        /// Hash.
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// `EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        /// Timestamp.
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        /// The line.
        #[prost(string, tag = "2")]
        pub line: String,
        /// Structured metadata.
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `LabelPairAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        /// Name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// Seconds.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// Decodes a Loki protobuf push body (snappy block format, then protobuf).
pub fn decode_loki_protobuf(body: &[u8]) -> Result<loki::PushRequest, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("not snappy: {e}"))?;
    loki::PushRequest::decode(raw.as_slice()).map_err(|e| format!("not a PushRequest: {e}"))
}

/// Decodes an OTLP logs export body with the official types.
pub fn decode_otlp_logs(
    body: &[u8],
) -> Result<opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest, String> {
    opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::decode(body)
        .map_err(|e| format!("not an ExportLogsServiceRequest: {e}"))
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// An https server on loopback (the certificate `cert`) that records every `POST` and
/// answers `200 {}`: a Loki or OTLP collector behind TLS. Stops when dropped.
pub struct TlsPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Requests,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsPeer {
    /// Starts on a free port, presenting `cert`.
    pub fn start(cert: &crate::tls::TestCert) -> TlsPeer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(&cert.cert)
            .expect("certificate file")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(&cert.key).expect("key file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let requests = Requests::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let (config, seen) = (config.clone(), seen.clone());
                        std::thread::spawn(move || {
                            if let Some(recorded) = serve_tls(tcp, config) {
                                seen.push(recorded);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TlsPeer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.all()
    }

    /// Waits until `done` holds for the requests (or `timeout`); returns them.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        self.requests.wait_for(timeout, done)
    }
}

impl Drop for TlsPeer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request over TLS: `None` when the handshake or the request fails.
fn serve_tls(tcp: std::net::TcpStream, config: Arc<rustls::ServerConfig>) -> Option<Recorded> {
    use std::io::{BufRead, BufReader, Read, Write};
    tcp.set_nonblocking(false).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let connection = rustls::ServerConnection::new(config).ok()?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let recorded = {
        let mut reader = BufReader::new(&mut tls);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let path = line.split_whitespace().nth(1)?.to_owned();
        let (mut length, mut content_type) = (0, String::new());
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok()?;
                } else if name.eq_ignore_ascii_case("content-type") {
                    content_type = value.trim().to_owned();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Recorded {
            path,
            content_type,
            body,
        }
    };
    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    tls.write_all(answer.as_bytes()).ok()?;
    tls.conn.send_close_notify();
    tls.flush().ok()?;
    Some(recorded)
}
