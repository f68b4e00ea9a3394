//! Webhooks: endpoints (managed by the admin token), deliveries made from the
//! audit log, their attempts, and the notices only the clock makes (a token
//! about to expire, or expired) or a check sees (a token out of uses or credits).
//!
//! Sending is the server's (it owns the HTTP client); what to send, to whom,
//! when to try again and what the log says is decided here.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Map, Value};
use tessera_core::audit::{Action, Event};
use tessera_core::random;
use tessera_core::webhook::{self, EventType, Subscription};
use tessera_store::{Attempt, Delivery, DeliveryPage, DeliveryStatus, Endpoint};
use tokio::sync::mpsc;

use crate::error::EngineError;
use crate::index::SlotRef;

use super::Engine;
use super::audit::{Actor, Origin, Target};
use super::authority::Caller;

/// Audit entries turned into deliveries at a time.
const FAN_OUT_BATCH: u32 = 500;

/// How long a node holds a delivery it is sending before another may take it.
pub const DELIVERY_LEASE_MS: i64 = 60_000;

/// The most deliveries of one endpoint's log a page holds.
pub const MAX_DELIVERY_PAGE: u32 = 100;

/// The most endpoints a deployment may have: each audit entry makes at most two
/// events, so an entry's deliveries stay well within the 1,024 numbers it has
/// (see [`Engine::fan_out`]).
pub const MAX_ENDPOINTS: usize = 100;

/// The longest URL and description an endpoint may have.
const MAX_URL_CHARS: usize = 2000;
const MAX_DESCRIPTION_CHARS: usize = 500;

/// A new endpoint, as asked for.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// An endpoint's change: what is `Some` changes.
#[derive(Clone, Debug, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
}

/// What sending one delivery came to.
#[derive(Clone, Debug)]
pub enum Sent {
    /// The endpoint answered 2xx.
    Delivered(u16),
    /// It answered otherwise.
    Refused(u16),
    /// No answer: the connection failed or timed out (the reason, for the log).
    Unreachable(String),
}

/// Tokens that ran out of uses or credits, waiting to be announced: seen on the
/// check path, which must not wait for a write.
pub(super) struct ExhaustedQueue {
    pub(super) sender: mpsc::Sender<SlotRef>,
    receiver: parking_lot::Mutex<Option<mpsc::Receiver<SlotRef>>>,
}

impl Default for ExhaustedQueue {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(1024);
        Self {
            sender,
            receiver: parking_lot::Mutex::new(Some(receiver)),
        }
    }
}

impl Engine {
    fn only_admin(caller: &Caller) -> Result<(), EngineError> {
        if caller.is_admin() {
            return Ok(());
        }
        Err(EngineError::Forbidden {
            code: "admin_only",
            detail: "only the admin token may manage webhooks".into(),
        })
    }

    /// Checks a URL: http or https, with a host the deployment allows
    /// (`webhook_allowed_hosts`; any when it lists none).
    fn endpoint_url(&self, text: &str) -> Result<String, EngineError> {
        let bad = |detail: String| EngineError::BadRequest {
            code: "invalid_url",
            detail,
        };
        if text.chars().count() > MAX_URL_CHARS {
            return Err(bad(format!(
                "url must be at most {MAX_URL_CHARS} characters"
            )));
        }
        let url = url::Url::parse(text).map_err(|e| {
            bad(format!(
                "url {text:?} is not a URL ({e}): give one such as https://example.com/hooks/tessera"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "url {text:?} must start with http:// or https://"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "url must not hold a user name or password: deliveries are signed instead".into(),
            ));
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Err(bad(format!("url {text:?} names no host")));
        };
        let allowed = &self.config.webhook_allowed_hosts;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if !allowed.is_empty() && !allowed.iter().any(|h| h == &host || h == bare) {
            return Err(EngineError::Forbidden {
                code: "host_not_allowed",
                detail: format!(
                    "webhooks may go to {} only (webhook_allowed_hosts), not {host}",
                    allowed.join(", ")
                ),
            });
        }
        Ok(url.to_string())
    }

    /// A description: at most 500 characters, none of them control characters.
    fn description(text: Option<String>) -> Result<Option<String>, EngineError> {
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > MAX_DESCRIPTION_CHARS || text.chars().any(char::is_control) {
            return Err(EngineError::BadRequest {
                code: "invalid_text",
                detail: format!(
                    "description must be at most {MAX_DESCRIPTION_CHARS} characters, none of \
                     them control characters"
                ),
            });
        }
        Ok(Some(text))
    }

    fn subscription(events: &[String]) -> Result<Subscription, EngineError> {
        Subscription::parse(events).map_err(|detail| EngineError::BadRequest {
            code: "invalid_event",
            detail,
        })
    }

    fn endpoint_event(&self, action: Action, caller: &Caller, endpoint: &Endpoint) -> Event {
        // Only where it points: a URL's path or query may hold a secret of the
        // receiver's, and the chained log keeps what it is given for good.
        let origin = url::Url::parse(&endpoint.url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_default();
        let mut details = Map::new();
        details.insert("url_origin".into(), origin.into());
        details.insert(
            "events".into(),
            Subscription::from_stored(&endpoint.events).names().into(),
        );
        details.insert("disabled".into(), endpoint.disabled.into());
        self.event(action, &Actor::of(caller), Target::Other(&endpoint.id))
            .with_details(&details)
    }

    /// Adds an endpoint; its `secret` is in the answer, this once.
    pub async fn create_endpoint(
        &self,
        caller: &Caller,
        new: NewEndpoint,
    ) -> Result<Endpoint, EngineError> {
        Self::only_admin(caller)?;
        let url = self.endpoint_url(&new.url)?;
        let events = Self::subscription(&new.events)?;
        let description = Self::description(new.description)?;
        if self.store.endpoints().await?.len() >= MAX_ENDPOINTS {
            return Err(EngineError::Forbidden {
                code: "quota_exceeded",
                detail: format!(
                    "a deployment may have at most {MAX_ENDPOINTS} webhook endpoints: remove one first"
                ),
            });
        }
        let mut key = [0u8; 24];
        random::fill(&mut key);
        let now = self.now_ms();
        let endpoint = Endpoint {
            id: random::identifier("whe"),
            url,
            events: events.stored(),
            secret: format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(key)
            ),
            description,
            disabled: false,
            since_seq: 0,
            created_at: now,
            updated_at: now,
        };
        let event = self.endpoint_event(Action::WebhookCreated, caller, &endpoint);
        let since_seq = self.store.create_endpoint(&endpoint, event).await?;
        Ok(Endpoint {
            since_seq,
            ..endpoint
        })
    }

    pub async fn endpoints(&self, caller: &Caller) -> Result<Vec<Endpoint>, EngineError> {
        Self::only_admin(caller)?;
        Ok(self.store.endpoints().await?)
    }

    pub async fn endpoint(&self, caller: &Caller, id: &str) -> Result<Endpoint, EngineError> {
        Self::only_admin(caller)?;
        self.store
            .endpoints()
            .await?
            .into_iter()
            .find(|endpoint| endpoint.id == id)
            .ok_or_else(|| EngineError::NotFound {
                what: format!("webhook endpoint {id:?}"),
            })
    }

    pub async fn update_endpoint(
        &self,
        caller: &Caller,
        id: &str,
        change: EndpointChange,
    ) -> Result<Endpoint, EngineError> {
        let mut endpoint = self.endpoint(caller, id).await?;
        if let Some(url) = &change.url {
            endpoint.url = self.endpoint_url(url)?;
        }
        if let Some(events) = &change.events {
            endpoint.events = Self::subscription(events)?.stored();
        }
        if let Some(description) = change.description {
            endpoint.description = Self::description(description)?;
        }
        if let Some(disabled) = change.disabled {
            endpoint.disabled = disabled;
        }
        endpoint.updated_at = self.now_ms();
        let event = self.endpoint_event(Action::WebhookUpdated, caller, &endpoint);
        if !self.store.update_endpoint(&endpoint, event).await? {
            return Err(EngineError::NotFound {
                what: format!("webhook endpoint {id:?}"),
            });
        }
        Ok(endpoint)
    }

    /// Removes an endpoint, with the deliveries it still had waiting.
    pub async fn delete_endpoint(&self, caller: &Caller, id: &str) -> Result<(), EngineError> {
        let endpoint = self.endpoint(caller, id).await?;
        let event = self.endpoint_event(Action::WebhookDeleted, caller, &endpoint);
        self.store.delete_endpoint(id, event).await?;
        Ok(())
    }

    /// An endpoint, and its deliveries, newest first.
    pub async fn endpoint_deliveries(
        &self,
        caller: &Caller,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Endpoint, DeliveryPage), EngineError> {
        let endpoint = self.endpoint(caller, id).await?;
        let page = self
            .store
            .deliveries(id, before, limit.clamp(1, MAX_DELIVERY_PAGE))
            .await?;
        Ok((endpoint, page))
    }

    /// Turns the audit entries not yet announced into deliveries, one for each
    /// endpoint that wants each event. Returns whether it took a full batch (more
    /// may be waiting). Several nodes may run it at once: the store takes one
    /// node's batch and refuses the others' (they read again next time).
    pub async fn fan_out(&self) -> Result<bool, EngineError> {
        let from = self.store.fanned_out().await?;
        // The head is read before the endpoints: an endpoint added after this read
        // hears only of entries after its own, which come after this head.
        let head = self.store.audit_head().await?.seq;
        if head <= from {
            return Ok(false);
        }
        let endpoints = self.store.endpoints().await?;
        if endpoints.is_empty() {
            // Nobody to tell: the cursor passes the entries without reading them.
            // Read, they cost two nodes under write load a third of the
            // database's statements (issue 21's bench).
            self.store.enqueue(from, head, &[]).await?;
            return Ok(false);
        }
        let mut page = self
            .store
            .audit(&tessera_store::AuditQuery {
                oldest_first: true,
                after: Some(from),
                limit: FAN_OUT_BATCH,
                ..tessera_store::AuditQuery::default()
            })
            .await?;
        let full = page.entries.len() == FAN_OUT_BATCH as usize;
        // Only up to the head read before the endpoints: an endpoint added since
        // may want the entries after it, which the next round reads with it.
        let beyond = page.entries.iter().position(|entry| entry.seq > head);
        if let Some(at) = beyond {
            page.entries.truncate(at);
        }
        let Some(to) = page.entries.last().map(|entry| entry.seq) else {
            return Ok(false);
        };
        let endpoints: Vec<(Endpoint, Subscription)> = endpoints
            .into_iter()
            .map(|endpoint| {
                let wants = Subscription::from_stored(&endpoint.events);
                (endpoint, wants)
            })
            .collect();
        let now = self.now_ms();
        let mut deliveries = Vec::new();
        for entry in &page.entries {
            // Numbered within the entry, so that the log keeps the entries' order.
            let mut n = 0;
            for kind in EventType::of(entry) {
                let payload = webhook::payload(kind, entry).to_string();
                for (endpoint, wants) in &endpoints {
                    // An endpoint hears of what was recorded after it was added, even
                    // when the entry is turned into deliveries later.
                    if entry.seq <= endpoint.since_seq || !wants.wants(kind) {
                        continue;
                    }
                    deliveries.push(Delivery {
                        seq: entry.seq * 1024 + n,
                        id: random::identifier("msg"),
                        endpoint_id: endpoint.id.clone(),
                        audit_seq: entry.seq,
                        event_type: kind.as_str().to_owned(),
                        payload: payload.clone(),
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        first_attempt_at: None,
                        next_attempt_at: now,
                        last_status: None,
                        last_error: None,
                        created_at: now,
                        delivered_at: None,
                    });
                    // Below 1,024: two events an entry at most, MAX_ENDPOINTS each.
                    n += 1;
                }
            }
        }
        Ok(self.store.enqueue(from, to, &deliveries).await? && (full || beyond.is_some()))
    }

    /// Deliveries due now for this node to send, each with its endpoint. A
    /// delivery whose endpoint is disabled waits for a lease and is looked at again.
    pub async fn claim_deliveries(
        &self,
        limit: u32,
    ) -> Result<Vec<(Delivery, Endpoint)>, EngineError> {
        let now = self.now_ms();
        let claimed = self
            .store
            .claim_deliveries(now, now + DELIVERY_LEASE_MS, limit)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let endpoints = self.store.endpoints().await?;
        Ok(claimed
            .into_iter()
            .filter_map(|delivery| {
                let endpoint = endpoints
                    .iter()
                    .find(|e| e.id == delivery.endpoint_id && !e.disabled)?;
                Some((delivery, endpoint.clone()))
            })
            .collect())
    }

    /// Records what sending `delivery` came to: delivered, tried again later (the
    /// schedule of `tessera_core::webhook::next_attempt`), or given up after a day.
    pub async fn settle_delivery(
        &self,
        delivery: &Delivery,
        sent: Sent,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let attempts = delivery.attempts.saturating_add(1);
        let first_attempt_at = delivery.first_attempt_at.unwrap_or(now);
        let (last_status, last_error) = match &sent {
            Sent::Delivered(status) => (Some(*status), None),
            Sent::Refused(status) => (Some(*status), Some(format!("answered {status}"))),
            Sent::Unreachable(why) => (None, Some(why.clone())),
        };
        let (status, next_attempt_at, delivered_at) = match sent {
            Sent::Delivered(_) => (DeliveryStatus::Delivered, now, Some(now)),
            Sent::Refused(_) | Sent::Unreachable(_) => {
                match webhook::next_attempt(attempts, first_attempt_at, now) {
                    Some(next) => (DeliveryStatus::Pending, next, None),
                    None => (DeliveryStatus::Failed, now, None),
                }
            }
        };
        self.metrics.webhook_delivery(status);
        let attempt = Attempt {
            id: delivery.id.clone(),
            leased_until: delivery.next_attempt_at,
            status,
            attempts,
            first_attempt_at,
            next_attempt_at,
            last_status,
            last_error,
            delivered_at,
        };
        if !self.store.record_attempt(&attempt).await? {
            // Its lease ran out first: another node may have sent it since, and its
            // answer is the one kept.
            tracing::warn!(delivery = %delivery.id, "a webhook attempt was recorded too late to count");
        }
        Ok(())
    }

    /// Whether some enabled endpoint wants `kind`: notices nobody would be sent
    /// are not recorded (they are the clock's doing, not anyone's action).
    async fn wanted(&self, kinds: &[EventType]) -> Result<bool, EngineError> {
        Ok(self.store.endpoints().await?.iter().any(|endpoint| {
            !endpoint.disabled
                && kinds
                    .iter()
                    .any(|&kind| Subscription::from_stored(&endpoint.events).wants(kind))
        }))
    }

    /// Records the expiry notices due now (`token.expiring` 30, 7 and 1 days
    /// before, `token.expired` after), each once per token across the cluster;
    /// `noticed` remembers this node's, so that a due notice costs the store one
    /// write, not one a minute. Returns how many it recorded.
    pub async fn announce_expiries(
        &self,
        noticed: &mut HashSet<(String, String)>,
    ) -> Result<usize, EngineError> {
        if !self
            .wanted(&[EventType::Expiring, EventType::Expired])
            .await?
        {
            return Ok(0);
        }
        const DAY_MS: i64 = 86_400_000;
        let now = self.now_ms();
        let mut due = HashSet::new();
        let mut recorded = 0;
        for slot in self
            .index()
            .expiring_between(now - DAY_MS, now + 30 * DAY_MS)
        {
            let Some(expires_at) = slot.expires_at() else {
                continue;
            };
            for (notice, action) in webhook::expiry_notices(slot.created_at(), expires_at, now) {
                let key = (slot.id().to_owned(), notice);
                if !noticed.contains(&key) {
                    let mut details = Map::new();
                    details.insert(
                        "expires_at".into(),
                        tessera_core::timefmt::format_rfc3339(expires_at).into(),
                    );
                    let event = self
                        .event(action, &clock(), Target::Slot(&slot))
                        .with_details(&details);
                    if self.store.record_notice(&key.0, &key.1, event).await? {
                        recorded += 1;
                    }
                }
                due.insert(key);
            }
        }
        *noticed = due;
        Ok(recorded)
    }

    /// The queue [`Engine::announce_exhausted`] works through; `None` after the
    /// first call.
    pub fn take_exhausted_queue(&self) -> Option<mpsc::Receiver<SlotRef>> {
        self.exhausted.receiver_once()
    }

    /// Records that a capped token ran out (`token.usage_exhausted`), once per
    /// balance: once for its uses, once per refill period for its credits.
    /// `seen` remembers the notices this node has handled, so that a token refused
    /// again and again costs the store nothing more.
    pub async fn announce_exhausted(
        &self,
        slot: SlotRef,
        seen: &mut HashSet<String>,
    ) -> Result<bool, EngineError> {
        let Some(cell) = slot.caps() else {
            return Ok(false);
        };
        let now = self.now_ms();
        let caps = *cell.caps();
        let left = cell.left_at(now);
        let notice = match (left.uses, caps.credits) {
            (Some(0), _) => "exhausted:uses".to_owned(),
            (_, Some(credits)) => format!(
                "exhausted:credits:{}:{}",
                credits.set_at,
                cell.balance_at(now).period
            ),
            _ => return Ok(false),
        };
        if !seen.insert(format!("{} {notice}", slot.id())) {
            return Ok(false);
        }
        if !self.wanted(&[EventType::UsageExhausted]).await? {
            return Ok(false);
        }
        let mut details = Map::new();
        details.insert(
            "uses_remaining".into(),
            left.uses.map_or(Value::Null, Value::from),
        );
        details.insert(
            "credits_remaining".into(),
            left.credits.map_or(Value::Null, Value::from),
        );
        let event = self
            .event(Action::TokenUsageExhausted, &clock(), Target::Slot(&slot))
            .with_details(&details);
        Ok(self.store.record_notice(slot.id(), &notice, event).await?)
    }
}

/// What records the notices: the clock (and the checks), not a token.
fn clock() -> Actor {
    Actor::tessera("tessera", Origin::default())
}

impl ExhaustedQueue {
    fn receiver_once(&self) -> Option<mpsc::Receiver<SlotRef>> {
        self.receiver.lock().take()
    }
}
