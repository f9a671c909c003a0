//! TLS for tests: a self-signed certificate for `localhost` / 127.0.0.1 generated at run
//! time (rcgen), and a rustls client that trusts only it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A generated certificate: its PEM files and its DER form to trust.
pub struct TestCert {
    /// The certificate's PEM file.
    pub cert: PathBuf,
    /// The private key's PEM file.
    pub key: PathBuf,
    der: CertificateDer<'static>,
}

/// Writes a new self-signed certificate for `localhost` and 127.0.0.1 into `dir`.
pub fn generate(dir: &Path) -> TestCert {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let cert = dir.join("admin-cert.pem");
    let key = dir.join("admin-key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    TestCert {
        cert,
        key,
        der: certified.cert.der().clone(),
    }
}

impl TestCert {
    /// A client configuration trusting only this certificate.
    pub fn client(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("a valid root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// One HTTPS request to `addr` (as `127.0.0.1`), trusting `config`'s roots only.
pub fn request(
    config: Arc<ClientConfig>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<crate::http::Response, String> {
    let name = ServerName::IpAddress(addr.ip().into());
    let connection = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let tcp = crate::http::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let stream = StreamOwned::new(connection, tcp);
    crate::http::exchange(stream, &addr.to_string(), method, path, headers, body)
}
