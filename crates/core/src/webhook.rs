//! Webhook events: which audit entries announce what, the payload each delivery
//! carries (Standard Webhooks' shape: `type`, `timestamp`, `data`), and when a
//! failed delivery is tried again.
//!
//! The audit log is the outbox: every change writes its entry in its own
//! transaction, and deliveries are made from the entries, so an event is never
//! announced for a change that did not land, nor lost for one that did.

use serde_json::{Map, Value, json};

use crate::audit::{Action, Entry};
use crate::timefmt::format_rfc3339;

/// What an endpoint may subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Created,
    Updated,
    Rotated,
    /// With the tokens the revocation took down.
    Revoked,
    /// 30, 7 and 1 days before a token expires.
    Expiring,
    Expired,
    ReuseDetected,
    Leaked,
    UsageExhausted,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::Created,
        EventType::Updated,
        EventType::Rotated,
        EventType::Revoked,
        EventType::Expiring,
        EventType::Expired,
        EventType::ReuseDetected,
        EventType::Leaked,
        EventType::UsageExhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "token.created",
            EventType::Updated => "token.updated",
            EventType::Rotated => "token.rotated",
            EventType::Revoked => "token.revoked",
            EventType::Expiring => "token.expiring",
            EventType::Expired => "token.expired",
            EventType::ReuseDetected => "token.reuse_detected",
            EventType::Leaked => "token.leaked",
            EventType::UsageExhausted => "token.usage_exhausted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The events an audit entry announces: a leak or a reused secret that
    /// revoked the token is a revocation too.
    pub fn of(entry: &Entry) -> Vec<EventType> {
        let Some(action) = Action::parse(&entry.event.action) else {
            return Vec::new();
        };
        let revoked = entry.event.change_seq.is_some();
        match action {
            Action::TokenCreated => vec![EventType::Created],
            Action::TokenUpdated => vec![EventType::Updated],
            Action::TokenRotated => vec![EventType::Rotated],
            Action::TokenRevoked => vec![EventType::Revoked],
            Action::TokenLeaked if revoked => vec![EventType::Leaked, EventType::Revoked],
            Action::TokenLeaked => vec![EventType::Leaked],
            Action::TokenReuseDetected if revoked => {
                vec![EventType::ReuseDetected, EventType::Revoked]
            }
            Action::TokenReuseDetected => vec![EventType::ReuseDetected],
            Action::TokenExpiring => vec![EventType::Expiring],
            Action::TokenExpired => vec![EventType::Expired],
            Action::TokenUsageExhausted => vec![EventType::UsageExhausted],
            Action::AdminCreated
            | Action::AdminReset
            | Action::SessionSignedIn
            | Action::SessionSignedOut
            | Action::WebhookCreated
            | Action::WebhookUpdated
            | Action::WebhookDeleted => Vec::new(),
        }
    }
}

/// What an endpoint asked for: some events, or all (`*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription(Vec<String>);

impl Subscription {
    /// Checks each name; `*` means every event, now and later.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("events must name at least one event, or \"*\" for all".into());
        }
        for name in names {
            if name != "*" && EventType::parse(name).is_none() {
                let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                return Err(format!(
                    "event {name:?} is not one of \"*\", {}",
                    known.join(", ")
                ));
            }
        }
        let mut names = names.to_vec();
        names.sort();
        names.dedup();
        Ok(Self(names))
    }

    /// As stored: the names, space-separated.
    pub fn from_stored(text: &str) -> Self {
        Self(
            text.split(' ')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn wants(&self, kind: EventType) -> bool {
        self.0
            .iter()
            .any(|name| name == "*" || name == kind.as_str())
    }
}

/// A delivery's body: Standard Webhooks' `{type, timestamp, data}`. `data` names
/// the token, who acted and what changed; never a secret (the entry holds none).
pub fn payload(kind: EventType, entry: &Entry) -> Value {
    let event = &entry.event;
    let mut data = Map::new();
    data.insert("token_id".into(), event.target_id.clone().into());
    data.insert(
        "actor".into(),
        json!({"id": event.actor_id, "name": event.actor_name}),
    );
    data.insert("lineage".into(), event.lineage.clone().into());
    if kind == EventType::Revoked {
        data.insert("cascade".into(), event.cascade.clone().into());
    }
    let details: Value = serde_json::from_str(&event.details).unwrap_or(Value::Null);
    data.insert("details".into(), details);
    data.insert("audit_seq".into(), entry.seq.into());
    json!({
        "type": kind.as_str(),
        "timestamp": format_rfc3339(event.at),
        "data": data,
    })
}

/// How long a delivery is tried for, from its first attempt.
pub const RETRY_FOR_MS: i64 = 24 * 3_600_000;

/// The waits after each failed attempt (Standard Webhooks' suggested schedule):
/// 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h until a day has passed.
const BACKOFF_MS: [i64; 6] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000];

/// When to try again after `attempts` failed attempts, the first made at
/// `first_at`; `None` once the next would fall more than a day after the first.
pub fn next_attempt(attempts: u32, first_at: i64, now: i64) -> Option<i64> {
    let index = (attempts.max(1) as usize - 1).min(BACKOFF_MS.len() - 1);
    let next = now + BACKOFF_MS[index];
    (next - first_at <= RETRY_FOR_MS).then_some(next)
}

/// The thresholds of `token.expiring`: days before the expiry.
pub const EXPIRING_DAYS: [i64; 3] = [30, 7, 1];

/// The notices due now for a live token that expires at `expires_at` and was
/// made at `created_at`: each threshold the token has crossed, if it lived
/// before it (a token made to last an hour is not "expiring in 30 days"), and
/// `expired` once it has (for a day after; an older expiry is history). Each
/// notice's key, so that it is sent once.
pub fn expiry_notices(created_at: i64, expires_at: i64, now: i64) -> Vec<(String, Action)> {
    const DAY_MS: i64 = 86_400_000;
    if now >= expires_at {
        return if now - expires_at <= DAY_MS {
            vec![("expired".to_owned(), Action::TokenExpired)]
        } else {
            Vec::new()
        };
    }
    // The nearest threshold crossed only: a token seen late (tessera was down)
    // announces where it stands, not every threshold it passed.
    EXPIRING_DAYS
        .iter()
        .rev()
        .map(|days| (days, expires_at - days * DAY_MS))
        .find(|(_, from)| now >= *from && created_at < *from)
        .map(|(days, _)| vec![(format!("expiring:{days}d"), Action::TokenExpiring)])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Event, Head};

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_failed_delivery_backs_off_and_gives_up_after_a_day() {
        let first = 1_000;
        let mut at = first;
        let mut waits = Vec::new();
        let mut attempts = 1;
        while let Some(next) = next_attempt(attempts, first, at) {
            waits.push(next - at);
            at = next;
            attempts += 1;
        }
        assert_eq!(
            waits,
            [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]
        );
        assert!(at - first <= RETRY_FOR_MS);
        assert!(
            at + 36_000_000 - first > RETRY_FOR_MS,
            "the next would pass a day"
        );
    }

    #[test]
    fn expiry_notices_come_once_per_threshold_the_token_lived_through() {
        let made = 0;
        let expires = 60 * DAY;
        assert!(expiry_notices(made, expires, 29 * DAY).is_empty());
        assert_eq!(expiry_notices(made, expires, 31 * DAY)[0].0, "expiring:30d");
        assert_eq!(expiry_notices(made, expires, 54 * DAY)[0].0, "expiring:7d");
        assert_eq!(
            expiry_notices(made, expires, 59 * DAY + 1)[0].0,
            "expiring:1d"
        );
        assert_eq!(expiry_notices(made, expires, expires)[0].0, "expired");
        assert!(expiry_notices(made, expires, expires + 2 * DAY).is_empty());
        // Made to last an hour: no "expiring", only "expired".
        assert!(expiry_notices(0, 3_600_000, 1_000).is_empty());
        assert_eq!(expiry_notices(0, 3_600_000, 3_600_000)[0].0, "expired");
    }

    #[test]
    fn a_revocation_announces_its_cascade_and_no_secret() {
        let mut details = Map::new();
        details.insert("reason".into(), "reported leaked".into());
        let event = Event {
            target_id: Some("tok_a".into()),
            cascade: vec!["tok_b".into()],
            change_seq: Some(4),
            ..Event::new(0, Action::TokenLeaked)
        }
        .with_details(&details);
        let entry = Head::default().append([event]).remove(0);
        let kinds = EventType::of(&entry);
        assert_eq!(kinds, [EventType::Leaked, EventType::Revoked]);
        let body = payload(EventType::Revoked, &entry);
        assert_eq!(body["type"], "token.revoked");
        assert_eq!(body["data"]["cascade"], json!(["tok_b"]));
        assert_eq!(body["data"]["details"]["reason"], "reported leaked");
        assert_eq!(
            payload(EventType::Leaked, &entry)["data"].get("cascade"),
            None
        );
    }

    #[test]
    fn subscriptions_name_known_events_or_all() {
        let all = Subscription::parse(&["*".into()]).unwrap();
        assert!(EventType::ALL.iter().all(|&kind| all.wants(kind)));
        let some = Subscription::parse(&["token.revoked".into(), "token.revoked".into()]).unwrap();
        assert_eq!(some.names(), ["token.revoked"]);
        assert!(!some.wants(EventType::Created));
        assert_eq!(Subscription::from_stored(&some.stored()), some);
        assert!(Subscription::parse(&[]).is_err());
        assert!(Subscription::parse(&["token.eaten".into()]).is_err());
    }
}
