//! The token codec: any text a request presents as a token, under any prefix a
//! deployment may configure. A text accepted must carry that prefix, and generated
//! tokens must always be accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::token::{Pepper, Presented, SecretToken, TokenHasher, TokenPrefix};

fuzz_target!(|input: (&str, &str)| {
    let (prefix, text) = input;
    let prefix = TokenPrefix::new(prefix).unwrap_or_default();
    if let Some(presented) = Presented::parse(&prefix, text) {
        assert!(text.starts_with(prefix.as_str()));
        let hasher = TokenHasher::new(&Pepper::new(vec![7; 32]).unwrap());
        let secret = SecretToken::parse(&prefix, text).unwrap();
        assert_eq!(hasher.hash_presented(presented), hasher.hash(&secret));
        assert!(text.starts_with(&secret.start()));
    }
    let made = SecretToken::generate(&prefix);
    assert!(Presented::parse(&prefix, made.expose()).is_some());
});
