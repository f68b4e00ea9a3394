//! A tower layer that guards axum routes by tessera's answer, as the server's own
//! `[[route]]` rules do: each request's token must hold the route's scopes and may
//! touch the resource built from the path's captures (`repo:{repo_id}`).
//!
//! ```no_run
//! # async fn app() -> Result<(), tessera_client::Error> {
//! use axum::{Router, routing::get};
//! use tessera_client::{Client, guard::{Guard, GuardSettings}};
//!
//! let client = Client::new("http://127.0.0.1:8080", "tsr_...a token with tokens:verify")?;
//! let guard = Guard::start(client, GuardSettings::default());
//! let app: Router = Router::new()
//!     .route("/repos/{repo_id}/files", get(|| async { "files" }))
//!     .route_layer(guard.layer(&["repo:read"], Some("repo:{repo_id}")).expect("a template"));
//! # Ok(()) }
//! ```
//!
//! The layer must be added with `route_layer`, which runs it after routing, so
//! that the path's captures are known. A request allowed through carries
//! [`Verified`] (the token's id, name, owner, meta...) in its extensions.
//!
//! Recent positive answers are kept ([`cache`]), so that a guarded app does not
//! call tessera for each request, and dropped as soon as tessera's change stream
//! names their token ([`follow`]): within milliseconds of a revocation or an edit.

pub mod cache;
mod follow;
mod presented;
mod refusal;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::Response;
use tessera_api::{VerifyAnswer, VerifyRequest};

use crate::guard::cache::{Key, VerifyCache};
use crate::{Client, Error};

/// How the guard keeps answers.
#[derive(Clone, Copy, Debug)]
pub struct GuardSettings {
    /// Answers kept at most; 0 keeps none (every request asks tessera).
    pub cache_capacity: usize,
    /// How long an answer is kept at most, changes or not.
    pub cache_lifetime: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            cache_capacity: 10_000,
            cache_lifetime: Duration::from_secs(60),
        }
    }
}

/// What the guard found about the request's token: tessera's answer. In the
/// extensions of every request it lets through.
#[derive(Clone, Debug)]
pub struct Verified(pub Arc<VerifyAnswer>);

/// The guard: one per app, shared by every route's layer. Starting it starts the
/// task that follows tessera's change stream, which stops when the guard and all
/// its layers are dropped.
#[derive(Clone)]
pub struct Guard {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    cache: Arc<VerifyCache>,
    follower: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl Guard {
    /// `client` acts with a token that has `tokens:verify`. Needs a tokio runtime.
    pub fn start(client: Client, settings: GuardSettings) -> Self {
        let lifetime_ms = i64::try_from(settings.cache_lifetime.as_millis()).unwrap_or(i64::MAX);
        let cache = Arc::new(VerifyCache::new(settings.cache_capacity, lifetime_ms));
        let follower = tokio::spawn(follow::follow(client.clone(), Arc::clone(&cache)));
        Self {
            shared: Arc::new(Shared {
                client,
                cache,
                follower,
            }),
        }
    }

    /// A layer for routes that need every one of `scopes` and, with a template, the
    /// resource it names once the path's `{captures}` are put in.
    pub fn layer(&self, scopes: &[&str], resource: Option<&str>) -> Result<GuardLayer, Error> {
        let template = resource.map(Template::parse).transpose()?;
        Ok(GuardLayer {
            guard: self.clone(),
            rule: Arc::new(Rule {
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                template,
            }),
        })
    }

    pub fn cache(&self) -> &VerifyCache {
        &self.shared.cache
    }

    /// Asks the cache, then tessera: the answer to let through, or the refusal.
    async fn judge(
        &self,
        token: String,
        rule: &Rule,
        resource: Option<String>,
        client_ip: Option<String>,
    ) -> Result<Verified, Response> {
        let cache = &self.shared.cache;
        let key = Key::of(
            &token,
            &rule.scopes,
            resource.as_deref(),
            client_ip.as_deref(),
        );
        let now = now_ms();
        if let Some(answer) = cache.get(&key, now) {
            return Ok(Verified(answer));
        }
        let asked_at = cache.generation();
        let request = VerifyRequest {
            token,
            scopes: Some(rule.scopes.clone()),
            resource,
            client_ip,
            cost: None,
        };
        let answer = match self.shared.client.verify(&request).await {
            Ok(answer) => Arc::new(answer),
            Err(error) if error.is_retryable() => return Err(refusal::unavailable()),
            Err(_) => return Err(refusal::misconfigured()),
        };
        if !answer.valid {
            return Err(refusal::refused(&answer));
        }
        let expires_ms = answer
            .expires_at
            .as_deref()
            .and_then(tessera_core::timefmt::parse_rfc3339);
        cache.keep(key, &answer, expires_ms, asked_at, now);
        Ok(Verified(answer))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// What a route needs.
struct Rule {
    scopes: Vec<String>,
    template: Option<Template>,
}

/// A resource with `{capture}`s of the route's path in it: `repo:{repo_id}`.
struct Template(Vec<Part>);

enum Part {
    Text(String),
    Capture(String),
}

impl Template {
    fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::ResourceTemplate(format!("{text:?}: write captures as {{name}}"));
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(bad)? + open;
            let name = &rest[open + 1..close];
            if name.is_empty() || name.contains('{') {
                return Err(bad());
            }
            parts.push(Part::Capture(name.to_owned()));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(bad());
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// The resource for a request, from its path's captures; `None` when the route
    /// has no such capture.
    fn fill(&self, captures: &RawPathParams) -> Option<String> {
        let mut resource = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => resource.push_str(text),
                Part::Capture(name) => {
                    let (_, value) = captures.iter().find(|(key, _)| key == name)?;
                    resource.push_str(value);
                }
            }
        }
        Some(resource)
    }
}

/// The resource a request touches, by the rule's template.
async fn resource_of(rule: &Rule, parts: &mut Parts) -> Result<Option<String>, Response> {
    let Some(template) = &rule.template else {
        return Ok(None);
    };
    let captures = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| refusal::misconfigured())?;
    template
        .fill(&captures)
        .map(Some)
        .ok_or_else(refusal::misconfigured)
}

/// See [`Guard::layer`].
#[derive(Clone)]
pub struct GuardLayer {
    guard: Guard,
    rule: Arc<Rule>,
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.guard.clone(),
            rule: Arc::clone(&self.rule),
        }
    }
}

/// A route's service behind the guard.
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
    rule: Arc<Rule>,
}

impl<S> tower::Service<axum::extract::Request> for GuardService<S>
where
    S: tower::Service<axum::extract::Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        // The clone that was made ready serves this request; a fresh clone waits for
        // the next (tower's usual pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let guard = self.guard.clone();
        let rule = Arc::clone(&self.rule);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let Some(token) = presented::token(&parts.headers) else {
                return Ok(refusal::missing_credentials());
            };
            let resource = match resource_of(&rule, &mut parts).await {
                Ok(resource) => resource,
                Err(refusal) => return Ok(refusal),
            };
            // The app's own peer, if it serves with `into_make_service_with_connect_info`:
            // tessera refuses a token bound to networks (`allowed_cidrs`) without it.
            let client_ip = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string());
            match guard.judge(token, &rule, resource, client_ip).await {
                Ok(verified) => {
                    parts.extensions.insert(verified);
                    inner
                        .call(axum::extract::Request::from_parts(parts, body))
                        .await
                }
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_read_captures_and_refuse_what_is_not_one() {
        for good in ["repo:{repo_id}", "{kind}:{id}", "org:acme", "a{x}b"] {
            assert!(super::Template::parse(good).is_ok(), "{good}");
        }
        for bad in ["repo:{", "repo:{}", "repo:}x", "{a{b}}"] {
            assert!(super::Template::parse(bad).is_err(), "{bad}");
        }
    }
}
