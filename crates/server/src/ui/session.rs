//! Web UI sessions.
//!
//! Signing in exchanges a token for a session: a random id in an HttpOnly,
//! SameSite=Strict cookie. The server keeps, per session, the id of the token it was
//! opened with (never the token's text), a CSRF secret for its forms, and when it was
//! last used. Only a SHA-256 of the cookie's value is kept, as for tokens: a copy of
//! this map would open no session. Sessions live in this node's memory; a restart
//! signs everyone out, which is the safe direction to fail.

use std::collections::HashMap;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tessera_core::base62;
use tessera_core::token::SecretToken;

/// A session ends this long after it was opened, however busy.
pub const MAX_AGE_MS: i64 = 12 * 60 * 60 * 1000;
/// At most this many sessions are kept; past it, the least recently used goes.
const MAX_SESSIONS: usize = 10_000;
/// At most this many sessions per token, so that one token signing in again and
/// again pushes out only its own sessions.
const MAX_SESSIONS_PER_TOKEN: usize = 20;

/// The length of a [`random_secret`]: 43 base62 characters, 256 bits.
pub const SECRET_LEN: usize = 43;

/// A random secret from the OS CSPRNG: session ids and CSRF secrets.
pub fn random_secret() -> String {
    base62::random_string(SECRET_LEN)
}

type SessionKey = [u8; 32];

fn key_of(cookie: &str) -> SessionKey {
    Sha256::digest(cookie.as_bytes()).into()
}

struct Session {
    token_id: String,
    csrf: String,
    opened_ms: i64,
    last_seen_ms: i64,
    /// A token just created, whose text the next page shows once.
    reveal: Option<(String, SecretToken)>,
    /// A one-line message for the next page ("Token revoked").
    flash: Option<String>,
}

/// What a request learns of its live session.
pub struct Current {
    pub cookie: String,
    pub token_id: String,
    pub csrf: String,
}

/// Why there is no live session, for the sign-in page to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No cookie, or one the server does not know.
    None,
    /// Idle too long, or older than [`MAX_AGE_MS`].
    Expired,
}

pub struct Sessions {
    by_key: Mutex<HashMap<SessionKey, Session>>,
    idle_ms: i64,
}

impl Sessions {
    pub fn new(idle_ms: i64) -> Self {
        Self {
            by_key: Mutex::new(HashMap::new()),
            idle_ms,
        }
    }

    fn alive(&self, session: &Session, now_ms: i64) -> bool {
        now_ms - session.last_seen_ms < self.idle_ms && now_ms - session.opened_ms < MAX_AGE_MS
    }

    /// Opens a session for `token_id`; returns the cookie's value. Always a fresh id,
    /// so a session id planted before sign-in is worth nothing after it.
    pub fn open(&self, token_id: &str, now_ms: i64) -> String {
        let cookie = random_secret();
        let mut sessions = self.by_key.lock();
        sessions.retain(|_, session| self.alive(session, now_ms));
        let least_recent = |sessions: &HashMap<SessionKey, Session>, same_token: bool| {
            sessions
                .iter()
                .filter(|(_, s)| !same_token || s.token_id == token_id)
                .min_by_key(|(_, s)| s.last_seen_ms)
                .map(|(key, _)| *key)
        };
        let of_token = sessions.values().filter(|s| s.token_id == token_id).count();
        let evict = if of_token >= MAX_SESSIONS_PER_TOKEN {
            least_recent(&sessions, true)
        } else if sessions.len() >= MAX_SESSIONS {
            least_recent(&sessions, false)
        } else {
            None
        };
        if let Some(key) = evict {
            sessions.remove(&key);
        }
        sessions.insert(
            key_of(&cookie),
            Session {
                token_id: token_id.to_owned(),
                csrf: random_secret(),
                opened_ms: now_ms,
                last_seen_ms: now_ms,
                reveal: None,
                flash: None,
            },
        );
        cookie
    }

    /// The live session behind `cookie`, marked as used now.
    pub fn resume(&self, cookie: &str, now_ms: i64) -> Result<Current, Missing> {
        let key = key_of(cookie);
        let mut sessions = self.by_key.lock();
        let Some(session) = sessions.get_mut(&key) else {
            return Err(Missing::None);
        };
        if !self.alive(session, now_ms) {
            sessions.remove(&key);
            return Err(Missing::Expired);
        }
        session.last_seen_ms = now_ms;
        Ok(Current {
            cookie: cookie.to_owned(),
            token_id: session.token_id.clone(),
            csrf: session.csrf.clone(),
        })
    }

    pub fn end(&self, cookie: &str) {
        self.by_key.lock().remove(&key_of(cookie));
    }

    fn with<T>(&self, cookie: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.by_key.lock().get_mut(&key_of(cookie)).map(f)
    }

    /// Keeps a created token's text for the one page that shows it.
    pub fn keep_for_reveal(&self, cookie: &str, token_id: &str, secret: SecretToken) {
        self.with(cookie, |s| s.reveal = Some((token_id.to_owned(), secret)));
    }

    /// The created token's text, once: taking it forgets it.
    pub fn take_reveal(&self, cookie: &str, token_id: &str) -> Option<SecretToken> {
        self.with(cookie, |s| match s.reveal.take() {
            Some((id, secret)) if id == token_id => Some(secret),
            other => {
                s.reveal = other;
                None
            }
        })
        .flatten()
    }

    pub fn set_flash(&self, cookie: &str, message: String) {
        self.with(cookie, |s| s.flash = Some(message));
    }

    pub fn take_flash(&self, cookie: &str) -> Option<String> {
        self.with(cookie, |s| s.flash.take()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: i64 = 30 * 60 * 1000;

    #[test]
    fn a_session_lives_while_used_and_ends_when_idle() {
        let sessions = Sessions::new(IDLE);
        let cookie = sessions.open("tok_a", 0);
        assert!(sessions.resume(&cookie, IDLE - 1).is_ok());
        // Used at IDLE - 1: alive until 2 * IDLE - 1.
        assert!(sessions.resume(&cookie, 2 * IDLE - 2).is_ok());
        assert_eq!(
            sessions.resume(&cookie, 3 * IDLE).err(),
            Some(Missing::Expired)
        );
        assert_eq!(
            sessions.resume(&cookie, 3 * IDLE).err(),
            Some(Missing::None)
        );
    }

    #[test]
    fn a_busy_session_still_ends_at_its_maximum_age() {
        let sessions = Sessions::new(IDLE);
        let cookie = sessions.open("tok_a", 0);
        let mut now = 0;
        while now + IDLE / 2 < MAX_AGE_MS {
            now += IDLE / 2;
            assert!(sessions.resume(&cookie, now).is_ok());
        }
        assert!(sessions.resume(&cookie, MAX_AGE_MS).is_err());
    }

    #[test]
    fn one_token_signing_in_again_and_again_pushes_out_only_its_own_sessions() {
        let sessions = Sessions::new(IDLE);
        let other = sessions.open("tok_other", 0);
        let first = sessions.open("tok_a", 1);
        for now in 2..(2 + MAX_SESSIONS_PER_TOKEN as i64) {
            assert_eq!(random_secret().len(), SECRET_LEN);
            sessions.open("tok_a", now);
        }
        assert!(sessions.resume(&first, 100).is_err(), "the oldest went");
        assert!(sessions.resume(&other, 100).is_ok());
    }

    #[test]
    fn unknown_and_ended_cookies_open_nothing() {
        let sessions = Sessions::new(IDLE);
        let cookie = sessions.open("tok_a", 0);
        assert!(sessions.resume("made-up", 1).is_err());
        sessions.end(&cookie);
        assert!(sessions.resume(&cookie, 1).is_err());
    }

    #[test]
    fn a_created_token_is_revealed_once_and_only_for_its_own_page() {
        let sessions = Sessions::new(IDLE);
        let cookie = sessions.open("tok_a", 0);
        let secret = SecretToken::generate(&Default::default());
        sessions.keep_for_reveal(&cookie, "tok_new", secret.clone());
        assert!(sessions.take_reveal(&cookie, "tok_other").is_none());
        assert!(sessions.take_reveal(&cookie, "tok_new") == Some(secret));
        assert!(sessions.take_reveal(&cookie, "tok_new").is_none());
    }
}
