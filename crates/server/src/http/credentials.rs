//! Reading a token from a request: `Authorization: Bearer <token>`, `Authorization:
//! Api-Key <token>` (Replex), HTTP Basic with the token as the password (git clone
//! URLs; Flashback's key:secret pair), or `X-API-Key: <token>`.

use std::borrow::Cow;

use std::net::{IpAddr, Ipv4Addr};

use axum::http::header::{AUTHORIZATION, FORWARDED};
use axum::http::{HeaderMap, HeaderName};

use crate::http::header_text;
use smallvec::SmallVec;
use tessera_core::credential::{Presented, parse_authorization};
use tessera_engine::{Credential, Engine, EngineError};

const HOW: &str = "send the token as `Authorization: Bearer <token>`, `Authorization: Api-Key <token>`, \
                   `X-API-Key: <token>`, or HTTP Basic with the token as the password";

/// The header's name as text, for comparing without building a `HeaderName`.
pub const X_API_KEY_NAME: &str = "x-api-key";
pub const X_API_KEY: HeaderName = HeaderName::from_static(X_API_KEY_NAME);

/// How often a header appeared in a request, and its value's bytes if once.
#[derive(Clone, Copy, Default)]
pub enum Seen<'a> {
    #[default]
    Absent,
    Once(&'a [u8]),
    Repeated,
}

impl<'a> Seen<'a> {
    /// Counts one more appearance.
    pub fn add(&mut self, value: &'a [u8]) {
        *self = match self {
            Self::Absent => Self::Once(value),
            _ => Self::Repeated,
        };
    }

    fn in_headers(headers: &'a HeaderMap, name: &HeaderName) -> Self {
        let mut seen = Self::Absent;
        for value in headers.get_all(name) {
            seen.add(value.as_bytes());
        }
        seen
    }
}

/// The headers a credential can come in, as a request sent them, and those that
/// may say who sent it (believed only from a trusted proxy: see [`client_of`]).
#[derive(Clone, Default)]
pub struct CredentialHeaders<'a> {
    pub authorization: Seen<'a>,
    pub api_key: Seen<'a>,
    pub forwarded_for: SmallVec<[&'a str; 2]>,
    pub forwarded: SmallVec<[&'a str; 2]>,
}

impl<'a> CredentialHeaders<'a> {
    /// Notes a header of a request if it can hold a credential or name the client;
    /// false if not. The name may be in any case, as on the wire.
    pub fn note(&mut self, name: &str, value: &'a [u8]) -> bool {
        if name.eq_ignore_ascii_case(AUTHORIZATION.as_str()) {
            self.authorization.add(value);
        } else if name.eq_ignore_ascii_case(X_API_KEY_NAME) {
            self.api_key.add(value);
        } else if name.eq_ignore_ascii_case(X_FORWARDED_FOR) {
            self.forwarded_for.extend(header_text(value));
        } else if name.eq_ignore_ascii_case(FORWARDED.as_str()) {
            self.forwarded.extend(header_text(value));
        } else {
            return false;
        }
        true
    }

    /// The headers of a request already parsed.
    pub fn in_headers(headers: &'a HeaderMap) -> Self {
        let texts = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect()
        };
        Self {
            authorization: Seen::in_headers(headers, &AUTHORIZATION),
            api_key: Seen::in_headers(headers, &X_API_KEY),
            forwarded_for: texts(X_FORWARDED_FOR),
            forwarded: texts(FORWARDED.as_str()),
        }
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address a request is from, by the deployment's one rule (trusted proxies'
/// headers, else the connection's; see `tessera_core::client`). A request whose
/// connection is not known (none comes without one) counts as from 0.0.0.0.
pub fn client_of(engine: &Engine, peer: Option<IpAddr>, found: &CredentialHeaders<'_>) -> IpAddr {
    let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    engine.config().trusted_proxies.client(
        peer,
        found.forwarded_for.iter().copied(),
        found.forwarded.iter().copied(),
    )
}

/// The credential a request presents. Errors never quote the header: it holds a secret.
pub fn from_headers(headers: &HeaderMap) -> Result<Credential<'_>, EngineError> {
    from_found(&CredentialHeaders::in_headers(headers))
}

/// [`from_headers`], for headers already found (forward-auth finds them in the one
/// pass over the call's headers that finds the proxy's).
pub fn from_found<'a>(found: &CredentialHeaders<'a>) -> Result<Credential<'a>, EngineError> {
    let missing = |what: &str| EngineError::MissingCredentials {
        detail: format!("{what}: {HOW}"),
    };
    let single = |seen: Seen<'a>| match seen {
        Seen::Repeated => Err(missing("send one credential, not several")),
        Seen::Once(value) => Ok(Some(value)),
        Seen::Absent => Ok(None),
    };
    let value = match (single(found.authorization)?, single(found.api_key)?) {
        (Some(_), Some(_)) => return Err(missing("send one credential, not several")),
        (None, Some(key)) => {
            let secret = header_text(key)
                .ok_or_else(|| missing("the X-API-Key header is not readable text"))?;
            return Ok(Credential {
                secret: Cow::Borrowed(secret.trim()),
                key_id: None,
            });
        }
        (Some(value), None) => value,
        (None, None) => return Err(missing("no credentials")),
    };
    let value = header_text(value)
        .ok_or_else(|| missing("the Authorization header is not readable text"))?;
    match parse_authorization(value).map_err(|why| missing(&why.to_string()))? {
        Presented::Token(secret) => Ok(Credential {
            secret: Cow::Borrowed(secret),
            key_id: None,
        }),
        Presented::Basic { user, password } => Ok(Credential {
            secret: Cow::Owned(password),
            key_id: (!user.is_empty()).then_some(user),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn every_documented_scheme() {
        assert_eq!(
            from_headers(&headers("Bearer tsr_x")).unwrap().secret,
            "tsr_x"
        );
        assert_eq!(
            from_headers(&headers("Api-Key tsr_x")).unwrap().secret,
            "tsr_x"
        );
        let basic = headers(&format!("Basic {}", STANDARD.encode("tok_1:tsr_x")));
        let basic = from_headers(&basic).unwrap();
        assert_eq!(
            (basic.secret.as_ref(), basic.key_id.as_deref()),
            ("tsr_x", Some("tok_1"))
        );
        assert!(from_headers(&HeaderMap::new()).is_err());
        let mut api_key = HeaderMap::new();
        api_key.insert(X_API_KEY, HeaderValue::from_static("tsr_y"));
        assert_eq!(from_headers(&api_key).unwrap().secret, "tsr_y");
        api_key.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tsr_x"));
        assert!(from_headers(&api_key).is_err());
        let error = from_headers(&headers("Token tsr_secret"))
            .unwrap_err()
            .to_string();
        assert!(!error.contains("tsr_secret"));
    }
}
