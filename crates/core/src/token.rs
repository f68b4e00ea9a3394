//! The token's text format, its generation and its keyed hash.
//!
//! A token reads `<prefix>_<30 random base62><6 base62 CRC32 of the random part>`.
//! The checksum lets us reject typos and random guesses before any lookup, and lets
//! secret scanners recognise a tessera token without asking the server.
//!
//! Only [`TokenHash`] (HMAC-SHA-256 under the server's pepper) is ever stored. The
//! text lives in [`SecretToken`], whose `Debug` is redacted so a stray `{:?}` in a
//! log line or a panic message cannot leak it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::base62;

/// Random characters in a token: 30 base62 chars carry about 178 bits of entropy.
pub const RANDOM_LEN: usize = 30;
/// Characters of the checksum: 62^6 > 2^32, so any CRC32 fits.
pub const CHECKSUM_LEN: usize = 6;
/// Characters of a token's `start`, shown in listings for recognition.
pub const START_LEN: usize = 4;

/// A deployment's token prefix: 1 to 16 of `[a-z0-9]` (`tsr` by default, `rly` for Relay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPrefix(String);

impl TokenPrefix {
    pub fn new(prefix: &str) -> Result<Self, String> {
        let ok = (1..=16).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(prefix.to_owned()))
        } else {
            Err(format!(
                "token prefix {prefix:?} must be 1 to 16 characters of a-z and 0-9"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TokenPrefix {
    fn default() -> Self {
        Self("tsr".to_owned())
    }
}

/// A token's secret text. Shown to its creator once; never logged, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// Draws a fresh token from the OS CSPRNG.
    pub fn generate(prefix: &TokenPrefix) -> Self {
        let random = base62::random_string(RANDOM_LEN);
        let checksum =
            base62::encode_fixed(u64::from(crc32fast::hash(random.as_bytes())), CHECKSUM_LEN);
        Self(format!("{}_{random}{checksum}", prefix.as_str()))
    }

    /// Accepts `text` only if it has the deployment's prefix, the right length and
    /// alphabet, and a matching checksum (see [`Presented::parse`]).
    pub fn parse(prefix: &TokenPrefix, text: &str) -> Option<Self> {
        Presented::parse(prefix, text).map(|presented| Self(presented.0.to_owned()))
    }

    /// The token's text, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The prefix and first characters of the random part, e.g. `tsr_a1B2`: enough
    /// for a person to recognise a token, far too little to guess it.
    pub fn start(&self) -> String {
        let underscore = self.0.find('_').unwrap_or(0);
        self.0.chars().take(underscore + 1 + START_LEN).collect()
    }
}

/// A token's text as a request presents it, once its shape and checksum are right:
/// worth hashing and looking up. Borrowed, so checking a request allocates nothing.
#[derive(Clone, Copy)]
pub struct Presented<'a>(&'a str);

impl<'a> Presented<'a> {
    /// Accepts `text` only if it has the deployment's prefix, the right length and
    /// alphabet, and a matching checksum. Costs well under a hundred nanoseconds and
    /// no lookup, so typos and random guesses never reach the index.
    pub fn parse(prefix: &TokenPrefix, text: &'a str) -> Option<Self> {
        let body = text.strip_prefix(prefix.as_str())?.strip_prefix('_')?;
        if body.len() != RANDOM_LEN + CHECKSUM_LEN || !base62::all_digits(body.as_bytes()) {
            return None;
        }
        let (random, checksum) = body.split_at(RANDOM_LEN);
        let expected = u64::from(crc32fast::hash(random.as_bytes()));
        (base62::decode(checksum) == Some(expected)).then_some(Self(text))
    }
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presented(<redacted>)")
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// HMAC-SHA-256 of a token under the server's pepper. What the store and the index key on.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl PartialEq for TokenHash {
    /// Constant time, so comparing against a stored hash leaks nothing through timing.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// The server-side secret that keys token hashes. At least 32 bytes.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl Pepper {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "the pepper must be at least {} bytes",
                Self::MIN_LEN
            ));
        }
        Ok(Self(bytes))
    }

    /// A pepper given as text (the config file, the environment): its bytes key
    /// the hashes.
    pub fn from_text(text: &str) -> Result<Self, String> {
        Self::new(text.as_bytes().to_vec())
    }

    /// A fresh 32-byte pepper from the OS CSPRNG, for `tessera init`.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        crate::random::fill(&mut bytes);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A short public fingerprint of the pepper, so nodes can check they share one
    /// without revealing it.
    pub fn fingerprint(&self) -> String {
        let hasher = TokenHasher::new(self);
        let digest = hasher.hash_text("tessera pepper fingerprint");
        hex::encode(&digest.0[..8])
    }
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// Computes token hashes. Keeps the HMAC already keyed so each hash skips the key setup.
#[derive(Clone)]
pub struct TokenHasher {
    keyed: Hmac<Sha256>,
}

impl TokenHasher {
    #[expect(clippy::unreachable, reason = "HMAC accepts keys of any length")]
    pub fn new(pepper: &Pepper) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(pepper.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self { keyed }
    }

    pub fn hash(&self, token: &SecretToken) -> TokenHash {
        self.hash_text(token.expose())
    }

    /// The hash of a presented token, without copying its text.
    pub fn hash_presented(&self, token: Presented<'_>) -> TokenHash {
        self.hash_text(token.0)
    }

    fn hash_text(&self, text: &str) -> TokenHash {
        let mut mac = self.keyed.clone();
        mac.update(text.as_bytes());
        TokenHash(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefix() -> TokenPrefix {
        TokenPrefix::default()
    }

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let token = SecretToken::generate(&TokenPrefix::new("rly").unwrap());
        let text = token.expose();
        assert!(text.starts_with("rly_"));
        assert_eq!(text.len(), 4 + RANDOM_LEN + CHECKSUM_LEN);
        assert!(text[4..].bytes().all(base62::is_digit));
        assert_eq!(token.start(), text[..8]);
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(
            SecretToken::generate(&prefix()),
            SecretToken::generate(&prefix())
        );
    }

    #[test]
    fn prefix_rules() {
        assert!(TokenPrefix::new("rly").is_ok());
        assert!(TokenPrefix::new("abcdefghij012345").is_ok());
        for bad in ["", "RLY", "r_y", "abcdefghij0123456", "rly-"] {
            assert!(TokenPrefix::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_prefixes_are_rejected() {
        let token = SecretToken::generate(&TokenPrefix::new("rly").unwrap());
        assert!(SecretToken::parse(&prefix(), token.expose()).is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = SecretToken::generate(&prefix());
        assert!(!format!("{token:?}").contains(&token.expose()[4..]));
        assert_eq!(format!("{:?}", Pepper::generate()), "Pepper(<redacted>)");
    }

    #[test]
    fn hashes_depend_on_the_pepper() {
        let token = SecretToken::generate(&prefix());
        let a = TokenHasher::new(&Pepper::generate()).hash(&token);
        let b = TokenHasher::new(&Pepper::generate()).hash(&token);
        assert_ne!(a, b);
        let pepper = Pepper::generate();
        assert_eq!(
            TokenHasher::new(&pepper).hash(&token),
            TokenHasher::new(&pepper).hash(&token)
        );
    }

    #[test]
    fn short_peppers_are_refused() {
        assert!(Pepper::new(vec![1; 31]).is_err());
        assert!(Pepper::new(vec![1; 32]).is_ok());
    }

    proptest! {
        #[test]
        fn every_generated_token_parses(_seed in 0u8..=255) {
            let token = SecretToken::generate(&prefix());
            prop_assert_eq!(SecretToken::parse(&prefix(), token.expose()), Some(token));
        }

        #[test]
        fn any_single_character_change_is_caught(position in 4usize..40, replacement in "[0-9A-Za-z]") {
            let token = SecretToken::generate(&prefix());
            let mut text: Vec<char> = token.expose().chars().collect();
            let new = replacement.chars().next().unwrap();
            prop_assume!(text[position] != new);
            text[position] = new;
            let text: String = text.into_iter().collect();
            // CRC32 detects every single-symbol error in the random part; a changed
            // checksum character no longer matches the random part.
            prop_assert!(SecretToken::parse(&prefix(), &text).is_none());
        }

        #[test]
        fn arbitrary_strings_never_panic_and_rarely_parse(text in ".{0,64}") {
            if let Some(token) = SecretToken::parse(&prefix(), &text) {
                prop_assert_eq!(token.expose(), text.as_str());
            }
        }
    }
}
