//! [`Client`]: every endpoint of tessera's API as a typed async call.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use tessera_api::{
    Catalogue, CreateTokenRequest, CreatedToken, Introspection, ListParams, PresentedTokenForm,
    Problem, RepoKeyCreated, RepoKeyRequest, RepoTokenCreated, RepoTokenInfo, RepoTokenRequest,
    RotateRequest, TokenList, TokenView, UpdateTokenRequest, VerifyAnswer, VerifyRequest,
};

use crate::changes::ChangeStream;
use crate::error::{ApiError, Error};

/// A connection to one tessera deployment, acting with one token. Cheap to clone:
/// clones share their connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Ends with `/`, so that paths join under it.
    base: Url,
    token: String,
}

/// Never prints the token.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// How long a call may take, connection included, unless the client is built with
/// an HTTP client of its own ([`Client::with_http`]).
const TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client for the deployment at `base_url` (`https://tessera.example.com`, or
    /// with a path prefix), calling with `token`.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Self::with_http(http, base_url, token)
    }

    /// As [`Client::new`], with an HTTP client set up by the caller (its own
    /// timeouts, root certificates, proxy).
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        token: impl Into<String>,
    ) -> Result<Self, Error> {
        let mut base =
            Url::parse(base_url).map_err(|e| Error::BaseUrl(format!("{base_url}: {e}")))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::BaseUrl(format!(
                "{base_url}: use an http or https URL"
            )));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            http,
            base,
            token: token.into(),
        })
    }

    /// The same deployment, calling with another token.
    pub fn acting_as(&self, token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    // Tokens.

    /// Creates a token within the caller's powers. The answer is the one place its
    /// text (`token`) is ever shown.
    pub async fn create_token(&self, request: &CreateTokenRequest) -> Result<CreatedToken, Error> {
        self.send(self.call(Method::POST, &["v1", "tokens"]).json(request))
            .await
    }

    /// One page of the tokens the caller may see, newest first.
    pub async fn list_tokens(&self, params: &ListParams) -> Result<TokenList, Error> {
        self.send(self.call(Method::GET, &["v1", "tokens"]).query(params))
            .await
    }

    pub async fn token(&self, id: &str) -> Result<TokenView, Error> {
        self.send(self.call(Method::GET, &["v1", "tokens", id]))
            .await
    }

    pub async fn update_token(
        &self,
        id: &str,
        request: &UpdateTokenRequest,
    ) -> Result<TokenView, Error> {
        self.send(
            self.call(Method::PATCH, &["v1", "tokens", id])
                .json(request),
        )
        .await
    }

    /// Revokes a token and every token made through it. It stays readable, with
    /// `status: "revoked"`.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenView, Error> {
        self.send(self.call(Method::DELETE, &["v1", "tokens", id]))
            .await
    }

    /// Gives a token a new secret (same id, grants, limits, usage, children); the
    /// previous one works on for `grace_seconds` (0 to 7 days). The answer is shaped
    /// as a creation's: the new secret in `token`, shown this once.
    pub async fn rotate_token(
        &self,
        id: &str,
        grace_seconds: Option<i64>,
    ) -> Result<CreatedToken, Error> {
        let body = RotateRequest { grace_seconds };
        self.send(
            self.call(Method::POST, &["v1", "tokens", id, "rotate"])
                .json(&body),
        )
        .await
    }

    /// The caller's own token gets a new secret: a CI job's or a sandbox's own
    /// rotation. Act with the new one from now on ([`Client::acting_as`]).
    pub async fn rotate_self(&self, grace_seconds: Option<i64>) -> Result<CreatedToken, Error> {
        let body = RotateRequest { grace_seconds };
        self.send(
            self.call(Method::POST, &["v1", "tokens", "self", "rotate"])
                .json(&body),
        )
        .await
    }

    /// The caller's own token.
    pub async fn whoami(&self) -> Result<TokenView, Error> {
        self.send(self.call(Method::GET, &["v1", "tokens", "self"]))
            .await
    }

    /// Revokes the caller's own token (and those made through it): a sandbox
    /// session's last call.
    pub async fn revoke_self(&self) -> Result<TokenView, Error> {
        self.send(self.call(Method::DELETE, &["v1", "tokens", "self"]))
            .await
    }

    // Checking tokens.

    /// May `request.token` do this? Needs `tokens:verify`. The answer is always an
    /// answer (`valid`, `code`), never an error, for any token presented.
    pub async fn verify(&self, request: &VerifyRequest) -> Result<VerifyAnswer, Error> {
        self.send(self.call(Method::POST, &["v1", "verify"]).json(request))
            .await
    }

    /// The tokens that change from now on (or after `after`, the `id` of the last
    /// event seen), as they change. Needs `tokens:verify`.
    pub async fn changes(&self, after: Option<&str>) -> Result<ChangeStream, Error> {
        // No time limit: the stream stays open for as long as it is read.
        let mut call = self
            .authorized(Method::GET, &["v1", "changes"])
            .header("accept", "text/event-stream");
        if let Some(after) = after {
            call = call.header("last-event-id", after);
        }
        let response = call.send().await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(ChangeStream::new(response))
    }

    /// RFC 7662 introspection. Needs `tokens:verify`. A token bound to networks is
    /// active only with a `client_ip` inside them: see [`Client::introspect_from`].
    pub async fn introspect(&self, token: &str) -> Result<Introspection, Error> {
        self.introspect_from(token, None).await
    }

    /// [`Client::introspect`] for a token presented by the client at `client_ip`.
    pub async fn introspect_from(
        &self,
        token: &str,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<Introspection, Error> {
        let form = PresentedTokenForm {
            token: token.to_owned(),
            token_type_hint: None,
            client_ip: client_ip.map(|ip| ip.to_string()),
        };
        self.send(self.call(Method::POST, &["v1", "introspect"]).form(&form))
            .await
    }

    /// RFC 7009 revocation: whoever holds a token may revoke it. The answer is the
    /// same whether or not it was a live token.
    pub async fn revoke_presented(&self, token: &str) -> Result<(), Error> {
        let form = PresentedTokenForm {
            token: token.to_owned(),
            token_type_hint: None,
            client_ip: None,
        };
        let call = self.anonymous(Method::POST, &["v1", "revoke"]).form(&form);
        self.send_empty(call).await
    }

    /// The deployment's scopes, rate-limit profiles and lifetime cap.
    pub async fn catalogue(&self) -> Result<Catalogue, Error> {
        self.send(self.call(Method::GET, &["v1", "catalogue"]))
            .await
    }

    // Relace's repo tokens and Flashback's repository keys.

    /// A token for `repo_ids`, read and write (Relace).
    pub async fn create_repo_token(
        &self,
        request: &RepoTokenRequest,
    ) -> Result<RepoTokenCreated, Error> {
        self.send(self.call(Method::POST, &["v1", "repo_token"]).json(request))
            .await
    }

    /// A repo token, looked up by its text.
    pub async fn repo_token(&self, token: &str) -> Result<RepoTokenInfo, Error> {
        self.send(self.call(Method::GET, &["v1", "repo_token", token]))
            .await
    }

    /// Deletes (revokes) a repo token by its text: when a sandbox session ends.
    pub async fn delete_repo_token(&self, token: &str) -> Result<(), Error> {
        self.send_empty(self.call(Method::DELETE, &["v1", "repo_token", token]))
            .await
    }

    /// A key for one repository at an access level (Flashback): use `key:secret` as
    /// HTTP Basic credentials.
    pub async fn create_repo_key(
        &self,
        repo_id: &str,
        request: &RepoKeyRequest,
    ) -> Result<RepoKeyCreated, Error> {
        self.send(
            self.call(Method::POST, &["repo", repo_id, "apikey"])
                .json(request),
        )
        .await
    }

    // Operations.

    /// Whether the process answers (`/healthz`).
    pub async fn health(&self) -> Result<(), Error> {
        self.send_empty(self.anonymous(Method::GET, &["healthz"]))
            .await
    }

    /// Whether the node is ready, and whether its store answers (`/readyz`).
    pub async fn readiness(&self) -> Result<serde_json::Value, Error> {
        self.send(self.anonymous(Method::GET, &["readyz"])).await
    }

    /// The OpenAPI document the server serves.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        self.send(self.anonymous(Method::GET, &["openapi.json"]))
            .await
    }

    /// `/metrics`, in Prometheus' text format (with the token, where the
    /// deployment asks for `metrics:read`).
    pub async fn metrics(&self) -> Result<String, Error> {
        let response = self.call(Method::GET, &["metrics"]).send().await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(response.text().await?)
    }

    /// `segments` under the base URL, each escaped as one path segment (a token's
    /// text travels in some).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn authorized(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.http
            .request(method, self.url(segments))
            .bearer_auth(&self.token)
    }

    /// A call that presents no token.
    fn anonymous(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.http
            .request(method, self.url(segments))
            .timeout(TIMEOUT)
    }

    fn call(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.authorized(method, segments).timeout(TIMEOUT)
    }

    async fn send<T: DeserializeOwned>(&self, call: RequestBuilder) -> Result<T, Error> {
        let response = call.send().await?;
        let status = response.status();
        if !status.is_success() {
            return Err(refusal(response).await);
        }
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::UnexpectedAnswer {
            status: status.as_u16(),
            detail: e.to_string(),
        })
    }

    async fn send_empty(&self, call: RequestBuilder) -> Result<(), Error> {
        let response = call.send().await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(())
    }
}

/// A refusal as an [`Error`]: tessera's problem document when it wrote one.
pub(crate) async fn refusal(response: Response) -> Error {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok())
        .map(Duration::from_secs);
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("application/problem+json"));
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return Error::Transport(error),
    };
    match serde_json::from_slice::<Problem>(&body) {
        Ok(problem) if is_problem => Error::Api(Box::new(ApiError {
            problem,
            retry_after,
        })),
        _ => Error::UnexpectedAnswer {
            status,
            detail: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}
