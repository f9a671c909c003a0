//! What the https clients share (the Grafana deploy client with `grafana-tls`, the log sinks
//! with `logs-tls`): the trusted roots — the webpki roots plus certificates given as PEM — and
//! the rustls client configuration with the `ring` provider.

use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// The webpki roots (Mozilla's trusted CAs).
pub(crate) fn webpki_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// Adds every certificate of `pem` to `roots`; how many, or why none could be added.
pub(crate) fn add_roots_pem(roots: &mut RootCertStore, pem: &[u8]) -> Result<usize, String> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("bad PEM certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("not a usable root certificate: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err("no certificate in the PEM data".into());
    }
    Ok(added)
}

/// A client configuration trusting `roots`, with the `ring` provider and its default protocol
/// versions.
pub(crate) fn client_config(
    roots: RootCertStore,
) -> Result<Arc<ClientConfig>, tokio_rustls::rustls::Error> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
