//! TLS for the admin endpoint (cargo feature `admin-tls`): rustls with the `ring` provider, the
//! certificate chain and private key read from PEM files at start-up.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::{AdminError, TlsFiles};

pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;

/// Builds the acceptor; a missing or malformed file is an error naming it.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<Acceptor, AdminError> {
    let cert_error = |reason: String| AdminError::Tls {
        what: "certificate",
        path: files.cert.clone(),
        reason,
    };
    let key_error = |reason: String| AdminError::Tls {
        what: "key",
        path: files.key.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_error("no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_error(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| key_error(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections until `stopped` resolves; each connection is served on a task of
/// its own, so a slow handshake holds up nobody else.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Acceptor,
    app: Router,
    stopped: impl Future<Output = ()>,
) {
    tokio::pin!(stopped);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("cqrs-obs: admin endpoint accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A failed handshake (a plain-HTTP client, a client that distrusts the
            // certificate) just closes the connection.
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = app.layer(axum::Extension(ConnectInfo::<SocketAddr>(peer)));
            let service = TowerToHyperService::new(service);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
