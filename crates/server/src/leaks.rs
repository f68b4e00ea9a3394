//! Who may report leaked tokens to `POST /v1/leaks`: GitHub's secret-scanning
//! partner program signs each report with an ECDSA P-256 key it names
//! (`Github-Public-Key-Identifier`) and sends the base64 DER signature of the raw body
//! (`Github-Public-Key-Signature`). The keys are configured (`[[leak_report_key]]`);
//! a report not signed is refused unless `leak_reports_unsigned = "accept"`, or
//! unless it comes with a token that has `tokens:manage` (`tessera scan --report`).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine as _;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

/// `[[leak_report_key]]` as the config file writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakKeyFile {
    /// The identifier the reporter names the key by.
    pub id: String,
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub key: String,
}

/// What to do with a report that carries no signature.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnsignedLeaks {
    /// Refuse it (401), unless a token with `tokens:manage` comes with it.
    #[default]
    Refuse,
    /// Take it: anyone who holds a token may give it up anyway (RFC 7009).
    Accept,
}

/// The configured reporters' keys, parsed at start.
#[derive(Clone, Debug, Default)]
pub struct LeakReporters {
    keys: Vec<(String, ParsedPublicKey)>,
    pub unsigned: UnsignedLeaks,
}

/// Why a signed report is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BadSignature {
    UnknownKey,
    NotBase64,
    Mismatch,
}

impl BadSignature {
    pub fn detail(&self) -> &'static str {
        match self {
            BadSignature::UnknownKey => {
                "Github-Public-Key-Identifier names no configured [[leak_report_key]]"
            }
            BadSignature::NotBase64 => "Github-Public-Key-Signature is not base64",
            BadSignature::Mismatch => {
                "Github-Public-Key-Signature is not the named key's ECDSA-SHA256 signature of \
                 this body: send the body exactly as signed"
            }
        }
    }
}

impl LeakReporters {
    /// Parses each key: a P-256 public key, PEM.
    pub fn parse(keys: &[LeakKeyFile], unsigned: UnsignedLeaks) -> Result<Self, String> {
        let keys = keys
            .iter()
            .map(|file| {
                let bad = |why: String| format!("[[leak_report_key]] {:?}: {why}", file.id);
                let der = SubjectPublicKeyInfoDer::from_pem_slice(file.key.as_bytes())
                    .map_err(|e| bad(format!("key is not a PEM public key: {e}")))?;
                let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der.as_ref())
                    .map_err(|_| bad("key is not an ECDSA P-256 public key".into()))?;
                Ok((file.id.clone(), key))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { keys, unsigned })
    }

    /// Checks `signature` (base64 DER) of `body` under the key named `key_id`.
    pub fn verify(&self, key_id: &str, signature: &str, body: &[u8]) -> Result<(), BadSignature> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or(BadSignature::UnknownKey)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| BadSignature::NotBase64)?;
        key.verify_sig(body, &signature)
            .map_err(|_| BadSignature::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    /// A key pair and its public key as GitHub publishes one.
    pub fn signer() -> (EcdsaKeyPair, String) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("a key");
        let der = pair.public_key().as_der().expect("DER");
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        (pair, pem)
    }

    #[test]
    fn only_the_named_keys_signature_of_the_very_body_passes() {
        let (pair, pem) = signer();
        let reporters = LeakReporters::parse(
            &[LeakKeyFile {
                id: "k1".into(),
                key: pem,
            }],
            UnsignedLeaks::Refuse,
        )
        .expect("a key");
        let body = br#"[{"token":"tsr_x","type":"tessera_token"}]"#;
        let signature = pair.sign(&SystemRandom::new(), body).expect("signed");
        let signature = base64::engine::general_purpose::STANDARD.encode(signature.as_ref());
        assert_eq!(reporters.verify("k1", &signature, body), Ok(()));
        assert_eq!(
            reporters.verify("k1", &signature, b"[]"),
            Err(BadSignature::Mismatch)
        );
        assert_eq!(
            reporters.verify("k2", &signature, body),
            Err(BadSignature::UnknownKey)
        );
        assert_eq!(
            reporters.verify("k1", "not base64!", body),
            Err(BadSignature::NotBase64)
        );
        let (other, _) = signer();
        let forged = other.sign(&SystemRandom::new(), body).expect("signed");
        let forged = base64::engine::general_purpose::STANDARD.encode(forged.as_ref());
        assert_eq!(
            reporters.verify("k1", &forged, body),
            Err(BadSignature::Mismatch)
        );
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused_at_start() {
        let refused = LeakReporters::parse(
            &[LeakKeyFile {
                id: "k".into(),
                key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
            }],
            UnsignedLeaks::Refuse,
        );
        assert!(refused.is_err());
    }
}
