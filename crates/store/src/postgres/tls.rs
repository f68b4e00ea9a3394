//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` ask for it.
//!
//! tokio-postgres knows only `sslmode=disable|prefer|require`, rejects `verify-ca`,
//! `verify-full` and `sslrootcert`, and leaves the server's certificate to the
//! connector. So the URL's TLS options are read here, the URL tokio-postgres gets
//! keeps only the mode it knows, and the connector checks what the options say:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (the default) | if the server offers it | not checked (as libpq) |
//! | `require` | always | not checked; with `sslrootcert`, as `verify-ca` (as libpq) |
//! | `verify-ca` | always | chains to the roots |
//! | `verify-full` | always | chains to the roots and names the host |
//!
//! The roots are the PEM file `sslrootcert` names, or the system's
//! (`sslrootcert=system`, or no `sslrootcert` with a `verify-*` mode).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

/// `sslmode`, as libpq reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // `allow` tries without TLS first: a downgrade tessera does not offer.
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    /// The mode as tokio-postgres knows it: whether TLS is used at all.
    fn negotiated(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require | Self::VerifyCa | Self::VerifyFull => "require",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    System,
    File(PathBuf),
}

/// What the connection's TLS must check, read from the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TlsOptions {
    mode: SslMode,
    roots: Option<Roots>,
}

/// Splits a `postgres://` URL into the URL tokio-postgres reads and the TLS options.
/// Every other option is passed on as written.
pub(super) fn split_url(url: &str) -> Result<(String, TlsOptions), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut options = TlsOptions {
        mode: SslMode::Prefer,
        roots: None,
    };
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", mode)) => options.mode = SslMode::parse(mode)?,
            Some(("sslrootcert", "system")) => options.roots = Some(Roots::System),
            Some(("sslrootcert", path)) => {
                let path = percent_encoding::percent_decode_str(path)
                    .decode_utf8()
                    .map_err(|_| "sslrootcert is not a UTF-8 path".to_owned())?;
                options.roots = Some(Roots::File(PathBuf::from(path.as_ref())));
            }
            _ => kept.push(pair),
        }
    }
    let negotiated = format!("sslmode={}", options.mode.negotiated());
    kept.push(&negotiated);
    Ok((format!("{base}?{}", kept.join("&")), options))
}

impl TlsOptions {
    /// Encrypted, but nobody checks whom to: worth a warning.
    pub(super) fn unchecked_require(&self) -> bool {
        self.mode == SslMode::Require && self.roots.is_none()
    }

    /// The connector that checks what these options say.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mode = match (self.mode, &self.roots) {
            // libpq: with a root file, `require` checks the chain.
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(NoCertificateCheck(
                provider.signature_verification_algorithms,
            )),
            SslMode::VerifyCa => Arc::new(ChainOnly(self.verifier(&provider)?)),
            SslMode::VerifyFull => self.verifier(&provider)?,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// The full check (chain and name) against the configured roots.
    fn verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ServerCertVerifier>, String> {
        match &self.roots {
            Some(Roots::File(path)) => {
                let roots = trusted_roots(path).map_err(|e| format!("sslrootcert: {e}"))?;
                let verifier = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(provider),
                )
                .build()
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                Ok(verifier)
            }
            None | Some(Roots::System) => {
                let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(provider))
                    .map_err(|e| format!("cannot use the system's CA certificates: {e}"))?;
                Ok(Arc::new(verifier))
            }
        }
    }
}

/// The CA certificates in a PEM file, as trust anchors: for the database here, and
/// for the gateway's upstream.
pub fn trusted_roots(path: &Path) -> Result<RootCertStore, String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read CA file {}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| cannot(&e))? {
        roots
            .add(cert.map_err(|e| cannot(&e))?)
            .map_err(|e| cannot(&e))?;
    }
    if roots.is_empty() {
        return Err(cannot(&"it holds no PEM certificate"));
    }
    Ok(roots)
}

/// `verify-ca`: the chain is checked, the name in the certificate is not.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let checked =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match checked {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without roots, as libpq: the handshake is checked (the
/// server holds the key of the certificate it shows) but not the certificate.
#[derive(Debug)]
struct NoCertificateCheck(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_options_are_taken_out_and_the_rest_kept() {
        let (url, options) = split_url(
            "postgres://u:p@db:5432/x?application_name=a+b&sslmode=verify-full&sslrootcert=/etc/ca%20x.pem",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db:5432/x?application_name=a+b&sslmode=require"
        );
        assert_eq!(options.mode, SslMode::VerifyFull);
        assert_eq!(options.roots, Some(Roots::File("/etc/ca x.pem".into())));

        let (url, options) = split_url("postgres://db/x").unwrap();
        assert_eq!(url, "postgres://db/x?sslmode=prefer");
        assert_eq!(options.mode, SslMode::Prefer);
        assert!(!options.unchecked_require());

        let (_, options) = split_url("postgres://db/x?sslmode=require").unwrap();
        assert!(options.unchecked_require());
        let (_, options) = split_url("postgres://db/x?sslmode=require&sslrootcert=system").unwrap();
        assert!(!options.unchecked_require());
    }

    #[test]
    fn unknown_modes_and_unreadable_roots_are_refused() {
        let refused = split_url("postgres://db/x?sslmode=allow").unwrap_err();
        assert!(refused.contains("verify-full"), "{refused}");
        let (_, options) =
            split_url("postgres://db/x?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem").unwrap();
        let refused = options.connector().err().unwrap_or_default();
        assert!(refused.contains("/nonexistent/ca.pem"), "{refused}");
    }
}
