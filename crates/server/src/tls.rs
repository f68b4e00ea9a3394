//! TLS with rustls: the listeners' certificates (reloaded on SIGHUP without dropping
//! a connection) and the gateway's client for an https upstream.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::limits::TryWriteNow;

/// A certificate chain and its private key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both files or neither: `what` names the pair in the error (e.g. `--tls-cert`).
    pub fn pair(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        what: &str,
    ) -> Result<Option<Self>, String> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(Self { cert, key })),
            (None, None) => Ok(None),
            _ => Err(format!(
                "{what}: give both the certificate and its key (PEM files), or neither"
            )),
        }
    }

    /// Reads and checks the pair: the chain, a key rustls can sign with, and that the
    /// key is the first certificate's.
    fn load(&self) -> Result<CertifiedKey, String> {
        let cert = self.cert.display();
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("cannot read the certificate {cert}: {e}"))?;
        if chain.is_empty() {
            return Err(format!("{cert} holds no PEM certificate"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("cannot read the private key {}: {e}", self.key.display()))?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
            format!(
                "the key {} cannot serve the certificate {cert}: {e}",
                self.key.display()
            )
        })
    }
}

/// The one crypto provider the workspace builds (see the workspace's Cargo.toml).
fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// A listener's certificate, swapped whole when its files are read again, so that a
/// handshake under way keeps the one it started with and established connections
/// are not touched.
pub struct Certificate {
    files: TlsFiles,
    current: ArcSwap<CertifiedKey>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, String> {
        let current = ArcSwap::from_pointee(files.load()?);
        Ok(Arc::new(Self { files, current }))
    }

    /// Reads the files again. On any error the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        self.current.store(Arc::new(self.files.load()?));
        Ok(())
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// An acceptor that serves this certificate, HTTP/1.1 only.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, String> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// A client TLS config that trusts the CA certificates in `ca_file` alone, or the
/// system's roots without one.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match ca_file {
        Some(path) => builder
            .with_root_certificates(tessera_store::trusted_roots(path)?)
            .with_no_client_auth(),
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| format!("cannot use the system's CA certificates: {e}"))?
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// On TLS, the bytes are sealed into records and handed to the socket as far as it
/// takes them now.
impl TryWriteNow for TlsStream<TcpStream> {
    fn try_write_now(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let (socket, session) = self.get_mut();
        if session.writer().write_all(bytes).is_err() {
            return;
        }
        let mut socket = NonBlocking(socket);
        while session.wants_write() {
            if session.write_tls(&mut socket).is_err() {
                return;
            }
        }
    }
}

/// A socket written without waiting: what does not fit now is an error.
struct NonBlocking<'a>(&'a TcpStream);

impl io::Write for NonBlocking<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.try_write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
