//! The audit log's entries and their hash chain: what an entry says, how it is
//! linked to the one before, and how a chain read back is checked.
//!
//! Each entry's hash is SHA-256 over a domain label, the previous entry's hash and
//! the entry's own content, so an entry edited, deleted or moved in the database
//! breaks the chain where it happened. The position (`seq`) is not hashed: order
//! is proven by the links, which lets [`ChainWalk`] tell an edited entry (its own
//! hash no longer matches) from one moved or cut out (its hash matches, its link
//! does not).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::record::Settings;
use crate::timefmt::format_rfc3339;

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The link of the first entry: no entry came before it.
pub const GENESIS: Digest32 = [0; 32];

/// Separates this hash from any other SHA-256 use, and names the encoding.
pub const DOMAIN: &[u8] = b"tessera-audit-v1\0";

/// What happened. Named as the webhook events that announce the same things.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    TokenCreated,
    TokenUpdated,
    TokenRotated,
    TokenRevoked,
    /// A live token was reported leaked (revoked or only flagged, per `leak_action`).
    TokenLeaked,
    /// A rotated secret was presented after its grace period ended.
    TokenReuseDetected,
    /// 30, 7 or 1 days before a token expires, and when it has (recorded only
    /// while a webhook endpoint subscribes to them: they are the clock's doing).
    TokenExpiring,
    TokenExpired,
    /// A capped token ran out of uses or credits (recorded as the expiries).
    TokenUsageExhausted,
    /// A webhook endpoint was added, changed or removed.
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    /// The deployment's first admin token was made.
    AdminCreated,
    /// `tessera admin reset-token` replaced the admin token.
    AdminReset,
    /// A web UI session opened or closed.
    SessionSignedIn,
    SessionSignedOut,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::TokenCreated,
        Action::TokenUpdated,
        Action::TokenRotated,
        Action::TokenRevoked,
        Action::TokenLeaked,
        Action::TokenReuseDetected,
        Action::TokenExpiring,
        Action::TokenExpired,
        Action::TokenUsageExhausted,
        Action::WebhookCreated,
        Action::WebhookUpdated,
        Action::WebhookDeleted,
        Action::AdminCreated,
        Action::AdminReset,
        Action::SessionSignedIn,
        Action::SessionSignedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::TokenCreated => "token.created",
            Action::TokenUpdated => "token.updated",
            Action::TokenRotated => "token.rotated",
            Action::TokenRevoked => "token.revoked",
            Action::TokenLeaked => "token.leaked",
            Action::TokenReuseDetected => "token.reuse_detected",
            Action::TokenExpiring => "token.expiring",
            Action::TokenExpired => "token.expired",
            Action::TokenUsageExhausted => "token.usage_exhausted",
            Action::WebhookCreated => "webhook.created",
            Action::WebhookUpdated => "webhook.updated",
            Action::WebhookDeleted => "webhook.deleted",
            Action::AdminCreated => "admin.created",
            Action::AdminReset => "admin.reset",
            Action::SessionSignedIn => "session.signed_in",
            Action::SessionSignedOut => "session.signed_out",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }
}

/// One thing that happened, as the engine describes it and the store keeps it.
/// Never holds a token's secret: `details` is built from settings and ids only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When, in milliseconds since 1970.
    pub at: i64,
    /// Kept as text: an entry written by a newer tessera still reads (and checks).
    pub action: String,
    /// The token that acted; `None` for tessera itself (start-up, the CLI, a signed
    /// leak report, reuse detection).
    pub actor_id: Option<String>,
    /// The actor's name then, or what acted when no token did.
    pub actor_name: Option<String>,
    /// The token acted on.
    pub target_id: Option<String>,
    /// The target's makers, the admin token's children first, then the target
    /// itself: a manager sees the entries whose lineage names it.
    pub lineage: Vec<String>,
    /// The change feed's number of the write this entry records, filled by the store.
    pub change_seq: Option<i64>,
    /// The end client's address, as tessera decided it (`trusted_proxies`).
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// JSON text: `before` and `after` for edits, the reason and source for others.
    pub details: String,
    /// The tokens a revocation took down with the target, filled by the store.
    pub cascade: Vec<String>,
}

impl Event {
    /// An event with nothing but its time and action; fill in the rest by name.
    pub fn new(at: i64, action: Action) -> Self {
        Self {
            at,
            action: action.as_str().to_owned(),
            actor_id: None,
            actor_name: None,
            target_id: None,
            lineage: Vec::new(),
            change_seq: None,
            client_ip: None,
            request_id: None,
            details: "{}".to_owned(),
            cascade: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: &Map<String, Value>) -> Self {
        self.details = Value::Object(details.clone()).to_string();
        self
    }

    /// The bytes hashed for this event: every field, length-prefixed, in a fixed
    /// order, so that no two different events encode the same.
    fn encode(&self, out: &mut Vec<u8>) {
        let StoreFilled { before, after } = self.encoding_around_store_fields();
        out.extend_from_slice(&before);
        field(
            out,
            self.change_seq
                .map(i64::to_be_bytes)
                .as_ref()
                .map(|b| &b[..]),
        );
        out.extend_from_slice(&after);
        list(out, &self.cascade);
    }

    /// This event's encoding around the two fields only the store knows, for a
    /// store that completes and hashes the entry in the transaction that numbers
    /// its write (PostgreSQL: the feed's lock is then held for the database's own
    /// work only, not for a round trip to the node). One function for both, so the
    /// two encodings cannot drift apart.
    pub fn encoding_around_store_fields(&self) -> StoreFilled {
        fn text(value: &Option<String>) -> Option<&[u8]> {
            value.as_deref().map(str::as_bytes)
        }
        let mut before = Vec::with_capacity(128);
        field(&mut before, Some(&self.at.to_be_bytes()));
        field(&mut before, Some(self.action.as_bytes()));
        field(&mut before, text(&self.actor_id));
        field(&mut before, text(&self.actor_name));
        field(&mut before, text(&self.target_id));
        list(&mut before, &self.lineage);
        let mut after = Vec::with_capacity(64 + self.details.len());
        field(&mut after, text(&self.client_ip));
        field(&mut after, text(&self.request_id));
        field(&mut after, Some(self.details.as_bytes()));
        StoreFilled { before, after }
    }

    /// This event's hash when it follows an entry whose hash is `previous`.
    pub fn link(&self, previous: &Digest32) -> Digest32 {
        let mut bytes = Vec::with_capacity(256 + self.details.len());
        bytes.extend_from_slice(DOMAIN);
        bytes.extend_from_slice(previous);
        self.encode(&mut bytes);
        Sha256::digest(&bytes).into()
    }
}

/// An event's encoding without its change number and cascade (see
/// [`Event::encoding_around_store_fields`]). The whole encoding is `before`, the
/// change number as a present field (`1`, its length 8 and its 8 bytes, all
/// big-endian), `after`, then the cascade as a list (its length in 8 bytes, then
/// each id as a present field); the hash is SHA-256 over [`DOMAIN`], the previous
/// hash and that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFilled {
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// A field of the encoding: `0` when absent; `1`, the length in 8 bytes
/// (big-endian) and the bytes when present.
fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(bytes) => {
            out.push(1);
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

/// A list of the encoding: its length in 8 bytes, then each item as a field.
fn list(out: &mut Vec<u8>, items: &[String]) {
    out.extend_from_slice(&(items.len() as u64).to_be_bytes());
    for item in items {
        field(out, Some(item.as_bytes()));
    }
}

/// An event in its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1 for the first entry, then one more each time.
    pub seq: i64,
    pub event: Event,
    pub previous_hash: Digest32,
    pub hash: Digest32,
}

/// The newest entry of a chain: where the next one links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// 0 for an empty chain.
    pub seq: i64,
    pub hash: Digest32,
}

impl Head {
    /// Places `events` after this head, in order, and moves the head to the last.
    pub fn append(&mut self, events: impl IntoIterator<Item = Event>) -> Vec<Entry> {
        events
            .into_iter()
            .map(|event| {
                let hash = event.link(&self.hash);
                let entry = Entry {
                    seq: self.seq + 1,
                    event,
                    previous_hash: self.hash,
                    hash,
                };
                *self = Head {
                    seq: entry.seq,
                    hash,
                };
                entry
            })
            .collect()
    }
}

/// Where and how a chain read back is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("entry {seq} is missing: it was deleted")]
    Missing { seq: i64 },
    #[error("entry {seq} was edited: its content no longer matches its hash")]
    Edited { seq: i64 },
    #[error(
        "entry {seq} does not follow entry {}: entries were deleted, inserted or reordered before it",
        seq - 1
    )]
    Unlinked { seq: i64 },
    #[error("entries {} to {head} are missing: the newest entries were deleted", last + 1)]
    Truncated { last: i64, head: i64 },
    #[error("entry {seq} was replaced: it is not the entry the chain's head names")]
    Replaced { seq: i64 },
}

impl Break {
    /// The first entry that is not as written.
    pub fn seq(&self) -> i64 {
        match *self {
            Break::Missing { seq }
            | Break::Edited { seq }
            | Break::Unlinked { seq }
            | Break::Replaced { seq } => seq,
            Break::Truncated { last, .. } => last + 1,
        }
    }

    /// `missing`, `edited`, `unlinked`, `truncated` or `replaced`.
    pub fn kind(&self) -> &'static str {
        match self {
            Break::Missing { .. } => "missing",
            Break::Edited { .. } => "edited",
            Break::Unlinked { .. } => "unlinked",
            Break::Truncated { .. } => "truncated",
            Break::Replaced { .. } => "replaced",
        }
    }
}

/// Checks a chain entry by entry, oldest first, in pages of any size.
#[derive(Clone, Debug, Default)]
pub struct ChainWalk {
    /// The last entry checked.
    last: Head,
}

impl ChainWalk {
    /// A walk of part of a chain, from `first` on (an export that starts later
    /// than the first entry): `first`'s link to the entry before it is taken as
    /// given.
    pub fn starting_at(first: &Entry) -> Self {
        Self {
            last: Head {
                seq: first.seq - 1,
                hash: first.previous_hash,
            },
        }
    }

    /// Checks the next entry read back.
    pub fn step(&mut self, entry: &Entry) -> Result<(), Break> {
        let expected = self.last.seq + 1;
        if entry.seq != expected {
            return Err(Break::Missing { seq: expected });
        }
        if entry.event.link(&entry.previous_hash) != entry.hash {
            return Err(Break::Edited { seq: entry.seq });
        }
        if entry.previous_hash != self.last.hash {
            return Err(Break::Unlinked { seq: entry.seq });
        }
        self.last = Head {
            seq: entry.seq,
            hash: entry.hash,
        };
        Ok(())
    }

    /// Ends the walk against the head the store recorded with its last append:
    /// the newest entries deleted leave a chain that is whole but short.
    pub fn finish(self, head: Head) -> Result<Head, Break> {
        if self.last.seq < head.seq {
            return Err(Break::Truncated {
                last: self.last.seq,
                head: head.seq,
            });
        }
        if self.last.seq == head.seq && self.last.hash != head.hash {
            return Err(Break::Replaced { seq: head.seq });
        }
        Ok(self.last)
    }
}

/// A token's settings as the audit log records them (never its secret or hash).
pub fn settings_fields(settings: &Settings) -> Map<String, Value> {
    let (scopes, access) = settings.scopes.as_fields();
    let mut fields = Map::new();
    let mut put = |name: &str, value: Value| {
        fields.insert(name.to_owned(), value);
    };
    put("name", settings.name.as_str().into());
    put("description", settings.description.as_deref().into());
    put("scopes", scopes.into());
    put("access", access.into());
    put("resources", settings.resources.view().texts().into());
    put(
        "rate_limit",
        settings.rate_limit.as_ref().map_or(Value::Null, |limit| {
            serde_json::json!({
                "profile": limit.profile,
                "per_minute": limit.per_minute,
                "burst": limit.burst,
            })
        }),
    );
    put("expires_at", settings.expires_at.map(format_rfc3339).into());
    put("not_before", settings.not_before.map(format_rfc3339).into());
    put("owner", settings.owner.as_deref().into());
    put(
        "meta",
        settings.meta.clone().map_or(Value::Null, Value::Object),
    );
    put("max_descendants", settings.max_descendants.into());
    put("allowed_cidrs", settings.allowed_cidrs.texts().into());
    put("max_uses", settings.max_uses.into());
    put(
        "credits",
        settings.credits.map_or(Value::Null, |credits| {
            serde_json::json!({
                "remaining": credits.remaining,
                "refill": credits.refill.map(|refill| serde_json::json!({
                    "amount": refill.amount,
                    "every": refill.every.as_str(),
                })),
            })
        }),
    );
    fields
}

/// An edit's details: `before` and `after` of the fields it changed, only.
pub fn changed_fields(before: &Settings, after: &Settings) -> Map<String, Value> {
    let mut was = settings_fields(before);
    let mut is = settings_fields(after);
    was.retain(|name, value| is.get(name) != Some(value));
    is.retain(|name, _| was.contains_key(name));
    let mut details = Map::new();
    details.insert("before".into(), Value::Object(was));
    details.insert("after".into(), Value::Object(is));
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(n: i64) -> Event {
        Event {
            actor_id: Some("tok_actor".into()),
            target_id: Some(format!("tok_{n}")),
            ..Event::new(1_000 + n, Action::TokenCreated)
        }
    }

    fn chain(n: i64) -> (Vec<Entry>, Head) {
        let mut head = Head::default();
        let entries = head.append((1..=n).map(event));
        (entries, head)
    }

    fn walk(entries: &[Entry], head: Head) -> Result<Head, Break> {
        let mut walk = ChainWalk::default();
        for entry in entries {
            walk.step(entry)?;
        }
        walk.finish(head)
    }

    /// What a store that fills the change number and cascade in (PostgreSQL's
    /// `tessera_append_entries`) hashes, built from the documented layout alone.
    fn hashed_by_the_store(event: &Event, previous: &Digest32) -> Digest32 {
        let StoreFilled { before, after } = event.encoding_around_store_fields();
        let mut bytes = [DOMAIN, previous, &before].concat();
        if let Some(seq) = event.change_seq {
            bytes.push(1);
            bytes.extend_from_slice(&8u64.to_be_bytes());
            bytes.extend_from_slice(&seq.to_be_bytes());
        }
        bytes.extend_from_slice(&after);
        bytes.extend_from_slice(&(event.cascade.len() as u64).to_be_bytes());
        for id in &event.cascade {
            bytes.push(1);
            bytes.extend_from_slice(&(id.len() as u64).to_be_bytes());
            bytes.extend_from_slice(id.as_bytes());
        }
        Sha256::digest(&bytes).into()
    }

    proptest! {
        #[test]
        fn a_store_filling_in_its_fields_hashes_as_the_chain_does(
            seq in any::<i64>(),
            cascade in proptest::collection::vec("[a-z0-9_]{0,12}", 0..4),
            ip in proptest::option::of("[0-9.]{0,15}"),
            details in ".{0,40}",
        ) {
            let event = Event {
                change_seq: Some(seq),
                cascade,
                client_ip: ip,
                details,
                lineage: vec!["tok_a".into(), "tok_b".into()],
                ..event(7)
            };
            let previous = [9; 32];
            prop_assert_eq!(event.link(&previous), hashed_by_the_store(&event, &previous));
        }
    }

    #[test]
    fn an_untouched_chain_checks_out_to_its_head() {
        let (entries, head) = chain(5);
        assert_eq!(walk(&entries, head), Ok(head));
        assert_eq!(walk(&[], Head::default()), Ok(Head::default()));
    }

    #[test]
    fn an_edit_is_named() {
        let (mut entries, head) = chain(5);
        entries[2].event.actor_name = Some("someone else".into());
        assert_eq!(walk(&entries, head), Err(Break::Edited { seq: 3 }));
    }

    #[test]
    fn a_deletion_is_named_whether_renumbered_or_not() {
        let (mut entries, head) = chain(5);
        entries.remove(1);
        assert_eq!(walk(&entries, head), Err(Break::Missing { seq: 2 }));
        for (n, entry) in entries.iter_mut().enumerate() {
            entry.seq = n as i64 + 1;
        }
        assert_eq!(walk(&entries, head), Err(Break::Unlinked { seq: 2 }));
    }

    #[test]
    fn a_swap_is_named_at_its_first_place() {
        let (mut entries, head) = chain(5);
        let (second, third) = (entries[1].clone(), entries[2].clone());
        entries[1] = Entry { seq: 2, ..third };
        entries[2] = Entry { seq: 3, ..second };
        assert_eq!(walk(&entries, head), Err(Break::Unlinked { seq: 2 }));
    }

    #[test]
    fn the_newest_entries_deleted_are_named_by_the_head() {
        let (mut entries, head) = chain(5);
        entries.truncate(3);
        let broken = walk(&entries, head).unwrap_err();
        assert_eq!(broken, Break::Truncated { last: 3, head: 5 });
        assert_eq!(broken.seq(), 4);
        let (mut entries, head) = chain(5);
        let last = entries.pop().unwrap();
        let mut forged = Head {
            seq: 4,
            hash: entries[3].hash,
        };
        entries.extend(forged.append([Event {
            at: 1,
            ..last.event
        }]));
        assert_eq!(walk(&entries, head), Err(Break::Replaced { seq: 5 }));
    }

    #[test]
    fn an_edit_changes_only_the_fields_it_touched() {
        let before = Settings::default();
        let after = Settings {
            max_uses: Some(3),
            ..Settings::default()
        };
        let details = changed_fields(&before, &after);
        assert_eq!(
            Value::Object(details),
            serde_json::json!({"before": {"max_uses": null}, "after": {"max_uses": 3}})
        );
    }

    #[test]
    fn actions_read_back_as_written() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("token.eaten"), None);
    }

    proptest! {
        /// Any change to any field of any entry is caught at that entry or before.
        #[test]
        fn any_single_change_breaks_the_chain_at_or_before_it(
            n in 1i64..12,
            at in 0usize..12,
            field in 0usize..6,
            text in "[a-z]{0,8}",
        ) {
            let (mut entries, head) = chain(n);
            let at = at % entries.len();
            let before = entries[at].clone();
            let event = &mut entries[at].event;
            match field {
                0 => event.at += 1,
                1 => event.actor_name = Some(text.clone()),
                2 => event.target_id = None,
                3 => event.details = format!("{{\"x\":\"{text}\"}}"),
                4 => event.cascade.push(text.clone()),
                _ => event.client_ip = Some(text.clone()),
            }
            prop_assume!(entries[at] != before);
            let broken = walk(&entries, head).unwrap_err();
            prop_assert_eq!(broken.seq(), at as i64 + 1);
        }
    }
}
