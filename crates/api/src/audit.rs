//! `GET /v1/audit` and `GET /v1/audit/verify`: the audit log, and the check of its
//! hash chain.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::audit::{Break, Digest32, Entry, Event};
use tessera_core::timefmt::{format_rfc3339, parse_rfc3339};

/// `GET /v1/audit` query: filters, an order, and a page position.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditParams {
    /// Entries by this token (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Entries about this token (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// One action: `token.created`, `token.updated`, `token.rotated`,
    /// `token.revoked`, `token.leaked`, `token.reuse_detected`, `token.expiring`,
    /// `token.expired`, `token.usage_exhausted`, `admin.created`, `admin.reset`,
    /// `session.signed_in`, `session.signed_out`, `webhook.created`,
    /// `webhook.updated` or `webhook.deleted`.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = "^(token\\.(created|updated|rotated|revoked|leaked|reuse_detected|expiring|expired|usage_exhausted)|admin\\.(created|reset)|session\\.(signed_in|signed_out)|webhook\\.(created|updated|deleted))$"
        )
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Until this time (RFC 3339), exclusive.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `newest` first (the default), or `oldest` first (an export, in the chain's
    /// order).
    #[cfg_attr(feature = "openapi", param(pattern = "^(newest|oldest)$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// 1 to 500; 100 by default.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[cfg_attr(feature = "openapi", param(pattern = "^[0-9]{1,18}$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Who acted: a token (`id` and its name then), or tessera itself (`id` null, and
/// `name` says what: `tessera start-up`, `reuse detection`, a signed leak report).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditActor {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One entry of the audit log. Never holds a token's secret.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntryView {
    /// Its place in the chain: 1 for the first entry, then one more each time.
    pub seq: i64,
    /// RFC 3339, to the millisecond.
    pub at: String,
    pub action: String,
    pub actor: AuditActor,
    /// The token acted on.
    pub target_id: Option<String>,
    /// The target's makers from the top (the admin token left out), then the
    /// target: a manager sees the entries whose lineage names it.
    pub lineage: Vec<String>,
    /// The change feed's number of the write it records; `null` for what changed
    /// no token (a sign-in, a leak only flagged).
    pub change_seq: Option<i64>,
    /// The end client's address, as tessera decided it (`trusted_proxies`).
    pub client_ip: Option<String>,
    /// The request's `X-Request-Id` (the caller's, or the one tessera answered with).
    pub request_id: Option<String>,
    /// `before` and `after` of the fields an edit changed; `after` for a creation;
    /// the `reason` and its particulars for a revocation by tessera, a rotation or
    /// a leak.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Value,
    /// The tokens a revocation took down with the target.
    pub cascade: Vec<String>,
    /// Hex SHA-256 of the entry before (zeros for the first).
    pub previous_hash: String,
    /// Hex SHA-256 over `previous_hash` and this entry's content.
    pub hash: String,
}

impl AuditEntryView {
    pub fn of(entry: &Entry) -> Self {
        let event = &entry.event;
        Self {
            seq: entry.seq,
            at: format_rfc3339(event.at),
            action: event.action.clone(),
            actor: AuditActor {
                id: event.actor_id.clone(),
                name: event.actor_name.clone(),
            },
            target_id: event.target_id.clone(),
            lineage: event.lineage.clone(),
            change_seq: event.change_seq,
            client_ip: event.client_ip.clone(),
            request_id: event.request_id.clone(),
            // Written by tessera as JSON; text that no longer reads as JSON (edited
            // in the database) is shown as it is, and the chain check names it.
            details: serde_json::from_str(&event.details)
                .unwrap_or_else(|_| Value::String(event.details.clone())),
            cascade: event.cascade.clone(),
            previous_hash: hex::encode(entry.previous_hash),
            hash: hex::encode(entry.hash),
        }
    }

    /// The entry as it was hashed, to check an exported log away from the server;
    /// why not, if a field does not read.
    pub fn to_entry(&self) -> Result<Entry, String> {
        let digest = |name: &str, text: &str| -> Result<Digest32, String> {
            let mut out = [0; 32];
            hex::decode_to_slice(text, &mut out)
                .map_err(|_| format!("entry {}: {name} is not 64 hex digits", self.seq))?;
            Ok(out)
        };
        let at = parse_rfc3339(&self.at)
            .ok_or_else(|| format!("entry {}: at is not an RFC 3339 time", self.seq))?;
        let details = match &self.details {
            // Shown as text because it did not read as JSON: hashed as that text.
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Ok(Entry {
            seq: self.seq,
            event: Event {
                at,
                action: self.action.clone(),
                actor_id: self.actor.id.clone(),
                actor_name: self.actor.name.clone(),
                target_id: self.target_id.clone(),
                lineage: self.lineage.clone(),
                change_seq: self.change_seq,
                client_ip: self.client_ip.clone(),
                request_id: self.request_id.clone(),
                details,
                cascade: self.cascade.clone(),
            },
            previous_hash: digest("previous_hash", &self.previous_hash)?,
            hash: digest("hash", &self.hash)?,
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditList {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// What checking the whole chain found.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerification {
    /// True when every entry is as it was written, in order, up to the head.
    pub intact: bool,
    /// Entries checked (up to the first broken one).
    pub checked: u64,
    /// The newest entry's place, as the last append recorded it.
    pub head_seq: i64,
    /// Its hash: keep it elsewhere, and a later check can show the log was not
    /// cut back past it.
    pub head_hash: String,
    /// The first entry that is not as written; `null` when intact.
    pub broken: Option<AuditBreak>,
}

/// Where the chain breaks.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditBreak {
    /// The first entry that is not as written.
    pub seq: i64,
    /// `edited`, `missing`, `unlinked` (deleted, inserted or moved before it),
    /// `truncated` (the newest entries deleted) or `replaced`.
    pub kind: String,
    pub detail: String,
}

impl AuditBreak {
    pub fn of(broken: &Break) -> Self {
        Self {
            seq: broken.seq(),
            kind: broken.kind().to_owned(),
            detail: broken.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::audit::{Action, Head};

    #[test]
    fn an_entry_shown_reads_back_as_it_was_hashed() {
        let mut details = serde_json::Map::new();
        details.insert("reason".into(), "rotated".into());
        details.insert("grace_seconds".into(), 60.into());
        details.insert("note".into(), "a \"quoted\" ünïcode line\n".into());
        let event = Event {
            actor_id: Some("tok_a".into()),
            lineage: vec!["tok_m".into(), "tok_t".into()],
            cascade: vec!["tok_c".into()],
            ..Event::new(1_767_225_600_123, Action::TokenRotated)
        }
        .with_details(&details);
        let entry = Head::default().append([event]).remove(0);
        let shown: AuditEntryView =
            serde_json::from_str(&serde_json::to_string(&AuditEntryView::of(&entry)).unwrap())
                .unwrap();
        assert_eq!(shown.to_entry(), Ok(entry));
    }
}
