//! The TLS client side of syslog over TLS (RFC 5425): rustls with the ring provider, the
//! collector's certificate checked against a configured CA, optional client certificate for
//! mutual TLS.
//!
//! # Contract
//! - [`client_config`] reads PEM files only when called (at output start), and fails with one
//!   line `"<path>: <what went wrong>"` for a missing or unreadable file, a file without a
//!   certificate or key, a certificate without its key (or the reverse), or a key that does
//!   not match.
//! - The collector's chain is verified against the configured CA certificates only (never the
//!   system store): an unknown CA, an expired certificate or a name mismatch fails the
//!   handshake. TLS 1.2 and 1.3, rustls' safe defaults.
//! - [`server_name`] is the override when given, else the target's host; an IP address is
//!   checked against the certificate's IP subject alternative names.

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The PEM files of a TLS output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate(s) the collector's certificate must chain to.
    pub ca: PathBuf,
    /// Client certificate chain, for mutual TLS (with `key`).
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// The name to check the collector's certificate against, instead of the target's host.
    pub server_name: Option<String>,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let d = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{d}: cannot read certificates: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{d}: bad PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{d}: no certificate in file"));
    }
    Ok(certs)
}

/// The ring crypto provider. rustls 0.23.48 deprecates ring's `default_provider` because
/// ring has no post-quantum key exchange; the workspace builds rustls with ring only (no
/// C toolchain beyond ring's own), so it is used knowingly: X25519 and the NIST curves, which
/// every syslog collector's TLS library speaks.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The rustls client configuration of `files`.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for c in certs(&files.ca)? {
        roots.add(c).map_err(|e| format!("{}: unusable CA certificate: {e}", files.ca.display()))?;
    }
    let provider = Arc::new(ring_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certs(cert)?;
            let k = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("{}: cannot read private key: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, k)
                .map_err(|e| format!("{}: unusable client certificate or key: {e}", cert.display()))?
        }
        (Some(cert), None) => return Err(format!("{}: client certificate given without a key", cert.display())),
        (None, Some(key)) => return Err(format!("{}: client key given without a certificate", key.display())),
    };
    Ok(Arc::new(config))
}

/// The name the collector's certificate is checked against: `files.server_name` or `host`.
pub fn server_name(files: &TlsFiles, host: &str) -> Result<ServerName<'static>, String> {
    let name = files.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_string()).map_err(|e| format!("TLS server name {name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsFiles { ca: dir.path().join("nope.pem"), ..TlsFiles::default() };
        let e = client_config(&missing).unwrap_err();
        assert!(e.contains("nope.pem") && !e.contains('\n'), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let e = client_config(&TlsFiles { ca: empty.clone(), ..TlsFiles::default() }).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");

        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap();
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca.cert.pem()).unwrap();
        assert!(client_config(&TlsFiles { ca: ca_pem.clone(), ..TlsFiles::default() }).is_ok());
        let half = TlsFiles { ca: ca_pem.clone(), cert: Some(ca_pem.clone()), ..TlsFiles::default() };
        assert!(client_config(&half).unwrap_err().contains("without a key"));
        let nokey = TlsFiles { ca: ca_pem.clone(), cert: Some(ca_pem.clone()), key: Some(empty), server_name: None };
        assert!(client_config(&nokey).unwrap_err().contains("private key"));

        assert!(server_name(&TlsFiles::default(), "127.0.0.1").is_ok());
        assert!(server_name(&TlsFiles::default(), "::1").is_ok());
        assert!(server_name(&TlsFiles::default(), "bad name!").is_err());
    }
}
