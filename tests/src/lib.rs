//! Helpers for the cross-crate integration tests in `tests/`.
//!
//! * [`http`]: a minimal HTTP/1.1 client over `std::net::TcpStream` (loopback only, bounded time);
//! * [`exposition`]: a strict parser of the Prometheus text format;
//! * [`peer`]: finding and running peer programs (`promtool`, `prometheus`), temp dirs,
//!   free ports, kill-on-drop children;
//! * [`otlp`]: a real OTLP trace receiver (http/protobuf and grpc) decoding with the
//!   official protobuf types;
//! * [`logs_peer`]: an HTTP peer that records requests (Loki, Elasticsearch, OTLP logs
//!   stand-ins, healthy or failing) and decoders of their wire formats;
//! * [`tls`]: a generated certificate and an HTTPS client trusting only it;
//! * [`bank`]: cqrs-obs set-up for a test binary, the bank workload, and the series it
//!   should produce.
//!
//! Each file in `tests/` is one capability and its own test binary, because cqrs-obs
//! initialises once per process.

pub mod bank;
pub mod exposition;
pub mod http;
pub mod logs_peer;
pub mod otlp;
pub mod peer;
pub mod tls;
