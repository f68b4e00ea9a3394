//! Reading the `Authorization` header a token comes in, one way for the server and
//! for the client libraries' guards: `Bearer <token>` and `Api-Key <token>` (Relay,
//! Replex), or HTTP Basic with the token as the password (git clone URLs; a
//! Flashback `key:secret` pair, whose key names the token). Errors never quote the
//! header: it holds a secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A token read from an `Authorization` value.
#[derive(PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Bearer` or `Api-Key`: the token, as sent.
    Token(&'a str),
    /// HTTP Basic: the password is the token; a user name, if any, is a key id.
    Basic { user: String, password: String },
}

/// Why an `Authorization` value holds no token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("the Authorization header has no scheme")]
    NoScheme,
    #[error("the Basic credentials are not valid base64 text")]
    BadBasic,
    #[error("the Basic credentials have no password")]
    NoPassword,
    #[error("unsupported Authorization scheme")]
    UnsupportedScheme,
}

/// Reads an `Authorization` value.
pub fn parse_authorization(value: &str) -> Result<Presented<'_>, Unreadable> {
    let (scheme, rest) = value.trim().split_once(' ').ok_or(Unreadable::NoScheme)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("api-key") {
        return Ok(Presented::Token(rest));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Unreadable::BadBasic)?;
        let (user, password) = decoded.split_once(':').ok_or(Unreadable::NoPassword)?;
        return Ok(Presented::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    Err(Unreadable::UnsupportedScheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_reads_and_the_rest_is_named() {
        assert!(matches!(
            parse_authorization("Bearer tsr_a"),
            Ok(Presented::Token("tsr_a"))
        ));
        assert!(matches!(
            parse_authorization("  api-key  tsr_a "),
            Ok(Presented::Token("tsr_a"))
        ));
        let basic = format!("Basic {}", STANDARD.encode("tok_1:tsr_a"));
        assert!(matches!(
            parse_authorization(&basic),
            Ok(Presented::Basic { user, password }) if user == "tok_1" && password == "tsr_a"
        ));
        assert!(matches!(
            parse_authorization("tsr_a"),
            Err(Unreadable::NoScheme)
        ));
        assert!(matches!(
            parse_authorization("Basic !!"),
            Err(Unreadable::BadBasic)
        ));
        let no_colon = format!("Basic {}", STANDARD.encode("tsr_a"));
        assert!(matches!(
            parse_authorization(&no_colon),
            Err(Unreadable::NoPassword)
        ));
        assert!(matches!(
            parse_authorization("Digest x"),
            Err(Unreadable::UnsupportedScheme)
        ));
    }
}
