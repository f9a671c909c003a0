//! One HTTP/1.1 exchange with Grafana: a new connection per request (deployments are a
//! handful of requests), plain TCP or, with the `grafana-tls` feature, TLS (rustls, the
//! webpki roots plus any roots the caller adds).

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Any failure to get an answer: connection, TLS, protocol, timeout.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What came back.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: String,
}

/// Where to connect and how.
#[derive(Clone)]
pub(super) struct Transport {
    host: String,
    port: u16,
    #[cfg(feature = "grafana-tls")]
    tls: Option<tls::Tls>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Transport {
    /// For `uri` (scheme already checked to be `http`, or `https` with the TLS feature).
    pub(super) fn new(uri: &Uri) -> Option<Transport> {
        let https = uri.scheme_str() == Some("https");
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        Some(Transport {
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            #[cfg(feature = "grafana-tls")]
            tls: https.then(tls::Tls::webpki),
        })
    }

    /// Adds trusted roots (PEM) for `https`.
    #[cfg(feature = "grafana-tls")]
    pub(super) fn add_roots_pem(&mut self, pem: &[u8]) -> Result<usize, String> {
        match &mut self.tls {
            Some(tls) => tls.add_roots_pem(pem),
            None => Ok(0),
        }
    }

    /// Sends `request` (origin-form URI) on a new connection and reads the whole answer.
    pub(super) async fn exchange(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Answer, BoxError> {
        let authority = match self.port {
            80 | 443 => self.host.clone(),
            port => format!("{}:{port}", self.host),
        };
        request
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_str(&authority)?);
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
        let _ = tcp.set_nodelay(true);
        #[cfg(feature = "grafana-tls")]
        if let Some(tls) = &self.tls {
            let stream = tls.connect(&self.host, tcp).await?;
            return send(TokioIo::new(stream), request).await;
        }
        send(TokioIo::new(tcp), request).await
    }
}

async fn send<T>(io: T, request: Request<Full<Bytes>>) -> Result<Answer, BoxError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    // Drives the connection until the answer is read (or the request is dropped).
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[cfg(feature = "grafana-tls")]
mod tls {
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::RootCertStore;
    use tokio_rustls::{client::TlsStream, TlsConnector};

    use super::BoxError;

    /// The trusted roots; the client configuration is built per deployment.
    #[derive(Clone)]
    pub(super) struct Tls {
        roots: RootCertStore,
    }

    impl Tls {
        pub(super) fn webpki() -> Tls {
            Tls {
                roots: crate::tls_client::webpki_roots(),
            }
        }

        pub(super) fn add_roots_pem(&mut self, pem: &[u8]) -> Result<usize, String> {
            crate::tls_client::add_roots_pem(&mut self.roots, pem)
        }

        pub(super) async fn connect(
            &self,
            host: &str,
            tcp: tokio::net::TcpStream,
        ) -> Result<TlsStream<tokio::net::TcpStream>, BoxError> {
            let config = crate::tls_client::client_config(self.roots.clone())?;
            let name = ServerName::try_from(host.to_owned())?;
            Ok(TlsConnector::from(config).connect(name, tcp).await?)
        }
    }
}
