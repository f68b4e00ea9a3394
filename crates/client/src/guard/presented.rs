//! The token a request presents, read as tessera reads it: `Authorization: Bearer
//! <token>` or `Api-Key <token>`, `X-API-Key: <token>`, or HTTP Basic with the token
//! as the password (git clone URLs; a Flashback `key:secret` pair).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use tessera_core::credential::{Presented, parse_authorization};

/// The token in `headers`, if exactly one way of sending it is used and it reads.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(AUTHORIZATION) {
        let text = value.to_str().ok()?;
        found = one_more(found, from_authorization(text)?)?;
    }
    for value in headers.get_all("x-api-key") {
        let text = value.to_str().ok()?.trim();
        found = one_more(found, (!text.is_empty()).then(|| text.to_owned())?)?;
    }
    found
}

/// Two credentials in one request are refused: which one would be judged?
fn one_more(found: Option<String>, next: String) -> Option<Option<String>> {
    match found {
        None => Some(Some(next)),
        Some(_) => None,
    }
}

/// The token in an `Authorization` value, read as tessera reads it; an empty one
/// is none.
fn from_authorization(value: &str) -> Option<String> {
    let token = match parse_authorization(value).ok()? {
        Presented::Token(token) => token.to_owned(),
        Presented::Basic { password, .. } => password,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(fields: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn each_way_of_presenting_a_token_reads_and_two_at_once_do_not() {
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "git:tsr_x")
        );
        for fields in [
            vec![("authorization", "Bearer tsr_x")],
            vec![("authorization", "api-key tsr_x")],
            vec![("x-api-key", "tsr_x")],
            vec![("authorization", basic.as_str())],
        ] {
            assert_eq!(super::token(&headers(&fields)).as_deref(), Some("tsr_x"));
        }
        for fields in [
            vec![],
            vec![("authorization", "Bearer")],
            vec![("authorization", "Digest tsr_x")],
            vec![("authorization", "Bearer tsr_x"), ("x-api-key", "tsr_y")],
        ] {
            assert_eq!(super::token(&headers(&fields)), None, "{fields:?}");
        }
    }
}
