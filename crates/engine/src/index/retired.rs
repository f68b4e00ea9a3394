//! The secrets tokens had before their rotations: a presented text that finds no
//! token is looked up here, off the hot path (only a miss comes here), to tell a
//! secret still in its grace period (it works) from one past it (a sign of theft).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use compact_str::CompactString;
use parking_lot::RwLock;
use tessera_core::record::PreviousSecret;
use tessera_core::token::TokenHash;

use super::slot::{IndexedHash, indexed};

/// A retired secret: whose it was, and until when it works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetiredSecret {
    pub token_id: CompactString,
    pub valid_until: i64,
}

#[derive(Default)]
struct Tables {
    by_hash: HashMap<IndexedHash, RetiredSecret>,
    /// Each rotated token's retired hashes, to replace them all at its next write.
    by_token: HashMap<CompactString, Vec<IndexedHash>>,
}

/// The table, and whether it holds anything: a deployment that never rotates pays
/// one atomic load on a miss, not a lock.
#[derive(Default)]
pub struct Retired {
    tables: RwLock<Tables>,
    any: AtomicBool,
}

impl Retired {
    /// Makes `previous` the retired secrets of `token_id` (a token's every write
    /// carries them all).
    pub fn replace(&self, token_id: &str, previous: &[PreviousSecret]) {
        if previous.is_empty()
            && (!self.any.load(Ordering::Acquire)
                || !self.tables.read().by_token.contains_key(token_id))
        {
            return;
        }
        let mut tables = self.tables.write();
        if let Some(hashes) = tables.by_token.remove(token_id) {
            for hash in hashes {
                tables.by_hash.remove(&hash);
            }
        }
        if previous.is_empty() {
            return;
        }
        let id = CompactString::new(token_id);
        let hashes: Vec<IndexedHash> = previous
            .iter()
            .map(|secret| indexed(&secret.hash))
            .collect();
        for (hash, secret) in hashes.iter().zip(previous) {
            tables.by_hash.insert(
                *hash,
                RetiredSecret {
                    token_id: id.clone(),
                    valid_until: secret.valid_until,
                },
            );
        }
        tables.by_token.insert(id, hashes);
        self.any.store(true, Ordering::Release);
    }

    pub fn find(&self, hash: &TokenHash) -> Option<RetiredSecret> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.tables.read().by_hash.get(&indexed(hash)).cloned()
    }
}
