//! Checking a presented token against what a request needs: the hot path's
//! decision, with the shared rate limiter where there is one.

use std::net::IpAddr;
use std::pin::Pin;

use std::sync::Arc;

use tessera_core::ratelimit::{self, RateDecision, RateLimit};
use tessera_core::resource::Resource;
use tessera_core::scope::{ScopeError, TOKENS_READ};
use tessera_core::verify::{self, Admission, Code, Requirement, Verdict};

use crate::config::{RateLimitScope, RedisFailure};
use crate::error::EngineError;
use crate::failures::FailureThrottle;
use crate::index::{Checked, SlotRef, TokenIndex};

use super::Engine;
use super::authority::{Caller, Credential};

/// A check admitted under a rate limit, or for a capped token, that every node
/// shares: only the shared limiter may spend from it ([`Engine::check`] asks it).
pub struct SharedCheck {
    slot: SlotRef,
    admission: Admission,
    /// The buckets to spend from, each a token's with its limit: the token's own,
    /// then (with `rate_limit_scope = "tree"`) those of the tokens it was made through.
    buckets: Vec<(SlotRef, RateLimit)>,
    /// The token has usage caps, which the counters every node shares spend.
    capped: bool,
    /// What the request spends from them.
    cost: u64,
    now: i64,
    /// See [`CheckOutcome::credential_until`].
    credential_until: Option<i64>,
    /// The end client's address, kept as where the token was last used from.
    client: Option<IpAddr>,
}

impl CheckOutcome {
    fn of(checked: Checked) -> Self {
        Self {
            code: checked.verdict.code,
            checked: Some(checked),
            credential_until: None,
        }
    }

    fn until(mut self, credential_until: Option<i64>) -> Self {
        self.credential_until = credential_until;
        self
    }
}

/// The outcome of checking a presented token against a requirement.
pub struct CheckOutcome {
    pub code: Code,
    pub checked: Option<Checked>,
    /// When the secret presented stops working, if before the token does: the end of
    /// a rotation's grace period, for a secret the rotation retired. An answer kept
    /// by a client (a verify cache) must not outlive it.
    pub credential_until: Option<i64>,
}

/// Prefix of token ids; a Basic user name with it is taken as a key id.
pub(super) const ID_KIND: &str = "tok";

impl Engine {
    /// What a request needs, from scope names, a resource and the end client's
    /// address as a client writes them.
    pub fn requirement(
        &self,
        scopes: Option<&[impl AsRef<str>]>,
        resource: Option<&str>,
        client_ip: Option<&str>,
        cost: Option<u64>,
    ) -> Result<Requirement, EngineError> {
        if let Some(cost) = cost.filter(|&cost| cost > tessera_core::usage::MOST) {
            return Err(EngineError::BadRequest {
                code: "invalid_cost",
                detail: format!(
                    "cost {cost} is more than any balance may hold: give 0 to {}",
                    tessera_core::usage::MOST
                ),
            });
        }
        let catalogue = self.index().catalogue();
        let scopes = match scopes {
            None => None,
            Some(list) => Some(catalogue.compile_required(list).map_err(|error| {
                let detail = match error {
                    ScopeError::Unknown { scope } => format!(
                        "unknown scope {scope:?}; valid scopes: {}",
                        catalogue.names().join(", ")
                    ),
                    ScopeError::Malformed { scope } => {
                        format!("scope {scope:?} must be category:action (no wildcards in a requirement)")
                    }
                };
                EngineError::BadRequest { code: "invalid_scope", detail }
            })?),
        };
        let resource =
            resource
                .map(Resource::parse)
                .transpose()
                .map_err(|e| EngineError::BadRequest {
                    code: "invalid_resource",
                    detail: e.to_string(),
                })?;
        let client = client_ip
            .map(|text| {
                text.trim().parse::<IpAddr>().map_err(|_| EngineError::BadRequest {
                    code: "invalid_client_ip",
                    detail: format!(
                        "client_ip {text:?} is not an IPv4 or IPv6 address such as 203.0.113.7: \
                         pass the address your own client connected from, without a port"
                    ),
                })
            })
            .transpose()?;
        Ok(Requirement {
            scopes,
            resource,
            client,
            cost: cost.unwrap_or(1),
        })
    }
    /// Checks a presented token. Malformed text and a bad checksum are `NOT_FOUND`
    /// without a lookup. Only an allowed request spends rate-limit budget.
    pub async fn check(&self, secret: &str, need: &Requirement) -> CheckOutcome {
        self.check_presented(secret, None, need).await
    }

    /// [`Engine::check`] as far as it goes without waiting: the whole check, unless
    /// the token's rate limit is a bucket every node shares, which only the shared
    /// limiter may spend from ([`Engine::check`] then asks it). Plain synchronous
    /// code, so that what the benchmarks time is what every check runs.
    pub fn check_now(&self, secret: &str, need: &Requirement) -> Result<CheckOutcome, SharedCheck> {
        self.check_presented_now(secret, None, need)
    }

    /// [`Engine::check`], where a key id presented beside the secret (HTTP Basic
    /// `key:secret`) must name the same token; checked before any budget is spent.
    pub(super) async fn check_presented(
        &self,
        secret: &str,
        key_id: Option<&str>,
        need: &Requirement,
    ) -> CheckOutcome {
        match self.check_presented_now(secret, key_id, need) {
            Ok(outcome) => outcome,
            Err(shared) => self.finish(shared).await,
        }
    }

    /// Finishes a check [`Engine::check_now`] left to the bucket every node shares.
    pub async fn finish(&self, shared: SharedCheck) -> CheckOutcome {
        let until = shared.credential_until;
        CheckOutcome::of(self.check_shared(shared).await).until(until)
    }

    fn check_presented_now(
        &self,
        secret: &str,
        key_id: Option<&str>,
        need: &Requirement,
    ) -> Result<CheckOutcome, SharedCheck> {
        match self.lookup_presented(secret, key_id) {
            Err(code) => Ok(CheckOutcome {
                code,
                checked: None,
                credential_until: None,
            }),
            Ok((slot, until)) => match self.check_slot_now(slot, need) {
                Ok(checked) => Ok(CheckOutcome::of(checked).until(until)),
                Err(mut shared) => {
                    shared.credential_until = until;
                    Err(shared)
                }
            },
        }
    }
    /// The token a credential names, or why none: `NOT_FOUND`, or `ROTATED` for a
    /// secret a rotation retired whose grace period is over. Malformed text and a bad
    /// checksum find nothing without a lookup.
    pub(crate) fn lookup(&self, secret: &str, key_id: Option<&str>) -> Result<SlotRef, Code> {
        self.lookup_presented(secret, key_id).map(|(slot, _)| slot)
    }
    /// [`Engine::lookup`], with when the presented secret stops working if before its
    /// token does (a retired secret's grace end).
    fn lookup_presented(
        &self,
        secret: &str,
        key_id: Option<&str>,
    ) -> Result<(SlotRef, Option<i64>), Code> {
        let (slot, until) = match self.verifier.find(secret) {
            Some(slot) => (slot, None),
            None => self.retired_secret(secret)?,
        };
        if let Some(key) = key_id.filter(|k| {
            k.strip_prefix(ID_KIND)
                .is_some_and(|rest| rest.starts_with('_'))
        }) && key != slot.id()
        {
            return Err(Code::NotFound);
        }
        Ok((slot, until))
    }
    /// A text that is no token's secret now: one a rotation retired still works in
    /// its grace period; after it, it is `ROTATED`, and someone kept a copy of it:
    /// see [`Engine::reuse_detected`]. Only misses come here, so the hot path of a
    /// valid token pays nothing for rotations.
    fn retired_secret(&self, secret: &str) -> Result<(SlotRef, Option<i64>), Code> {
        let hash = self.verifier.hash_of(secret).ok_or(Code::NotFound)?;
        let retired = self.index().retired(&hash).ok_or(Code::NotFound)?;
        let slot = self
            .index()
            .by_id(&retired.token_id)
            .ok_or(Code::NotFound)?;
        if self.clock.now_ms() < retired.valid_until {
            return Ok((slot, Some(retired.valid_until)));
        }
        self.reuse_detected(&slot);
        Err(Code::Rotated)
    }
    /// Decides a request for a token already looked up; only an allowed request
    /// spends rate-limit budget, from the node's own bucket or, in a cluster with
    /// Redis, from the bucket every node shares.
    pub(crate) async fn check_slot(&self, slot: SlotRef, need: &Requirement) -> Checked {
        match self.check_slot_now(slot, need) {
            Ok(checked) => checked,
            Err(shared) => self.check_shared(shared).await,
        }
    }

    /// [`Engine::check_slot`] without waiting, unless what every node shares (a
    /// rate-limit bucket in Redis, or a capped token's counters) must decide.
    fn check_slot_now(&self, slot: SlotRef, need: &Requirement) -> Result<Checked, SharedCheck> {
        let now = self.clock.now_ms();
        let admission = verify::admit(slot.powers(), slot.is_revoked(), need, now);
        let index = self.index();
        // Only an admitted request spends budget, and only what is shared needs the
        // network.
        if let Admission::Refused(_) = admission {
            return Ok(index.check_admitted(slot, admission, now, None));
        }
        let Some(_) = &self.shared_limiter else {
            let checked = self.spend_here(slot, admission, now, Some(need.cost));
            return Ok(self.noted(checked, need.client));
        };
        let buckets = match (self.config.rate_limit_scope, admission) {
            (RateLimitScope::Tree, _) => index.limited_chain(&slot),
            (RateLimitScope::Token, Admission::Limited(limit)) => {
                vec![(SlotRef::clone(&slot), limit)]
            }
            (RateLimitScope::Token, _) => Vec::new(),
        };
        let capped = slot.caps().is_some();
        if buckets.is_empty() && !capped {
            let checked = index.check_admitted(slot, admission, now, None);
            return Ok(self.noted(checked, need.client));
        }
        Err(SharedCheck {
            slot,
            admission,
            buckets,
            capped,
            cost: need.cost,
            now,
            credential_until: None,
            client: need.client,
        })
    }

    /// Keeps the client of a token's first allowed use since the last usage flush
    /// as where it was last used from: one address a second at most, off the
    /// per-request path.
    /// A token refused for its caps is queued to be announced (once per balance;
    /// a full queue drops it, and the next refusal queues it again).
    fn noted(&self, checked: Checked, client: Option<IpAddr>) -> Checked {
        if let (true, Some(client)) = (checked.first_use, client) {
            self.index().note_client(checked.slot.id(), client);
        }
        if checked.verdict.code == Code::UsageExhausted {
            let _ = self
                .exhausted
                .sender
                .try_send(SlotRef::clone(&checked.slot));
        }
        checked
    }

    /// Spends from this node's own buckets, as the configured scope says, then
    /// (`cost`) from the token's caps.
    fn spend_here(
        &self,
        slot: SlotRef,
        admission: Admission,
        now: i64,
        cost: Option<u64>,
    ) -> Checked {
        let verdict = self.rate_here(&slot, admission, now);
        self.index().settle(slot, verdict, now, cost)
    }

    /// The rate limit's verdict from this node's own buckets.
    fn rate_here(&self, slot: &SlotRef, admission: Admission, now: i64) -> Verdict {
        match self.config.rate_limit_scope {
            RateLimitScope::Token => TokenIndex::rate_token(slot, admission, now),
            RateLimitScope::Tree => self.index().rate_tree(slot, admission, now),
        }
    }

    /// Spends from what every node shares: the rate-limit buckets, then a capped
    /// token's counters. When Redis fails, `redis_failure` says whether the node's
    /// own buckets and balance decide (`open`) or the request is refused for now
    /// (`closed`). Boxed: inline, the Redis call's state made every check's future
    /// some fifty times larger (BENCHMARKS.md gives the sizes), copied as each future
    /// starts, though the index answers nearly every check without waiting.
    fn check_shared(
        &self,
        check: SharedCheck,
    ) -> Pin<Box<dyn Future<Output = Checked> + Send + '_>> {
        let client = check.client;
        Box::pin(async move { self.noted(self.spend_shared(check).await, client) })
    }

    async fn spend_shared(&self, check: SharedCheck) -> Checked {
        let SharedCheck {
            slot,
            admission,
            buckets,
            capped,
            cost,
            now,
            credential_until: _,
            client: _,
        } = check;
        // A SharedCheck is only made with a shared limiter; without one (never), the
        // node's own buckets decide, as they would with Redis down and `open`.
        let Some(shared) = &self.shared_limiter else {
            return self.spend_here(slot, admission, now, Some(cost));
        };
        let verdict = if buckets.is_empty() {
            self.rate_here(&slot, admission, now)
        } else {
            let named: Vec<(&str, RateLimit)> = buckets
                .iter()
                .map(|(slot, limit)| (slot.id(), *limit))
                .collect();
            match shared.check_buckets(&named, None).await {
                Ok(decision) => Verdict::rated(decision, None),
                Err(_) => {
                    self.metrics.rate_limiter_failures.increment();
                    match self.config.redis_failure {
                        RedisFailure::Open => self.rate_here(&slot, admission, now),
                        RedisFailure::Closed => {
                            let limit = buckets.first().map_or(0, |(_, limit)| limit.burst);
                            return self.index().settle(slot, refused_for_now(limit), now, None);
                        }
                    }
                }
            }
        };
        if !capped || verdict.code != Code::Valid {
            return self.index().settle(slot, verdict, now, None);
        }
        self.spend_shared_caps(slot, verdict, cost, now).await
    }

    /// Spends a capped token's use and credits from the counters every node shares,
    /// for a request everything else allowed; keeps Redis' answer as the node's own
    /// balance (written to the store, and spent from while Redis is down).
    async fn spend_shared_caps(
        &self,
        slot: SlotRef,
        mut verdict: Verdict,
        cost: u64,
        now: i64,
    ) -> Checked {
        let (Some(shared), Some(cell)) = (&self.shared_limiter, slot.caps()) else {
            return self.index().settle(slot, verdict, now, Some(cost));
        };
        let caps = *cell.caps();
        let answer = shared
            .spend_caps(slot.id(), &caps, cell.balance_at(now), cost, now)
            .await;
        let balance = match answer {
            Ok(Ok(after)) => after,
            Ok(Err(before)) => {
                verdict.code = Code::UsageExhausted;
                before
            }
            Err(_) => {
                self.metrics.rate_limiter_failures.increment();
                return match self.config.redis_failure {
                    // Each node spends from the balance it last heard of: while Redis is
                    // down a token's credits can be spent once on each node at most.
                    RedisFailure::Open => self.index().settle(slot, verdict, now, Some(cost)),
                    RedisFailure::Closed => {
                        let limit = slot.rate_limit().map_or(0, |limit| limit.burst);
                        self.index().settle(slot, refused_for_now(limit), now, None)
                    }
                };
            }
        };
        cell.adopt(balance);
        let mut checked = self.index().settle(slot, verdict, now, None);
        checked.left = Some(balance.left(&caps));
        checked
    }
    /// Authenticates a call to tessera's own API from `client`, which needs `scope`
    /// (or none). An address that has failed too often is refused first, and every
    /// token that does not work counts against it.
    pub async fn authenticate(
        &self,
        credential: &Credential<'_>,
        scope: Option<&'static str>,
        client: IpAddr,
    ) -> Result<Caller, EngineError> {
        self.refuse_failing(client)?;
        let result = self.authenticate_now(credential, scope, client).await;
        self.count_failure(client, result.as_ref().err());
        result
    }

    /// Refuses `client` while it has no budget of failed authentications left.
    pub(crate) fn refuse_failing(&self, client: IpAddr) -> Result<(), EngineError> {
        match self.failures.refusal(client, || self.clock.now_ms()) {
            Some(retry_after_ms) => Err(EngineError::TooManyFailures { retry_after_ms }),
            None => Ok(()),
        }
    }

    /// Counts `error` against `client` if the token presented did not work (unknown,
    /// malformed, expired, revoked, not valid yet, or a wrong key secret).
    pub(crate) fn count_failure(&self, client: IpAddr, error: Option<&EngineError>) {
        if let Some(EngineError::InvalidToken { .. }) = error {
            self.metrics.failed_authentications.increment();
            let now = self.clock.now_ms();
            self.failures.record(client, now);
            self.share_failure(client, now);
        }
    }

    /// In a cluster, spends the failure from the address's bucket every node shares
    /// too, and takes that bucket's state here: an address that fails through
    /// several nodes is refused by each once all its failures together spent the
    /// budget. Off the request's path (a task of its own), so a check never waits
    /// on Redis for this; until the answer comes, this node's count decides.
    fn share_failure(&self, client: IpAddr, now_ms: i64) {
        let (Some(shared), Some(limit)) = (&self.shared_limiter, self.config.failed_auth) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = Arc::clone(shared);
        let failures = Arc::clone(&self.failures);
        runtime.spawn(async move {
            let name = FailureThrottle::shared_name(client);
            if let Ok(decision) = shared.check(&name, &limit).await {
                // The shared bucket's arrival time: now plus what it holds.
                let held_ns = decision.reset_ms.saturating_mul(1_000_000);
                failures.adopt(
                    client,
                    ratelimit::nanos_from_millis(now_ms).saturating_add(held_ns),
                );
            }
        });
    }

    async fn authenticate_now(
        &self,
        credential: &Credential<'_>,
        scope: Option<&'static str>,
        client: IpAddr,
    ) -> Result<Caller, EngineError> {
        let need = Requirement {
            scopes: scope.map(|s| self.index().catalogue().own(s)),
            client: Some(client),
            ..Requirement::default()
        };
        let outcome = self
            .check_presented(&credential.secret, credential.key_id.as_deref(), &need)
            .await;
        let mut caller = self.admitted(outcome.code, outcome.checked, &need, scope)?;
        caller.origin.client_ip = Some(client);
        Ok(caller)
    }

    /// Spends one request of `caller`'s rate limit and counts a use, as a call to
    /// the API with its token would: for the web UI's writes, which a session makes
    /// with the token it signed in with, so that a page cannot write past the limit
    /// the API holds the token to.
    pub async fn spend_for(&self, caller: &Caller, client: IpAddr) -> Result<(), EngineError> {
        let need = Requirement {
            client: Some(client),
            ..Requirement::default()
        };
        let checked = self.check_slot(caller.slot.clone(), &need).await;
        self.admitted(checked.verdict.code, Some(checked), &need, None)
            .map(drop)
    }

    /// The caller a check let through, or why it did not.
    fn admitted(
        &self,
        code: Code,
        checked: Option<Checked>,
        need: &Requirement,
        scope: Option<&'static str>,
    ) -> Result<Caller, EngineError> {
        let checked = match (code, checked) {
            (Code::Valid, Some(checked)) => checked,
            (Code::Forbidden, Some(checked)) if need.shortfall(checked.slot.powers()).network => {
                return Err(EngineError::outside_networks(need.client));
            }
            (Code::UsageExhausted, Some(checked)) => return Err(self.exhausted(&checked)),
            (Code::Forbidden, _) => {
                return Err(EngineError::needs_scope(scope.unwrap_or_default()));
            }
            (
                Code::RateLimited,
                Some(Checked {
                    verdict:
                        Verdict {
                            rate: Some(rate), ..
                        },
                    ..
                }),
            ) => {
                return Err(EngineError::rate_limited(&rate));
            }
            (code, _) => return Err(EngineError::InvalidToken { code }),
        };
        Ok(Caller::new(checked.slot))
    }
    /// RFC 7662: the token whose text is presented, if it may be used now (a
    /// rate-limited token is still active). Spends no rate-limit budget.
    pub fn introspect(&self, secret: &str) -> Option<Caller> {
        self.live_caller(self.lookup(secret, None).ok()?).ok()
    }
    /// The token in `slot` as a caller, if it may be used now (neither revoked nor
    /// expired); otherwise why not.
    pub(super) fn live_caller(&self, slot: SlotRef) -> Result<Caller, Code> {
        match tessera_core::verify::standing(slot.powers(), slot.is_revoked(), self.clock.now_ms())
        {
            Code::Valid => Ok(Caller::new(slot)),
            standing => Err(standing),
        }
    }
    /// The token a web UI session was opened with, as it is now, for a request from
    /// `client`: a session acts only while its token is valid, may still read or
    /// manage tokens, and may be used from where the request comes.
    pub fn session_caller(&self, token_id: &str, client: IpAddr) -> Result<Caller, EngineError> {
        let slot = self
            .index()
            .by_id(token_id)
            .ok_or(EngineError::InvalidToken {
                code: Code::NotFound,
            })?;
        if !slot.powers().networks.allows(Some(client)) {
            return Err(EngineError::outside_networks(Some(client)));
        }
        let caller = self
            .live_caller(slot)
            .map_err(|code| EngineError::InvalidToken { code })?;
        if !self.may_read_tokens(&caller) {
            return Err(EngineError::needs_scope(TOKENS_READ));
        }
        Ok(caller)
    }
}

/// The answer while Redis is down and `redis_failure = "closed"`: refused for now,
/// to be tried again once the limiter tries Redis again.
fn refused_for_now(limit: u32) -> Verdict {
    let wait_ms = u64::try_from(crate::limiter::RETRY_AFTER_FAILURE.as_millis()).unwrap_or(1000);
    Verdict::rated(
        RateDecision {
            allowed: false,
            limit,
            remaining: 0,
            reset_ms: wait_ms,
            retry_after_ms: wait_ms,
        },
        None,
    )
}
