//! A certificate authority made in the test, and certificates it signs for the
//! loopback servers (tessera's listeners, PostgreSQL, Redis, an https upstream).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA whose certificate is written as `ca.pem` in its own temporary directory.
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    issued: std::cell::Cell<u32>,
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        let dir = tempfile::Builder::new()
            .prefix("tessera-ca-")
            .tempdir()
            .expect("a temp dir");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("ca.pem");
        Self {
            dir,
            issuer,
            issued: std::cell::Cell::new(0),
        }
    }

    /// The CA's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `localhost` and 127.0.0.1, signed by this CA, written
    /// under a fresh name.
    pub fn issue(&self) -> Issued {
        let serial = self.issued.get() + 1;
        self.issued.set(serial);
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("tessera test server {serial}"));
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        let issued = Issued {
            cert: self.dir.path().join(format!("server-{serial}.pem")),
            key: self.dir.path().join(format!("server-{serial}.key")),
        };
        std::fs::write(&issued.cert, cert.pem()).expect("the certificate file");
        std::fs::write(&issued.key, key.serialize_pem()).expect("the key file");
        issued
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
