//! The local verification's first step: the presented text parsed, hashed and
//! looked up, free of I/O.

use tessera_core::token::{Pepper, Presented, TokenHash, TokenHasher, TokenPrefix};

use super::TokenIndex;
use super::slot::SlotRef;

/// The whole local verification: parse the presented text, hash it, look it up and
/// decide. Synchronous and free of I/O, so the benchmarks measure exactly what a
/// request pays.
pub struct Verifier {
    prefix: TokenPrefix,
    hasher: TokenHasher,
    index: TokenIndex,
}

impl Verifier {
    pub fn new(prefix: TokenPrefix, pepper: &Pepper, index: TokenIndex) -> Self {
        Self {
            prefix,
            hasher: TokenHasher::new(pepper),
            index,
        }
    }

    pub fn index(&self) -> &TokenIndex {
        &self.index
    }

    pub fn hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    pub fn prefix(&self) -> &TokenPrefix {
        &self.prefix
    }

    /// The token `secret` is, if it exists. Malformed text and a bad checksum find
    /// nothing without hashing.
    pub fn find(&self, secret: &str) -> Option<SlotRef> {
        self.index.by_hash(&self.hash_of(secret)?)
    }

    /// The keyed hash of `secret`, if it is a well-formed token of this deployment.
    pub fn hash_of(&self, secret: &str) -> Option<TokenHash> {
        let token = Presented::parse(&self.prefix, secret)?;
        Some(self.hasher.hash_presented(token))
    }
}
