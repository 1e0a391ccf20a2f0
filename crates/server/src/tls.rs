//! HTTPS served directly (`server.tls`): rustls with the ring provider, HTTP/2 and HTTP/1.1,
//! and, when `client_ca` is set, mutual TLS: a client must present a certificate signed by one
//! of those authorities, or the handshake fails before any request is read.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use zhiku_core::TlsConfig;

use crate::ServeError;

fn tls_error(path: &str, what: impl std::fmt::Display) -> ServeError {
    ServeError::Tls(format!("{path}: {what}"))
}

fn certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_file_iter(Path::new(path))
        .map_err(|e| tls_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, e))?;
    if certs.is_empty() {
        return Err(tls_error(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The rustls configuration `server.tls` describes; every problem names its file.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = certificates(tls.cert.trim())?;
    let key = PrivateKeyDer::from_pem_file(Path::new(tls.key.trim()))
        .map_err(|e| tls_error(tls.key.trim(), e))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let builder = if tls.client_ca.trim().is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in certificates(tls.client_ca.trim())? {
            roots
                .add(ca)
                .map_err(|e| tls_error(tls.client_ca.trim(), e))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| tls_error(tls.client_ca.trim(), e))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(tls.cert.trim(), e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
